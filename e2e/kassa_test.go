// Package e2e drives the real kassa binary with headless Chromium, one shopper journey per
// test: the binary is built once, and each test starts it on a free port with a fresh SQLite
// database and the provider sandboxes mounted.
package e2e

import (
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
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/chromedp"

	"github.com/kassa-pay/kassa/checkout"
	"github.com/kassa-pay/kassa/db"
	"github.com/kassa-pay/kassa/locale"
	"github.com/kassa-pay/kassa/providers"
	"github.com/kassa-pay/kassa/providers/providertest"
)

var (
	binary     string
	browserCtx context.Context
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "kassa-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "kassa")
	// The binary builds while the browser starts.
	build := exec.Command("go", "build", "-o", binary, "..")
	build.Env = append(os.Environ(), "CGO_ENABLED=1")
	var buildOut bytes.Buffer
	build.Stdout, build.Stderr = &buildOut, &buildOut
	if err := build.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "building kassa:", err)
		return 1
	}
	defer build.Wait() // only when returning early
	chrome := os.Getenv("KASSA_CHROMIUM")
	if chrome == "" {
		chrome = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chrome); err != nil {
		// make test installs Chromium; failing here keeps a missing browser from passing
		// as skipped tests.
		fmt.Fprintf(os.Stderr, "e2e: Chromium not found at %s (run make test-deps): %v\n", chrome, err)
		return 1
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.UserDataDir(filepath.Join(dir, "chrome")),
		chromedp.WindowSize(390, 844), // a phone's viewport
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"))
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	var cancelBrowser context.CancelFunc
	browserCtx, cancelBrowser = chromedp.NewContext(allocCtx)
	defer cancelBrowser()
	if err := chromedp.Do(browserCtx); err != nil { // start the browser without a deadline
		fmt.Fprintln(os.Stderr, "e2e: starting Chromium:", err)
		return 1
	}
	if err := build.Wait(); err != nil {
		fmt.Fprintf(os.Stderr, "building kassa: %v\n%s", err, buildOut.String())
		return 1
	}
	return m.Run()
}

// kassa is one running instance of the binary.
type kassa struct {
	URL    string
	dbPath string
	token  string
	client string
	// logs is the instance's output so far; it grows while the instance runs, so read it
	// through proc (proc.output) in a running test.
	logs *bytes.Buffer
	proc *process
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// listening is the line serve prints once its listener is open and its database migrated:
// from then on it answers (requests queue in the listener until it serves).
var listening = regexp.MustCompile(`Kassa is listening on (http://\S+)`)

// start runs the binary with a fresh database, creates a merchant application and a client
// token through the CLI, and waits until the server answers. The server listens on a port the
// kernel picks (no other test can take it between a choice and the bind) and says which.
// Tests that call start may run in parallel: each has its own process and database.
func start(t *testing.T) *kassa {
	t.Helper()
	dir := t.TempDir()
	k := &kassa{dbPath: filepath.Join(dir, "kassa.db")}
	dbURL := "sqlite:" + k.dbPath

	out := cli(t, "apps", "create", "--db", dbURL, "--name", "E2E shop")
	var app struct {
		ClientID      string `json:"clientId"`
		WebhookSecret string `json:"webhookSecret"`
	}
	if err := json.Unmarshal(out, &app); err != nil || len(app.ClientID) != 32 || !strings.HasPrefix(app.WebhookSecret, "whsec_") {
		t.Fatalf("apps create printed %q (%v)", out, err)
	}
	k.client = app.ClientID
	k.token = strings.TrimSpace(string(cli(t, "tokens", "create", "--db", dbURL, "--client-id", app.ClientID, "--scope", "*", "--label", "e2e")))

	k.proc = spawn(t, "kassa", []string{"KASSA_DATABASE_URL=" + dbURL}, "serve", "--addr", "127.0.0.1:0", "--reconcile-every", "500ms")
	k.logs = &k.proc.logs
	k.URL = k.proc.waitFor(t, listening, 30*time.Second)[1]
	return k
}

func cli(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("kassa %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

type apiPayment struct {
	ID          string `json:"id"`
	Status      string `json:"status"`
	Amount      int64  `json:"amount"`
	Currency    string `json:"currencyCode"`
	CheckoutURL string `json:"checkoutUrl"`
	Attempts    []struct {
		ID                string `json:"id"`
		Provider          string `json:"provider"`
		ProviderReference string `json:"providerReference"`
		Status            string `json:"status"`
	} `json:"attempts"`
}

// api calls the merchant API with the instance's token and decodes a 2xx answer into out.
func (k *kassa) api(t *testing.T, method, path string, body any, out any) int {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, k.URL+path, r)
	req.Header.Set("Authorization", "Bearer "+k.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, raw)
		}
	}
	return resp.StatusCode
}

