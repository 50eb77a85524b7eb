package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// operator creates a dashboard operator through the CLI and returns the generated password,
// which the CLI prints alone on stdout.
func (k *kassa) operator(t *testing.T, email string) string {
	t.Helper()
	pw := strings.TrimSpace(string(cli(t, "users", "create", "--db", "sqlite:"+k.dbPath, "--email", email)))
	if len(pw) < 12 || strings.ContainsAny(pw, " \n") {
		t.Fatalf("users create printed %q, want a password alone", pw)
	}
	return pw
}

// button is an XPath for a button whose accessible text is exactly name.
func button(name string) string { return `//button[normalize-space(.)=` + lit(name) + `]` }

// labelled is an XPath for the form control labelled exactly name.
func labelled(name string) string {
	return `//*[@id=//label[normalize-space(.)=` + lit(name) + `]/@for]`
}

// TestDashboard follows the seed's token instructions word for word with JavaScript off: sign
// in, create an application, create a token through the dialog, use it (201), revoke it (401),
// find a payment by its reference, open its timeline, sign out.
func TestDashboard(t *testing.T) {
	t.Parallel()
	k := start(t)
	pw := k.operator(t, "ops@example.com")
	ctx := tab(t)
	// JavaScript off: every step below is a plain HTML form or link.
	do(t, ctx, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	}))

	// Signed out, /dashboard is the sign-in form; a wrong password is refused without saying
	// which field was wrong.
	shoot(t, ctx, k, map[string]string{"sign-in": "/dashboard/sign-in"})
	do(t, ctx, chromedp.Navigate(k.URL+"/dashboard"),
		chromedp.WaitVisible(button("Sign in")),
		chromedp.SendKeys(labelled("Email"), "ops@example.com"),
		chromedp.SendKeys(labelled("Password"), "not the password"),
		chromedp.Click(button("Sign in")))
	do(t, ctx, chromedp.WaitVisible(`//*[@role='alert'][contains(., 'The email or password is not right.')]`))
	do(t, ctx, chromedp.SendKeys(labelled("Password"), pw), chromedp.Click(button("Sign in")))
	waitHeading(t, ctx, "Overview")
	for _, link := range []string{"Payments", "Applications", "Payment links"} {
		do(t, ctx, chromedp.WaitVisible(`//nav//a[normalize-space(.)=`+lit(link)+`]`))
	}
	do(t, ctx, chromedp.WaitVisible(button("Sign out")))

	// Applications: create one; its webhook secret is shown once.
	do(t, ctx, chromedp.Click(`//nav//a[normalize-space(.)='Applications']`), chromedp.WaitVisible(button("Create application")),
		chromedp.SendKeys(labelled("Name"), "Corner shop"),
		chromedp.SendKeys(labelled("Webhook URL"), "https://shop.example/hooks"),
		chromedp.Click(button("Create application")))
	waitHeading(t, ctx, "Application Corner shop created")
	secret := get(t, ctx, chromedp.Value(labelled("Webhook secret")))
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("webhook secret shown as %q", secret)
	}
	do(t, ctx, chromedp.Click(`//a[normalize-space(.)='Go to Corner shop']`))
	waitHeading(t, ctx, "Corner shop")
	clientID := get(t, ctx, chromedp.Value(labelled("Client ID")))
	if len(clientID) != 32 {
		t.Fatalf("Client ID %q", clientID)
	}

	// The seed: "click Create API Access Token → enter a label and optional expiration date →
	// select the permission scopes → save the token immediately".
	do(t, ctx, chromedp.Click(button("Create API Access Token")))
	waitHeading(t, ctx, "Create API Access Token")
	for _, s := range []string{"payments.create", "payments.get", "payments.user-instructions.get", "payments.refund", "payment-links.manage", "*"} {
		do(t, ctx, chromedp.WaitVisible(`//input[@type='checkbox'][@id=//label[normalize-space(.)=`+lit(s)+`]/@for]`))
	}
	// No scope chosen: refused, the form comes back with what was typed.
	do(t, ctx, chromedp.SendKeys(labelled("Label"), "Till 1"), chromedp.Click(button("Create token")),
		chromedp.WaitVisible(`//*[contains(@class, 'field-error')][contains(., 'at least one scope is required')]`))
	if got := get(t, ctx, chromedp.Value(labelled("Label"))); got != "Till 1" {
		t.Fatalf("label after a refused form: %q", got)
	}
	do(t, ctx, chromedp.SetValue(labelled("Expiration date"), "2099-12-31"),
		chromedp.Click(labelled("payments.create")), chromedp.Click(labelled("payments.get")),
		chromedp.Click(button("Create token")))
	waitHeading(t, ctx, "Token created")
	do(t, ctx, chromedp.WaitVisible(button("Copy")))
	if ro := get(t, ctx, chromedp.AttributeValue(labelled("Token"), "readonly")); !ro.Exists {
		t.Fatal("the token field is not read-only")
	}
	token := get(t, ctx, chromedp.Value(labelled("Token")))
	// JavaScript really is off: the script, which selects the whole token on load, did not run.
	if end, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.getElementById("token").selectionEnd`)); err != nil || end == len(token) {
		t.Fatalf("the token is selected (%d of %d characters, %v): JavaScript ran", end, len(token), err)
	}
	if page := bodyText(ctx, t); !strings.Contains(page, "you will not see it again") {
		t.Fatalf("no shown-once warning:\n%s", page)
	}

	// Another payment, of the instance's own application, that the search must leave out.
	k.createPayment(t, 1500, "USD")

	// The token works against the API.
	k.token, k.client = token, clientID
	var p apiPayment
	if status := k.api(t, "POST", "/api/payment/checkout", map[string]any{"amount": 2599, "currencyCode": "USD",
		"reference": "SHOP-4711", "referenceLabel": "Order 4711", "clientId": clientID}, &p); status != http.StatusCreated {
		t.Fatalf("creating a payment with the dashboard's token: HTTP %d", status)
	}

	// A shopper pays it, in a tab of their own.
	shopper := tab(t)
	do(t, shopper, chromedp.Navigate(p.CheckoutURL), chooseProvider("Onecheckout"), pressOnProvider("Pay"))
	waitHeading(t, shopper, "Thank you")

	// Listed with label, scopes and last use; Revoke asks first, then the token is dead.
	do(t, ctx, chromedp.Click(`//a[normalize-space(.)='Back to Corner shop']`))
	waitHeading(t, ctx, "Corner shop")
	tokenRow := `//tr[th[normalize-space(.)='Till 1']]`
	if scopes := get(t, ctx, chromedp.Text(tokenRow+`/td[@data-label='Scopes']`)); scopes != "payments.create, payments.get" {
		t.Fatalf("token scopes listed as %q", scopes)
	}
	if used := get(t, ctx, chromedp.Text(tokenRow+`/td[@data-label='Last used']`)); used == "Never" || used == "" {
		t.Fatalf("token last use listed as %q after a request", used)
	}
	do(t, ctx, chromedp.Click(tokenRow+button("Revoke")))
	waitHeading(t, ctx, "Revoke the token Till 1?")
	do(t, ctx, chromedp.Click(button("Revoke")))
	do(t, ctx, chromedp.WaitVisible(`//*[@role='status'][contains(., 'Token revoked.')]`))
	if status := k.api(t, "GET", "/api/payment/"+p.ID, nil, nil); status != http.StatusUnauthorized {
		t.Fatalf("a revoked token answered HTTP %d, want 401", status)
	}

	// Payments: find it by its reference, open its timeline.
	do(t, ctx, chromedp.Click(`//nav//a[normalize-space(.)='Payments']`), chromedp.WaitVisible(labelled("Status")),
		chromedp.SendKeys(labelled("Search"), "SHOP-4711"), chromedp.Click(button("Filter")))
	// The filtered page carries the search in its form (and its URL).
	do(t, ctx, chromedp.WaitVisible(`//input[@id='search'][@value='SHOP-4711']`),
		chromedp.WaitVisible(`//table//a[normalize-space(.)='SHOP-4711']`))
	if n := get(t, ctx, chromedp.Text(chromedp.CSS(".count"))); !strings.HasPrefix(n, "1 payments") {
		t.Fatalf("search found %q", n)
	}
	if loc := get(t, ctx, chromedp.Location()); !strings.Contains(loc, "q=SHOP-4711") {
		t.Fatalf("the search is not in the URL: %s", loc)
	}
	do(t, ctx, chromedp.Click(`//table//a[normalize-space(.)='SHOP-4711']`))
	waitHeading(t, ctx, "SHOP-4711")
	timeline := get(t, ctx, chromedp.Text(chromedp.CSS(".timeline")))
	if !strings.Contains(timeline, "payment.created") || !strings.Contains(timeline, "attempt.created") || !strings.Contains(timeline, "payment.paid") {
		t.Fatalf("timeline: %q", timeline)
	}
	if row := get(t, ctx, chromedp.Text(`//section[h2[.='Attempts']]//tbody/tr`)); !strings.Contains(row, "Onecheckout") || !strings.Contains(row, "paid") {
		t.Fatalf("attempt row: %q", row)
	}
	shoot(t, ctx, k, map[string]string{"overview": "/dashboard", "apps": "/dashboard/apps", "app": "/dashboard/apps/" + clientID,
		"token-form": "/dashboard/apps/" + clientID + "/tokens/new", "payments": "/dashboard/payments",
		"payment": "/dashboard/payments/" + p.ID, "oauth-clients": "/dashboard/oauth-clients"})

	checkAccessibility(t, k, pw, clientID, p.ID)

	// Sign out: the dashboard is closed again.
	do(t, ctx, chromedp.Click(button("Sign out")), chromedp.WaitVisible(button("Sign in")))
	do(t, ctx, chromedp.Navigate(k.URL+"/dashboard/payments"), chromedp.WaitVisible(button("Sign in")))
}

