// Package onekhusa is Kassa's adapter for OneKhusa (Malawi): a hosted checkout and mobile-money
// pushes to Airtel Money and TNM Mpamba, all in MWK, over OneKhusa's documented REST API
// (https://docs.onekhusa.com, base https://api.onekhusa.com/sandbox/v1 in the sandbox).
//
// How it works: a short-lived access token from POST /account/getAccessToken (cached in an
// oauth2.ReuseTokenSource, renewed before expiresOn and once more on a 401) authorises every
// call, which also carries X-Organisation-Id and X-Merchant-Account-Number. Money calls carry
// an X-Idempotency-Key derived from Kassa's attempt reference, so a retried CreateOrder returns
// the same transaction. FetchOrder asks POST /collections/getTransaction; the answer alone
// decides a payment. Webhooks are authenticated by passing their two headers to
// POST /merchants/webhooks/verify, as the docs require, and only name the order to fetch.
//
// Guesses, where the docs are silent (each to be replaced by a real contract):
//
//   - Guess: /checkout/push/initiate answers {merchantAccountNumber, sourceReferenceNumber,
//     paymentTransactionId, transactionReferenceNumber, checkoutUrl, expiryInMinutes}. The
//     adapter uses checkoutUrl when present, else builds Config.CheckoutPageURL from
//     paymentTransactionId (default host and path guessed from the request-to-pay checkout).
//     Session.ProviderRef is transactionReferenceNumber, falling back to paymentTransactionId;
//     only a 12-character transactionReferenceNumber can be looked up with getTransaction.
//   - Guess: /collections/push/direct/initiate answers {merchantAccountNumber,
//     sourceReferenceNumber, transactionReferenceNumber, transactionStatusCode,
//     responseCode "I100", responseMessage}.
//   - Guess: connector ids: Airtel Money 550044 (the docs' push example, which pairs it with a
//     0999 number) and TNM Mpamba 550045; both configurable. The real ids come from the "Get
//     Connectors" API, whose path is undocumented.
//   - Guess: Malawian mobile prefixes 99/98 are Airtel and 88/89 are TNM; a push is refused
//     before calling OneKhusa when the number does not belong to the chosen network.
//   - Guess: sourceReferenceNumber is Kassa's attempt reference as is; description is the
//     order's description (cut to 100 characters).
//   - Guess: the hosted page appends transactionReferenceNumber, sourceReferenceNumber and
//     transactionStatusCode to the success/failure redirection URL. ParseReturn reads them as
//     a hint only. Decline and cancel both go to the failure URL (Kassa's CancelURL).
//   - Guess: a shopper rejecting a push prompt, and a hosted session or push prompt that
//     expires unanswered, end with status letter C (Cancelled); a payment refused by the wallet
//     or issuer ends with F (Transfer failed). The docs list the letters, not these mappings.
//   - Guess: R (Reversed) is a full refund; OneKhusa documents no refund API for collections,
//     so the adapter implements no Refunder.
//   - Guess: Result.Amount is amountSent (what the payer paid, before OneKhusa's fee) in
//     sourceCurrencyCode, MWK when absent; bridgeReferenceNumber is the payment id.
//   - Guess: webhook bodies mirror getTransaction (flat or nested); the adapter reads only
//     transactionReferenceNumber and sourceReferenceNumber from them, after verification.
//     Webhooks are registered per merchant in OneKhusa's portal, not per request, so
//     Order.NotifyURL is not sent; point the portal (or the sandbox's WebhookURL) at Kassa.
//   - Guess: error codes other than E900, E306 and E307 (documented) are "E" plus the HTTP
//     status (E401, E429, ...); the HTTP status decides the kind when the code is unknown, with
//     402 "Request Failed" taken as a decline and 424 "External Dependency Failed" as
//     unavailable.
//   - Guess: an order whose create answer was lost (a timeout, a reset) is found with
//     POST /collections/getTransactions, searchBy "SourceReferenceNumber" and the day it was
//     asked for; the docs show only searchBy "TransactionReferenceNumber".
//   - Guess: the docs list X-Organisation-Id and X-Merchant-Account-Number for most endpoints
//     but omit them from the collections examples; the client sends them on every call.
package onekhusa

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/kassa-pay/kassa/providers"
)

