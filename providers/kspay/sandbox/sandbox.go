// Package sandbox simulates KS Pay's documented server-to-server API and a hosted pay page, for
// Kassa's tests and its sandbox mode. It is an http.Handler speaking KS Pay's own paths
// (/auth/generate-token/{appId}, /auth/refresh-token, /currencies, /{currencyId}/payment-methods,
// /transaction/initiate, /transaction/process, /transaction/txnId/{txnId}, /transaction) with
// their envelopes and error codes, expiring access tokens, refresh tokens and signatures, a
// rate limit, and outcomes chosen by the magic amounts of providers/providertest. See README.md.
package sandbox

import (
	"github.com/kassa-pay/kassa/providers/providertest"

	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Credentials are what a KS Pay application authenticates with, under the docs' field names.
type Credentials struct {
	AppID     string `json:"appId"`
	AccessKey string `json:"accessKey"`
	SecretKey string `json:"secretKey"`
}

// DefaultCredentials are the fixed credentials the sandbox accepts unless configured otherwise.
func DefaultCredentials() Credentials {
	return Credentials{
		AppID:     "ap_KassaSbx1",
		AccessKey: "pk_sandbox_kassa_4f1c2e8d",
		SecretKey: "sk_sandbox_kassa_9b7d3a61e0c54f2a",
	}
}

// Config configures a Server. Zero values take the defaults noted.
type Config struct {
	// Prefix is where Kassa mounts the server (with http.StripPrefix), e.g. "/sandbox/kspay";
	// absolute links the server returns are the request's scheme and host, Prefix, and path.
	Prefix string
	// Now is the clock for tokens, signatures, order expiry and the rate limit; default time.Now.
	Now func() time.Time
	// SlowDelay is how long initiate takes for the magic slow amount; default 15s.
	SlowDelay time.Duration
	// AccessTokenLifetime defaults to 15 minutes, RefreshTokenLifetime to 24 hours.
	AccessTokenLifetime  time.Duration
	RefreshTokenLifetime time.Duration
	// SignatureLifetime is how long an initiate's signature can be processed; default 10 minutes.
	SignatureLifetime time.Duration
	// OrderLifetime is how long a transaction stays payable; default 30 minutes.
	OrderLifetime time.Duration
	// RateLimit is the number of API requests allowed per minute (the pay page is not
	// counted); default 600, negative for no limit.
	RateLimit int
	// Credentials default to DefaultCredentials().
	Credentials Credentials
}

// Server is the simulator. Create it with New.
type Server struct {
	cfg  Config
	mux  *http.ServeMux
	key  []byte
	cats []*currencyDef

	mu       sync.Mutex
	seq      int64 // last token sequence number issued
	minSeq   int64 // access tokens numbered below it are expired
	txns     map[string]*txn
	byRef    map[string]*txn
	ordered  []*txn
	sigs     map[string]sigEntry
	winStart time.Time
	winCount int
}

type sigEntry struct {
	txnID  string
	expiry time.Time
}

// New returns a Server for cfg.
func New(cfg Config) *Server {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SlowDelay <= 0 {
		cfg.SlowDelay = 15 * time.Second
	}
	if cfg.AccessTokenLifetime <= 0 {
		cfg.AccessTokenLifetime = 15 * time.Minute
	}
	if cfg.RefreshTokenLifetime <= 0 {
		cfg.RefreshTokenLifetime = 24 * time.Hour
	}
	if cfg.SignatureLifetime <= 0 {
		cfg.SignatureLifetime = 10 * time.Minute
	}
	if cfg.OrderLifetime <= 0 {
		cfg.OrderLifetime = 30 * time.Minute
	}
	if cfg.RateLimit == 0 {
		cfg.RateLimit = 600
	}
	if cfg.Credentials == (Credentials{}) {
		cfg.Credentials = DefaultCredentials()
	}
	cfg.Prefix = strings.TrimRight(cfg.Prefix, "/")
	if cfg.Prefix != "" && !strings.HasPrefix(cfg.Prefix, "/") {
		cfg.Prefix = "/" + cfg.Prefix
	}
	s := &Server{
		cfg:   cfg,
		mux:   http.NewServeMux(),
		key:   make([]byte, 32),
		cats:  catalog(),
		txns:  map[string]*txn{},
		byRef: map[string]*txn{},
		sigs:  map[string]sigEntry{},
	}
	rand.Read(s.key)
	s.mux.HandleFunc("POST /auth/generate-token/{appId}", s.generateToken)
	s.mux.HandleFunc("POST /auth/refresh-token", s.refreshToken)
	s.mux.HandleFunc("GET /currencies", s.authed(s.currencies))
	s.mux.HandleFunc("GET /{currencyId}/payment-methods", s.authed(s.paymentMethods))
	s.mux.HandleFunc("POST /transaction/initiate", s.authed(s.initiate))
	s.mux.HandleFunc("POST /transaction/process", s.process)
	s.mux.HandleFunc("GET /transaction/txnId/{txnId}", s.authed(s.transaction))
	s.mux.HandleFunc("GET /transaction", s.authed(s.transactions))
	s.mux.HandleFunc("GET "+payPath+"{txnId}", s.payPage)
	s.mux.HandleFunc("POST "+payPath+"{txnId}", s.paySubmit)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fail(w, apiErr{http.StatusNotFound, -10, "Cannot " + r.Method + " " + r.URL.Path})
	})
	return s
}

