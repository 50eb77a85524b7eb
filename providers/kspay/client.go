package kspay

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/kassa-pay/kassa/providers"
)

// Config configures the KS Pay client and the adapter built on it.
type Config struct {
	// BaseURL is https://pay-open-sandboxapi.kalp.studio or https://pay-open-liveapi.kalp.studio
	// (no version prefix), or a sandbox's mount point.
	BaseURL string
	// AppID is the application id (ap_XXXXXXXXX) of generate-token's path.
	AppID string
	// AccessKey is the dashboard's "Public API Key", SecretKey its "Secret API Key".
	AccessKey string
	SecretKey Secret
	// Origin, when set, is sent as the Origin header: KS Pay answers 13007 "Access denied from
	// this origin" to origins other than the application's registered domain.
	Origin string
	// Timeout bounds each HTTP call; default 10s.
	Timeout time.Duration
	// HTTPClient defaults to a plain http.Client; Timeout applies either way.
	HTTPClient *http.Client
	// CatalogTTL is how long the adapter caches currencies and payment methods; default 10m.
	CatalogTTL time.Duration
}

const (
	defaultTimeout = 10 * time.Second
	// renewBefore is how long before an access token's expiry the client renews it.
	renewBefore = 30 * time.Second
	// assumedAccessLifetime is used when an access token's expiry cannot be read from it.
	assumedAccessLifetime = 5 * time.Minute
	maxBody               = 4 << 20
)

// Client speaks KS Pay's documented server-to-server API and keeps its access token fresh:
// tokens are cached by an oauth2.ReuseTokenSource, renewed with the refresh token shortly before
// they expire, renewed once more when a call answers 401, and obtained by a fresh login when
// the refresh token itself has expired (9008). It is safe for concurrent use.
type Client struct {
	cfg     Config
	hc      *http.Client
	timeout time.Duration
	base    *tokenSource

	mu sync.Mutex
	ts oauth2.TokenSource
}

// NewClient returns a client for cfg.
func NewClient(cfg Config) *Client {
	c := &Client{cfg: cfg, hc: cfg.HTTPClient, timeout: cfg.Timeout}
	c.cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	if c.hc == nil {
		c.hc = &http.Client{}
	}
	if c.timeout <= 0 {
		c.timeout = defaultTimeout
	}
	c.base = &tokenSource{c: c}
	c.ts = oauth2.ReuseTokenSourceWithExpiry(nil, c.base, renewBefore)
	return c
}

// GenerateToken calls POST /auth/generate-token/{appId} with the access and secret keys.
func (c *Client) GenerateToken(ctx context.Context) (TokenPair, error) {
	const op = "generate token"
	body := credentialsBody{AccessKey: c.cfg.AccessKey, SecretKey: c.cfg.SecretKey.Reveal()}
	res, err := c.send(ctx, op, http.MethodPost, "/auth/generate-token/"+url.PathEscape(c.cfg.AppID), nil, body)
	if err != nil {
		return TokenPair{}, err
	}
	return decodeTokens(op, res)
}

// RefreshToken calls POST /auth/refresh-token. As documented, the refresh token goes in the
// Authorization header as it is, without "Bearer", and the body repeats the keys.
func (c *Client) RefreshToken(ctx context.Context, refreshToken Secret) (TokenPair, error) {
	const op = "refresh token"
	h := http.Header{"Authorization": {refreshToken.Reveal()}}
	body := credentialsBody{AccessKey: c.cfg.AccessKey, SecretKey: c.cfg.SecretKey.Reveal()}
	res, err := c.send(ctx, op, http.MethodPost, "/auth/refresh-token", h, body)
	if err != nil {
		return TokenPair{}, err
	}
	return decodeTokens(op, res)
}

func decodeTokens(op string, res json.RawMessage) (TokenPair, error) {
	var p TokenPair
	if err := json.Unmarshal(res, &p); err != nil || p.AccessToken == "" {
		return TokenPair{}, unreadable(op, "no access token in the answer")
	}
	return p, nil
}

// Currencies calls GET /currencies.
func (c *Client) Currencies(ctx context.Context) ([]Currency, error) {
	const op = "list currencies"
	var out []Currency
	return out, c.authedJSON(ctx, op, http.MethodGet, "/currencies", nil, &out)
}

// PaymentMethods calls GET /{currencyId}/payment-methods.
func (c *Client) PaymentMethods(ctx context.Context, currencyID string) ([]PaymentMethod, error) {
	const op = "list payment methods"
	var out []PaymentMethod
	return out, c.authedJSON(ctx, op, http.MethodGet, "/"+url.PathEscape(currencyID)+"/payment-methods", nil, &out)
}