// Method ids the adapter offers (see Methods).
const (
	MethodCheckout = "checkout"
	MethodAirtel   = NetworkAirtel
	MethodMpamba   = NetworkMpamba
)

// Provider is OneKhusa as Kassa uses it.
type Provider struct {
	client *Client
}

// Compile-time checks of the abilities Kassa looks for.
var (
	_ providers.Provider         = (*Provider)(nil)
	_ providers.MethodLister     = (*Provider)(nil)
	_ providers.CallbackReceiver = (*Provider)(nil)
)

// New returns the adapter for cfg.
func New(cfg Config) *Provider { return &Provider{client: NewClient(cfg)} }

// Client returns the underlying API client.
func (p *Provider) Client() *Client { return p.client }

// String and Format name the provider, never its credentials.
func (p *Provider) String() string             { return "onekhusa.Provider{" + p.client.cfg.BaseURL + "}" }
func (p *Provider) Format(f fmt.State, _ rune) { fmt.Fprint(f, p.String()) }

// ID implements providers.Provider.
func (p *Provider) ID() providers.ID { return providers.OneKhusa }

// Name implements providers.Provider.
func (p *Provider) Name() string { return "OneKhusa" }

// Currencies implements providers.Provider: a OneKhusa merchant account collects in MWK only.
func (p *Provider) Currencies(context.Context) ([]string, error) { return []string{Currency}, nil }

// Methods implements providers.MethodLister: the hosted checkout, where the shopper picks card
// or mobile money on OneKhusa's page, and a push to each mobile network.
func (p *Provider) Methods(_ context.Context, cur string) ([]providers.Method, error) {
	if cur != Currency {
		return nil, nil
	}
	return []providers.Method{
		{ID: MethodCheckout, Name: "Card or mobile money (OneKhusa checkout)"},
		{ID: MethodAirtel, Name: "Airtel Money", NeedsPhone: true},
		{ID: MethodMpamba, Name: "TNM Mpamba", NeedsPhone: true},
	}, nil
}

func (p *Provider) invalid(op, msg string) error {
	return &providers.Error{Provider: providers.OneKhusa, Op: op, Kind: providers.ErrInvalid, Message: msg}
}

// CreateOrder implements providers.Provider. Method "" or "checkout" creates a hosted checkout;
// "airtel" or "mpamba" pushes a prompt to Payer.Phone and returns a Session without a PayURL.
func (p *Provider) CreateOrder(ctx context.Context, o providers.Order) (providers.Session, error) {
	const op = "create order"
	if o.Currency != Currency {
		return providers.Session{}, p.invalid(op, "OneKhusa collects in MWK only, not "+o.Currency)
	}
	if o.Amount <= 0 {
		return providers.Session{}, p.invalid(op, "amount must be positive")
	}
	if o.Reference == "" {
		return providers.Session{}, p.invalid(op, "order has no reference")
	}
	amount, err := ToDecimal(o.Amount, o.Currency)
	if err != nil {
		return providers.Session{}, p.invalid(op, err.Error())
	}
	key := IdempotencyKey(p.client.cfg.MerchantAccountNumber, o.Reference)
	switch o.Method {
	case "", MethodCheckout:
		return p.createCheckout(ctx, key, o, amount)
	case MethodAirtel, MethodMpamba:
		return p.createPush(ctx, key, o, amount)
	}
	return providers.Session{}, p.invalid(op, fmt.Sprintf("unknown method %q", o.Method))
}

func description(o providers.Order) string {
	d := strings.TrimSpace(o.Description)
	if d == "" {
		d = "Payment " + o.Reference
	}
	if r := []rune(d); len(r) > 100 {
		d = string(r[:100])
	}
	return d
}