// payPath is the hosted pay page, /pay/checkout/{txnId}.
const payPath = "/pay/checkout/"

// ServeHTTP implements http.Handler. API calls count against the rate limit; the shopper's pay
// page does not.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, payPath) {
		if ok, wait := s.allow(); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int((wait+time.Second-1)/time.Second)))
			fail(w, errTooMany)
			return
		}
	}
	s.mux.ServeHTTP(w, r)
}

// ExpireOrder lets a pending transaction time out unpaid. ref is its id (tx_...) or its
// referenceNumber.
func (s *Server) ExpireOrder(ref string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.txns[ref]
	if t == nil {
		t = s.byRef[ref]
	}
	if t != nil && t.Status == statusPending {
		t.Status, t.ProviderStatus, t.Updated = statusExpired, "EXPIRED", s.cfg.Now()
	}
}

// ExpireTokens makes every access token issued so far expired (401, code 9009), as if their
// lifetime had passed. Refresh tokens stay valid.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.minSeq = s.seq + 1
}

// allow counts a request against the per-minute window.
func (s *Server) allow() (bool, time.Duration) {
	if s.cfg.RateLimit < 0 {
		return true, 0
	}
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if now.Before(s.winStart) || now.Sub(s.winStart) >= time.Minute {
		s.winStart, s.winCount = now, 0
	}
	s.winCount++
	if s.winCount > s.cfg.RateLimit {
		return false, s.winStart.Add(time.Minute).Sub(now)
	}
	return true, 0
}

// ---- answers and documented errors

type apiErr struct {
	http int
	code int
	msg  string
}

