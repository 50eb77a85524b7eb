// Package onecheckout connects Kassa to Onecheckout (whatee), a hosted checkout in front of
// Stripe and PayPal: Kassa creates an order server to server (POST /orders), sends the shopper
// to the order's "pay" link, and on their return reads the order (GET /orders/{id}); an
// authorized order is captured with POST /orders/{id}/capture.
//
// client.go speaks the documented REST API (base path /api/v1.0, static API key), types.go
// holds its wire structs, mapping.go its statuses, error codes and amounts, and sandbox/
// simulates it.
//
// # Guesses
//
// The documentation is silent or contradicts itself on the points below. Each is a GUESS, kept
// here in one place so a real contract can replace it:
//
//   - GUESS: amounts are decimal major units ("61.97"; "1.5" for KWD 1.500) for two- and
//     three-decimal currencies and integers for zero-decimal ones, and the response's
//     zero_decimal agrees. (One doc page says two-decimal amounts are in cents; every example,
//     the amount_invalid "< $0.50" rule and the provider's demo store say major units.)
//   - GUESS: the minimum order is 0.50 in two-decimal currencies; other currencies only need a
//     positive amount.
//   - GUESS: Authorization: Bearer works on every endpoint (the docs name X-API-Key for
//     account endpoints, the demo store sends api-key; the sandbox accepts all three).
//   - GUESS: the order total is the sum of quantity × unit_price plus tax_amount, and an
//     `amount` sent with the create (as the demo store does) must equal it. The adapter sends
//     both, so the provider refuses rather than charges a total Kassa did not ask for.
//   - GUESS: reference_id (Kassa's attempt id) is stored and echoed but is not an idempotency
//     key: no idempotency mechanism is documented. Only a create answered 429 (which was not
//     processed) is retried; a create that timed out is not, and reports ErrUnavailable.
//   - GUESS: POST /orders-list's created_hour_from/to take Unix seconds (the docs' example
//     values look like seconds; the sandbox takes both). An order whose create answer was lost
//     (a timeout, a reset) is found there by its reference_id, in a window around the time
//     Kassa asked for it: GET /orders/{id} needs Onecheckout's own id.
//   - GUESS: a declined payment leaves the order OPEN (there is no DECLINED status) and records
//     an event with type payment_failed and payment_status FAILED in /orders/{id}/events. On an
//     OPEN order the adapter reads the events and reports StatusDeclined when the latest payment
//     event is a failure (payment_status FAILED or DECLINED, or type payment_failed or
//     payment_declined), with the event's error as the Reason.
//   - GUESS: a shopper's cancel makes the order CANCELLED (with a payment_cancelled event), and
//     an order left unpaid also ends CANCELLED: there is no EXPIRED status.
//   - GUESS: the pay page sends the shopper to success_url after paying and to cancel_url after
//     a decline or cancel, with payment_id=<order id> and reference_id=<reference_id> appended
//     and the URL's own query kept. The return is not signed: ParseReturn only reads payment_id
//     as a hint and FetchOrder decides.
//   - GUESS: a paid order read back carries the reference_id it was created with; an order
//     whose reference_id differs from the Lookup's Reference is treated as not found, so a
//     reused or mistyped id can never confirm another attempt's payment.
//   - GUESS: the 429 error code is rate_limit_exceeded and Retry-After is in seconds.
//   - GUESS: GET /me "currencies" lists every currency the merchant can charge.
//   - Not implemented, for lack of documentation: webhooks (payload and signature unknown, so
//     no CallbackReceiver; NotifyURL is not sent), refunds (REFUNDED exists, no endpoint), an
//     explicit cancel endpoint.
package onecheckout

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/kassa-pay/kassa/providers"
	"github.com/kassa-pay/kassa/providers/currency"
)

// Provider is Onecheckout as Kassa uses it.
type Provider struct {
	client        *Client
	ttl           time.Duration
	manualCapture bool
	now           func() time.Time

	mu         sync.Mutex
	currencies []string
	fetched    time.Time
}

var (
	_ providers.Provider = (*Provider)(nil)
	_ providers.Capturer = (*Provider)(nil)
)

// New returns the adapter for cfg.
func New(cfg Config) *Provider {
	ttl := cfg.CurrencyTTL
	if ttl <= 0 {
		ttl = 5 * time.Minute
	}
	return &Provider{client: NewClient(cfg), ttl: ttl, manualCapture: cfg.ManualCapture, now: time.Now}
}