// shoot saves screenshots of the main pages at 360 px and 1280 px when KASSA_SCREENSHOTS names
// a directory: they are for people to look at, not assertions.
func shoot(t *testing.T, ctx context.Context, k *kassa, pages map[string]string) {
	t.Helper()
	dir := os.Getenv("KASSA_SCREENSHOTS")
	if dir == "" {
		return
	}
	for _, w := range []int64{360, 1280} {
		do(t, ctx, chromedp.EmulateViewport(w, 800))
		for name, path := range pages {
			do(t, ctx, chromedp.Navigate(k.URL+path), chromedp.WaitVisible(chromedp.CSS("h1")))
			png := get(t, ctx, chromedp.FullScreenshot(100))
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-%d.png", name, w)), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	do(t, ctx, chromedp.EmulateViewport(390, 844))
}

// checkAccessibility runs axe-core on the main pages, in a tab with JavaScript on, when
// KASSA_AXE names axe.min.js (npm install axe-core): WCAG 2.x A and AA rules must pass.
func checkAccessibility(t *testing.T, k *kassa, password, clientID, paymentID string) {
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
	do(t, ctx, chromedp.Navigate(k.URL+"/dashboard/sign-in"), chromedp.WaitVisible(chromedp.CSS("h1")))
	axe := func(page string) {
		t.Helper()
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
	axe("/dashboard/sign-in")
	if strings.Contains(get(t, ctx, chromedp.Location()), "/sign-in") {
		do(t, ctx, chromedp.SendKeys(labelled("Email"), "ops@example.com"), chromedp.SendKeys(labelled("Password"), password),
			chromedp.Click(button("Sign in")), chromedp.WaitVisible(button("Sign out")))
	}
	for _, page := range []string{"/dashboard", "/dashboard/payments", "/dashboard/payments/" + paymentID, "/dashboard/apps",
		"/dashboard/apps/" + clientID, "/dashboard/apps/" + clientID + "/tokens/new", "/dashboard/oauth-clients", "/dashboard/links"} {
		do(t, ctx, chromedp.Navigate(k.URL+page), chromedp.WaitVisible(chromedp.CSS("h1")))
		axe(page)
	}
}

// TestDashboardCopyScript checks the one piece of JavaScript, with JavaScript on: the
// Content-Security-Policy lets it run, the shown-once token starts selected, and Copy copies
// (or, where the clipboard is refused, says how to).
func TestDashboardCopyScript(t *testing.T) {
	t.Parallel()
	k := start(t)
	pw := k.operator(t, "ops@example.com")
	ctx := tab(t)
	do(t, ctx, chromedp.Navigate(k.URL+"/dashboard/sign-in"), chromedp.WaitVisible(button("Sign in")),
		chromedp.SendKeys(labelled("Email"), "ops@example.com"), chromedp.SendKeys(labelled("Password"), pw),
		chromedp.Click(button("Sign in")), chromedp.WaitVisible(button("Sign out")),
		chromedp.Navigate(k.URL+"/dashboard/apps/"+k.client+"/tokens/new"), chromedp.WaitVisible(button("Create token")),
		chromedp.Click(labelled("*")), chromedp.Click(button("Create token")))
	waitHeading(t, ctx, "Token created")
	selected := `(() => { const f = document.getElementById("token"); return f.selectionStart === 0 && f.selectionEnd === f.value.length && f.value.startsWith("kct_"); })()`
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](selected)); err != nil {
		t.Fatalf("the token is not selected by the script: %v", err)
	}
	do(t, ctx, chromedp.Click(button("Copy")))
	status, err := chromedp.Run(ctx, chromedp.Poll[string](`document.querySelector(".copy-status").textContent || false`))
	if err != nil || (status != "Copied." && !strings.HasPrefix(status, "Press Ctrl+C")) {
		t.Fatalf("after Copy the status says %q (%v)", status, err)
	}
}