var (
	errTokenMissing   = apiErr{400, 9000, "Token missing or incorrect"}
	errUnauthorized   = apiErr{401, 9007, "Unauthorized! Please provide valid credentials."}
	errRefreshExpired = apiErr{401, 9008, "Refresh token has expired."}
	errInvalidToken   = apiErr{401, 9008, "Invalid token."}
	errTokenExpired   = apiErr{401, 9009, "Token has expired."}
	errNoData         = apiErr{404, 24, "No data found with this ID!"}
	errInvalidRequest = apiErr{400, 25, "Invalid Request"}
	errServer         = apiErr{500, 26, "Oops! Something went wrong"}
	errTooMany        = apiErr{429, 11005, "Too many requests made in a short period"}
	errCredsNotFound  = apiErr{404, 11001, "Credentials not found for the provided access key"}
	errAppNotFound    = apiErr{404, 11002, "Application not found for the provided app ID"}
	errNotInApp       = apiErr{403, 11003, "User does not belong to the specified application"}
	errSecretKey      = apiErr{400, 11004, "Invalid credentials, please check the provided secret key"}
	errSigExpired     = apiErr{400, 11005, "The provided signature has expired"}
	errSigFormat      = apiErr{400, 11006, "The format of the provided signature is invalid"}
	errMethodNotFound = apiErr{404, 12001, "Payment method not found for the provided ID"}
	errCurrencyID     = apiErr{400, 13007, "Invalid currency ID provided, check if currency is valid or disabled by administration"}
	errPage           = apiErr{400, 4089, "Page should be a positive number greater than 0"}
	errLimit          = apiErr{400, 4056, "Limit should be a positive number greater than 0"}
)

func notPresent(field string) apiErr { return apiErr{400, -9, field + " not present in Request"} }

func badNanoid(prefix string, length int) apiErr {
	return apiErr{400, -17, fmt.Sprintf("ID must start with '%s' and be %d characters long with alphanumeric characters following the prefix.", prefix, length)}
}

func tooManyDecimals(n int) apiErr {
	return apiErr{400, -19, fmt.Sprintf("Number should have at most the allowed number of decimal places ie - %d", n)}
}

func custom(msg string) apiErr { return apiErr{400, -17, msg} }

func fail(w http.ResponseWriter, e apiErr) {
	writeJSON(w, e.http, map[string]any{"status": e.http, "message": e.msg, "code": e.code})
}

func ok(w http.ResponseWriter, status int, result any) {
	writeJSON(w, status, map[string]any{"status": status, "message": "success", "result": result})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// decodeBody reads a JSON body into v; a malformed one is 25 Invalid Request.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		fail(w, errInvalidRequest)
		return false
	}
	return true
}

// ---- tokens: HS256 JWTs with the app in sub, "access" or "refresh" in typ, a sequence number
// in n (so ExpireTokens can expire everything issued so far) and exp.

type claims struct {
	Sub string `json:"sub"`
	Typ string `json:"typ"`
	N   int64  `json:"n"`
	Iat int64  `json:"iat"`
	Exp int64  `json:"exp"`
}

var jwtHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))

func (s *Server) sign(c claims) string {
	payload, _ := json.Marshal(c)
	unsigned := jwtHeader + "." + base64.RawURLEncoding.EncodeToString(payload)
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(unsigned))
	return unsigned + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// verify checks a token's signature and reads its claims; expiry is the caller's to judge.
func (s *Server) verify(tok string) (claims, bool) {
	var c claims
	i := strings.LastIndexByte(tok, '.')
	if i < 0 || strings.Count(tok, ".") != 2 {
		return c, false
	}
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	if err != nil {
		return c, false
	}
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(tok[:i]))
	if !hmac.Equal(sig, m.Sum(nil)) {
		return c, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	if err != nil || json.Unmarshal(payload, &c) != nil {
		return c, false
	}
	return c, true
}

func (s *Server) issue(app string) map[string]string {
	now := s.cfg.Now()
	s.mu.Lock()
	s.seq++
	n := s.seq
	s.mu.Unlock()
	access := claims{Sub: app, Typ: "access", N: n, Iat: now.Unix(), Exp: now.Add(s.cfg.AccessTokenLifetime).Unix()}
	refresh := claims{Sub: app, Typ: "refresh", N: n, Iat: now.Unix(), Exp: now.Add(s.cfg.RefreshTokenLifetime).Unix()}
	return map[string]string{"accessToken": s.sign(access), "refreshToken": s.sign(refresh)}
}

