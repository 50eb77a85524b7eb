package dashboard_test

import (
	"context"
	"net/http"
	"net/url"
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
