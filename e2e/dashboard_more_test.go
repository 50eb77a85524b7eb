package e2e

import (
	"context"
	"math"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// A printed PDF's pages and the first one's size, as Chromium writes them (uncompressed).
var (
	pdfPage     = regexp.MustCompile(`/Type\s*/Page[^s]`)
	pdfMediaBox = regexp.MustCompile(`/MediaBox\s*\[\s*0\s+0\s+([0-9.]+)\s+([0-9.]+)\s*\]`)
)

// signInNoScript creates an operator and signs it in, in a tab with JavaScript off.
func signInNoScript(t *testing.T, k *kassa) (context.Context, string) {
	t.Helper()
	pw := k.operator(t, "ops@example.com")
	ctx := tab(t)
	noScript(t, ctx)
	do(t, ctx, chromedp.Navigate(k.URL+"/dashboard"), chromedp.WaitVisible(button("Sign in")),
		chromedp.SendKeys(labelled("Email"), "ops@example.com"), chromedp.SendKeys(labelled("Password"), pw),
		chromedp.Click(button("Sign in")))
	waitHeading(t, ctx, "Overview")
	return ctx, pw
}

// axePages runs axe-core on pages, signed in, in a tab with JavaScript on, when KASSA_AXE names
// axe.min.js (as checkAccessibility does for the other dashboard pages).
func axePages(t *testing.T, k *kassa, password string, pages ...string) {
	t.Helper()
	path := os.Getenv("KASSA_AXE")
	if path == "" {
		return
	}
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := tab(t)
	// Tabs share the browser's cookies: the tab may be signed in already.
	do(t, ctx, chromedp.Navigate(k.URL+"/dashboard"), chromedp.WaitVisible(chromedp.CSS("h1")))
	if strings.Contains(get(t, ctx, chromedp.Location()), "/sign-in") {
		do(t, ctx, chromedp.SendKeys(labelled("Email"), "ops@example.com"), chromedp.SendKeys(labelled("Password"), password),
			chromedp.Click(button("Sign in")), chromedp.WaitVisible(button("Sign out")))
	}
	for _, page := range pages {
		do(t, ctx, chromedp.Navigate(k.URL+page), chromedp.WaitVisible(chromedp.CSS("h1")))
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](string(src)+";true", chromedp.EvalAsValue)); err != nil {
			t.Fatalf("loading axe-core on %s: %v", page, err)
		}
		out, err := chromedp.Run(ctx, chromedp.Evaluate[string](`axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]}})
			.then(r => JSON.stringify(r.violations.map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.map(n => n.target.join(" ")).slice(0, 3)}))))`,
			chromedp.EvalAsValue, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("axe on %s: %v", page, err)
		}
		if out != "[]" {
			t.Errorf("axe-core violations on %s: %s", page, out)
		}
	}
}

// statusBadge is the payment page's status, from the badge in its heading.
func statusBadge(t *testing.T, ctx context.Context) string {
	t.Helper()
	return get(t, ctx, chromedp.Text(`//h1/span[contains(@class, 'badge')]`))
}

// waitStatus waits for the payment page's heading to show status.
func waitStatus(t *testing.T, ctx context.Context, status string) {
	t.Helper()
	waitHeading(t, ctx, status)
	if got := statusBadge(t, ctx); got != status {
		t.Fatalf("payment status %q, want %q", got, status)
	}
}