// checkKeys validates the accessKey/secretKey body of generate-token and refresh-token.
func (s *Server) checkKeys(w http.ResponseWriter, r *http.Request) bool {
	var body struct {
		AccessKey string `json:"accessKey"` // encoding/json also matches the docs' "accesskey"
		SecretKey string `json:"secretKey"`
	}
	if !decodeBody(w, r, &body) {
		return false
	}
	switch {
	case body.AccessKey == "":
		fail(w, notPresent("accessKey"))
	case body.SecretKey == "":
		fail(w, notPresent("secretKey"))
	case subtle.ConstantTimeCompare([]byte(body.AccessKey), []byte(s.cfg.Credentials.AccessKey)) != 1:
		fail(w, errCredsNotFound)
	case subtle.ConstantTimeCompare([]byte(body.SecretKey), []byte(s.cfg.Credentials.SecretKey)) != 1:
		fail(w, errSecretKey)
	default:
		return true
	}
	return false
}

// generateToken is POST /auth/generate-token/{appId}.
func (s *Server) generateToken(w http.ResponseWriter, r *http.Request) {
	app := r.PathValue("appId")
	if !nanoid(app, "ap_", 12) {
		fail(w, badNanoid("ap_", 12))
		return
	}
	if app != s.cfg.Credentials.AppID {
		fail(w, errAppNotFound)
		return
	}
	if !s.checkKeys(w, r) {
		return
	}
	ok(w, http.StatusCreated, s.issue(app))
}

// refreshToken is POST /auth/refresh-token, with the refresh token as the whole Authorization
// header (no "Bearer").
func (s *Server) refreshToken(w http.ResponseWriter, r *http.Request) {
	tok := strings.TrimSpace(r.Header.Get("Authorization"))
	if tok == "" {
		fail(w, errTokenMissing)
		return
	}
	c, valid := s.verify(tok)
	if !valid || c.Typ != "refresh" || c.Sub != s.cfg.Credentials.AppID {
		fail(w, errInvalidToken)
		return
	}
	if s.cfg.Now().Unix() >= c.Exp {
		fail(w, errRefreshExpired)
		return
	}
	if !s.checkKeys(w, r) {
		return
	}
	ok(w, http.StatusCreated, s.issue(c.Sub))
}

// authed guards the bearer-token endpoints and passes on the token's app id.
func (s *Server) authed(h func(w http.ResponseWriter, r *http.Request, app string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		tok = strings.TrimSpace(tok)
		if !found || tok == "" {
			fail(w, errTokenMissing)
			return
		}
		c, valid := s.verify(tok)
		if !valid || c.Typ != "access" {
			fail(w, errUnauthorized)
			return
		}
		s.mu.Lock()
		revoked := c.N < s.minSeq
		s.mu.Unlock()
		if revoked || s.cfg.Now().Unix() >= c.Exp {
			fail(w, errTokenExpired)
			return
		}
		h(w, r, c.Sub)
	}
}

// ---- catalog

type currencyDef struct {
	ID, Name, Code, Symbol string
	Decimals               int
	Active                 bool
	Gateway                string
	Methods                []methodDef
}

type methodDef struct {
	ID, Name, PaymentType string
}

const (
	userID    = "us_M6jVa85Zb"
	createdAt = "2024-08-03T11:57:59.647Z"
)