// InitiateTransaction calls POST /transaction/initiate (the NPM-sequence variant: bearer token,
// appId and redirectUrl in the body) and returns the transaction's signature. AppID defaults to
// the configured one.
func (c *Client) InitiateTransaction(ctx context.Context, r InitiateRequest) (InitiateResult, error) {
	const op = "initiate transaction"
	if r.AppID == "" {
		r.AppID = c.cfg.AppID
	}
	var out InitiateResult
	if err := c.authedJSON(ctx, op, http.MethodPost, "/transaction/initiate", r, &out); err != nil {
		return out, err
	}
	if out.Signature == "" {
		return out, unreadable(op, "no signature in the answer")
	}
	return out, nil
}

// ProcessTransaction calls POST /transaction/process with the signature in x-signature and
// returns the order. The signature authenticates the call; no bearer token is documented.
func (c *Client) ProcessTransaction(ctx context.Context, signature Secret) (ProcessedOrder, error) {
	const op = "process transaction"
	h := http.Header{"X-Signature": {signature.Reveal()}}
	res, err := c.send(ctx, op, http.MethodPost, "/transaction/process", h, nil)
	if err != nil {
		return ProcessedOrder{}, err
	}
	// The docs show {"order": ...}; the official SDK reads the order's fields from result
	// itself. Accept both.
	var wrapped struct {
		Order json.RawMessage `json:"order"`
	}
	if json.Unmarshal(res, &wrapped) == nil && len(wrapped.Order) > 0 && wrapped.Order[0] == '{' {
		res = wrapped.Order
	}
	var o ProcessedOrder
	if err := json.Unmarshal(res, &o); err != nil {
		return o, unreadable(op, "unreadable order")
	}
	return o, nil
}

// Transaction calls GET /transaction/txnId/{txnId}.
func (c *Client) Transaction(ctx context.Context, txnID string) (Transaction, error) {
	const op = "fetch transaction"
	var out Transaction
	return out, c.authedJSON(ctx, op, http.MethodGet, "/transaction/txnId/"+url.PathEscape(txnID), nil, &out)
}

// Transactions calls GET /transaction (pagination parameters page and limit are a guess).
func (c *Client) Transactions(ctx context.Context, o ListOptions) ([]Transaction, error) {
	const op = "list transactions"
	q := url.Values{}
	if o.Page > 0 {
		q.Set("page", strconv.Itoa(o.Page))
	}
	if o.Limit > 0 {
		q.Set("limit", strconv.Itoa(o.Limit))
	}
	path := "/transaction"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out []Transaction
	return out, c.authedJSON(ctx, op, http.MethodGet, path, nil, &out)
}

// authedJSON makes a bearer-authenticated call and decodes its result into out.
func (c *Client) authedJSON(ctx context.Context, op, method, path string, body, out any) error {
	res, err := c.authed(ctx, op, method, path, body)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(res, out); err != nil {
		return unreadable(op, "unreadable result")
	}
	return nil
}

// authed makes a call with "Authorization: Bearer <access token>". When KS Pay says the token
// is expired, missing or unknown, the cached token is dropped and the call is made once more
// with a renewed one.
func (c *Client) authed(ctx context.Context, op, method, path string, body any) (json.RawMessage, error) {
	for try := 0; ; try++ {
		ts := c.source()
		// A token fetch (a refresh, then perhaps a login) is waited for at most twice the
		// timeout, however many calls queue behind it.
		tok, err := providers.Await(ctx, 2*c.timeout, ts.Token)
		if providers.WaitAbandoned(ctx, err) {
			return nil, &providers.Error{Provider: providers.KSPay, Op: op, Kind: providers.ErrRateLimited, Message: "get token: not sent", Err: err}
		}
		if err != nil {
			return nil, err
		}
		h := http.Header{"Authorization": {"Bearer " + tok.AccessToken}}
		res, err := c.send(ctx, op, method, path, h, body)
		if try == 0 && staleToken(err) {
			c.invalidate(ts)
			continue
		}
		return res, err
	}
}

func (c *Client) source() oauth2.TokenSource {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ts
}

// invalidate drops the cached access token, unless another call already replaced the source it
// came from. The refresh token stays with the base source, so the next Token refreshes.
func (c *Client) invalidate(used oauth2.TokenSource) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ts == used {
		c.ts = oauth2.ReuseTokenSourceWithExpiry(nil, c.base, renewBefore)
	}
}

// staleToken reports whether err says the access token is no good (rather than the request).
func staleToken(err error) bool {
	var pe *providers.Error
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case "9000", "9004", "9007", "9008", "9009":
		return true
	case "":
		return pe.HTTPStatus == http.StatusUnauthorized
	}
	return false
}