func (p *Provider) createCheckout(ctx context.Context, key string, o providers.Order, amount Decimal) (providers.Session, error) {
	failure := o.CancelURL
	if failure == "" {
		failure = o.ReturnURL
	}
	resp, err := p.client.InitiateCheckout(ctx, key, CheckoutRequest{
		Payment: CheckoutPayment{
			MerchantAccountNumber: p.client.cfg.MerchantAccountNumber,
			Amount:                amount,
			Description:           description(o),
			SourceReferenceNumber: o.Reference,
			CapturedBy:            p.client.cfg.CapturedBy,
		},
		Route: CheckoutRoute{SuccessRedirectionURL: o.ReturnURL, FailureRedirectionURL: failure},
	})
	if err != nil {
		return providers.Session{}, err
	}
	return checkoutSession(resp, p.client.cfg.CheckoutPageURL)
}

// checkoutSession reads the guessed checkout answer: the page is checkoutUrl, or the page URL
// template filled with paymentTransactionId.
func checkoutSession(resp CheckoutResponse, pageTemplate string) (providers.Session, error) {
	ref := resp.TransactionReferenceNumber
	if ref == "" {
		ref = resp.PaymentTransactionID
	}
	payURL := resp.CheckoutURL
	if payURL == "" && resp.PaymentTransactionID != "" {
		payURL = strings.ReplaceAll(pageTemplate, "{paymentTransactionId}", url.QueryEscape(resp.PaymentTransactionID))
	}
	if u, err := url.Parse(payURL); ref == "" || payURL == "" || err != nil || !u.IsAbs() {
		return providers.Session{}, &providers.Error{Provider: providers.OneKhusa, Op: "create order", Kind: providers.ErrUnavailable,
			Message: "checkout answer has no usable reference or page URL"}
	}
	return providers.Session{ProviderRef: ref, PayURL: payURL, Status: providers.StatusPending}, nil
}

func (p *Provider) createPush(ctx context.Context, key string, o providers.Order, amount Decimal) (providers.Session, error) {
	const op = "create order"
	phone, network, err := NormalizeMSISDN(o.Payer.Phone)
	if err != nil {
		return providers.Session{}, p.invalid(op, "payer phone: "+err.Error())
	}
	if network != o.Method {
		return providers.Session{}, p.invalid(op, fmt.Sprintf("%s is not a %s number", phone, o.Method))
	}
	connector := p.client.cfg.AirtelConnectorID
	if o.Method == MethodMpamba {
		connector = p.client.cfg.MpambaConnectorID
	}
	resp, err := p.client.InitiateDirectPush(ctx, key, DirectPushRequest{
		MerchantAccountNumber:  p.client.cfg.MerchantAccountNumber,
		ConnectorID:            connector,
		PayerAccountNumber:     phone,
		SourceReferenceNumber:  o.Reference,
		TransactionDescription: description(o),
		TransactionAmount:      amount,
		CapturedBy:             p.client.cfg.CapturedBy,
	})
	if err != nil {
		return providers.Session{}, err
	}
	if resp.TransactionReferenceNumber == "" {
		return providers.Session{}, &providers.Error{Provider: providers.OneKhusa, Op: op, Kind: providers.ErrUnavailable,
			Code: resp.ResponseCode, Message: "push answer has no transaction reference"}
	}
	status := providers.StatusPending
	if resp.TransactionStatusCode != "" {
		status = MapStatus(resp.TransactionStatusCode)
	}
	return providers.Session{ProviderRef: resp.TransactionReferenceNumber, Status: status}, nil
}

// transactionRefLen is the documented length of a transactionReferenceNumber ("B250713MGRTW").
const transactionRefLen = 12

