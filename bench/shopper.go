package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/net/html"

	"github.com/kassa-pay/kassa/providers/providertest"
)

// The steps of one checkout, in order. Each is timed from sending the request to having read
// the whole response; parsing the HTML afterwards is the shopper's time, not the server's.
const (
	stepAPICreate      = "api_create"      // the merchant's server creates the payment
	stepCheckoutPage   = "checkout_page"   // the shopper opens the checkout URL
	stepChooseProvider = "choose_provider" // posts the form (Kassa creates the provider order)
	stepProviderPage   = "provider_page"   // the provider's pay page
	stepProviderPay    = "provider_pay"    // presses Pay there
	stepReturnVerify   = "return_verify"   // back at Kassa, which asks the provider
	stepThankYouPage   = "thankyou_page"   // the page the return redirects to
	numSteps           = 7
)

var stepNames = [numSteps]string{stepAPICreate, stepCheckoutPage, stepChooseProvider, stepProviderPage,
	stepProviderPay, stepReturnVerify, stepThankYouPage}

// providerSteps are served by the payment provider (the sandbox), not by Kassa: they are
// shown, but the per-step latency target applies to Kassa's own steps.
var providerSteps = map[string]bool{stepProviderPage: true, stepProviderPay: true}

// shopperRoundTrips is the number of HTTP requests one checkout makes from the outside
// (merchant and browser); the server adds its own calls to the provider.
const shopperRoundTrips = numSteps

// target is a server that speaks Kassa's checkout flow: Kassa itself or the floor.
type target struct {
	name     string
	base     *url.URL
	token    string
	clientID string
	// transport is shared by all of this target's shoppers: connections are kept alive as a
	// browser keeps them, and the cookie jars stay per shopper.
	transport *http.Transport
	// merchant is the merchant's server's client: no cookies.
	merchant *http.Client
	seq      atomic.Int64
}

func newTarget(name, base, token, clientID string) (*target, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	t := &target{name: name, base: u, token: token, clientID: clientID, transport: &http.Transport{
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 512,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}}
	t.merchant = &http.Client{Transport: t.transport, Timeout: 10 * time.Second}
	return t, nil
}

// timings are one checkout's step durations, indexed like stepNames.
type timings [numSteps]time.Duration

// createPayment is the merchant's server creating a payment through the API; it returns the
// payment's checkout URL.
func (t *target) createPayment(ctx context.Context) (*url.URL, error) {
	n := strconv.FormatInt(t.seq.Add(1), 10)
	body, _ := json.Marshal(map[string]any{
		"amount": 2400, "currencyCode": "USD", "clientId": t.clientID,
		"reference": "BENCH-" + n, "referenceLabel": "Bench order " + n,
		"lineItems": []map[string]any{{"name": "Kassa canvas tote bag", "quantity": 1, "unitAmount": 2400}},
	})
	apiURL := t.base.ResolveReference(&url.URL{Path: "/api/payment/checkout"})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, apiURL.String(), bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+t.token)
	req.Header.Set("Content-Type", "application/json")
	resp, raw, err := (&browser{client: t.merchant}).do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusCreated {
		return nil, fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, raw)
	}
	var created struct {
		CheckoutURL string `json:"checkoutUrl"`
	}
	if err := json.Unmarshal(raw, &created); err != nil || created.CheckoutURL == "" {
		return nil, fmt.Errorf("no checkoutUrl in %.200s", raw)
	}
	return url.Parse(created.CheckoutURL)
}

