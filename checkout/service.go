// Package checkout is Kassa's domain: payments, their attempts at providers, money, the status
// machine and the event log. It speaks to providers through providers.Provider and to storage
// through Store; it knows nothing of HTTP or SQL.
package checkout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/sync/singleflight"

	"github.com/kassa-pay/kassa/providers"
	"github.com/kassa-pay/kassa/providers/currency"
)

// URLs builds Kassa's own public URLs, which providers and merchants are given.
type URLs struct {
	// Base is the public base URL, without a trailing slash.
	Base string
}

// Checkout is the shopper's page for payment id.
func (u URLs) Checkout(paymentID string) string { return u.Base + "/checkout/" + paymentID }

// Return is where a provider sends the shopper back for one attempt; outcome is Kassa's own
// note of which of the provider's redirects was used ("return" or "cancel").
func (u URLs) Return(paymentID, attemptID, outcome string) string {
	return u.Base + "/checkout/" + paymentID + "/return/" + attemptID + "?outcome=" + outcome
}

// Callback is where a provider posts its server-to-server notifications.
func (u URLs) Callback(p providers.ID) string { return u.Base + "/callbacks/" + string(p) }

// Service runs the checkout flow.
type Service struct {
	Store     Store
	Providers *providers.Registry
	URLs      URLs
	// Now is injectable for tests.
	Now func() time.Time
	Log *slog.Logger
	// DefaultTTL is how long a payment stays open when the merchant does not say.
	DefaultTTL time.Duration
	// WebhookAllowPrivate accepts webhook URLs on loopback and private addresses.
	WebhookAllowPrivate bool
	// Breakers, when set, takes failing providers off checkout pages (see health.go).
	Breakers ProviderBreakers

	// flight coalesces concurrent verifications of one attempt and concurrent starts of one
	// payment+provider+method; readings keeps when attempts were last read (see reading.go).
	flight   singleflight.Group
	readings readings
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC().Truncate(time.Millisecond)
	}
	return time.Now().UTC().Truncate(time.Millisecond)
}

// PastExpiry reports whether p's time to be paid has run out, even if the background job has
// not yet marked it expired.
func (s *Service) PastExpiry(p *Payment) bool { return !s.now().Before(p.ExpiresAt) }

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// Bounds on what a merchant may ask for.
const (
	MinTTL          = 5 * time.Minute
	MaxTTL          = 30 * 24 * time.Hour
	defaultTTL      = 24 * time.Hour
	maxLineItems    = 100
	maxMetadataKeys = 50
	maxMetadataSize = 8 << 10
)

// NewPayment is a merchant's request for a payment.
type NewPayment struct {
	ClientID       string
	Amount         int64
	Currency       string
	Reference      string
	ReferenceLabel string
	LineItems      []LineItem
	SuccessURL     string
	CancelURL      string
	Customer       Customer
	ExpiresAt      time.Time // zero: DefaultTTL from now
	Metadata       map[string]string
}

// CreatePayment validates and stores a new open payment.
func (s *Service) CreatePayment(ctx context.Context, n NewPayment) (*Payment, error) {
	now := s.now()
	if err := s.validate(n, now); err != nil {
		return nil, err
	}
	if n.ReferenceLabel == "" {
		n.ReferenceLabel = n.Reference
	}
	expires := n.ExpiresAt.UTC().Truncate(time.Millisecond)
	if expires.IsZero() {
		ttl := s.DefaultTTL
		if ttl == 0 {
			ttl = defaultTTL
		}
		expires = now.Add(ttl)
	}
	p := &Payment{
		ID:             "pay_" + randomID(26),
		ClientID:       n.ClientID,
		Money:          Money{Amount: n.Amount, Currency: n.Currency},
		Reference:      n.Reference,
		ReferenceLabel: n.ReferenceLabel,
		LineItems:      n.LineItems,
		SuccessURL:     n.SuccessURL,
		CancelURL:      n.CancelURL,
		Customer:       n.Customer,
		Metadata:       n.Metadata,
		Status:         PaymentOpen,
		ExpiresAt:      expires,
		CreatedAt:      now,
		UpdatedAt:      now,
	}
	ev := Event{PaymentID: p.ID, Type: EventPaymentCreated, CreatedAt: now,
		Data: map[string]any{"amount": p.Amount, "currency": p.Currency, "reference": p.Reference}}
	if err := s.Store.CreatePayment(ctx, p, ev); err != nil {
		return nil, fmt.Errorf("create payment: %w", err)
	}
	return p, nil
}

