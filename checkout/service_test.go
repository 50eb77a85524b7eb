package checkout_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/kassa-pay/kassa/checkout"
	"github.com/kassa-pay/kassa/db"
	"github.com/kassa-pay/kassa/providers"
)

// fakeProvider is a provider whose orders the test moves by hand.
type fakeProvider struct {
	mu        sync.Mutex
	orders    map[string]providers.Result
	createErr error
	// actAnyway makes a failing create still create the order, as a provider that answers
	// too late or drops the connection after acting does.
	actAnyway bool
	fetchErr  error
	fetches   int
	creates   int
	captured  int
	// byReference maps Kassa's attempt id to the order, for lookups without a provider ref.
	byReference map[string]string
	// gate, when set, holds every CreateOrder and FetchOrder until it is closed; entered
	// receives one value per call that reached the gate.
	gate    chan struct{}
	entered chan struct{}
}

var (
	_ providers.Provider = (*fakeProvider)(nil)
	_ providers.Capturer = (*fakeProvider)(nil)
)

func newFake() *fakeProvider { return &fakeProvider{orders: map[string]providers.Result{}} }

func (f *fakeProvider) ID() providers.ID { return "fake" }
func (f *fakeProvider) Name() string     { return "Fake Pay" }
func (f *fakeProvider) Currencies(context.Context) ([]string, error) {
	return []string{"USD", "JPY"}, nil
}

func (f *fakeProvider) wait() {
	if f.gate != nil {
		if f.entered != nil {
			f.entered <- struct{}{}
		}
		<-f.gate
	}
}

func (f *fakeProvider) CreateOrder(_ context.Context, o providers.Order) (providers.Session, error) {
	f.wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.creates++
	if f.createErr != nil && !f.actAnyway {
		return providers.Session{}, f.createErr
	}
	ref := fmt.Sprintf("ord_%d", len(f.orders)+1)
	f.orders[ref] = providers.Result{ProviderRef: ref, Status: providers.StatusPending, Amount: o.Amount, Currency: o.Currency}
	if f.byReference == nil {
		f.byReference = map[string]string{}
	}
	f.byReference[o.Reference] = ref
	if f.createErr != nil {
		return providers.Session{}, f.createErr
	}
	return providers.Session{ProviderRef: ref, PayURL: "https://fake.test/pay/" + ref, Status: providers.StatusPending}, nil
}

func (f *fakeProvider) FetchOrder(_ context.Context, l providers.Lookup) (providers.Result, error) {
	f.wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fetches++
	if f.fetchErr != nil {
		return providers.Result{}, f.fetchErr
	}
	if l.ProviderRef == "" {
		l.ProviderRef = f.byReference[l.Reference]
	}
	r, ok := f.orders[l.ProviderRef]
	if !ok {
		return providers.Result{}, &providers.Error{Provider: "fake", Op: "fetch", Kind: providers.ErrNotFound}
	}
	return r, nil
}

func (f *fakeProvider) Capture(_ context.Context, l providers.Lookup) (providers.Result, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.orders[l.ProviderRef]
	if r.Status == providers.StatusAuthorized {
		r.Status = providers.StatusPaid
		f.orders[l.ProviderRef] = r
		f.captured++
	}
	return r, nil
}

func (f *fakeProvider) ParseReturn(url.Values) providers.ReturnHint { return providers.ReturnHint{} }

func (f *fakeProvider) set(ref string, st providers.Status) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.orders[ref]
	r.Status = st
	f.orders[ref] = r
}

type fixture struct {
	svc   *checkout.Service
	fake  *fakeProvider
	db    *db.DB
	app   *checkout.App
	clock time.Time
	mu    sync.Mutex
}

func (fx *fixture) now() time.Time {
	fx.mu.Lock()
	defer fx.mu.Unlock()
	return fx.clock
}