// Client returns the API client the adapter uses, for operations beyond the Provider interface
// (listing orders, reading events, updating the account).
func (p *Provider) Client() *Client { return p.client }

// ID implements providers.Provider.
func (p *Provider) ID() providers.ID { return providers.Onecheckout }

// Name implements providers.Provider.
func (p *Provider) Name() string { return "Onecheckout" }

// Currencies returns the merchant's currencies from GET /me, cached for CurrencyTTL. When the
// refresh fails, the last list fetched is returned rather than hiding the provider.
func (p *Provider) Currencies(ctx context.Context) ([]string, error) {
	p.mu.Lock()
	cached, at := p.currencies, p.fetched
	p.mu.Unlock()
	if cached != nil && p.now().Sub(at) < p.ttl {
		return append([]string(nil), cached...), nil
	}
	me, err := p.client.GetMe(ctx)
	if err != nil {
		if cached != nil {
			return append([]string(nil), cached...), nil
		}
		return nil, err
	}
	list := make([]string, 0, len(me.Currencies))
	seen := map[string]bool{}
	for _, c := range me.Currencies {
		if currency.Valid(c) && !seen[c] {
			seen[c] = true
			list = append(list, c)
		}
	}
	p.mu.Lock()
	p.currencies, p.fetched = list, p.now()
	p.mu.Unlock()
	return append([]string(nil), list...), nil
}

// CreateOrder implements providers.Provider.
func (p *Provider) CreateOrder(ctx context.Context, o providers.Order) (providers.Session, error) {
	const op = "create order"
	req, err := p.createRequest(o)
	if err != nil {
		return providers.Session{}, &providers.Error{Provider: providers.Onecheckout, Op: op, Kind: providers.ErrInvalid, Message: err.Error()}
	}
	ord, err := p.client.CreateOrder(ctx, req)
	if err != nil {
		return providers.Session{}, err
	}
	pay := ord.Link("pay")
	if pay == "" {
		pay = ord.Link("order")
	}
	if u, err := url.Parse(pay); ord.ID == "" || err != nil || !u.IsAbs() || (u.Scheme != "https" && u.Scheme != "http") {
		return providers.Session{}, &providers.Error{Provider: providers.Onecheckout, Op: op, Kind: providers.ErrUnavailable,
			Message: "response has no order id or no pay link"}
	}
	return providers.Session{ProviderRef: ord.ID, PayURL: pay, Status: orderStatus(ord.Status)}, nil
}

// createRequest builds the wire order: Kassa's lines when they add up to the amount, else one
// line for the whole amount.
func (p *Provider) createRequest(o providers.Order) (CreateOrderRequest, error) {
	if !currency.Valid(o.Currency) {
		return CreateOrderRequest{}, fmt.Errorf("currency %q is not ISO 4217", o.Currency)
	}
	if o.Amount <= 0 {
		return CreateOrderRequest{}, fmt.Errorf("amount %d must be positive", o.Amount)
	}
	total, err := amountToWire(o.Amount, o.Currency)
	if err != nil {
		return CreateOrderRequest{}, err
	}
	req := CreateOrderRequest{
		Currency:            o.Currency,
		Amount:              total,
		SuccessURL:          o.ReturnURL,
		CancelURL:           o.CancelURL,
		ReferenceID:         o.Reference,
		PaypalManualCapture: p.manualCapture,
	}
	if req.CancelURL == "" {
		req.CancelURL = o.ReturnURL
	}
	fallback := o.Description
	if fallback == "" {
		fallback = "Order " + o.Reference
	}
	if linesAddUp(o.Lines, o.Amount) {
		for _, l := range o.Lines {
			unit, err := amountToWire(l.UnitAmount, o.Currency)
			if err != nil {
				return CreateOrderRequest{}, err
			}
			title := l.Title
			if title == "" {
				title = fallback
			}
			req.OrderLines = append(req.OrderLines, OrderLine{
				Title: truncate(title, 255), Quantity: jsonInt(l.Quantity), UnitPrice: unit,
			})
		}
		return req, nil
	}
	req.OrderLines = []OrderLine{{Title: truncate(fallback, 255), Quantity: "1", UnitPrice: total}}
	return req, nil
}

// linesAddUp reports whether lines are usable as sent: positive quantities, non-negative
// prices, and a sum equal to amount without overflow.
func linesAddUp(lines []providers.Line, amount int64) bool {
	if len(lines) == 0 {
		return false
	}
	var sum int64
	for _, l := range lines {
		if l.Quantity <= 0 || l.UnitAmount < 0 || (l.UnitAmount > 0 && l.Quantity > (amount-sum)/l.UnitAmount) {
			return false
		}
		sum += l.Quantity * l.UnitAmount
	}
	return sum == amount
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n])
}

