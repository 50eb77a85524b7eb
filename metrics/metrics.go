// Package metrics is Kassa's Prometheus instrumentation: the series Kassa exports at
// GET /metrics, and the small functions the rest of Kassa calls to feed them.
//
// Counters and histograms count what this process did (sum them across instances in PromQL).
// Gauges that describe shared state — the delivery backlog, how late background work is,
// the provider circuit breakers — are read from the database when Prometheus scrapes, through
// functions registered with the Watch* calls, so every instance reports the same truth.
//
// The package is a leaf: it imports nothing of Kassa's, so any package may call it.
package metrics

import (
	"context"
	"database/sql"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Registry holds every series Kassa exports. It is Kassa's own rather than Prometheus's
// default, so a library's stray registration cannot leak into /metrics.
var Registry = prometheus.NewRegistry()

// Buckets for request and provider-call durations, in seconds: pages take milliseconds,
// provider calls up to their timeouts.
var durationBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

var (
	httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kassa_http_requests_total",
		Help: "HTTP requests answered, by route pattern (never the raw URL), method and status.",
	}, []string{"route", "method", "status"})
	httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "kassa_http_request_duration_seconds",
		Help:    "Time to answer an HTTP request, by route pattern and method.",
		Buckets: durationBuckets,
	}, []string{"route", "method"})

	providerCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kassa_provider_calls_total",
		Help: "Calls to payment providers, by provider, operation and outcome (ok, declined, invalid, auth, not_found, conflict, rate_limited, unavailable, canceled, error).",
	}, []string{"provider", "operation", "outcome"})
	providerDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "kassa_provider_call_duration_seconds",
		Help:    "Latency of calls to payment providers, by provider and operation.",
		Buckets: durationBuckets,
	}, []string{"provider", "operation"})

	paymentsMoved = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kassa_payments_moved_total",
		Help: "Payments that entered a status (open on creation, then paid, expired, cancelled, refunded, partially_refunded), counted as their events are written.",
	}, []string{"status"})

	webhookDeliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kassa_webhook_deliveries_total",
		Help: "Merchant webhook delivery attempts, by outcome (delivered, retry, failed, ...).",
	}, []string{"outcome"})

	breakerTransitions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kassa_provider_breaker_transitions_total",
		Help: "Provider circuit-breaker transitions made by this instance, by provider and new state.",
	}, []string{"provider", "state"})
)

// Descriptions of the series computed at scrape time.
var (
	backlogDesc = prometheus.NewDesc("kassa_webhook_backlog",
		"Webhook deliveries waiting to be sent (pending, due or not), read from the database.", nil, nil)
	jobLagDesc = prometheus.NewDesc("kassa_job_lag_seconds",
		"How far behind each background job is: the age of the oldest item that is due and not yet done (0 when none is due).",
		[]string{"job"}, nil)
	breakerDesc = prometheus.NewDesc("kassa_provider_breaker_state",
		"Provider circuit-breaker state shared by all instances: 0 closed (offered), 1 half-open (being probed), 2 open (taken off checkout pages).",
		[]string{"provider"}, nil)
	scrapeErrorsDesc = prometheus.NewDesc("kassa_metrics_scrape_errors",
		"Scrape-time readings that failed during this scrape (their series are missing).", []string{"reading"}, nil)
)

// BreakerStates maps a breaker state's name to the value of kassa_provider_breaker_state.
var BreakerStates = map[string]float64{"closed": 0, "half_open": 1, "open": 2}

func init() {
	Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		httpRequests, httpDuration, providerCalls, providerDuration, paymentsMoved, webhookDeliveries,
		breakerTransitions, &watched,
	)
}

// Handler serves the registry in the Prometheus text format.
func Handler() http.Handler {
	return promhttp.HandlerFor(Registry, promhttp.HandlerOpts{Registry: Registry})
}

// HTTPRequest counts one answered request. route is the route's pattern ("/checkout/:id"),
// never the raw path, so a payment id never becomes a label; "unmatched" for no route.
func HTTPRequest(route, method string, status int, d time.Duration) {
	method = methodLabel(method)
	httpRequests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
	httpDuration.WithLabelValues(route, method).Observe(d.Seconds())
}

