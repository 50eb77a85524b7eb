// Package sandbox simulates OneKhusa's collections API and its hosted checkout page, for tests
// and for Kassa's sandbox mode. It speaks the documented paths and bodies under /v1
// (/account/getAccessToken, /checkout/push/initiate, /collections/push/direct/initiate,
// /collections/getTransaction, /merchants/webhooks/verify), enforces short-lived bearer tokens,
// the X-Organisation-Id and X-Merchant-Account-Number headers, mandatory idempotency keys and
// the per-merchant rate limit, and answers errors as RFC 7807 problems. Outside /v1 it serves
// the hosted pay page (/pay/{paymentTransactionId}) and a simulated phone (/phone) on which
// mobile-money pushes are approved, declined or rejected. See README.md for what is guessed.
package sandbox

import (
	"github.com/kassa-pay/kassa/providers/providertest"

	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Credentials are what the sandbox accepts at POST /account/getAccessToken, with the docs'
// field names, plus the portal user create calls name in capturedBy.
type Credentials struct {
	APIKey                string `json:"apiKey"`
	APISecret             string `json:"apiSecret"`
	OrganisationID        string `json:"organisationId"`
	MerchantAccountNumber int64  `json:"merchantAccountNumber"`
	CapturedBy            string `json:"capturedBy"`
}

// DefaultCredentials are the fixed sandbox credentials. The organisation id and merchant
// account number are the docs' own examples, so copied requests work after a token swap.
func DefaultCredentials() Credentials {
	return Credentials{
		APIKey:                "okpk_sandbox_7Q2mV9xK4tR8wZ3n",
		APISecret:             "okps_sandbox_Hq8Zt3Lw6Nc1Vb5Xr9Mj2Pd4Gf7Ks0Ya", // 45 characters, as documented
		OrganisationID:        "FYH0NTVW0DXK",
		MerchantAccountNumber: 12345678,
		CapturedBy:            "sandbox.user@onekhusa.com",
	}
}

// Config configures a sandbox server.
type Config struct {
	// Prefix is the path the server is mounted at (with http.StripPrefix), e.g.
	// "/sandbox/onekhusa"; absolute links are built from the request's host plus Prefix.
	Prefix string
	// Now is the sandbox's clock; default time.Now.
	Now func() time.Time
	// SlowDelay is how long the magic slow amount makes a create wait; default 15s.
	SlowDelay time.Duration
	// TokenLifetime is how long an access token lives; default 5 minutes, as documented.
	TokenLifetime time.Duration
	// CheckoutLifetime is how long a hosted checkout can be paid; default 10 minutes, as documented.
	CheckoutLifetime time.Duration
	// PushLifetime is how long a push prompt waits for the payer; default 2 minutes (a guess).
	PushLifetime time.Duration
	// Credentials accepted; zero means DefaultCredentials().
	Credentials Credentials
	// RequestsPerSecond is the per-merchant rate limit; 0 means the documented 50, negative
	// means unlimited.
	RequestsPerSecond int
	// WebhookURL receives the merchant's webhooks (configured in OneKhusa's portal in real
	// life); empty sends none.
	WebhookURL string
	// WebhookClient sends webhooks; default a client with a 10s timeout.
	WebhookClient *http.Client
	// FlatTransactions makes getTransaction and webhooks answer the documented flat shape
	// instead of the nested shape of the 31 March 2026 changelog.
	FlatTransactions bool
	// MerchantName is shown on the pages; default "Sandbox Merchant".
	MerchantName string
}

// Server is the simulator; it is an http.Handler.
type Server struct {
	cfg      Config
	mux      *http.ServeMux
	tokenKey []byte

	mu     sync.Mutex
	tokens map[string]token
	txns   map[string]*txn // by transactionReferenceNumber
	byPTID map[string]*txn
	bySRN  map[string]*txn // by sourceReferenceNumber, the latest
	order  []*txn          // creation order, for the phone page
	idem   map[string]*idemEntry
	rates  map[string]*window
	sigs   map[string]signature

	wg        sync.WaitGroup
	done      chan struct{}
	closeOnce sync.Once
}

type token struct {
	org      string
	merchant int64
	expires  time.Time
}

type window struct {
	second int64
	n      int
}

type idemEntry struct {
	hash    [32]byte
	done    bool
	status  int
	header  http.Header
	body    []byte
	created time.Time
}

type signature struct {
	merchant int64
	event    string
}

// New returns a sandbox server for cfg.
func New(cfg Config) *Server {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SlowDelay <= 0 {
		cfg.SlowDelay = 15 * time.Second
	}
	if cfg.TokenLifetime <= 0 {
		cfg.TokenLifetime = 5 * time.Minute
	}
	if cfg.CheckoutLifetime <= 0 {
		cfg.CheckoutLifetime = 10 * time.Minute
	}
	if cfg.PushLifetime <= 0 {
		cfg.PushLifetime = 2 * time.Minute
	}
	if cfg.Credentials == (Credentials{}) {
		cfg.Credentials = DefaultCredentials()
	}
	if cfg.RequestsPerSecond == 0 {
		cfg.RequestsPerSecond = 50
	}
	if cfg.WebhookClient == nil {
		cfg.WebhookClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.MerchantName == "" {
		cfg.MerchantName = "Sandbox Merchant"
	}
	cfg.Prefix = strings.TrimRight(cfg.Prefix, "/")
	s := &Server{
		cfg:      cfg,
		mux:      http.NewServeMux(),
		tokenKey: randomBytes(32),
		tokens:   map[string]token{},
		txns:     map[string]*txn{},
		byPTID:   map[string]*txn{},
		bySRN:    map[string]*txn{},
		idem:     map[string]*idemEntry{},
		rates:    map[string]*window{},
		sigs:     map[string]signature{},
		done:     make(chan struct{}),
	}
	s.routes()
	return s
}

// apiPaths are the documented endpoints the sandbox serves, all POST.
var apiPaths = map[string]bool{
	"/v1/account/getAccessToken":           true,
	"/v1/checkout/push/initiate":           true,
	"/v1/collections/push/direct/initiate": true,
	"/v1/collections/getTransaction":       true,
	"/v1/merchants/webhooks/verify":        true,
}

func (s *Server) routes() {
	s.mux.HandleFunc("POST /v1/account/getAccessToken", s.getAccessToken)
	s.mux.Handle("POST /v1/checkout/push/initiate", s.api(true, false, s.initiateCheckout))
	s.mux.Handle("POST /v1/collections/push/direct/initiate", s.api(true, false, s.initiatePush))
	s.mux.Handle("POST /v1/collections/getTransaction", s.api(false, true, s.getTransaction))
	s.mux.Handle("POST /v1/collections/getTransactions", s.api(false, true, s.getTransactions))
	s.mux.Handle("POST /v1/merchants/webhooks/verify", s.api(false, false, s.verifyWebhook))
	s.mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		if apiPaths[r.URL.Path] {
			w.Header().Set("Allow", http.MethodPost)
			s.problem(w, r, http.StatusMethodNotAllowed, "E405", "Use POST.")
			return
		}
		s.problem(w, r, http.StatusNotFound, "E404", "No such endpoint.")
	})
	s.mux.HandleFunc("GET /pay/{ptid}", s.payPage)
	s.mux.HandleFunc("POST /pay/{ptid}", s.payPost)
	s.mux.HandleFunc("GET /phone", s.phonePage)
	s.mux.HandleFunc("POST /phone", s.phonePost)
	s.mux.HandleFunc("GET /{$}", s.indexPage)
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Close stops webhook retries and waits for deliveries in flight.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.done) })
	s.wg.Wait()
}

