package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/kassa-pay/kassa/locale"
)

// The shopper's half in other languages: a payment made in Chichewa (chosen with ?lang=ny on
// the first page and remembered by the cookie through the provider and back), one in Hindi
// (chosen by the browser's Accept-Language alone), and the accessibility conventions of the
// checkout page in every language at 360 px.

// ownTab is a tab in a browser context of its own: the language cookie these tests set must
// not reach the other tests' tabs, which share the default context's cookies.
func ownTab(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browserCtx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancelTimeout)
	return ctx
}

func htmlLang(t *testing.T, ctx context.Context) string {
	t.Helper()
	return get(t, ctx, chromedp.Evaluate[string](`document.documentElement.lang`, chromedp.EvalAsValue))
}

// startingWith is the submit button whose accessible name starts with prefix.
func startingWith(prefix string) string {
	return `//button[@type='submit' and starts-with(normalize-space(.), ` + lit(prefix) + `)]`
}

// containing is the submit button whose accessible name contains s.
func containing(s string) string {
	return `//button[@type='submit' and contains(normalize-space(.), ` + lit(s) + `)]`
}

func TestPayInChichewa(t *testing.T) {
	t.Parallel()
	k := start(t)
	p := k.createPayment(t, 4500000, "MWK")
	ctx := ownTab(t)
	do(t, ctx, chromedp.Navigate(p.CheckoutURL+"?lang=ny"))
	waitHeading(t, ctx, "Lipirani MK")
	if got := htmlLang(t, ctx); got != "ny" {
		t.Fatalf("<html lang=%q>", got)
	}
	page := bodyText(ctx, t)
	for _, want := range []string{"Sankhani njira yolipirira", "Nambala ya foni", "Ndalama zonse (MWK)", "MK\u00a045,000.00"} {
		if !strings.Contains(page, want) {
			t.Errorf("Chichewa checkout page lacks %q:\n%s", want, page)
		}
	}
	do(t, ctx,
		chromedp.Click(`//label[normalize-space(text())='OneKhusa']`),
		chromedp.Click(startingWith("Lipirani MK")),
		pressOnProvider("Pay"))
	// The provider's page is the provider's; back on Kassa the cookie still says Chichewa.
	waitHeading(t, ctx, "Zikomo chifukwa cha malipiro anu")
	if got := htmlLang(t, ctx); got != "ny" {
		t.Fatalf("thank-you page <html lang=%q>", got)
	}
	if page := bodyText(ctx, t); !strings.Contains(page, "Malipiro alandiridwa") || !strings.Contains(page, "MK\u00a045,000.00") {
		t.Fatalf("Chichewa thank-you page:\n%s", page)
	}
	if got := k.payment(t, p.ID); got.Status != "paid" {
		t.Fatalf("API after paying in Chichewa: %+v", got)
	}
	do(t, ctx, chromedp.EmulateViewport(360, 740), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("h1")))
	screenshot(t, ctx, "lang-ny-thanks-360")
}