func (k *kassa) createPayment(t *testing.T, amount int64, cur string) apiPayment {
	t.Helper()
	var p apiPayment
	status := k.api(t, "POST", "/api/payment/checkout", map[string]any{
		"amount": amount, "currencyCode": cur, "reference": "ORDER-" + cur, "referenceLabel": "Order #" + cur, "clientId": k.client,
	}, &p)
	if status != http.StatusCreated || p.Status != "open" || !strings.HasPrefix(p.CheckoutURL, k.URL+"/checkout/") {
		t.Fatalf("create payment: HTTP %d, %+v", status, p)
	}
	return p
}

func (k *kassa) payment(t *testing.T, id string) apiPayment {
	t.Helper()
	var p apiPayment
	if status := k.api(t, "GET", "/api/payment/"+id, nil, &p); status != http.StatusOK {
		t.Fatalf("get payment: HTTP %d", status)
	}
	return p
}

// events reads the payment's event log straight from the database file.
func (k *kassa) events(t *testing.T, paymentID, typ string) int {
	t.Helper()
	d, err := db.Open(context.Background(), "sqlite:"+k.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	evs, err := d.Events(context.Background(), paymentID)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Type == typ {
			n++
		}
	}
	return n
}

// browserContexts holds each running test's browser context (see tab).
var browserContexts sync.Map // *testing.T → cdp.BrowserContextID

// tab opens a fresh browser tab for one test. The tabs of one test share their cookies, as
// the tabs of one browser do, and tabs of different tests share nothing: each test gets a
// browser context of its own (an incognito profile) with its first tab. Tests run in
// parallel, each Kassa listens on 127.0.0.1, and cookies do not tell ports apart: in one
// shared cookie jar, one test's session and CSRF cookies would replace another's. The browser
// context is disposed of when the test ends, which also closes the connections Chromium kept
// open to the test's Kassa (a server's graceful shutdown waits seconds for such sockets).
func tab(t *testing.T) context.Context {
	t.Helper()
	id, shared := browserContexts.Load(t)
	opt := chromedp.WithNewBrowserContext()
	if shared {
		opt = chromedp.WithExistingBrowserContext(id.(cdp.BrowserContextID))
	}
	ctx, cancel := chromedp.NewContext(browserCtx, opt)
	// The tabs close in the reverse order of their opening, so the first tab, which owns
	// the browser context, closes last.
	t.Cleanup(cancel)
	if !shared {
		if err := chromedp.Do(ctx); err != nil { // open the tab and its browser context
			t.Fatalf("browser: opening a tab: %v", err)
		}
		browserContexts.Store(t, chromedp.FromContext(ctx).BrowserContextID)
		t.Cleanup(func() { browserContexts.Delete(t) })
	}
	ctx, cancelTimeout := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(cancelTimeout)
	return ctx
}

func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		c, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		url, _ := chromedp.Run(c, chromedp.Location())
		body, _ := chromedp.Run(c, chromedp.Text(chromedp.CSS("body")))
		t.Fatalf("browser: %v\nat %s:\n%s", err, url, body)
	}
}

// get runs one action that returns a value.
func get[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	return v
}

// xpath literal for text that may hold quotes.
func lit(s string) string {
	if !strings.Contains(s, "'") {
		return "'" + s + "'"
	}
	return `"` + s + `"`
}

// chooseProvider picks the radio labelled name and presses the button whose name starts
// with "Pay", as a shopper would.
func chooseProvider(name string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.WaitVisible(chromedp.CSS("h1")),
		chromedp.Click(`//label[normalize-space(text())=`+lit(name)+`]`),
		chromedp.Click(`//button[starts-with(normalize-space(.), 'Pay')]`),
	)
}