// base is the absolute URL the sandbox is reachable at for this request.
func (s *Server) base(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p != "" {
		scheme = strings.ToLower(strings.TrimSpace(strings.Split(p, ",")[0]))
	}
	return scheme + "://" + r.Host + s.cfg.Prefix
}

// problem writes OneKhusa's RFC 7807 error body.
func (s *Server) problem(w http.ResponseWriter, r *http.Request, status int, code, detail string, errs ...string) {
	if errs == nil {
		errs = []string{}
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{
		"type":      "https://httpstatuses.com/" + strconv.Itoa(status),
		"title":     http.StatusText(status),
		"status":    status,
		"errorCode": code,
		"detail":    detail,
		"instance":  s.base(r) + r.URL.Path,
		"errors":    errs,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func readBody(r *http.Request) ([]byte, error) {
	return io.ReadAll(io.LimitReader(r.Body, 1<<20))
}

// decode reads a JSON object body, keeping numbers exact.
func decode(body []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("trailing data")
	}
	return nil
}

// --- auth -------------------------------------------------------------------------------

type accessTokenRequest struct {
	APIKey                string      `json:"apiKey"`
	APISecret             string      `json:"apiSecret"`
	OrganisationID        string      `json:"organisationId"`
	MerchantAccountNumber json.Number `json:"merchantAccountNumber"`
}

// merchantNumber checks the documented 8-digit merchant account number.
func merchantNumber(n json.Number) (int64, bool) {
	v, err := strconv.ParseInt(string(n), 10, 64)
	return v, err == nil && v >= 10000000 && v <= 99999999
}

func (s *Server) getAccessToken(w http.ResponseWriter, r *http.Request) {
	body, _ := readBody(r)
	var in accessTokenRequest
	if err := decode(body, &in); err != nil {
		s.problem(w, r, http.StatusBadRequest, "E900", "Validation failed", "Request body is not valid JSON.")
		return
	}
	var errs []string
	if in.APIKey == "" {
		errs = append(errs, "API Key is required.")
	}
	if in.APISecret == "" {
		errs = append(errs, "API Secret is required.")
	}
	if in.OrganisationID == "" {
		errs = append(errs, "Organisation Id is required.")
	}
	merchant, ok := merchantNumber(in.MerchantAccountNumber)
	if !ok {
		errs = append(errs, "Merchant Account Number should be 8 numbers only.")
	}
	if errs != nil {
		s.problem(w, r, http.StatusBadRequest, "E900", "Validation failed", errs...)
		return
	}
	c := s.cfg.Credentials
	good := hmac.Equal([]byte(in.APIKey), []byte(c.APIKey)) &&
		hmac.Equal([]byte(in.APISecret), []byte(c.APISecret)) &&
		in.OrganisationID == c.OrganisationID && merchant == c.MerchantAccountNumber
	if h := r.Header.Get("X-Organisation-Id"); h != "" && h != in.OrganisationID {
		good = false
	}
	if h := r.Header.Get("X-Merchant-Account-Number"); h != "" && h != strconv.FormatInt(merchant, 10) {
		good = false
	}
	if !good {
		s.problem(w, r, http.StatusUnauthorized, "E401", "Invalid API credentials.")
		return
	}
	now := s.cfg.Now()
	exp := now.Add(s.cfg.TokenLifetime)
	tok := s.jwt(in.OrganisationID, merchant, now, exp)
	s.mu.Lock()
	for k, t := range s.tokens {
		if !now.Before(t.expires) {
			delete(s.tokens, k)
		}
	}
	s.tokens[tok] = token{org: in.OrganisationID, merchant: merchant, expires: exp}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"accessToken":     tok,
		"expiresOn":       exp.UTC().Format("2006-01-02T15:04:05.000Z"),
		"expiryInMinutes": int(s.cfg.TokenLifetime / time.Minute),
	})
}