// ValidatePayment checks a payment request without creating anything.
func (s *Service) ValidatePayment(n NewPayment) error { return s.validate(n, s.now()) }

func (s *Service) validate(n NewPayment, now time.Time) error {
	fe := fieldErrors{}
	if n.ClientID == "" {
		fe.add("clientId", "is required")
	}
	if !currency.Valid(n.Currency) {
		fe.add("currencyCode", "must be an ISO 4217 currency code such as USD")
	}
	if n.Amount <= 0 || n.Amount > maxAmount {
		fe.add("amount", "must be a positive whole number of minor units (cents)")
	}
	text := func(field, v string, required bool, max int) {
		switch {
		case required && strings.TrimSpace(v) == "":
			fe.add(field, "is required")
		case utf8.RuneCountInString(v) > max:
			fe.add(field, fmt.Sprintf("must be at most %d characters", max))
		case !utf8.ValidString(v) || strings.ContainsAny(v, "\x00\r\n"):
			fe.add(field, "must be a single line of text")
		}
	}
	text("reference", n.Reference, true, 255)
	text("referenceLabel", n.ReferenceLabel, false, 255)
	if len(n.LineItems) > maxLineItems {
		fe.add("lineItems", fmt.Sprintf("at most %d line items", maxLineItems))
	} else if len(n.LineItems) > 0 {
		var total int64
		for i, li := range n.LineItems {
			f := fmt.Sprintf("lineItems[%d]", i)
			text(f+".name", li.Name, true, 255)
			if li.Quantity <= 0 || li.Quantity > 1_000_000 {
				fe.add(f+".quantity", "must be between 1 and 1000000")
			}
			if li.UnitAmount < 0 || li.UnitAmount > maxAmount {
				fe.add(f+".unitAmount", "must be a non-negative whole number of minor units")
			}
			if li.Quantity > 0 && li.UnitAmount > 0 && li.UnitAmount <= maxAmount/li.Quantity {
				total += li.Quantity * li.UnitAmount
			} else if li.UnitAmount > 0 {
				total = maxAmount + 1
			}
			if total > maxAmount {
				total = maxAmount + 1
			}
		}
		if total != n.Amount {
			fe.add("lineItems", fmt.Sprintf("line items total %d, but amount is %d", total, n.Amount))
		}
	}
	for field, u := range map[string]string{"successUrl": n.SuccessURL, "cancelUrl": n.CancelURL} {
		if u != "" && !httpURL(u) {
			fe.add(field, "must be an absolute http or https URL")
		}
	}
	if !n.ExpiresAt.IsZero() {
		if d := n.ExpiresAt.Sub(now); d < MinTTL || d > MaxTTL {
			fe.add("expiresAt", "must be between 5 minutes and 30 days from now")
		}
	}
	text("customer.name", n.Customer.Name, false, 255)
	text("customer.email", n.Customer.Email, false, 255)
	text("customer.phone", n.Customer.Phone, false, 32)
	if len(n.Metadata) > maxMetadataKeys {
		fe.add("metadata", fmt.Sprintf("at most %d keys", maxMetadataKeys))
	}
	size := 0
	for k, v := range n.Metadata {
		size += len(k) + len(v)
		if k == "" || len(k) > 40 {
			fe.add("metadata", "keys must be 1 to 40 characters")
		}
	}
	if size > maxMetadataSize {
		fe.add("metadata", fmt.Sprintf("at most %d bytes in all", maxMetadataSize))
	}
	return fe.err()
}

// Payment returns the payment with id and its attempts.
func (s *Service) Payment(ctx context.Context, id string) (*Payment, error) {
	p, err := s.Store.FindPayment(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(ENOTFOUND, "No payment has id %q.", id)
	}
	return p, err
}