// FetchOrder implements providers.Provider.
func (p *Provider) FetchOrder(ctx context.Context, l providers.Lookup) (providers.Result, error) {
	const op = "fetch order"
	if l.ProviderRef == "" {
		// The create's answer was lost: find the order by Kassa's reference among the
		// orders created around that time.
		id, err := p.findByReference(ctx, l)
		if err != nil {
			return providers.Result{}, err
		}
		l.ProviderRef = id
	}
	ord, err := p.client.GetOrder(ctx, l.ProviderRef)
	if err != nil {
		return providers.Result{}, err
	}
	r, err := p.check(op, ord, l)
	if err != nil || ord.Status != StatusOpen {
		return r, err
	}
	events, err := p.client.ListOrderEvents(ctx, l.ProviderRef)
	if err != nil {
		return providers.Result{}, err
	}
	if failed, reason := latestPaymentFailure(events); failed {
		r.Status, r.Reason = providers.StatusDeclined, reason
	}
	return r, nil
}

// Capture implements providers.Capturer. A capture of an order that is not awaiting one fails
// with ErrConflict (order_status_invalid).
func (p *Provider) Capture(ctx context.Context, l providers.Lookup) (providers.Result, error) {
	const op = "capture order"
	if l.ProviderRef == "" {
		// Onecheckout finds orders by its own id only: an order whose create answer was lost
		// cannot be named, so it is "not found" (the shopper never got its pay link either).
		return providers.Result{}, &providers.Error{Provider: providers.Onecheckout, Op: op, Kind: providers.ErrNotFound, Message: "no provider reference"}
	}
	ord, err := p.client.CaptureOrder(ctx, l.ProviderRef)
	if err != nil {
		return providers.Result{}, err
	}
	return p.check(op, ord, l)
}

// check maps an order read back and makes sure it is the order the lookup means.
// findByReference looks for the order carrying l.Reference as reference_id with
// POST /orders-list, among orders created from five minutes before l.CreatedAt to fifteen
// after (the list has no reference filter; a few pages of one merchant's orders suffice).
func (p *Provider) findByReference(ctx context.Context, l providers.Lookup) (string, error) {
	const op = "fetch order"
	notFound := &providers.Error{Provider: providers.Onecheckout, Op: op, Kind: providers.ErrNotFound,
		Message: "no order carries this reference"}
	if l.Reference == "" || l.CreatedAt.IsZero() {
		return "", notFound
	}
	req := ListOrdersRequest{Limit: 1024,
		CreatedHourFrom: l.CreatedAt.Add(-5 * time.Minute).Unix(), CreatedHourTo: l.CreatedAt.Add(15 * time.Minute).Unix()}
	for range 5 {
		page, err := p.client.ListOrders(ctx, req)
		if err != nil {
			return "", err
		}
		for _, o := range page.Orders {
			if o.ReferenceID == l.Reference && o.ID != "" {
				return o.ID, nil
			}
		}
		if page.NextAnchor == "" {
			break
		}
		req.Anchor = page.NextAnchor
	}
	return "", notFound
}

func (p *Provider) check(op string, ord Order, l providers.Lookup) (providers.Result, error) {
	if ord.ID == "" {
		ord.ID = l.ProviderRef
	}
	if ord.ID != l.ProviderRef || (l.Reference != "" && ord.ReferenceID != "" && ord.ReferenceID != l.Reference) {
		return providers.Result{}, &providers.Error{Provider: providers.Onecheckout, Op: op, Kind: providers.ErrNotFound,
			Message: "the provider's order belongs to another reference"}
	}
	r, err := result(ord, l.Currency)
	if err != nil {
		return providers.Result{}, &providers.Error{Provider: providers.Onecheckout, Op: op, Kind: providers.ErrUnavailable,
			Message: "malformed order", Err: err}
	}
	return r, nil
}

// ParseReturn implements providers.Provider: Onecheckout appends payment_id (its order id)
// and reference_id to the success and cancel URLs. Only a plausible id is taken.
func (p *Provider) ParseReturn(q url.Values) providers.ReturnHint {
	id := q.Get("payment_id")
	if !plausibleID(id) {
		return providers.ReturnHint{}
	}
	return providers.ReturnHint{ProviderRef: id}
}

func plausibleID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