// catalog is the sandbox's currencies: INR and USD with different methods, JPY (0 decimals),
// KWD (3 decimals), and a disabled EUR.
func catalog() []*currencyDef {
	return []*currencyDef{
		{ID: "c_WkmEe23LeI", Name: "Rupees", Code: "INR", Symbol: "Rs", Decimals: 2, Active: true, Gateway: "RAZORPAY", Methods: []methodDef{
			{ID: "pm_Mk55VGvFm", Name: "NET BANKING", PaymentType: "NETBANKING"},
			{ID: "pm_QtgkfiiWb", Name: "DEBIT CARD", PaymentType: "CARD"},
			{ID: "pm_Upi7Kq2Xa", Name: "UPI", PaymentType: "UPI"},
		}},
		{ID: "c_2xqOlqufc3", Name: "US Dollar", Code: "USD", Symbol: "$", Decimals: 2, Active: true, Gateway: "PAYPAL", Methods: []methodDef{
			{ID: "pm_67NoP7JaQ", Name: "Credit Card", PaymentType: "CARD"},
			{ID: "pm_PpL9vW3sE", Name: "PAYPAL", PaymentType: "PAYPAL"},
		}},
		{ID: "c_JpY4nE8sQ2", Name: "Yen", Code: "JPY", Symbol: "¥", Decimals: 0, Active: true, Gateway: "PAYPAL", Methods: []methodDef{
			{ID: "pm_JcB5cArD1", Name: "Credit Card", PaymentType: "CARD"},
		}},
		{ID: "c_KwD7dN1rA5", Name: "Kuwaiti Dinar", Code: "KWD", Symbol: "KD", Decimals: 3, Active: true, Gateway: "PAYU", Methods: []methodDef{
			{ID: "pm_KnE7t0Db2", Name: "DEBIT CARD", PaymentType: "CARD"},
		}},
		{ID: "c_EuR0dIsAb1", Name: "Euro", Code: "EUR", Symbol: "€", Decimals: 2, Active: false, Gateway: "PAYPAL", Methods: []methodDef{
			{ID: "pm_EuC4rD9xQ", Name: "Credit Card", PaymentType: "CARD"},
		}},
	}
}

func (s *Server) currencyByID(id string) *currencyDef {
	for _, c := range s.cats {
		if c.ID == id && c.Active {
			return c
		}
	}
	return nil
}

// currencies is GET /currencies.
func (s *Server) currencies(w http.ResponseWriter, r *http.Request, _ string) {
	out := make([]map[string]any, 0, len(s.cats))
	for _, c := range s.cats {
		out = append(out, map[string]any{
			"id": c.ID, "name": c.Name, "code": c.Code, "symbol": c.Symbol, "type": "FIAT",
			"userId": userID, "isActive": c.Active, "isDisabled": !c.Active,
			"createdAt": createdAt, "updatedAt": createdAt,
		})
	}
	ok(w, http.StatusOK, out)
}

// paymentMethods is GET /{currencyId}/payment-methods.
func (s *Server) paymentMethods(w http.ResponseWriter, r *http.Request, _ string) {
	id := r.PathValue("currencyId")
	if !nanoid(id, "c_", 12) {
		fail(w, badNanoid("c_", 12))
		return
	}
	c := s.currencyByID(id)
	if c == nil {
		fail(w, errCurrencyID)
		return
	}
	out := make([]map[string]any, 0, len(c.Methods))
	for _, m := range c.Methods {
		out = append(out, map[string]any{"id": m.ID, "name": m.Name, "isActive": true, "isDisabled": false})
	}
	ok(w, http.StatusOK, out)
}

// ---- transactions

const (
	statusPending   = "PENDING"
	statusSuccess   = "SUCCESS"
	statusFailed    = "FAILED"
	statusCancelled = "CANCELLED"
	statusExpired   = "EXPIRED"
)

// Magic amounts in major units (providers/providertest/magic.go; the sandbox stays standard
// library only, so they are repeated here).
const (
	magicDecline           = 402
	magicCreateServerError = 500
	magicCreateRateLimited = 429
	magicCreateSlow        = 504
	magicFetchServerError  = 503
)

type txn struct {
	ID, ProviderOrderID, ReferenceNumber, RedirectURL, Origin string
	AppID, GatewayConfigID                                    string
	Signature, Status, ProviderStatus, ProviderTxnID          string
	Amount                                                    int64 // minor units
	IsPaid                                                    bool
	Currency                                                  *currencyDef
	Method                                                    methodDef
	Created, Updated                                          time.Time
}

