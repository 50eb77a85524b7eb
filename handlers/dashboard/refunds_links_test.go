package dashboard_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kassa-pay/kassa/checkout"
)

// paid makes a payment of amount paid through one Onecheckout attempt (a provider with no
// refund API here, so refunds are manual).
func (e *env) paid(t *testing.T, ref string, amount int64, cur string) *checkout.Payment {
	t.Helper()
	ctx := context.Background()
	p, err := e.svc.CreatePayment(ctx, checkout.NewPayment{ClientID: e.app.ClientID, Amount: amount, Currency: cur, Reference: ref, ReferenceLabel: ref})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	a := &checkout.Attempt{ID: "att_" + ref, PaymentID: p.ID, Provider: "onecheckout", Status: checkout.AttemptPaid, ProviderRef: "oc_" + ref,
		Money: p.Money, CreatedAt: now, UpdatedAt: now}
	if err := e.store.CreateAttempt(ctx, a, checkout.Event{PaymentID: p.ID, AttemptID: a.ID, Type: checkout.EventAttemptCreated, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.Apply(ctx, checkout.Change{Payment: &checkout.PaymentChange{ID: p.ID, From: []checkout.PaymentStatus{checkout.PaymentOpen},
		To: checkout.PaymentPaid, PaidAt: now, At: now}}); err != nil {
		t.Fatal(err)
	}
	return p
}

func (e *env) payment(t *testing.T, id string) *checkout.Payment {
	t.Helper()
	p, err := e.svc.Payment(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var (
	refundAction = regexp.MustCompile(`action="(/dashboard/refunds/[^"]+)/confirm"`)
	refundKey    = regexp.MustCompile(`name="key" value="([0-9a-f]{32})"`)
)

// TestRefundFormSentTwice: the same form sent twice (a double click with JavaScript off) makes
// one refund; the same form sent again with another amount is refused.
func TestRefundFormSentTwice(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	b.signIn()
	p := e.paid(t, "D-1", 5000, "USD")
	page := "/dashboard/payments/" + p.ID
	m := refundKey.FindStringSubmatch(b.get(page).body)
	if m == nil {
		t.Fatal("the refund form has no key")
	}
	form := url.Values{"amount": {"10.00"}, "reason": {"other"}, "key": {m[1]}}
	for i := range 2 {
		if a := b.post(page+"/refunds", form); a.status != http.StatusSeeOther || a.header.Get("Location") != page {
			t.Fatalf("post %d: %d %q", i+1, a.status, a.header.Get("Location"))
		}
	}
	want(t, b.get(page), http.StatusOK, "This refund form was already sent: the refund was made once, not twice.")
	form.Set("amount", "20.00")
	want(t, b.post(page+"/refunds", form), http.StatusUnprocessableEntity, "this form was already sent with other values")
	if got := e.payment(t, p.ID); len(got.Refunds) != 1 || got.Refunds[0].Amount != 1000 {
		t.Fatalf("refunds %+v", got.Refunds)
	}
	// A refused form gives its key back: corrected, it refunds.
	m = refundKey.FindStringSubmatch(b.get(page).body)
	want(t, b.post(page+"/refunds", url.Values{"amount": {"999"}, "reason": {"other"}, "key": {m[1]}}), http.StatusUnprocessableEntity)
	if a := b.post(page+"/refunds", url.Values{"amount": {"5"}, "reason": {"other"}, "key": {m[1]}}); a.status != http.StatusSeeOther {
		t.Fatalf("the corrected form: %d", a.status)
	}
	if got := e.payment(t, p.ID); len(got.Refunds) != 2 {
		t.Fatalf("refunds %+v", got.Refunds)
	}
}

func TestRefundForm(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	b.signIn()
	p := e.paid(t, "R-1", 199907, "INR")
	page := "/dashboard/payments/" + p.ID
	action := page + "/refunds"

	// The form starts at what is left, in major units as an operator types them.
	want(t, b.get(page), http.StatusOK, `<label for="refund-amount">Amount</label>`, `value="1999.07"`, `<label for="refund-reason">Reason</label>`,
		`<option value="requested_by_customer" selected>`, `>Refund</button>`, "INR 1,999.07 is left to refund.", "No refunds.")

	// Bad input: re-rendered with the message and what was typed, nothing refunded.
	for _, c := range []struct{ amount, msg string }{
		{"", "Amount is required"},
		{"12,50", "Amount must be a number in INR such as 12.50"},
		{"1e3", "Amount must be a number in INR such as 12.50"},
		{"0.001", "Amount must be a number in INR such as 12.50"}, // more decimals than the rupee has
		{"0", "Amount must be more than zero"},
		{"-5", "Amount must be more than zero"},
		{"1999.08", "Amount must be at most 1999.07 (INR), what is left to refund"},
	} {
		a := b.post(action, url.Values{"amount": {c.amount}, "reason": {"duplicate"}, "note": {"typed"}})
		want(t, a, http.StatusUnprocessableEntity, c.msg, `role="alert"`, `<option value="duplicate" selected>`, ">typed</textarea>")
		if !strings.Contains(a.body, `value="`+c.amount+`"`) {
			t.Errorf("amount %q: the form does not keep what was typed", c.amount)
		}
	}
	want(t, b.post(action, url.Values{"amount": {"10"}, "reason": {"because"}}), http.StatusUnprocessableEntity, "Reason must be one of")
	if got := e.payment(t, p.ID); len(got.Refunds) != 0 {
		t.Fatalf("refused forms made %d refunds", len(got.Refunds))
	}

	// A part: manual (Onecheckout has no refund API), with Confirm and Cancel refund.
	a := b.post(action, url.Values{"amount": {"500.5"}, "reason": {"requested_by_customer"}, "note": {"box damaged"}})
	if a.status != http.StatusSeeOther || a.header.Get("Location") != page {
		t.Fatalf("refund: %d to %q\n%.2000s", a.status, a.header.Get("Location"), a.body)
	}
	shown := b.get(page)
	want(t, shown, http.StatusOK, "recorded as manual", "INR 500.50", "requested_by_customer", "box damaged", "operator:"+e.email,
		`badge st-manual">manual</span>`, ">Confirm</button>", ">Cancel refund</button>", "INR 1,498.57 is left to refund.", `value="1498.57"`)
	got := e.payment(t, p.ID)
	if len(got.Refunds) != 1 || got.Refunds[0].Amount != 50050 || got.Refunds[0].RequestedBy != "operator:"+e.email || got.Refunds[0].Note != "box damaged" {
		t.Fatalf("refunds %+v", got.Refunds)
	}
	m := refundAction.FindStringSubmatch(shown.body)
	if m == nil {
		t.Fatal("no Confirm form")
	}
	refund := m[1]
	// Cancel refund asks first (no JavaScript needed), then cancels.
	want(t, b.get(refund+"/cancel"), http.StatusOK, "Cancel the refund of INR 500.50?", ">Cancel refund</button>", "Keep the refund")
	want(t, b.post(refund+"/cancel", nil), http.StatusOK, "Cancel the refund of INR 500.50?")
	if a := b.post(refund+"/cancel", url.Values{"confirm": {"yes"}}); a.status != http.StatusSeeOther || a.header.Get("Location") != page {
		t.Fatalf("cancel: %d %q", a.status, a.header.Get("Location"))
	}
	want(t, b.get(page), http.StatusOK, "Refund of INR 500.50 cancelled.", `st-failed">failed</span>`, "cancelled by an operator", "INR 1,999.07 is left to refund.")
	want(t, b.post(refund+"/confirm", nil), http.StatusConflict, "Only a manual refund awaiting confirmation can be confirmed")

	// Another part, confirmed: partially refunded, the refunded amount in the summary.
	b.post(action, url.Values{"amount": {"999"}, "reason": {"other"}})
	refund = refundAction.FindStringSubmatch(b.get(page).body)[1]
	if a := b.post(refund+"/confirm", nil); a.status != http.StatusSeeOther || a.header.Get("Location") != page {
		t.Fatalf("confirm: %d %q", a.status, a.header.Get("Location"))
	}
	want(t, b.get(page), http.StatusOK, "Refund of INR 999.00 confirmed.", `st-partially_refunded">partially_refunded</span>`,
		"<dt>Refunded</dt>", "<dd>INR 999.00</dd>", `st-succeeded">succeeded</span>`, `value="1000.07"`)

	// The rest (the amount as it starts): refunded, and the form is gone.
	b.post(action, url.Values{"amount": {"1000.07"}, "reason": {"other"}})
	refund = refundAction.FindStringSubmatch(b.get(page).body)[1]
	b.post(refund+"/confirm", nil)
	done := b.get(page)
	want(t, done, http.StatusOK, `st-refunded">refunded</span>`, "<dd>INR 1,999.07</dd>", "Nothing is left to refund on this payment.")
	if strings.Contains(done.body, ">Refund</button>") {
		t.Fatal("a fully refunded payment still offers the Refund form")
	}
	want(t, b.post(action, url.Values{"amount": {"1"}, "reason": {"other"}}), http.StatusUnprocessableEntity, "The refund was not made: Nothing is left to refund on this payment.")

	// A payment never paid: no form, and a forged post is refused with the reason.
	open, err := e.svc.CreatePayment(context.Background(), checkout.NewPayment{ClientID: e.app.ClientID, Amount: 100, Currency: "USD", Reference: "O-1", ReferenceLabel: "O"})
	if err != nil {
		t.Fatal(err)
	}
	if pg := b.get("/dashboard/payments/" + open.ID); strings.Contains(pg.body, ">Refund</button>") || !strings.Contains(pg.body, "Only a paid payment can be refunded; this one is open.") {
		t.Fatalf("an open payment's page:\n%.3000s", pg.body)
	}
	want(t, b.post("/dashboard/payments/"+open.ID+"/refunds", url.Values{"amount": {"1.00"}, "reason": {"other"}}), http.StatusUnprocessableEntity,
		"The refund was not made: Only a paid payment can be refunded; this one is open.")
	want(t, b.post("/dashboard/payments/nope/refunds", url.Values{"amount": {"1.00"}}), http.StatusNotFound)
	want(t, b.post("/dashboard/refunds/nope/confirm", nil), http.StatusNotFound)
}

// linkID is the id in a link page's URL.
func linkID(t *testing.T, loc string) string {
	t.Helper()
	id, ok := strings.CutPrefix(loc, "/dashboard/links/")
	if !ok || !strings.HasPrefix(id, "plink_") {
		t.Fatalf("created link at %q", loc)
	}
	return id
}

func TestPaymentLinkScreens(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	b.signIn()
	ctx := context.Background()
	want(t, b.get("/dashboard/links"), http.StatusOK, "There are no payment links yet.", `<label for="name">Name</label>`, `<label for="amount">Amount</label>`,
		`<label for="currency">Currency</label>`, ">Create payment link</button>")

	// Refused: each field's message, what was typed kept, nothing created.
	for _, c := range []struct {
		form url.Values
		msgs []string
	}{
		{url.Values{"name": {""}, "currency": {"USD"}}, []string{"Name is required", "Amount is required, unless you give line items"}},
		{url.Values{"name": {"Tote"}, "currency": {"XYZ"}, "amount": {"5"}}, []string{"Currency must be an ISO 4217 currency code"}},
		{url.Values{"name": {"Tote"}, "currency": {"USD"}, "amount": {"5.001"}}, []string{"Amount must be a positive amount in USD such as 12.50"}},
		{url.Values{"name": {"Tote"}, "currency": {"USD"}, "lines": {"Tea, 2, 3.50"}}, []string{"Line items line 1 must read name | quantity | unit price"}},
		{url.Values{"name": {"Tote"}, "currency": {"USD"}, "lines": {"Tea | 0 | 3.50"}}, []string{"Line items line 1: quantity must be between 1 and 1000000"}},
		{url.Values{"name": {"Tote"}, "currency": {"USD"}, "amount": {"5"}, "adjustable": {"yes"}, "min": {"3"}, "max": {"2"}}, []string{"Maximum quantity must be between quantity.min"}},
		{url.Values{"name": {"Tote"}, "currency": {"USD"}, "amount": {"5"}, "max_payments": {"0"}}, []string{"Maximum payments must be a whole number of at least 1"}},
		{url.Values{"name": {"Tote"}, "currency": {"USD"}, "amount": {"5"}, "expires": {"2001-01-01"}}, []string{"Expiry date must be in the future"}},
		{url.Values{"name": {"Tote"}, "currency": {"USD"}, "amount": {"5"}, "success_url": {"javascript:alert(1)"}}, []string{"Success URL must be an absolute http or https URL"}},
	} {
		c.form.Set("app", e.app.ClientID)
		a := b.post("/dashboard/links", c.form)
		want(t, a, http.StatusUnprocessableEntity, append(c.msgs, "The payment link was not created")...)
		if n := c.form.Get("name"); n != "" && !strings.Contains(a.body, `value="`+n+`"`) {
			t.Errorf("%v: the name typed is not kept", c.form)
		}
	}
	if ls, _ := e.svc.Links(ctx, "", 10); len(ls) != 0 {
		t.Fatalf("refused forms created %d links", len(ls))
	}

	// Created with a fixed amount and an adjustable quantity.
	a := b.post("/dashboard/links", url.Values{"app": {e.app.ClientID}, "name": {"Tote bag"}, "description": {"Canvas, red"}, "currency": {"usd"},
		"amount": {"24"}, "adjustable": {"yes"}, "min": {"1"}, "max": {"5"}, "max_payments": {"10"}, "expires": {"2099-12-31"},
		"success_url": {"https://shop.example/thanks/{PAYMENT_ID}"}})
	if a.status != http.StatusSeeOther {
		t.Fatalf("create: %d\n%.3000s", a.status, a.body)
	}
	id := linkID(t, a.header.Get("Location"))
	l, err := e.svc.Link(ctx, id)
	if err != nil || l.UnitAmount != 2400 || l.Currency != "USD" || !l.Adjustable || l.QuantityMax != 5 || l.MaxPayments != 10 ||
		!l.ExpiresAt.Equal(time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)) || l.Description != "Canvas, red" {
		t.Fatalf("link %+v %v", l, err)
	}
	page := b.get("/dashboard/links/" + id)
	linkURL := e.srv.URL + "/l/" + id
	want(t, page, http.StatusOK, "Payment link Tote bag created.", "<h1>Tote bag", `<label for="link-url" id="link-url-label">Link URL</label>`,
		`value="`+linkURL+`" readonly`, `src="/l/`+id+`/qr.png"`, `href="/l/`+id+`/qr.png?download=1"`, ">Download PNG</a>", ">Download SVG</a>",
		">Printable A6 page</a>", ">Button HTML</label>", ">Form HTML</label>", "USD 24.00 each, 1 to 5", "End of 31 Dec 2099 (UTC)",
		"No payments from this link yet.", ">Deactivate</button>", ">Save changes</button>", `value="2099-12-31"`)
	// The snippets hold the link's URL, escaped once inside the textarea.
	if !strings.Contains(page.body, "&lt;a href=&#34;"+linkURL+"&#34;") && !strings.Contains(page.body, "&lt;a href=&quot;"+linkURL+"&quot;") {
		t.Fatalf("the button snippet lacks the link URL:\n%s", page.body)
	}
	want(t, b.get("/dashboard/links/"+id+"/print"), http.StatusOK, "<h1>Tote bag</h1>", `src="/l/`+id+`/qr.svg"`, "/static/link-print.css",
		strings.TrimPrefix(linkURL, "http://"))
	css := b.get("/static/link-print.css")
	want(t, css, http.StatusOK, "@page{size:105mm 148mm;size:A6;")

	// Created with line items only.
	a = b.post("/dashboard/links", url.Values{"app": {e.app.ClientID}, "name": {"Breakfast"}, "currency": {"INR"}, "lines": {"Tea | 2 | 30\nToast | 45.50"}})
	if a.status != http.StatusSeeOther {
		t.Fatalf("create with lines: %d\n%.3000s", a.status, a.body)
	}
	l2, _ := e.svc.Link(ctx, linkID(t, a.header.Get("Location")))
	if l2.UnitAmount != 10550 || len(l2.LineItems) != 2 || l2.LineItems[1].Quantity != 1 || l2.Adjustable {
		t.Fatalf("link with lines %+v", l2)
	}

	// Its payments and counters.
	p, err := e.svc.PayLink(ctx, id, 2)
	if err != nil {
		t.Fatal(err)
	}
	want(t, b.get("/dashboard/links/"+id), http.StatusOK, `href="/dashboard/payments/`+p.ID+`"`, "USD 48.00", `st-open">open</span>`)
	want(t, b.get("/dashboard/links"), http.StatusOK, "2 payment links, 2 taking payments", ">Tote bag</a>", ">Breakfast</a>", "INR 105.50")
	want(t, b.get("/dashboard/payments/"+p.ID), http.StatusOK, "<dt>Payment link</dt>", `href="/dashboard/links/`+id+`">Tote bag</a>`)

	// Edit: refused re-rendered with what was typed, then saved.
	want(t, b.post("/dashboard/links/"+id, url.Values{"name": {""}, "description": {"x"}, "max_payments": {"-1"}, "expires": {"2099-12-31"}}),
		http.StatusUnprocessableEntity, "The changes were not saved", "Maximum payments must be a whole number")
	want(t, b.post("/dashboard/links/"+id, url.Values{"name": {""}, "expires": {"2099-12-31"}}), http.StatusUnprocessableEntity, "Name is required")
	want(t, b.post("/dashboard/links/"+id, url.Values{"name": {"Tote"}, "expires": {"2001-02-03"}}), http.StatusUnprocessableEntity,
		"Expiry date must be today or later", `value="2001-02-03"`)
	a = b.post("/dashboard/links/"+id, url.Values{"name": {"Tote bag, red"}, "description": {""}, "max_payments": {""}, "expires": {""}, "success_url": {""}})
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/dashboard/links/"+id {
		t.Fatalf("edit: %d %q\n%.2000s", a.status, a.header.Get("Location"), a.body)
	}
	l, _ = e.svc.Link(ctx, id)
	if l.Name != "Tote bag, red" || l.Description != "" || l.MaxPayments != 0 || !l.ExpiresAt.IsZero() || l.SuccessURL != "" || l.UnitAmount != 2400 {
		t.Fatalf("after edit %+v", l)
	}
	want(t, b.get("/dashboard/links/"+id), http.StatusOK, "Changes saved.", "No limit", "<dt>Expires</dt><dd>Never</dd>")

	// Deactivate, then Activate.
	if a := b.post("/dashboard/links/"+id+"/active", url.Values{"active": {"no"}}); a.status != http.StatusSeeOther {
		t.Fatalf("deactivate: %d", a.status)
	}
	want(t, b.get("/dashboard/links/"+id), http.StatusOK, "Payment link deactivated", `st-inactive">inactive</span>`, ">Activate</button>")
	if l, _ := e.svc.Link(ctx, id); l.Active {
		t.Fatal("still active")
	}
	b.post("/dashboard/links/"+id+"/active", url.Values{"active": {"yes"}})
	if l, _ := e.svc.Link(ctx, id); !l.Active {
		t.Fatal("not active again")
	}
	want(t, b.get("/dashboard/links/plink_nope"), http.StatusNotFound)
}

// TestNewFormsRefuseCSRFAndSignedOut: every form added for refunds and links refuses a missing
// or forged CSRF token (403) and, signed out, sends to the sign-in page; neither changes anything.
func TestNewFormsRefuseCSRFAndSignedOut(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	p := e.paid(t, "C-1", 1000, "USD")
	r, err := e.svc.CreateRefund(ctx, p.ID, checkout.NewRefund{Amount: 100, Reason: checkout.ReasonOther})
	if err != nil {
		t.Fatal(err)
	}
	l, err := e.svc.CreateLink(ctx, checkout.NewLink{ClientID: e.app.ClientID, Name: "Tote", Amount: 500, Currency: "USD"})
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{"amount": {"1.00"}, "reason": {"other"}, "confirm": {"yes"}, "app": {e.app.ClientID}, "name": {"Evil"},
		"currency": {"USD"}, "active": {"no"}}
	posts := []string{"/dashboard/payments/" + p.ID + "/refunds", "/dashboard/refunds/" + r.ID + "/confirm", "/dashboard/refunds/" + r.ID + "/cancel",
		"/dashboard/links", "/dashboard/links/" + l.ID, "/dashboard/links/" + l.ID + "/active"}
	gets := []string{"/dashboard/links/" + l.ID, "/dashboard/links/" + l.ID + "/print", "/dashboard/refunds/" + r.ID + "/cancel"}

	out := e.browser(t)
	out.get("/dashboard/sign-in") // a valid CSRF token, but no session
	for _, path := range posts {
		if a := out.post(path, form); a.status != http.StatusSeeOther || a.header.Get("Location") != "/dashboard/sign-in" {
			t.Errorf("POST %s signed out: %d to %q", path, a.status, a.header.Get("Location"))
		}
	}
	for _, path := range gets {
		if a := out.get(path); a.status != http.StatusSeeOther || a.header.Get("Location") != "/dashboard/sign-in?next="+url.QueryEscape(path) {
			t.Errorf("GET %s signed out: %d to %q", path, a.status, a.header.Get("Location"))
		}
	}

	b := e.browser(t)
	b.signIn()
	for _, path := range posts {
		for _, tok := range []string{"", "forged"} {
			f := url.Values{"csrf_token": {tok}}
			for k, v := range form {
				f[k] = v
			}
			if a := b.post(path, f); a.status != http.StatusForbidden {
				t.Errorf("POST %s with CSRF token %q: %d, want 403", path, tok, a.status)
			}
		}
	}
	got := e.payment(t, p.ID)
	if len(got.Refunds) != 1 || got.Refunds[0].Status != checkout.RefundManual {
		t.Fatalf("refunds changed: %+v", got.Refunds)
	}
	if ls, _ := e.svc.Links(ctx, "", 10); len(ls) != 1 || ls[0].Name != "Tote" || !ls[0].Active {
		t.Fatalf("links changed: %+v", ls)
	}
}
