package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	gozxingqr "github.com/makiuchi-d/gozxing/qrcode"

	"github.com/kassa-pay/kassa/checkout"
	"github.com/kassa-pay/kassa/handlers"
)

// linkToken is a client token of the env's application with only payment-links.manage.
func (e *env) linkToken(t *testing.T) string {
	t.Helper()
	tok, _, err := e.svc.NewToken(context.Background(), e.app.ClientID, []checkout.Scope{checkout.ScopePaymentLinksManage}, "links", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return tok.Reveal()
}

// createLink creates a link through the API and returns its JSON.
func (e *env) createLink(t *testing.T, body string) map[string]any {
	t.Helper()
	status, l := e.api(t, "POST", "/api/payment-links", e.linkToken(t), body)
	if status != http.StatusCreated {
		t.Fatalf("create link: %d %v", status, l)
	}
	return l
}

// postLink POSTs the link's form with the CSRF token of an earlier GET of the page.
func (e *env) postLink(t *testing.T, id, csrfToken string, form url.Values) (*http.Response, string) {
	t.Helper()
	form.Set("csrf_token", csrfToken)
	req, _ := http.NewRequest("POST", e.srv.URL+"/l/"+id, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", e.srv.URL)
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (e *env) linkCSRF(t *testing.T, id string) string {
	t.Helper()
	status, body := e.page(t, "/l/"+id)
	m := csrfField.FindStringSubmatch(body)
	if status != http.StatusOK || m == nil {
		t.Fatalf("GET /l/%s: %d without a CSRF field:\n%s", id, status, body)
	}
	return m[1]
}

func (e *env) countPayments(t *testing.T) int {
	t.Helper()
	n, err := e.store.CountPayments(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestLinkAPI(t *testing.T) {
	e := newEnv(t)
	tok := e.linkToken(t)
	body := `{"clientId": "` + e.app.ClientID + `", "name": "Tote bag", "amount": 2400, "currencyCode": "USD",
		"quantity": {"min": 1, "max": 5}, "maxPayments": 3, "successUrl": "https://shop.example/thanks/{PAYMENT_ID}",
		"metadata": {"sku": "TOTE-1"}}`
	status, l := e.api(t, "POST", "/api/payment-links", tok, body, "Idempotency-Key", "link-1")
	if status != http.StatusCreated {
		t.Fatalf("create: %d %v", status, l)
	}
	id, _ := l["id"].(string)
	if !strings.HasPrefix(id, "plink_") || len(id) != 32 || l["url"] != e.srv.URL+"/l/"+id || l["qrCodeUrl"] != e.srv.URL+"/l/"+id+"/qr.png" ||
		l["active"] != true || l["paymentsCount"] != float64(0) || l["state"] != "open" {
		t.Fatalf("created %v", l)
	}
	// The idempotent replay answers the same link and creates no other.
	if status, again := e.api(t, "POST", "/api/payment-links", tok, body, "Idempotency-Key", "link-1"); status != 201 || again["id"] != id {
		t.Fatalf("replay: %d %v", status, again)
	}
	if status, list := e.api(t, "GET", "/api/payment-links", tok, ""); status != 200 || len(list["data"].([]any)) != 1 {
		t.Fatalf("list: %d %v", status, list)
	}

	// The client token is limited to its own application; a token without the scope is 403.
	other, _ := e.svc.NewApp(context.Background(), "Other", "")
	otherTok, _, _ := e.svc.NewToken(context.Background(), other.ClientID, []checkout.Scope{checkout.ScopeAll}, "", time.Time{})
	if status, _ := e.api(t, "GET", "/api/payment-links/"+id, otherTok.Reveal(), ""); status != http.StatusNotFound {
		t.Errorf("another application's link: %d, want 404", status)
	}
	if status, _ := e.api(t, "PATCH", "/api/payment-links/"+id, otherTok.Reveal(), `{"active": false}`); status != http.StatusNotFound {
		t.Errorf("patching another application's link: %d, want 404", status)
	}
	if status, _ := e.api(t, "POST", "/api/payment-links", tok, strings.Replace(body, e.app.ClientID, other.ClientID, 1)); status != http.StatusForbidden {
		t.Errorf("creating for another application: %d, want 403", status)
	}
	getOnly, _, _ := e.svc.NewToken(context.Background(), e.app.ClientID, []checkout.Scope{checkout.ScopePaymentsGet}, "", time.Time{})
	if status, _ := e.api(t, "GET", "/api/payment-links", getOnly.Reveal(), ""); status != http.StatusForbidden {
		t.Errorf("a token without payment-links.manage: %d, want 403", status)
	}
	if status, _ := e.api(t, "GET", "/api/payment-links", "", ""); status != http.StatusUnauthorized {
		t.Errorf("no token: %d, want 401", status)
	}

	// A dashboard token sees every application's links, and must name the application.
	dash := e.dashboardToken(t)
	if status, got := e.api(t, "GET", "/api/payment-links/"+id, dash, ""); status != 200 || got["id"] != id {
		t.Errorf("dashboard get: %d %v", status, got)
	}
	if status, got := e.api(t, "POST", "/api/payment-links", dash, `{"name": "X", "amount": 100, "currencyCode": "USD"}`); status != 422 ||
		got["errors"].(map[string]any)["clientId"] == nil {
		t.Errorf("dashboard create without clientId: %d %v", status, got)
	}
	if status, got := e.api(t, "POST", "/api/payment-links", dash, `{"clientId": "`+other.ClientID+`", "name": "Y", "lineItems": [{"name": "A", "quantity": 2, "unitAmount": 150}], "currencyCode": "EUR"}`); status != 201 ||
		got["amount"] != float64(300) || got["clientId"] != other.ClientID {
		t.Errorf("dashboard create with line items: %d %v", status, got)
	}
	if status, list := e.api(t, "GET", "/api/payment-links?clientId="+other.ClientID, dash, ""); status != 200 || len(list["data"].([]any)) != 1 {
		t.Errorf("dashboard list of one application: %d %v", status, list)
	}

	// 422 names each bad field, and creates nothing.
	status, bad := e.api(t, "POST", "/api/payment-links", tok, `{"name": "", "amount": 10.5, "currencyCode": "usd", "quantity": {"min": 3, "max": 2},
		"maxPayments": 0, "successUrl": "ftp://x", "expiresAt": "tomorrow"}`)
	errs, _ := bad["errors"].(map[string]any)
	for _, f := range []string{"name", "amount", "currencyCode", "quantity.max", "maxPayments", "successUrl", "expiresAt"} {
		if errs[f] == nil {
			t.Errorf("422 has no error for %s: %d %v", f, status, bad)
		}
	}
	if links, _ := e.svc.Links(context.Background(), "", 100); len(links) != 2 {
		t.Fatalf("%d links after the refused creates, want 2", len(links))
	}

	// PATCH: the price cannot change; active false deactivates.
	if status, got := e.api(t, "PATCH", "/api/payment-links/"+id, tok, `{"amount": 1}`); status != 422 || got["errors"].(map[string]any)["amount"] == nil {
		t.Errorf("patching the amount: %d %v", status, got)
	}
	status, patched := e.api(t, "PATCH", "/api/payment-links/"+id, tok, `{"active": false, "name": "Tote bag (old)", "maxPayments": null}`)
	if status != 200 || patched["active"] != false || patched["state"] != "inactive" || patched["name"] != "Tote bag (old)" || patched["maxPayments"] != nil {
		t.Fatalf("patch: %d %v", status, patched)
	}
}

func TestLinkPageAndPayment(t *testing.T) {
	e := newEnv(t)
	l := e.createLink(t, `{"clientId": "`+e.app.ClientID+`", "name": "Tote bag", "description": "Sturdy canvas.", "amount": 2400,
		"currencyCode": "USD", "quantity": {"min": 1, "max": 5}, "successUrl": "https://shop.example/thanks/{PAYMENT_ID}",
		"metadata": {"sku": "TOTE-1"}}`)
	id := l["id"].(string)

	status, body := e.page(t, "/l/"+id)
	for _, want := range []string{"<h1>Tote bag</h1>", `<label for="quantity">Quantity</label>`, `type="number"`, `min="1"`, `max="5"`,
		`value="1"`, ">Continue to payment</button>", "$24.00", "Sturdy canvas."} {
		if !strings.Contains(body, want) {
			t.Errorf("link page lacks %q", want)
		}
	}
	if status != 200 {
		t.Fatalf("GET: %d", status)
	}
	// An embedded GET form prefills a quantity in range, and ignores one out of it.
	if _, body := e.page(t, "/l/"+id+"?quantity=3"); !strings.Contains(body, `value="3"`) {
		t.Errorf("?quantity=3 not prefilled")
	}
	if _, body := e.page(t, "/l/"+id+"?quantity=9999"); strings.Contains(body, `value="9999"`) || !strings.Contains(body, "between 1 and 5") {
		t.Errorf("?quantity=9999 prefilled or not explained")
	}
	// HEAD, like GET, creates nothing.
	req, _ := http.NewRequest("HEAD", e.srv.URL+"/l/"+id, nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("HEAD: %v %v", resp, err)
	}
	if n := e.countPayments(t); n != 0 {
		t.Fatalf("GET and HEAD created %d payments", n)
	}

	// Tampered forms: 422, the form again, and no payment.
	csrfToken := e.linkCSRF(t, id)
	for _, q := range []string{"-1", "0", "6", "99999999999999999999", "1e3", "3.5", "", " 3", "0x3", "+3"} {
		resp, body := e.postLink(t, id, csrfToken, url.Values{"quantity": {q}})
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "Continue to payment") || !strings.Contains(body, "between 1 and 5") {
			t.Errorf("quantity %q: %d, want 422 with the form", q, resp.StatusCode)
		}
	}
	if n := e.countPayments(t); n != 0 {
		t.Fatalf("tampered forms created %d payments", n)
	}
	// Without the CSRF token: refused.
	req, _ = http.NewRequest("POST", e.srv.URL+"/l/"+id, strings.NewReader("quantity=2"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if resp, err := e.client.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("POST without CSRF: %v %v", resp, err)
	}

	// A form with an amount, a price and a currency of its own: all ignored.
	resp, _ := e.postLink(t, id, csrfToken, url.Values{"quantity": {"3"}, "amount": {"1"}, "price": {"1"}, "currencyCode": {"XOF"}, "unitAmount": {"1"}})
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/checkout/pay_") {
		t.Fatalf("POST: %d to %q", resp.StatusCode, loc)
	}
	payID := strings.TrimPrefix(loc, "/checkout/")
	status, p := e.api(t, "GET", "/api/payment/"+payID, e.token, "")
	if status != 200 || p["amount"] != float64(7200) || p["currencyCode"] != "USD" || p["linkId"] != id ||
		p["successUrl"] != "https://shop.example/thanks/"+payID || p["metadata"].(map[string]any)["sku"] != "TOTE-1" {
		t.Fatalf("the payment: %d %v", status, p)
	}
	if li := p["lineItems"].([]any); len(li) != 1 || li[0].(map[string]any)["quantity"] != float64(3) {
		t.Fatalf("line items %v", p["lineItems"])
	}
	// Its checkout page is the usual one.
	if status, body := e.page(t, loc); status != 200 || !strings.Contains(body, "$72.00") {
		t.Fatalf("checkout page: %d", status)
	}
	// A payment not from a link has no linkId.
	if status, plain := e.api(t, "POST", "/api/payment/checkout", e.token, e.createBody("500")); status != 201 || plain["linkId"] != nil {
		t.Fatalf("plain payment: %d %v", status, plain)
	}
	if _, got := e.api(t, "GET", "/api/payment-links/"+id, e.linkToken(t), ""); got["paymentsCount"] != float64(1) || got["paidCount"] != float64(0) {
		t.Fatalf("counters after one payment: %v", got)
	}
	if status, got := e.api(t, "GET", "/api/payment-links/"+id+"/payments", e.linkToken(t), ""); status != 200 ||
		len(got["data"].([]any)) != 1 || got["data"].([]any)[0].(map[string]any)["id"] != payID {
		t.Fatalf("the link's payments: %d %v", status, got)
	}
}

func TestLinkClosedPages(t *testing.T) {
	e := newEnv(t)
	tok := e.linkToken(t)
	l := e.createLink(t, `{"clientId": "`+e.app.ClientID+`", "name": "Last ticket", "amount": 1000, "currencyCode": "USD", "maxPayments": 1}`)
	id := l["id"].(string)
	csrfToken := e.linkCSRF(t, id)
	resp, _ := e.postLink(t, id, csrfToken, url.Values{})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("first payment: %d", resp.StatusCode)
	}
	// The one place is held by that payment: sold out for now, and nothing more is created.
	if status, body := e.page(t, "/l/"+id); status != http.StatusGone || !strings.Contains(body, "Sold out for now") {
		t.Errorf("GET with every place held: %d", status)
	}
	if resp, body := e.postLink(t, id, csrfToken, url.Values{}); resp.StatusCode != http.StatusGone || !strings.Contains(body, "Sold out for now") {
		t.Errorf("POST with every place held: %d", resp.StatusCode)
	}
	// Paid: used up for good, 410.
	payID := strings.TrimPrefix(resp.Header.Get("Location"), "/checkout/")
	now := time.Now()
	if err := e.store.Apply(context.Background(), checkout.Change{Payment: &checkout.PaymentChange{ID: payID,
		From: []checkout.PaymentStatus{checkout.PaymentOpen}, To: checkout.PaymentPaid, PaidAt: now, At: now}}); err != nil {
		t.Fatal(err)
	}
	if status, body := e.page(t, "/l/"+id); status != http.StatusGone || !strings.Contains(body, "<h1>Sold out</h1>") {
		t.Errorf("GET of a used-up link: %d", status)
	}
	if _, got := e.api(t, "GET", "/api/payment-links/"+id, tok, ""); got["paidCount"] != float64(1) || got["state"] != "used_up" ||
		fmt.Sprint(got["collected"]) != "[map[amount:1000 currencyCode:USD]]" {
		t.Errorf("counters after paying: %v", got)
	}
	// Deactivated: 410 on the page and on the form.
	l2 := e.createLink(t, `{"clientId": "`+e.app.ClientID+`", "name": "Tea", "amount": 300, "currencyCode": "USD"}`)
	id2 := l2["id"].(string)
	csrf2 := e.linkCSRF(t, id2)
	e.api(t, "PATCH", "/api/payment-links/"+id2, tok, `{"active": false}`)
	if status, body := e.page(t, "/l/"+id2); status != http.StatusGone || !strings.Contains(body, "no longer active") {
		t.Errorf("GET of an inactive link: %d", status)
	}
	if resp, _ := e.postLink(t, id2, csrf2, url.Values{}); resp.StatusCode != http.StatusGone {
		t.Errorf("POST of an inactive link: %d", resp.StatusCode)
	}
	if n := e.countPayments(t); n != 1 {
		t.Errorf("%d payments, want 1", n)
	}
	if status, _ := e.page(t, "/l/plink_nope"); status != http.StatusNotFound {
		t.Errorf("unknown link: %d", status)
	}
}

func TestLinkPaymentsRateLimited(t *testing.T) {
	e := newEnv(t)
	e.server.LinkPayments = handlers.NewRateLimiter(2)
	l := e.createLink(t, `{"clientId": "`+e.app.ClientID+`", "name": "Tea", "amount": 300, "currencyCode": "USD"}`)
	id := l["id"].(string)
	csrfToken := e.linkCSRF(t, id)
	for i := range 3 {
		resp, _ := e.postLink(t, id, csrfToken, url.Values{})
		want := http.StatusSeeOther
		if i == 2 {
			want = http.StatusTooManyRequests
		}
		if resp.StatusCode != want || (want == 429 && resp.Header.Get("Retry-After") == "") {
			t.Fatalf("POST %d: %d, want %d", i+1, resp.StatusCode, want)
		}
	}
	if n := e.countPayments(t); n != 2 {
		t.Fatalf("%d payments, want 2", n)
	}
	// Viewing the page is not limited.
	if status, _ := e.page(t, "/l/"+id); status != 200 {
		t.Fatalf("GET after the limit: %d", status)
	}
}

func TestLinkQRCodes(t *testing.T) {
	e := newEnv(t)
	l := e.createLink(t, `{"clientId": "`+e.app.ClientID+`", "name": "Tea", "amount": 300, "currencyCode": "USD"}`)
	resp, err := http.Get(l["qrCodeUrl"].(string))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	etag := resp.Header.Get("ETag")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" || etag == "" || !strings.Contains(resp.Header.Get("Cache-Control"), "max-age") {
		t.Fatalf("qr.png: %d %v", resp.StatusCode, resp.Header)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	bmp, _ := gozxing.NewBinaryBitmapFromImage(img)
	res, err := gozxingqr.NewQRCodeReader().Decode(bmp, nil)
	if err != nil || res.GetText() != l["url"] {
		t.Fatalf("the served QR code decodes to %v (%v), want %s", res, err, l["url"])
	}
	req, _ := http.NewRequest("HEAD", l["qrCodeUrl"].(string), nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") != etag {
		t.Fatalf("HEAD of the QR code: %v %v", resp, err)
	}
	req, _ = http.NewRequest("GET", l["qrCodeUrl"].(string), nil)
	req.Header.Set("If-None-Match", etag)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNotModified {
		t.Fatalf("revalidation: %v %v", resp, err)
	}
	resp, err = http.Get(l["qrCodeSvgUrl"].(string) + "?download=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/svg+xml" || resp.Header.Get("ETag") == etag ||
		!strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("qr.svg: %d %v", resp.StatusCode, resp.Header)
	}
	if resp, _ := http.Get(e.srv.URL + "/l/plink_nope/qr.png"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("QR of an unknown link: %d", resp.StatusCode)
	}
}

// liveLinks checks the payment-link operations' real answers against the OpenAPI document,
// with both kinds of token. TestOpenAPIMatchesLiveDashboardAnswers calls it with its
// dashboard access token.
func liveLinks(t *testing.T, l *liveDoc, access string) {
	t.Helper()
	e, ctx := l.e, context.Background()
	tok := e.linkToken(t)
	var id string
	for name, body := range l.mediaExamples("POST /api/payment-links", "") {
		b := body.(map[string]any)
		b["clientId"] = e.app.ClientID
		if _, ok := b["expiresAt"]; ok {
			b["expiresAt"] = time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
		}
		raw, _ := json.Marshal(b)
		created := l.expect(201, "POST", "/api/payment-links", tok, string(raw))
		if created["name"] != b["name"] || created["clientId"] != e.app.ClientID {
			t.Errorf("example %q created %v", name, created)
		}
		id = created["id"].(string)
	}
	create := `{"clientId": "` + e.app.ClientID + `", "name": "Tea", "amount": 300, "currencyCode": "USD"}`
	l.expect(201, "POST", "/api/payment-links", access, create, "Idempotency-Key", "live-link")
	l.expect(201, "POST", "/api/payment-links", access, create, "Idempotency-Key", "live-link")
	l.expect(409, "POST", "/api/payment-links", access, strings.Replace(create, "300", "301", 1), "Idempotency-Key", "live-link")
	l.expect(422, "POST", "/api/payment-links", tok, `{"name": "", "amount": -1, "currencyCode": "usd"}`)
	l.expect(400, "POST", "/api/payment-links", tok, `{"name": `)
	l.expect(413, "POST", "/api/payment-links", tok, `{"name": "`+strings.Repeat("x", 70<<10)+`"}`)
	l.expect(401, "POST", "/api/payment-links", "", create)
	getOnly, _, _ := e.svc.NewToken(ctx, e.app.ClientID, []checkout.Scope{checkout.ScopePaymentsGet}, "", time.Time{})
	l.expect(403, "POST", "/api/payment-links", getOnly.Reveal(), create)
	l.expect(403, "POST", "/api/payment-links", tok, strings.Replace(create, e.app.ClientID, strings.Repeat("b", 32), 1))

	l.expect(200, "GET", "/api/payment-links", tok, "")
	l.expect(200, "GET", "/api/payment-links?limit=1&clientId="+e.app.ClientID, access, "")
	l.expect(422, "GET", "/api/payment-links?limit=0", access, "")
	l.expect(403, "GET", "/api/payment-links", getOnly.Reveal(), "")
	l.expect(200, "GET", "/api/payment-links/"+id, tok, "")
	l.expect(200, "GET", "/api/payment-links/"+id, access, "")
	l.expect(404, "GET", "/api/payment-links/plink_nope", tok, "")
	for _, body := range l.mediaExamples("PATCH /api/payment-links/{id}", "") {
		b := body.(map[string]any)
		if _, ok := b["expiresAt"]; ok {
			b["expiresAt"] = time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
		}
		raw, _ := json.Marshal(b)
		l.expect(200, "PATCH", "/api/payment-links/"+id, tok, string(raw))
	}
	l.expect(200, "GET", "/api/payment-links/"+id+"/payments", tok, "")
	l.expect(404, "GET", "/api/payment-links/plink_nope/payments", access, "")
	l.expect(422, "GET", "/api/payment-links/"+id+"/payments?limit=x", access, "")
	l.expect(422, "PATCH", "/api/payment-links/"+id, access, `{"currencyCode": "EUR"}`)
	l.expect(400, "PATCH", "/api/payment-links/"+id, access, `[1]`)
	l.expect(404, "PATCH", "/api/payment-links/plink_nope", access, `{"active": true}`)
	l.expect(401, "PATCH", "/api/payment-links/"+id, "", `{"active": true}`)
	for _, must := range []string{"POST /api/payment-links 201", "GET /api/payment-links 200", "GET /api/payment-links/{id} 200",
		"PATCH /api/payment-links/{id} 200", "POST /api/payment-links 422", "PATCH /api/payment-links/{id} 404"} {
		if !l.seen[must] {
			t.Errorf("no live answer exercised %s", must)
		}
	}
}

// TestLinkPaymentsLimitPerClientBehindProxy: behind a trusted reverse proxy the limit on
// payments from links counts each shopper's address (X-Forwarded-For from the proxy), not the
// proxy's, so one script cannot use up every shopper's payments; from anyone else,
// X-Forwarded-For is ignored and rotating it does not escape the limit.
func TestLinkPaymentsLimitPerClientBehindProxy(t *testing.T) {
	for _, proxied := range []bool{false, true} {
		e := newEnv(t)
		if proxied {
			e.server.TrustedProxies = []string{"127.0.0.1", "::1"}
			e.rebuild() // before any request: the handler is swapped while none is in flight
		}
		e.server.LinkPayments = handlers.NewRateLimiter(2)
		l := e.createLink(t, `{"clientId": "`+e.app.ClientID+`", "name": "Tea", "amount": 300, "currencyCode": "USD"}`)
		id := l["id"].(string)
		csrfToken := e.linkCSRF(t, id)
		post := func(forwardedFor string) int {
			form := url.Values{"csrf_token": {csrfToken}}
			req, _ := http.NewRequest("POST", e.srv.URL+"/l/"+id, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", e.srv.URL)
			req.Header.Set("X-Forwarded-For", forwardedFor)
			resp, err := e.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		if !proxied {
			// No trusted proxy: a rotating X-Forwarded-For is one client.
			for i, want := range []int{303, 303, 429} {
				if got := post(fmt.Sprintf("192.0.2.%d", i+1)); got != want {
					t.Fatalf("direct POST %d: %d, want %d", i+1, got, want)
				}
			}
			continue
		}
		for i, want := range []int{303, 303, 429} {
			if got := post("198.51.100.7"); got != want {
				t.Fatalf("script's POST %d through the proxy: %d, want %d", i+1, got, want)
			}
		}
		if got := post("203.0.113.9"); got != http.StatusSeeOther {
			t.Fatalf("another shopper behind the same proxy: %d, want 303", got)
		}
	}
}