// TestDashboardRefunds, with JavaScript off: an EnKash payment (INR) is refunded in part from
// its dashboard page (Amount, Reason, Refund) and becomes partially_refunded; a Onecheckout
// payment's refund is manual until the operator presses Confirm, then it is refunded.
func TestDashboardRefunds(t *testing.T) {
	t.Parallel()
	k := start(t)
	ctx, pw := signInNoScript(t, k)

	enkash, _ := payInBrowser(t, k, "EnKash", 199907, "INR")
	do(t, ctx, chromedp.Navigate(k.URL+"/dashboard/payments/"+enkash.ID))
	waitStatus(t, ctx, "paid")
	// The amount starts at what is left, as an operator types it.
	if v := get(t, ctx, chromedp.Value(labelled("Amount"))); v != "1999.07" {
		t.Fatalf("the refund amount starts at %q, want 1999.07", v)
	}
	// Too much: refused, the page says why and nothing changes.
	do(t, ctx, chromedp.Clear(labelled("Amount")), chromedp.SendKeys(labelled("Amount"), "2000"), chromedp.Click(button("Refund")))
	do(t, ctx, chromedp.WaitVisible(`//*[contains(@class, 'field-error')][contains(., 'Amount must be at most 1999.07 (INR)')]`))
	// Not a number: refused too.
	do(t, ctx, chromedp.Clear(labelled("Amount")), chromedp.SendKeys(labelled("Amount"), "five hundred"), chromedp.Click(button("Refund")))
	do(t, ctx, chromedp.WaitVisible(`//*[contains(@class, 'field-error')][contains(., 'Amount must be a number in INR')]`))
	if got := k.refunds(t, enkash.ID); len(got.Refunds) != 0 || got.Status != "paid" {
		t.Fatalf("refused forms changed the payment: %+v", got)
	}
	do(t, ctx, chromedp.Clear(labelled("Amount")), chromedp.SendKeys(labelled("Amount"), "500"),
		chromedp.SetValue(labelled("Reason"), "duplicate"), chromedp.Click(button("Refund")))
	do(t, ctx, chromedp.WaitVisible(`//*[@role='status'][contains(., 'Refunded INR 500.00.')]`))
	waitStatus(t, ctx, "partially_refunded")
	row := get(t, ctx, chromedp.Text(`//section[h2[.='Refunds']]//tbody/tr`))
	for _, s := range []string{"INR 500.00", "duplicate", "succeeded", "operator:ops@example.com"} {
		if !strings.Contains(row, s) {
			t.Fatalf("refund row %q lacks %q", row, s)
		}
	}
	if got := k.refunds(t, enkash.ID); got.Status != "partially_refunded" || got.RefundedAmount != 50000 {
		t.Fatalf("after the dashboard's refund: %+v", got)
	}
	if v := get(t, ctx, chromedp.Value(labelled("Amount"))); v != "1499.07" {
		t.Fatalf("the refund amount now starts at %q, want 1499.07", v)
	}

	oc, _ := payInBrowser(t, k, "Onecheckout", 6197, "USD")
	do(t, ctx, chromedp.Navigate(k.URL+"/dashboard/payments/"+oc.ID))
	waitStatus(t, ctx, "paid")
	do(t, ctx, chromedp.Click(button("Refund")))
	do(t, ctx, chromedp.WaitVisible(`//*[@role='status'][contains(., 'recorded as manual')]`))
	waitStatus(t, ctx, "paid")
	got1 := k.refunds(t, oc.ID)
	if len(got1.Refunds) != 1 || got1.Refunds[0].Status != "manual" || got1.Refunds[0].Amount != 6197 {
		t.Fatalf("the manual refund: %+v", got1)
	}
	shoot(t, ctx, k, map[string]string{"payment-manual-refund": "/dashboard/payments/" + oc.ID})
	axePages(t, k, pw, "/dashboard/payments/"+oc.ID, "/dashboard/payments/"+enkash.ID, "/dashboard/refunds/"+got1.Refunds[0].ID+"/cancel")
	do(t, ctx, chromedp.WaitVisible(button("Cancel refund")), chromedp.Click(button("Confirm")))
	do(t, ctx, chromedp.WaitVisible(`//*[@role='status'][contains(., 'Refund of USD 61.97 confirmed.')]`))
	waitStatus(t, ctx, "refunded")
	if got := k.refunds(t, oc.ID); got.Status != "refunded" || got.RefundedAmount != 6197 {
		t.Fatalf("after Confirm: %+v", got)
	}
	if body := bodyText(ctx, t); !strings.Contains(body, "Nothing is left to refund on this payment.") {
		t.Fatalf("a refunded payment's page:\n%s", body)
	}
	shoot(t, ctx, k, map[string]string{"payment-partially-refunded": "/dashboard/payments/" + enkash.ID,
		"payment-refunded": "/dashboard/payments/" + oc.ID})
}