// client returns a new shopper's HTTP client: its own cookie jar, the target's connections,
// and no redirect following, so each step is one timed exchange.
func (t *target) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{
		Transport:     t.transport,
		Jar:           jar,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// checkout runs one complete checkout as a merchant's server and a new shopper's browser
// would, checks it ended on the thank-you page, and returns that page's URL.
func (t *target) checkout(ctx context.Context, d *timings) (*url.URL, error) {
	b := &browser{client: t.client()}

	// 1. The merchant's server creates the payment through the API.
	start := time.Now()
	checkoutURL, err := t.createPayment(ctx)
	d[0] = time.Since(start)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", stepAPICreate, err)
	}

	// 2. The shopper opens the checkout page.
	page, pageURL, err := b.get(ctx, checkoutURL, &d[1])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", stepCheckoutPage, err)
	}
	f, err := providertest.FindForm(page, func(n *html.Node) bool {
		return n.Data == "input" && providertest.Attr(n, "name") == "provider" && providertest.Attr(n, "value") == "onecheckout"
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", stepCheckoutPage, err)
	}
	f.Fields.Set("provider", "onecheckout")

	// 3. Chooses Onecheckout and presses Pay: Kassa creates the provider order and answers 303.
	payURL, err := b.submit(ctx, pageURL, f, &d[2])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", stepChooseProvider, err)
	}

	// 4. The provider's pay page.
	page, pageURL, err = b.get(ctx, payURL, &d[3])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", stepProviderPage, err)
	}
	f, err = providertest.FindForm(page, func(n *html.Node) bool {
		return n.Data == "button" && providertest.Attr(n, "name") == "action" && providertest.Attr(n, "value") == "pay"
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", stepProviderPage, err)
	}
	f.Fields.Set("action", "pay")

	// 5. Pay: the provider answers 303 to Kassa's return URL.
	returnURL, err := b.submit(ctx, pageURL, f, &d[4])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", stepProviderPay, err)
	}

	// 6. Back at Kassa, which asks the provider and redirects to the page for the truth.
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, returnURL.String(), nil)
	start = time.Now()
	resp, raw, err := b.do(req)
	d[5] = time.Since(start)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", stepReturnVerify, err)
	}
	if resp.StatusCode != http.StatusSeeOther {
		return nil, fmt.Errorf("%s: HTTP %d, want 303: %.200s", stepReturnVerify, resp.StatusCode, raw)
	}
	next, err := returnURL.Parse(resp.Header.Get("Location"))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", stepReturnVerify, err)
	}

	// 7. The thank-you page.
	page, thanksURL, err := b.get(ctx, next, &d[6])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", stepThankYouPage, err)
	}
	if h := providertest.Heading(page); !strings.Contains(h, "Thank you") {
		return nil, fmt.Errorf("%s: ended on %q, not a thank-you page", stepThankYouPage, h)
	}
	return thanksURL, nil
}

// browser is one shopper's client.
type browser struct {
	client *http.Client
}

func (b *browser) do(req *http.Request) (*http.Response, []byte, error) {
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp, raw, err
}

// get loads a page as a browser does, following redirects (at most five), and returns the
// page and its final URL; *d is the time it took.
func (b *browser) get(ctx context.Context, u *url.URL, d *time.Duration) ([]byte, *url.URL, error) {
	start := time.Now()
	defer func() { *d = time.Since(start) }()
	for range 5 {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		req.Header.Set("Accept", "text/html")
		resp, raw, err := b.do(req)
		if err != nil {
			return nil, nil, err
		}
		switch {
		case resp.StatusCode == http.StatusOK:
			return raw, u, nil
		case resp.StatusCode >= 300 && resp.StatusCode < 400:
			if u, err = u.Parse(resp.Header.Get("Location")); err != nil {
				return nil, nil, err
			}
		default:
			return nil, nil, fmt.Errorf("GET %s: HTTP %d: %.200s", u.Path, resp.StatusCode, raw)
		}
	}
	return nil, nil, errors.New("too many redirects")
}

// submit posts a form as a browser does (with Origin and Referer) and returns where the 303
// that answers it points; *d is the time it took.
func (b *browser) submit(ctx context.Context, pageURL *url.URL, f providertest.Form, d *time.Duration) (*url.URL, error) {
	action, err := pageURL.Parse(f.Action)
	if err != nil {
		return nil, err
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, action.String(), strings.NewReader(f.Fields.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", pageURL.Scheme+"://"+pageURL.Host)
	req.Header.Set("Referer", pageURL.String())
	start := time.Now()
	resp, raw, err := b.do(req)
	*d = time.Since(start)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusSeeOther {
		return nil, fmt.Errorf("POST %s: HTTP %d, want 303: %.300s", action.Path, resp.StatusCode, raw)
	}
	return action.Parse(resp.Header.Get("Location"))
}
