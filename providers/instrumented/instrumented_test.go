package instrumented_test

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"testing"

	"github.com/kassa-pay/kassa/providers"
	"github.com/kassa-pay/kassa/providers/enkash"
	"github.com/kassa-pay/kassa/providers/instrumented"
	"github.com/kassa-pay/kassa/providers/kspay"
	"github.com/kassa-pay/kassa/providers/onecheckout"
	"github.com/kassa-pay/kassa/providers/onekhusa"
)

func abilities(p providers.Provider) string {
	s := ""
	if _, ok := p.(providers.Capturer); ok {
		s += "C"
	}
	if _, ok := p.(providers.Refunder); ok {
		s += "R"
	}
	if _, ok := p.(providers.MethodLister); ok {
		s += "M"
	}
	if _, ok := p.(providers.CallbackReceiver); ok {
		s += "B"
	}
	if _, ok := p.(providers.PhoneChecker); ok {
		s += "P"
	}
	return s
}

// TestWrapKeepsAbilities: a wrapped adapter has exactly the optional abilities of the adapter,
// so Kassa's type assertions (capture, refunds through the API, methods, callbacks) still hold.
func TestWrapKeepsAbilities(t *testing.T) {
	for _, p := range []providers.Provider{
		onecheckout.New(onecheckout.Config{BaseURL: "http://127.0.0.1:1"}),
		enkash.New(enkash.Config{BaseURL: "http://127.0.0.1:1"}),
		kspay.New(kspay.Config{BaseURL: "http://127.0.0.1:1"}),
		onekhusa.New(onekhusa.Config{BaseURL: "http://127.0.0.1:1"}),
	} {
		w := instrumented.Wrap(p)
		if got, want := abilities(w), abilities(p); got != want {
			t.Errorf("%s: wrapped abilities %q, want %q", p.ID(), got, want)
		}
		if w.ID() != p.ID() || w.Name() != p.Name() {
			t.Errorf("%s: wrapped id/name %s/%s", p.ID(), w.ID(), w.Name())
		}
		if u, ok := w.(interface{ Unwrap() providers.Provider }); !ok || u.Unwrap() != p {
			t.Errorf("%s: Unwrap does not return the adapter", p.ID())
		}
	}
}

// fake is a provider whose calls fail with err; it can capture.
type fake struct{ err error }

func (f fake) ID() providers.ID                             { return "fake" }
func (f fake) Name() string                                 { return "Fake" }
func (f fake) Currencies(context.Context) ([]string, error) { return []string{"USD"}, f.err }
func (f fake) ParseReturn(url.Values) providers.ReturnHint  { return providers.ReturnHint{} }
func (f fake) CreateOrder(context.Context, providers.Order) (providers.Session, error) {
	return providers.Session{ProviderRef: "o1"}, f.err
}
func (f fake) FetchOrder(context.Context, providers.Lookup) (providers.Result, error) {
	return providers.Result{}, f.err
}
func (f fake) Capture(context.Context, providers.Lookup) (providers.Result, error) {
	return providers.Result{Status: providers.StatusPaid}, f.err
}

func TestObserversSeeEveryCall(t *testing.T) {
	var calls []instrumented.Call
	obs := func(_ context.Context, c instrumented.Call) { calls = append(calls, c) }
	ctx := context.Background()

	w := instrumented.Wrap(fake{}, obs)
	if s, err := w.CreateOrder(ctx, providers.Order{}); err != nil || s.ProviderRef != "o1" {
		t.Fatalf("CreateOrder = %v, %v: the answer must pass through", s, err)
	}
	if r, err := w.(providers.Capturer).Capture(ctx, providers.Lookup{}); err != nil || r.Status != providers.StatusPaid {
		t.Fatalf("Capture = %v, %v", r, err)
	}
	down := &providers.Error{Provider: "fake", Op: "fetch order", Kind: providers.ErrUnavailable, HTTPStatus: 502}
	if _, err := instrumented.Wrap(fake{err: down}, obs).FetchOrder(ctx, providers.Lookup{}); err != down {
		t.Fatalf("FetchOrder error %v, want the adapter's", err)
	}
	want := []struct{ op, outcome string }{
		{instrumented.OpCreateOrder, instrumented.OutcomeOK},
		{instrumented.OpCapture, instrumented.OutcomeOK},
		{instrumented.OpFetchOrder, instrumented.OutcomeUnavailable},
	}
	if len(calls) != len(want) {
		t.Fatalf("observed %d calls, want %d", len(calls), len(want))
	}
	for i, w := range want {
		if calls[i].Provider != "fake" || calls[i].Operation != w.op || calls[i].Outcome != w.outcome {
			t.Errorf("call %d = %+v, want %s/%s", i, calls[i], w.op, w.outcome)
		}
	}
}

func TestOutcome(t *testing.T) {
	perr := func(kind error) error { return &providers.Error{Provider: "fake", Op: "x", Kind: kind} }
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		ctx  context.Context
		err  error
		want string
	}{
		{context.Background(), nil, instrumented.OutcomeOK},
		{context.Background(), perr(providers.ErrUnavailable), instrumented.OutcomeUnavailable},
		{context.Background(), perr(providers.ErrDeclined), instrumented.OutcomeDeclined},
		{context.Background(), perr(providers.ErrInvalid), instrumented.OutcomeInvalid},
		{context.Background(), perr(providers.ErrRateLimited), instrumented.OutcomeRateLimited},
		{context.Background(), perr(providers.ErrAuth), instrumented.OutcomeAuth},
		{context.Background(), fmt.Errorf("x: %w", context.DeadlineExceeded), instrumented.OutcomeUnavailable},
		{context.Background(), &net.OpError{Op: "dial", Err: fmt.Errorf("connection refused")}, instrumented.OutcomeUnavailable},
		{context.Background(), fmt.Errorf("adapter bug"), instrumented.OutcomeError},
		// The shopper went away: not the provider's failure, even when wrapped as unavailable.
		{cancelled, perr(providers.ErrUnavailable), instrumented.OutcomeCanceled},
	} {
		if got := instrumented.Outcome(tc.ctx, tc.err); got != tc.want {
			t.Errorf("Outcome(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
}