// TestDashboardPaymentLink, with JavaScript off: create a payment link in the dashboard, open
// its page: the URL, a QR code image that loads, and snippets holding the link's URL; a shopper
// opening that URL sees the link.
func TestDashboardPaymentLink(t *testing.T) {
	t.Parallel()
	k := start(t)
	ctx, pw := signInNoScript(t, k)
	do(t, ctx, chromedp.Click(`//nav//a[normalize-space(.)='Payment links']`))
	waitHeading(t, ctx, "Payment links")
	// A price that is not a number is refused, with what was typed kept.
	do(t, ctx, chromedp.SendKeys(labelled("Name"), "Canvas tote bag"), chromedp.Clear(labelled("Currency")), chromedp.SendKeys(labelled("Currency"), "INR"),
		chromedp.SendKeys(labelled("Amount"), "12.345"), chromedp.Click(button("Create payment link")))
	do(t, ctx, chromedp.WaitVisible(`//*[contains(@class, 'field-error')][contains(., 'Amount must be a positive amount in INR')]`))
	if v := get(t, ctx, chromedp.Value(labelled("Name"))); v != "Canvas tote bag" {
		t.Fatalf("name after a refused form: %q", v)
	}
	do(t, ctx, chromedp.Clear(labelled("Amount")), chromedp.SendKeys(labelled("Amount"), "450"),
		chromedp.Click(labelled("The shopper chooses the quantity")), chromedp.Clear(labelled("Maximum quantity")),
		chromedp.SendKeys(labelled("Maximum quantity"), "4"), chromedp.Click(button("Create payment link")))
	waitHeading(t, ctx, "Canvas tote bag")
	do(t, ctx, chromedp.WaitVisible(`//*[@role='status'][contains(., 'Payment link Canvas tote bag created.')]`))

	u := get(t, ctx, chromedp.Value(labelled("Link URL")))
	if !strings.HasPrefix(u, k.URL+"/l/plink_") {
		t.Fatalf("link URL %q", u)
	}
	if ro := get(t, ctx, chromedp.AttributeValue(labelled("Link URL"), "readonly")); !ro.Exists {
		t.Fatal("the link URL field is not read-only")
	}
	// The QR code image loaded (a decoded PNG has a width).
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`(() => { const i = document.querySelector("img.qr"); return i.complete && i.naturalWidth > 200; })()`)); err != nil {
		t.Fatalf("the QR code image did not load: %v", err)
	}
	for _, name := range []string{"Download PNG", "Download SVG"} {
		href := get(t, ctx, chromedp.AttributeValue(`//a[normalize-space(.)=`+lit(name)+`]`, "href")).Value
		resp, err := http.Get(k.URL + href)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") {
			t.Fatalf("%s: HTTP %d, Content-Disposition %q", name, resp.StatusCode, resp.Header.Get("Content-Disposition"))
		}
	}
	for _, label := range []string{"Button HTML", "Form HTML"} {
		snippet := get(t, ctx, chromedp.Value(labelled(label)))
		if !strings.Contains(snippet, `"`+u+`"`) || !strings.Contains(snippet, "Buy Canvas tote bag, INR 450.00 each") {
			t.Fatalf("%s snippet %q lacks the link URL or its button text", label, snippet)
		}
		if ro := get(t, ctx, chromedp.AttributeValue(labelled(label), "readonly")); !ro.Exists {
			t.Fatalf("the %s snippet is not read-only", label)
		}
	}
	id := strings.TrimPrefix(u, k.URL+"/l/")
	shoot(t, ctx, k, map[string]string{"links": "/dashboard/links", "link": "/dashboard/links/" + id, "link-print": "/dashboard/links/" + id + "/print"})
	axePages(t, k, pw, "/dashboard/links", "/dashboard/links/"+id, "/dashboard/links/"+id+"/print")

	// With JavaScript on (tabs share the session), Copy selects the snippet and copies it, or
	// says how to.
	js := tab(t)
	do(t, js, chromedp.Navigate(k.URL+"/dashboard/links/"+id), chromedp.WaitVisible(labelled("Button HTML")),
		chromedp.Click(`//div[textarea[@id='snippet-button']]//button[normalize-space(.)='Copy']`))
	status, err := chromedp.Run(js, chromedp.Poll[string](`document.querySelector("#snippet-button").parentElement.querySelector(".copy-status").textContent || false`))
	if err != nil || (status != "Copied." && !strings.HasPrefix(status, "Press Ctrl+C")) {
		t.Fatalf("after Copy the snippet's status says %q (%v)", status, err)
	}
	if sel, _ := chromedp.Run(js, chromedp.Evaluate[bool](`(() => { const f = document.getElementById("snippet-button"); return f.selectionStart === 0 && f.selectionEnd === f.value.length; })()`)); !sel {
		t.Fatal("Copy did not select the snippet")
	}

	// The printable card, and Deactivate: the public page then answers 410.
	do(t, ctx, chromedp.Navigate(k.URL+"/dashboard/links/"+id), chromedp.Click(`//a[normalize-space(.)='Printable A6 page']`))
	waitHeading(t, ctx, "Canvas tote bag")
	if body := bodyText(ctx, t); !strings.Contains(body, "INR 450.00 each") || !strings.Contains(body, strings.TrimPrefix(u, "http://")) {
		t.Fatalf("the printable card:\n%s", body)
	}
	// Printed as the browser prints it (the page's own size): one A6 page, 105 × 148 mm.
	yes := true
	pdf, err := chromedp.Call(ctx, page.PrintToPDF, page.PrintToPDFParams{PreferCSSPageSize: &yes})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(pdfPage.FindAll(pdf.Data, -1)); n != 1 {
		t.Fatalf("the card prints on %d pages, want 1", n)
	}
	box := pdfMediaBox.FindSubmatch(pdf.Data)
	if box == nil {
		t.Fatal("no page size in the printed PDF")
	}
	w, _ := strconv.ParseFloat(string(box[1]), 64)
	h, _ := strconv.ParseFloat(string(box[2]), 64)
	if math.Abs(w-297.64) > 2 || math.Abs(h-419.53) > 2 { // A6 in points
		t.Fatalf("the card prints on a %.1f × %.1f pt page, want A6 (297.6 × 419.5)", w, h)
	}
	do(t, ctx, chromedp.Navigate(k.URL+"/dashboard/links/"+id), chromedp.Click(button("Deactivate")))
	do(t, ctx, chromedp.WaitVisible(`//*[@role='status'][contains(., 'Payment link deactivated')]`), chromedp.WaitVisible(button("Activate")))
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusGone {
		t.Fatalf("a deactivated link answers HTTP %d", resp.StatusCode)
	}
}