// jwt mints a JWT-shaped access token, as the docs show; the sandbox checks it by lookup.
func (s *Server) jwt(org string, merchant int64, now, exp time.Time) string {
	enc := base64.RawURLEncoding
	head := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	claims, _ := json.Marshal(map[string]any{
		"iss": "https://api.onekhusa.com/sandbox", "sub": org, "merchantAccountNumber": merchant,
		"iat": now.Unix(), "exp": exp.Unix(), "jti": hex.EncodeToString(randomBytes(12)),
	})
	unsigned := head + "." + enc.EncodeToString(claims)
	m := hmac.New(sha256.New, s.tokenKey)
	m.Write([]byte(unsigned))
	return unsigned + "." + enc.EncodeToString(m.Sum(nil))
}

// ExpireTokens makes every access token issued so far invalid, as if its lifetime had passed.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	clear(s.tokens)
	s.mu.Unlock()
}

// caller is the authenticated merchant of an API request.
type caller struct {
	org      string
	merchant int64
}

type apiHandler func(w http.ResponseWriter, r *http.Request, c caller, body []byte)

// api wraps an endpoint with bearer authentication, the merchant headers (required where the
// docs list them as required, checked against the token wherever sent), the per-merchant rate
// limit and, for money-moving endpoints, the mandatory idempotency key.
func (s *Server) api(money, requireHeaders bool, h apiHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := readBody(r)
		raw, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		now := s.cfg.Now()
		s.mu.Lock()
		t, known := s.tokens[strings.TrimSpace(raw)]
		s.mu.Unlock()
		if !ok || !known || !now.Before(t.expires) {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			s.problem(w, r, http.StatusUnauthorized, "E401", "The access token is missing, invalid or expired.")
			return
		}
		c := caller{org: t.org, merchant: t.merchant}
		org, mid := r.Header.Get("X-Organisation-Id"), r.Header.Get("X-Merchant-Account-Number")
		if requireHeaders && (org == "" || mid == "") {
			s.problem(w, r, http.StatusBadRequest, "E900", "Validation failed",
				"X-Organisation-Id and X-Merchant-Account-Number headers are required.")
			return
		}
		if (org != "" && org != c.org) || (mid != "" && mid != strconv.FormatInt(c.merchant, 10)) {
			s.problem(w, r, http.StatusForbidden, "E403", "The access token does not belong to this organisation or merchant account.")
			return
		}
		if !s.allow(w, strconv.FormatInt(c.merchant, 10)) {
			s.problem(w, r, http.StatusTooManyRequests, "E429", "Too many requests: the limit is "+strconv.Itoa(s.cfg.RequestsPerSecond)+" per second per merchant account.")
			return
		}
		if !money {
			h(w, r, c, body)
			return
		}
		s.idempotent(w, r, c, body, h)
	})
}

