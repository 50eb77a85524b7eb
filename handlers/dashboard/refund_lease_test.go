package dashboard_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kassa-pay/kassa/checkout"
	"github.com/kassa-pay/kassa/db"
)

// slowRefunds holds the first refund until released (a provider or a database taking longer
// than the form key's lease) and reports each renewal of a key's claim.
type slowRefunds struct {
	*db.DB
	once    *sync.Once
	started chan struct{}
	release chan struct{}
	renewed chan struct{}
}

func (s slowRefunds) LockRefunds(ctx context.Context, id string, plan func(*checkout.Payment) (checkout.RefundChange, error)) error {
	first := false
	s.once.Do(func() { first = true })
	if first {
		close(s.started)
		<-s.release
	}
	return s.DB.LockRefunds(ctx, id, plan)
}

func (s slowRefunds) ExtendIdempotencyKey(ctx context.Context, clientID, key string) error {
	err := s.DB.ExtendIdempotencyKey(ctx, clientID, key)
	if err == nil {
		select {
		case s.renewed <- struct{}{}:
		default:
		}
	}
	return err
}

// TestRefundFormKeptBySlowRefund: the refund form sent again while the first send is still
// being served past the key's one-minute lease makes no second refund.
func TestRefundFormKeptBySlowRefund(t *testing.T) {
	e := newEnv(t)
	p := e.paid(t, "D-9", 5000, "USD")
	var mu sync.Mutex
	clock := time.Now()
	e.store.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	slow := slowRefunds{DB: e.store, once: &sync.Once{}, started: make(chan struct{}), release: make(chan struct{}), renewed: make(chan struct{}, 1)}
	e.dash.IdempotencyRenew = 20 * time.Millisecond
	page := "/dashboard/payments/" + p.ID
	b1, b2 := e.browser(t), e.browser(t)
	b1.signIn()
	b2.signIn()
	m := refundKey.FindStringSubmatch(b1.get(page).body)
	if m == nil {
		t.Fatal("the refund form has no key")
	}
	b2.get(page)
	e.svc.Store = slow
	form := func() url.Values { return url.Values{"amount": {"10.00"}, "reason": {"other"}, "key": {m[1]}} }
	done := make(chan int, 1)
	go func() { done <- b1.post(page+"/refunds", form()).status }()
	<-slow.started
	mu.Lock()
	clock = clock.Add(90 * time.Second)
	mu.Unlock()
	for range 2 {
		select {
		case <-slow.renewed:
		case <-time.After(5 * time.Second):
		}
	}
	second := b2.post(page+"/refunds", form())
	close(slow.release)
	if first := <-done; first != http.StatusSeeOther {
		t.Errorf("first send: %d", first)
	}
	if second.status != http.StatusSeeOther {
		t.Errorf("second send: %d", second.status)
	}
	e.svc.Store = e.store
	if got := e.payment(t, p.ID); len(got.Refunds) != 1 {
		t.Fatalf("%d refunds from one form sent twice, want 1: %+v", len(got.Refunds), got.Refunds)
	}
}

// TestRefundFormSentWhileFirstRuns: the form sent again while its first send is still being
// served (a double click with JavaScript off shows the second answer) does not tell the
// operator the refund was made: the first send may yet fail and give its key back.
func TestRefundFormSentWhileFirstRuns(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	b.signIn()
	p := e.paid(t, "D-11", 5000, "USD")
	page := "/dashboard/payments/" + p.ID
	m := refundKey.FindStringSubmatch(b.get(page).body)
	if m == nil {
		t.Fatal("the refund form has no key")
	}
	// The first send holds the key and has not finished.
	sum := sha256.Sum256([]byte(p.ID + "\n10.00\nother\n"))
	held, err := e.store.ClaimIdempotencyKey(context.Background(), p.ClientID, "dashboard:refund:"+m[1], hex.EncodeToString(sum[:]))
	if err != nil || !held.Claimed {
		t.Fatalf("claim: %+v %v", held, err)
	}
	if a := b.post(page+"/refunds", url.Values{"amount": {"10.00"}, "reason": {"other"}, "key": {m[1]}}); a.status != http.StatusSeeOther {
		t.Fatalf("second send: %d", a.status)
	}
	got := b.get(page)
	want(t, got, http.StatusOK, "still being made")
	if strings.Contains(got.body, "the refund was made once") {
		t.Error("the second send says the refund was made while the first send is still running")
	}
	if got := e.payment(t, p.ID); len(got.Refunds) != 0 {
		t.Fatalf("refunds %+v", got.Refunds)
	}
}
