package providers

import (
	"errors"
	"fmt"
	"net"
	"time"
)

// The kinds of provider failure Kassa acts on differently. Adapters wrap them in *Error; callers
// test with errors.Is.
var (
	// ErrDeclined: the provider refused the payment itself.
	ErrDeclined = errors.New("declined")
	// ErrInvalid: the provider rejected the request as malformed; retrying will not help.
	ErrInvalid = errors.New("invalid request")
	// ErrAuth: the provider rejected Kassa's credentials.
	ErrAuth = errors.New("authentication failed")
	// ErrNotFound: the provider does not know the order.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the order is in a state that does not allow the operation.
	ErrConflict = errors.New("conflict")
	// ErrRateLimited: the provider asked us to slow down; retry after Error.RetryAfter.
	ErrRateLimited = errors.New("rate limited")
	// ErrUnavailable: the provider failed, timed out or could not be reached; the outcome of
	// the call is unknown and a later retry or status fetch will tell.
	ErrUnavailable = errors.New("unavailable")
)

// Error is a failed provider call, in Kassa's kinds and the provider's own words.
type Error struct {
	Provider ID
	Op       string // "create order", "fetch order", ...
	Kind     error  // one of the Err* values above
	// Code and Message are the provider's error code and text, for logs and support.
	Code       string
	Message    string
	HTTPStatus int
	// RetryAfter is the provider's requested wait, when it gave one.
	RetryAfter time.Duration
	// Err is the underlying transport error, if any.
	Err error
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%s: %s: %v", e.Provider, e.Op, e.Kind)
	if e.HTTPStatus != 0 {
		s += fmt.Sprintf(" (HTTP %d)", e.HTTPStatus)
	}
	if e.Code != "" {
		s += ": " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap lets errors.Is match both the kind and the transport error.
func (e *Error) Unwrap() []error {
	if e.Err != nil {
		return []error{e.Kind, e.Err}
	}
	return []error{e.Kind}
}

// ErrNotSent marks an ErrUnavailable failure where the request provably never reached the
// provider (the connection was refused, the host did not resolve, a local rate limiter gave up
// before sending). Clients add it beside ErrUnavailable; OutcomeUnknown also recognises the
// standard library's dial errors without it.
var ErrNotSent = errors.New("request not sent")

// OutcomeUnknown reports whether a failed call that may change something at the provider (a
// create, a capture) may nevertheless have acted: a timeout, a reset connection, a 5xx, or an
// answer Kassa could not read. Kassa then assumes the provider may have acted, keeps the attempt
// live and looks it up again, rather than calling it failed on a guess. A refusal (4xx, 429) or
// a request that never left Kassa is a known outcome.
func OutcomeUnknown(err error) bool {
	if err == nil || !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrNotSent) {
		return false
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return false
	}
	var dns *net.DNSError
	return !errors.As(err, &dns)
}

// Temporary reports whether err is worth retrying later: rate limits and unavailability.
func Temporary(err error) bool {
	return errors.Is(err, ErrRateLimited) || errors.Is(err, ErrUnavailable)
}

// KindForHTTPStatus maps an HTTP status without a more specific provider code to a kind.
func KindForHTTPStatus(status int) error {
	switch {
	case status == 401 || status == 403:
		return ErrAuth
	case status == 404:
		return ErrNotFound
	case status == 409:
		return ErrConflict
	case status == 429:
		return ErrRateLimited
	case status >= 500:
		return ErrUnavailable
	case status >= 400:
		return ErrInvalid
	}
	return nil
}
