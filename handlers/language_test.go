package handlers_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/kassa-pay/kassa/locale"
	"github.com/kassa-pay/kassa/locale/localetest"
)

// getIn loads path with an Accept-Language header and the given cookies, without a jar.
func (e *env) getIn(t *testing.T, path, acceptLanguage string, cookies ...*http.Cookie) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
	if acceptLanguage != "" {
		req.Header.Set("Accept-Language", acceptLanguage)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func langCookieOf(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == "kassa_lang" {
			return c
		}
	}
	return nil
}

// TestLanguageChoice: ?lang= wins and is remembered in a year-long HttpOnly, SameSite=Lax
// cookie; the cookie then wins over Accept-Language; an unknown ?lang= sets nothing and
// falls through; pages say Vary: Accept-Language, Cookie.
func TestLanguageChoice(t *testing.T) {
	e := newEnv(t)
	p := e.newPayment(t, 6197)
	path := "/checkout/" + p.ID

	resp, body := e.getIn(t, path+"?lang=ny", "fr")
	ck := langCookieOf(resp)
	if !strings.Contains(body, `<html lang="ny"`) || !strings.Contains(body, "Lipirani") {
		t.Fatalf("?lang=ny did not choose Chichewa:\n%s", body)
	}
	if ck == nil || ck.Value != "ny" || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.MaxAge != 365*24*3600 || ck.Path != "/" || ck.Secure {
		t.Fatalf("language cookie %+v", ck)
	}
	if v := strings.Join(resp.Header.Values("Vary"), ","); !strings.Contains(v, "Accept-Language") || !strings.Contains(v, "Cookie") {
		t.Fatalf("Vary %q", v)
	}
	if _, body := e.getIn(t, path, "fr, en;q=0.5", ck); !strings.Contains(body, `<html lang="ny"`) {
		t.Fatal("the remembered language does not win over Accept-Language")
	}
	resp, body = e.getIn(t, path+"?lang=xx", "de, hi;q=0.4")
	if langCookieOf(resp) != nil || !strings.Contains(body, `<html lang="hi"`) {
		t.Fatalf("unknown ?lang=: cookie %v, page in %s", langCookieOf(resp), body[:60])
	}
	if _, body := e.getIn(t, path, "de"); !strings.Contains(body, `<html lang="en"`) || !strings.Contains(body, "Pay $61.97") {
		t.Fatal("no language Kassa speaks: not English")
	}
	// The API never sets the cookie.
	req, _ := http.NewRequest("GET", e.srv.URL+"/api/payment/"+p.ID+"?lang=fr", nil)
	req.Header.Set("Authorization", "Bearer "+e.token)
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if langCookieOf(r) != nil {
		t.Fatal("an API answer set the language cookie")
	}
}

// TestAppDefaultLanguage: an application's defaultLanguage speaks on its pages when the
// browser asks for no language Kassa speaks, and never over one it does ask for; the API
// refuses a language Kassa does not speak.
func TestAppDefaultLanguage(t *testing.T) {
	e := newEnv(t)
	dash := e.dashboardToken(t)
	p := e.newPayment(t, 6197)
	if status, body := e.api(t, "PATCH", "/api/payment-applications/"+e.app.ClientID, dash, `{"defaultLanguage": "xx"}`); status != 422 || body["errors"].(map[string]any)["defaultLanguage"] == nil {
		t.Fatalf("unknown language: %d %v", status, body)
	}
	if status, body := e.api(t, "PATCH", "/api/payment-applications/"+e.app.ClientID, dash, `{"defaultLanguage": "sw"}`); status != 200 || body["defaultLanguage"] != "sw" {
		t.Fatalf("set sw: %d %v", status, body)
	}
	if _, app := e.api(t, "GET", "/api/payment-applications/"+e.app.ClientID, dash, ""); app["defaultLanguage"] != "sw" {
		t.Fatalf("stored: %v", app)
	}
	if _, body := e.getIn(t, "/checkout/"+p.ID, "de"); !strings.Contains(body, `<html lang="sw"`) || !strings.Contains(body, "Lipa US$") {
		t.Fatalf("app default not used:\n%s", body)
	}
	if _, body := e.getIn(t, "/checkout/"+p.ID, "hi"); !strings.Contains(body, `<html lang="hi"`) {
		t.Fatal("the app default won over the browser's language")
	}
	// Unknown payments have no application: English.
	if _, body := e.getIn(t, "/checkout/pay_nope", "de"); !strings.Contains(body, `<html lang="en"`) {
		t.Fatal("not-found page not English")
	}
	if status, body := e.api(t, "PATCH", "/api/payment-applications/"+e.app.ClientID, dash, `{"defaultLanguage": ""}`); status != 200 || body["defaultLanguage"] != "" {
		t.Fatalf("clear: %d %v", status, body)
	}
	if _, body := e.getIn(t, "/checkout/"+p.ID, ""); !strings.Contains(body, `<html lang="en"`) {
		t.Fatal("cleared default: not English")
	}
}

// TestAllDownPageInEveryLanguage: the all-providers-down page is translated like the others
// (it needs the breakers of the operations test environment).
func TestAllDownPageInEveryLanguage(t *testing.T) {
	o := newOpsEnv(t, false)
	p := o.newPayment(t, 6197)
	o.page(t, "/checkout/"+p.ID)
	o.down.Store(true)
	for range 2 {
		resp := o.submit(t, "/checkout/"+p.ID, url.Values{"provider": {"onecheckout"}})
		resp.Body.Close()
	}
	resp, enPage := o.getIn(t, "/checkout/"+p.ID, "en")
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(enPage, "Payments are unavailable right now") {
		t.Fatalf("all-down page: %d\n%s", resp.StatusCode, enPage)
	}
	for _, l := range locale.Languages[1:] {
		resp, page := o.getIn(t, "/checkout/"+p.ID, l.Code)
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(page, `<html lang="`+l.Code+`"`) {
			t.Errorf("%s: %d", l.Code, resp.StatusCode)
		}
		if left := localetest.Untranslated(enPage, page, "Shop", "Order <b>1</b>"); len(left) > 0 {
			t.Errorf("%s still says in English: %q", l.Code, left)
		}
	}
}
