// Package enkash is Kassa's adapter for EnKash's payment gateway ("Olympus PG", India): orders
// paid on EnKash's hosted checkout, verified through its order status API, refunded through its
// refund API.
//
// Documented and followed: POST /api/v0/merchant/token (accessKey/secretKey -> token, expiry,
// resultCode, resultMessage); the merchantAccessKey and Authorization: Bearer headers; POST
// /orders, GET /orders/{orderId}, GET /payment/{transactionId}, POST
// /payment/{transactionId}/refund (amount, remarks, requestId); the {response_code,
// response_message, payload} envelope with 0 for success; INR only, amounts as decimal rupees;
// the order and payment status words; the Payment Notify Request body sent to notifyUrl.
//
// Guesses, where the docs are silent (each one replaceable once a real contract says
// otherwise; the sandbox makes the same guesses):
//
//   - GUESS token: expiry is the token's end in epoch milliseconds (the sample looks like one);
//     0 means "unknown" and the token is kept until EnKash rejects it. A token answer is good
//     when it carries a token and resultCode is 0 or 200 (the sample says 200). Bad
//     credentials answer HTTP 401 with resultCode 401.
//   - GUESS merchantAccessKey carries the accessKey.
//   - GUESS response codes beyond 0 and 117 ("Token is invalid.", seen in third-party code):
//     100 validation failed (400), 104 duplicate orderId (409), 116 bad merchantAccessKey
//     (401), 117 token invalid (401), 120 order not found (404), 121 payment not found (404),
//     130 refund exceeds the refundable amount (400), 131 payment not refundable (409), 132
//     requestId reused for a different refund (409), 150 too many requests (429, with
//     Retry-After), 999 internal error (500). On failure the payload is a string saying why.
//     Unknown codes fall back to the HTTP status; any 5xx is ErrUnavailable.
//   - GUESS the orderId (alphanumeric only, documented) is Kassa's attempt reference when that
//     is alphanumeric and at most 50 characters; otherwise its letters and digits plus a hash
//     suffix, so the mapping stays deterministic and create stays idempotent.
//   - GUESS create is not idempotent at EnKash: a repeated orderId answers 104. The adapter
//     then fetches that order and returns it when amount and currency match, so a retried
//     create (after a timeout) finds the order it already made.
//   - GUESS the create payload is the order itself (orderId, amount, status, ...) with the
//     hosted checkout page's absolute URL in checkoutUrl; an answer without one is an error.
//   - GUESS GET /orders/{orderId} takes the merchant's orderId and its payload carries amount
//     {value, currency}, status, and transactions (the order's payments, oldest first, each
//     shaped like GET /payment/{transactionId}).
//   - GUESS a declined payment shows as order ATTEMPTED whose latest transaction is FAILED
//     (StatusDeclined, with txnMsg as the reason). A SUCCESS transaction on an order that is
//     not PAID stays pending until the order says PAID; AUTHORIZED stays pending (EnKash has
//     no capture API).
//   - GUESS refunds show on the successful transaction as PARTIALLY_REFUNDED / REFUNDED; the
//     order stays PAID. A refund's status SUCCESS (or REFUNDED) means StatusRefunded, FAILED or
//     CANCELLED StatusDeclined, anything else (CREATED) pending. requestId is Kassa's refund id
//     as is, and is unique per merchant.
//   - GUESS a refund is looked up again by posting the same refund (same requestId, amount and
//     transaction) once more: EnKash answers with that refund's current state instead of
//     refunding twice. The newer docs list "Get Refund Transaction Status" and "Refund
//     Enquiry" but not their paths or fields, so Kassa polls a pending refund by calling
//     Refund again; once they are known, a lookup can replace the replay here alone.
//   - GUESS the browser comes back to returnUrl only (EnKash has no cancel URL, so Kassa's
//     CancelURL is not sent) with orderId, transactionId (when a payment was tried) and status
//     (the payment's status, or CANCELLED when the shopper gave up) appended to the URL's own
//     query. ParseReturn also reads the payment_status=success|failed|cancelled a third-party
//     SDK mentions. Either way it is a hint only.
//   - GUESS the notifyUrl callback is POSTed after every payment attempt; its checksum
//     algorithm is unknown, so ReadCallback does not verify it: it only reads orderId and
//     returns it as a hint that makes Kassa fetch the order. Nothing in a callback is believed.
//   - GUESS created/lastModified are epoch milliseconds and txnDate RFC 3339; nothing here
//     depends on them.
package enkash

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/kassa-pay/kassa/providers"
)

