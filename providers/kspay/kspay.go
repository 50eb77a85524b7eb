// Package kspay is Kassa's adapter for KS Pay (Kalp Studio's payment engine): a client for its
// documented server-to-server API (client.go), its wire types (types.go), the mapping of its
// statuses, error codes and decimal amounts (mapping.go), and the Provider Kassa uses. The
// simulator is in sandbox/.
//
// The flow: generate-token (accessKey/secretKey → access and refresh token), GET /currencies and
// GET /{currencyId}/payment-methods (cached, so the ISO code maps to KS Pay's currency id),
// POST /transaction/initiate (→ a per-transaction signature), POST /transaction/process with
// x-signature (→ the order, with the pay page for the shopper), the shopper's redirect back with
// payment_status, kspay_id and provider_payment_id (hints only), and
// GET /transaction/txnId/{txnId} (the truth).
//
// Guesses, in one place, where the KS Pay docs are silent or contradict themselves. Each one is
// a guess a real contract can replace:
//
//   - GUESS (initiate variant): the docs show two initiate/process variants. This adapter uses
//     the "NPM sequence": initiate with the bearer token and appId + redirectUrl in the body,
//     answered by a per-transaction signature; then process with that signature in x-signature
//     and no bearer token. It fits a redirecting checkout; the S2S variant (x-signature from a
//     separate generate-signature call, Razorpay checkout config in the answer) needs
//     JavaScript on the page.
//   - GUESS (envelope): initiate answers {"status":201,"message":"success","result":
//     {"signature":"..."}} and process answers the order as result (the official Flutter SDK
//     reads it there; the docs' {"order": ...} wrapping is accepted too).
//   - GUESS (hosted pay URL): since Kassa pays without JavaScript, the processed order carries
//     "payUrl", an absolute URL of KS Pay's hosted page for the shopper, and the transaction id
//     as "pe_txnId" (as in the S2S initiate result). A missing payUrl fails CreateOrder.
//   - GUESS (error body): errors are {"status": <http>, "message": "...", "code": <int>}, the
//     documented {message, httpStatus, code} triples on the wire. Read leniently (a numeric
//     string code, a list of messages).
//   - GUESS (token lifetimes): tokens are JWTs whose exp claim says when they expire; the client
//     renews 30s before. A token that is not a JWT is assumed to live 5 minutes; a 401 (or 9000)
//     renews it once in any case. Refresh rotates both tokens; a refresh answered with an auth
//     error (9008 "Refresh token has expired.") falls back to a fresh generate-token.
//   - GUESS (status enum): only PENDING is documented. SUCCESS, FAILED, CANCELLED and EXPIRED are
//     assumed (plus the spellings CANCELED, DECLINED, FAILURE). isPaid is the success bit: a
//     paid transaction is paid unless its status says it failed (then it stays pending for a
//     later look); SUCCESS without isPaid stays pending; every unknown status stays pending.
//   - GUESS (redirect): payment_status is "success" or "failed" as documented, and "cancelled"
//     when the shopper cancels. KS Pay has one redirectUrl, so Order.CancelURL is not used:
//     Decline and Cancel come back to Order.ReturnURL.
//   - GUESS (idempotency): referenceNumber (Kassa's attempt id) is unique per application;
//     initiating again with the same one and the same order returns a new signature for the
//     same transaction instead of a second transaction. So an initiate retried after a timeout
//     or a 401 cannot charge twice, and an expired signature (11005) is handled by initiating
//     once more and processing again; a second 11005 is returned as ErrInvalid.
//   - GUESS (codes used twice): 11005 with HTTP 429 is "too many requests", with 400 "signature
//     expired"; 13007 with 403 is "access denied from this origin" (ErrAuth), with 400 "invalid
//     currency id" (ErrInvalid).
//   - GUESS (malformed ids): GET /transaction/txnId/{id} answers -17 for an id that is not
//     "tx_" + 9 letters or digits; FetchOrder reports that as ErrNotFound, since no order can
//     have such an id.
//   - GUESS (listing): GET /transaction takes page and limit (the documented pagination errors
//     4089/4056 name them), newest first, result a plain array. FetchOrder uses it to find a
//     transaction by referenceNumber when Kassa has no ProviderRef (create timed out).
//   - GUESS (no merchant webhooks, no refunds, no capture): none are documented, so this
//     adapter implements neither CallbackReceiver, Refunder nor Capturer.
//   - GUESS (catalog activity): a currency or method is offered unless isDisabled is true or
//     isActive is explicitly false.
package kspay

import (
	"context"
	"errors"
	"net/url"
	"sync"
	"time"

	"github.com/kassa-pay/kassa/providers"
	"github.com/kassa-pay/kassa/providers/currency"
)

const (
	defaultCatalogTTL = 10 * time.Minute
	// listPageSize and listMaxPages bound the search by reference in GET /transaction.
	listPageSize = 100
	listMaxPages = 10
)

// Provider is KS Pay as Kassa uses it. It implements providers.Provider and
// providers.MethodLister.
type Provider struct {
	client *Client
	ttl    time.Duration
	now    func() time.Time

	mu         sync.Mutex
	currencies []Currency
	currAt     time.Time
	methods    map[string]methodsEntry // by KS Pay currency id
}

