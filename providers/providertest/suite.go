package providertest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kassa-pay/kassa/providers"
	"github.com/kassa-pay/kassa/providers/currency"
)

// Harness is one adapter wired to its sandbox, with the hooks the suite needs to make the
// sandbox misbehave.
type Harness struct {
	// Provider is the adapter under test, configured with the sandbox's credentials and a
	// client timeout shorter than the sandbox's slow delay.
	Provider providers.Provider
	// BadCredentials is the same adapter with credentials the sandbox rejects.
	BadCredentials providers.Provider
	// Shopper completes sessions; nil means FormShopper.
	Shopper Shopper
	// Currency is one the provider serves; the ordinary journeys use it.
	Currency string
	// ConversionCurrencies are served currencies covering the exponents the provider supports
	// (0, 2 and 3 decimals where it serves them); each round-trips an awkward amount.
	ConversionCurrencies []string
	// Method and Payer are sent with every order, for providers whose journey needs them.
	Method string
	Payer  providers.Payer
	// ExpireOrder makes the sandbox let the order time out unpaid.
	ExpireOrder func(t *testing.T, providerRef string)
	// ExpireTokens makes every access token the sandbox has issued invalid, so the next call
	// must renew mid-flow. Nil for providers with static keys.
	ExpireTokens func(t *testing.T)
	// CancelGoesToCancelURL is set for providers that send a cancelled shopper to the order's
	// CancelURL rather than its ReturnURL.
	CancelGoesToCancelURL bool
}

var seq atomic.Int64

