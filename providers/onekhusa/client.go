package onekhusa

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/time/rate"

	"github.com/kassa-pay/kassa/providers"
)

// Secret holds a credential. It prints, logs and marshals as "[redacted]" so a Config or a
// request can be logged whole without leaking it; the client reads the value only to put it on
// the wire.
type Secret string

const redacted = "[redacted]"

// String, GoString, Format, LogValue and MarshalJSON all print "[redacted]".
func (Secret) String() string               { return redacted }
func (Secret) GoString() string             { return `"` + redacted + `"` }
func (Secret) Format(f fmt.State, _ rune)   { io.WriteString(f, redacted) }
func (Secret) LogValue() slog.Value         { return slog.StringValue(redacted) }
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// reveal is the only way to read the value, for putting it on the wire.
func (s Secret) reveal() string { return string(s) }

// Config configures the client and the adapter. The credential fields carry the docs' names:
// apiKey, apiSecret, organisationId, merchantAccountNumber, and capturedBy (the portal user
// every create call names).
type Config struct {
	// BaseURL is the API root including /v1, e.g. https://api.onekhusa.com/sandbox/v1.
	BaseURL               string
	APIKey                Secret
	APISecret             Secret
	OrganisationID        string
	MerchantAccountNumber int64
	// CapturedBy is the email of a portal user under the merchant account.
	CapturedBy string
	// Timeout bounds every HTTP call; default 10s.
	Timeout time.Duration
	// HTTPClient is used for every call when set; its Timeout is replaced by Timeout.
	HTTPClient *http.Client
	// RequestsPerSecond paces calls below OneKhusa's per-merchant limit; default 50.
	RequestsPerSecond float64
	// MaxQueueWait is the longest a call waits for its turn under RequestsPerSecond (default
	// 2s); a call that cannot get one in time fails at once with ErrRateLimited ("busy"),
	// without reaching OneKhusa, instead of queueing behind a crowd.
	MaxQueueWait time.Duration

	// AirtelConnectorID and MpambaConnectorID are the connectorId of each mobile network;
	// defaults are guesses (see the package comment).
	AirtelConnectorID int64
	MpambaConnectorID int64
	// CheckoutPageURL builds the hosted page's address when /checkout/push/initiate answers a
	// paymentTransactionId without a checkoutUrl; "{paymentTransactionId}" is replaced.
	CheckoutPageURL string
}

// Defaults for Config fields left zero.
const (
	DefaultTimeout           = 10 * time.Second
	DefaultRequestsPerSecond = 50
	DefaultMaxQueueWait      = 2 * time.Second
	DefaultAirtelConnectorID = 550044 // the docs' direct-push example, paired with a 0999 number
	DefaultMpambaConnectorID = 550045 // a guess
	DefaultCheckoutPageURL   = "https://checkout.onekhusa.com/standardCheckout/initiate?ptid={paymentTransactionId}"
)

func (cfg Config) withDefaults() Config {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.RequestsPerSecond <= 0 {
		cfg.RequestsPerSecond = DefaultRequestsPerSecond
	}
	if cfg.MaxQueueWait <= 0 {
		cfg.MaxQueueWait = DefaultMaxQueueWait
	}
	if cfg.AirtelConnectorID == 0 {
		cfg.AirtelConnectorID = DefaultAirtelConnectorID
	}
	if cfg.MpambaConnectorID == 0 {
		cfg.MpambaConnectorID = DefaultMpambaConnectorID
	}
	if cfg.CheckoutPageURL == "" {
		cfg.CheckoutPageURL = DefaultCheckoutPageURL
	}
	return cfg
}

// Client speaks OneKhusa's documented REST API. It is safe for concurrent use.
type Client struct {
	cfg     Config
	http    *http.Client
	limiter *rate.Limiter

	// tokens is an oauth2.ReuseTokenSource over getAccessToken; it is replaced, not cleared,
	// when OneKhusa rejects its token, so a 401 forces exactly one renewal.
	mu     sync.Mutex
	tokens oauth2.TokenSource
}

