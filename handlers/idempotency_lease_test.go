package handlers_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/kassa-pay/kassa/checkout"
	"github.com/kassa-pay/kassa/db"
)

// slowCreate holds the first payment create until released: a request slower than the
// idempotency key's lease (a provider taking its time, a busy database).
type slowCreate struct {
	*db.DB
	once    *sync.Once
	started chan struct{}
	release chan struct{}
}

func (s slowCreate) CreatePayment(ctx context.Context, p *checkout.Payment, ev checkout.Event) error {
	first := false
	s.once.Do(func() { first = true })
	if first {
		close(s.started)
		<-s.release
	}
	return s.DB.CreatePayment(ctx, p, ev)
}

// renewSpy reports each renewal of a claim.
type renewSpy struct {
	checkout.IdempotencyStore
	renewed chan struct{}
}

func (r renewSpy) ExtendIdempotencyKey(ctx context.Context, clientID, key string) error {
	err := r.IdempotencyStore.ExtendIdempotencyKey(ctx, clientID, key)
	if err == nil {
		select {
		case r.renewed <- struct{}{}:
		default:
		}
	}
	return err
}

// A request still running when its Idempotency-Key's lease would run out keeps the key: a
// retry is told the first is still being processed, instead of taking the key over and
// creating a second payment (or refund) beside the first.
func TestIdempotencyKeyKeptBySlowRequest(t *testing.T) {
	e := newEnv(t)
	var mu sync.Mutex
	clock := time.Now()
	e.store.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	slow := slowCreate{DB: e.store, once: &sync.Once{}, started: make(chan struct{}), release: make(chan struct{})}
	e.svc.Store = slow
	spy := renewSpy{IdempotencyStore: e.store, renewed: make(chan struct{}, 1)}
	e.server.Idempotency = spy
	e.server.IdempotencyRenew = 20 * time.Millisecond
	e.rebuild()

	body := e.createBody("2500")
	done := make(chan int, 1)
	go func() {
		status, _ := e.api(t, "POST", "/api/payment/checkout", e.token, body, "Idempotency-Key", "slow")
		done <- status
	}()
	<-slow.started
	mu.Lock()
	clock = clock.Add(90 * time.Second) // past the claim's first lease
	mu.Unlock()
	// Let a renewal that read the new clock land (two, since one may have read the old one);
	// without renewals the retry below shows what happens.
	for range 2 {
		select {
		case <-spy.renewed:
		case <-time.After(5 * time.Second):
		}
	}
	status, again := e.api(t, "POST", "/api/payment/checkout", e.token, body, "Idempotency-Key", "slow")
	close(slow.release)
	first := <-done
	if status != http.StatusConflict {
		t.Errorf("retry while the first request still runs: %d %v, want 409", status, again)
	}
	if first != http.StatusCreated {
		t.Errorf("first request: %d", first)
	}
	if n, _ := e.store.CountPayments(context.Background()); n != 1 {
		t.Fatalf("%d payments for one Idempotency-Key, want 1", n)
	}
}
