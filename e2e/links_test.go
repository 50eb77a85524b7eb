package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/kassa-pay/kassa/views"
)

// noScript turns JavaScript off in the tab, as on a phone with it disabled, and proves it is off.
func noScript(t *testing.T, ctx context.Context) {
	t.Helper()
	do(t, ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		return err
	}), chromedp.Navigate(`data:text/html,<title>off</title><script>document.title="on"</script>`))
	if title := get(t, ctx, chromedp.Title()); title != "off" {
		t.Fatalf("scripts still run: the page's title is %q", title)
	}
}

type apiLink struct {
	ID            string `json:"id"`
	URL           string `json:"url"`
	QRCodeURL     string `json:"qrCodeUrl"`
	Active        bool   `json:"active"`
	PaymentsCount int64  `json:"paymentsCount"`
	PaidCount     int64  `json:"paidCount"`
	Collected     []struct {
		Amount       int64  `json:"amount"`
		CurrencyCode string `json:"currencyCode"`
	} `json:"collected"`
}

// TestPaymentLinkWithoutJavaScript: a merchant creates a link with an adjustable quantity and
// pastes its embed form into their own web page; a shopper with JavaScript off chooses 2 there,
// lands on the link's page with 2 filled in, changes it to 3, continues to payment, pays at the
// sandbox and is thanked; the link's counters then show one paid payment of three times the price.
func TestPaymentLinkWithoutJavaScript(t *testing.T) {
	t.Parallel()
	k := start(t)
	var l apiLink
	if status := k.api(t, "POST", "/api/payment-links", map[string]any{
		"clientId": k.client, "name": "Canvas tote bag", "amount": 2400, "currencyCode": "USD",
		"quantity": map[string]int{"min": 1, "max": 5},
	}, &l); status != http.StatusCreated || l.URL != k.URL+"/l/"+l.ID || !l.Active {
		t.Fatalf("create link: HTTP %d, %+v", status, l)
	}

	// The merchant's own page, elsewhere, with the pasted snippet.
	snippet := views.EmbedFormHTML(views.EmbedLink{URL: l.URL, Name: "Canvas tote bag", Price: "USD 24.00", Adjustable: true, Min: 1, Max: 5})
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(`<!doctype html><title>My shop</title><h1>My shop</h1>` + snippet))
	}))
	defer shop.Close()

	ctx := tab(t)
	noScript(t, ctx)
	do(t, ctx, chromedp.Navigate(shop.URL))
	waitHeading(t, ctx, "My shop")
	do(t, ctx,
		chromedp.Clear(`//label[starts-with(normalize-space(.), 'Quantity')]/input`),
		chromedp.SendKeys(`//label[starts-with(normalize-space(.), 'Quantity')]/input`, "2"),
		chromedp.Click(`//button[normalize-space(.)='Buy Canvas tote bag, USD 24.00 each']`))
	waitHeading(t, ctx, "Canvas tote bag")
	if page := bodyText(ctx, t); !strings.Contains(page, "$24.00") {
		t.Fatalf("the link's page lacks its price:\n%s", page)
	}
	input := get(t, ctx, chromedp.AttributeValue(`//label[normalize-space(.)='Quantity']`, "for")).Value
	if input == "" {
		t.Fatal("no input labelled Quantity")
	}
	if v := get(t, ctx, chromedp.Value(chromedp.ID(input))); v != "2" {
		t.Fatalf("the link's page has quantity %q, want the 2 chosen on the merchant's page", v)
	}
	do(t, ctx,
		chromedp.Clear(chromedp.ID(input)),
		chromedp.SendKeys(chromedp.ID(input), "3"),
		chromedp.Click(`//button[normalize-space(.)='Continue to payment']`))
	waitHeading(t, ctx, "Pay $72.00")
	do(t, ctx, chooseProvider("Onecheckout"), pressOnProvider("Pay"))
	waitHeading(t, ctx, "Thank you")

	var got apiLink
	if status := k.api(t, "GET", "/api/payment-links/"+l.ID, nil, &got); status != http.StatusOK {
		t.Fatalf("get link: HTTP %d", status)
	}
	if got.PaymentsCount != 1 || got.PaidCount != 1 || len(got.Collected) != 1 || got.Collected[0].Amount != 7200 || got.Collected[0].CurrencyCode != "USD" {
		t.Fatalf("the link's counters after one paid payment of 3: %+v", got)
	}
}