// tokenSource is the oauth2.TokenSource behind the cache: it refreshes with the refresh token it
// holds, and logs in again when there is none or KS Pay refuses it (9008, refresh token expired
// or invalid).
type tokenSource struct {
	c *Client

	mu            sync.Mutex
	refresh       Secret
	refreshExpiry time.Time // zero when unknown
}

// Token implements oauth2.TokenSource. TokenSource has no context; each call is bounded by the
// client's Timeout.
func (s *tokenSource) Token() (*oauth2.Token, error) {
	ctx := context.Background()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refresh != "" && (s.refreshExpiry.IsZero() || time.Now().Before(s.refreshExpiry)) {
		p, err := s.c.RefreshToken(ctx, s.refresh)
		if err == nil {
			return s.keep(p), nil
		}
		if !errors.Is(err, providers.ErrAuth) {
			return nil, err
		}
		s.refresh = "" // expired or revoked: fall through to a fresh login
	}
	p, err := s.c.GenerateToken(ctx)
	if err != nil {
		return nil, err
	}
	return s.keep(p), nil
}

func (s *tokenSource) keep(p TokenPair) *oauth2.Token {
	s.refresh = p.RefreshToken
	s.refreshExpiry, _ = jwtExpiry(p.RefreshToken.Reveal())
	exp, ok := jwtExpiry(p.AccessToken.Reveal())
	if !ok {
		exp = time.Now().Add(assumedAccessLifetime)
	}
	return &oauth2.Token{AccessToken: p.AccessToken.Reveal(), TokenType: "Bearer", Expiry: exp}
}

// jwtExpiry reads the exp claim of a JWT without verifying it: it only schedules renewal, and
// KS Pay remains the judge of the token. Tokens that are not JWTs have no known expiry.
func jwtExpiry(tok string) (time.Time, bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}, false
	}
	var claims struct {
		Exp json.Number `json:"exp"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return time.Time{}, false
	}
	n, err := claims.Exp.Int64()
	if err != nil || n <= 0 {
		return time.Time{}, false
	}
	return time.Unix(n, 0), true
}

// send makes one HTTP call and returns the envelope's result (or, for answers without an
// envelope, the whole body). Failures come back as *providers.Error.
func (c *Client) send(ctx context.Context, op, method, path string, h http.Header, body any) (json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, &providers.Error{Provider: providers.KSPay, Op: op, Kind: providers.ErrInvalid, Err: err}
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.cfg.BaseURL+path, rd)
	if err != nil {
		return nil, &providers.Error{Provider: providers.KSPay, Op: op, Kind: providers.ErrInvalid, Err: err}
	}
	for k, vs := range h {
		req.Header[k] = vs
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	if c.cfg.Origin != "" {
		req.Header.Set("Origin", c.cfg.Origin)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, &providers.Error{Provider: providers.KSPay, Op: op, Kind: providers.ErrUnavailable, Err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, &providers.Error{Provider: providers.KSPay, Op: op, Kind: providers.ErrUnavailable, HTTPStatus: resp.StatusCode, Err: err}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, responseError(op, resp.StatusCode, resp.Header, b)
	}
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, unreadable(op, "answer is not JSON")
	}
	if len(env.Result) > 0 && !bytes.Equal(env.Result, []byte("null")) {
		return env.Result, nil
	}
	return b, nil
}

// responseError turns a non-2xx answer into a *providers.Error of the right kind.
func responseError(op string, status int, h http.Header, body []byte) *providers.Error {
	ae := parseAPIError(body)
	e := &providers.Error{
		Provider:   providers.KSPay,
		Op:         op,
		Kind:       kindFor(ae.Code, status),
		Message:    ae.Message,
		HTTPStatus: status,
	}
	if ae.HasCode {
		e.Code = strconv.Itoa(ae.Code)
	}
	if status == http.StatusTooManyRequests {
		e.RetryAfter = retryAfter(h.Get("Retry-After"))
	}
	return e
}

// retryAfter reads a Retry-After header in seconds or as an HTTP date.
func retryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

// unreadable is a 2xx answer Kassa cannot use: the outcome of the call is unknown.
func unreadable(op, msg string) *providers.Error {
	return &providers.Error{Provider: providers.KSPay, Op: op, Kind: providers.ErrUnavailable, Message: msg}
}

// isSignatureExpired reports whether err is 11005 "The provided signature has expired" (and not
// the 429 that shares its code).
func isSignatureExpired(err error) bool {
	var pe *providers.Error
	return errors.As(err, &pe) && pe.Code == strconv.Itoa(codeSignatureExpired) && pe.HTTPStatus != http.StatusTooManyRequests
}