// Run runs the whole conformance suite.
func Run(t *testing.T, h Harness) {
	if h.Shopper == nil {
		h.Shopper = FormShopper{}
	}
	p := h.Provider
	exp, ok := currency.Exponent(h.Currency)
	if !ok {
		t.Fatalf("harness currency %q is not ISO 4217", h.Currency)
	}
	major := func(n int64) int64 {
		for range exp {
			n *= 10
		}
		return n
	}
	ctx := context.Background()
	// 12.34 in a 2-decimal currency, 12.034 in a 3-decimal one, 12 in a 0-decimal one.
	ordinary := major(12) + 34%major(1)

	t.Run("identity", func(t *testing.T) {
		if p.ID() == "" || p.Name() == "" {
			t.Fatalf("ID %q, Name %q: both must be set", p.ID(), p.Name())
		}
	})

	t.Run("currencies", func(t *testing.T) {
		cs, err := p.Currencies(ctx)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, c := range cs {
			if !currency.Valid(c) {
				t.Errorf("currency %q is not ISO 4217", c)
			}
			found = found || c == h.Currency
		}
		if !found {
			t.Errorf("currencies %v do not include %s", cs, h.Currency)
		}
	})

	t.Run("create then fetch is pending", func(t *testing.T) {
		s := h.create(t, ordinary, h.Currency)
		if s.ProviderRef == "" {
			t.Fatal("session has no provider ref")
		}
		if s.PayURL != "" {
			u, err := url.Parse(s.PayURL)
			if err != nil || !u.IsAbs() {
				t.Fatalf("pay URL %q is not absolute", s.PayURL)
			}
		}
		r := h.fetch(t, s)
		if r.Status != providers.StatusPending {
			t.Fatalf("status %q, want pending", r.Status)
		}
		if r.Amount != ordinary || r.Currency != h.Currency {
			t.Fatalf("provider says %d %s, want %d %s", r.Amount, r.Currency, ordinary, h.Currency)
		}
	})

	t.Run("pay", func(t *testing.T) {
		s := h.create(t, ordinary, h.Currency)
		back := h.complete(t, s, Pay)
		h.checkReturn(t, s, back, false)
		r := h.fetch(t, s)
		if r.Status != providers.StatusPaid {
			t.Fatalf("status %q after paying, want paid", r.Status)
		}
		if r.Amount != ordinary || r.Currency != h.Currency {
			t.Fatalf("paid %d %s, want %d %s", r.Amount, r.Currency, ordinary, h.Currency)
		}
		again := h.fetch(t, s)
		if again.Status != providers.StatusPaid {
			t.Fatalf("second fetch says %q: verification must be repeatable", again.Status)
		}
		if c, ok := p.(providers.Capturer); ok {
			r, err := c.Capture(ctx, h.lookup(s))
			if err == nil && r.Status != providers.StatusPaid {
				t.Fatalf("capturing a paid order says %q", r.Status)
			}
		}
	})

	t.Run("decline on the page", func(t *testing.T) {
		s := h.create(t, ordinary, h.Currency)
		back := h.complete(t, s, Decline)
		h.checkReturn(t, s, back, h.CancelGoesToCancelURL)
		if r := h.fetch(t, s); r.Status != providers.StatusDeclined {
			t.Fatalf("status %q after declining, want declined", r.Status)
		}
	})

	t.Run("declined by the issuer", func(t *testing.T) {
		s := h.create(t, major(MagicDecline), h.Currency)
		h.complete(t, s, Pay)
		if r := h.fetch(t, s); r.Status != providers.StatusDeclined {
			t.Fatalf("status %q for the decline amount, want declined", r.Status)
		}
	})

	t.Run("cancel", func(t *testing.T) {
		s := h.create(t, ordinary, h.Currency)
		back := h.complete(t, s, Cancel)
		h.checkReturn(t, s, back, h.CancelGoesToCancelURL)
		r := h.fetch(t, s)
		if r.Status != providers.StatusCancelled {
			t.Fatalf("status %q after cancelling, want cancelled", r.Status)
		}
	})

	t.Run("expired order", func(t *testing.T) {
		s := h.create(t, ordinary, h.Currency)
		h.ExpireOrder(t, s.ProviderRef)
		r := h.fetch(t, s)
		if r.Status != providers.StatusExpired && r.Status != providers.StatusCancelled {
			t.Fatalf("status %q after expiry, want expired (or cancelled where the provider has no expired status)", r.Status)
		}
	})

	t.Run("unknown order", func(t *testing.T) {
		_, err := p.FetchOrder(ctx, providers.Lookup{ProviderRef: "kassa-unknown-" + fmt.Sprint(seq.Add(1)), Reference: "att_unknown", Currency: h.Currency})
		if !errors.Is(err, providers.ErrNotFound) {
			t.Fatalf("fetching an unknown order: %v, want ErrNotFound", err)
		}
	})

	t.Run("bad credentials", func(t *testing.T) {
		_, err := h.BadCredentials.CreateOrder(ctx, h.order(ordinary, h.Currency))
		if !errors.Is(err, providers.ErrAuth) {
			t.Fatalf("create with bad credentials: %v, want ErrAuth", err)
		}
	})

	t.Run("provider error on create", func(t *testing.T) {
		_, err := p.CreateOrder(ctx, h.order(major(MagicCreateServerError), h.Currency))
		if !errors.Is(err, providers.ErrUnavailable) {
			t.Fatalf("create on a failing provider: %v, want ErrUnavailable", err)
		}
	})

	t.Run("rate limited on create", func(t *testing.T) {
		_, err := p.CreateOrder(ctx, h.order(major(MagicCreateRateLimited), h.Currency))
		if !errors.Is(err, providers.ErrRateLimited) {
			t.Fatalf("create while rate limited: %v, want ErrRateLimited", err)
		}
	})

	t.Run("slow provider times out", func(t *testing.T) {
		t.Parallel() // waits out the client's timeout: overlap it with the other slow case
		_, err := p.CreateOrder(ctx, h.order(major(MagicCreateSlow), h.Currency))
		if !errors.Is(err, providers.ErrUnavailable) {
			t.Fatalf("create on a slow provider: %v, want ErrUnavailable", err)
		}
	})

	// A create whose answer is lost after the provider acted (a late answer, a reset
	// connection, a 5xx) must read as an unknown outcome, never as a refusal, and the order
	// must be found again by Kassa's reference once the provider answers: that is how an
	// attempt converges to the truth instead of losing a payment the shopper may make.
	for _, fault := range []struct {
		name   string
		amount int64
	}{
		{"slow answer after acting", MagicCreateSlow},
		{"connection reset after acting", MagicCreateResetAfterActing},
		{"5xx after acting", MagicCreateServerErrorAfterActing},
	} {
		t.Run("unknown create outcome converges: "+fault.name, func(t *testing.T) {
			if fault.amount == MagicCreateSlow {
				t.Parallel() // waits out the client's timeout
			}
			o := h.order(major(fault.amount), h.Currency)
			asked := time.Now()
			sess, err := p.CreateOrder(ctx, o)
			switch {
			case err == nil && sess.ProviderRef == "":
				t.Fatal("the adapter recovered the create but returned no provider ref")
			case err != nil && !providers.OutcomeUnknown(err):
				t.Fatalf("create that may have acted: %v, want an unknown outcome (ErrUnavailable, not a refusal)", err)
			}
			r, err := p.FetchOrder(ctx, providers.Lookup{Reference: o.Reference, Currency: o.Currency, CreatedAt: asked})
			if err != nil {
				t.Fatalf("looking the order up by Kassa's reference: %v", err)
			}
			if r.ProviderRef == "" || r.Status != providers.StatusPending || r.Amount != o.Amount || r.Currency != o.Currency {
				t.Fatalf("found %+v, want the pending order of %d %s with its provider ref", r, o.Amount, o.Currency)
			}
			if sess.ProviderRef != "" && sess.ProviderRef != r.ProviderRef {
				t.Fatalf("found order %q, the create answered %q", r.ProviderRef, sess.ProviderRef)
			}
			again, err := p.FetchOrder(ctx, providers.Lookup{ProviderRef: r.ProviderRef, Reference: o.Reference, Currency: o.Currency, CreatedAt: asked})
			if err != nil || again.Status != providers.StatusPending || again.Amount != o.Amount {
				t.Fatalf("fetching the found order by its provider ref: %+v, %v", again, err)
			}
		})
	}

	t.Run("lookup by reference of an order never created", func(t *testing.T) {
		o := h.order(ordinary, h.Currency)
		_, err := p.FetchOrder(ctx, providers.Lookup{Reference: o.Reference, Currency: o.Currency, CreatedAt: time.Now()})
		if !errors.Is(err, providers.ErrNotFound) {
			t.Fatalf("looking up a reference no order carries: %v, want ErrNotFound", err)
		}
	})

	t.Run("provider down during verification", func(t *testing.T) {
		s := h.create(t, major(MagicFetchServerError), h.Currency)
		_, err := p.FetchOrder(ctx, h.lookup(s))
		if !providers.Temporary(err) {
			t.Fatalf("fetch on a failing provider: %v, want a temporary error", err)
		}
	})

	if h.ExpireTokens != nil {
		t.Run("token expires mid-flow", func(t *testing.T) {
			s := h.create(t, ordinary, h.Currency)
			h.ExpireTokens(t)
			h.complete(t, s, Pay)
			if r := h.fetch(t, s); r.Status != providers.StatusPaid {
				t.Fatalf("status %q after paying across a token expiry, want paid", r.Status)
			}
			h.ExpireTokens(t)
			h.create(t, ordinary, h.Currency)
		})
	}

	if c, ok := p.(providers.Capturer); ok {
		t.Run("authorize then capture", func(t *testing.T) {
			s := h.create(t, major(MagicAuthorizeOnly), h.Currency)
			h.complete(t, s, Pay)
			if r := h.fetch(t, s); r.Status != providers.StatusAuthorized {
				t.Fatalf("status %q for the authorize-only amount, want authorized", r.Status)
			}
			r, err := c.Capture(ctx, h.lookup(s))
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != providers.StatusPaid {
				t.Fatalf("status %q after capture, want paid", r.Status)
			}
			if r := h.fetch(t, s); r.Status != providers.StatusPaid {
				t.Fatalf("status %q after capture, want paid", r.Status)
			}
		})
	}

	if rf, ok := p.(providers.Refunder); ok {
		t.Run("refunds", func(t *testing.T) { h.refunds(t, rf, major) })
	}

	t.Run("amount conversion", func(t *testing.T) {
		for _, cur := range h.ConversionCurrencies {
			t.Run(cur, func(t *testing.T) {
				e, _ := currency.Exponent(cur)
				// 1234567 minor units: 1234567 JPY, 12345.67 USD, 1234.567 KWD. Amounts like
				// these are where float64 arithmetic visibly rounds.
				amount := int64(1234567)
				if e == 2 {
					amount = 1234501 + 6 // 12345.07: ".07" is not exact in binary
				}
				s := h.create(t, amount, cur)
				r := h.fetch(t, s)
				if r.Amount != amount || r.Currency != cur {
					t.Fatalf("provider says %d %s, want %d %s", r.Amount, r.Currency, amount, cur)
				}
			})
		}
	})

	t.Run("parse return never panics", func(t *testing.T) {
		for _, q := range []string{"", "a=b", "%zz", strings.Repeat("x=1&", 1000), "payment_status=success&kspay_id="} {
			v, _ := url.ParseQuery(q)
			p.ParseReturn(v)
		}
	})
}