// Option is one way to pay offered on a payment's checkout page.
type Option struct {
	Provider providers.ID
	Name     string
	Methods  []providers.Method
}

// Options lists the providers (and their Kassa-side methods) serving the payment's currency,
// leaving out those whose circuit breaker is open.
func (s *Service) Options(ctx context.Context, p *Payment) []Option {
	var out []Option
	for _, pr := range s.Providers.ForCurrency(ctx, p.Currency) {
		if !s.offered(ctx, pr.ID()) {
			continue
		}
		o := Option{Provider: pr.ID(), Name: pr.Name()}
		if ml, ok := pr.(providers.MethodLister); ok {
			ms, err := ml.Methods(ctx, p.Currency)
			if err != nil {
				s.log().WarnContext(ctx, "provider methods unavailable", "provider", pr.ID(), "err", err)
			}
			o.Methods = ms
		}
		out = append(out, o)
	}
	return out
}

// Choice is the shopper's pick on the checkout page.
type Choice struct {
	Provider providers.ID
	Method   string
	Phone    string
}

// StartAttempt creates the provider order for the shopper's choice. The attempt is stored
// before the provider is called, so a crash or a provider failure leaves a record; the
// shopper is only sent to the provider once its order exists and is recorded.
//
// Money safety:
//   - Live attempts are verified first (reusing a reading a few seconds old): a payment paid
//     meanwhile answers ECONFLICT, and so does one with an attempt still being confirmed, so
//     a shopper is never offered a second payment while the first may have gone through.
//   - At most one provider order is live per payment, provider and method: the store's
//     unique slot refuses a second attempt, and the live one is returned instead, so a
//     double-clicked Pay or a retried instructions call never pushes twice. Concurrent starts
//     in this process share one call outright.
//   - A create whose outcome is unknown (a timeout, a reset connection, a 5xx) is not a
//     failure: the attempt stays live, is looked up by Kassa's reference, and is returned
//     without a pay URL so the shopper is told the payment is being confirmed.
func (s *Service) StartAttempt(ctx context.Context, paymentID string, c Choice) (*Attempt, error) {
	p, err := s.Payment(ctx, paymentID)
	if err != nil {
		return nil, err
	}
	if err := s.payable(p); err != nil {
		return nil, err
	}
	pr, ok := s.Providers.Get(c.Provider)
	if !ok || !s.serves(ctx, pr, p.Currency) {
		return nil, &Error{Code: EINVALID, Message: "Choose one of the offered ways to pay.",
			Fields: map[string]string{"provider": "is not offered for this payment"}, Shopper: Say("domain.chooseOffered"),
			ShopperFields: map[string]Message{"provider": Say("field.providerNotOffered")}}
	}
	if !s.offered(ctx, pr.ID()) {
		return nil, &Error{Code: EUNAVAILABLE, Message: pr.Name() + " is not available right now. Please choose another way to pay, or try again in a few minutes.",
			Shopper: Say("domain.unavailable", "Provider", pr.Name())}
	}
	if err := s.checkMethod(ctx, pr, p.Currency, &c); err != nil {
		return nil, err
	}
	key := "start/" + p.ID + "/" + string(pr.ID()) + "/" + c.Method
	v, err, _ := s.flight.Do(key, func() (any, error) {
		// The shared start outlives a shopper who hangs up: the provider order it may
		// create must be recorded either way.
		return s.startAttempt(context.WithoutCancel(ctx), p, pr, c)
	})
	if err != nil {
		return nil, err
	}
	a := *v.(*Attempt)
	return &a, nil
}

func (s *Service) payable(p *Payment) error {
	if p.Status != PaymentOpen {
		return Errorf(ECONFLICT, "This payment is %s.", p.Status)
	}
	if !s.now().Before(p.ExpiresAt) {
		return &Error{Code: ECONFLICT, Message: "This payment has expired.", Shopper: Say("domain.expired")}
	}
	return nil
}