// NewClient returns a client for cfg.
func NewClient(cfg Config) *Client {
	cfg = cfg.withDefaults()
	hc := &http.Client{}
	if cfg.HTTPClient != nil {
		cp := *cfg.HTTPClient
		hc = &cp
	}
	hc.Timeout = cfg.Timeout
	c := &Client{
		cfg:     cfg,
		http:    hc,
		limiter: rate.NewLimiter(rate.Limit(cfg.RequestsPerSecond), max(1, int(cfg.RequestsPerSecond))),
	}
	c.tokens = c.newTokenSource()
	return c
}

// String and Format name the client by its base URL, never its credentials.
func (c *Client) String() string             { return "onekhusa.Client{" + c.cfg.BaseURL + "}" }
func (c *Client) Format(f fmt.State, _ rune) { io.WriteString(f, c.String()) }

func (c *Client) baseURL() string { return strings.TrimRight(c.cfg.BaseURL, "/") }

// tokenEarlyExpiry is set on every token so oauth2 uses the expiry computed in Token as is.
const tokenEarlyExpiry = time.Nanosecond

func (c *Client) newTokenSource() oauth2.TokenSource {
	return oauth2.ReuseTokenSourceWithExpiry(nil, accessTokenSource{c}, tokenEarlyExpiry)
}

// accessTokenSource fetches a fresh token from POST /account/getAccessToken. oauth2's
// TokenSource has no context, so the fetch is bounded by the client's Timeout only.
type accessTokenSource struct{ c *Client }

// Token implements oauth2.TokenSource. The token is renewed a fifth of its lifetime (at most
// 30s) before OneKhusa's expiresOn, so a call never leaves with a token about to die.
func (s accessTokenSource) Token() (*oauth2.Token, error) {
	now := time.Now()
	resp, err := s.c.GetAccessToken(context.Background())
	if err != nil {
		return nil, err
	}
	return &oauth2.Token{AccessToken: resp.AccessToken.reveal(), TokenType: "Bearer", Expiry: tokenExpiry(now, resp)}, nil
}

// tokenExpiry is when the client stops using a token fetched at now: expiresOn (or, when it
// is missing or already past by our clock, now plus expiryInMinutes) less a fifth of the
// lifetime, at most 30s. Zero means unknown: the token is used until OneKhusa rejects it.
func tokenExpiry(now time.Time, resp AccessTokenResponse) time.Time {
	life := time.Duration(resp.ExpiryInMinutes) * time.Minute
	if t, err := time.Parse(time.RFC3339Nano, resp.ExpiresOn); err == nil && t.After(now) {
		life = t.Sub(now)
	}
	if life <= 0 {
		return time.Time{}
	}
	return now.Add(life - min(30*time.Second, life/5))
}

// GetAccessToken calls POST /account/getAccessToken with the configured credentials. Every
// rejection of the credentials, whatever its status, is ErrAuth: Kassa cannot fix it by retrying.
func (c *Client) GetAccessToken(ctx context.Context) (AccessTokenResponse, error) {
	const op = "get access token"
	body, err := json.Marshal(AccessTokenRequest{
		APIKey:                c.cfg.APIKey.reveal(),
		APISecret:             c.cfg.APISecret.reveal(),
		OrganisationID:        c.cfg.OrganisationID,
		MerchantAccountNumber: c.cfg.MerchantAccountNumber,
	})
	if err != nil {
		return AccessTokenResponse{}, c.fail(op, providers.ErrInvalid, err)
	}
	req, err := c.newRequest(ctx, "/account/getAccessToken", body)
	if err != nil {
		return AccessTokenResponse{}, c.fail(op, providers.ErrInvalid, err)
	}
	resp, err := c.send(op, req)
	if err != nil {
		return AccessTokenResponse{}, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		e := c.errorFrom(op, resp, raw)
		if resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests {
			e.Kind = providers.ErrAuth
		}
		return AccessTokenResponse{}, e
	}
	var out AccessTokenResponse
	if err := json.Unmarshal(raw, &out); err != nil || out.AccessToken == "" {
		return AccessTokenResponse{}, &providers.Error{Provider: providers.OneKhusa, Op: op, Kind: providers.ErrUnavailable, HTTPStatus: resp.StatusCode, Message: "unreadable token response"}
	}
	return out, nil
}

