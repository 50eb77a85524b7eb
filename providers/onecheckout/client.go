package onecheckout

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
	"time"

	"golang.org/x/time/rate"

	"github.com/kassa-pay/kassa/providers"
)

// Secret is a credential. It prints, formats, logs and marshals as "[redacted]"; string(s)
// is the only way to the value.
type Secret string

const redacted = "[redacted]"

func (Secret) String() string               { return redacted }
func (Secret) GoString() string             { return `onecheckout.Secret("` + redacted + `")` }
func (Secret) Format(f fmt.State, _ rune)   { _, _ = io.WriteString(f, redacted) }
func (Secret) LogValue() slog.Value         { return slog.StringValue(redacted) }
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }
func (s Secret) scrub(text string) string {
	if len(s) < 4 {
		return text
	}
	return strings.ReplaceAll(text, string(s), redacted)
}

// Config configures a Client (and the Provider built on it). Zero values take the defaults.
type Config struct {
	// BaseURL is the API root including the documented base path, e.g.
	// "https://onecheckout.sandbox.whatee.io/api/v1.0".
	BaseURL string
	// APIKey is the merchant's static API key, sent as "Authorization: Bearer".
	APIKey Secret
	// Timeout bounds each HTTP attempt (default 10s).
	Timeout time.Duration
	// HTTPClient sends the requests (default a new http.Client).
	HTTPClient *http.Client

	// MaxConcurrent caps requests in flight (default 10, the documented limit).
	MaxConcurrent int
	// RequestsPerMinute is the documented per-key rate (default 1000). The client paces
	// itself so that no sliding minute exceeds it.
	RequestsPerMinute int
	// MaxRetries is how often a read answered 429 is retried (default 3; negative: never).
	// Writes are retried at most once: a 429 means the request was not processed.
	MaxRetries int
	// MaxRetryWait is the longest Retry-After the client waits out (default 5s); a longer one
	// is returned at once as ErrRateLimited with its RetryAfter.
	MaxRetryWait time.Duration
	// MaxQueueWait is the longest a call waits for its turn under RequestsPerMinute and
	// MaxConcurrent (default 2s). A call that cannot get one in time fails at once with
	// ErrRateLimited ("busy"), without reaching Onecheckout: a crowd of status-page loads
	// then cannot queue ahead of a shopper's order for minutes.
	MaxQueueWait time.Duration

	// CurrencyTTL is how long the Provider caches the currencies of GET /me (default 5m).
	CurrencyTTL time.Duration
	// ManualCapture makes the Provider create orders with paypal_manual_capture, so that a
	// paid order waits in AWAITING_CAPTURE for Capture.
	ManualCapture bool
}

// Client speaks the Onecheckout REST API. It is safe for concurrent use and honours the
// documented limits: at most MaxConcurrent requests in flight and RequestsPerMinute.
type Client struct {
	base       string
	key        Secret
	timeout    time.Duration
	http       *http.Client
	sem        chan struct{}
	limiter    *rate.Limiter
	maxRetries int
	maxWait    time.Duration
	queueWait  time.Duration
}

// NewClient returns a Client for cfg.
func NewClient(cfg Config) *Client {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{}
	}
	if cfg.MaxConcurrent <= 0 {
		cfg.MaxConcurrent = 10
	}
	if cfg.RequestsPerMinute <= 0 {
		cfg.RequestsPerMinute = 1000
	}
	switch {
	case cfg.MaxRetries == 0:
		cfg.MaxRetries = 3
	case cfg.MaxRetries < 0:
		cfg.MaxRetries = 0
	}
	if cfg.MaxRetryWait <= 0 {
		cfg.MaxRetryWait = 5 * time.Second
	}
	if cfg.MaxQueueWait <= 0 {
		cfg.MaxQueueWait = 2 * time.Second
	}
	// A token bucket lets a full burst through and then refills; burst + 60s of refill must
	// stay within the documented per-minute count.
	burst := max(1, cfg.RequestsPerMinute/10)
	perSecond := float64(max(1, cfg.RequestsPerMinute-burst)) / 60
	return &Client{
		base:       strings.TrimRight(cfg.BaseURL, "/"),
		key:        cfg.APIKey,
		timeout:    cfg.Timeout,
		http:       cfg.HTTPClient,
		sem:        make(chan struct{}, cfg.MaxConcurrent),
		limiter:    rate.NewLimiter(rate.Limit(perSecond), burst),
		maxRetries: cfg.MaxRetries,
		maxWait:    cfg.MaxRetryWait,
		queueWait:  cfg.MaxQueueWait,
	}
}

