package onecheckout_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kassa-pay/kassa/providers"
	"github.com/kassa-pay/kassa/providers/onecheckout"
	"github.com/kassa-pay/kassa/providers/onecheckout/sandbox"
)

const secretKey = "oc_live_9c1d2e3f4a5b6c7d8e9f"

// fake answers every request with status and body, counting the requests.
func fake(t *testing.T, status int, body string, header map[string]string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func fakeClient(srv *httptest.Server) *onecheckout.Client {
	return onecheckout.NewClient(onecheckout.Config{BaseURL: srv.URL + basePath, APIKey: secretKey, Timeout: 2 * time.Second})
}

func TestSecretNeverPrintsOrLogs(t *testing.T) {
	cfg := onecheckout.Config{BaseURL: "https://onecheckout.test/api/v1.0", APIKey: secretKey}
	var out bytes.Buffer
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		fmt.Fprintf(&out, verb+"\n", cfg)
		fmt.Fprintf(&out, verb+"\n", cfg.APIKey)
		fmt.Fprintf(&out, verb+"\n", &cfg)
	}
	slog.New(slog.NewJSONHandler(&out, nil)).Info("config", "cfg", cfg, "key", cfg.APIKey)
	slog.New(slog.NewTextHandler(&out, nil)).Info("config", "cfg", cfg, "key", cfg.APIKey)

	// An error body that echoes the key, a transport failure, and a rejection of the key.
	echo, _ := fake(t, 401, `{"error":{"code":"api_key_invalid","message":"key `+secretKey+` is not valid"}}`, nil)
	_, err := fakeClient(echo).GetMe(context.Background())
	if !errors.Is(err, providers.ErrAuth) {
		t.Fatalf("echoing server: %v, want ErrAuth", err)
	}
	fmt.Fprintln(&out, err)
	slog.New(slog.NewJSONHandler(&out, nil)).Error("call failed", "err", err)

	dead := onecheckout.NewClient(onecheckout.Config{BaseURL: "http://127.0.0.1:1/api/v1.0", APIKey: secretKey})
	_, err = dead.GetOrder(context.Background(), "0001")
	if !errors.Is(err, providers.ErrUnavailable) {
		t.Fatalf("unreachable provider: %v, want ErrUnavailable", err)
	}
	fmt.Fprintln(&out, err)

	_, srv := newSandbox(t, sandbox.Config{})
	_, err = fakeClient(srv).CreateOrder(context.Background(), onecheckout.CreateOrderRequest{Currency: "USD"})
	if !errors.Is(err, providers.ErrAuth) {
		t.Fatalf("wrong key at the sandbox: %v, want ErrAuth", err)
	}
	fmt.Fprintln(&out, err)

	if strings.Contains(out.String(), secretKey) || strings.Contains(out.String(), secretKey[:12]) {
		t.Fatalf("the key leaked:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "[redacted]") {
		t.Fatalf("nothing was redacted; was the key printed at all?\n%s", out.String())
	}
	if string(cfg.APIKey) != secretKey {
		t.Fatal("the key itself must stay usable")
	}
}

func TestErrorShapes(t *testing.T) {
	for _, tc := range []struct {
		status     int
		body       string
		kind       error
		code, text string
	}{
		{401, `{"error":"missing token"}`, providers.ErrAuth, "", "missing token"},
		{400, `{"error":{"code":"api_key_required","message":"The API key was not provided."}}`, providers.ErrAuth, "api_key_required", "not provided"},
		{400, `{"error":"id_required"}`, providers.ErrInvalid, "id_required", ""},
		{404, `{"error":"id_invalid"}`, providers.ErrNotFound, "id_invalid", ""},
		{403, `{"error":{"code":"id_invalid","message":"forbidden"}}`, providers.ErrNotFound, "id_invalid", "forbidden"},
		{400, `{"error":"order_status_invalid"}`, providers.ErrConflict, "order_status_invalid", ""},
		{400, `{"error":{"code":"validation_error","message":"Invalid request data","details":[{"field":"amount","issue":"amount_invalid"}]}}`,
			providers.ErrInvalid, "validation_error", "amount: amount_invalid"},
		{500, `{"error":{"code":"server_error","message":"boom"}}`, providers.ErrUnavailable, "server_error", "boom"},
		{502, `<html><body>Bad gateway</body></html>`, providers.ErrUnavailable, "", "Bad gateway"},
		{200, `{"id": 12`, providers.ErrUnavailable, "", "malformed response"},
	} {
		srv, _ := fake(t, tc.status, tc.body, nil)
		_, err := fakeClient(srv).GetOrder(context.Background(), "0001")
		var pe *providers.Error
		if !errors.As(err, &pe) || !errors.Is(err, tc.kind) {
			t.Errorf("%d %s: %v, want kind %v", tc.status, tc.body, err, tc.kind)
			continue
		}
		if pe.Code != tc.code || !strings.Contains(pe.Message, tc.text) || pe.Provider != providers.Onecheckout || pe.Op != "fetch order" {
			t.Errorf("%d %s: %+v, want code %q and message with %q", tc.status, tc.body, pe, tc.code, tc.text)
		}
	}
}

func TestRateLimitRetries(t *testing.T) {
	ctx := context.Background()
	body := `{"error":{"code":"rate_limit_exceeded","message":"Too many requests."}}`

	// Reads are retried a bounded number of times, then the 429 is returned.
	srv, n := fake(t, 429, body, map[string]string{"Retry-After": "0"})
	_, err := fakeClient(srv).GetOrder(ctx, "0001")
	if !errors.Is(err, providers.ErrRateLimited) || n.Load() != 4 {
		t.Fatalf("read: %v after %d requests, want ErrRateLimited after 4", err, n.Load())
	}
	// A create is retried once: a 429 was not processed.
	srv, n = fake(t, 429, body, map[string]string{"Retry-After": "0"})
	_, err = fakeClient(srv).CreateOrder(ctx, onecheckout.CreateOrderRequest{Currency: "USD"})
	if !errors.Is(err, providers.ErrRateLimited) || n.Load() != 2 {
		t.Fatalf("create: %v after %d requests, want ErrRateLimited after 2", err, n.Load())
	}
	// A wait longer than the client accepts is handed to the caller at once.
	srv, n = fake(t, 429, body, map[string]string{"Retry-After": "120"})
	_, err = fakeClient(srv).GetOrder(ctx, "0001")
	var pe *providers.Error
	if !errors.As(err, &pe) || pe.RetryAfter != 2*time.Minute || n.Load() != 1 {
		t.Fatalf("long wait: %v (%d requests), want RetryAfter 2m after 1", err, n.Load())
	}
	// A wait beyond the caller's deadline is not started either.
	srv, n = fake(t, 429, body, map[string]string{"Retry-After": "2"})
	dl, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, err = fakeClient(srv).GetOrder(dl, "0001")
	if !errors.Is(err, providers.ErrRateLimited) || n.Load() != 1 {
		t.Fatalf("deadline: %v after %d requests, want ErrRateLimited after 1", err, n.Load())
	}
	// A read that is refused once and then answered succeeds.
	var calls atomic.Int64
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(429)
			return
		}
		_, _ = w.Write([]byte(`{"id":"0001","status":"OPEN","currency":"USD","amount":1.5}`))
	}))
	defer flaky.Close()
	o, err := fakeClient(flaky).GetOrder(ctx, "0001")
	if err != nil || o.ID != "0001" || o.Amount != "1.5" {
		t.Fatalf("flaky read: %+v %v", o, err)
	}
}