func (fx *fixture) advance(d time.Duration) {
	fx.mu.Lock()
	defer fx.mu.Unlock()
	fx.clock = fx.clock.Add(d)
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "kassa.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	fx := &fixture{fake: newFake(), db: d, clock: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)}
	fx.svc = &checkout.Service{Store: d, Providers: providers.NewRegistry(fx.fake), URLs: checkout.URLs{Base: "https://kassa.test"}, Now: fx.now}
	fx.app, err = fx.svc.NewApp(ctx, "Shop", "")
	if err != nil {
		t.Fatal(err)
	}
	return fx
}

func (fx *fixture) payment(t *testing.T, amount int64, cur string) *checkout.Payment {
	t.Helper()
	p, err := fx.svc.CreatePayment(context.Background(), checkout.NewPayment{ClientID: fx.app.ClientID, Amount: amount, Currency: cur, Reference: "ORDER-1"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (fx *fixture) attempt(t *testing.T, p *checkout.Payment) *checkout.Attempt {
	t.Helper()
	a, err := fx.svc.StartAttempt(context.Background(), p.ID, checkout.Choice{Provider: "fake"})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func (fx *fixture) events(t *testing.T, paymentID, typ string) int {
	t.Helper()
	evs, err := fx.svc.Events(context.Background(), paymentID)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Type == typ {
			n++
		}
	}
	return n
}

func TestCreatePaymentValidation(t *testing.T) {
	fx := newFixture(t)
	ok := checkout.NewPayment{ClientID: fx.app.ClientID, Amount: 10000, Currency: "USD", Reference: "ORDER-123"}
	for name, tc := range map[string]struct {
		mutate func(*checkout.NewPayment)
		field  string
	}{
		"zero amount":         {func(n *checkout.NewPayment) { n.Amount = 0 }, "amount"},
		"negative amount":     {func(n *checkout.NewPayment) { n.Amount = -5 }, "amount"},
		"unknown currency":    {func(n *checkout.NewPayment) { n.Currency = "XYZ" }, "currencyCode"},
		"lower-case currency": {func(n *checkout.NewPayment) { n.Currency = "usd" }, "currencyCode"},
		"no reference":        {func(n *checkout.NewPayment) { n.Reference = " " }, "reference"},
		"newline reference":   {func(n *checkout.NewPayment) { n.Reference = "a\nb" }, "reference"},
		"lines do not sum": {func(n *checkout.NewPayment) {
			n.LineItems = []checkout.LineItem{{Name: "A", Quantity: 2, UnitAmount: 4000}}
		}, "lineItems"},
		"line overflow": {func(n *checkout.NewPayment) {
			n.LineItems = []checkout.LineItem{{Name: "A", Quantity: 1_000_000, UnitAmount: 1 << 60}}
		}, "lineItems"},
		"javascript url":     {func(n *checkout.NewPayment) { n.SuccessURL = "javascript:alert(1)" }, "successUrl"},
		"relative url":       {func(n *checkout.NewPayment) { n.CancelURL = "/cancel" }, "cancelUrl"},
		"expiry too soon":    {func(n *checkout.NewPayment) { n.ExpiresAt = fx.now().Add(time.Minute) }, "expiresAt"},
		"expiry too late":    {func(n *checkout.NewPayment) { n.ExpiresAt = fx.now().Add(60 * 24 * time.Hour) }, "expiresAt"},
		"empty metadata key": {func(n *checkout.NewPayment) { n.Metadata = map[string]string{"": "x"} }, "metadata"},
	} {
		t.Run(name, func(t *testing.T) {
			n := ok
			tc.mutate(&n)
			_, err := fx.svc.CreatePayment(context.Background(), n)
			var e *checkout.Error
			if !errors.As(err, &e) || e.Code != checkout.EINVALID || e.Fields[tc.field] == "" {
				t.Fatalf("got %v, want EINVALID on %s", err, tc.field)
			}
		})
	}
	n := ok
	n.LineItems = []checkout.LineItem{{Name: "A", Quantity: 2, UnitAmount: 4000}, {Name: "B", Quantity: 1, UnitAmount: 2000}}
	p, err := fx.svc.CreatePayment(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != checkout.PaymentOpen || p.ReferenceLabel != "ORDER-123" || !p.ExpiresAt.Equal(fx.now().Add(24*time.Hour)) {
		t.Fatalf("created %+v", p)
	}
	got, err := fx.svc.Payment(context.Background(), p.ID)
	if err != nil || len(got.LineItems) != 2 || got.LineItems[1].Name != "B" {
		t.Fatalf("stored payment %+v, %v", got, err)
	}
}

func TestPaymentIDsAreUnguessable(t *testing.T) {
	fx := newFixture(t)
	seen := map[string]bool{}
	for range 50 {
		p := fx.payment(t, 100, "USD")
		if len(p.ID) != len("pay_")+26 || seen[p.ID] {
			t.Fatalf("id %q is short or repeated", p.ID)
		}
		seen[p.ID] = true
	}
}

func TestPayVerifiedOnce(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	p := fx.payment(t, 2500, "USD")
	a := fx.attempt(t, p)
	if a.Status != checkout.AttemptPending || a.PayURL == "" || a.ProviderRef == "" {
		t.Fatalf("attempt %+v", a)
	}
	// A return before paying changes nothing.
	v, err := fx.svc.Verify(ctx, p.ID, a.ID)
	if err != nil || v.Payment.Status != checkout.PaymentOpen || v.Attempt.Status != checkout.AttemptPending {
		t.Fatalf("before paying: %+v, %v", v, err)
	}
	fx.fake.set(a.ProviderRef, providers.StatusPaid)
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := fx.svc.Verify(ctx, p.ID, a.ID); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got, _ := fx.svc.Payment(ctx, p.ID)
	if got.Status != checkout.PaymentPaid || got.PaidAt.IsZero() {
		t.Fatalf("payment %s, paid at %v", got.Status, got.PaidAt)
	}
	if n := fx.events(t, p.ID, checkout.EventPaymentPaid); n != 1 {
		t.Fatalf("%d payment.paid events from 20 racing verifications, want exactly 1", n)
	}
	// Once paid, the provider is no longer asked.
	before := fx.fake.fetches
	fx.svc.Verify(ctx, p.ID, a.ID)
	if fx.fake.fetches != before {
		t.Fatal("a paid attempt was fetched again")
	}
	if _, err := fx.svc.StartAttempt(ctx, p.ID, checkout.Choice{Provider: "fake"}); checkout.ErrorCode(err) != checkout.ECONFLICT {
		t.Fatalf("new attempt on a paid payment: %v, want ECONFLICT", err)
	}
}

func TestVerifyWrongPaymentIsNotFound(t *testing.T) {
	fx := newFixture(t)
	p1, p2 := fx.payment(t, 100, "USD"), fx.payment(t, 100, "USD")
	a := fx.attempt(t, p1)
	fx.fake.set(a.ProviderRef, providers.StatusPaid)
	if _, err := fx.svc.Verify(context.Background(), p2.ID, a.ID); checkout.ErrorCode(err) != checkout.ENOTFOUND {
		t.Fatalf("verifying another payment's attempt: %v", err)
	}
	if got, _ := fx.svc.Payment(context.Background(), p2.ID); got.Status != checkout.PaymentOpen {
		t.Fatal("another payment's attempt paid this one")
	}
}

func TestDeclineThenPayAgain(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	p := fx.payment(t, 2500, "USD")
	a1 := fx.attempt(t, p)
	fx.fake.set(a1.ProviderRef, providers.StatusDeclined)
	v, _ := fx.svc.Verify(ctx, p.ID, a1.ID)
	if v.Attempt.Status != checkout.AttemptDeclined || v.Payment.Status != checkout.PaymentOpen {
		t.Fatalf("after decline: attempt %s, payment %s", v.Attempt.Status, v.Payment.Status)
	}
	a2 := fx.attempt(t, p)
	fx.fake.set(a2.ProviderRef, providers.StatusPaid)
	v, _ = fx.svc.Verify(ctx, p.ID, a2.ID)
	if v.Payment.Status != checkout.PaymentPaid {
		t.Fatalf("second attempt paid, payment %s", v.Payment.Status)
	}
	// The first order is paid late (the shopper went back to it): recorded as a double
	// payment, never lost, and the payment is paid only once.
	fx.fake.set(a1.ProviderRef, providers.StatusPaid)
	v, _ = fx.svc.Verify(ctx, p.ID, a1.ID)
	if v.Attempt.Status != checkout.AttemptPaid {
		t.Fatalf("late payment of the first attempt: %s", v.Attempt.Status)
	}
	if fx.events(t, p.ID, checkout.EventAttemptPaidTwice) != 1 || fx.events(t, p.ID, checkout.EventPaymentPaid) != 1 {
		t.Fatal("want one payment.paid and one attempt.paid_twice event")
	}
}

func TestAmountMismatchIsNotPaid(t *testing.T) {
	fx := newFixture(t)
	p := fx.payment(t, 2500, "USD")
	a := fx.attempt(t, p)
	fx.fake.mu.Lock()
	fx.fake.orders[a.ProviderRef] = providers.Result{ProviderRef: a.ProviderRef, Status: providers.StatusPaid, Amount: 25, Currency: "USD"}
	fx.fake.mu.Unlock()
	v, _ := fx.svc.Verify(context.Background(), p.ID, a.ID)
	if v.Payment.Status != checkout.PaymentOpen || v.Attempt.Status != checkout.AttemptReview {
		t.Fatalf("payment %s, attempt %s after a wrong amount", v.Payment.Status, v.Attempt.Status)
	}
}

func TestAuthorizedIsCaptured(t *testing.T) {
	fx := newFixture(t)
	p := fx.payment(t, 2500, "USD")
	a := fx.attempt(t, p)
	fx.fake.set(a.ProviderRef, providers.StatusAuthorized)
	v, _ := fx.svc.Verify(context.Background(), p.ID, a.ID)
	if v.Payment.Status != checkout.PaymentPaid || fx.fake.captured != 1 {
		t.Fatalf("payment %s after capture, captures %d", v.Payment.Status, fx.fake.captured)
	}
}

func TestProviderFailuresLoseNothing(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	p := fx.payment(t, 2500, "USD")

	// A request that never left Kassa (the connection was refused) is a known failure.
	fx.fake.createErr = &providers.Error{Provider: "fake", Op: "create", Kind: providers.ErrUnavailable, Err: providers.ErrNotSent}
	_, err := fx.svc.StartAttempt(ctx, p.ID, checkout.Choice{Provider: "fake"})
	if checkout.ErrorCode(err) != checkout.EUNAVAILABLE {
		t.Fatalf("create on a failing provider: %v", err)
	}
	got, _ := fx.svc.Payment(ctx, p.ID)
	if got.Status != checkout.PaymentOpen || len(got.Attempts) != 1 || got.Attempts[0].Status != checkout.AttemptFailed {
		t.Fatalf("after a failed create: payment %s, attempts %+v", got.Status, got.Attempts)
	}
	fx.fake.createErr = nil

	a := fx.attempt(t, p)
	fx.fake.set(a.ProviderRef, providers.StatusPaid)
	fx.fake.fetchErr = &providers.Error{Provider: "fake", Op: "fetch", Kind: providers.ErrUnavailable}
	v, err := fx.svc.Verify(ctx, p.ID, a.ID)
	if err != nil || v.Err == nil || v.Attempt.Status != checkout.AttemptPending || v.Payment.Status != checkout.PaymentOpen {
		t.Fatalf("verify while the provider is down: %+v, %v", v, err)
	}
	// The background job converges it once the provider answers again.
	fx.fake.fetchErr = nil
	fx.advance(time.Hour)
	if _, err := fx.svc.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := fx.svc.Payment(ctx, p.ID); got.Status != checkout.PaymentPaid {
		t.Fatalf("after reconcile: %s", got.Status)
	}
}

func TestReconcileBacksOff(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	p := fx.payment(t, 2500, "USD")
	fx.attempt(t, p)
	fx.svc.Reconcile(ctx)
	if fx.fake.fetches != 0 {
		t.Fatal("a fresh attempt was polled before its first check was due")
	}
	fx.advance(21 * time.Second)
	fx.svc.Reconcile(ctx)
	fx.svc.Reconcile(ctx)
	if fx.fake.fetches != 1 {
		t.Fatalf("%d fetches, want 1: the next check must wait", fx.fake.fetches)
	}
	fx.advance(41 * time.Second)
	fx.svc.Reconcile(ctx)
	if fx.fake.fetches != 2 {
		t.Fatalf("%d fetches after the backoff, want 2", fx.fake.fetches)
	}
}

func TestExpiry(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	p := fx.payment(t, 2500, "USD")
	a := fx.attempt(t, p)
	fx.advance(25 * time.Hour)
	if _, err := fx.svc.StartAttempt(ctx, p.ID, checkout.Choice{Provider: "fake"}); checkout.ErrorCode(err) != checkout.ECONFLICT {
		t.Fatalf("attempt after expiry: %v", err)
	}
	if _, err := fx.svc.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	got, _ := fx.svc.Payment(ctx, p.ID)
	if got.Status != checkout.PaymentExpired || fx.events(t, p.ID, checkout.EventPaymentExpired) != 1 {
		t.Fatalf("payment %s after its expiry", got.Status)
	}
	// The shopper had paid at the provider after all: the truth wins.
	fx.fake.set(a.ProviderRef, providers.StatusPaid)
	v, _ := fx.svc.Verify(ctx, p.ID, a.ID)
	if v.Payment.Status != checkout.PaymentPaid {
		t.Fatalf("late payment of an expired payment: %s", v.Payment.Status)
	}
}

func TestExpiryChecksLiveAttemptsFirst(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	p := fx.payment(t, 2500, "USD")
	a := fx.attempt(t, p)
	fx.fake.set(a.ProviderRef, providers.StatusPaid)
	fx.advance(25 * time.Hour)
	fx.svc.Reconcile(ctx)
	got, _ := fx.svc.Payment(ctx, p.ID)
	if got.Status != checkout.PaymentPaid || fx.events(t, p.ID, checkout.EventPaymentExpired) != 0 {
		t.Fatalf("payment %s: a paid attempt must win over expiry", got.Status)
	}
}

func TestTokens(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	tok, _, err := fx.svc.NewToken(ctx, fx.app.ClientID, []checkout.Scope{checkout.ScopePaymentsGet}, "ci", fx.now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(tok) != "[redacted]" || fmt.Sprintf("%v %s", tok, tok) != "[redacted] [redacted]" {
		t.Fatal("a token printed itself")
	}
	pr, err := fx.svc.Authenticate(ctx, tok.Reveal())
	if err != nil || pr.ClientID != fx.app.ClientID || !pr.Can(checkout.ScopePaymentsGet) || pr.Can(checkout.ScopePaymentsCreate) {
		t.Fatalf("principal %+v, %v", pr, err)
	}
	secret := tok.Reveal()
	for _, bad := range []string{"", "kct_", secret[:len(secret)-1] + "x", secret + "x", "kct_0000000000000000_abc", secret[4:]} {
		if _, err := fx.svc.Authenticate(ctx, bad); checkout.ErrorCode(err) != checkout.EUNAUTHORIZED {
			t.Errorf("token %q: %v, want EUNAUTHORIZED", bad, err)
		}
	}
	fx.advance(2 * time.Hour)
	if _, err := fx.svc.Authenticate(ctx, secret); checkout.ErrorCode(err) != checkout.EUNAUTHORIZED {
		t.Fatalf("expired token: %v", err)
	}
	if _, _, err := fx.svc.NewToken(ctx, fx.app.ClientID, []checkout.Scope{"payments.delete"}, "", time.Time{}); checkout.ErrorCode(err) != checkout.EINVALID {
		t.Fatalf("unknown scope: %v", err)
	}
	if _, _, err := fx.svc.NewToken(ctx, "nope", []checkout.Scope{checkout.ScopeAll}, "", time.Time{}); checkout.ErrorCode(err) != checkout.ENOTFOUND {
		t.Fatalf("unknown app: %v", err)
	}
}
