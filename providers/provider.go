// Package providers declares what Kassa needs from a payment provider, in Kassa's own terms, and
// the registry of configured providers.
//
// Each provider lives in its own package (onecheckout, enkash, kspay, onekhusa) with the same
// shape: client.go speaks the provider's documented REST API, types.go holds its wire structs,
// mapping.go turns its statuses, errors and decimal amounts into the types here, and sandbox/
// simulates it. A provider package never imports checkout or handlers: the dependency points
// from the domain to here.
package providers

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// ID names a provider in URLs, the merchant API and configuration.
type ID string

// The providers Kassa knows.
const (
	Onecheckout ID = "onecheckout"
	EnKash      ID = "enkash"
	KSPay       ID = "kspay"
	OneKhusa    ID = "onekhusa"
)

// Status is a provider order's state in Kassa's vocabulary. Adapters map every provider status
// they do not know to be final onto StatusPending, so an unknown word never ends a payment.
type Status string

const (
	// StatusPending: created or in progress at the provider; ask again later.
	StatusPending Status = "pending"
	// StatusAuthorized: the money is reserved but the provider waits for a Capture.
	StatusAuthorized Status = "authorized"
	// StatusPaid: the provider holds the shopper's money for the merchant.
	StatusPaid Status = "paid"
	// StatusDeclined: the shopper tried and the payment was refused.
	StatusDeclined Status = "declined"
	// StatusCancelled: the shopper or the merchant gave up before paying.
	StatusCancelled Status = "cancelled"
	// StatusExpired: the provider order timed out unpaid.
	StatusExpired Status = "expired"
	// StatusRefunded: paid, then fully refunded.
	StatusRefunded Status = "refunded"
	// StatusPartiallyRefunded: paid, then refunded in part.
	StatusPartiallyRefunded Status = "partially_refunded"
)

// Final reports whether the status can no longer move to paid without a new order.
func (s Status) Final() bool {
	switch s {
	case StatusPaid, StatusDeclined, StatusCancelled, StatusExpired, StatusRefunded, StatusPartiallyRefunded:
		return true
	}
	return false
}

// Order is what Kassa asks a provider to collect: one attempt at paying one payment.
type Order struct {
	// Reference is Kassa's attempt id. It is unique per attempt, so adapters use it as the
	// merchant-side order id and as the idempotency key of the create call.
	Reference string
	// Description is shown to the shopper by the provider (the payment's reference label).
	Description string
	// Amount is in the currency's minor units; adapters convert it with providers/currency.
	Amount   int64
	Currency string
	// Lines sum to Amount when present; adapters that need lines send one line for the whole
	// amount when there are none.
	Lines []Line
	// ReturnURL receives the shopper after the provider's page, whatever happened there;
	// CancelURL receives them when the provider has a distinct cancel or failure redirect.
	// Both are Kassa's own URLs; the merchant's URLs never reach a provider.
	ReturnURL string
	CancelURL string
	// NotifyURL is Kassa's endpoint for this provider's server-to-server callbacks, if any.
	NotifyURL string
	// Method is a provider-specific payment method id (see MethodLister); empty means the
	// provider's hosted page lets the shopper choose.
	Method string
	Payer  Payer
}

// Line is one line item in minor units.
type Line struct {
	Title      string
	Quantity   int64
	UnitAmount int64
}

// Payer is what Kassa knows about the shopper; every field is optional except where a method
// needs it (a phone number for a mobile-money push).
type Payer struct {
	Name  string
	Email string
	Phone string
}

// Session is a created provider order: where to send the shopper, and how to find it again.
type Session struct {
	// ProviderRef identifies the order at the provider; Lookup carries it back.
	ProviderRef string
	// PayURL is the provider's page for the shopper. It is empty for methods the shopper
	// completes elsewhere (a push to their phone), where Kassa shows a waiting page instead.
	PayURL string
	Status Status
}

// Lookup finds a provider order again. Reference is Kassa's attempt id, for providers whose
// status endpoints are keyed by the merchant's own id. ProviderRef is empty when the create's
// answer was lost (a timeout, a reset connection): adapters that can search by Reference do so,
// answering ErrNotFound when no order carries it, and the others answer ErrNotFound at once.
type Lookup struct {
	ProviderRef string
	Reference   string
	Currency    string
	// CreatedAt is when Kassa asked for the order, for providers whose search by Reference
	// needs a date or time window.
	CreatedAt time.Time
}