type methodsEntry struct {
	at   time.Time
	list []PaymentMethod
}

var (
	_ providers.Provider     = (*Provider)(nil)
	_ providers.MethodLister = (*Provider)(nil)
)

// New returns the adapter for cfg.
func New(cfg Config) *Provider {
	p := &Provider{client: NewClient(cfg), ttl: cfg.CatalogTTL, now: time.Now, methods: map[string]methodsEntry{}}
	if p.ttl <= 0 {
		p.ttl = defaultCatalogTTL
	}
	return p
}

// Client returns the underlying API client.
func (p *Provider) Client() *Client { return p.client }

// ID implements providers.Provider.
func (p *Provider) ID() providers.ID { return providers.KSPay }

// Name implements providers.Provider.
func (p *Provider) Name() string { return "KS Pay" }

// Currencies lists the ISO 4217 codes of KS Pay's active currencies.
func (p *Provider) Currencies(ctx context.Context) ([]string, error) {
	cs, err := p.catalog(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	seen := map[string]bool{}
	for _, c := range cs {
		if usable(c.IsActive, c.IsDisabled) && currency.Valid(c.Code) && !seen[c.Code] {
			seen[c.Code] = true
			out = append(out, c.Code)
		}
	}
	return out, nil
}

// Methods lists KS Pay's active payment methods for an ISO currency code.
func (p *Provider) Methods(ctx context.Context, code string) ([]providers.Method, error) {
	id, err := p.currencyID(ctx, code)
	if err != nil {
		return nil, err
	}
	ms, err := p.paymentMethods(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make([]providers.Method, 0, len(ms))
	for _, m := range ms {
		out = append(out, providers.Method{ID: m.ID, Name: m.Name})
	}
	return out, nil
}

// catalog returns the cached currency list, fetching it when older than the TTL.
func (p *Provider) catalog(ctx context.Context) ([]Currency, error) {
	p.mu.Lock()
	if p.currencies != nil && p.now().Sub(p.currAt) < p.ttl {
		cs := p.currencies
		p.mu.Unlock()
		return cs, nil
	}
	p.mu.Unlock()
	cs, err := p.client.Currencies(ctx)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		cs = []Currency{}
	}
	p.mu.Lock()
	p.currencies, p.currAt = cs, p.now()
	p.mu.Unlock()
	return cs, nil
}

// currencyID maps an ISO code to KS Pay's currency id.
func (p *Provider) currencyID(ctx context.Context, code string) (string, error) {
	cs, err := p.catalog(ctx)
	if err != nil {
		return "", err
	}
	for _, c := range cs {
		if c.Code == code && usable(c.IsActive, c.IsDisabled) && c.ID != "" {
			return c.ID, nil
		}
	}
	return "", &providers.Error{Provider: providers.KSPay, Op: "find currency", Kind: providers.ErrInvalid,
		Message: "KS Pay does not serve " + clip(code)}
}

// paymentMethods returns the cached active methods of a KS Pay currency id.
func (p *Provider) paymentMethods(ctx context.Context, currencyID string) ([]PaymentMethod, error) {
	p.mu.Lock()
	if e, ok := p.methods[currencyID]; ok && p.now().Sub(e.at) < p.ttl {
		p.mu.Unlock()
		return e.list, nil
	}
	p.mu.Unlock()
	all, err := p.client.PaymentMethods(ctx, currencyID)
	if err != nil {
		return nil, err
	}
	list := []PaymentMethod{}
	for _, m := range all {
		if usable(m.IsActive, m.IsDisabled) && m.ID != "" {
			list = append(list, m)
		}
	}
	p.mu.Lock()
	p.methods[currencyID] = methodsEntry{at: p.now(), list: list}
	p.mu.Unlock()
	return list, nil
}

// CreateOrder initiates a KS Pay transaction for o and processes it, returning the hosted pay
// page. The method is o.Method when set, else the currency's first active method.
func (p *Provider) CreateOrder(ctx context.Context, o providers.Order) (providers.Session, error) {
	const op = "create order"
	invalid := func(msg string) error {
		return &providers.Error{Provider: providers.KSPay, Op: op, Kind: providers.ErrInvalid, Message: msg}
	}
	if o.Amount <= 0 {
		return providers.Session{}, invalid("amount must be positive")
	}
	if o.Reference == "" {
		return providers.Session{}, invalid("reference is required")
	}
	if u, err := url.Parse(o.ReturnURL); err != nil || !u.IsAbs() {
		return providers.Session{}, invalid("return URL must be absolute")
	}
	amount, err := wireAmount(o.Amount, o.Currency)
	if err != nil {
		return providers.Session{}, invalid("unknown currency " + clip(o.Currency))
	}
	cid, err := p.currencyID(ctx, o.Currency)
	if err != nil {
		return providers.Session{}, err
	}
	method := o.Method
	if method == "" {
		ms, err := p.paymentMethods(ctx, cid)
		if err != nil {
			return providers.Session{}, err
		}
		if len(ms) == 0 {
			return providers.Session{}, invalid("KS Pay offers no payment method for " + o.Currency)
		}
		method = ms[0].ID
	}
	req := InitiateRequest{
		CurrencyID:      cid,
		PaymentMethodID: method,
		Amount:          amount,
		ReferenceNumber: o.Reference,
		AppID:           p.client.cfg.AppID,
		RedirectURL:     o.ReturnURL,
	}
	order, err := p.initiateAndProcess(ctx, req)
	if err != nil {
		return providers.Session{}, err
	}
	if order.TxnID == "" {
		return providers.Session{}, unreadable("process transaction", "no transaction id (pe_txnId) in the order")
	}
	if u, err := url.Parse(order.PayURL); err != nil || !u.IsAbs() || (u.Scheme != "https" && u.Scheme != "http") {
		return providers.Session{}, unreadable("process transaction", "no usable pay URL (payUrl) in the order")
	}
	return providers.Session{ProviderRef: order.TxnID, PayURL: order.PayURL, Status: providers.StatusPending}, nil
}

// initiateAndProcess initiates and processes; when the signature has expired by the time it is
// processed (11005), it initiates once more (same referenceNumber, so the same transaction) and
// processes the fresh signature.
func (p *Provider) initiateAndProcess(ctx context.Context, req InitiateRequest) (ProcessedOrder, error) {
	for try := 0; ; try++ {
		init, err := p.client.InitiateTransaction(ctx, req)
		if err != nil {
			return ProcessedOrder{}, err
		}
		order, err := p.client.ProcessTransaction(ctx, init.Signature)
		if err == nil {
			return order, nil
		}
		if !isSignatureExpired(err) {
			return ProcessedOrder{}, err
		}
		if try > 0 {
			var pe *providers.Error
			errors.As(err, &pe)
			return ProcessedOrder{}, &providers.Error{
				Provider: providers.KSPay, Op: "process transaction", Kind: providers.ErrInvalid,
				Code: pe.Code, HTTPStatus: pe.HTTPStatus,
				Message: "the transaction signature expired again right after a fresh initiate (is this server's clock or network far off?): " + pe.Message,
			}
		}
	}
}

// FetchOrder asks KS Pay for the transaction: by its id, or, when Kassa has none, by looking
// for Kassa's reference in the transaction list.
func (p *Provider) FetchOrder(ctx context.Context, l providers.Lookup) (providers.Result, error) {
	const op = "fetch order"
	var tx Transaction
	if l.ProviderRef != "" {
		var err error
		tx, err = p.client.Transaction(ctx, l.ProviderRef)
		if err != nil {
			var pe *providers.Error
			if errors.As(err, &pe) && (pe.Code == "-17" || pe.Code == "-3") {
				pe.Kind = providers.ErrNotFound // a malformed id names no transaction
			}
			return providers.Result{}, err
		}
	} else {
		var err error
		tx, err = p.findByReference(ctx, l.Reference)
		if err != nil {
			return providers.Result{}, err
		}
	}
	if l.Reference != "" && tx.ReferenceNumber != "" && tx.ReferenceNumber != l.Reference {
		return providers.Result{}, &providers.Error{Provider: providers.KSPay, Op: op, Kind: providers.ErrInvalid,
			Message: "transaction " + clip(tx.ID) + " belongs to another reference"}
	}
	amount, err := parseAmount(tx.Amount, tx.CurrencyCode)
	if err != nil {
		return providers.Result{}, &providers.Error{Provider: providers.KSPay, Op: op, Kind: providers.ErrUnavailable,
			Message: "unreadable amount " + clip(string(tx.Amount)) + " " + clip(tx.CurrencyCode), Err: err}
	}
	r := providers.Result{
		ProviderRef: tx.ID,
		Status:      mapStatus(tx.Status, tx.IsPaid),
		Amount:      amount,
		Currency:    tx.CurrencyCode,
		PaymentID:   tx.ProviderTxnID,
	}
	if r.Status == providers.StatusDeclined || r.Status == providers.StatusExpired || r.Status == providers.StatusCancelled {
		r.Reason = clip(tx.Status + " " + tx.ProviderStatus)
	}
	return r, nil
}

// findByReference pages through GET /transaction for referenceNumber == ref.
func (p *Provider) findByReference(ctx context.Context, ref string) (Transaction, error) {
	notFound := &providers.Error{Provider: providers.KSPay, Op: "find transaction by reference", Kind: providers.ErrNotFound}
	if ref == "" {
		return Transaction{}, notFound
	}
	for page := 1; page <= listMaxPages; page++ {
		txs, err := p.client.Transactions(ctx, ListOptions{Page: page, Limit: listPageSize})
		if err != nil {
			return Transaction{}, err
		}
		for _, tx := range txs {
			if tx.ReferenceNumber == ref {
				return tx, nil
			}
		}
		if len(txs) < listPageSize {
			break
		}
	}
	return Transaction{}, notFound
}

// ParseReturn reads payment_status and kspay_id from the redirect. They are hints only.
func (p *Provider) ParseReturn(q url.Values) providers.ReturnHint { return parseReturn(q) }