// InitiateCheckout calls POST /checkout/push/initiate (standard hosted checkout).
func (c *Client) InitiateCheckout(ctx context.Context, idempotencyKey string, in CheckoutRequest) (CheckoutResponse, error) {
	var out CheckoutResponse
	_, err := c.call(ctx, "initiate checkout", "/checkout/push/initiate", idempotencyKey, in, &out)
	return out, err
}

// InitiateDirectPush calls POST /collections/push/direct/initiate (mobile-money prompt).
func (c *Client) InitiateDirectPush(ctx context.Context, idempotencyKey string, in DirectPushRequest) (DirectPushResponse, error) {
	var out DirectPushResponse
	_, err := c.call(ctx, "initiate direct push", "/collections/push/direct/initiate", idempotencyKey, in, &out)
	return out, err
}

// GetTransaction calls POST /collections/getTransaction. OneKhusa answers 204 for a
// transaction it does not know, which is ErrNotFound here.
func (c *Client) GetTransaction(ctx context.Context, in GetTransactionRequest) (Transaction, error) {
	const op = "get transaction"
	var out Transaction
	status, err := c.call(ctx, op, "/collections/getTransaction", "", in, &out)
	if err == nil && status == http.StatusNoContent {
		err = &providers.Error{Provider: providers.OneKhusa, Op: op, Kind: providers.ErrNotFound, HTTPStatus: status, Message: "no such transaction"}
	}
	return out, err
}

// GetTransactions calls POST /collections/getTransactions and returns one page of the day's
// collections matching the search.
func (c *Client) GetTransactions(ctx context.Context, in GetTransactionsRequest) ([]Transaction, error) {
	var out []Transaction
	status, err := c.call(ctx, "get transactions", "/collections/getTransactions", "", in, &out)
	if err == nil && status == http.StatusNoContent {
		out = nil
	}
	return out, err
}

// VerifyWebhook calls POST /merchants/webhooks/verify with a delivery's event and signature.
func (c *Client) VerifyWebhook(ctx context.Context, in VerifyWebhookRequest) (VerifyWebhookResponse, error) {
	var out VerifyWebhookResponse
	_, err := c.call(ctx, "verify webhook", "/merchants/webhooks/verify", "", in, &out)
	return out, err
}

