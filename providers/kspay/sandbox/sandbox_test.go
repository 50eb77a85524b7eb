package sandbox

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// call makes one request against s and returns the status and decoded JSON body.
func call(t *testing.T, s http.Handler, method, path string, header map[string]string, body string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	var out map[string]any
	json.Unmarshal(rec.Body.Bytes(), &out)
	return rec.Code, out
}

func code(m map[string]any) int {
	f, _ := m["code"].(float64)
	return int(f)
}

func login(t *testing.T, s *Server) (access, refresh string) {
	t.Helper()
	c := DefaultCredentials()
	// The NPM-sequence example spells the field "accesskey"; it must work too.
	st, out := call(t, s, "POST", "/auth/generate-token/"+c.AppID, nil, `{"accesskey":"`+c.AccessKey+`","secretKey":"`+c.SecretKey+`"}`)
	if st != 201 || out["status"] != float64(201) || out["message"] != "success" {
		t.Fatalf("generate-token: %d %v", st, out)
	}
	res := out["result"].(map[string]any)
	return res["accessToken"].(string), res["refreshToken"].(string)
}

func TestDocumentedErrors(t *testing.T) {
	s := New(Config{})
	c := DefaultCredentials()
	access, refresh := login(t, s)
	bearer := map[string]string{"Authorization": "Bearer " + access}
	keys := `{"accessKey":"` + c.AccessKey + `","secretKey":"` + c.SecretKey + `"}`
	initiate := func(fields string) string {
		base := map[string]any{
			"currencyId": "c_WkmEe23LeI", "paymentMethodId": "pm_Mk55VGvFm", "amount": json.Number("12.34"),
			"referenceNumber": "ref-1", "appId": c.AppID, "redirectUrl": "https://shop.test/back?x=1",
		}
		var over map[string]any
		d := json.NewDecoder(strings.NewReader(fields))
		d.UseNumber()
		d.Decode(&over)
		for k, v := range over {
			if v == nil {
				delete(base, k)
			} else {
				base[k] = v
			}
		}
		b, _ := json.Marshal(base)
		return string(b)
	}
	for _, tc := range []struct {
		name         string
		method, path string
		header       map[string]string
		body         string
		status, code int
	}{
		{"wrong secret", "POST", "/auth/generate-token/" + c.AppID, nil, `{"accessKey":"` + c.AccessKey + `","secretKey":"nope"}`, 400, 11004},
		{"unknown access key", "POST", "/auth/generate-token/" + c.AppID, nil, `{"accessKey":"pk_other","secretKey":"` + c.SecretKey + `"}`, 404, 11001},
		{"missing access key", "POST", "/auth/generate-token/" + c.AppID, nil, `{"secretKey":"x"}`, 400, -9},
		{"unknown app", "POST", "/auth/generate-token/ap_000000000", nil, keys, 404, 11002},
		{"malformed app id", "POST", "/auth/generate-token/app1", nil, keys, 400, -17},
		{"malformed body", "POST", "/auth/generate-token/" + c.AppID, nil, `{`, 400, 25},
		{"refresh with Bearer", "POST", "/auth/refresh-token", map[string]string{"Authorization": "Bearer " + refresh}, keys, 401, 9008},
		{"refresh with an access token", "POST", "/auth/refresh-token", map[string]string{"Authorization": access}, keys, 401, 9008},
		{"refresh without token", "POST", "/auth/refresh-token", nil, keys, 400, 9000},
		{"no bearer", "GET", "/currencies", nil, "", 400, 9000},
		{"refresh token as bearer", "GET", "/currencies", map[string]string{"Authorization": "Bearer " + refresh}, "", 401, 9007},
		{"forged bearer", "GET", "/currencies", map[string]string{"Authorization": "Bearer " + access[:len(access)-2] + "xx"}, "", 401, 9007},
		{"unknown currency id", "GET", "/c_0000000000/payment-methods", bearer, "", 400, 13007},
		{"disabled currency", "GET", "/c_EuR0dIsAb1/payment-methods", bearer, "", 400, 13007},
		{"malformed currency id", "GET", "/INR/payment-methods", bearer, "", 400, -17},
		{"missing amount", "POST", "/transaction/initiate", bearer, initiate(`{"amount":null}`), 400, -9},
		{"missing redirectUrl", "POST", "/transaction/initiate", bearer, initiate(`{"redirectUrl":null}`), 400, -9},
		{"too many decimals", "POST", "/transaction/initiate", bearer, initiate(`{"amount":12.345}`), 400, -19},
		{"decimals in JPY", "POST", "/transaction/initiate", bearer, initiate(`{"currencyId":"c_JpY4nE8sQ2","paymentMethodId":"pm_JcB5cArD1","amount":1.5}`), 400, -19},
		{"amount as string", "POST", "/transaction/initiate", bearer, initiate(`{"amount":"12.34"}`), 400, -17},
		{"zero amount", "POST", "/transaction/initiate", bearer, initiate(`{"amount":0}`), 400, -17},
		{"another currency's method", "POST", "/transaction/initiate", bearer, initiate(`{"paymentMethodId":"pm_67NoP7JaQ"}`), 404, 12001},
		{"another app", "POST", "/transaction/initiate", bearer, initiate(`{"appId":"ap_000000000"}`), 403, 11003},
		{"relative redirect", "POST", "/transaction/initiate", bearer, initiate(`{"redirectUrl":"/back"}`), 400, -17},
		{"magic server error", "POST", "/transaction/initiate", bearer, initiate(`{"amount":500}`), 500, 26},
		{"magic rate limit", "POST", "/transaction/initiate", bearer, initiate(`{"amount":429}`), 429, 11005},
		{"process without signature", "POST", "/transaction/process", nil, "", 400, -9},
		{"malformed signature", "POST", "/transaction/process", map[string]string{"x-signature": "xyz"}, "", 400, 11006},
		{"unknown signature", "POST", "/transaction/process", map[string]string{"x-signature": strings.Repeat("0", 64)}, "", 400, 11006},
		{"malformed txn id", "GET", "/transaction/txnId/123", bearer, "", 400, -17},
		{"unknown txn", "GET", "/transaction/txnId/tx_000000000", bearer, "", 404, 24},
		{"bad page", "GET", "/transaction?page=0", bearer, "", 400, 4089},
		{"bad limit", "GET", "/transaction?limit=x", bearer, "", 400, 4056},
		{"unknown path", "GET", "/nowhere/at/all/x", bearer, "", 404, -10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, out := call(t, s, tc.method, tc.path, tc.header, tc.body)
			if st != tc.status || code(out) != tc.code || out["status"] != float64(tc.status) || out["message"] == "" {
				t.Fatalf("%s %s: %d %v, want %d code %d", tc.method, tc.path, st, out, tc.status, tc.code)
			}
		})
	}
}