// methodLabel is method when it is a standard one, else "other": the method is the client's
// to choose (any token is accepted), and each distinct label value is a series kept forever.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "other"
}

// ProviderCall counts one call to a provider and its latency.
func ProviderCall(provider, operation, outcome string, d time.Duration) {
	providerCalls.WithLabelValues(provider, operation, outcome).Inc()
	providerDuration.WithLabelValues(provider, operation).Observe(d.Seconds())
}

// paymentStatusOf maps the events that move a payment to the status it entered. Only these
// are counted, so the label's values stay few and known.
var paymentStatusOf = map[string]string{
	"payment.created":            "open",
	"payment.paid":               "paid",
	"payment.expired":            "expired",
	"payment.cancelled":          "cancelled",
	"payment.refunded":           "refunded",
	"payment.partially_refunded": "partially_refunded",
}

// EventWritten is called for every event written to the event log (db's insertEvent); the
// events that move a payment count in kassa_payments_moved_total.
func EventWritten(eventType string) {
	if st, ok := paymentStatusOf[eventType]; ok {
		paymentsMoved.WithLabelValues(st).Inc()
	}
}

// WebhookDelivered counts one delivery attempt of a merchant webhook. outcome is a short
// fixed word: "delivered" (2xx), "retry" (failed, will be tried again), "failed" (failed
// and the schedule is over), "disabled" (the endpoint answered 410) — never a URL or a
// status text, so the label stays small.
func WebhookDelivered(outcome string) {
	webhookDeliveries.WithLabelValues(outcome).Inc()
}

// BreakerTransition counts a circuit-breaker transition made by this instance.
func BreakerTransition(provider, state string) {
	breakerTransitions.WithLabelValues(provider, state).Inc()
}

// Reading functions are called at scrape time with a bounded context.
type (
	// CountFunc reads a count (the webhook backlog).
	CountFunc func(ctx context.Context) (int64, error)
	// LagFunc reads how long the oldest due item of a job has been waiting.
	LagFunc func(ctx context.Context) (time.Duration, error)
	// BreakersFunc reads every provider's breaker state ("closed", "half_open", "open").
	BreakersFunc func(ctx context.Context) (map[string]string, error)
)

// WatchWebhookBacklog makes kassa_webhook_backlog read fn at each scrape. The webhook
// worker's wiring calls it once; a later call replaces the function.
func WatchWebhookBacklog(fn CountFunc) {
	watched.mu.Lock()
	defer watched.mu.Unlock()
	watched.backlog = fn
}

// WatchJobLag makes kassa_job_lag_seconds{job=name} read fn at each scrape.
func WatchJobLag(name string, fn LagFunc) {
	watched.mu.Lock()
	defer watched.mu.Unlock()
	if watched.lags == nil {
		watched.lags = map[string]LagFunc{}
	}
	watched.lags[name] = fn
}

// WatchBreakers makes kassa_provider_breaker_state read fn at each scrape.
func WatchBreakers(fn BreakersFunc) {
	watched.mu.Lock()
	defer watched.mu.Unlock()
	watched.breakers = fn
}

// WatchDBPools exports the connection-pool statistics of the named database/sql pools
// (kassa_db_* with a pool label). A later call replaces the pools.
func WatchDBPools(pools map[string]*sql.DB) {
	watched.mu.Lock()
	defer watched.mu.Unlock()
	watched.pools = pools
}

// scrapeTimeout bounds the database readings of one scrape.
const scrapeTimeout = 5 * time.Second

// watchedReadings is the collector of every scrape-time reading.
type watchedReadings struct {
	mu       sync.Mutex
	backlog  CountFunc
	lags     map[string]LagFunc
	breakers BreakersFunc
	pools    map[string]*sql.DB
}

var watched watchedReadings