// GetMe reads the merchant account (GET /me).
func (c *Client) GetMe(ctx context.Context) (Merchant, error) {
	var m Merchant
	err := c.do(ctx, "read account", http.MethodGet, "/me", nil, &m, c.maxRetries)
	return m, err
}

// UpdateMe updates the merchant account (POST /me) and returns it.
func (c *Client) UpdateMe(ctx context.Context, u MerchantUpdate) (Merchant, error) {
	var m Merchant
	err := c.do(ctx, "update account", http.MethodPost, "/me", u, &m, c.writeRetries())
	return m, err
}

// CreateOrder creates an order and its payment session (POST /orders).
func (c *Client) CreateOrder(ctx context.Context, r CreateOrderRequest) (Order, error) {
	var o Order
	err := c.do(ctx, "create order", http.MethodPost, "/orders", r, &o, c.writeRetries())
	return o, err
}

// GetOrder reads an order (GET /orders/{id}).
func (c *Client) GetOrder(ctx context.Context, id string) (Order, error) {
	var o Order
	if err := c.needID("fetch order", id); err != nil {
		return o, err
	}
	err := c.do(ctx, "fetch order", http.MethodGet, "/orders/"+url.PathEscape(id), nil, &o, c.maxRetries)
	return o, err
}

// CaptureOrder captures an authorized order (POST /orders/{id}/capture).
func (c *Client) CaptureOrder(ctx context.Context, id string) (Order, error) {
	var o Order
	if err := c.needID("capture order", id); err != nil {
		return o, err
	}
	err := c.do(ctx, "capture order", http.MethodPost, "/orders/"+url.PathEscape(id)+"/capture", nil, &o, c.writeRetries())
	return o, err
}

// ListOrders reads one page of orders (POST /orders-list); pass NextAnchor as the next
// request's Anchor.
func (c *Client) ListOrders(ctx context.Context, r ListOrdersRequest) (OrderList, error) {
	var l OrderList
	if r.Limit < 0 || r.Limit > 1024 {
		return l, c.invalid("list orders", "limit must be between 1 and 1024")
	}
	err := c.do(ctx, "list orders", http.MethodPost, "/orders-list", r, &l, c.maxRetries)
	return l, err
}

// ListOrderEvents reads an order's events (GET /orders/{id}/events).
func (c *Client) ListOrderEvents(ctx context.Context, id string) ([]Event, error) {
	var l eventList
	if err := c.needID("list order events", id); err != nil {
		return nil, err
	}
	err := c.do(ctx, "list order events", http.MethodGet, "/orders/"+url.PathEscape(id)+"/events", nil, &l, c.maxRetries)
	return l.Events, err
}

func (c *Client) writeRetries() int { return min(1, c.maxRetries) }

func (c *Client) needID(op, id string) error {
	if id == "" {
		return c.invalid(op, "id_required")
	}
	return nil
}

func (c *Client) invalid(op, msg string) error {
	return &providers.Error{Provider: providers.Onecheckout, Op: op, Kind: providers.ErrInvalid, Message: msg}
}

// do sends one API call, retrying a 429 at most retries times while its Retry-After is short
// and fits the context's deadline.
func (c *Client) do(ctx context.Context, op, method, path string, in, out any, retries int) error {
	var payload []byte
	if in != nil {
		var err error
		if payload, err = json.Marshal(in); err != nil {
			return &providers.Error{Provider: providers.Onecheckout, Op: op, Kind: providers.ErrInvalid, Err: err}
		}
	}
	for attempt := 0; ; attempt++ {
		status, header, body, err := c.send(ctx, method, path, payload)
		if errors.Is(err, errThrottled) {
			return &providers.Error{Provider: providers.Onecheckout, Op: op, Kind: providers.ErrRateLimited, Err: err}
		}
		if err != nil {
			return &providers.Error{Provider: providers.Onecheckout, Op: op, Kind: providers.ErrUnavailable, Err: c.scrubErr(err)}
		}
		switch {
		case status >= 200 && status < 300:
			if out == nil {
				return nil
			}
			if err := json.Unmarshal(body, out); err != nil {
				return &providers.Error{Provider: providers.Onecheckout, Op: op, Kind: providers.ErrUnavailable,
					HTTPStatus: status, Message: "malformed response", Err: err}
			}
			return nil
		case status == http.StatusTooManyRequests:
			e := c.apiError(op, status, header, body)
			wait, given := retryAfter(header, time.Now())
			if !given {
				wait = time.Duration(attempt+1) * 250 * time.Millisecond
			}
			if attempt >= retries || wait > c.maxWait || !fits(ctx, wait) {
				return e
			}
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				return e
			}
		default:
			return c.apiError(op, status, header, body)
		}
	}
}

