package providers

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrBusy is wrapped by Await's error when the wait ran out: the request that needed the
// result was never sent.
var ErrBusy = errors.New("busy")

// Await runs f, which cannot be cancelled (an oauth2.TokenSource's Token takes no context and
// holds a lock while it fetches), and waits for it at most d or until ctx ends. Callers queued
// behind one slow token fetch then give up after d instead of each waiting its turn for the
// fetch before it; f keeps running and its token, if any, is cached for later calls.
func Await[T any](ctx context.Context, d time.Duration, f func() (T, error)) (T, error) {
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := f()
		done <- result{v, err}
	}()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	case <-t.C:
		var zero T
		return zero, fmt.Errorf("%w: no answer within %s", ErrBusy, d)
	}
}

// WaitAbandoned reports whether err, from Await, means the wait was given up — it ran out, or
// the caller's ctx ended — rather than f failing: the call that needed f's result was then
// never sent, and the provider is busy, not down.
func WaitAbandoned(ctx context.Context, err error) bool {
	if err == nil {
		return false
	}
	return errors.Is(err, ErrBusy) || (ctx.Err() != nil && errors.Is(err, ctx.Err()))
}
