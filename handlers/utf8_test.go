package handlers_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/kassa-pay/kassa/db/dbtest"
)

// TestInvalidUTF8NeverA500: bytes that are not UTF-8 (or a NUL) in a path, a query, a form, an
// Idempotency-Key or a bearer token are bad input. PostgreSQL refuses such text in any
// statement, so without a check they reached the database and answered 500; they must be
// answered 4xx on either database and change nothing.
func TestInvalidUTF8NeverA500(t *testing.T) {
	for name, dbURL := range map[string]string{"sqlite": "", "postgres": dbtest.NewDatabase(t)} {
		t.Run(name, func(t *testing.T) {
			var e *env
			if dbURL == "" {
				e = newEnv(t)
			} else {
				e = newEnvOn(t, false, dbURL)
			}
			do := func(method, path, body string, hdr ...string) int {
				t.Helper()
				req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				for i := 0; i+1 < len(hdr); i += 2 {
					req.Header.Set(hdr[i], hdr[i+1])
				}
				resp, err := e.client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			bearer := "Bearer " + e.token
			cases := []struct {
				name, method, path, body string
				hdr                      []string
			}{
				{"checkout page", "GET", "/checkout/pay_%FF", "", nil},
				{"return", "GET", "/checkout/pay_%FF/return/att_%FE", "", nil},
				{"link page", "GET", "/l/plink_%FF", "", nil},
				{"NUL in a path", "GET", "/checkout/pay_%00", "", nil},
				{"NUL in a link path", "GET", "/l/plink_%00", "", nil},
				{"NUL in an API path", "GET", "/api/payment/pay_%00", "", []string{"Authorization", bearer}},
				{"NUL in a form", "POST", "/oauth/token", "grant_type=client_credentials&client_id=a%00&client_secret=x",
					[]string{"Content-Type", "application/x-www-form-urlencoded"}},
				{"link QR", "GET", "/l/plink_%FF/qr.svg", "", nil},
				{"payment API", "GET", "/api/payment/pay_%FF", "", []string{"Authorization", bearer}},
				{"refunds API", "POST", "/api/payment/pay_%FF/refunds", "{}", []string{"Authorization", bearer, "Content-Type", "application/json"}},
				{"idempotency key", "POST", "/api/payment/checkout", e.createBody("1000"),
					[]string{"Authorization", bearer, "Content-Type", "application/json", "Idempotency-Key", "key-\xff"}},
				{"client token", "GET", "/api/payment/pay_x", "", []string{"Authorization", "Bearer kct_\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff_secret"}},
				{"links query", "GET", "/api/payment-links?clientId=%FF", "", []string{"Authorization", bearer}},
				{"oauth form", "POST", "/oauth/token", "grant_type=client_credentials&client_id=%FF&client_secret=x",
					[]string{"Content-Type", "application/x-www-form-urlencoded"}},
			}
			dash := "Bearer " + e.dashboardToken(t)
			cases = append(cases, struct {
				name, method, path, body string
				hdr                      []string
			}{"NUL in a JSON clientId", "POST", "/api/payment-links", `{"clientId": "x\u0000", "name": "Tea", "amount": 100, "currencyCode": "USD"}`,
				[]string{"Authorization", dash, "Content-Type", "application/json"}})
			cases = append(cases, struct {
				name, method, path, body string
				hdr                      []string
			}{"basic auth", "POST", "/oauth/token", "grant_type=client_credentials",
				[]string{"Content-Type", "application/x-www-form-urlencoded", "Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("ops\xff:secret"))}})
			for _, tc := range cases {
				if got := do(tc.method, tc.path, tc.body, tc.hdr...); got >= 500 || got < 400 {
					t.Errorf("%s: %s %s answered %d, want a 4xx", tc.name, tc.method, tc.path, got)
				}
			}
			if n, _ := e.store.CountPayments(t.Context()); n != 0 {
				t.Errorf("%d payments created by bad input", n)
			}
		})
	}
}