func TestPayInHindi(t *testing.T) {
	t.Parallel()
	k := start(t)
	p := k.createPayment(t, 199907, "INR")
	ctx := ownTab(t)
	do(t, ctx, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		_, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders,
			network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": "hi-IN,hi;q=0.9,en;q=0.5"}})
		return err
	}), chromedp.Navigate(p.CheckoutURL))
	waitHeading(t, ctx, "₹1,999.07 का भुगतान करें")
	if got := htmlLang(t, ctx); got != "hi" {
		t.Fatalf("<html lang=%q>", got)
	}
	if page := bodyText(ctx, t); !strings.Contains(page, "भुगतान का तरीका चुनें") {
		t.Fatalf("Hindi checkout page:\n%s", page)
	}
	do(t, ctx,
		chromedp.Click(`//label[normalize-space(text())='EnKash']`),
		chromedp.Click(containing("का भुगतान करें")),
		pressOnProvider("Pay"))
	waitHeading(t, ctx, "आपके भुगतान के लिए धन्यवाद")
	if got := htmlLang(t, ctx); got != "hi" {
		t.Fatalf("thank-you page <html lang=%q>", got)
	}
	if page := bodyText(ctx, t); !strings.Contains(page, "भुगतान मिल गया") || !strings.Contains(page, "₹1,999.07") {
		t.Fatalf("Hindi thank-you page:\n%s", page)
	}
	if got := k.payment(t, p.ID); got.Status != "paid" {
		t.Fatalf("API after paying in Hindi: %+v", got)
	}
	// Part refunded (EnKash refunds through its API at once): the page says so in Hindi.
	var r map[string]any
	if status := k.api(t, "POST", "/api/payment/"+p.ID+"/refunds", map[string]any{"amount": 50000}, &r); status != 201 {
		t.Fatalf("refund: %d %v", status, r)
	}
	do(t, ctx, chromedp.EmulateViewport(360, 740), chromedp.Reload())
	waitHeading(t, ctx, "आपके भुगतान के लिए धन्यवाद")
	if page := bodyText(ctx, t); !strings.Contains(page, "इसमें से ₹500.00") || !strings.Contains(page, "वापस की गई राशि") {
		t.Fatalf("Hindi page after a partial refund:\n%s", page)
	}
	screenshot(t, ctx, "lang-hi-refunded-360")
}

// screenshot saves the page as name.png in KASSA_SCREENSHOTS, when it is set.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if dir := os.Getenv("KASSA_SCREENSHOTS"); dir != "" {
		png := get(t, ctx, chromedp.FullScreenshot(100))
		if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCheckoutAccessibleInEveryLanguage: on the checkout page with the phone field, in every
// language at 360 px: <html lang> names the language, one h1, every visible form control has
// a label, the submit button has a name, and nothing is wider than the screen (longer words
// must wrap, not overflow). With KASSA_SCREENSHOTS set, saves lang-<code>-360.png there.
func TestCheckoutAccessibleInEveryLanguage(t *testing.T) {
	t.Parallel()
	k := start(t)
	p := k.createPayment(t, 4500000, "MWK")
	ctx := ownTab(t)
	do(t, ctx, chromedp.EmulateViewport(360, 740))
	for _, l := range locale.Languages {
		do(t, ctx, chromedp.Navigate(p.CheckoutURL+"?lang="+l.Code), chromedp.WaitVisible(chromedp.CSS("h1")))
		if got := htmlLang(t, ctx); got != l.Code {
			t.Errorf("%s: <html lang=%q>", l.Code, got)
		}
		checks := get(t, ctx, chromedp.Evaluate[map[string]any](`(() => {
			const unlabelled = [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
				.filter(el => !el.id || !document.querySelector('label[for="' + el.id + '"]') || !document.querySelector('label[for="' + el.id + '"]').textContent.trim())
				.map(el => el.name);
			const button = document.querySelector('button[type=submit]');
			const wide = [...document.querySelectorAll('body *')].filter(el => el.getBoundingClientRect().right > document.documentElement.clientWidth + 1).map(el => el.tagName + '.' + el.className);
			return {h1: document.querySelectorAll('h1').length, unlabelled: unlabelled, button: button ? button.textContent.trim() : '',
				overflow: document.documentElement.scrollWidth > document.documentElement.clientWidth, wide: wide.slice(0, 5)};
		})()`, chromedp.EvalAsValue))
		if checks["h1"] != float64(1) {
			t.Errorf("%s: %v h1 elements", l.Code, checks["h1"])
		}
		if u := checks["unlabelled"].([]any); len(u) > 0 {
			t.Errorf("%s: controls without a label: %v", l.Code, u)
		}
		if checks["button"] == "" {
			t.Errorf("%s: the submit button has no name", l.Code)
		}
		if checks["overflow"] == true {
			t.Errorf("%s: the page is wider than 360 px: %v", l.Code, checks["wide"])
		}
		screenshot(t, ctx, "lang-"+l.Code+"-360")
	}
}
