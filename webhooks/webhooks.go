// Package webhooks sends merchant webhooks: it signs a message by the Standard Webhooks v1
// spec (with the standard's own Go library) and POSTs it over an HTTP client built for
// untrusted destinations: it refuses loopback, private and link-local addresses after DNS
// resolution, follows no redirects, uses no proxy from the environment and gives up after
// 10 s. It knows nothing of payments: checkout decides what to send and what an answer means.
package webhooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// Timeout is how long one delivery attempt may take, connection to last byte of the answer.
const Timeout = 10 * time.Second

// maxResponse is how much of an answer is kept for the delivery log.
const maxResponse = 1024

// Message is one signed POST.
type Message struct {
	URL       string
	ID        string // webhook-id: the same on every retry of one event
	Timestamp time.Time
	Body      []byte
	// Secrets sign the message, each giving one signature in webhook-signature: during a
	// secret rotation, the new and the previous secret.
	Secrets []string
}

// Result is what one attempt came to.
type Result struct {
	// Status is the HTTP status answered, 0 when none was.
	Status int
	// Err describes why no 2xx was had: a transport error, a refused address, a timeout,
	// or "HTTP 500".
	Err      error
	Duration time.Duration
	// Response is the first 1 KB of the answer's body, as valid UTF-8.
	Response string
	// RetryAfter is what a 429 or 503 asked for in Retry-After, else 0.
	RetryAfter time.Duration
}

// Delivered reports whether the receiver accepted the message (a 2xx).
func (r Result) Delivered() bool { return r.Err == nil && r.Status >= 200 && r.Status < 300 }

// Config tunes a Client.
type Config struct {
	// AllowPrivate lets webhooks reach loopback and private addresses (development, tests).
	AllowPrivate bool
	// Timeout bounds one attempt; default Timeout.
	Timeout time.Duration
	// UserAgent is sent with each request; default "Kassa-Webhooks/1".
	UserAgent string
}

// Client sends webhooks. It is safe for concurrent use.
type Client struct {
	http      *http.Client
	timeout   time.Duration
	userAgent string
	allow     bool
}

// New returns a Client.
func New(c Config) *Client {
	if c.Timeout == 0 {
		c.Timeout = Timeout
	}
	if c.UserAgent == "" {
		c.UserAgent = "Kassa-Webhooks/1"
	}
	dialer := &net.Dialer{Timeout: c.Timeout, KeepAlive: 30 * time.Second, Control: dialControl(c.AllowPrivate)}
	transport := &http.Transport{
		Proxy:                 nil, // a proxy would connect on our behalf, past the address check
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   c.Timeout,
		ResponseHeaderTimeout: c.Timeout,
	}
	return &Client{
		http: &http.Client{Transport: transport, Timeout: c.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		timeout:   c.Timeout,
		userAgent: c.UserAgent,
		allow:     c.AllowPrivate,
	}
}

// AllowPrivate reports whether the client may reach private addresses.
func (c *Client) AllowPrivate() bool { return c.allow }

// Sign returns the webhook-signature header value: one "v1,<base64>" per secret, separated by
// spaces, each an HMAC-SHA256 of "{id}.{timestamp}.{body}" keyed by the secret's base64-decoded
// part after "whsec_".
func Sign(id string, ts time.Time, body []byte, secrets []string) (string, error) {
	if len(secrets) == 0 {
		return "", errors.New("webhooks: no signing secret")
	}
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		wh, err := standardwebhooks.NewWebhook(s)
		if err != nil {
			return "", fmt.Errorf("webhooks: secret: %w", err)
		}
		sig, err := wh.Sign(id, ts, body)
		if err != nil {
			return "", fmt.Errorf("webhooks: sign: %w", err)
		}
		sigs = append(sigs, sig)
	}
	return strings.Join(sigs, " "), nil
}

// Send makes one attempt to deliver m.
func (c *Client) Send(ctx context.Context, m Message) Result {
	start := time.Now()
	res := c.send(ctx, m)
	res.Duration = time.Since(start)
	return res
}

func (c *Client) send(ctx context.Context, m Message) Result {
	sig, err := Sign(m.ID, m.Timestamp, m.Body, m.Secrets)
	if err != nil {
		return Result{Err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.URL, bytes.NewReader(m.Body))
	if err != nil {
		return Result{Err: fmt.Errorf("webhooks: %w", err)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	req.Header.Set(standardwebhooks.HeaderWebhookID, m.ID)
	req.Header.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(m.Timestamp.Unix(), 10))
	req.Header.Set(standardwebhooks.HeaderWebhookSignature, sig)
	resp, err := c.http.Do(req)
	if err != nil {
		return Result{Err: c.describe(err)}
	}
	defer resp.Body.Close()
	head, rerr := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	// Drain a little more so the connection can be reused; a huge answer is cut off.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	res := Result{Status: resp.StatusCode, Response: strings.ToValidUTF8(string(head), "\uFFFD")}
	if !utf8.ValidString(res.Response) {
		res.Response = ""
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		res.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	switch {
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		res.Err = fmt.Errorf("HTTP %d", resp.StatusCode)
	case rerr != nil:
		// A 2xx whose body broke off still tells us the receiver accepted the message.
	}
	return res
}

// describe turns a transport error into a short message for the delivery log.
func (c *Client) describe(err error) error {
	var refused *RefusedError
	if errors.As(err, &refused) {
		return refused
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("timed out after %s", c.timeout)
	}
	if errors.Is(err, context.Canceled) {
		return errors.New("cancelled")
	}
	return err
}

// parseRetryAfter reads Retry-After as seconds or an HTTP date; 0 when absent or unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		if n > int64(7*24*time.Hour/time.Second) {
			n = int64(7 * 24 * time.Hour / time.Second)
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
