package onecheckout

import (
	"encoding/json"
	"strings"
)

// Amounts travel as json.Number: decimal major units ("61.97", "1.5" for KWD 1.500), integers
// for zero-decimal currencies. They are converted only in mapping.go, never through a float.

// Merchant is the account object of GET/POST /me. Timestamps are Unix milliseconds.
type Merchant struct {
	ID             string   `json:"id"`
	Email          string   `json:"email"`
	FullName       string   `json:"full_name"`
	Phone          string   `json:"phone"`
	Address        string   `json:"address"`
	Theme          string   `json:"theme"`
	OrderPrefix    string   `json:"order_prefix"`
	Currencies     []string `json:"currencies"`
	PaymentMethods []string `json:"payment_methods"`
	SuccessURL     string   `json:"success_url"`
	CancelURL      string   `json:"cancel_url"`
	WebhookURL     string   `json:"webhook_url"`
	Gateways       []string `json:"gateways,omitempty"`
	Created        int64    `json:"created"`
	Updated        int64    `json:"updated,omitempty"`
}

// MerchantUpdate is the body of POST /me; nil fields are left unchanged.
type MerchantUpdate struct {
	Email      *string `json:"email,omitempty"`
	FullName   *string `json:"full_name,omitempty"`
	Phone      *string `json:"phone,omitempty"`
	Address    *string `json:"address,omitempty"`
	Theme      *string `json:"theme,omitempty"`
	WebhookURL *string `json:"webhook_url,omitempty"`
	SuccessURL *string `json:"success_url,omitempty"`
	CancelURL  *string `json:"cancel_url,omitempty"`
}

// OrderLine is one item of an order.
type OrderLine struct {
	Key       string      `json:"key,omitempty"`
	Title     string      `json:"title"`
	Quantity  json.Number `json:"quantity"`
	UnitPrice json.Number `json:"unit_price"`
}

// CreateOrderRequest is the body of POST /orders. Amount and PaypalManualCapture are not in
// the reference table but are sent by the provider's own demo store.
type CreateOrderRequest struct {
	Currency            string      `json:"currency"`
	OrderLines          []OrderLine `json:"order_lines"`
	Amount              json.Number `json:"amount,omitempty"`
	TaxAmount           json.Number `json:"tax_amount,omitempty"`
	SuccessURL          string      `json:"success_url,omitempty"`
	CancelURL           string      `json:"cancel_url,omitempty"`
	ReferenceID         string      `json:"reference_id,omitempty"`
	PaypalManualCapture bool        `json:"paypal_manual_capture,omitempty"`
}

// Link is one of an order's links; Rel is "pay", "order", "success" or "cancel".
type Link struct {
	Href string `json:"href"`
	Rel  string `json:"rel"`
}

// Order is the order object returned by create, read, capture and list.
type Order struct {
	ID             string      `json:"id"`
	Name           string      `json:"name,omitempty"`
	PaymentToken   string      `json:"payment_token,omitempty"`
	Status         string      `json:"status"`
	Currency       string      `json:"currency"`
	ZeroDecimal    *bool       `json:"zero_decimal,omitempty"`
	Amount         json.Number `json:"amount"`
	OrderLines     []OrderLine `json:"order_lines,omitempty"`
	TaxAmount      json.Number `json:"tax_amount,omitempty"`
	MerchantID     string      `json:"merchant_id,omitempty"`
	ReferenceID    string      `json:"reference_id,omitempty"`
	PaymentMethod  string      `json:"payment_method,omitempty"`
	PaymentGateway string      `json:"payment_gateway,omitempty"`
	GatewayID      string      `json:"gateway_id,omitempty"`
	PaymentID      string      `json:"payment_id,omitempty"`
	SuccessURL     string      `json:"success_url,omitempty"`
	CancelURL      string      `json:"cancel_url,omitempty"`
	Created        int64       `json:"created,omitempty"`
	Updated        int64       `json:"updated,omitempty"`
	Paid           int64       `json:"paid,omitempty"`
	Links          []Link      `json:"links,omitempty"`
}

// Link returns the href of the first link with rel, or "".
func (o Order) Link(rel string) string {
	for _, l := range o.Links {
		if l.Rel == rel {
			return l.Href
		}
	}
	return ""
}

// ListOrdersRequest is the body of POST /orders-list. Time bounds are Unix timestamps.
type ListOrdersRequest struct {
	Anchor          string `json:"anchor,omitempty"`
	Limit           int    `json:"limit,omitempty"`
	Status          string `json:"status,omitempty"`
	CreatedHourFrom int64  `json:"created_hour_from,omitempty"`
	CreatedHourTo   int64  `json:"created_hour_to,omitempty"`
	UpdatedHourFrom int64  `json:"updated_hour_from,omitempty"`
	UpdatedHourTo   int64  `json:"updated_hour_to,omitempty"`
	PaidHourFrom    int64  `json:"paid_hour_from,omitempty"`
	PaidHourTo      int64  `json:"paid_hour_to,omitempty"`
}

// OrderList is one page of POST /orders-list; NextAnchor is "" on the last page.
type OrderList struct {
	Anchor     string  `json:"anchor"`
	Limit      int     `json:"limit"`
	Count      int     `json:"count"`
	NextAnchor string  `json:"next_anchor"`
	Orders     []Order `json:"orders"`
}

// Event is one entry of GET /orders/{id}/events.
type Event struct {
	ID            string    `json:"id"`
	OrderID       string    `json:"order_id"`
	Type          string    `json:"type"`
	MerchantID    string    `json:"merchant_id,omitempty"`
	Created       int64     `json:"created"`
	Error         ErrorBody `json:"error"`
	PaymentStatus string    `json:"payment_status,omitempty"`
	Order         *Order    `json:"order,omitempty"`
}

type eventList struct {
	Events []Event `json:"events"`
}

// ErrorBody is the "error" member of an error response. The provider uses two shapes, a bare
// string ({"error": "id_required"}, {"error": "missing token"}) and an object with code,
// message and details; both decode into this.
type ErrorBody struct {
	Code    string        `json:"code"`
	Message string        `json:"message"`
	Details []ErrorDetail `json:"details,omitempty"`
}

// ErrorDetail names one invalid field of a validation_error.
type ErrorDetail struct {
	Field string `json:"field"`
	Issue string `json:"issue"`
}

// UnmarshalJSON accepts a string, an object or null.
func (e *ErrorBody) UnmarshalJSON(b []byte) error {
	*e = ErrorBody{}
	switch t := strings.TrimSpace(string(b)); {
	case t == "null":
		return nil
	case strings.HasPrefix(t, `"`):
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		if isCode(s) {
			e.Code = s
		} else {
			e.Message = s
		}
		return nil
	}
	type plain ErrorBody
	var p struct {
		plain
		Details json.RawMessage `json:"details"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*e = ErrorBody(p.plain)
	// Details are informative only: a shape we do not expect must not hide the code.
	_ = json.Unmarshal(p.Details, &e.Details)
	return nil
}

// isCode reports whether a bare error string is a machine code (snake_case) rather than prose.
func isCode(s string) bool {
	if s == "" || len(s) > 64 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

type errorResponse struct {
	Error   ErrorBody `json:"error"`
	Message string    `json:"message"`
}