// maxOrderID is the longest orderId the adapter sends (a guess; the docs give no limit).
const maxOrderID = 50

// Provider is the EnKash adapter.
type Provider struct {
	client *Client
}

var (
	_ providers.Provider         = (*Provider)(nil)
	_ providers.Refunder         = (*Provider)(nil)
	_ providers.CallbackReceiver = (*Provider)(nil)
)

// New returns the adapter for cfg.
func New(cfg Config) *Provider { return &Provider{client: NewClient(cfg)} }

// Client returns the adapter's API client.
func (p *Provider) Client() *Client { return p.client }

// ID implements providers.Provider.
func (p *Provider) ID() providers.ID { return providers.EnKash }

// Name implements providers.Provider.
func (p *Provider) Name() string { return "EnKash" }

// Currencies implements providers.Provider: EnKash serves INR only.
func (p *Provider) Currencies(context.Context) ([]string, error) { return []string{Currency}, nil }

// CreateOrder implements providers.Provider.
func (p *Provider) CreateOrder(ctx context.Context, o providers.Order) (providers.Session, error) {
	const op = "create order"
	if o.Currency != Currency {
		return providers.Session{}, invalid(op, "EnKash serves INR only, not "+o.Currency)
	}
	if o.Amount <= 0 {
		return providers.Session{}, invalid(op, "amount must be positive")
	}
	value, err := toDecimal(o.Amount, o.Currency)
	if err != nil {
		return providers.Session{}, invalid(op, err.Error())
	}
	req := CreateOrderRequest{
		OrderID:          merchantOrderID(o.Reference),
		Amount:           Amount{Value: value, Currency: Currency},
		ReturnURL:        o.ReturnURL,
		NotifyURL:        o.NotifyURL,
		Description:      o.Description,
		CustomerInfo:     customerInfo(o.Payer),
		CustomParameters: map[string]string{"kassaReference": o.Reference},
	}
	created, err := p.client.CreateOrder(ctx, req)
	if errors.Is(err, providers.ErrConflict) {
		// A retried create: the first one went through. Take the order it made if it is the
		// same order.
		existing, ferr := p.client.GetOrder(ctx, req.OrderID)
		if ferr != nil || existing.Amount.Currency != Currency || existing.Amount.Value == "" {
			return providers.Session{}, err
		}
		if amt, perr := toMinor(existing.Amount.Value, Currency); perr != nil || amt != o.Amount {
			return providers.Session{}, err
		}
		created = existing
	} else if err != nil {
		return providers.Session{}, err
	}
	if created.CheckoutURL == "" {
		return providers.Session{}, &providers.Error{Provider: providers.EnKash, Op: op, Kind: providers.ErrUnavailable, Message: "answer has no checkoutUrl"}
	}
	ref := created.OrderID
	if ref == "" {
		ref = req.OrderID
	}
	st, _ := orderStatus(created)
	return providers.Session{ProviderRef: ref, PayURL: created.CheckoutURL, Status: st}, nil
}

// FetchOrder implements providers.Provider.
func (p *Provider) FetchOrder(ctx context.Context, l providers.Lookup) (providers.Result, error) {
	const op = "fetch order"
	id := l.ProviderRef
	if id == "" {
		id = merchantOrderID(l.Reference)
	}
	o, err := p.client.GetOrder(ctx, id)
	if err != nil {
		return providers.Result{}, err
	}
	amount, err := toMinor(o.Amount.Value, o.Amount.Currency)
	if err != nil {
		// An amount nobody can read never makes a payment paid; a later fetch may do better.
		return providers.Result{}, &providers.Error{Provider: providers.EnKash, Op: op, Kind: providers.ErrUnavailable, Message: "unreadable order amount", Err: err}
	}
	st, t := orderStatus(o)
	ref := o.OrderID
	if ref == "" {
		ref = id
	}
	r := providers.Result{ProviderRef: ref, Status: st, Amount: amount, Currency: o.Amount.Currency, PaymentID: t.TransactionID}
	if st == providers.StatusDeclined || st == providers.StatusPending {
		r.Reason = t.TxnMsg
	}
	return r, nil
}

// ParseReturn implements providers.Provider. It reads the guessed orderId/transactionId/status
// parameters and the payment_status word of a third-party SDK; a value that cannot be an
// EnKash id is ignored.
func (p *Provider) ParseReturn(q url.Values) providers.ReturnHint {
	var h providers.ReturnHint
	if id := q.Get("orderId"); validOrderID(id) {
		h.ProviderRef = id
	}
	if s := q.Get("status"); s != "" {
		if st := paymentStatus(s); st != providers.StatusPending {
			h.Status = st
		}
	}
	if h.Status == "" {
		switch strings.ToLower(q.Get("payment_status")) {
		case "success":
			h.Status = providers.StatusPaid
		case "failed":
			h.Status = providers.StatusDeclined
		case "cancelled":
			h.Status = providers.StatusCancelled
		}
	}
	return h
}