// Result is the provider's authoritative answer about an order.
type Result struct {
	ProviderRef string
	Status      Status
	// Amount and Currency are what the provider says it collected (or will collect); Kassa
	// refuses to call a payment paid when they differ from what it asked for.
	Amount   int64
	Currency string
	// PaymentID is the provider's id of the underlying payment (a card charge, a mobile-money
	// transaction) when it has one.
	PaymentID string
	// Reason is the provider's own words for a decline or failure, for logs and support.
	Reason string
}

// ReturnHint is what the query string of a return to Kassa claims. It is a hint only: Kassa
// verifies it with FetchOrder before believing anything.
type ReturnHint struct {
	ProviderRef string
	// Status is the outcome the query claims, or "" when it claims none.
	Status Status
}

// Provider is one payment gateway as Kassa uses it.
type Provider interface {
	ID() ID
	// Name is the display name shoppers see ("Onecheckout", "KS Pay").
	Name() string
	// Currencies lists the ISO 4217 codes the provider serves for this merchant.
	Currencies(ctx context.Context) ([]string, error)
	// CreateOrder creates the provider order server to server.
	CreateOrder(ctx context.Context, o Order) (Session, error)
	// FetchOrder asks the provider for the order's current state.
	FetchOrder(ctx context.Context, l Lookup) (Result, error)
	// ParseReturn reads the provider's parameters on a return to Kassa. It never fails: a
	// malformed query is simply a hint of nothing.
	ParseReturn(q url.Values) ReturnHint
}

// Capturer is implemented by providers whose orders can stop at StatusAuthorized.
type Capturer interface {
	Capture(ctx context.Context, l Lookup) (Result, error)
}

// Voider is implemented by providers whose API can release an authorized order, or cancel an
// order not yet paid, without capturing it. Kassa calls it when a merchant cancels a payment or
// it expires: a closed payment must never capture money. Providers without such an endpoint
// leave an authorization to lapse at the provider.
type Voider interface {
	Void(ctx context.Context, l Lookup) (Result, error)
}

// Refund asks for money back. ID is Kassa's refund id, unique per refund and used as the
// provider's idempotency key, so retrying a refund never pays twice.
type Refund struct {
	Lookup
	ID     string
	Amount int64
	Reason string
}

// RefundResult is the provider's answer to a refund.
type RefundResult struct {
	ProviderRef string
	// Status is StatusRefunded when the money is on its way back, StatusPending when the
	// provider has not decided yet, StatusDeclined when it refused.
	Status Status
}

// Refunder is implemented by providers that can refund through their API.
type Refunder interface {
	Refund(ctx context.Context, r Refund) (RefundResult, error)
}

// Method is one way to pay offered by a provider for a currency.
type Method struct {
	ID   string
	Name string
	// NeedsPhone is set for push methods, where the shopper types the phone to push to.
	NeedsPhone bool
}

// MethodLister is implemented by providers that offer several methods the shopper picks on
// Kassa's page rather than on the provider's.
type MethodLister interface {
	Methods(ctx context.Context, currency string) ([]Method, error)
}

// CallbackHint names the order a provider's server-to-server notification is about. Like a
// return, it only makes Kassa fetch the order; the notification's claims are never believed.
type CallbackHint struct {
	ProviderRef string
	// Reference is Kassa's attempt id when the provider echoes it instead of its own id.
	Reference string
}

// CallbackReceiver is implemented by providers that notify Kassa of order changes. ReadCallback
// authenticates the delivery the provider's documented way and fails with ErrInvalid (changing
// nothing) when it cannot.
type CallbackReceiver interface {
	ReadCallback(ctx context.Context, header http.Header, body []byte) (CallbackHint, error)
}

// PhoneChecker is implemented by providers with push methods. CheckPhone validates the number a
// shopper typed for method and returns it normalised, or an error whose text the shopper can
// read, before any order is created.
type PhoneChecker interface {
	CheckPhone(method, phone string) (string, error)
}