// FetchOrder implements providers.Provider with POST /collections/getTransaction.
func (p *Provider) FetchOrder(ctx context.Context, l providers.Lookup) (providers.Result, error) {
	const op = "fetch order"
	if l.ProviderRef == "" && l.Reference != "" {
		// The create's answer was lost: find the transaction by Kassa's reference.
		t, err := p.findBySourceReference(ctx, l)
		if err != nil {
			return providers.Result{}, err
		}
		l.ProviderRef = t.TransactionReferenceNumber
		return resultOf(t, l)
	}
	if len(l.ProviderRef) != transactionRefLen {
		// getTransaction refuses any other length as a validation error; such a reference
		// cannot name a OneKhusa transaction (and Kassa cannot look one up by its own id).
		return providers.Result{}, &providers.Error{Provider: providers.OneKhusa, Op: op, Kind: providers.ErrNotFound,
			Message: "not a 12-character transaction reference number"}
	}
	t, err := p.client.GetTransaction(ctx, GetTransactionRequest{
		MerchantAccountNumber:      p.client.cfg.MerchantAccountNumber,
		TransactionReferenceNumber: l.ProviderRef,
	})
	if err != nil {
		return providers.Result{}, err
	}
	return resultOf(t, l)
}

// findBySourceReference searches the collections of the day the order was asked for (and of
// the next day, when that was close to midnight UTC) for Kassa's reference, as
// sourceReferenceNumber. Guess: searchBy "SourceReferenceNumber" (the docs show only
// "TransactionReferenceNumber"); a OneKhusa that refuses it answers ErrInvalid, and the
// attempt is then found by a webhook naming the reference, or ends after its grace period.
func (p *Provider) findBySourceReference(ctx context.Context, l providers.Lookup) (Transaction, error) {
	const op = "fetch order"
	at := l.CreatedAt.UTC()
	if at.IsZero() {
		at = time.Now().UTC()
	}
	days := []string{at.Format("2006-01-02")}
	if next := at.Add(15 * time.Minute).Format("2006-01-02"); next != days[0] {
		days = append(days, next)
	}
	for _, day := range days {
		ts, err := p.client.GetTransactions(ctx, GetTransactionsRequest{
			MerchantAccountNumber: p.client.cfg.MerchantAccountNumber,
			TransactionDate:       day, PageNumber: 1, NumberOfReturnedRows: 10,
			SearchBy: "SourceReferenceNumber", SearchText: l.Reference,
		})
		if err != nil {
			return Transaction{}, err
		}
		for _, t := range ts {
			if t.SourceReferenceNumber == l.Reference && len(t.TransactionReferenceNumber) == transactionRefLen {
				return t, nil
			}
		}
	}
	return Transaction{}, &providers.Error{Provider: providers.OneKhusa, Op: op, Kind: providers.ErrNotFound,
		Message: "no transaction carries this source reference number"}
}

// resultOf turns a transaction into Kassa's answer, refusing one that is about another order.
func resultOf(t Transaction, l providers.Lookup) (providers.Result, error) {
	const op = "fetch order"
	bad := func(msg string) error {
		return &providers.Error{Provider: providers.OneKhusa, Op: op, Kind: providers.ErrUnavailable, Message: msg}
	}
	if t.TransactionReferenceNumber != "" && t.TransactionReferenceNumber != l.ProviderRef {
		return providers.Result{}, bad("answer is about transaction " + t.TransactionReferenceNumber)
	}
	if t.SourceReferenceNumber != "" && l.Reference != "" && t.SourceReferenceNumber != l.Reference {
		return providers.Result{}, &providers.Error{Provider: providers.OneKhusa, Op: op, Kind: providers.ErrConflict,
			Message: "transaction belongs to another order"}
	}
	cur := strings.ToUpper(strings.TrimSpace(t.SourceCurrencyCode))
	if cur == "" {
		cur = Currency
	}
	r := providers.Result{
		ProviderRef: l.ProviderRef,
		Status:      MapStatus(t.TransactionStatusCode),
		Currency:    cur,
		PaymentID:   t.BridgeReferenceNumber,
	}
	if t.AmountSent != "" {
		amount, err := ToMinor(t.AmountSent, cur)
		if err != nil {
			return providers.Result{}, bad("unreadable amountSent")
		}
		r.Amount = amount
	}
	if r.Status == providers.StatusDeclined || r.Status == providers.StatusCancelled {
		r.Reason = strings.TrimSpace(t.ResponseCode + " " + t.ResponseMessage)
	}
	return r, nil
}

