package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/kassa-pay/kassa/db"
	"github.com/kassa-pay/kassa/handlers"
	"github.com/kassa-pay/kassa/metrics"
	"github.com/kassa-pay/kassa/providers"
	"github.com/kassa-pay/kassa/providers/health"
	"github.com/kassa-pay/kassa/providers/instrumented"
)

// newLogger returns the process's logger: text or JSON lines on w, each line logged during a
// request carrying its request_id.
func newLogger(format string, w io.Writer) (*slog.Logger, error) {
	var h slog.Handler
	switch format {
	case "", "text":
		h = slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo})
	case "json":
		h = slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo})
	default:
		return nil, fmt.Errorf("--log-format %q: use text or json", format)
	}
	return slog.New(handlers.LogHandler(h)), nil
}

// observeMetrics is the instrumented.Observer that feeds kassa_provider_calls_total and
// kassa_provider_call_duration_seconds.
func observeMetrics(_ context.Context, c instrumented.Call) {
	metrics.ProviderCall(string(c.Provider), c.Operation, c.Outcome, c.Duration)
}

// providerHealth sets up the circuit breakers of ps in d and returns ps wrapped so that every
// call is counted in the metrics and seen by its breaker, with the probe the breakers run.
func providerHealth(ctx context.Context, d *db.DB, ps []providers.Provider, cfg health.Config) (*health.Breakers, []providers.Provider, health.ProbeFunc, error) {
	ids := make([]providers.ID, len(ps))
	for i, p := range ps {
		ids[i] = p.ID()
	}
	cfg.OnTransition = func(id providers.ID, to health.State) { metrics.BreakerTransition(string(id), string(to)) }
	b := health.New(d, ids, cfg)
	if err := b.Init(ctx); err != nil {
		return nil, nil, nil, err
	}
	wrapped := make([]providers.Provider, len(ps))
	byID := make(map[providers.ID]providers.Provider, len(ps))
	for i, p := range ps {
		wrapped[i] = instrumented.Wrap(p, observeMetrics, b.Observe)
		byID[p.ID()] = p
	}
	// The probe calls the provider unwrapped, so that ProbeDue alone records its outcome;
	// it is counted in the metrics under the operation "probe".
	probe := func(ctx context.Context, id providers.ID) error {
		p, ok := byID[id]
		if !ok {
			return nil
		}
		start := time.Now()
		_, err := p.FetchOrder(ctx, health.ProbeLookup)
		metrics.ProviderCall(string(id), "probe", instrumented.Outcome(ctx, err), time.Since(start))
		return err
	}
	metrics.WatchBreakers(func(ctx context.Context) (map[string]string, error) {
		states, err := b.States(ctx)
		if err != nil {
			return nil, err
		}
		out := make(map[string]string, len(states))
		for _, s := range states {
			out[string(s.Provider)] = string(s.State)
		}
		return out, nil
	})
	return b, wrapped, probe, nil
}

// watchDatabase exports d's pool statistics and the lag of the background jobs.
func watchDatabase(d *db.DB) {
	metrics.WatchDBPools(d.Pools())
	metrics.WatchJobLag("verify", d.VerificationLag)
	metrics.WatchJobLag("expire", d.ExpiryLag)
}

// runServer serves hs on ln and runs the background jobs until ctx ends (SIGTERM or SIGINT),
// then shuts down in order: the listener closes (no new connections), the jobs' context is
// cancelled so they stop taking work and release what they hold, requests in flight finish
// (within grace, after which their connections are closed), and runServer returns only once
// the jobs have returned too — so the caller closes the database after everything that uses
// it has stopped.
func runServer(ctx context.Context, hs *http.Server, ln net.Listener, grace time.Duration, log *slog.Logger, jobs ...func(context.Context)) error {
	jobCtx, stopJobs := context.WithCancel(context.WithoutCancel(ctx))
	defer stopJobs()
	var wg sync.WaitGroup
	for _, job := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			job(jobCtx)
		}()
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()

	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
		log.Info("shutting down: finishing requests in flight", "grace", grace)
	}
	stopJobs()
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		log.Warn("requests still in flight after the grace period: closing their connections", "err", err)
		hs.Close()
	}
	if serveErr == nil {
		if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
			serveErr = err
		}
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-sctx.Done():
		log.Warn("background jobs still running after the grace period")
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	log.Info("stopped")
	return nil
}