func (h Harness) order(amount int64, cur string) providers.Order {
	ref := fmt.Sprintf("att%d%d", time.Now().UnixNano(), seq.Add(1))
	return providers.Order{
		Reference:   ref,
		Description: "Conformance order " + ref,
		Amount:      amount,
		Currency:    cur,
		Lines:       []providers.Line{{Title: "Conformance item", Quantity: 1, UnitAmount: amount}},
		ReturnURL:   "https://kassa.test/checkout/pay_x/return/" + ref + "?outcome=return",
		CancelURL:   "https://kassa.test/checkout/pay_x/return/" + ref + "?outcome=cancel",
		NotifyURL:   "https://kassa.test/callbacks/" + ref,
		Method:      h.Method,
		Payer:       h.Payer,
	}
}

// placed is a created session with the order it was created from.
type placed struct {
	providers.Session
	Order providers.Order
}

func (h Harness) create(t *testing.T, amount int64, cur string) placed {
	t.Helper()
	o := h.order(amount, cur)
	s, err := h.Provider.CreateOrder(context.Background(), o)
	if err != nil {
		t.Fatalf("create order of %d %s: %v", amount, cur, err)
	}
	return placed{Session: s, Order: o}
}

func (h Harness) lookup(s placed) providers.Lookup {
	return providers.Lookup{ProviderRef: s.ProviderRef, Reference: s.Order.Reference, Currency: s.Order.Currency}
}

