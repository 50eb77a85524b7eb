package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	_ "github.com/mattn/go-sqlite3"
)

// floorCommand is the hidden subcommand that runs the floor server in a child process, so
// it runs beside the load generator exactly as Kassa does.
const floorCommand = "floor-serve"

// The floor is the least a server can do for one checkout: the same HTTP round trips as Kassa
// (seven from the merchant and the browser, two from the server to the provider) and the same
// SQLite writes (four write transactions, eleven rows: the paid transaction also queues the
// merchant's webhook in an outbox row, as Kassa's does), with bare net/http handlers, a cookie
// for CSRF, one primary-key read where a page needs the payment's state, and nothing else.
//
// Its SQLite is opened as Kassa's is: WAL, synchronous=FULL, foreign keys on, one connection
// for writes (BEGIN IMMEDIATE) and a read-only pool beside it.
const (
	floorWriteTransactions = 4
	floorRowWrites         = 11
	floorProviderCalls     = 2
)

const floorSchema = `
CREATE TABLE IF NOT EXISTS payments (id TEXT PRIMARY KEY, amount BIGINT NOT NULL, currency TEXT NOT NULL,
	reference TEXT NOT NULL, status TEXT NOT NULL, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS attempts (id TEXT PRIMARY KEY, payment_id TEXT NOT NULL REFERENCES payments (id),
	status TEXT NOT NULL, provider_ref TEXT NOT NULL DEFAULT '', created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, payment_id TEXT NOT NULL REFERENCES payments (id),
	type TEXT NOT NULL, data TEXT NOT NULL, created_at BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS webhook_deliveries (id TEXT PRIMARY KEY, payment_id TEXT NOT NULL REFERENCES payments (id),
	event_seq BIGINT NOT NULL, type TEXT NOT NULL, status TEXT NOT NULL, next_attempt_at BIGINT, created_at BIGINT NOT NULL);`

type floor struct {
	write, read *sql.DB
	token       string
	base        string
	provider    *http.Client

	mu     sync.Mutex
	orders map[string]*floorOrder // the provider's side: orders by id
}

type floorOrder struct {
	paid      bool
	returnURL string
}

// runFloorServer is the floor child process's main.
func runFloorServer(args []string) int {
	fs := flag.NewFlagSet(floorCommand, flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	dbPath := fs.String("db", "", "SQLite file")
	token := fs.String("token", "", "the bearer token the API accepts")
	if err := fs.Parse(args); err != nil || *dbPath == "" || *token == "" {
		fmt.Fprintln(os.Stderr, "floor: usage: floor-serve --addr ADDR --db PATH --token TOKEN")
		return 2
	}
	params := "_journal_mode=WAL&_foreign_keys=on&_busy_timeout=5000&_synchronous=FULL"
	w, err := sql.Open("sqlite3", "file:"+*dbPath+"?"+params+"&_txlock=immediate")
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		return 1
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	if _, err := w.Exec(floorSchema); err != nil {
		fmt.Fprintln(os.Stderr, "floor: schema:", err)
		return 1
	}
	r, err := sql.Open("sqlite3", "file:"+*dbPath+"?"+params+"&mode=ro")
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		return 1
	}
	r.SetMaxOpenConns(8)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		return 1
	}
	f := &floor{write: w, read: r, token: *token, base: "http://" + ln.Addr().String(), orders: map[string]*floorOrder{},
		provider: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 512}}}
	hs := &http.Server{Handler: f.routes(), ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
	}()
	if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "floor:", err)
		return 1
	}
	return 0
}

func (f *floor) routes() http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"status":"ok"}`) })
	m.HandleFunc("POST /api/payment/checkout", f.create)
	m.HandleFunc("GET /checkout/{id}", f.page)
	m.HandleFunc("POST /checkout/{id}", f.choose)
	m.HandleFunc("GET /checkout/{id}/return/{attempt}", f.providerReturn)
	// The provider: its API (called by the server) and its pay page (visited by the shopper).
	m.HandleFunc("POST /provider/orders", f.providerCreate)
	m.HandleFunc("GET /provider/orders/{id}", f.providerFetch)
	m.HandleFunc("GET /pay/{id}", f.payPage)
	m.HandleFunc("POST /pay/{id}", f.paySubmit)
	return m
}

func floorID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// tx runs fn in a write transaction.
func (f *floor) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := f.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

func event(ctx context.Context, tx *sql.Tx, paymentID, typ string, now int64) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO events (payment_id, type, data, created_at) VALUES (?, ?, '{}', ?)`, paymentID, typ, now)
	return err
}

