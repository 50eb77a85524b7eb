package checkout

import "time"

// PaymentView is a payment as merchants see it: the answer of GET /api/payment/:id and the
// data of every webhook about the payment. It is the one place that shape is made, so the API
// and the webhooks cannot drift apart.
type PaymentView struct {
	ID             string            `json:"id"`
	Status         string            `json:"status"`
	Amount         int64             `json:"amount"`
	CurrencyCode   string            `json:"currencyCode"`
	Reference      string            `json:"reference"`
	ReferenceLabel string            `json:"referenceLabel"`
	ClientID       string            `json:"clientId"`
	CheckoutURL    string            `json:"checkoutUrl"`
	LineItems      []LineItemView    `json:"lineItems"`
	SuccessURL     string            `json:"successUrl,omitempty"`
	CancelURL      string            `json:"cancelUrl,omitempty"`
	Customer       Customer          `json:"customer"`
	Metadata       map[string]string `json:"metadata"`
	ExpiresAt      time.Time         `json:"expiresAt"`
	CreatedAt      time.Time         `json:"createdAt"`
	PaidAt         *time.Time        `json:"paidAt"`
	Attempts       []AttemptView     `json:"attempts"`
	// LinkID is the payment link the payment was created from; absent otherwise.
	LinkID string `json:"linkId,omitempty"`
	// RefundedAmount is what succeeded refunds gave back; Refunds are oldest first.
	RefundedAmount int64        `json:"refundedAmount"`
	Refunds        []RefundView `json:"refunds"`
}

// RefundView is a refund as merchants see it, alone or in its payment.
type RefundView struct {
	ID                string     `json:"id"`
	PaymentID         string     `json:"paymentId"`
	Amount            int64      `json:"amount"`
	CurrencyCode      string     `json:"currencyCode"`
	Status            string     `json:"status"`
	Reason            string     `json:"reason"`
	Note              string     `json:"note,omitempty"`
	Provider          string     `json:"provider"`
	ProviderReference string     `json:"providerReference,omitempty"`
	FailureReason     string     `json:"failureReason,omitempty"`
	CreatedAt         time.Time  `json:"createdAt"`
	SucceededAt       *time.Time `json:"succeededAt"`
}

// RefundViewOf returns r as merchants see it.
func RefundViewOf(r Refund) RefundView {
	out := RefundView{ID: r.ID, PaymentID: r.PaymentID, Amount: r.Amount, CurrencyCode: r.Currency, Status: string(r.Status),
		Reason: string(r.Reason), Note: r.Note, Provider: string(r.Provider), ProviderReference: r.ProviderRef,
		CreatedAt: r.CreatedAt}
	if r.Status == RefundFailed {
		out.FailureReason = r.Error
	}
	if !r.SucceededAt.IsZero() {
		t := r.SucceededAt
		out.SucceededAt = &t
	}
	return out
}

// RefundViews returns rs as merchants see them; never nil.
func RefundViews(rs []Refund) []RefundView {
	out := make([]RefundView, 0, len(rs))
	for _, r := range rs {
		out = append(out, RefundViewOf(r))
	}
	return out
}

// LineItemView is one line of a PaymentView.
type LineItemView struct {
	Name       string `json:"name"`
	Quantity   int64  `json:"quantity"`
	UnitAmount int64  `json:"unitAmount"`
}

// AttemptView is one attempt of a PaymentView.
type AttemptView struct {
	ID                string    `json:"id"`
	Provider          string    `json:"provider"`
	Method            string    `json:"method,omitempty"`
	ProviderReference string    `json:"providerReference"`
	Status            string    `json:"status"`
	CreatedAt         time.Time `json:"createdAt"`
	UpdatedAt         time.Time `json:"updatedAt"`
}

// View returns p as merchants see it.
func (s *Service) View(p *Payment) PaymentView {
	r := PaymentView{
		ID: p.ID, Status: string(p.Status), Amount: p.Amount, CurrencyCode: p.Currency, Reference: p.Reference,
		ReferenceLabel: p.ReferenceLabel, ClientID: p.ClientID, CheckoutURL: s.URLs.Checkout(p.ID),
		LineItems: []LineItemView{}, SuccessURL: p.SuccessURL, CancelURL: p.CancelURL, Customer: p.Customer,
		Metadata: p.Metadata, ExpiresAt: p.ExpiresAt, CreatedAt: p.CreatedAt, Attempts: []AttemptView{},
		LinkID: p.LinkID, RefundedAmount: p.RefundedAmount(), Refunds: RefundViews(p.Refunds),
	}
	if r.Metadata == nil {
		r.Metadata = map[string]string{}
	}
	if !p.PaidAt.IsZero() {
		t := p.PaidAt
		r.PaidAt = &t
	}
	for _, li := range p.LineItems {
		r.LineItems = append(r.LineItems, LineItemView(li))
	}
	for _, a := range p.Attempts {
		r.Attempts = append(r.Attempts, AttemptView{ID: a.ID, Provider: string(a.Provider), Method: a.Method,
			ProviderReference: a.ProviderRef, Status: string(a.Status), CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt})
	}
	return r
}