// Pool statistics, as collectors.NewDBStatsCollector names them but with a pool label (Kassa
// may hold a write and a read pool on one database).
var (
	poolMaxOpen      = prometheus.NewDesc("kassa_db_max_open_connections", "Maximum number of open connections to the database.", []string{"pool"}, nil)
	poolOpen         = prometheus.NewDesc("kassa_db_open_connections", "The number of established connections both in use and idle.", []string{"pool"}, nil)
	poolInUse        = prometheus.NewDesc("kassa_db_in_use_connections", "The number of connections currently in use.", []string{"pool"}, nil)
	poolIdle         = prometheus.NewDesc("kassa_db_idle_connections", "The number of idle connections.", []string{"pool"}, nil)
	poolWaitCount    = prometheus.NewDesc("kassa_db_wait_count_total", "The total number of connections waited for.", []string{"pool"}, nil)
	poolWaitDuration = prometheus.NewDesc("kassa_db_wait_duration_seconds_total", "The total time blocked waiting for a new connection.", []string{"pool"}, nil)
	poolClosedIdle   = prometheus.NewDesc("kassa_db_max_idle_closed_total", "The total number of connections closed due to SetMaxIdleConns.", []string{"pool"}, nil)
	poolClosedLife   = prometheus.NewDesc("kassa_db_max_lifetime_closed_total", "The total number of connections closed due to SetConnMaxLifetime.", []string{"pool"}, nil)
)

func (w *watchedReadings) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{backlogDesc, jobLagDesc, breakerDesc, scrapeErrorsDesc,
		poolMaxOpen, poolOpen, poolInUse, poolIdle, poolWaitCount, poolWaitDuration, poolClosedIdle, poolClosedLife} {
		ch <- d
	}
}

func (w *watchedReadings) Collect(ch chan<- prometheus.Metric) {
	w.mu.Lock()
	backlog, breakers, pools := w.backlog, w.breakers, w.pools
	lags := make(map[string]LagFunc, len(w.lags))
	for k, v := range w.lags {
		lags[k] = v
	}
	w.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	failed := func(reading string) {
		ch <- prometheus.MustNewConstMetric(scrapeErrorsDesc, prometheus.GaugeValue, 1, reading)
	}
	if backlog != nil {
		if n, err := backlog(ctx); err == nil {
			ch <- prometheus.MustNewConstMetric(backlogDesc, prometheus.GaugeValue, float64(n))
		} else {
			failed("webhook_backlog")
		}
	}
	names := make([]string, 0, len(lags))
	for name := range lags {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if d, err := lags[name](ctx); err == nil {
			ch <- prometheus.MustNewConstMetric(jobLagDesc, prometheus.GaugeValue, max(d, 0).Seconds(), name)
		} else {
			failed("job_lag_" + name)
		}
	}
	if breakers != nil {
		if states, err := breakers(ctx); err == nil {
			for provider, state := range states {
				v, ok := BreakerStates[strings.ToLower(state)]
				if !ok {
					v = BreakerStates["open"]
				}
				ch <- prometheus.MustNewConstMetric(breakerDesc, prometheus.GaugeValue, v, provider)
			}
		} else {
			failed("provider_breakers")
		}
	}
	for name, pool := range pools {
		s := pool.Stats()
		ch <- prometheus.MustNewConstMetric(poolMaxOpen, prometheus.GaugeValue, float64(s.MaxOpenConnections), name)
		ch <- prometheus.MustNewConstMetric(poolOpen, prometheus.GaugeValue, float64(s.OpenConnections), name)
		ch <- prometheus.MustNewConstMetric(poolInUse, prometheus.GaugeValue, float64(s.InUse), name)
		ch <- prometheus.MustNewConstMetric(poolIdle, prometheus.GaugeValue, float64(s.Idle), name)
		ch <- prometheus.MustNewConstMetric(poolWaitCount, prometheus.CounterValue, float64(s.WaitCount), name)
		ch <- prometheus.MustNewConstMetric(poolWaitDuration, prometheus.CounterValue, s.WaitDuration.Seconds(), name)
		ch <- prometheus.MustNewConstMetric(poolClosedIdle, prometheus.CounterValue, float64(s.MaxIdleClosed), name)
		ch <- prometheus.MustNewConstMetric(poolClosedLife, prometheus.CounterValue, float64(s.MaxLifetimeClosed), name)
	}
}
