package handlers_test

import (
	"net/http"
	"net/url"
	"regexp"
	"testing"
)

var linkFormKey = regexp.MustCompile(`name="key" value="([0-9a-f]{32})"`)

// TestLinkFormSentTwice: a shopper double-clicks "Continue to payment" (JavaScript off, so the
// browser sends the form twice and shows the second answer), or comes back with the Back button
// and sends it again. On a link with one place the second send used to find the place held by
// the first and answer "sold out", the shopper's own payment holding the place unseen for half
// an hour. The same form now leads to the same payment; another quantity makes another.
func TestLinkFormSentTwice(t *testing.T) {
	e := newEnv(t)
	l := e.createLink(t, `{"clientId": "`+e.app.ClientID+`", "name": "Last seat", "amount": 1000, "currencyCode": "USD", "maxPayments": 1,
		"quantity": {"min": 1, "max": 3}}`)
	id := l["id"].(string)
	_, body := e.page(t, "/l/"+id)
	csrfToken := csrfField.FindStringSubmatch(body)
	key := linkFormKey.FindStringSubmatch(body)
	if csrfToken == nil || key == nil {
		t.Fatalf("the link form has no CSRF field or no key:\n%s", body)
	}
	var where []string
	for i := range 2 {
		resp, _ := e.postLink(t, id, csrfToken[1], url.Values{"quantity": {"2"}, "key": {key[1]}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("send %d: %d, want 303 to the checkout page", i+1, resp.StatusCode)
		}
		where = append(where, resp.Header.Get("Location"))
	}
	if where[0] != where[1] {
		t.Fatalf("the same form led to %s and %s", where[0], where[1])
	}
	if n := e.countPayments(t); n != 1 {
		t.Fatalf("%d payments from one form sent twice", n)
	}
	// Another quantity on the same form is another request: the one place is then held.
	if resp, _ := e.postLink(t, id, csrfToken[1], url.Values{"quantity": {"3"}, "key": {key[1]}}); resp.StatusCode != http.StatusGone {
		t.Fatalf("another quantity with the place held: %d, want 410", resp.StatusCode)
	}
}
