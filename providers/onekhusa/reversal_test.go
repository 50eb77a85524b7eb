package onekhusa_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kassa-pay/kassa/providers"
	"github.com/kassa-pay/kassa/providers/onekhusa/sandbox"
	"github.com/kassa-pay/kassa/providers/providertest"
)

// TestReversalOnThePhonePage pays through the hosted checkout, reverses the payment with the
// simulated phone's Reverse button, and checks the adapter then reads the order as refunded in
// full and the pushpayment.reversed webhook is sent, so Kassa's reversal path can be driven
// end to end.
func TestReversalOnThePhonePage(t *testing.T) {
	events := make(chan string, 8)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		events <- r.Header.Get("X-OneKhusa-Webhook-Event")
	}))
	defer hook.Close()
	e := newEnv(t, sandbox.Config{WebhookURL: hook.URL})
	ctx := context.Background()
	o := providers.Order{Reference: "att_reverse1", Description: "Reversal", Amount: 150000, Currency: "MWK",
		ReturnURL: "https://kassa.test/r?outcome=return", CancelURL: "https://kassa.test/r?outcome=cancel"}
	s, err := e.p.CreateOrder(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	l := providers.Lookup{ProviderRef: s.ProviderRef, Reference: o.Reference, Currency: "MWK"}
	// Reversing before the payment succeeded is refused.
	if err := e.srv.ReverseTransaction(s.ProviderRef); err == nil {
		t.Fatal("a pending transaction was reversed")
	}
	if _, err := (providertest.FormShopper{}).Complete(ctx, s, providertest.Pay); err != nil {
		t.Fatal(err)
	}
	if r, err := e.p.FetchOrder(ctx, l); err != nil || r.Status != providers.StatusPaid {
		t.Fatalf("after paying: %+v %v", r, err)
	}

	page, err := http.Get(e.http.URL + "/phone")
	if err != nil {
		t.Fatal(err)
	}
	body := new(strings.Builder)
	page.Write(body)
	if !strings.Contains(body.String(), `value="reverse">Reverse</button>`) || !strings.Contains(body.String(), s.ProviderRef) {
		t.Fatalf("the phone page offers no Reverse button for %s:\n%s", s.ProviderRef, body)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm(e.http.URL+"/phone", url.Values{"ref": {s.ProviderRef}, "action": {"reverse"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("Reverse answered %d", resp.StatusCode)
	}
	r, err := e.p.FetchOrder(ctx, l)
	if err != nil || r.Status != providers.StatusRefunded || r.Amount != o.Amount || r.Currency != "MWK" {
		t.Fatalf("after the reversal: %+v %v", r, err)
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev == "pushpayment.reversed" {
				return
			}
		case <-deadline:
			t.Fatal("no pushpayment.reversed webhook within 10 s")
		}
	}
}