func (h Harness) fetch(t *testing.T, s placed) providers.Result {
	t.Helper()
	r, err := h.Provider.FetchOrder(context.Background(), h.lookup(s))
	if err != nil {
		t.Fatalf("fetch order %s: %v", s.ProviderRef, err)
	}
	if r.ProviderRef != "" && r.ProviderRef != s.ProviderRef {
		t.Fatalf("fetched order %q, asked for %q", r.ProviderRef, s.ProviderRef)
	}
	return r
}

func (h Harness) complete(t *testing.T, s placed, a Action) *url.URL {
	t.Helper()
	back, err := h.Shopper.Complete(context.Background(), s.Session, a)
	if err != nil {
		t.Fatalf("%s on the provider's page: %v", a, err)
	}
	return back
}

// checkReturn checks the browser comes back to the URL Kassa gave, with Kassa's own query
// intact, and that whatever the provider adds names this order.
func (h Harness) checkReturn(t *testing.T, s placed, back *url.URL, toCancel bool) {
	t.Helper()
	if back == nil {
		return // completed off the browser
	}
	want := "return"
	if toCancel {
		want = "cancel"
	}
	if back.Host != "kassa.test" || !strings.HasPrefix(back.Path, "/checkout/pay_x/return/") || back.Query().Get("outcome") != want {
		t.Fatalf("browser sent to %s, want Kassa's %s URL with its query intact", back, want)
	}
	hint := h.Provider.ParseReturn(back.Query())
	if hint.ProviderRef != "" && hint.ProviderRef != s.ProviderRef {
		t.Fatalf("return names order %q, want %q", hint.ProviderRef, s.ProviderRef)
	}
}