// startAttempt starts from the payment StartAttempt has just read: reading it again would only
// cost time, since what keeps two orders from being made is the store's one live slot per
// payment, provider and method, not this read.
func (s *Service) startAttempt(ctx context.Context, p *Payment, pr providers.Provider, c Choice) (*Attempt, error) {
	p, waiting, err := s.unconfirmed(ctx, p)
	if err != nil {
		return nil, err
	}
	if err := s.payable(p); err != nil {
		return nil, err
	}
	if waiting != nil {
		if waiting.Provider == pr.ID() && waiting.Method == c.Method {
			return waiting, nil
		}
		return nil, Errorf(ECONFLICT, "An earlier payment with %s is still being confirmed.", s.providerName(waiting.Provider))
	}
	now := s.now()
	a := &Attempt{
		ID:        "att_" + randomID(26),
		PaymentID: p.ID,
		Provider:  pr.ID(),
		Method:    c.Method,
		Status:    AttemptCreating,
		Money:     p.Money,
		CreatedAt: now,
		UpdatedAt: now,
	}
	err = s.Store.CreateAttempt(ctx, a, Event{PaymentID: p.ID, AttemptID: a.ID, Type: EventAttemptCreated,
		CreatedAt: now, Data: map[string]any{"provider": string(a.Provider), "method": a.Method}})
	if errors.Is(err, ErrConflict) {
		// Another request (maybe on another instance) holds this payment's slot for the
		// provider and method: share its attempt.
		return s.holder(ctx, p.ID, pr.ID(), c.Method)
	} else if err != nil {
		return nil, fmt.Errorf("create attempt: %w", err)
	}
	order := providers.Order{
		Reference:   a.ID,
		Description: p.ReferenceLabel,
		Amount:      p.Amount,
		Currency:    p.Currency,
		ReturnURL:   s.URLs.Return(p.ID, a.ID, "return"),
		CancelURL:   s.URLs.Return(p.ID, a.ID, "cancel"),
		NotifyURL:   s.URLs.Callback(pr.ID()),
		Method:      c.Method,
		Payer:       providers.Payer{Name: p.Customer.Name, Email: p.Customer.Email, Phone: p.Customer.Phone},
	}
	if c.Phone != "" {
		order.Payer.Phone = c.Phone
	}
	for _, li := range p.LineItems {
		order.Lines = append(order.Lines, providers.Line{Title: li.Name, Quantity: li.Quantity, UnitAmount: li.UnitAmount})
	}
	sess, err := pr.CreateOrder(ctx, order)
	if err != nil && providers.OutcomeUnknown(err) {
		// The provider may have acted (a push may be on the phone): keep the attempt live
		// and look it up by Kassa's reference, never fail it on a guess.
		s.log().WarnContext(ctx, "provider order outcome unknown: looking it up", "payment", p.ID, "attempt", a.ID, "provider", pr.ID(), "err", err)
		if uerr := s.outcomeUnknown(ctx, a, err.Error(), c.Phone != "", s.now()); uerr != nil {
			return nil, fmt.Errorf("record unknown outcome: %w", uerr)
		}
		return a, nil
	}
	if err != nil {
		// The provider refused the order (or it was never sent): no money can move on it.
		s.log().WarnContext(ctx, "provider order not created", "payment", p.ID, "attempt", a.ID, "provider", pr.ID(), "err", err)
		at := s.now()
		if aerr := s.Store.Apply(ctx, Change{
			Attempt: &AttemptChange{ID: a.ID, From: []AttemptStatus{AttemptCreating}, To: AttemptFailed, Error: err.Error(), Checks: -1, At: at},
			Events:  []Event{{PaymentID: p.ID, AttemptID: a.ID, Type: EventAttemptFailed, CreatedAt: at, Data: map[string]any{"error": err.Error()}}},
		}); aerr != nil {
			s.log().ErrorContext(ctx, "attempt failure not recorded", "attempt", a.ID, "err", aerr)
		}
		if errors.Is(err, providers.ErrInvalid) || errors.Is(err, providers.ErrDeclined) {
			return nil, &Error{Code: EINVALID, Message: pr.Name() + " refused this payment. Please choose another way to pay.", Err: err,
				Shopper: Say("domain.refused", "Provider", pr.Name())}
		}
		return nil, &Error{Code: EUNAVAILABLE, Message: pr.Name() + " is not available right now. Please try again or choose another way to pay.", Err: err,
			Shopper: Say("domain.unavailable", "Provider", pr.Name())}
	}
	at := s.now()
	a.Status, a.ProviderRef, a.PayURL, a.UpdatedAt = AttemptPending, sess.ProviderRef, sess.PayURL, at
	a.NextCheckAt = at.Add(firstCheckDelay)
	if err := s.Store.Apply(ctx, Change{
		Attempt: &AttemptChange{ID: a.ID, From: []AttemptStatus{AttemptCreating}, To: AttemptPending,
			ProviderRef: sess.ProviderRef, PayURL: sess.PayURL, Checks: -1, NextCheckAt: a.NextCheckAt, At: at},
		Events: []Event{{PaymentID: p.ID, AttemptID: a.ID, Type: EventAttemptPending, CreatedAt: at,
			Data: map[string]any{"providerRef": sess.ProviderRef}}},
	}); err != nil {
		return nil, fmt.Errorf("record provider order: %w", err)
	}
	return a, nil
}