// Refund implements providers.Refunder: it refunds the order's successful payment, in full or in
// part, with Kassa's refund id as requestId so a retry returns the same refund.
func (p *Provider) Refund(ctx context.Context, r providers.Refund) (providers.RefundResult, error) {
	const op = "refund"
	if r.Currency != "" && r.Currency != Currency {
		return providers.RefundResult{}, invalid(op, "EnKash serves INR only, not "+r.Currency)
	}
	if r.ID == "" {
		return providers.RefundResult{}, invalid(op, "refund id is required")
	}
	if r.Amount <= 0 {
		return providers.RefundResult{}, invalid(op, "amount must be positive")
	}
	value, err := toDecimal(r.Amount, Currency)
	if err != nil {
		return providers.RefundResult{}, invalid(op, err.Error())
	}
	id := r.ProviderRef
	if id == "" {
		id = merchantOrderID(r.Reference)
	}
	o, err := p.client.GetOrder(ctx, id)
	if err != nil {
		return providers.RefundResult{}, err
	}
	paid, ok := successfulPayment(o)
	if !ok || paid.TransactionID == "" {
		return providers.RefundResult{}, &providers.Error{Provider: providers.EnKash, Op: op, Kind: providers.ErrConflict, Message: "order has no successful payment"}
	}
	res, err := p.client.Refund(ctx, paid.TransactionID, RefundRequest{Amount: value, Remarks: r.Reason, RequestID: r.ID})
	if err != nil {
		return providers.RefundResult{}, err
	}
	return providers.RefundResult{ProviderRef: res.TransactionID, Status: refundStatus(res.Status)}, nil
}

// ReadCallback implements providers.CallbackReceiver for the Payment Notify Request. EnKash's
// checksum algorithm is undocumented, so the delivery cannot be authenticated: the body is only
// read for the orderId it names, which makes Kassa fetch that order from the API. A body that
// is not a notification naming a plausible order fails with ErrInvalid.
func (p *Provider) ReadCallback(_ context.Context, _ http.Header, body []byte) (providers.CallbackHint, error) {
	const op = "read callback"
	var n NotifyRequest
	if err := json.Unmarshal(body, &n); err != nil {
		return providers.CallbackHint{}, invalid(op, "body is not a payment notification")
	}
	if !validOrderID(n.OrderID) {
		return providers.CallbackHint{}, invalid(op, "notification names no valid orderId")
	}
	return providers.CallbackHint{ProviderRef: n.OrderID}, nil
}

func invalid(op, msg string) *providers.Error {
	return &providers.Error{Provider: providers.EnKash, Op: op, Kind: providers.ErrInvalid, Message: msg}
}

// merchantOrderID turns Kassa's attempt reference into an EnKash orderId, which must be
// alphanumeric. It is deterministic, so a retried create reuses the same orderId.
func merchantOrderID(ref string) string {
	if validOrderID(ref) {
		return ref
	}
	var b strings.Builder
	for i := 0; i < len(ref); i++ {
		if alnum(ref[i]) {
			b.WriteByte(ref[i])
		}
	}
	sum := sha256.Sum256([]byte(ref))
	suffix := "X" + hex.EncodeToString(sum[:6])
	s := b.String()
	if len(s) > maxOrderID-len(suffix) {
		s = s[:maxOrderID-len(suffix)]
	}
	return s + suffix
}

// validOrderID reports whether s can be an EnKash orderId.
func validOrderID(s string) bool {
	if s == "" || len(s) > maxOrderID {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !alnum(s[i]) {
			return false
		}
	}
	return true
}

func alnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// customerInfo maps the payer, splitting the name at its last space.
func customerInfo(p providers.Payer) *CustomerInfo {
	if p == (providers.Payer{}) {
		return nil
	}
	ci := &CustomerInfo{Email: p.Email, PhoneNumber: p.Phone}
	name := strings.TrimSpace(p.Name)
	if i := strings.LastIndexByte(name, ' '); i > 0 {
		ci.FirstName, ci.LastName = strings.TrimSpace(name[:i]), name[i+1:]
	} else {
		ci.FirstName = name
	}
	return ci
}
