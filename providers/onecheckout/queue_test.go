package onecheckout_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kassa-pay/kassa/providers"
	"github.com/kassa-pay/kassa/providers/onecheckout"
)

// within runs f and fails the test if it has not returned after a generous bound: the calls
// below must give up by themselves, and without a bound they would wait forever.
func within(t *testing.T, what string, f func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-time.After(20 * time.Second):
		t.Fatalf("%s still waiting for a turn after 20s: the client's queue has no deadline", what)
		return nil
	}
}

// A call that cannot get a turn under the client's own limits within MaxQueueWait fails as
// "busy" (ErrRateLimited, never sent) even when its context has no deadline, rather than
// queueing behind everybody else: unauthenticated page loads must not hold a shopper's order
// back for minutes.
func TestClientQueueWaitIsBounded(t *testing.T) {
	// The per-minute pacing: the second request would have to wait about seven seconds.
	srv, n := fake(t, 200, `{"id":"me"}`, nil)
	c := onecheckout.NewClient(onecheckout.Config{BaseURL: srv.URL, APIKey: secretKey, RequestsPerMinute: 10})
	if _, err := c.GetMe(context.Background()); err != nil {
		t.Fatal(err)
	}
	err := within(t, "a paced request", func() error { _, err := c.GetMe(context.Background()); return err })
	if !errors.Is(err, providers.ErrRateLimited) || n.Load() != 1 {
		t.Fatalf("paced request: %v after %d sent, want ErrRateLimited after 1", err, n.Load())
	}

	// The in-flight cap: one slot, held by a request the server does not answer yet.
	var hits atomic.Int64
	arrived, release := make(chan struct{}, 1), make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		arrived <- struct{}{}
		<-release
		w.Write([]byte(`{"id":"me"}`))
	}))
	defer slow.Close()
	defer close(release)
	c = onecheckout.NewClient(onecheckout.Config{BaseURL: slow.URL, APIKey: secretKey, MaxConcurrent: 1, Timeout: time.Minute})
	go c.GetMe(context.Background())
	<-arrived
	err = within(t, "a request beyond the in-flight cap", func() error { _, err := c.GetMe(context.Background()); return err })
	if !errors.Is(err, providers.ErrRateLimited) || hits.Load() != 1 {
		t.Fatalf("request beyond the cap: %v after %d sent, want ErrRateLimited after 1", err, hits.Load())
	}
}