// errThrottled marks a request the client's own limits could not admit in time: it was never
// sent.
var errThrottled = errors.New("busy: client-side rate limit")

// send makes one HTTP attempt within the client's limits and reads the whole answer. The wait
// for a turn is bounded by MaxQueueWait (rate.Limiter.Wait gives up at once when the wait
// would pass the deadline, without using a token).
func (c *Client) send(ctx context.Context, method, path string, payload []byte) (int, http.Header, []byte, error) {
	queue, cancelQueue := context.WithTimeout(ctx, c.queueWait)
	defer cancelQueue()
	// notSent says why the request never left: the caller gave up, or no turn came in time.
	notSent := func(why string) error {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%w: %w", errThrottled, err)
		}
		return fmt.Errorf("%w: %s within %s", errThrottled, why, c.queueWait)
	}
	if err := c.limiter.Wait(queue); err != nil {
		return 0, nil, nil, notSent("no request allowed by the per-minute limit")
	}
	select {
	case c.sem <- struct{}{}:
	case <-queue.Done():
		return 0, nil, nil, notSent("no free slot among " + strconv.Itoa(cap(c.sem)) + " in flight")
	}
	defer func() { <-c.sem }()

	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+string(c.key))
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "kassa-onecheckout/1")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return 0, nil, nil, err
	}
	return resp.StatusCode, resp.Header, data, nil
}

// apiError turns an error answer into a *providers.Error, reading either documented shape.
func (c *Client) apiError(op string, status int, header http.Header, body []byte) error {
	code, msg := parseErrorBody(body)
	e := &providers.Error{
		Provider:   providers.Onecheckout,
		Op:         op,
		Kind:       errorKind(status, code),
		Code:       code,
		Message:    c.key.scrub(msg),
		HTTPStatus: status,
	}
	if status == http.StatusTooManyRequests {
		e.RetryAfter, _ = retryAfter(header, time.Now())
	}
	return e
}

// scrubErr keeps the key out of transport errors (it never is in a URL, but a proxy's error
// text could echo a header).
func (c *Client) scrubErr(err error) error {
	if s := err.Error(); c.key.scrub(s) != s {
		return errors.New(c.key.scrub(s))
	}
	return err
}

// parseErrorBody reads the code and message of an error body in either documented shape; a
// body that is not JSON yields its first line as the message.
func parseErrorBody(body []byte) (code, msg string) {
	var r errorResponse
	if err := json.Unmarshal(body, &r); err != nil {
		text, _, _ := strings.Cut(strings.TrimSpace(string(body)), "\n")
		return "", clip(text)
	}
	code, msg = r.Error.Code, r.Error.Message
	if msg == "" {
		msg = r.Message
	}
	var issues []string
	for _, d := range r.Error.Details {
		if d.Field != "" || d.Issue != "" {
			issues = append(issues, d.Field+": "+d.Issue)
		}
	}
	if len(issues) > 0 {
		msg = strings.TrimSpace(msg + " (" + strings.Join(issues, ", ") + ")")
	}
	return clip(code), clip(msg)
}

func clip(s string) string {
	const n = 300
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}

// retryAfter reads Retry-After in seconds or as an HTTP date.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0, false
		}
		return time.Duration(min(n, 86400)) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, t.Sub(now)), true
	}
	return 0, false
}

// fits reports whether waiting d still leaves time before ctx's deadline.
func fits(ctx context.Context, d time.Duration) bool {
	deadline, ok := ctx.Deadline()
	return !ok || time.Until(deadline) > d
}
