package sandbox

import (
	"html/template"
	"net/http"
	"net/url"
	"strings"
)

// The hosted pay page: what KS Pay's checkout (Razorpay, PayPal, PayU behind it) would show the
// shopper, reduced to three buttons. No JavaScript; one form; readable on a 360px phone.
var pageTmpl = template.Must(template.New("pay").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} – KS Pay sandbox</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;padding:1rem;background:#f3f4f6;color:#111827;line-height:1.5}
main{max-width:28rem;margin:0 auto;background:#fff;border-radius:.5rem;padding:1.25rem;box-shadow:0 1px 3px rgba(0,0,0,.2)}
h1{font-size:1.375rem;margin:0 0 1rem}
dl{display:grid;grid-template-columns:auto 1fr;gap:.25rem 1rem;margin:0 0 1.25rem}
dt{color:#4b5563}
dd{margin:0;font-weight:600;overflow-wrap:anywhere}
.actions{display:flex;flex-direction:column;gap:.75rem}
button{font:inherit;font-size:1.0625rem;min-height:48px;padding:.75rem 1rem;border-radius:.375rem;border:2px solid #1d4ed8;cursor:pointer}
button[value=pay]{background:#1d4ed8;color:#fff}
button[value=decline],button[value=cancel]{background:#fff;color:#1d4ed8}
button:focus-visible,a:focus-visible{outline:3px solid #b45309;outline-offset:2px}
a{color:#1d4ed8}
.note{font-size:.875rem;color:#4b5563;margin:1rem 0 0}
</style>
</head>
<body>
<main>
<h1>{{.Title}}</h1>
{{if .TxnID}}<dl>
<dt>Amount</dt><dd>{{.Amount}} {{.Currency}}</dd>
<dt>Merchant reference</dt><dd>{{.Reference}}</dd>
<dt>Payment method</dt><dd>{{.Method}}</dd>
<dt>KS Pay transaction</dt><dd>{{.TxnID}}</dd>
</dl>{{end}}
{{if .Open}}
<form method="post" action="{{.Action}}">
<div class="actions">
<button type="submit" name="action" value="pay">Pay</button>
<button type="submit" name="action" value="decline">Decline</button>
<button type="submit" name="action" value="cancel">Cancel</button>
</div>
</form>
<p class="note"><strong>Test mode</strong>: KS Pay sandbox, no money moves. Decline simulates a payment the bank refuses.</p>
{{else}}
<p role="status">This payment is {{.StatusText}}.</p>
{{if .Back}}<p><a href="{{.Back}}">Return to the merchant</a></p>{{end}}
{{end}}
</main>
</body>
</html>
`))

type pageView struct {
	Title, Amount, Currency, Reference, Method, TxnID string
	Open                                              bool
	Action, StatusText, Back                          string
}

var statusText = map[string]string{
	statusSuccess:   "paid",
	statusFailed:    "declined",
	statusCancelled: "cancelled",
	statusExpired:   "expired",
}

// paymentStatus is the redirect's payment_status for a final transaction status.
var paymentStatus = map[string]string{
	statusSuccess:   "success",
	statusFailed:    "failed",
	statusCancelled: "cancelled",
	statusExpired:   "failed",
}

// payPage is GET /pay/checkout/{txnId}.
func (s *Server) payPage(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	t := s.txns[r.PathValue("txnId")]
	if t == nil {
		s.mu.Unlock()
		s.notFoundPage(w)
		return
	}
	s.settle(t)
	v := pageView{
		Title:     "Pay " + fixed(t.Amount, t.Currency.Decimals) + " " + t.Currency.Code,
		Amount:    fixed(t.Amount, t.Currency.Decimals),
		Currency:  t.Currency.Code,
		Reference: t.ReferenceNumber,
		Method:    t.Method.Name,
		TxnID:     t.ID,
		Open:      t.Status == statusPending,
		Action:    s.absURL(r, payPath+t.ID),
	}
	if !v.Open {
		v.Title = "Payment " + statusText[t.Status]
		v.StatusText = statusText[t.Status]
		v.Back = back(t)
	}
	s.mu.Unlock()
	render(w, http.StatusOK, v)
}

// paySubmit is POST /pay/checkout/{txnId}: it records the shopper's choice and sends the browser
// to the redirectUrl with payment_status, kspay_id and provider_payment_id. A transaction that
// is no longer pending is not changed; the browser is sent back with its recorded outcome.
func (s *Server) paySubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	action := r.PostFormValue("action")
	s.mu.Lock()
	t := s.txns[r.PathValue("txnId")]
	if t == nil {
		s.mu.Unlock()
		s.notFoundPage(w)
		return
	}
	s.settle(t)
	if t.Status == statusPending {
		now := s.cfg.Now()
		switch action {
		case "pay":
			t.ProviderTxnID = randID("pay_", 14)
			if t.magic(magicDecline) {
				t.Status, t.ProviderStatus = statusFailed, "FAILED"
			} else {
				t.Status, t.ProviderStatus, t.IsPaid = statusSuccess, "CAPTURED", true
			}
		case "decline":
			t.ProviderTxnID = randID("pay_", 14)
			t.Status, t.ProviderStatus = statusFailed, "FAILED"
		case "cancel":
			t.Status, t.ProviderStatus = statusCancelled, "CANCELLED"
		default:
			s.mu.Unlock()
			http.Error(w, "action must be pay, decline or cancel", http.StatusBadRequest)
			return
		}
		t.Updated = now
	}
	to := back(t)
	s.mu.Unlock()
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// back is the transaction's redirectUrl with KS Pay's parameters appended after its own query.
// Callers hold s.mu.
func back(t *txn) string {
	u, err := url.Parse(t.RedirectURL)
	if err != nil {
		return ""
	}
	add := url.Values{}
	add.Set("payment_status", paymentStatus[t.Status])
	add.Set("kspay_id", t.ID)
	if t.ProviderTxnID != "" {
		add.Set("provider_payment_id", t.ProviderTxnID)
	}
	if u.RawQuery != "" && !strings.HasSuffix(u.RawQuery, "&") {
		u.RawQuery += "&"
	}
	u.RawQuery += add.Encode()
	return u.String()
}

func (s *Server) notFoundPage(w http.ResponseWriter) {
	render(w, http.StatusNotFound, pageView{Title: "Payment not found", StatusText: "unknown to KS Pay"})
}

func render(w http.ResponseWriter, status int, v pageView) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	pageTmpl.Execute(w, v)
}
