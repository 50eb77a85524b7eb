package main

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"
)

// maxCheckoutsPerShopper bounds every shopper's loop in count as well as in time.
const maxCheckoutsPerShopper = 1_000_000

// levelResult is the load of a number of concurrent shoppers against one target, summed
// over the rounds of the level.
type levelResult struct {
	Shoppers int     `json:"shoppers"`
	Seconds  float64 `json:"seconds_measured"`
	// Checkouts completed within the measured windows (after each warm-up).
	Checkouts int     `json:"checkouts"`
	PerSec    float64 `json:"checkouts_per_sec"`
	// Failures counts every checkout that did not end on a thank-you page, warm-ups included.
	Failures int                  `json:"failures"`
	Errors   []string             `json:"errors,omitempty"`
	Steps    map[string]quantiles `json:"steps_ms"`
	Total    quantiles            `json:"checkout_ms"`
	// ServerCPUMS and ClientCPUMS are the CPU time (user + system) per completed checkout of
	// the server process and of the bench process (shoppers, and for Kassa the provider
	// simulator), warm-ups included.
	ServerCPUMS float64 `json:"server_cpu_ms_per_checkout"`
	ClientCPUMS float64 `json:"bench_cpu_ms_per_checkout"`
}

// quantiles of a latency in milliseconds.
type quantiles struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// load is what one or more runs of a level collected.
type load struct {
	samples   [numSteps][]time.Duration
	totals    []time.Duration
	measured  time.Duration
	completed int
	failures  int
	errors    []string
	serverCPU time.Duration
	clientCPU time.Duration
}

func (l *load) add(o *load) {
	for s := range numSteps {
		l.samples[s] = append(l.samples[s], o.samples[s]...)
	}
	l.totals = append(l.totals, o.totals...)
	l.measured += o.measured
	l.completed += o.completed
	l.failures += o.failures
	for _, e := range o.errors {
		if len(l.errors) < 5 {
			l.errors = append(l.errors, e)
		}
	}
	l.serverCPU += o.serverCPU
	l.clientCPU += o.clientCPU
}

// runLoad runs shoppers concurrent shoppers, each doing one checkout after another, for
// warmup and then measure. Checkouts completing inside the measured window count; those in
// flight at its end are finished but not counted. serverCPU reads the server's CPU time.
func runLoad(ctx context.Context, t *target, shoppers int, warmup, measure time.Duration, serverCPU func() time.Duration) *load {
	cpu0, self0 := serverCPU(), selfCPU()
	start := time.Now()
	from, until := start.Add(warmup), start.Add(warmup+measure)
	parts := make([]load, shoppers)
	var wg sync.WaitGroup
	for i := range shoppers {
		wg.Add(1)
		go func(r *load) {
			defer wg.Done()
			for n := 0; n < maxCheckoutsPerShopper && time.Now().Before(until) && ctx.Err() == nil; n++ {
				var d timings
				cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				began := time.Now()
				_, err := t.checkout(cctx, &d)
				done := time.Now()
				cancel()
				if err != nil {
					r.failures++
					if len(r.errors) < 3 {
						r.errors = append(r.errors, err.Error())
					}
					time.Sleep(10 * time.Millisecond) // a failing server is not hammered in a tight loop
					continue
				}
				r.completed++
				if done.Before(from) || done.After(until) {
					continue
				}
				for s := range numSteps {
					r.samples[s] = append(r.samples[s], d[s])
				}
				r.totals = append(r.totals, done.Sub(began))
			}
		}(&parts[i])
	}
	wg.Wait()
	out := &load{measured: measure, serverCPU: serverCPU() - cpu0, clientCPU: selfCPU() - self0}
	for i := range parts {
		out.add(&parts[i])
	}
	return out
}

// summary turns what a level collected into its figures.
func (l *load) summary(shoppers int) levelResult {
	out := levelResult{Shoppers: shoppers, Seconds: l.measured.Seconds(), Checkouts: len(l.totals), Failures: l.failures,
		Errors: l.errors, Steps: map[string]quantiles{}, Total: quantilesOf(l.totals)}
	if l.measured > 0 {
		out.PerSec = round(float64(out.Checkouts)/l.measured.Seconds(), 1)
	}
	for s, name := range stepNames {
		out.Steps[name] = quantilesOf(l.samples[s])
	}
	if l.completed > 0 {
		out.ServerCPUMS = round(float64(l.serverCPU)/float64(time.Millisecond)/float64(l.completed), 3)
		out.ClientCPUMS = round(float64(l.clientCPU)/float64(time.Millisecond)/float64(l.completed), 3)
	}
	return out
}

// quantilesOf returns the nearest-rank percentiles of ds, in milliseconds.
func quantilesOf(ds []time.Duration) quantiles {
	if len(ds) == 0 {
		return quantiles{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(s)))) - 1
		return ms(s[max(0, min(i, len(s)-1))])
	}
	return quantiles{P50: rank(0.50), P95: rank(0.95), P99: rank(0.99), Max: ms(s[len(s)-1])}
}

func ms(d time.Duration) float64 { return round(float64(d)/float64(time.Millisecond), 2) }

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

func (q quantiles) String() string {
	return fmt.Sprintf("%.1f / %.1f / %.1f", q.P50, q.P95, q.P99)
}
