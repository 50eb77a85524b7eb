package checkout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kassa-pay/kassa/webhooks"
)

// WebhookSender makes one attempt to deliver a signed webhook; webhooks.Client is the real one.
type WebhookSender interface {
	Send(ctx context.Context, m webhooks.Message) webhooks.Result
}

var _ WebhookSender = (*webhooks.Client)(nil)

// DefaultRetrySchedule is the wait before each retry: Standard Webhooks' recommendation
// (immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h) with two daily retries more, so a
// delivery is tried ten times over about three days (75.6 h) before it is failed.
var DefaultRetrySchedule = []time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour,
	10 * time.Hour, 10 * time.Hour, 24 * time.Hour, 24 * time.Hour,
}

// ParseRetrySchedule reads KASSA_WEBHOOK_RETRY_SCHEDULE: comma-separated durations between
// attempts, such as "1s,2s,4s" (four attempts in all).
func ParseRetrySchedule(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, part := range strings.Split(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(part))
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("retry schedule %q: %q is not a positive duration such as 5s or 2h", s, part)
		}
		out = append(out, d)
	}
	return out, nil
}

// Jitter spreads a retry delay uniformly over ±20%, so the retries of many deliveries that
// failed together (an endpoint coming back up) do not arrive together.
func Jitter(d time.Duration) time.Duration {
	return jitterWith(d, rand.Float64())
}

func jitterWith(d time.Duration, r float64) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*r))
}

// maxRetryAfter bounds how long a receiver's Retry-After may push the next attempt.
const maxRetryAfter = 24 * time.Hour

// nextDelay is the wait after attempt number tries (1-based) failed, or false when the
// schedule is over. A Retry-After longer than the schedule's wait is honoured.
func nextDelay(schedule []time.Duration, tries int, retryAfter time.Duration, jitter func(time.Duration) time.Duration) (time.Duration, bool) {
	if tries > len(schedule) {
		return 0, false
	}
	d := jitter(schedule[tries-1])
	retryAfter = min(retryAfter, maxRetryAfter)
	return max(d, retryAfter), true
}

// webhookPayload is the body of every webhook.
type webhookPayload struct {
	Type      string      `json:"type"`
	Timestamp time.Time   `json:"timestamp"`
	Data      PaymentView `json:"data"`
}

func marshalWebhook(typ string, at time.Time, data PaymentView) ([]byte, error) {
	return json.Marshal(webhookPayload{Type: typ, Timestamp: at.UTC(), Data: data})
}

// WebhookStats counts delivery outcomes since start, for metrics.
type WebhookStats struct {
	Delivered, Retried, Failed atomic.Int64
}

// count adds one outcome to the stats and tells OnOutcome.
func (w *WebhookWorker) count(c *atomic.Int64, outcome string) {
	c.Add(1)
	if w.OnOutcome != nil {
		w.OnOutcome(outcome)
	}
}

// WebhookWorker sends queued deliveries. Each delivery is claimed in the database with a
// lease before it is sent, so any number of workers, in any number of processes sharing the
// database, send each attempt once; nothing lives only in memory, so a crash loses nothing
// (a delivery leased by a process that died is taken up again when its lease runs out).
//
// One slow or dead endpoint cannot hold up the others: a global pool of Workers bounds the
// deliveries in progress; each application's endpoint gets at most PerEndpoint requests at a
// time (one while its last attempt failed, until it answers 2xx again) and at most twice that
// many deliveries in progress (never more than half the pool), its further deliveries left
// unclaimed for other workers meanwhile. Claims of a pass are one transaction and outcomes
// are group-committed, so under load deliveries share SQLite's single writer.
type WebhookWorker struct {
	Service *Service
	Sender  WebhookSender
	// Schedule is the wait before each retry; DefaultRetrySchedule when nil.
	Schedule []time.Duration
	// Workers bounds sends in flight (default 32); PerEndpoint bounds them per healthy
	// application endpoint (default 8).
	Workers     int
	PerEndpoint int
	// Lease is how long a claim holds (default 1 minute): longer than a send may take.
	Lease time.Duration
	// Poll is how often the outbox is looked at (default 100 ms): one indexed query that
	// usually finds nothing, and the bound on how long a new event waits to be sent.
	Poll time.Duration
	// Retention is how long delivered rows are kept (default 30 days).
	Retention time.Duration
	// Owner names this worker in leases; random by default.
	Owner string
	// Jitter spreads retry delays; Jitter by default.
	Jitter func(time.Duration) time.Duration
	Stats  WebhookStats
	// OnOutcome, when set, hears each outcome: "delivered", "retry", "failed" (the schedule
	// ended, or nothing could be sent) or "disabled" (the endpoint answered 410), for metrics.
	OnOutcome func(outcome string)

	once     sync.Once
	mu       sync.Mutex
	reserved map[string]int       // deliveries picked and not yet sent, by application
	sending  map[string]int       // requests in flight, by application
	cond     *sync.Cond           // on mu: a request finished
	failing  map[string]bool      // applications whose last attempt here failed
	outcomes chan<- finishRequest // Run's group commit, while it runs
}

