// Package sandbox simulates the Onecheckout REST API (base path /api/v1.0) and its hosted pay
// page, in memory, for tests and for Kassa's sandbox mode.
//
// It speaks the documented wire format: static API keys in `Authorization: Bearer`,
// `X-API-Key` or `api-key`; JSON bodies with the documented field names; amounts as decimal
// major units (integers for zero-decimal currencies); the documented error codes in both of the
// documented error shapes; 1000 requests per minute and 10 concurrent requests per key. Where
// the documentation is silent the simulator guesses; README.md lists the guesses.
//
// It uses the standard library only and keeps its own currency table, so that it checks the
// adapter rather than sharing its code.
package sandbox

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Magic amounts in major units, mirroring providers/providertest (the sandbox keeps its own
// copy so that it needs nothing beyond the standard library; a test checks they agree).
const (
	magicDecline           = 402
	magicCreateServerError = 500
	magicCreateRateLimited = 429
	magicCreateSlow        = 504
	magicFetchServerError  = 503
	magicAuthorizeOnly     = 202
)

// Credentials are what the sandbox accepts, with the field name Kassa prints in
// `kassa sandbox credentials`.
type Credentials struct {
	APIKey string `json:"apiKey"`
}

// DefaultCredentials returns the fixed API key the sandbox accepts unless configured otherwise.
// It is public on purpose: it only opens this simulator.
func DefaultCredentials() Credentials {
	return Credentials{APIKey: "oc_sandbox_9f3b6c2e8a714d05b1e7"}
}

// DefaultCurrencies are the currencies the sandbox merchant serves: zero-, two- and
// three-decimal ones, so conversion is exercised at every exponent Onecheckout can meet.
var DefaultCurrencies = []string{"USD", "EUR", "JPY", "KWD", "INR", "MWK"}

// Config configures a Server. Zero values take the defaults noted on each field.
type Config struct {
	// Prefix is the path the server is mounted under (e.g. "/sandbox/onecheckout"); the
	// server itself sees paths with the prefix stripped and uses Prefix only to build the
	// absolute links it returns.
	Prefix string
	// Now is the clock for timestamps and the per-minute rate window (default time.Now).
	Now func() time.Time
	// SlowDelay is how long a create with the slow magic amount takes (default 15s).
	SlowDelay time.Duration
	// APIKeys are the keys accepted, one merchant per key (default DefaultCredentials).
	APIKeys []string
	// Currencies the merchants serve (default DefaultCurrencies).
	Currencies []string
	// RequestsPerMinute per API key before 429 (default 1000, as documented).
	RequestsPerMinute int
	// MaxConcurrent requests in flight per API key before 429 (default 10, as documented).
	MaxConcurrent int
	// Latency is added to every API request (default none); tests use it to make
	// concurrent requests overlap.
	Latency time.Duration
}

// Stats counts what the sandbox's limits saw, for tests.
type Stats struct {
	// PeakInFlight is the most API requests one key had in flight at once.
	PeakInFlight int
	// RateLimited counts requests refused with 429 by the rate or concurrency limit (the
	// rate-limited magic amount is not counted).
	RateLimited int
}

// Server is the simulator; it is an http.Handler.
type Server struct {
	cfg Config
	mux *http.ServeMux

	mu        sync.Mutex
	merchants map[string]*merchant // by API key
	orders    map[string]*order    // by id
	list      []*order             // in creation order
	limits    map[string]*keyLimit // by API key
	stats     Stats
}

type keyLimit struct {
	inFlight int
	recent   []time.Time // admitted request times within the last minute, oldest first
}

// New returns a Server with cfg's defaults filled in.
func New(cfg Config) *Server {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SlowDelay <= 0 {
		cfg.SlowDelay = 15 * time.Second
	}
	if len(cfg.APIKeys) == 0 {
		cfg.APIKeys = []string{DefaultCredentials().APIKey}
	}
	if len(cfg.Currencies) == 0 {
		cfg.Currencies = DefaultCurrencies
	}
	if cfg.RequestsPerMinute <= 0 {
		cfg.RequestsPerMinute = 1000
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = 10
	}
	cfg.Prefix = strings.TrimRight(cfg.Prefix, "/")
	s := &Server{
		cfg:       cfg,
		merchants: map[string]*merchant{},
		orders:    map[string]*order{},
		limits:    map[string]*keyLimit{},
	}
	created := cfg.Now().UnixMilli()
	for i, key := range cfg.APIKeys {
		s.merchants[key] = &merchant{
			ID:             "merchant_sandbox_" + strconv.Itoa(i+1),
			Email:          "merchant@sandbox.example",
			FullName:       "Sandbox Merchant",
			Phone:          "+10000000000",
			Address:        "1 Sandbox Street",
			Theme:          "default",
			OrderPrefix:    "ORD-",
			Currencies:     append([]string(nil), cfg.Currencies...),
			PaymentMethods: []string{"paypal", "stripe_hosted"},
			Gateways:       []string{"STRIPE", "PAYPAL"},
			Created:        created,
			Updated:        created,
		}
	}
	s.routes()
	return s
}

func (s *Server) routes() {
	m := http.NewServeMux()
	const api = "/api/v1.0"
	m.HandleFunc("GET "+api+"/me", s.api(s.getMe))
	m.HandleFunc("POST "+api+"/me", s.api(s.updateMe))
	m.HandleFunc("POST "+api+"/orders", s.api(s.createOrder))
	m.HandleFunc("GET "+api+"/orders", s.api(s.getOrderByQuery))
	m.HandleFunc("GET "+api+"/orders/{id}", s.api(s.getOrder))
	m.HandleFunc("POST "+api+"/orders/{id}/capture", s.api(s.captureOrder))
	m.HandleFunc("POST "+api+"/orders-list", s.api(s.listOrders))
	m.HandleFunc("GET "+api+"/orders/{id}/events", s.api(s.orderEvents))
	m.HandleFunc(api+"/", func(w http.ResponseWriter, r *http.Request) {
		writeErrorString(w, http.StatusNotFound, "not_found")
	})
	m.HandleFunc("GET /pay/{id}", s.payPage)
	m.HandleFunc("GET /order/{id}", s.payPage)
	m.HandleFunc("POST /pay/{id}", s.paySubmit)
	s.mux = m
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Stats returns what the limits have seen so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// ExpireOrder lets the order with id ref time out unpaid. Onecheckout has no EXPIRED status, so
// (a guess) the order becomes CANCELLED with a payment_cancelled event whose error is
// "expired". Orders no longer OPEN, and unknown ids, are left alone.
func (s *Server) ExpireOrder(ref string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orders[ref]
	if o == nil || o.Status != statusOpen {
		return
	}
	o.Status = statusCancelled
	o.Updated = s.nowMS()
	s.addEvent(o, "payment_cancelled", "CANCELLED", "expired")
}

// api wraps an API handler with the documented authentication and rate limits.
func (s *Server) api(h func(http.ResponseWriter, *http.Request, *merchant)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key := apiKey(r.Header)
		if key == "" {
			writeError(w, http.StatusBadRequest, "api_key_required", "The API key was not provided.", nil)
			return
		}
		m := s.merchantFor(key)
		if m == nil {
			writeError(w, http.StatusUnauthorized, "api_key_invalid", "The provided API key is invalid or expired.", nil)
			return
		}
		release, retryAfter, ok := s.admit(key)
		if !ok {
			w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
			writeError(w, http.StatusTooManyRequests, "rate_limit_exceeded", "Too many requests.", nil)
			return
		}
		// Released before the handler returns, so before the response is complete: a client
		// that waits for one response before sending its next request never counts twice.
		defer release()
		if s.cfg.Latency > 0 && !sleep(r.Context(), s.cfg.Latency) {
			return
		}
		h(w, r, m)
	}
}

// apiKey reads the key from any of the three spellings the provider accepts.
func apiKey(h http.Header) string {
	if a := h.Get("Authorization"); len(a) > 7 && strings.EqualFold(a[:7], "Bearer ") {
		if k := strings.TrimSpace(a[7:]); k != "" {
			return k
		}
	}
	if k := strings.TrimSpace(h.Get("X-API-Key")); k != "" {
		return k
	}
	return strings.TrimSpace(h.Get("api-key"))
}

func (s *Server) merchantFor(key string) *merchant {
	var found *merchant
	for _, k := range s.cfg.APIKeys {
		if subtle.ConstantTimeCompare([]byte(k), []byte(key)) == 1 {
			found = s.merchants[k]
		}
	}
	return found
}

// admit applies the per-key limits: a sliding one-minute window and a concurrency cap.
func (s *Server) admit(key string) (release func(), retryAfter int, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.limits[key]
	if l == nil {
		l = &keyLimit{}
		s.limits[key] = l
	}
	now := s.cfg.Now()
	cut := 0
	for cut < len(l.recent) && !l.recent[cut].After(now.Add(-time.Minute)) {
		cut++
	}
	l.recent = l.recent[cut:]
	if len(l.recent) >= s.cfg.RequestsPerMinute {
		s.stats.RateLimited++
		wait := l.recent[0].Add(time.Minute).Sub(now)
		return nil, max(1, int((wait+time.Second-1)/time.Second)), false
	}
	if l.inFlight >= s.cfg.MaxConcurrent {
		s.stats.RateLimited++
		return nil, 1, false
	}
	l.recent = append(l.recent, now)
	l.inFlight++
	s.stats.PeakInFlight = max(s.stats.PeakInFlight, l.inFlight)
	return func() {
		s.mu.Lock()
		l.inFlight--
		s.mu.Unlock()
	}, 0, true
}

func (s *Server) nowMS() int64 { return s.cfg.Now().UnixMilli() }

// base returns the absolute URL of the mount point, from the request's host and scheme.
func (s *Server) base(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p != "" {
		p = strings.ToLower(strings.TrimSpace(strings.Split(p, ",")[0]))
		if p == "https" || p == "http" {
			scheme = p
		}
	}
	return scheme + "://" + r.Host + s.cfg.Prefix
}

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

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// errorObject is the documented object shape:
// {"error": {"code": "...", "message": "...", "details": [{"field": "...", "issue": "..."}]}}.
type errorObject struct {
	Code    string        `json:"code"`
	Message string        `json:"message"`
	Details []errorDetail `json:"details,omitempty"`
}

type errorDetail struct {
	Field string `json:"field"`
	Issue string `json:"issue"`
}

func writeError(w http.ResponseWriter, status int, code, message string, details []errorDetail) {
	writeJSON(w, status, map[string]errorObject{"error": {Code: code, Message: message, Details: details}})
}

// writeErrorString is the documented string shape, {"error": "id_required"}.
func writeErrorString(w http.ResponseWriter, status int, code string) {
	writeJSON(w, status, map[string]string{"error": code})
}

func writeServerError(w http.ResponseWriter) {
	writeError(w, http.StatusInternalServerError, "server_error", "An unexpected error occurred on the server.", nil)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decodeBody reads a JSON body with numbers kept exact; false means an error was written.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "validation_error", "Invalid request data: the body is not a JSON object.", nil)
		return false
	}
	return true
}
