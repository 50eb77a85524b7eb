package enkash

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/kassa-pay/kassa/providers"
)

const (
	defaultTimeout     = 10 * time.Second
	defaultEarlyExpiry = time.Minute
	maxResponse        = 1 << 20
)

// Secret is a credential. It prints, logs and marshals as "[redacted]" so it cannot leak into
// an error, a log line or a config dump; Reveal is the one way to read it.
type Secret string

// Reveal returns the secret itself, for the one request that must send it.
func (s Secret) Reveal() string { return string(s) }

// String implements fmt.Stringer.
func (Secret) String() string { return "[redacted]" }

// GoString implements fmt.GoStringer.
func (Secret) GoString() string { return "[redacted]" }

// Format implements fmt.Formatter, so every verb prints "[redacted]".
func (Secret) Format(f fmt.State, _ rune) { io.WriteString(f, "[redacted]") }

// LogValue implements slog.LogValuer.
func (Secret) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// MarshalJSON keeps the secret out of JSON dumps of a configuration.
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"[redacted]"`), nil }

// Config configures the client and the adapter.
type Config struct {
	// BaseURL includes the documented base path, e.g.
	// https://olympus-pg-uat.enkash.in/api/v0 or <kassa>/sandbox/enkash/api/v0.
	BaseURL string
	// AccessKey and SecretKey are the merchant's credentials, named as in the docs. The access
	// key is also sent on every call as the merchantAccessKey header, so it is an identifier
	// rather than a secret.
	AccessKey string
	SecretKey Secret
	// Timeout bounds every call, the token request included (default 10s).
	Timeout time.Duration
	// HTTPClient defaults to a plain client; Timeout applies to it through the request context.
	HTTPClient *http.Client
	// TokenEarlyExpiry renews the token this long before the expiry EnKash announced
	// (default 1 minute), so a call never leaves with a token about to die.
	TokenEarlyExpiry time.Duration
}

// Client speaks EnKash's documented payment gateway API: the merchant token, orders, payment
// status and refunds. It renews the token before it expires and once when EnKash rejects it.
type Client struct {
	base      string
	accessKey string
	secretKey Secret
	timeout   time.Duration
	early     time.Duration
	http      *http.Client

	mu     sync.Mutex
	tokens oauth2.TokenSource
}

// NewClient returns a client for cfg.
func NewClient(cfg Config) *Client {
	c := &Client{
		base:      strings.TrimRight(cfg.BaseURL, "/"),
		accessKey: cfg.AccessKey,
		secretKey: cfg.SecretKey,
		timeout:   cfg.Timeout,
		early:     cfg.TokenEarlyExpiry,
		http:      cfg.HTTPClient,
	}
	if c.timeout <= 0 {
		c.timeout = defaultTimeout
	}
	if c.early <= 0 {
		c.early = defaultEarlyExpiry
	}
	if c.http == nil {
		c.http = &http.Client{}
	}
	c.tokens = c.newTokenSource()
	return c
}

// newTokenSource caches one token and fetches a new one when the cached token is within the
// early-expiry window of its announced expiry.
func (c *Client) newTokenSource() oauth2.TokenSource {
	return oauth2.ReuseTokenSourceWithExpiry(nil, tokenFetcher{c}, c.early)
}

// tokenSource returns the current cache.
func (c *Client) tokenSource() oauth2.TokenSource {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tokens
}

// dropTokens forgets the token cached by ts after EnKash rejected it. Callers racing on the same
// rejection replace the cache once: the second finds it already replaced.
func (c *Client) dropTokens(ts oauth2.TokenSource) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tokens == ts {
		c.tokens = c.newTokenSource()
	}
}

// tokenFetcher asks EnKash for a new token. oauth2.TokenSource has no context, so the request
// runs under the client's own timeout.
type tokenFetcher struct{ c *Client }

func (f tokenFetcher) Token() (*oauth2.Token, error) {
	ctx, cancel := context.WithTimeout(context.Background(), f.c.timeout)
	defer cancel()
	r, err := f.c.GenerateToken(ctx)
	if err != nil {
		return nil, err
	}
	t := &oauth2.Token{AccessToken: r.Token, TokenType: "Bearer"}
	if r.Expiry > 0 {
		t.Expiry = time.UnixMilli(r.Expiry)
	}
	return t, nil
}

// GenerateToken calls POST /merchant/token. Most callers never need it: every other method
// fetches and renews the token itself.
func (c *Client) GenerateToken(ctx context.Context) (TokenResponse, error) {
	const op = "get token"
	body, _ := json.Marshal(TokenRequest{AccessKey: c.accessKey, SecretKey: c.secretKey.Reveal()})
	resp, raw, err := c.send(ctx, op, http.MethodPost, "/merchant/token", body, nil)
	if err != nil {
		return TokenResponse{}, err
	}
	var tr TokenResponse
	jsonErr := json.Unmarshal(raw, &tr)
	if e := statusError(op, resp); e != nil {
		if jsonErr == nil && tr.ResultMessage != "" {
			e.Code, e.Message = strconv.Itoa(tr.ResultCode), tr.ResultMessage
		} else {
			fillFromEnvelope(e, raw)
		}
		return TokenResponse{}, e
	}
	if jsonErr != nil {
		return TokenResponse{}, c.fail(op, providers.ErrUnavailable, resp.StatusCode, "", "unreadable token answer", nil)
	}
	if tr.Token == "" || (tr.ResultCode != 0 && tr.ResultCode != 200) {
		return TokenResponse{}, c.fail(op, providers.ErrAuth, resp.StatusCode, strconv.Itoa(tr.ResultCode), tr.ResultMessage, nil)
	}
	return tr, nil
}

// CreateOrder calls POST /orders.
func (c *Client) CreateOrder(ctx context.Context, req CreateOrderRequest) (Order, error) {
	var o Order
	err := c.call(ctx, "create order", http.MethodPost, "/orders", req, &o)
	return o, err
}

// GetOrder calls GET /orders/{orderId}.
func (c *Client) GetOrder(ctx context.Context, orderID string) (Order, error) {
	var o Order
	err := c.call(ctx, "fetch order", http.MethodGet, "/orders/"+url.PathEscape(orderID), nil, &o)
	return o, err
}

// GetPayment calls GET /payment/{transactionId}.
func (c *Client) GetPayment(ctx context.Context, transactionID string) (Transaction, error) {
	var t Transaction
	err := c.call(ctx, "fetch payment", http.MethodGet, "/payment/"+url.PathEscape(transactionID), nil, &t)
	return t, err
}

// Refund calls POST /payment/{transactionId}/refund. Retrying with the same RequestID returns
// the same refund rather than refunding twice.
func (c *Client) Refund(ctx context.Context, transactionID string, req RefundRequest) (RefundResponse, error) {
	var r RefundResponse
	err := c.call(ctx, "refund", http.MethodPost, "/payment/"+url.PathEscape(transactionID)+"/refund", req, &r)
	return r, err
}

// call sends an authenticated request and decodes the envelope's payload into out. When EnKash
// says the token is invalid it renews the token and tries once more: the rejected request was
// never processed, so repeating it is safe.
func (c *Client) call(ctx context.Context, op, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return c.fail(op, providers.ErrInvalid, 0, "", "cannot encode request", err)
		}
	}
	for attempt := 0; ; attempt++ {
		ts := c.tokenSource()
		// A token fetch is waited for at most twice the timeout, however many calls queue
		// behind it; a call that gives up here was never sent.
		tok, err := providers.Await(ctx, 2*c.timeout, ts.Token)
		if err != nil {
			var pe *providers.Error
			if errors.As(err, &pe) {
				cp := *pe
				cp.Op = op + ": " + pe.Op
				return &cp
			}
			if providers.WaitAbandoned(ctx, err) {
				return c.fail(op, providers.ErrRateLimited, 0, "", "get token: not sent", err)
			}
			return c.fail(op, providers.ErrUnavailable, 0, "", "get token", err)
		}
		hdr := http.Header{}
		hdr.Set("merchantAccessKey", c.accessKey)
		hdr.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, raw, err := c.send(ctx, op, method, path, body, hdr)
		if err != nil {
			return err
		}
		var env Envelope
		jsonErr := json.Unmarshal(raw, &env)
		if attempt == 0 && tokenRejected(resp.StatusCode, env, jsonErr) {
			c.dropTokens(ts)
			continue
		}
		if e := statusError(op, resp); e != nil {
			fillFromEnvelope(e, raw)
			if jsonErr == nil && env.ResponseCode != CodeSuccess {
				e.Kind = kindFor(resp.StatusCode, env.ResponseCode)
			}
			return e
		}
		if jsonErr != nil {
			return c.fail(op, providers.ErrUnavailable, resp.StatusCode, "", "unreadable answer", nil)
		}
		if env.ResponseCode != CodeSuccess {
			return c.fail(op, kindFor(resp.StatusCode, env.ResponseCode), resp.StatusCode,
				strconv.Itoa(env.ResponseCode), envelopeMessage(env), nil)
		}
		if out != nil {
			if err := json.Unmarshal(env.Payload, out); err != nil {
				return c.fail(op, providers.ErrUnavailable, resp.StatusCode, "", "unreadable payload", nil)
			}
		}
		return nil
	}
}

// tokenRejected reports whether an answer says the bearer token is no good: the documented-in-
// the-wild code 117, or a 401 that does not blame the access key.
func tokenRejected(status int, env Envelope, jsonErr error) bool {
	if jsonErr == nil && env.ResponseCode == CodeTokenInvalid {
		return true
	}
	return status == http.StatusUnauthorized && (jsonErr != nil || env.ResponseCode != CodeInvalidAccessKey)
}

// send does one HTTP exchange under the client's timeout. Transport failures and timeouts are
// ErrUnavailable: the call may or may not have reached EnKash.
func (c *Client) send(ctx context.Context, op, method, path string, body []byte, hdr http.Header) (*http.Response, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, nil, c.fail(op, providers.ErrInvalid, 0, "", "cannot build request", err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, c.fail(op, providers.ErrUnavailable, 0, "", "", scrubURLError(err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, nil, c.fail(op, providers.ErrUnavailable, resp.StatusCode, "", "reading answer", err)
	}
	return resp, raw, nil
}

// statusError returns the error an HTTP status implies on its own, or nil for a 2xx.
func statusError(op string, resp *http.Response) *providers.Error {
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	kind := providers.KindForHTTPStatus(resp.StatusCode)
	if kind == nil {
		kind = providers.ErrUnavailable
	}
	e := &providers.Error{Provider: providers.EnKash, Op: op, Kind: kind, HTTPStatus: resp.StatusCode}
	if resp.StatusCode == http.StatusTooManyRequests {
		e.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	return e
}

// fillFromEnvelope copies the provider's code and words into e when raw is an envelope.
func fillFromEnvelope(e *providers.Error, raw []byte) {
	var env Envelope
	if json.Unmarshal(raw, &env) != nil {
		return
	}
	if env.ResponseCode != 0 || env.ResponseMessage != "" {
		e.Code = strconv.Itoa(env.ResponseCode)
		e.Message = envelopeMessage(env)
	}
}

// envelopeMessage joins the response message and, when the payload is a string explaining the
// failure, that string.
func envelopeMessage(env Envelope) string {
	msg := env.ResponseMessage
	var detail string
	if json.Unmarshal(env.Payload, &detail) == nil && detail != "" && detail != msg {
		if msg != "" {
			msg += ": "
		}
		msg += detail
	}
	const max = 300
	if len(msg) > max {
		msg = msg[:max]
	}
	return msg
}

func (c *Client) fail(op string, kind error, status int, code, msg string, err error) *providers.Error {
	return &providers.Error{Provider: providers.EnKash, Op: op, Kind: kind, HTTPStatus: status, Code: code, Message: msg, Err: err}
}

// scrubURLError drops the URL from a transport error: the path can carry an order id, and a
// misconfigured base URL could carry user info.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// retryAfter reads a Retry-After header: delta seconds or an HTTP date.
func retryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if n, err := strconv.Atoi(h); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
