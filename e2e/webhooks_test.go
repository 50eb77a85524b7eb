package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// hookedKassa is one running kassa serve.
type hookedKassa struct {
	cmd  *exec.Cmd
	URL  string
	logs *bytes.Buffer
	mu   sync.Mutex
}

// serveProcess starts kassa serve on dbURL with extra environment, and waits for it.
func serveProcess(t *testing.T, dbURL string, env ...string) *hookedKassa {
	t.Helper()
	port := freePort(t)
	p := &hookedKassa{URL: fmt.Sprintf("http://127.0.0.1:%d", port), logs: &bytes.Buffer{}}
	p.cmd = exec.Command(binary, "serve", "--addr", fmt.Sprintf("127.0.0.1:%d", port), "--reconcile-every", "500ms")
	p.cmd.Env = append(append(os.Environ(), "KASSA_DATABASE_URL="+dbURL), env...)
	pr, pw := io.Pipe()
	p.cmd.Stdout, p.cmd.Stderr = pw, pw
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			p.mu.Lock()
			p.logs.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
		}
	}()
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.cmd.Process.Signal(os.Interrupt)
		p.cmd.Wait()
		pw.Close()
		if t.Failed() {
			p.mu.Lock()
			t.Logf("kassa logs (%s):\n%s", p.URL, p.logs)
			p.mu.Unlock()
		}
	})
	for i := 0; ; i++ {
		resp, err := http.Get(p.URL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		if i > 200 {
			t.Fatalf("kassa did not start: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// hookReceiver is a merchant's webhook endpoint that verifies every request.
type hookReceiver struct {
	secret string
	mu     sync.Mutex
	ids    map[string]int // webhook-id → verified requests
	types  map[string]string
	bad    int
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	wh, _ := standardwebhooks.NewWebhook(h.secret)
	var msg struct {
		Type string `json:"type"`
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := wh.Verify(body, r.Header); err != nil || json.Unmarshal(body, &msg) != nil {
		h.bad++
		http.Error(w, "bad signature", http.StatusBadRequest)
		return
	}
	h.ids[r.Header.Get("webhook-id")]++
	h.types[r.Header.Get("webhook-id")] = msg.Type
}

type deliveriesAnswer struct {
	Deliveries []struct {
		ID       string `json:"id"`
		Type     string `json:"type"`
		Status   string `json:"status"`
		Attempts []struct {
			HTTPStatus *int   `json:"httpStatus"`
			Error      string `json:"error"`
		} `json:"attempts"`
	} `json:"deliveries"`
}

// TestWebhooksSurviveSIGKILL: the merchant's endpoint is down, Kassa is killed with SIGKILL
// while its deliveries wait for retries, Kassa starts again on the same database, the
// endpoint comes up, and every event arrives, each under one webhook-id.
func TestWebhooksSurviveSIGKILL(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dbURL := "sqlite:" + filepath.Join(dir, "kassa.db")
	hookAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t)) // nothing listens yet: connections are refused
	allow := "KASSA_WEBHOOK_ALLOW_PRIVATE=true"
	schedule := "KASSA_WEBHOOK_RETRY_SCHEDULE=300ms,500ms,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s"

	create := exec.Command(binary, "apps", "create", "--db", dbURL, "--name", "Hooked shop", "--webhook-url", "http://"+hookAddr+"/kassa")
	create.Env = append(os.Environ(), allow)
	out, err := create.Output()
	var app struct{ ClientID, WebhookSecret string }
	if err != nil || json.Unmarshal(out, &app) != nil {
		t.Fatalf("apps create: %v %s", err, out)
	}
	k := &kassa{client: app.ClientID, dbPath: filepath.Join(dir, "kassa.db")}
	k.token = strings.TrimSpace(string(cli(t, "tokens", "create", "--db", dbURL, "--client-id", app.ClientID, "--scope", "*")))

	first := serveProcess(t, dbURL, allow, schedule)
	k.URL = first.URL
	// Three cancelled payments and one paid (through the Onecheckout sandbox, over HTTP).
	var payments []string
	for range 3 {
		p := k.createPayment(t, 1000, "USD")
		if status := k.api(t, "POST", "/api/payment/"+p.ID+"/cancel", nil, nil); status != 200 {
			t.Fatalf("cancel: %d", status)
		}
		payments = append(payments, p.ID)
	}
	paid := k.createPayment(t, 6197, "USD")
	var instr struct {
		PayURL string `json:"payUrl"`
	}
	if status := k.api(t, "GET", "/api/payment/"+paid.ID+"/instructions?provider=onecheckout", nil, &instr); status != 200 || instr.PayURL == "" {
		t.Fatalf("instructions: %d %+v", status, instr)
	}
	back := completeOverHTTP(t, instr.PayURL, "pay")
	if resp, err := http.Get(back); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	if got := k.payment(t, paid.ID); got.Status != "paid" {
		t.Fatalf("payment %s after paying", got.Status)
	}
	payments = append(payments, paid.ID)

	deliveries := func(id string) deliveriesAnswer {
		var d deliveriesAnswer
		if status := k.api(t, "GET", "/api/payment/"+id+"/webhook-deliveries", nil, &d); status != 200 {
			t.Fatalf("webhook-deliveries: %d", status)
		}
		return d
	}
	waitUntil := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); !cond(); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	waitUntil("failed first attempts while the endpoint is down", func() bool {
		for _, id := range payments {
			d := deliveries(id)
			if len(d.Deliveries) != 1 || len(d.Deliveries[0].Attempts) == 0 || d.Deliveries[0].Status != "pending" {
				return false
			}
		}
		return true
	})
	ids := map[string]string{} // payment → webhook-id before the kill
	for _, id := range payments {
		ids[id] = deliveries(id).Deliveries[0].ID
	}
	if err := first.cmd.Process.Kill(); err != nil { // SIGKILL: no graceful anything
		t.Fatal(err)
	}
	first.cmd.Wait()

	rc := &hookReceiver{secret: app.WebhookSecret, ids: map[string]int{}, types: map[string]string{}}
	ln, err := net.Listen("tcp", hookAddr)
	if err != nil {
		t.Fatal(err)
	}
	hook := &http.Server{Handler: rc}
	go hook.Serve(ln)
	defer hook.Close()

	second := serveProcess(t, dbURL, allow, schedule)
	k.URL = second.URL
	waitUntil("every delivery after the restart", func() bool {
		for _, id := range payments {
			if d := deliveries(id); len(d.Deliveries) != 1 || d.Deliveries[0].Status != "delivered" {
				return false
			}
		}
		return true
	})
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.bad != 0 || len(rc.ids) != len(payments) {
		t.Fatalf("receiver: %d verified webhook-ids %v, %d refused; want %d", len(rc.ids), rc.ids, rc.bad, len(payments))
	}
	for p, id := range ids {
		if rc.ids[id] == 0 || deliveries(p).Deliveries[0].ID != id {
			t.Fatalf("payment %s: webhook-id %s before the kill, received %v", p, id, rc.ids)
		}
	}
	if rc.types[ids[paid.ID]] != "payment.paid" {
		t.Fatalf("the paid payment's webhook was %q", rc.types[ids[paid.ID]])
	}
}

// TestDemoStoreShowsVerifiedWebhook is the newcomer's path after make run: buy in the demo
// store, pay, continue to the merchant, and see the payment.paid webhook arrive, verified.
func TestDemoStoreShowsVerifiedWebhook(t *testing.T) {
	t.Parallel()
	p := serveProcess(t, "sqlite:"+filepath.Join(t.TempDir(), "kassa.db"), "KASSA_WEBHOOK_ALLOW_PRIVATE=true")
	ctx := tab(t)
	do(t, ctx, chromedp.Navigate(p.URL+"/"),
		chromedp.Click(`//label[contains(., 'USD')]`),
		chromedp.Click(`//button[normalize-space(.)='Buy']`),
		chooseProvider("Onecheckout"), pressOnProvider("Pay"))
	waitHeading(t, ctx, "Thank you")
	do(t, ctx, chromedp.Click(`//a[normalize-space(.)='Continue to the merchant']`))
	waitHeading(t, ctx, "Order DEMO-")
	c, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(c, chromedp.WaitVisible(`//*[contains(., 'The payment.paid webhook arrived and its signature verified')]`)); err != nil {
		t.Fatalf("order page never showed the verified webhook: %v\n%s", err, bodyText(ctx, t))
	}
	if page := bodyText(ctx, t); !strings.Contains(page, "payment.paid") || !strings.Contains(page, "verified") || !strings.Contains(page, "msg_") {
		t.Fatalf("order page:\n%s", page)
	}
}
