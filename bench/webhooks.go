package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/kassa-pay/kassa/db"
)

// The merchant's webhook endpoint during the bench: Kassa's application points at it, so every
// paid checkout is announced, signed and sent as it would be in production. It answers 204 at
// once and records each webhook's delivery lag: from the event (the body's timestamp, when
// the payment became paid) to its arrival here.

type hookReceiver struct {
	srv *http.Server
	url string

	mu    sync.Mutex
	lags  []lagSample
	seen  map[string]bool
	dupes int
}

type lagSample struct {
	event time.Time
	lag   time.Duration
}

func startHookReceiver() (*hookReceiver, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	h := &hookReceiver{url: "http://" + l.Addr().String() + "/kassa", seen: map[string]bool{}}
	h.srv = &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		now := time.Now()
		body, _ := io.ReadAll(r.Body)
		var msg struct {
			Timestamp time.Time `json:"timestamp"`
		}
		json.Unmarshal(body, &msg)
		h.mu.Lock()
		id := r.Header.Get("webhook-id")
		if h.seen[id] {
			h.dupes++
		} else if !msg.Timestamp.IsZero() {
			h.seen[id] = true
			h.lags = append(h.lags, lagSample{event: msg.Timestamp, lag: now.Sub(msg.Timestamp)})
		}
		h.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})}
	go h.srv.Serve(l)
	return h, nil
}

func (h *hookReceiver) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	h.srv.Shutdown(ctx)
}

// window is when one Kassa turn of a level ran.
type window struct{ from, until time.Time }

// lagsDuring returns the lags of the events that happened inside the windows.
func (h *hookReceiver) lagsDuring(ws []window) []time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []time.Duration
	for _, s := range h.lags {
		for _, w := range ws {
			if !s.event.Before(w.from) && !s.event.After(w.until) {
				out = append(out, s.lag)
				break
			}
		}
	}
	return out
}

// webhookResult is what webhooks cost and how fast they arrive.
type webhookResult struct {
	// LagMS is the delivery lag, event to arrival, of the webhooks of each level's checkouts.
	LagMS map[string]quantiles `json:"delivery_lag_ms"`
	// CPU per checkout at the largest level of an application with a webhook URL and of one
	// without, in alternating turns on the same Kassa; the difference is the webhooks' cost.
	HookedCPUMS float64 `json:"hooked_server_cpu_ms_per_checkout"`
	PlainCPUMS  float64 `json:"plain_server_cpu_ms_per_checkout"`
	CPUMS       float64 `json:"webhook_cpu_ms_per_checkout"`
	// RowWrites are the rows the deliveries wrote per paid checkout: the outbox row (in the
	// payment's own transaction, adding none), and per attempt its claim (which freezes the
	// body), its log row and its outcome. Claims of a pass share one transaction and outcomes
	// are group-committed, so the write transactions are at most two per attempt and fewer
	// under load.
	RowWrites    float64 `json:"webhook_row_writes_per_checkout"`
	Attempts     float64 `json:"webhook_attempts_per_checkout"`
	Delivered    int     `json:"delivered"`
	Received     int     `json:"received"`
	Duplicates   int     `json:"duplicates"`
	NotDelivered int     `json:"not_delivered_at_end"`
}

// countWebhookWrites reads from Kassa's database how many write transactions the deliveries
// of the hooked application's paid checkouts took.
func (w *webhookResult) countWebhookWrites(ctx context.Context, dbURL, clientID string) error {
	var d *sql.DB
	var err error
	if path, ok := strings.CutPrefix(dbURL, "sqlite:"); ok {
		d, err = sql.Open("sqlite3", "file:"+path+"?mode=ro")
	} else {
		d, err = sql.Open(db.PostgresDriverName, dbURL)
	}
	if err != nil {
		return err
	}
	defer d.Close()
	var paid, deliveries, attempts, notDelivered int
	for _, c := range []struct {
		dst   *int
		query string
	}{
		{&paid, `SELECT COUNT(*) FROM payments WHERE status = 'paid' AND client_id = ?`},
		{&deliveries, `SELECT COUNT(*) FROM webhook_deliveries WHERE client_id = ?`},
		{&attempts, `SELECT COUNT(*) FROM webhook_attempts WHERE delivery_id IN (SELECT id FROM webhook_deliveries WHERE client_id = ?)`},
		{&w.Delivered, `SELECT COUNT(*) FROM webhook_deliveries WHERE client_id = ? AND status = 'delivered'`},
		{&notDelivered, `SELECT COUNT(*) FROM webhook_deliveries WHERE client_id = ? AND status <> 'delivered'`},
	} {
		if err := d.QueryRowContext(ctx, c.query, clientID).Scan(c.dst); err != nil {
			return err
		}
	}
	w.NotDelivered = notDelivered
	if paid > 0 {
		w.RowWrites = round(float64(deliveries+3*attempts)/float64(paid), 2)
		w.Attempts = round(float64(attempts)/float64(paid), 2)
	}
	return nil
}