// holder returns the live attempt holding the payment's slot for provider and method.
func (s *Service) holder(ctx context.Context, paymentID string, id providers.ID, method string) (*Attempt, error) {
	p, err := s.Store.FindPayment(ctx, paymentID)
	if err != nil {
		return nil, err
	}
	for _, a := range p.Attempts {
		if a.Provider == id && a.Method == method && a.Status.Holding() {
			return &a, nil
		}
	}
	// The holder moved on between our insert and this read: let the shopper try again.
	return nil, Errorf(ECONFLICT, "Another payment with this provider was just started; please try again.")
}

func (s *Service) providerName(id providers.ID) string {
	if pr, ok := s.Providers.Get(id); ok {
		return pr.Name()
	}
	return string(id)
}

func (s *Service) serves(ctx context.Context, pr providers.Provider, cur string) bool {
	cs, err := pr.Currencies(ctx)
	if err != nil {
		return false
	}
	for _, c := range cs {
		if c == cur {
			return true
		}
	}
	return false
}

// checkMethod checks the shopper's method against the provider's list for the currency and
// requires a phone number where the method pushes to a phone.
func (s *Service) checkMethod(ctx context.Context, pr providers.Provider, cur string, c *Choice) error {
	ml, ok := pr.(providers.MethodLister)
	if !ok || c.Method == "" {
		c.Method = ""
		return nil
	}
	ms, err := ml.Methods(ctx, cur)
	if err != nil {
		return &Error{Code: EUNAVAILABLE, Message: pr.Name() + " is not available right now. Please try again or choose another way to pay.", Err: err,
			Shopper: Say("domain.unavailable", "Provider", pr.Name())}
	}
	for _, m := range ms {
		if m.ID != c.Method {
			continue
		}
		if !m.NeedsPhone {
			c.Phone = ""
			return nil
		}
		if strings.TrimSpace(c.Phone) == "" {
			return &Error{Code: EINVALID, Message: "Enter the phone number to send the payment request to.",
				Fields: map[string]string{"phone": "is required for " + m.Name}, Shopper: Say("domain.enterPhone"),
				ShopperFields: map[string]Message{"phone": Say("phone.required", "Method", m.Name)}}
		}
		if pc, ok := pr.(providers.PhoneChecker); ok {
			phone, err := pc.CheckPhone(m.ID, c.Phone)
			if err != nil {
				e := &Error{Code: EINVALID, Message: "Check the phone number.", Fields: map[string]string{"phone": err.Error()},
					Shopper: Say("domain.checkPhone")}
				if ie := (*providers.InputError)(nil); errors.As(err, &ie) && ie.Key != "" {
					e.ShopperFields = map[string]Message{"phone": Say(ie.Key, ie.Args...)}
				}
				return e
			}
			c.Phone = phone
		}
		return nil
	}
	return &Error{Code: EINVALID, Message: "Choose one of the offered ways to pay.",
		Fields: map[string]string{"method": "is not offered for this payment"}, Shopper: Say("domain.chooseOffered"),
		ShopperFields: map[string]Message{"method": Say("field.methodNotOffered")}}
}