// magic reports whether the transaction's amount is the magic amount m in major units.
func (t *txn) magic(m int64) bool { return t.Amount == m*pow10(t.Currency.Decimals) }

// settle expires a pending transaction past its lifetime. Callers hold s.mu.
func (s *Server) settle(t *txn) {
	now := s.cfg.Now()
	if t.Status == statusPending && !now.Before(t.Created.Add(s.cfg.OrderLifetime)) {
		t.Status, t.ProviderStatus, t.Updated = statusExpired, "EXPIRED", now
	}
}

// wire renders the documented transaction object. Callers hold s.mu.
func (t *txn) wire() map[string]any {
	return map[string]any{
		"id": t.ID, "providerOrderId": t.ProviderOrderID, "currencyId": t.Currency.ID, "appId": t.AppID,
		"referenceNumber": t.ReferenceNumber, "paymentMethodId": t.Method.ID,
		"amount":       jsNumber(t.Amount, t.Currency.Decimals),
		"currencyCode": t.Currency.Code, "origin": t.Origin, "gatewayConfigId": t.GatewayConfigID,
		"paymentType": t.Method.PaymentType, "subPaymentType": nil, "providerName": t.Currency.Gateway,
		"providerPaymentType": t.Method.PaymentType, "providerSubpaymentType": nil,
		"providerTxnId": nullable(t.ProviderTxnID), "signature": t.Signature,
		"status": t.Status, "providerStatus": t.ProviderStatus, "userId": userID, "isPaid": t.IsPaid,
		"createdAt": stamp(t.Created), "updatedAt": stamp(t.Updated),
	}
}