// create: POST /api/payment/checkout. Write transaction 1: the payment and its event.
func (f *floor) create(w http.ResponseWriter, r *http.Request) {
	if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte("Bearer "+f.token)) != 1 {
		http.Error(w, `{"message":"Unauthenticated"}`, http.StatusUnauthorized)
		return
	}
	var req struct {
		Amount       int64  `json:"amount"`
		CurrencyCode string `json:"currencyCode"`
		Reference    string `json:"reference"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&req); err != nil || req.Amount <= 0 {
		http.Error(w, `{"message":"bad request"}`, http.StatusBadRequest)
		return
	}
	id, now := floorID(), time.Now().UnixMilli()
	err := f.tx(r.Context(), func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(r.Context(), `INSERT INTO payments (id, amount, currency, reference, status, created_at, updated_at)
			VALUES (?, ?, ?, ?, 'open', ?, ?)`, id, req.Amount, req.CurrencyCode, req.Reference, now, now); err != nil {
			return err
		}
		return event(r.Context(), tx, id, "payment.created", now)
	})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(map[string]any{"id": id, "status": "open", "amount": req.Amount, "currencyCode": req.CurrencyCode,
		"checkoutUrl": f.base + "/checkout/" + id})
}

var floorPages = template.Must(template.New("checkout").Parse(`<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Pay</title></head>
<body><main><h1>Pay {{.Currency}} {{.Amount}}</h1><form method="post" action="/checkout/{{.ID}}">
<input type="hidden" name="csrf_token" value="{{.CSRF}}"><input type="radio" name="provider" id="p" value="onecheckout" required>
<label for="p">Onecheckout</label><button type="submit">Pay</button></form></main></body></html>`))

var floorThanks = template.Must(template.New("thanks").Parse(`<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Thank you</title></head>
<body><main><h1>Thank you for your payment</h1><p>{{.Currency}} {{.Amount}}</p></main></body></html>`))

var floorPay = template.Must(template.New("pay").Parse(`<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Provider</title></head>
<body><main><h1>Pay</h1><form method="post" action="/pay/{{.}}"><input type="hidden" name="token" value="{{.}}">
<button type="submit" name="action" value="pay">Pay</button></form></main></body></html>`))

func renderHTML(w http.ResponseWriter, t *template.Template, v any) {
	var buf bytes.Buffer
	if err := t.Execute(&buf, v); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(buf.Bytes())
}

// page: GET /checkout/{id}, the choice while open (with a CSRF cookie), thanks once paid.
func (f *floor) page(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var amount int64
	var currency, status string
	err := f.read.QueryRowContext(r.Context(), `SELECT amount, currency, status FROM payments WHERE id = ?`, id).Scan(&amount, &currency, &status)
	if errors.Is(err, sql.ErrNoRows) {
		http.NotFound(w, r)
		return
	} else if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	v := map[string]any{"ID": id, "Amount": amount, "Currency": currency}
	if status == "paid" {
		renderHTML(w, floorThanks, v)
		return
	}
	token := floorID()
	http.SetCookie(w, &http.Cookie{Name: "floor_csrf", Value: token, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	v["CSRF"] = token
	renderHTML(w, floorPages, v)
}

// choose: POST /checkout/{id}. Write transaction 2 records the attempt, the provider is asked
// for an order, and write transaction 3 records the provider's answer.
func (f *floor) choose(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	c, err := r.Cookie("floor_csrf")
	if err != nil || r.Header.Get("Origin") != f.base ||
		subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue("csrf_token"))) != 1 {
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	if r.PostFormValue("provider") != "onecheckout" {
		http.Error(w, "choose a provider", http.StatusUnprocessableEntity)
		return
	}
	paymentID, attemptID, now := r.PathValue("id"), floorID(), time.Now().UnixMilli()
	if err := f.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO attempts (id, payment_id, status, created_at, updated_at) VALUES (?, ?, 'creating', ?, ?)`,
			attemptID, paymentID, now, now); err != nil {
			return err
		}
		return event(ctx, tx, paymentID, "attempt.created", now)
	}); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	body, _ := json.Marshal(map[string]string{"return_url": f.base + "/checkout/" + paymentID + "/return/" + attemptID})
	var order struct {
		ID     string `json:"id"`
		PayURL string `json:"pay_url"`
	}
	if err := f.call(ctx, http.MethodPost, "/provider/orders", body, &order); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	now = time.Now().UnixMilli()
	if err := f.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE attempts SET status = 'pending', provider_ref = ?, updated_at = ? WHERE id = ? AND status = 'creating'`,
			order.ID, now, attemptID); err != nil {
			return err
		}
		return event(ctx, tx, paymentID, "attempt.pending", now)
	}); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	http.Redirect(w, r, order.PayURL, http.StatusSeeOther)
}

// providerReturn: GET /checkout/{id}/return/{attempt}. The provider is asked, and write
// transaction 4 marks the attempt and the payment paid with two events.
func (f *floor) providerReturn(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	paymentID, attemptID := r.PathValue("id"), r.PathValue("attempt")
	var ref string
	if err := f.read.QueryRowContext(ctx, `SELECT provider_ref FROM attempts WHERE id = ? AND payment_id = ?`, attemptID, paymentID).Scan(&ref); err != nil {
		http.NotFound(w, r)
		return
	}
	var order struct {
		Status string `json:"status"`
	}
	if err := f.call(ctx, http.MethodGet, "/provider/orders/"+ref, nil, &order); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	if order.Status == "PAID" {
		now := time.Now().UnixMilli()
		if err := f.tx(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, `UPDATE payments SET status = 'paid', updated_at = ? WHERE id = ? AND status = 'open'`, now, paymentID); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE attempts SET status = 'paid', updated_at = ? WHERE id = ? AND status = 'pending'`, now, attemptID); err != nil {
				return err
			}
			if err := event(ctx, tx, paymentID, "attempt.status", now); err != nil {
				return err
			}
			if err := event(ctx, tx, paymentID, "payment.paid", now); err != nil {
				return err
			}
			// The outbox row announcing payment.paid (the floor does not send it).
			_, err := tx.ExecContext(ctx, `INSERT INTO webhook_deliveries (id, payment_id, event_seq, type, status, next_attempt_at, created_at)
				VALUES (?, ?, (SELECT MAX(seq) FROM events), 'payment.paid', 'pending', ?, ?)`, "msg_"+floorID(), paymentID, now, now)
			return err
		}); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	http.Redirect(w, r, "/checkout/"+paymentID, http.StatusSeeOther)
}

