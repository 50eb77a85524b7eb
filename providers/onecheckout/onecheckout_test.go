package onecheckout_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kassa-pay/kassa/providers"
	"github.com/kassa-pay/kassa/providers/onecheckout"
	"github.com/kassa-pay/kassa/providers/onecheckout/sandbox"
	"github.com/kassa-pay/kassa/providers/providertest"
)

const basePath = "/api/v1.0"

// newSandbox starts the simulator with test-friendly delays.
func newSandbox(t *testing.T, cfg sandbox.Config) (*sandbox.Server, *httptest.Server) {
	t.Helper()
	if cfg.SlowDelay == 0 {
		cfg.SlowDelay = 6 * time.Second
	}
	sb := sandbox.New(cfg)
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	return sb, srv
}

func config(srv *httptest.Server) onecheckout.Config {
	return onecheckout.Config{
		BaseURL: srv.URL + basePath,
		APIKey:  onecheckout.Secret(sandbox.DefaultCredentials().APIKey),
		Timeout: 2 * time.Second,
	}
}

func TestConformance(t *testing.T) {
	sb, srv := newSandbox(t, sandbox.Config{})
	bad := config(srv)
	bad.APIKey = "oc_wrong_key_0000"
	providertest.Run(t, providertest.Harness{
		Provider:              onecheckout.New(config(srv)),
		BadCredentials:        onecheckout.New(bad),
		Currency:              "USD",
		ConversionCurrencies:  []string{"JPY", "USD", "EUR", "INR", "MWK", "KWD"},
		ExpireOrder:           func(t *testing.T, ref string) { sb.ExpireOrder(ref) },
		CancelGoesToCancelURL: true,
	})
}

func order(ref string, amount int64, cur string) providers.Order {
	return providers.Order{
		Reference: ref, Description: "Test order " + ref, Amount: amount, Currency: cur,
		ReturnURL: "https://kassa.test/return/" + ref + "?k=1",
		CancelURL: "https://kassa.test/return/" + ref + "?k=2",
	}
}