func TestTokensExpireAndRefresh(t *testing.T) {
	s := New(Config{})
	c := DefaultCredentials()
	access, refresh := login(t, s)
	keys := `{"accessKey":"` + c.AccessKey + `","secretKey":"` + c.SecretKey + `"}`
	if st, _ := call(t, s, "GET", "/currencies", map[string]string{"Authorization": "Bearer " + access}, ""); st != 200 {
		t.Fatalf("fresh token: %d", st)
	}
	s.ExpireTokens()
	if st, out := call(t, s, "GET", "/currencies", map[string]string{"Authorization": "Bearer " + access}, ""); st != 401 || code(out) != 9009 {
		t.Fatalf("expired token: %d %v", st, out)
	}
	st, out := call(t, s, "POST", "/auth/refresh-token", map[string]string{"Authorization": refresh}, keys)
	if st != 201 {
		t.Fatalf("refresh: %d %v", st, out)
	}
	fresh := out["result"].(map[string]any)["accessToken"].(string)
	if st, _ := call(t, s, "GET", "/currencies", map[string]string{"Authorization": "Bearer " + fresh}, ""); st != 200 {
		t.Fatalf("refreshed token: %d", st)
	}
}

func TestPayPageAndRedirect(t *testing.T) {
	s := New(Config{Prefix: "/sandbox/kspay/"})
	c := DefaultCredentials()
	access, _ := login(t, s)
	bearer := map[string]string{"Authorization": "Bearer " + access}
	body := `{"currencyId":"c_KwD7dN1rA5","paymentMethodId":"pm_KnE7t0Db2","amount":1234.567,"referenceNumber":"att_42","appId":"` + c.AppID + `","redirectUrl":"https://kassa.test/return/att_42?outcome=return&x=a%20b"}`
	st, out := call(t, s, "POST", "/transaction/initiate", bearer, body)
	if st != 201 {
		t.Fatalf("initiate: %d %v", st, out)
	}
	sig := out["result"].(map[string]any)["signature"].(string)
	st, out = call(t, s, "POST", "/transaction/process", map[string]string{"x-signature": sig, "X-Forwarded-Proto": "https"}, "")
	if st != 201 {
		t.Fatalf("process: %d %v", st, out)
	}
	order := out["result"].(map[string]any)
	txnID := order["pe_txnId"].(string)
	payURL := order["payUrl"].(string)
	if want := "https://example.com/sandbox/kspay/pay/checkout/" + txnID; payURL != want {
		t.Fatalf("payUrl %q, want %q", payURL, want)
	}
	if order["amount"] != 1234.567 || order["currency"] != "KWD" {
		t.Fatalf("order %v", order)
	}

	// The page, as the shopper's browser gets it after StripPrefix.
	req := httptest.NewRequest("GET", "/pay/checkout/"+txnID, nil)
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	page := rec.Body.String()
	if rec.Code != 200 || !strings.Contains(page, "1234.567 KWD") || !strings.Contains(page, "att_42") {
		t.Fatalf("page %d lacks the amount or reference:\n%s", rec.Code, page)
	}
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	var buttons []string
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			counts[n.Data]++
			if n.Data == "button" {
				buttons = append(buttons, attr(n, "type")+" "+attr(n, "name")+"="+attr(n, "value")+" "+n.FirstChild.Data)
			}
			if n.Data == "form" && attr(n, "method") != "post" {
				t.Errorf("form method %q", attr(n, "method"))
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if counts["h1"] != 1 || counts["form"] != 1 || counts["script"] != 0 || !strings.Contains(page, `name="viewport"`) {
		t.Fatalf("page structure %v", counts)
	}
	want := []string{"submit action=pay Pay", "submit action=decline Decline", "submit action=cancel Cancel"}
	if strings.Join(buttons, "|") != strings.Join(want, "|") {
		t.Fatalf("buttons %v, want %v", buttons, want)
	}

	// Pay: 303 to the redirectUrl with its own query kept and KS Pay's parameters appended.
	req = httptest.NewRequest("POST", "/pay/checkout/"+txnID, strings.NewReader("action=pay"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec = httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != http.StatusSeeOther {
		t.Fatalf("submit: %d", rec.Code)
	}
	loc, _ := url.Parse(rec.Header().Get("Location"))
	q := loc.Query()
	if loc.Host != "kassa.test" || loc.Path != "/return/att_42" || q.Get("outcome") != "return" || q.Get("x") != "a b" ||
		q.Get("payment_status") != "success" || q.Get("kspay_id") != txnID || !strings.HasPrefix(q.Get("provider_payment_id"), "pay_") {
		t.Fatalf("redirect to %s", loc)
	}
	st, out = call(t, s, "GET", "/transaction/txnId/"+txnID, bearer, "")
	tx := out["result"].(map[string]any)
	if st != 200 || tx["status"] != "SUCCESS" || tx["isPaid"] != true || tx["amount"] != "1234.567" || tx["currencyCode"] != "KWD" || tx["referenceNumber"] != "att_42" {
		t.Fatalf("transaction after paying: %d %v", st, tx)
	}

	// A second submit changes nothing and sends the shopper back with the recorded outcome.
	req = httptest.NewRequest("POST", "/pay/checkout/"+txnID, strings.NewReader("action=cancel"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec = httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	loc, _ = url.Parse(rec.Header().Get("Location"))
	if loc.Query().Get("payment_status") != "success" {
		t.Fatalf("second submit redirected to %s", loc)
	}
	// Initiating again with the same reference after it is paid is refused.
	if st, out := call(t, s, "POST", "/transaction/initiate", bearer, body); st != 400 || code(out) != -17 {
		t.Fatalf("re-initiate a paid reference: %d %v", st, out)
	}
}

func TestAmountsOnTheWire(t *testing.T) {
	for _, tc := range []struct {
		minor int64
		dec   int
		fixed string
		js    string
	}{
		{1230, 2, "12.30", "12.3"},
		{1100, 2, "11.00", "11"},
		{5, 2, "0.05", "0.05"},
		{1234567, 0, "1234567", "1234567"},
		{1500, 3, "1.500", "1.5"},
	} {
		if got := fixed(tc.minor, tc.dec); got != tc.fixed {
			t.Errorf("fixed(%d,%d) = %q", tc.minor, tc.dec, got)
		}
		if got := jsNumber(tc.minor, tc.dec); got != tc.js {
			t.Errorf("jsNumber(%d,%d) = %q", tc.minor, tc.dec, got)
		}
		n, _, ok := parseMajor(tc.js, tc.dec)
		if !ok || n != tc.minor {
			t.Errorf("parseMajor(%q,%d) = %d %v", tc.js, tc.dec, n, ok)
		}
	}
	for _, bad := range []string{"1e3", "-1", "1.", ".5", "12,3", "", "1234567890123456"} {
		if _, _, ok := parseMajor(bad, 2); ok {
			t.Errorf("parseMajor accepted %q", bad)
		}
	}
	if _, d, ok := parseMajor("12.345", 2); !ok || d != 3 {
		t.Errorf("parseMajor(12.345) decimals %d %v", d, ok)
	}
}

func attr(n *html.Node, k string) string {
	for _, a := range n.Attr {
		if a.Key == k {
			return a.Val
		}
	}
	return ""
}