// initiate is POST /transaction/initiate (the NPM sequence: bearer token, appId and redirectUrl
// in the body), answering a per-transaction signature.
func (s *Server) initiate(w http.ResponseWriter, r *http.Request, app string) {
	var body struct {
		CurrencyID      string          `json:"currencyId"`
		PaymentMethodID string          `json:"paymentMethodId"`
		Amount          json.RawMessage `json:"amount"`
		ReferenceNumber string          `json:"referenceNumber"`
		AppID           string          `json:"appId"`
		RedirectURL     string          `json:"redirectUrl"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	for _, f := range []struct{ name, v string }{
		{"currencyId", body.CurrencyID}, {"paymentMethodId", body.PaymentMethodID},
		{"amount", string(body.Amount)}, {"referenceNumber", body.ReferenceNumber},
		{"appId", body.AppID}, {"redirectUrl", body.RedirectURL},
	} {
		if strings.TrimSpace(f.v) == "" || f.v == "null" {
			fail(w, notPresent(f.name))
			return
		}
	}
	if body.AppID != app {
		fail(w, errNotInApp)
		return
	}
	cur := s.currencyByID(body.CurrencyID)
	if cur == nil {
		fail(w, errCurrencyID)
		return
	}
	var method *methodDef
	for i := range cur.Methods {
		if cur.Methods[i].ID == body.PaymentMethodID {
			method = &cur.Methods[i]
		}
	}
	if method == nil {
		fail(w, errMethodNotFound)
		return
	}
	amount, decimals, valid := parseMajor(string(body.Amount), cur.Decimals)
	switch {
	case valid && decimals > cur.Decimals:
		fail(w, tooManyDecimals(cur.Decimals))
		return
	case !valid || amount <= 0:
		fail(w, custom("amount must be a positive number"))
		return
	}
	if len(body.ReferenceNumber) > 64 {
		fail(w, custom("referenceNumber must be at most 64 characters"))
		return
	}
	if u, err := url.Parse(body.RedirectURL); err != nil || !u.IsAbs() || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fail(w, custom("redirectUrl must be a valid URL"))
		return
	}
	unit := pow10(cur.Decimals)
	switch amount {
	case magicCreateServerError * unit:
		fail(w, errServer)
		return
	case magicCreateRateLimited * unit:
		w.Header().Set("Retry-After", "30")
		fail(w, errTooMany)
		return
	}

	now := s.cfg.Now()
	s.mu.Lock()
	t := s.byRef[body.ReferenceNumber]
	if t != nil {
		s.settle(t)
		switch {
		case t.Currency != cur || t.Method.ID != method.ID || t.Amount != amount || t.RedirectURL != body.RedirectURL:
			s.mu.Unlock()
			fail(w, custom("referenceNumber is already used by another transaction"))
			return
		case t.Status != statusPending:
			st := t.Status
			s.mu.Unlock()
			fail(w, custom("Transaction with this referenceNumber is already "+strings.ToLower(st)))
			return
		}
	} else {
		t = &txn{
			ID: randID("tx_", 9), ProviderOrderID: randID("order_", 14), ReferenceNumber: body.ReferenceNumber,
			RedirectURL: body.RedirectURL, Origin: r.Header.Get("Origin"), AppID: app,
			GatewayConfigID: "gc_" + cur.Code + "sbx01", Status: statusPending, ProviderStatus: "CREATED",
			Amount: amount, Currency: cur, Method: *method, Created: now, Updated: now,
		}
		s.txns[t.ID] = t
		s.byRef[t.ReferenceNumber] = t
		s.ordered = append(s.ordered, t)
	}
	sig := randHex(32)
	t.Signature = sig
	s.sigs[sig] = sigEntry{txnID: t.ID, expiry: now.Add(s.cfg.SignatureLifetime)}
	slow := t.magic(magicCreateSlow)
	reset, failAfter := t.magic(providertest.MagicCreateResetAfterActing), t.magic(providertest.MagicCreateServerErrorAfterActing)
	s.mu.Unlock()

	// The fault amounts act first and then fail: the transaction exists (and is found by its
	// referenceNumber), the caller cannot know.
	switch {
	case slow:
		if !sleep(r.Context(), s.cfg.SlowDelay) {
			return
		}
	case reset:
		providertest.ResetConnection(w)
		return
	case failAfter:
		fail(w, errServer)
		return
	}
	ok(w, http.StatusCreated, map[string]string{"signature": sig})
}

// process is POST /transaction/process: the signature in x-signature names the transaction; the
// answer is the order with the hosted pay page's URL in payUrl.
func (s *Server) process(w http.ResponseWriter, r *http.Request) {
	sig := strings.TrimSpace(r.Header.Get("X-Signature"))
	if sig == "" {
		fail(w, notPresent("x-signature"))
		return
	}
	if b, err := hex.DecodeString(sig); err != nil || len(b) != 32 {
		fail(w, errSigFormat)
		return
	}
	s.mu.Lock()
	e, found := s.sigs[sig]
	var t *txn
	if found {
		t = s.txns[e.txnID]
	}
	if !found || t == nil {
		s.mu.Unlock()
		fail(w, errSigFormat)
		return
	}
	if !s.cfg.Now().Before(e.expiry) {
		s.mu.Unlock()
		fail(w, errSigExpired)
		return
	}
	s.settle(t)
	order := map[string]any{
		"pe_txnId": t.ID, "providerOrderId": t.ProviderOrderID,
		"amount":   json.Number(jsNumber(t.Amount, t.Currency.Decimals)),
		"currency": t.Currency.Code, "gateway": t.Currency.Gateway, "method": t.Method.Name,
		"mode": "sandbox", "payUrl": s.absURL(r, payPath+t.ID),
	}
	s.mu.Unlock()
	ok(w, http.StatusCreated, order)
}

// transaction is GET /transaction/txnId/{txnId}.
func (s *Server) transaction(w http.ResponseWriter, r *http.Request, app string) {
	id := r.PathValue("txnId")
	if !nanoid(id, "tx_", 12) {
		fail(w, badNanoid("tx_", 12))
		return
	}
	s.mu.Lock()
	t := s.txns[id]
	if t == nil || t.AppID != app {
		s.mu.Unlock()
		fail(w, errNoData)
		return
	}
	if t.magic(magicFetchServerError) {
		s.mu.Unlock()
		fail(w, errServer)
		return
	}
	s.settle(t)
	out := t.wire()
	s.mu.Unlock()
	ok(w, http.StatusOK, out)
}

// transactions is GET /transaction?page=&limit=, newest first (pagination is a guess).
func (s *Server) transactions(w http.ResponseWriter, r *http.Request, app string) {
	page, limit := 1, 10
	q := r.URL.Query()
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			fail(w, errPage)
			return
		}
		page = n
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			fail(w, errLimit)
			return
		}
		limit = min(n, 100)
	}
	s.mu.Lock()
	var mine []*txn
	for i := len(s.ordered) - 1; i >= 0; i-- {
		if s.ordered[i].AppID == app {
			mine = append(mine, s.ordered[i])
		}
	}
	out := []map[string]any{}
	for i := (page - 1) * limit; i < len(mine) && i < page*limit; i++ {
		s.settle(mine[i])
		out = append(out, mine[i].wire())
	}
	s.mu.Unlock()
	ok(w, http.StatusOK, out)
}

// absURL builds an absolute link from the request's scheme and host and the mount prefix.
func (s *Server) absURL(r *http.Request, path string) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := strings.ToLower(r.Header.Get("X-Forwarded-Proto")); p == "http" || p == "https" {
		scheme = p
	}
	return scheme + "://" + r.Host + s.cfg.Prefix + path
}

// ---- small helpers

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func randID(prefix string, n int) string {
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = alnum[int(b[i])%len(alnum)]
	}
	return prefix + string(b)
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// nanoid reports whether id is prefix followed by alphanumerics, length long in all.
func nanoid(id, prefix string, length int) bool {
	if len(id) != length || !strings.HasPrefix(id, prefix) {
		return false
	}
	for i := len(prefix); i < len(id); i++ {
		if !strings.ContainsRune(alnum, rune(id[i])) {
			return false
		}
	}
	return true
}

func pow10(n int) int64 {
	p := int64(1)
	for range n {
		p *= 10
	}
	return p
}

// parseMajor reads a JSON number in major units into minor units of a currency with maxDec
// decimals. It returns the number of significant decimals the number had (trailing zeros are
// not significant: 12.340 is the JavaScript number 12.34); valid is false for anything but a
// plain decimal.
func parseMajor(s string, maxDec int) (minor int64, decimals int, valid bool) {
	if strings.HasPrefix(s, "-") {
		return 0, 0, false // refused by the caller anyway, as non-positive
	}
	whole, frac, dot := strings.Cut(s, ".")
	if whole == "" || len(whole) > 15 || (dot && frac == "") || !digits(whole) || !digits(frac) {
		return 0, 0, false
	}
	frac = strings.TrimRight(frac, "0")
	if len(frac) > maxDec {
		return 0, len(frac), true
	}
	frac += strings.Repeat("0", maxDec-len(frac))
	n, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil {
		return 0, 0, false
	}
	return n, len(strings.TrimRight(frac, "0")), true
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// fixed renders minor units with exactly decimals fraction digits ("12.30").
func fixed(minor int64, decimals int) string {
	s := strconv.FormatInt(minor, 10)
	if decimals == 0 {
		return s
	}
	if len(s) <= decimals {
		s = strings.Repeat("0", decimals-len(s)+1) + s
	}
	return s[:len(s)-decimals] + "." + s[len(s)-decimals:]
}

// jsNumber renders minor units as JavaScript prints the number: no trailing zeros ("12.3",
// "11"), as in the documented transaction object's "amount": "11".
func jsNumber(minor int64, decimals int) string {
	s := fixed(minor, decimals)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// sleep waits d unless ctx ends first; it reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
