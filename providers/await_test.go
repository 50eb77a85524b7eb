package providers_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/kassa-pay/kassa/providers"
)

func TestAwait(t *testing.T) {
	v, err := providers.Await(context.Background(), time.Minute, func() (int, error) { return 7, nil })
	if v != 7 || err != nil {
		t.Fatalf("a quick call: %v %v", v, err)
	}
	release := make(chan struct{})
	defer close(release)
	stuck := func() (int, error) { <-release; return 1, nil }
	if _, err := providers.Await(context.Background(), 10*time.Millisecond, stuck); !errors.Is(err, providers.ErrBusy) {
		t.Fatalf("a call stuck past the bound: %v, want ErrBusy", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := providers.Await(ctx, time.Minute, stuck); !errors.Is(err, context.Canceled) {
		t.Fatalf("a call whose caller gave up: %v, want context.Canceled", err)
	}
}

// A token fetch that fails on its own is a provider failure even when the caller's ctx ends at
// the same moment; only a wait that ran out or was given up means "busy, never sent".
func TestWaitAbandoned(t *testing.T) {
	live := context.Background()
	done, cancel := context.WithCancel(context.Background())
	cancel()
	release := make(chan struct{})
	defer close(release)
	_, busy := providers.Await(live, time.Millisecond, func() (int, error) { <-release; return 0, nil })
	_, gaveUp := providers.Await(done, time.Minute, func() (int, error) { <-release; return 0, nil })
	failed := errors.New("token endpoint: 401")
	for _, tc := range []struct {
		name string
		ctx  context.Context
		err  error
		want bool
	}{
		{"no error", live, nil, false},
		{"the wait ran out", live, busy, true},
		{"the caller gave up", done, gaveUp, true},
		{"the fetch failed", live, failed, false},
		{"the fetch failed as the caller gave up", done, failed, false},
	} {
		if got := providers.WaitAbandoned(tc.ctx, tc.err); got != tc.want {
			t.Errorf("%s: WaitAbandoned = %v, want %v", tc.name, got, tc.want)
		}
	}
}
