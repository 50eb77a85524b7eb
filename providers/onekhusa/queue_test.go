package onekhusa_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/kassa-pay/kassa/providers"
	"github.com/kassa-pay/kassa/providers/onekhusa"
	"github.com/kassa-pay/kassa/providers/onekhusa/sandbox"
)

// A call that cannot get a turn under the client's pacing within MaxQueueWait fails at once as
// "busy" (ErrRateLimited: never sent), even with a context without deadline, instead of
// queueing behind every other caller.
func TestClientQueueWaitIsBounded(t *testing.T) {
	e := newEnv(t, sandbox.Config{})
	cfg := e.cfg
	cfg.RequestsPerSecond = 0.01 // one call now, the next in 100 s
	p := onekhusa.New(cfg)
	lookup := providers.Lookup{ProviderRef: "B250713MGRTW"}
	if _, err := p.FetchOrder(context.Background(), lookup); err != nil && !errors.Is(err, providers.ErrNotFound) {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := p.FetchOrder(context.Background(), lookup); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, providers.ErrRateLimited) {
			t.Fatalf("second call: %v, want ErrRateLimited", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the second call still waits for a turn after 20s: the client's queue has no deadline")
	}
}