// ParseReturn implements providers.Provider. The query is a hint only.
func (p *Provider) ParseReturn(q url.Values) providers.ReturnHint {
	var h providers.ReturnHint
	if ref := q.Get("transactionReferenceNumber"); len(ref) == transactionRefLen && isAlnum(ref) {
		h.ProviderRef = ref
	}
	if code := q.Get("transactionStatusCode"); len(code) == 1 {
		h.Status = MapStatus(code)
	}
	return h
}

func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// ReadCallback implements providers.CallbackReceiver. It needs both documented headers and a
// body naming a transaction, then asks OneKhusa whether the signature is genuine for that
// event; only a confirmed delivery yields a hint. When OneKhusa cannot be asked, the error is
// temporary (not ErrInvalid) so the delivery is retried rather than dropped.
func (p *Provider) ReadCallback(ctx context.Context, header http.Header, body []byte) (providers.CallbackHint, error) {
	const op = "read callback"
	invalid := func(msg string) error {
		return &providers.Error{Provider: providers.OneKhusa, Op: op, Kind: providers.ErrInvalid, Message: msg}
	}
	event := strings.TrimSpace(header.Get(HeaderWebhookEvent))
	sig := strings.TrimSpace(header.Get(HeaderWebhookSignature))
	if event == "" || sig == "" || len(event) > 100 || len(sig) > 1000 {
		return providers.CallbackHint{}, invalid("missing or oversized webhook headers")
	}
	hint, err := ParseCallback(body)
	if err != nil {
		return providers.CallbackHint{}, invalid(err.Error())
	}
	v, err := p.client.VerifyWebhook(ctx, VerifyWebhookRequest{
		MerchantAccountNumber: p.client.cfg.MerchantAccountNumber,
		EventCode:             event,
		WebhookSignature:      sig,
	})
	if err != nil {
		if errors.Is(err, providers.ErrInvalid) {
			return providers.CallbackHint{}, invalid("OneKhusa refused to verify the signature")
		}
		return providers.CallbackHint{}, err
	}
	if !v.IsSignatureValid || (v.MerchantAccountNumber != 0 && v.MerchantAccountNumber != p.client.cfg.MerchantAccountNumber) {
		return providers.CallbackHint{}, invalid("webhook signature is not valid")
	}
	return hint, nil
}

// ParseCallback reads the transaction a webhook body is about, flat or nested. It never
// believes anything else in the body.
func ParseCallback(body []byte) (providers.CallbackHint, error) {
	if len(body) == 0 || len(body) > 1<<20 {
		return providers.CallbackHint{}, errors.New("empty or oversized body")
	}
	var t Transaction
	if err := jsonUnmarshalObject(body, &t); err != nil {
		return providers.CallbackHint{}, errors.New("body is not a JSON object")
	}
	h := providers.CallbackHint{Reference: strings.TrimSpace(t.SourceReferenceNumber)}
	if ref := strings.TrimSpace(t.TransactionReferenceNumber); len(ref) == transactionRefLen && isAlnum(ref) {
		h.ProviderRef = ref
	}
	if len(h.Reference) > 200 {
		h.Reference = ""
	}
	if h.ProviderRef == "" && h.Reference == "" {
		return providers.CallbackHint{}, errors.New("body names no transaction")
	}
	return h, nil
}

var _ providers.PhoneChecker = (*Provider)(nil)

// CheckPhone implements providers.PhoneChecker: the number must be a Malawian mobile number on
// the network of the chosen method.
func (p *Provider) CheckPhone(method, phone string) (string, error) {
	local, network, err := NormalizeMSISDN(phone)
	if err != nil {
		return "", fmt.Errorf("must be a Malawian mobile number such as 0991 234 567")
	}
	if network != method {
		name := map[string]string{MethodAirtel: "Airtel Money", MethodMpamba: "TNM Mpamba"}[method]
		return "", fmt.Errorf("is not on %s", name)
	}
	return local, nil
}