// pressOnProvider presses the sandbox pay page's button named exactly label.
func pressOnProvider(label string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.WaitVisible(`//button[normalize-space(.)=`+lit(label)+`]`),
		chromedp.Click(`//button[normalize-space(.)=`+lit(label)+`]`),
	)
}

// waitHeading waits until the page's main heading contains text, as a shopper waits for the
// next page after a click.
func waitHeading(t *testing.T, ctx context.Context, text string) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(c, chromedp.WaitVisible(`//h1[contains(., `+lit(text)+`)]`)); err != nil {
		url, _ := chromedp.Run(ctx, chromedp.Location())
		body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
		t.Fatalf("no heading containing %q at %s: %v\n%s", text, url, err, body)
	}
}

func heading(ctx context.Context, t *testing.T) string {
	t.Helper()
	do(t, ctx, chromedp.WaitVisible(chromedp.CSS("h1")))
	return get(t, ctx, chromedp.Text(chromedp.CSS("h1")))
}

func bodyText(ctx context.Context, t *testing.T) string {
	t.Helper()
	return get(t, ctx, chromedp.Text(chromedp.CSS("body")))
}

// journey is one provider and a currency it serves, for the table-driven journeys.
type journey struct {
	Name     string // the provider's display name: the radio's label
	Currency string
	Amount   int64
}

var journeys = []journey{
	{Name: "Onecheckout", Currency: "USD", Amount: 6197},
	{Name: "EnKash", Currency: "INR", Amount: 199907},
	{Name: "KS Pay", Currency: "INR", Amount: 34567},
	{Name: "OneKhusa", Currency: "MWK", Amount: 4500000},
}

func TestPay(t *testing.T) {
	t.Parallel()
	for _, j := range journeys {
		t.Run(j.Name, func(t *testing.T) {
			t.Parallel()
			k := start(t)
			p := k.createPayment(t, j.Amount, j.Currency)
			ctx := tab(t)
			do(t, ctx, chromedp.Navigate(p.CheckoutURL))
			page := bodyText(ctx, t)
			want := locale.Shared().Translator("en").Money(j.Amount, j.Currency)
			if !strings.Contains(page, want) || !strings.Contains(page, "Order #"+j.Currency) {
				t.Fatalf("checkout page lacks %q or the reference label:\n%s", want, page)
			}
			do(t, ctx, chooseProvider(j.Name), pressOnProvider("Pay"))
			waitHeading(t, ctx, "Thank you")
			if page := bodyText(ctx, t); !strings.Contains(page, want) || !strings.Contains(page, "Order #"+j.Currency) {
				t.Fatalf("thank-you page lacks the amount or reference:\n%s", page)
			}
			got := k.payment(t, p.ID)
			if got.Status != "paid" || len(got.Attempts) != 1 || got.Attempts[0].Status != "paid" || got.Attempts[0].ProviderReference == "" {
				t.Fatalf("API after paying: %+v", got)
			}
			// A second visit of the return URL shows the same truth and changes nothing.
			ret := fmt.Sprintf("%s/checkout/%s/return/%s?outcome=return", k.URL, p.ID, got.Attempts[0].ID)
			do(t, ctx, chromedp.Navigate(ret))
			waitHeading(t, ctx, "Thank you")
			if n := k.events(t, p.ID, checkout.EventPaymentPaid); n != 1 {
				t.Fatalf("%d payment.paid events, want 1", n)
			}
		})
	}
}

func TestCancelThenPay(t *testing.T) {
	t.Parallel()
	for _, j := range journeys {
		t.Run(j.Name, func(t *testing.T) {
			t.Parallel()
			k := start(t)
			p := k.createPayment(t, j.Amount, j.Currency)
			ctx := tab(t)
			do(t, ctx, chromedp.Navigate(p.CheckoutURL), chooseProvider(j.Name), pressOnProvider("Cancel"))
			waitHeading(t, ctx, "Pay "+locale.Shared().Translator("en").Money(j.Amount, j.Currency))
			if page := bodyText(ctx, t); !strings.Contains(page, "cancelled") {
				t.Fatalf("after cancelling, no notice containing 'cancelled':\n%s", page)
			}
			if got := k.payment(t, p.ID); got.Status != "open" {
				t.Fatalf("payment %s after cancel, want open", got.Status)
			}
			do(t, ctx, chooseProvider(j.Name), pressOnProvider("Pay"))
			waitHeading(t, ctx, "Thank you")
			if got := k.payment(t, p.ID); got.Status != "paid" || len(got.Attempts) != 2 {
				t.Fatalf("API after cancel then pay: %+v", got)
			}
		})
	}
}