// allow counts the request in its merchant's one-second window and sets the documented
// X-RateLimit-* headers.
func (s *Server) allow(w http.ResponseWriter, merchant string) bool {
	if s.cfg.RequestsPerSecond < 0 {
		return true
	}
	now := s.cfg.Now().Unix()
	s.mu.Lock()
	win := s.rates[merchant]
	if win == nil || win.second != now {
		win = &window{second: now}
		s.rates[merchant] = win
	}
	win.n++
	n := win.n
	s.mu.Unlock()
	limit := s.cfg.RequestsPerSecond
	w.Header().Set("X-RateLimit-Limit", strconv.Itoa(limit))
	w.Header().Set("X-RateLimit-Remaining", strconv.Itoa(max(0, limit-n)))
	w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(now+1, 10))
	return n <= limit
}

// validKey applies the documented idempotency key rules: 15–80 letters, digits and dashes.
func validKey(k string) bool {
	if len(k) < 15 || len(k) > 80 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

const idempotencyRetention = 24 * time.Hour

// idempotent enforces X-Idempotency-Key: a missing or malformed key is refused; a key seen
// with the same request replays the stored answer; with another request, or while the first
// is still running, it is a conflict. Only successful answers are kept, so a failed request
// can be retried with its key.
func (s *Server) idempotent(w http.ResponseWriter, r *http.Request, c caller, body []byte, h apiHandler) {
	key := r.Header.Get("X-Idempotency-Key")
	if !validKey(key) {
		s.problem(w, r, http.StatusBadRequest, "E900", "Validation failed",
			"X-Idempotency-Key header is required: 15 to 80 characters of letters, digits and dashes.")
		return
	}
	id := strconv.FormatInt(c.merchant, 10) + "/" + key
	hash := sha256.Sum256(append([]byte(r.URL.Path+"\n"), body...))
	now := s.cfg.Now()
	s.mu.Lock()
	e := s.idem[id]
	if e != nil && now.Sub(e.created) >= idempotencyRetention {
		delete(s.idem, id)
		e = nil
	}
	switch {
	case e == nil:
		s.idem[id] = &idemEntry{hash: hash, created: now}
		s.mu.Unlock()
	case e.hash != hash:
		s.mu.Unlock()
		s.problem(w, r, http.StatusConflict, "E409", "The idempotency key was already used with a different request.")
		return
	case !e.done:
		s.mu.Unlock()
		s.problem(w, r, http.StatusConflict, "E409", "A request with this idempotency key is still being processed.")
		return
	default:
		status, header, stored := e.status, e.header, e.body
		s.mu.Unlock()
		for k, v := range header {
			w.Header()[k] = v
		}
		w.Header().Set("X-Idempotent-Replayed", "true")
		w.WriteHeader(status)
		w.Write(stored)
		return
	}
	rec := &recorder{header: http.Header{}}
	h(rec, r, c, body)
	s.mu.Lock()
	if rec.status >= 200 && rec.status < 300 {
		e := s.idem[id]
		e.done, e.status, e.header, e.body = true, rec.status, rec.header.Clone(), rec.buf.Bytes()
	} else {
		delete(s.idem, id)
	}
	s.mu.Unlock()
	if rec.reset {
		providertest.ResetConnection(w)
		return
	}
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	w.WriteHeader(rec.status)
	w.Write(rec.buf.Bytes())
}

// recorder buffers a response so it can be stored for idempotent replay.
type recorder struct {
	header http.Header
	status int
	buf    bytes.Buffer
	// reset asks for the connection to be dropped without an answer (a fault amount).
	reset bool
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.buf.Write(b)
}

// --- amounts and references ---------------------------------------------------------------

// parseAmount reads a positive MWK amount with at most two decimals into tambala (minor units).
func parseAmount(n json.Number) (int64, bool) {
	s := string(n)
	whole, frac, dot := strings.Cut(s, ".")
	if whole == "" || len(whole) > 12 || (dot && (frac == "" || len(frac) > 2)) || !digits(whole) || !digits(frac) {
		return 0, false
	}
	frac += strings.Repeat("0", 2-len(frac))
	v, err := strconv.ParseInt(whole+frac, 10, 64)
	return v, err == nil && v > 0
}

func formatAmount(minor int64) json.Number {
	return json.Number(fmt.Sprintf("%d.%02d", minor/100, minor%100))
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

// newRef returns a fresh transactionReferenceNumber shaped like the docs' "B250713MGRTW":
// a letter, the date as YYMMDD and five letters. Called with s.mu held.
func (s *Server) newRef(now time.Time) string {
	for {
		b := randomBytes(5)
		for i := range b {
			b[i] = letters[int(b[i])%len(letters)]
		}
		ref := "B" + now.UTC().Format("060102") + string(b)
		if _, taken := s.txns[ref]; !taken {
			return ref
		}
	}
}

func newPTID() string {
	b := randomBytes(16)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// validEmail is the sandbox's check of capturedBy: something@domain.tld without spaces.
func validEmail(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	return ok && local != "" && strings.Contains(domain, ".") && !strings.ContainsAny(s, " \t\r\n<>") && len(s) <= 254 &&
		!strings.HasPrefix(domain, ".") && !strings.HasSuffix(domain, ".")
}

// validSourceRef is the sandbox's check of sourceReferenceNumber (undocumented): 1–50
// printable characters without spaces.
func validSourceRef(s string) bool {
	if s == "" || len(s) > 50 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

func validRedirect(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// slow waits out the configured slow delay, or until the client gives up.
func (s *Server) slow(ctx context.Context) bool {
	t := time.NewTimer(s.cfg.SlowDelay)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