// call is one server-to-server round trip to the provider.
func (f *floor) call(ctx context.Context, method, path string, body []byte, out any) error {
	req, _ := http.NewRequestWithContext(ctx, method, f.base+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.provider.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("provider: HTTP %d", resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func (f *floor) providerCreate(w http.ResponseWriter, r *http.Request) {
	var req struct {
		ReturnURL string `json:"return_url"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	id := floorID()
	f.mu.Lock()
	f.orders[id] = &floorOrder{returnURL: req.ReturnURL}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(map[string]string{"id": id, "status": "OPEN", "pay_url": f.base + "/pay/" + id})
}

func (f *floor) providerFetch(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	o := f.orders[r.PathValue("id")]
	paid := o != nil && o.paid
	f.mu.Unlock()
	if o == nil {
		http.NotFound(w, r)
		return
	}
	status := "OPEN"
	if paid {
		status = "PAID"
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{"id": r.PathValue("id"), "status": status})
}

func (f *floor) payPage(w http.ResponseWriter, r *http.Request) {
	renderHTML(w, floorPay, r.PathValue("id"))
}

func (f *floor) paySubmit(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	pay := r.PostFormValue("action") == "pay" && r.PostFormValue("token") == id
	f.mu.Lock()
	o := f.orders[id]
	if o != nil && pay {
		o.paid = true
	}
	f.mu.Unlock()
	if o == nil {
		http.NotFound(w, r)
		return
	}
	http.Redirect(w, r, o.returnURL, http.StatusSeeOther)
}