func TestClientAgainstSandbox(t *testing.T) {
	_, srv := newSandbox(t, sandbox.Config{})
	c := onecheckout.New(config(srv)).Client()
	ctx := context.Background()

	me, err := c.GetMe(ctx)
	if err != nil || me.ID == "" || len(me.Currencies) == 0 {
		t.Fatalf("GetMe: %+v %v", me, err)
	}
	hook := "https://kassa.test/callbacks/onecheckout"
	me, err = c.UpdateMe(ctx, onecheckout.MerchantUpdate{WebhookURL: &hook})
	if err != nil || me.WebhookURL != hook {
		t.Fatalf("UpdateMe: %+v %v", me, err)
	}
	bad := "not a url"
	if _, err := c.UpdateMe(ctx, onecheckout.MerchantUpdate{SuccessURL: &bad}); !errors.Is(err, providers.ErrInvalid) {
		t.Fatalf("UpdateMe with a bad URL: %v, want ErrInvalid", err)
	}

	// The documented example body, in major units.
	o, err := c.CreateOrder(ctx, onecheckout.CreateOrderRequest{
		Currency: "USD",
		OrderLines: []onecheckout.OrderLine{
			{Key: "PRODUCT-001", Title: "Premium Widget", Quantity: "2", UnitPrice: "25.99"},
			{Title: "Gadget", Quantity: "1", UnitPrice: "8.69"},
		},
		TaxAmount:   "1.30",
		SuccessURL:  "https://store.example.com/success",
		CancelURL:   "https://store.example.com/cancel",
		ReferenceID: "your_internal_id",
	})
	if err != nil {
		t.Fatal(err)
	}
	if o.Status != "OPEN" || o.Amount != "61.97" || o.PaymentToken == "" || o.Link("pay") == "" || o.ZeroDecimal == nil || *o.ZeroDecimal {
		t.Fatalf("created %+v", o)
	}

	for _, tc := range []struct {
		req   onecheckout.CreateOrderRequest
		issue string
	}{
		{onecheckout.CreateOrderRequest{Currency: "GBP", OrderLines: []onecheckout.OrderLine{{Title: "x", Quantity: "1", UnitPrice: "5"}}}, "currency_invalid"},
		{onecheckout.CreateOrderRequest{Currency: "USD", OrderLines: []onecheckout.OrderLine{{Title: "x", Quantity: "1", UnitPrice: "0.49"}}}, "amount_invalid"},
		{onecheckout.CreateOrderRequest{Currency: "JPY", OrderLines: []onecheckout.OrderLine{{Title: "x", Quantity: "1", UnitPrice: "10.5"}}}, "amount_invalid"},
		{onecheckout.CreateOrderRequest{Currency: "USD", Amount: "6", OrderLines: []onecheckout.OrderLine{{Title: "x", Quantity: "1", UnitPrice: "5"}}}, "amount_invalid"},
		{onecheckout.CreateOrderRequest{Currency: "USD"}, "order_lines: required"},
	} {
		_, err := c.CreateOrder(ctx, tc.req)
		var pe *providers.Error
		if !errors.As(err, &pe) || !errors.Is(err, providers.ErrInvalid) || pe.Code != "validation_error" || !strings.Contains(pe.Message, tc.issue) {
			t.Errorf("create %+v: %v, want validation_error with %s", tc.req, err, tc.issue)
		}
	}

	events, err := c.ListOrderEvents(ctx, o.ID)
	if err != nil || len(events) != 1 || events[0].Type != "payment_created" || events[0].PaymentStatus != "PENDING" || events[0].OrderID != o.ID {
		t.Fatalf("events %+v %v", events, err)
	}
	if _, err := c.CaptureOrder(ctx, o.ID); !errors.Is(err, providers.ErrConflict) {
		t.Fatalf("capture of an open order: %v, want ErrConflict", err)
	}
	if _, err := c.GetOrder(ctx, ""); !errors.Is(err, providers.ErrInvalid) {
		t.Fatalf("empty id: %v, want ErrInvalid", err)
	}
}