// Twenty-five lookups at once through one client must all succeed against a provider that
// refuses an eleventh concurrent request: the client queues them instead.
func TestConcurrentFetchesStayWithinTheLimit(t *testing.T) {
	sb, srv := newSandbox(t, sandbox.Config{Latency: 20 * time.Millisecond})
	p := onecheckout.New(config(srv))
	ctx := context.Background()
	s, err := p.CreateOrder(ctx, order("att-concurrent", 1234, "USD"))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 25)
	for range 25 {
		wg.Go(func() {
			r, err := p.FetchOrder(ctx, providers.Lookup{ProviderRef: s.ProviderRef, Reference: "att-concurrent", Currency: "USD"})
			if err == nil && (r.Status != providers.StatusPending || r.Amount != 1234) {
				err = errors.New("unexpected result " + string(r.Status))
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	st := sb.Stats()
	if st.RateLimited != 0 {
		t.Errorf("sandbox refused %d requests: the client let too many through", st.RateLimited)
	}
	if st.PeakInFlight > 10 {
		t.Errorf("sandbox saw %d requests in flight, limit 10", st.PeakInFlight)
	}
}

func TestManualCaptureAuthorizesThenCaptures(t *testing.T) {
	_, srv := newSandbox(t, sandbox.Config{})
	cfg := config(srv)
	cfg.ManualCapture = true
	p := onecheckout.New(cfg)
	ctx := context.Background()
	o := order("att-manual", 2500, "EUR")
	s, err := p.CreateOrder(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	l := providers.Lookup{ProviderRef: s.ProviderRef, Reference: o.Reference, Currency: "EUR"}
	if _, err := p.Capture(ctx, l); !errors.Is(err, providers.ErrConflict) {
		t.Fatalf("capturing an unpaid order: %v, want ErrConflict", err)
	}
	back, err := providertest.FormShopper{}.Complete(ctx, s, providertest.Pay)
	if err != nil {
		t.Fatal(err)
	}
	if got := back.Query().Get("payment_id"); got != s.ProviderRef {
		t.Fatalf("return carries payment_id %q, want %q", got, s.ProviderRef)
	}
	if r, err := p.FetchOrder(ctx, l); err != nil || r.Status != providers.StatusAuthorized {
		t.Fatalf("after paying: %v %v, want authorized", r.Status, err)
	}
	r, err := p.Capture(ctx, l)
	if err != nil || r.Status != providers.StatusPaid || r.Amount != 2500 || r.PaymentID == "" {
		t.Fatalf("capture: %+v %v, want paid 2500 with a payment id", r, err)
	}
}

func TestFetchRefusesAnotherAttemptsOrder(t *testing.T) {
	_, srv := newSandbox(t, sandbox.Config{})
	p := onecheckout.New(config(srv))
	ctx := context.Background()
	s, err := p.CreateOrder(ctx, order("att-mine", 1000, "USD"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.FetchOrder(ctx, providers.Lookup{ProviderRef: s.ProviderRef, Reference: "att-other", Currency: "USD"})
	if !errors.Is(err, providers.ErrNotFound) {
		t.Fatalf("fetch under another reference: %v, want ErrNotFound", err)
	}
}

func TestDeclinedThenPaidIsPaid(t *testing.T) {
	_, srv := newSandbox(t, sandbox.Config{})
	p := onecheckout.New(config(srv))
	ctx := context.Background()
	o := order("att-retry", 1999, "USD")
	s, err := p.CreateOrder(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	l := providers.Lookup{ProviderRef: s.ProviderRef, Reference: o.Reference, Currency: "USD"}
	if _, err := (providertest.FormShopper{}).Complete(ctx, s, providertest.Decline); err != nil {
		t.Fatal(err)
	}
	r, err := p.FetchOrder(ctx, l)
	if err != nil || r.Status != providers.StatusDeclined || r.Reason == "" {
		t.Fatalf("after a decline: %+v %v, want declined with a reason", r, err)
	}
	if _, err := (providertest.FormShopper{}).Complete(ctx, s, providertest.Pay); err != nil {
		t.Fatal(err)
	}
	if r, err := p.FetchOrder(ctx, l); err != nil || r.Status != providers.StatusPaid {
		t.Fatalf("after paying on the same page: %v %v, want paid", r.Status, err)
	}
}

func TestCurrenciesAreCached(t *testing.T) {
	var meCalls atomic.Int64
	sb := sandbox.New(sandbox.Config{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == basePath+"/me" {
			meCalls.Add(1)
		}
		sb.ServeHTTP(w, r)
	}))
	defer srv.Close()
	cfg := config(srv)
	cfg.CurrencyTTL = time.Hour
	p := onecheckout.New(cfg)
	for range 3 {
		cs, err := p.Currencies(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{"USD": true, "EUR": true, "JPY": true, "KWD": true, "INR": true, "MWK": true}
		if len(cs) != len(want) {
			t.Fatalf("currencies %v, want %d of them", cs, len(want))
		}
		for _, c := range cs {
			if !want[c] {
				t.Fatalf("unexpected currency %s", c)
			}
		}
	}
	if n := meCalls.Load(); n != 1 {
		t.Fatalf("GET /me called %d times for three lookups, want 1", n)
	}
}

func TestParseReturn(t *testing.T) {
	p := onecheckout.New(onecheckout.Config{})
	for _, tc := range []struct {
		query, want string
	}{
		{"payment_id=abc123&reference_id=att1&outcome=return", "abc123"},
		{"outcome=cancel&payment_id=0001", "0001"},
		{"reference_id=att1", ""},
		{"payment_id=", ""},
		{"payment_id=%3Cscript%3E", ""},
		{"payment_id=a%20b", ""},
	} {
		q, _ := url.ParseQuery(tc.query)
		if got := p.ParseReturn(q); got.ProviderRef != tc.want || got.Status != "" {
			t.Errorf("ParseReturn(%q) = %+v, want ref %q and no status", tc.query, got, tc.want)
		}
	}
}

func FuzzParseReturn(f *testing.F) {
	for _, s := range []string{"", "payment_id=0001&reference_id=att", "payment_id=%zz", "payment_id=a&payment_id=b", "payment_id=" + string(make([]byte, 300))} {
		f.Add(s)
	}
	p := onecheckout.New(onecheckout.Config{})
	f.Fuzz(func(t *testing.T, raw string) {
		q, _ := url.ParseQuery(raw)
		h := p.ParseReturn(q)
		if h.ProviderRef != "" && h.ProviderRef != q.Get("payment_id") {
			t.Fatalf("hint %q is not the query's payment_id", h.ProviderRef)
		}
		if len(h.ProviderRef) > 128 || h.Status != "" {
			t.Fatalf("implausible hint %+v", h)
		}
	})
}