// reserveCap is how many deliveries of one application may be picked ahead of their send:
// twice its share of requests, so claims and writes overlap the sends, but never more than
// half the pool.
func (w *WebhookWorker) reserveCap(clientID string) int {
	return max(1, min(2*w.limit(clientID), w.Workers/2))
}

// limit is how many requests an application's endpoint may have in flight; w.mu is held.
func (w *WebhookWorker) limit(clientID string) int {
	if w.failing[clientID] {
		return 1
	}
	return w.PerEndpoint
}

func (w *WebhookWorker) init() {
	w.once.Do(func() {
		if w.Schedule == nil {
			w.Schedule = DefaultRetrySchedule
		}
		if w.Workers <= 0 {
			w.Workers = 32
		}
		if w.PerEndpoint <= 0 {
			w.PerEndpoint = 8
		}
		if w.Lease <= 0 {
			w.Lease = time.Minute
		}
		if w.Poll <= 0 {
			w.Poll = 100 * time.Millisecond
		}
		if w.Retention <= 0 {
			w.Retention = 30 * 24 * time.Hour
		}
		if w.Owner == "" {
			w.Owner = "worker_" + randomID(12)
		}
		if w.Jitter == nil {
			w.Jitter = Jitter
		}
		w.reserved = map[string]int{}
		w.sending = map[string]int{}
		w.cond = sync.NewCond(&w.mu)
		w.failing = map[string]bool{}
	})
}