func TestDecline(t *testing.T) {
	t.Parallel()
	for _, j := range journeys {
		t.Run(j.Name, func(t *testing.T) {
			t.Parallel()
			k := start(t)
			p := k.createPayment(t, j.Amount, j.Currency)
			ctx := tab(t)
			do(t, ctx, chromedp.Navigate(p.CheckoutURL), chooseProvider(j.Name), pressOnProvider("Decline"))
			waitHeading(t, ctx, "Pay "+locale.Shared().Translator("en").Money(j.Amount, j.Currency))
			if page := bodyText(ctx, t); !strings.Contains(page, "declined") || strings.Contains(page, "Thank you") {
				t.Fatalf("after declining, no notice containing 'declined':\n%s", page)
			}
			if got := k.payment(t, p.ID); got.Status != "open" || got.Attempts[0].Status != "declined" {
				t.Fatalf("API after decline: %+v", got)
			}
			// The shopper can choose again: the form is back.
			do(t, ctx, chromedp.WaitVisible(`//button[starts-with(normalize-space(.), 'Pay')]`))
		})
	}
}

func TestForgedReturn(t *testing.T) {
	t.Parallel()
	for _, j := range journeys {
		t.Run(j.Name, func(t *testing.T) {
			t.Parallel()
			k := start(t)
			p := k.createPayment(t, j.Amount, j.Currency)
			ctx := tab(t)
			do(t, ctx, chromedp.Navigate(p.CheckoutURL), chooseProvider(j.Name),
				chromedp.WaitVisible(`//button[normalize-space(.)='Pay']`))
			a := k.payment(t, p.ID).Attempts[0]
			// Every parameter a provider might send, claiming success, without paying.
			forged := fmt.Sprintf("%s/checkout/%s/return/%s?outcome=return&payment_id=%s&reference_id=%s&payment_status=success&status=PAID&kspay_id=%s",
				k.URL, p.ID, a.ID, a.ProviderReference, a.ID, a.ProviderReference)
			do(t, ctx, chromedp.Navigate(forged))
			if h := heading(ctx, t); strings.Contains(h, "Thank you") {
				t.Fatal("a forged return showed Thank you")
			}
			if page := bodyText(ctx, t); strings.Contains(page, "Thank you") {
				t.Fatalf("a forged return page says Thank you:\n%s", page)
			}
			if got := k.payment(t, p.ID); got.Status != "open" {
				t.Fatalf("payment %s after a forged return", got.Status)
			}
			if n := k.events(t, p.ID, checkout.EventPaymentPaid); n != 0 {
				t.Fatalf("%d payment.paid events after a forged return", n)
			}
		})
	}
}

func TestRacingReturns(t *testing.T) {
	t.Parallel()
	for _, j := range journeys {
		t.Run(j.Name, func(t *testing.T) {
			t.Parallel()
			k := start(t)
			p := k.createPayment(t, j.Amount, j.Currency)
			ctx := tab(t)
			// Pay in the browser but stop it on the way back, so the returns can race.
			do(t, ctx, chromedp.Navigate(p.CheckoutURL), chooseProvider(j.Name),
				chromedp.WaitVisible(`//button[normalize-space(.)='Pay']`))
			payPage := get(t, ctx, chromedp.Location())
			ret := completeOverHTTP(t, payPage, "pay")
			if !strings.HasPrefix(ret, k.URL+"/checkout/"+p.ID+"/return/") {
				t.Fatalf("provider sent the shopper to %s", ret)
			}
			var wg sync.WaitGroup
			codes := make(chan int, 12)
			for range 12 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
					resp, err := c.Get(ret)
					if err != nil {
						t.Error(err)
						return
					}
					resp.Body.Close()
					codes <- resp.StatusCode
				}()
			}
			do(t, ctx, chromedp.Navigate(ret)) // and the shopper's own browser
			wg.Wait()
			close(codes)
			for c := range codes {
				if c != http.StatusSeeOther {
					t.Errorf("a racing return answered %d, want 303", c)
				}
			}
			waitHeading(t, ctx, "Thank you")
			if n := k.events(t, p.ID, checkout.EventPaymentPaid); n != 1 {
				t.Fatalf("%d payment.paid events from 13 racing returns, want exactly 1", n)
			}
		})
	}
}

