package sandbox

import (
	"bytes"
	"crypto/subtle"
	"html/template"
	"net/http"
	"net/url"
)

// page is the hosted pay page: one heading, the amount and the merchant's reference, and one
// form with the three buttons. It needs no JavaScript and fits a 360px screen.
var page = template.Must(template.New("pay").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · Onecheckout sandbox</title>
<style>
body{margin:0;padding:1rem;font:1.0625rem/1.5 system-ui,sans-serif;background:#eef1f5;color:#16202c}
main{max-width:26rem;margin:0 auto;background:#fff;border-radius:.75rem;padding:1.25rem;box-shadow:0 1px 3px #0002}
h1{font-size:1.35rem;margin:0 0 .75rem}
.note{background:#fff6d6;border-radius:.375rem;padding:.5rem .75rem;font-size:.9rem}
dl{display:grid;grid-template-columns:auto 1fr;gap:.25rem 1rem;margin:1rem 0}
dt{color:#4a5668}dd{margin:0;font-weight:600;overflow-wrap:anywhere}
.total{font-size:1.5rem}
button{display:block;width:100%;min-height:3rem;margin-top:.75rem;border-radius:.5rem;font:inherit;font-weight:600;cursor:pointer;border:2px solid #1d4ed8}
button[value=pay]{background:#1d4ed8;color:#fff}
button[value=decline],button[value=cancel]{background:#fff;color:#1d4ed8}
button:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}
</style>
</head>
<body>
<main>
<h1>{{.Title}}</h1>
<p class="note"><strong>Test mode</strong>: Onecheckout sandbox, no real money moves.</p>
<dl>
<dt>Amount</dt><dd class="total">{{.Amount}} {{.Currency}}</dd>
{{with .Reference}}<dt>Merchant reference</dt><dd>{{.}}</dd>{{end}}
<dt>Order</dt><dd>{{.Name}}</dd>
<dt>Status</dt><dd>{{.Status}}</dd>
</dl>
{{if .Open}}<form method="post" action="{{.Action}}">
<input type="hidden" name="token" value="{{.Token}}">
<button type="submit" name="action" value="pay">Pay</button>
<button type="submit" name="action" value="decline">Decline</button>
<button type="submit" name="action" value="cancel">Cancel</button>
</form>{{else}}<p>This order can no longer be paid.</p>{{end}}
</main>
</body>
</html>
`))

var message = template.Must(template.New("message").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.}} · Onecheckout sandbox</title>
<style>body{margin:0;padding:1rem;font:1.0625rem/1.5 system-ui,sans-serif}main{max-width:26rem;margin:0 auto}</style>
</head>
<body><main><h1>{{.}}</h1><p>You can close this window.</p><p><strong>Test mode</strong>: Onecheckout sandbox, no real money moves.</p></main></body>
</html>
`))

type pageView struct {
	Title, Amount, Currency, Reference, Name, Status, Action, Token string
	Open                                                            bool
}

func render(w http.ResponseWriter, status int, t *template.Template, v any) {
	var buf bytes.Buffer
	if err := t.Execute(&buf, v); err != nil {
		http.Error(w, "template error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// orderForToken returns the order when token opens it; the caller holds s.mu.
func (s *Server) orderForToken(id, token string) *order {
	o := s.orders[id]
	if o == nil || subtle.ConstantTimeCompare([]byte(o.Token), []byte(token)) != 1 {
		return nil
	}
	return o
}

func (s *Server) payPage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	s.mu.Lock()
	o := s.orderForToken(r.PathValue("id"), token)
	var v pageView
	if o != nil {
		v = pageView{
			Title:     "Pay " + displayAmount(o.AmountMinor, o.Exp) + " " + o.Currency,
			Amount:    displayAmount(o.AmountMinor, o.Exp),
			Currency:  o.Currency,
			Reference: o.ReferenceID,
			Name:      "Order #" + o.ID,
			Status:    o.Status,
			Action:    s.cfg.Prefix + "/pay/" + url.PathEscape(o.ID),
			Token:     token,
			Open:      o.Status == statusOpen,
		}
	}
	s.mu.Unlock()
	if o == nil {
		render(w, http.StatusNotFound, message, "This payment link is not valid")
		return
	}
	render(w, http.StatusOK, page, v)
}

// paySubmit applies the shopper's choice and sends the browser where Onecheckout would: the
// success_url after Pay, the cancel_url after Decline or Cancel, each with payment_id and
// reference_id appended.
func (s *Server) paySubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		render(w, http.StatusBadRequest, message, "The form could not be read")
		return
	}
	token := r.PostForm.Get("token")
	if token == "" {
		token = r.URL.Query().Get("token")
	}
	action := r.PostForm.Get("action")
	if action != "pay" && action != "decline" && action != "cancel" {
		render(w, http.StatusBadRequest, message, "Unknown action")
		return
	}

	s.mu.Lock()
	o := s.orderForToken(r.PathValue("id"), token)
	if o == nil {
		s.mu.Unlock()
		render(w, http.StatusNotFound, message, "This payment link is not valid")
		return
	}
	success := true
	switch {
	case o.Status != statusOpen:
		// A second submit (back button, double click) changes nothing and goes where the
		// first one went.
		success = o.Status != statusCancelled
	case action == "pay" && isMagic(o.AmountMinor, o.Exp, magicDecline):
		s.addEvent(o, "payment_failed", "FAILED", "card_declined")
		success = false
	case action == "pay":
		o.PaymentMethod, o.PaymentGateway, o.GatewayID = "stripe_hosted", "STRIPE", "gw_stripe_sandbox"
		o.PaymentID = "pi_" + randomHex(12)
		if o.ManualCapture {
			o.PaymentMethod, o.PaymentGateway, o.GatewayID = "paypal", "PAYPAL", "gw_paypal_sandbox"
			o.PaymentID = "PAYID-" + randomHex(8)
		}
		o.Updated = s.nowMS()
		if o.ManualCapture || isMagic(o.AmountMinor, o.Exp, magicAuthorizeOnly) {
			o.Status = statusAwaitingCapture
			s.addEvent(o, "payment_authorized", "AUTHORIZED", "")
		} else {
			o.Status = statusPaid
			o.Paid = o.Updated
			s.addEvent(o, "payment_succeeded", "COMPLETED", "")
		}
	case action == "decline":
		s.addEvent(o, "payment_failed", "FAILED", "payment_declined")
		success = false
	default: // cancel
		o.Status = statusCancelled
		o.Updated = s.nowMS()
		s.addEvent(o, "payment_cancelled", "CANCELLED", "cancelled_by_customer")
		success = false
	}
	target := o.CancelURL
	if success {
		target = o.SuccessURL
	}
	if target != "" {
		target = o.returnURL(target)
	}
	s.mu.Unlock()

	if target == "" {
		title := "Payment not completed"
		if success {
			title = "Payment complete"
		}
		render(w, http.StatusOK, message, title)
		return
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}
