package db

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/sessions"

	"github.com/kassa-pay/kassa/checkout"
)

func TestMigrationsRunOnce(t *testing.T) {
	d, where := open(t)
	d.Close()
	dbURL := where
	if d.Dialect() == "sqlite" {
		dbURL = "sqlite://" + where
	}
	d2, err := Open(context.Background(), dbURL)
	if err != nil {
		t.Fatalf("reopening an up-to-date database: %v", err)
	}
	defer d2.Close()
	files, _ := migrations.ReadDir("migrations/" + d2.Dialect())
	var n int
	if err := d2.read.QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil || n != len(files) {
		t.Fatalf("%d recorded migrations for %d files, %v", n, len(files), err)
	}
	if d2.Dialect() != "sqlite" {
		return
	}
	var mode string
	d2.write.QueryRow(`PRAGMA journal_mode`).Scan(&mode)
	var fk int
	d2.write.QueryRow(`PRAGMA foreign_keys`).Scan(&fk)
	if mode != "wal" || fk != 1 {
		t.Fatalf("journal_mode %q, foreign_keys %d", mode, fk)
	}
}

func TestOpenRefusesOtherDatabases(t *testing.T) {
	for _, u := range []string{"mysql://x", "sqlite:", "postgres://127.0.0.1:1/kassa?sslmode=disable&connect_timeout=5"} {
		if _, err := Open(context.Background(), u); err == nil {
			t.Errorf("Open(%q) succeeded", u)
		}
	}
}

func TestPostgresPoolSize(t *testing.T) {
	d, dbURL := open(t)
	if d.Dialect() != "postgres" {
		return
	}
	withPool := func(n string) string {
		u, err := url.Parse(dbURL)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		if q.Del("pool_max_conns"); n != "" {
			q.Set("pool_max_conns", n)
		}
		u.RawQuery = q.Encode()
		return u.String()
	}
	for _, tc := range []struct {
		param string
		want  int
	}{{"3", 3}, {"", DefaultPostgresConns}} {
		d2, err := Open(context.Background(), withPool(tc.param))
		if err != nil {
			t.Fatal(err)
		}
		got := d2.write.Stats().MaxOpenConnections
		d2.Close()
		if got != tc.want {
			t.Fatalf("pool_max_conns=%q: a pool of %d connections, want %d", tc.param, got, tc.want)
		}
	}
}