// completeOverHTTP presses a sandbox pay page's button over plain HTTP, as the conformance
// suite's shopper does, and returns where the provider redirects, without following it.
func completeOverHTTP(t *testing.T, payPage, action string) string {
	t.Helper()
	back, err := providertest.FormShopper{}.Complete(context.Background(), providers.Session{PayURL: payPage}, providertest.Action(action))
	if err != nil {
		t.Fatal(err)
	}
	return back.String()
}

// TestMobileMoneyPush pays with OneKhusa's push: the shopper types their phone number, Kassa
// shows a page that refreshes itself, and the payment is final once the simulated phone
// answers the prompt.
func TestMobileMoneyPush(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		answer string // the simulated phone's button
		method string
		phone  string
		want   string // heading or notice after the answer
	}{
		{"Approve", "Airtel Money", "0991 234 567", "Thank you"},
		{"Decline", "TNM Mpamba", "+265 888 123 456", "declined"},
	} {
		t.Run(tc.answer, func(t *testing.T) {
			t.Parallel()
			k := start(t)
			p := k.createPayment(t, 4500000, "MWK")
			ctx := tab(t)
			do(t, ctx, chromedp.Navigate(p.CheckoutURL),
				chromedp.WaitVisible(chromedp.CSS("h1")),
				chromedp.Click(`//label[normalize-space(text())='OneKhusa']`))
			sel := `//label[normalize-space(.)='OneKhusa payment method']`
			id := get(t, ctx, chromedp.AttributeValue(sel, "for")).Value
			do(t, ctx,
				chromedp.SetValue(chromedp.ID(id), map[string]string{"Airtel Money": "airtel", "TNM Mpamba": "mpamba"}[tc.method]),
				chromedp.SendKeys(chromedp.ID("phone"), "12345"),
				chromedp.Click(`//button[starts-with(normalize-space(.), 'Pay')]`))
			// A number that is not Malawian is refused on the page, and nothing is pushed. The
			// page has the same heading before and after the submit: wait for the error itself.
			waitHeading(t, ctx, "Pay MWK")
			wait, cancel := context.WithTimeout(ctx, 15*time.Second)
			err := chromedp.Do(wait, chromedp.WaitVisible(`//*[contains(text(), 'Malawian mobile number')]`))
			cancel()
			if err != nil {
				t.Fatalf("no phone error on the page:\n%s", bodyText(ctx, t))
			}
			if got := k.payment(t, p.ID); len(got.Attempts) != 0 {
				t.Fatalf("an invalid phone created attempts: %+v", got.Attempts)
			}
			do(t, ctx,
				chromedp.Click(`//label[normalize-space(text())='OneKhusa']`),
				chromedp.SetValue(chromedp.ID(id), map[string]string{"Airtel Money": "airtel", "TNM Mpamba": "mpamba"}[tc.method]),
				chromedp.Clear(chromedp.ID("phone")),
				chromedp.SendKeys(chromedp.ID("phone"), tc.phone),
				chromedp.Click(`//button[starts-with(normalize-space(.), 'Pay')]`))
			waitHeading(t, ctx, "Confirm the payment on your phone")

			phone := tab(t)
			do(t, phone, chromedp.Navigate(k.URL+"/sandbox/onekhusa/phone"), pressOnProvider(tc.answer))

			// The waiting page refreshes itself (no JavaScript) until the answer is final.
			if tc.want == "Thank you" {
				waitHeading(t, ctx, "Thank you")
				if got := k.payment(t, p.ID); got.Status != "paid" {
					t.Fatalf("payment %s after the phone approved", got.Status)
				}
				return
			}
			waitHeading(t, ctx, "Pay MWK")
			if page := bodyText(ctx, t); !strings.Contains(page, tc.want) {
				t.Fatalf("no notice containing %q:\n%s", tc.want, page)
			}
			if got := k.payment(t, p.ID); got.Status != "open" {
				t.Fatalf("payment %s after the phone declined", got.Status)
			}
		})
	}
}
