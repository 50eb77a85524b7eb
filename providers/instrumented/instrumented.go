// Package instrumented wraps a providers.Provider so that every call to the provider's API is
// timed and classified, and the outcome handed to observers: the Prometheus metrics and the
// provider circuit breaker (providers/health) both watch calls this way, without any adapter
// knowing about either.
//
// The wrapper keeps the provider's optional abilities exactly: a wrapped provider implements
// providers.Capturer (or Refunder, MethodLister, CallbackReceiver, PhoneChecker) if and only if
// the provider it wraps does, so type assertions elsewhere in Kassa keep their meaning. The
// combinations are generated (go generate) into combos_gen.go.
package instrumented

//go:generate go run gen.go

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/kassa-pay/kassa/providers"
)

// Operation names, as they appear in the metrics' operation label.
const (
	OpCurrencies  = "currencies"
	OpCreateOrder = "create order"
	OpFetchOrder  = "fetch order"
	OpCapture     = "capture"
	OpRefund      = "refund"
	OpVoid        = "void"
	OpMethods     = "methods"
)

// Outcomes of a call, as they appear in the metrics' outcome label.
const (
	OutcomeOK          = "ok"
	OutcomeDeclined    = "declined"
	OutcomeInvalid     = "invalid"
	OutcomeAuth        = "auth"
	OutcomeNotFound    = "not_found"
	OutcomeConflict    = "conflict"
	OutcomeRateLimited = "rate_limited"
	// OutcomeUnavailable: a timeout, a 5xx or a connection failure — the provider itself is
	// in trouble. Only this outcome counts against a provider's circuit breaker.
	OutcomeUnavailable = "unavailable"
	// OutcomeCanceled: Kassa's caller gave up (the shopper left, the process is stopping);
	// it says nothing about the provider.
	OutcomeCanceled = "canceled"
	// OutcomeError: an error of no known kind, usually raised inside the adapter.
	OutcomeError = "error"
)

// Call is one finished call to a provider's API.
type Call struct {
	Provider  providers.ID
	Operation string
	Outcome   string
	Err       error
	Duration  time.Duration
}

// Observer is told of every call. It runs on the caller's goroutine, after the call, so it
// must be quick.
type Observer func(ctx context.Context, c Call)

// Outcome classifies a provider call's error. ctx is the call's context: when the caller
// cancelled it, the failure is the caller's, not the provider's.
func Outcome(ctx context.Context, err error) string {
	if err == nil {
		return OutcomeOK
	}
	if errors.Is(ctx.Err(), context.Canceled) || (errors.Is(err, context.Canceled) && !errors.Is(err, providers.ErrUnavailable)) {
		return OutcomeCanceled
	}
	kinds := []struct {
		kind    error
		outcome string
	}{
		{providers.ErrUnavailable, OutcomeUnavailable},
		{providers.ErrRateLimited, OutcomeRateLimited},
		{providers.ErrDeclined, OutcomeDeclined},
		{providers.ErrInvalid, OutcomeInvalid},
		{providers.ErrAuth, OutcomeAuth},
		{providers.ErrNotFound, OutcomeNotFound},
		{providers.ErrConflict, OutcomeConflict},
	}
	for _, k := range kinds {
		if errors.Is(err, k.kind) {
			return k.outcome
		}
	}
	// An adapter that did not classify a transport failure: a timeout or a network error is
	// still the provider (or the way to it) failing.
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) {
		return OutcomeUnavailable
	}
	return OutcomeError
}

// Provider is a wrapped provider. Wrap returns it (or a type embedding it with the optional
// abilities of the wrapped provider).
type Provider struct {
	inner     providers.Provider
	observers []Observer
	now       func() time.Time
}

// Wrap returns p with every API call observed by observers.
func Wrap(p providers.Provider, observers ...Observer) providers.Provider {
	return compose(&Provider{inner: p, observers: observers, now: time.Now})
}

