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