func seed(t *testing.T, d *DB) *checkout.Payment {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Millisecond)
	app := &checkout.App{ClientID: strings.Repeat("a", 32), Name: "Shop", WebhookSecret: "whsec_x", CreatedAt: now}
	if err := d.CreateApp(ctx, app); err != nil {
		t.Fatal(err)
	}
	p := &checkout.Payment{ID: "pay_1", ClientID: app.ClientID, Money: checkout.Money{Amount: 100, Currency: "USD"},
		Reference: "R", ReferenceLabel: "R", Status: checkout.PaymentOpen, ExpiresAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now}
	if err := d.CreatePayment(ctx, p, checkout.Event{PaymentID: p.ID, Type: checkout.EventPaymentCreated, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEventsAreAppendOnly(t *testing.T) {
	d, _ := open(t)
	seed(t, d)
	if _, err := d.write.Exec(`UPDATE events SET type = 'x'`); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Fatalf("updating an event: %v", err)
	}
	if _, err := d.write.Exec(`DELETE FROM events`); err == nil {
		t.Fatal("deleting an event succeeded")
	}
}

func TestApplyIsConditionalAndAtomic(t *testing.T) {
	d, _ := open(t)
	ctx := context.Background()
	p := seed(t, d)
	now := time.Now()
	a := &checkout.Attempt{ID: "att_1", PaymentID: p.ID, Provider: "fake", Status: checkout.AttemptPending, Money: p.Money,
		ProviderRef: "ord_1", CreatedAt: now, UpdatedAt: now}
	if err := d.CreateAttempt(ctx, a, checkout.Event{PaymentID: p.ID, Type: checkout.EventAttemptCreated, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	paid := checkout.Change{
		Payment: &checkout.PaymentChange{ID: p.ID, From: []checkout.PaymentStatus{checkout.PaymentOpen}, To: checkout.PaymentPaid, PaidAt: now, At: now},
		Attempt: &checkout.AttemptChange{ID: a.ID, From: []checkout.AttemptStatus{checkout.AttemptPending}, To: checkout.AttemptPaid, Checks: -1, At: now},
		Events:  []checkout.Event{{PaymentID: p.ID, Type: checkout.EventPaymentPaid, CreatedAt: now}},
	}
	if err := d.Apply(ctx, paid); err != nil {
		t.Fatal(err)
	}
	if err := d.Apply(ctx, paid); err != checkout.ErrConflict {
		t.Fatalf("second identical change: %v, want ErrConflict", err)
	}
	evs, _ := d.Events(ctx, p.ID)
	if len(evs) != 3 {
		t.Fatalf("%d events, want 3: a refused change must add none", len(evs))
	}
	// A change whose attempt half conflicts rolls back its payment half too.
	mixed := checkout.Change{
		Payment: &checkout.PaymentChange{ID: p.ID, From: []checkout.PaymentStatus{checkout.PaymentPaid}, To: checkout.PaymentRefunded, At: now},
		Attempt: &checkout.AttemptChange{ID: a.ID, From: []checkout.AttemptStatus{checkout.AttemptPending}, To: checkout.AttemptDeclined, Checks: -1, At: now},
	}
	if err := d.Apply(ctx, mixed); err != checkout.ErrConflict {
		t.Fatalf("mixed change: %v", err)
	}
	got, _ := d.FindPayment(ctx, p.ID)
	if got.Status != checkout.PaymentPaid || got.Attempts[0].Status != checkout.AttemptPaid || got.Attempts[0].ProviderRef != "ord_1" {
		t.Fatalf("after a refused change: payment %s, attempt %+v", got.Status, got.Attempts[0])
	}
}

func TestSessionStore(t *testing.T) {
	d, _ := open(t)
	now := time.Now()
	d.Now = func() time.Time { return now }
	store := d.NewSessionStore([]byte(strings.Repeat("k", 32)), sessions.Options{Path: "/", MaxAge: 3600, HttpOnly: true})

	r := httptest.NewRequest("GET", "/", nil)
	w := httptest.NewRecorder()
	s, _ := store.Get(r, "kassa_session")
	if !s.IsNew {
		t.Fatal("a request without a cookie got an old session")
	}
	s.Values["notice"] = "declined"
	if err := s.Save(r, w); err != nil {
		t.Fatal(err)
	}
	cookie := w.Result().Cookies()[0]
	if strings.Contains(cookie.Value, "declined") || !cookie.HttpOnly {
		t.Fatalf("cookie %+v must hold only a signed id", cookie)
	}

	load := func(c *http.Cookie) *sessions.Session {
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(c)
		s, err := store.New(r, "kassa_session")
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if s := load(cookie); s.IsNew || s.Values["notice"] != "declined" {
		t.Fatalf("reloaded session %+v", s.Values)
	}
	forged := *cookie
	forged.Value = cookie.Value[:len(cookie.Value)-2] + "xx"
	if s := load(&forged); !s.IsNew {
		t.Fatal("a tampered cookie loaded a session")
	}
	now = now.Add(2 * time.Hour)
	if s := load(cookie); !s.IsNew {
		t.Fatal("an expired session loaded")
	}
	if n, err := d.DeleteExpiredSessions(context.Background()); err != nil || n != 1 {
		t.Fatalf("cleanup removed %d, %v", n, err)
	}
}

// TestSessionNotResurrected: a request that loaded a session before it was deleted (signed
// out in another tab, at the same moment) and saves it afterwards (the dashboard refreshes
// its idle clock, or keeps a notice) must not bring the deleted session back to life.
func TestSessionNotResurrected(t *testing.T) {
	d, _ := open(t)
	store := d.NewSessionStore([]byte(strings.Repeat("k", 32)), sessions.Options{Path: "/", MaxAge: 3600, HttpOnly: true})
	r := httptest.NewRequest("GET", "/", nil)
	w := httptest.NewRecorder()
	s, _ := store.New(r, "kassa_session")
	s.Values["op"] = "op_1"
	if err := s.Save(r, w); err != nil {
		t.Fatal(err)
	}
	cookie := w.Result().Cookies()[0]
	request := func() (*http.Request, *sessions.Session) {
		r := httptest.NewRequest("GET", "/", nil)
		r.AddCookie(cookie)
		s, err := store.New(r, "kassa_session")
		if err != nil || s.IsNew {
			t.Fatalf("session not loaded: %v", err)
		}
		return r, s
	}
	slowR, slow := request() // a request in flight
	outR, out := request()   // sign-out
	out.Options.MaxAge = -1
	if err := out.Save(outR, httptest.NewRecorder()); err != nil {
		t.Fatal(err)
	}
	slow.Values["seen"] = int64(2)
	w = httptest.NewRecorder()
	if err := slow.Save(slowR, w); err != nil {
		t.Fatal(err)
	}
	r = httptest.NewRequest("GET", "/", nil)
	r.AddCookie(cookie)
	if s, _ := store.New(r, "kassa_session"); !s.IsNew {
		t.Fatalf("the deleted session came back: %v", s.Values)
	}
	for _, c := range w.Result().Cookies() {
		if c.Name == "kassa_session" && c.MaxAge >= 0 {
			t.Fatalf("the late save renewed the deleted session's cookie: %+v", c)
		}
	}
}
