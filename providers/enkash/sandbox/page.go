package sandbox

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"time"
)

var page = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · EnKash sandbox</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;padding:1rem;background:#f4f6fb;color:#14213d}
main{max-width:26rem;margin:0 auto;background:#fff;border-radius:.5rem;padding:1.25rem;box-shadow:0 1px 3px #0002}
h1{font-size:1.35rem;margin:0 0 1rem}
dl{display:grid;grid-template-columns:auto 1fr;gap:.4rem 1rem;margin:0 0 1.25rem}
dt{color:#4a5568}dd{margin:0;font-weight:600;overflow-wrap:anywhere}
.amount{font-size:1.5rem}
button{display:block;width:100%;min-height:3rem;margin:.5rem 0;font-size:1.05rem;border-radius:.4rem;border:2px solid #14213d;background:#fff;color:#14213d;cursor:pointer}
button[value=pay]{background:#0b6e4f;border-color:#0b6e4f;color:#fff}
button:focus-visible{outline:3px solid #f4a261;outline-offset:2px}
.note{font-size:.9rem;color:#4a5568}
</style>
</head>
<body>
<main>
<h1>{{.Title}}</h1>
<dl>
<dt>Amount</dt><dd class="amount">₹{{.Amount}} INR</dd>
<dt>Order</dt><dd>{{.OrderID}}</dd>
{{if .Description}}<dt>For</dt><dd>{{.Description}}</dd>{{end}}
</dl>
{{if .Open}}
<form method="post" action="{{.Action}}">
<button type="submit" name="action" value="pay">Pay</button>
<button type="submit" name="action" value="decline">Decline</button>
<button type="submit" name="action" value="cancel">Cancel</button>
</form>
<p class="note"><strong>Test mode</strong>: EnKash sandbox, no money moves. Decline simulates a refusal by the bank.</p>
{{else}}
<p>{{.Message}}</p>
{{end}}
</main>
</body>
</html>
`))

type pageView struct {
	Title, Amount, OrderID, Description, Action, Message string
	Open                                                 bool
}

// payable reports whether the shopper can still act on the order. Caller holds s.mu.
func payable(o *order) bool {
	switch o.Status {
	case orderCreated, orderCheckoutRendered, orderAttempted:
		return true
	}
	return false
}

func closedMessage(status string) string {
	switch status {
	case orderPaid:
		return "This order has been paid."
	case orderCancelled:
		return "This order was cancelled."
	case orderExpired:
		return "This order has expired."
	}
	return "This order can no longer be paid."
}

// checkoutPage serves GET /checkout/{orderId}, the hosted checkout.
func (s *Server) checkoutPage(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	o, ok := s.orders[r.PathValue("orderId")]
	if !ok {
		s.mu.Unlock()
		s.render(w, http.StatusNotFound, pageView{Title: "Order not found", Message: "There is no order at this address."})
		return
	}
	s.expireIfDue(o)
	if o.Status == orderCreated {
		o.Status = orderCheckoutRendered
		o.LastModified = s.cfg.Now()
	}
	v := pageView{Title: "Pay with EnKash", Amount: formatRupees(o.Amount), OrderID: o.OrderID, Description: o.Description,
		Action: s.baseURL(r) + "/checkout/" + url.PathEscape(o.OrderID), Open: payable(o)}
	status := http.StatusOK
	if !v.Open {
		v.Title, v.Message, status = "Order closed", closedMessage(o.Status), http.StatusConflict
	}
	s.mu.Unlock()
	s.render(w, status, v)
}

// checkoutAction serves POST /checkout/{orderId}: the shopper pays, is declined or cancels, and
// is sent back to the order's returnUrl.
func (s *Server) checkoutAction(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	action := r.PostFormValue("action")
	if action != "pay" && action != "decline" && action != "cancel" {
		s.render(w, http.StatusBadRequest, pageView{Title: "Unknown action", Message: "Choose Pay, Decline or Cancel."})
		return
	}
	s.mu.Lock()
	o, ok := s.orders[r.PathValue("orderId")]
	if !ok {
		s.mu.Unlock()
		s.render(w, http.StatusNotFound, pageView{Title: "Order not found", Message: "There is no order at this address."})
		return
	}
	s.expireIfDue(o)
	if !payable(o) {
		v := pageView{Title: "Order closed", Amount: formatRupees(o.Amount), OrderID: o.OrderID, Message: closedMessage(o.Status)}
		s.mu.Unlock()
		s.render(w, http.StatusConflict, v)
		return
	}
	now := s.cfg.Now()
	var p *payment
	var status string
	switch action {
	case "cancel":
		o.Status, status = orderCancelled, paymentCancelled
	default:
		p = &payment{ID: "EK" + randomID(), Order: o, Amount: o.Amount, Created: now, Modified: now,
			UniqueID: randomID(), BankTxnID: "SBX" + randomID(), PaymentMode: "CREDIT_CARD"}
		switch {
		case action == "decline":
			p.Status, p.TxnMsg = paymentFailed, "Transaction declined by the bank (sandbox)."
			o.Status = orderAttempted
		case o.Amount == magicDecline:
			p.Status, p.TxnMsg = paymentFailed, "Card declined by the issuer (sandbox)."
			o.Status = orderAttempted
		default:
			p.Status, p.TxnMsg = paymentSuccess, "Transaction successful (sandbox)."
			o.Status = orderPaid
		}
		status = p.Status
		o.Payments = append(o.Payments, p)
		s.payments[p.ID] = p
	}
	o.LastModified = now
	returnURL, notifyURL := o.ReturnURL, o.NotifyURL
	var notice []byte
	if p != nil && notifyURL != "" {
		notice = s.notification(o, p)
	}
	v := pageView{Title: "Payment " + status, Amount: formatRupees(o.Amount), OrderID: o.OrderID, Message: "You can close this page."}
	s.mu.Unlock()

	if notice != nil {
		s.notify(notifyURL, notice)
	}
	if returnURL == "" {
		s.render(w, http.StatusOK, v)
		return
	}
	back := url.Values{"orderId": {v.OrderID}, "status": {status}}
	if p != nil {
		back.Set("transactionId", p.ID)
	}
	http.Redirect(w, r, appendQuery(returnURL, back), http.StatusSeeOther)
}

// appendQuery adds extra to u's query, keeping u's own query exactly as it was.
func appendQuery(u string, extra url.Values) string {
	parsed, err := url.Parse(u)
	if err != nil {
		return u
	}
	if parsed.RawQuery == "" {
		parsed.RawQuery = extra.Encode()
	} else {
		parsed.RawQuery += "&" + extra.Encode()
	}
	return parsed.String()
}

func (s *Server) render(w http.ResponseWriter, status int, v pageView) {
	var buf bytes.Buffer
	if err := page.Execute(&buf, v); err != nil {
		http.Error(w, "template error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// notifyJSON is the documented Payment Notify Request.
type notifyJSON struct {
	Surcharge           json.RawMessage `json:"surcharge"`
	SurchargeGst        json.RawMessage `json:"surchargeGst"`
	Amount              json.RawMessage `json:"amount"`
	FinalAmount         json.RawMessage `json:"finalAmount"`
	PaymentMode         string          `json:"paymentMode"`
	BankCode            string          `json:"bankCode"`
	BankName            string          `json:"bankName"`
	CardScheme          string          `json:"cardScheme"`
	Currency            string          `json:"currency"`
	Checksum            string          `json:"checksum"`
	Status              string          `json:"status"`
	TransactionID       string          `json:"transactionId"`
	TxnMsg              string          `json:"txnMsg"`
	TxnDate             string          `json:"txnDate"`
	UniqueTransactionID string          `json:"uniqueTransactionId"`
	MaskedCardNumber    string          `json:"maskedCardNumber"`
	CardHolderName      string          `json:"cardHolderName"`
	PaymentToken        string          `json:"paymentToken"`
	BankTransactionID   string          `json:"bankTransactionId"`
	Mdr                 json.RawMessage `json:"mdr"`
	MdrGst              json.RawMessage `json:"mdrGst"`
	TransactionAmount   json.RawMessage `json:"transactionAmount"`
	OrderID             string          `json:"orderId"`
	OrderStatus         string          `json:"orderStatus"`
	TransactionStatus   string          `json:"transactionStatus"`
}

// notification builds the callback body for a payment. Caller holds s.mu. The checksum is a
// placeholder (EnKash's algorithm is undocumented): HMAC-SHA256 keyed by the secret key over
// orderId|transactionId|amount|status, which no client should rely on.
func (s *Server) notification(o *order, p *payment) []byte {
	amount := json.RawMessage(formatRupees(p.Amount))
	zero := json.RawMessage("0.00")
	mac := hmac.New(sha256.New, []byte(s.cfg.Credentials.SecretKey))
	io.WriteString(mac, o.OrderID+"|"+p.ID+"|"+formatRupees(p.Amount)+"|"+p.Status)
	n := notifyJSON{
		Surcharge: zero, SurchargeGst: zero, Amount: amount, FinalAmount: amount, TransactionAmount: amount,
		Mdr: zero, MdrGst: zero,
		PaymentMode: p.PaymentMode, BankCode: "SBXB", BankName: "Sandbox Bank", CardScheme: "VISA", Currency: "INR",
		Checksum: hex.EncodeToString(mac.Sum(nil)), Status: p.Status, TransactionID: p.ID, TxnMsg: p.TxnMsg,
		TxnDate: p.Created.UTC().Format(time.RFC3339), UniqueTransactionID: p.UniqueID,
		MaskedCardNumber: "411111XXXXXX1111", CardHolderName: "Sandbox Shopper", BankTransactionID: p.BankTxnID,
		OrderID: o.OrderID, OrderStatus: o.Status, TransactionStatus: p.Status,
	}
	b, _ := json.Marshal(n)
	return b
}

// notify POSTs body to target in the background, retrying a few times until it answers 2xx.
func (s *Server) notify(target string, body []byte) {
	s.notifies.Add(1)
	go func() {
		defer s.notifies.Done()
		wait := s.cfg.NotifyBackoff
		for attempt := 0; attempt < s.cfg.NotifyAttempts; attempt++ {
			if attempt > 0 {
				t := time.NewTimer(wait)
				select {
				case <-t.C:
				case <-s.notifyCtx.Done():
					t.Stop()
					return
				}
				wait *= 2
			}
			if s.deliver(target, body) {
				return
			}
		}
	}()
}

func (s *Server) deliver(target string, body []byte) bool {
	ctx, cancel := context.WithTimeout(s.notifyCtx, s.cfg.NotifyTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return true // a URL that cannot be requested will not get better
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.cfg.NotifyClient.Do(req)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode < 300
}