func TestListOrdersPages(t *testing.T) {
	_, srv := newSandbox(t, sandbox.Config{})
	c := onecheckout.New(config(srv)).Client()
	ctx := context.Background()
	created := map[string]bool{}
	for i := range 5 {
		o, err := c.CreateOrder(ctx, onecheckout.CreateOrderRequest{
			Currency: "JPY", ReferenceID: fmt.Sprint("ref", i),
			OrderLines: []onecheckout.OrderLine{{Title: "x", Quantity: "1", UnitPrice: "100"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		created[o.ID] = true
	}
	seen := map[string]bool{}
	req := onecheckout.ListOrdersRequest{Limit: 2}
	pages := 0
	for {
		page, err := c.ListOrders(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if page.Count != 5 || len(page.Orders) > 2 {
			t.Fatalf("page %d: count %d with %d orders", pages, page.Count, len(page.Orders))
		}
		for _, o := range page.Orders {
			if seen[o.ID] || !created[o.ID] || o.Amount != "100" {
				t.Fatalf("page %d: order %+v repeated or unknown", pages, o)
			}
			seen[o.ID] = true
		}
		if page.NextAnchor == "" {
			break
		}
		req.Anchor = page.NextAnchor
	}
	if pages != 3 || len(seen) != 5 {
		t.Fatalf("%d pages, %d orders; want 3 and 5", pages, len(seen))
	}

	all, err := c.ListOrders(ctx, onecheckout.ListOrdersRequest{})
	if err != nil || all.Limit != 20 || len(all.Orders) != 5 {
		t.Fatalf("default limit: %+v %v", all, err)
	}
	paid, err := c.ListOrders(ctx, onecheckout.ListOrdersRequest{Status: "PAID"})
	if err != nil || paid.Count != 0 {
		t.Fatalf("paid filter: %+v %v", paid, err)
	}
	future := time.Now().Add(time.Hour).Unix()
	later, err := c.ListOrders(ctx, onecheckout.ListOrdersRequest{CreatedHourFrom: future})
	if err != nil || later.Count != 0 {
		t.Fatalf("created_hour_from filter: %+v %v", later, err)
	}
	for _, bad := range []onecheckout.ListOrdersRequest{{Status: "LOST"}, {Anchor: "nope"}} {
		if _, err := c.ListOrders(ctx, bad); !errors.Is(err, providers.ErrInvalid) {
			t.Errorf("list %+v: %v, want ErrInvalid", bad, err)
		}
	}
	if _, err := c.ListOrders(ctx, onecheckout.ListOrdersRequest{Limit: 1025}); !errors.Is(err, providers.ErrInvalid) {
		t.Errorf("limit 1025: %v, want ErrInvalid", err)
	}
}

func TestClientPacesItself(t *testing.T) {
	srv, n := fake(t, 200, `{"id":"me"}`, nil)
	c := onecheckout.NewClient(onecheckout.Config{BaseURL: srv.URL, APIKey: secretKey, RequestsPerMinute: 10})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	// A burst of a tenth of the minute's budget passes; the next one would have to wait
	// about six seconds, beyond the deadline, so it is refused without being sent.
	if _, err := c.GetMe(ctx); err != nil {
		t.Fatal(err)
	}
	_, err := c.GetMe(ctx)
	if !errors.Is(err, providers.ErrRateLimited) || n.Load() != 1 {
		t.Fatalf("second request: %v after %d sent, want ErrRateLimited after 1", err, n.Load())
	}
}