// call POSTs in as JSON with a bearer token, renewing the token once if OneKhusa rejects it,
// and decodes a 2xx answer into out. It returns the final HTTP status.
func (c *Client) call(ctx context.Context, op, path, idempotencyKey string, in, out any) (int, error) {
	body, err := json.Marshal(in)
	if err != nil {
		return 0, c.fail(op, providers.ErrInvalid, err)
	}
	// The wait for a turn is bounded (rate.Limiter.Wait gives up at once, using no token,
	// when it would pass the deadline); a call refused here was never sent.
	queue, cancelQueue := context.WithTimeout(ctx, c.cfg.MaxQueueWait)
	err = c.limiter.Wait(queue)
	cancelQueue()
	if err != nil {
		if ctx.Err() == nil {
			err = fmt.Errorf("busy: no request allowed by the client's rate limit within %s", c.cfg.MaxQueueWait)
		}
		return 0, c.fail(op, providers.ErrRateLimited, fmt.Errorf("%w: %w", providers.ErrNotSent, err))
	}
	for attempt := 0; ; attempt++ {
		c.mu.Lock()
		ts := c.tokens
		c.mu.Unlock()
		// A token fetch is waited for at most twice the timeout, however many calls queue
		// behind it; a call that gives up here was never sent.
		tok, err := providers.Await(ctx, 2*c.cfg.Timeout, ts.Token)
		if err != nil {
			var pe *providers.Error
			if errors.As(err, &pe) {
				return 0, err
			}
			if providers.WaitAbandoned(ctx, err) {
				return 0, c.fail(op, providers.ErrRateLimited, fmt.Errorf("%w: get token: %w", providers.ErrNotSent, err))
			}
			return 0, c.fail(op, providers.ErrUnavailable, err)
		}
		req, err := c.newRequest(ctx, path, body)
		if err != nil {
			return 0, c.fail(op, providers.ErrInvalid, err)
		}
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		if idempotencyKey != "" {
			req.Header.Set("X-Idempotency-Key", idempotencyKey)
		}
		resp, err := c.send(op, req)
		if err != nil {
			return 0, err
		}
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if resp.StatusCode == http.StatusUnauthorized && attempt == 0 {
			c.mu.Lock()
			if c.tokens == ts {
				c.tokens = c.newTokenSource()
			}
			c.mu.Unlock()
			continue
		}
		switch {
		case resp.StatusCode == http.StatusNoContent:
			return resp.StatusCode, nil
		case resp.StatusCode >= 200 && resp.StatusCode < 300:
			if out != nil && len(bytes.TrimSpace(raw)) > 0 {
				if err := json.Unmarshal(raw, out); err != nil {
					return resp.StatusCode, &providers.Error{Provider: providers.OneKhusa, Op: op, Kind: providers.ErrUnavailable, HTTPStatus: resp.StatusCode, Message: "unreadable response", Err: err}
				}
			}
			return resp.StatusCode, nil
		default:
			return resp.StatusCode, c.errorFrom(op, resp, raw)
		}
	}
}

func (c *Client) newRequest(ctx context.Context, path string, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.baseURL()+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Accept-Language", "en")
	req.Header.Set("X-Organisation-Id", c.cfg.OrganisationID)
	req.Header.Set("X-Merchant-Account-Number", strconv.FormatInt(c.cfg.MerchantAccountNumber, 10))
	return req, nil
}

// send performs req; a transport failure or timeout means the outcome is unknown.
func (c *Client) send(op string, req *http.Request) (*http.Response, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.fail(op, providers.ErrUnavailable, err)
	}
	return resp, nil
}

func (c *Client) fail(op string, kind, err error) *providers.Error {
	return &providers.Error{Provider: providers.OneKhusa, Op: op, Kind: kind, Err: err}
}

// errorFrom reads an RFC 7807 error answer, and the X-RateLimit-* headers of a 429.
func (c *Client) errorFrom(op string, resp *http.Response, raw []byte) *providers.Error {
	var p Problem
	_ = json.Unmarshal(raw, &p)
	msg := p.Detail
	if msg == "" {
		msg = p.Title
	}
	if len(p.Errors) > 0 {
		msg = strings.TrimSpace(msg + " " + strings.Join(p.Errors, "; "))
	}
	if len(msg) > 300 {
		msg = msg[:300]
	}
	e := &providers.Error{
		Provider:   providers.OneKhusa,
		Op:         op,
		Kind:       KindForError(resp.StatusCode, p.ErrorCode),
		Code:       p.ErrorCode,
		Message:    msg,
		HTTPStatus: resp.StatusCode,
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		e.Kind = providers.ErrRateLimited
		e.RetryAfter = retryAfter(resp.Header, time.Now())
	}
	return e
}

// retryAfter reads how long to wait after a 429: a Retry-After in seconds if present, else the
// documented X-RateLimit-Reset unix time; never less than one second, OneKhusa's window.
func retryAfter(h http.Header, now time.Time) time.Duration {
	wait := time.Duration(0)
	if s, err := strconv.Atoi(strings.TrimSpace(h.Get("Retry-After"))); err == nil && s > 0 {
		wait = time.Duration(s) * time.Second
	} else if ts, err := strconv.ParseInt(strings.TrimSpace(h.Get("X-RateLimit-Reset")), 10, 64); err == nil {
		wait = time.Unix(ts, 0).Sub(now)
	}
	if wait < time.Second {
		wait = time.Second
	}
	if wait > time.Hour {
		wait = time.Hour
	}
	return wait
}