// Unwrap returns the provider Wrap was given.
func (w *Provider) Unwrap() providers.Provider { return w.inner }

// observe runs call, then tells every observer how it went.
func (w *Provider) observe(ctx context.Context, op string, call func() error) error {
	start := w.now()
	err := call()
	c := Call{Provider: w.inner.ID(), Operation: op, Outcome: Outcome(ctx, err), Err: err, Duration: w.now().Sub(start)}
	for _, o := range w.observers {
		o(ctx, c)
	}
	return err
}

// ID implements providers.Provider.
func (w *Provider) ID() providers.ID { return w.inner.ID() }

// Name implements providers.Provider.
func (w *Provider) Name() string { return w.inner.Name() }

// Currencies implements providers.Provider. Adapters cache their currency list, so most of
// these calls never leave the process; they are observed all the same, since a refresh that
// fails is a provider failure.
func (w *Provider) Currencies(ctx context.Context) (cs []string, err error) {
	err = w.observe(ctx, OpCurrencies, func() error { cs, err = w.inner.Currencies(ctx); return err })
	return cs, err
}

// CreateOrder implements providers.Provider.
func (w *Provider) CreateOrder(ctx context.Context, o providers.Order) (s providers.Session, err error) {
	err = w.observe(ctx, OpCreateOrder, func() error { s, err = w.inner.CreateOrder(ctx, o); return err })
	return s, err
}

// FetchOrder implements providers.Provider.
func (w *Provider) FetchOrder(ctx context.Context, l providers.Lookup) (r providers.Result, err error) {
	err = w.observe(ctx, OpFetchOrder, func() error { r, err = w.inner.FetchOrder(ctx, l); return err })
	return r, err
}

// ParseReturn implements providers.Provider; it reads a query string and calls nothing.
func (w *Provider) ParseReturn(q url.Values) providers.ReturnHint { return w.inner.ParseReturn(q) }

// The optional abilities, each delegating to the wrapped provider (which compose has checked
// implements it).

type capturer struct{ *Provider }

// Capture implements providers.Capturer.
func (w capturer) Capture(ctx context.Context, l providers.Lookup) (r providers.Result, err error) {
	err = w.observe(ctx, OpCapture, func() error { r, err = w.inner.(providers.Capturer).Capture(ctx, l); return err })
	return r, err
}

type refunder struct{ *Provider }

// Refund implements providers.Refunder.
func (w refunder) Refund(ctx context.Context, rf providers.Refund) (r providers.RefundResult, err error) {
	err = w.observe(ctx, OpRefund, func() error { r, err = w.inner.(providers.Refunder).Refund(ctx, rf); return err })
	return r, err
}

type voider struct{ *Provider }

// Void implements providers.Voider.
func (w voider) Void(ctx context.Context, l providers.Lookup) (r providers.Result, err error) {
	err = w.observe(ctx, OpVoid, func() error { r, err = w.inner.(providers.Voider).Void(ctx, l); return err })
	return r, err
}

type methodLister struct{ *Provider }

// Methods implements providers.MethodLister.
func (w methodLister) Methods(ctx context.Context, cur string) (ms []providers.Method, err error) {
	err = w.observe(ctx, OpMethods, func() error { ms, err = w.inner.(providers.MethodLister).Methods(ctx, cur); return err })
	return ms, err
}

type callbackReceiver struct{ *Provider }

// ReadCallback implements providers.CallbackReceiver. It authenticates a request Kassa
// received and calls nothing, so it is not observed.
func (w callbackReceiver) ReadCallback(ctx context.Context, h http.Header, body []byte) (providers.CallbackHint, error) {
	return w.inner.(providers.CallbackReceiver).ReadCallback(ctx, h, body)
}

type phoneChecker struct{ *Provider }

// CheckPhone implements providers.PhoneChecker; it is local and not observed.
func (w phoneChecker) CheckPhone(method, phone string) (string, error) {
	return w.inner.(providers.PhoneChecker).CheckPhone(method, phone)
}