// refunds drives a paid order of 1000 through partial, replayed, refused, pending and final
// refunds, the way Kassa uses a provider's refund API: the refund id is the idempotency key,
// and asking again with the same refund is how a pending refund is looked up.
func (h Harness) refunds(t *testing.T, rf providers.Refunder, major func(int64) int64) {
	ctx := context.Background()
	paid := major(1000)
	s := h.create(t, paid, h.Currency)
	h.complete(t, s, Pay)
	if r := h.fetch(t, s); r.Status != providers.StatusPaid {
		t.Fatalf("status %q after paying, want paid", r.Status)
	}
	id := func(name string) string { return fmt.Sprintf("rf%s%d%d", name, time.Now().UnixNano(), seq.Add(1)) }
	refund := func(id string, amount int64) (providers.RefundResult, error) {
		return rf.Refund(ctx, providers.Refund{Lookup: h.lookup(s), ID: id, Amount: amount, Reason: "conformance"})
	}
	must := func(what, id string, amount int64, want providers.Status) providers.RefundResult {
		t.Helper()
		r, err := refund(id, amount)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if r.Status != want {
			t.Fatalf("%s: status %q, want %q", what, r.Status, want)
		}
		return r
	}

	// A partial refund, replayed: the same refund, not a second one.
	part := id("part")
	first := must("partial refund", part, major(100), providers.StatusRefunded)
	if first.ProviderRef == "" {
		t.Fatal("a refund without the provider's reference")
	}
	if again := must("replayed refund", part, major(100), providers.StatusRefunded); again.ProviderRef != first.ProviderRef {
		t.Fatalf("replay gave refund %q, want the same %q", again.ProviderRef, first.ProviderRef)
	}
	if r := h.fetch(t, s); r.Status != providers.StatusPartiallyRefunded && r.Status != providers.StatusPaid {
		t.Fatalf("status %q after a partial refund, want partially refunded (or paid)", r.Status)
	}

	// Refused at once: nothing is refunded.
	must("refund of the decline amount", id("declined"), major(MagicRefundDeclined), providers.StatusDeclined)

	// Pending, then settled when asked again.
	pending := id("pending")
	must("refund of the pending amount", pending, major(MagicRefundPending), providers.StatusPending)
	must("pending refund asked again", pending, major(MagicRefundPending), providers.StatusRefunded)
	late := id("late")
	must("refund of the pending-then-declined amount", late, major(MagicRefundPendingThenDeclined), providers.StatusPending)
	must("pending refund asked again", late, major(MagicRefundPendingThenDeclined), providers.StatusDeclined)

	// More than is left is refused; exactly what is left succeeds and ends the order refunded.
	left := paid - major(100) - major(MagicRefundPending)
	if _, err := refund(id("over"), left+1); !errors.Is(err, providers.ErrInvalid) {
		t.Fatalf("refunding more than is left: %v, want ErrInvalid", err)
	}
	must("refund of the rest", id("rest"), left, providers.StatusRefunded)
	if r := h.fetch(t, s); r.Status != providers.StatusRefunded {
		t.Fatalf("status %q after refunding everything, want refunded", r.Status)
	}
	if _, err := refund(id("more"), 1); err == nil {
		t.Fatal("refunding a refunded order succeeded")
	}

	// An order never paid cannot be refunded.
	unpaid := h.create(t, major(50), h.Currency)
	if _, err := rf.Refund(ctx, providers.Refund{Lookup: h.lookup(unpaid), ID: id("unpaid"), Amount: major(10)}); !errors.Is(err, providers.ErrConflict) {
		t.Fatalf("refunding an unpaid order: %v, want ErrConflict", err)
	}
}