// Run sends deliveries until ctx ends, then waits for the sends in flight to finish (each
// bounded by the sender's timeout), so a stop does not count an interrupted attempt against
// the merchant. Delivered rows older than Retention are pruned every hour.
func (w *WebhookWorker) Run(ctx context.Context) {
	w.init()
	s := w.Service
	slots := make(chan struct{}, w.Workers)
	freed := make(chan struct{}, 1)
	var wg sync.WaitGroup
	outcomes := make(chan finishRequest, w.Workers)
	recorded := make(chan struct{})
	go func() { w.record(context.WithoutCancel(ctx), outcomes); close(recorded) }()
	w.mu.Lock()
	w.outcomes = outcomes
	w.mu.Unlock()
	defer func() {
		wg.Wait() // the sends in flight finish and hand in their outcomes
		w.mu.Lock()
		w.outcomes = nil
		w.mu.Unlock()
		close(outcomes)
		<-recorded
	}()
	poll := time.NewTicker(w.Poll)
	defer poll.Stop()
	prune := time.NewTicker(time.Hour)
	defer prune.Stop()
	w.prune(ctx)
	for {
		if err := w.claim(ctx, slots, freed, &wg); err != nil && ctx.Err() == nil {
			s.log().ErrorContext(ctx, "webhooks: claim", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-poll.C:
		case <-freed: // a send finished: its slot may take the next due delivery
		case <-prune.C:
			w.prune(ctx)
		}
	}
}

// finishRequest is an outcome waiting to be recorded.
type finishRequest struct {
	out  DeliveryOutcome
	done chan error
}

// maxBatch bounds the claims and the outcomes written in one transaction.
const maxBatch = 64

// record writes outcomes as they come, all those waiting in one transaction (a group commit):
// under load the deliveries share the database's single writer instead of queueing for it one
// by one. Each sender waits for its outcome to be written before giving up its slot.
func (w *WebhookWorker) record(ctx context.Context, in <-chan finishRequest) {
	for r := range in {
		batch := []finishRequest{r}
	more:
		for len(batch) < maxBatch {
			select {
			case r, ok := <-in:
				if !ok {
					break more
				}
				batch = append(batch, r)
			default:
				break more
			}
		}
		outs := make([]DeliveryOutcome, len(batch))
		for i, r := range batch {
			outs[i] = r.out
		}
		err := w.Service.Store.FinishDeliveries(ctx, outs)
		for _, r := range batch {
			r.done <- err
		}
	}
}

// finish records an outcome: through Run's group commit when it runs, else directly.
func (w *WebhookWorker) finish(ctx context.Context, out DeliveryOutcome) error {
	w.mu.Lock()
	outcomes := w.outcomes
	w.mu.Unlock()
	if outcomes == nil {
		return w.Service.Store.FinishDeliveries(ctx, []DeliveryOutcome{out})
	}
	done := make(chan error, 1)
	outcomes <- finishRequest{out, done}
	return <-done
}

// claim takes a slot for each due delivery it may start (within the pool, and the endpoint's
// share of it), claims them all in one transaction, and sends each one it won in its slot.
func (w *WebhookWorker) claim(ctx context.Context, slots chan struct{}, freed chan struct{}, wg *sync.WaitGroup) error {
	free := cap(slots) - len(slots)
	if free == 0 {
		return nil
	}
	w.mu.Lock()
	var busy []string
	for client, n := range w.reserved {
		if n >= w.reserveCap(client) {
			busy = append(busy, client)
		}
	}
	w.mu.Unlock()
	now := w.Service.now()
	due, err := w.Service.Store.DueDeliveries(ctx, now, busy, min(2*free, maxBatch))
	if err != nil {
		return err
	}
	unreserve := func(d Delivery) {
		w.mu.Lock()
		if w.reserved[d.ClientID]--; w.reserved[d.ClientID] == 0 {
			delete(w.reserved, d.ClientID)
		}
		w.mu.Unlock()
	}
	release := func(d Delivery) { unreserve(d); <-slots }
	signal := func() {
		select {
		case freed <- struct{}{}:
		default:
		}
	}
	var picked []Delivery
	for _, d := range due {
		if len(slots) == cap(slots) || ctx.Err() != nil {
			break
		}
		w.mu.Lock()
		full := w.reserved[d.ClientID] >= w.reserveCap(d.ClientID)
		if !full {
			w.reserved[d.ClientID]++
		}
		w.mu.Unlock()
		if full {
			continue
		}
		slots <- struct{}{}
		// The body is made before the claim and frozen by it, so every attempt sends the
		// very same body.
		if len(d.Body) == 0 {
			body, err := w.Service.webhookBody(ctx, &d)
			if err != nil {
				release(d)
				w.Service.log().ErrorContext(ctx, "webhooks: body", "delivery", d.ID, "err", err)
				continue
			}
			d.Body = body
		}
		picked = append(picked, d)
	}
	if len(picked) == 0 {
		return nil
	}
	won, err := w.Service.Store.ClaimDeliveries(ctx, picked, w.Owner, now, now.Add(w.Lease))
	for _, d := range picked {
		if err != nil || !won[d.ID] { // another worker has it
			release(d)
			continue
		}
		wg.Add(1)
		go func(d Delivery) {
			// Once its request is answered, the delivery no longer counts against its
			// application: the next can be claimed while this outcome is written.
			var once sync.Once
			sent := func() { once.Do(func() { unreserve(d); signal() }) }
			defer func() {
				sent()
				<-slots
				signal()
				wg.Done()
			}()
			// The send outlives a stop request: it is bounded by the sender's timeout.
			if err := w.deliver(context.WithoutCancel(ctx), d.ID, sent); err != nil {
				w.Service.log().ErrorContext(ctx, "webhooks: deliver", "delivery", d.ID, "err", err)
			}
		}(d)
	}
	return err
}

// deliver makes one attempt at a delivery this worker has claimed and records its outcome.
// sent is called once the endpoint answered (or could not be reached).
func (w *WebhookWorker) deliver(ctx context.Context, id string, sent func()) error {
	w.init()
	s := w.Service
	d, err := s.Store.FindDelivery(ctx, id)
	if err != nil {
		return err
	}
	now := s.now()
	out := DeliveryOutcome{ID: d.ID, Owner: w.Owner, Tries: d.Tries, At: now}
	app, err := s.Store.FindApp(ctx, d.ClientID)
	if err != nil {
		return err
	}
	if app.WebhookURL == "" || !app.WebhookDisabledAt.IsZero() {
		out.Status, out.LastError = DeliveryFailed, "not sent: the application has no webhook URL"
		if !app.WebhookDisabledAt.IsZero() {
			out.LastError = "not sent: the endpoint is disabled (" + app.WebhookDisabledReason + "); set the webhook URL again to enable it"
		}
		w.count(&w.Stats.Failed, "failed")
		return w.finish(ctx, out)
	}
	body := d.Body
	if len(body) == 0 {
		if body, err = s.webhookBody(ctx, d); err != nil {
			return w.retryLater(ctx, out, err)
		}
		// Frozen before the first send, so every retry sends the very same body.
		if err := s.Store.SetDeliveryBody(ctx, d.ID, body); err != nil {
			return w.retryLater(ctx, out, err)
		}
	}
	// At most limit requests to one endpoint at a time (one while it fails).
	client := app.ClientID
	w.mu.Lock()
	for w.sending[client] >= w.limit(client) {
		w.cond.Wait()
	}
	w.sending[client]++
	w.mu.Unlock()
	now = s.now()
	out.At = now
	res := w.Sender.Send(ctx, webhooks.Message{URL: app.WebhookURL, ID: d.ID, Timestamp: now, Body: body,
		Secrets: app.SigningSecrets(now)})
	w.mu.Lock()
	if w.sending[client]--; w.sending[client] == 0 {
		delete(w.sending, client)
	}
	if res.Delivered() {
		delete(w.failing, client)
	} else {
		w.failing[client] = true
	}
	w.cond.Broadcast()
	w.mu.Unlock()
	sent()
	out.Tries++
	out.Attempt = &DeliveryAttempt{At: now, URL: app.WebhookURL, HTTPStatus: res.Status, Duration: res.Duration, Response: res.Response}
	if res.Err != nil {
		out.Attempt.Error = res.Err.Error()
	}
	out.LastError = out.Attempt.Error
	switch delay, retry := nextDelay(w.Schedule, out.Tries, res.RetryAfter, w.Jitter); {
	case res.Delivered():
		out.Status = DeliveryDelivered
		w.count(&w.Stats.Delivered, "delivered")
	case res.Status == http.StatusGone:
		// The merchant says the endpoint is gone for good: stop sending to it until they
		// set a webhook URL again.
		out.Status = DeliveryFailed
		w.count(&w.Stats.Failed, "disabled")
		if err := s.Store.DisableWebhook(ctx, app.ClientID, app.WebhookURL, "the endpoint answered 410 Gone", now); err != nil {
			return err
		}
		s.log().WarnContext(ctx, "webhooks: endpoint answered 410 Gone: disabled", "client_id", app.ClientID)
	case retry:
		out.Status, out.NextAttemptAt = DeliveryPending, now.Add(delay)
		w.count(&w.Stats.Retried, "retry")
	default:
		out.Status = DeliveryFailed
		w.count(&w.Stats.Failed, "failed")
		s.log().WarnContext(ctx, "webhooks: delivery failed after its last retry", "delivery", d.ID, "client_id", app.ClientID, "err", out.LastError)
	}
	return w.finish(ctx, out)
}

// retryLater puts back a delivery that could not be prepared (a database hiccup), without
// counting an attempt against the merchant.
func (w *WebhookWorker) retryLater(ctx context.Context, out DeliveryOutcome, cause error) error {
	out.Status, out.NextAttemptAt, out.LastError = DeliveryPending, out.At.Add(w.Poll*10), "not sent: "+cause.Error()
	if err := w.finish(ctx, out); err != nil {
		return errors.Join(cause, err)
	}
	return cause
}

// prune deletes delivered rows older than Retention, a batch at a time.
func (w *WebhookWorker) prune(ctx context.Context) {
	before := w.Service.now().Add(-w.Retention)
	for ctx.Err() == nil {
		n, err := w.Service.Store.PruneDeliveries(ctx, before, 500)
		if err != nil {
			w.Service.log().ErrorContext(ctx, "webhooks: prune", "err", err)
			return
		}
		if n < 500 {
			return
		}
	}
}
