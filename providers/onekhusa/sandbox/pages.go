package sandbox

import (
	"html/template"
	"net/http"
	"net/url"
	"strings"
)

// The pages share one small layout: readable on a 360px phone, no JavaScript, one h1.
const layout = `{{define "top"}}<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · OneKhusa sandbox</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f4f6f8;color:#1b1f24;line-height:1.5}
main{max-width:28rem;margin:0 auto;padding:1rem}
.card{background:#fff;border:1px solid #d0d7de;border-radius:.5rem;padding:1rem;margin:0 0 1rem}
h1{font-size:1.4rem;margin:.5rem 0 1rem}
h2{font-size:1.1rem;margin:0 0 .5rem}
dl{display:grid;grid-template-columns:auto 1fr;gap:.25rem .75rem;margin:0 0 1rem}
dt{color:#57606a}dd{margin:0;word-break:break-all}
.amount{font-size:1.5rem;font-weight:700}
button{display:block;width:100%;font-size:1rem;padding:.8rem;margin:.5rem 0 0;border-radius:.4rem;border:1px solid #8c959f;background:#fff;color:#1b1f24;cursor:pointer}
button[value=pay],button[value=approve]{background:#0a6b3d;border-color:#0a6b3d;color:#fff}
button:focus-visible{outline:3px solid #0969da;outline-offset:2px}
.note{color:#57606a;font-size:.9rem}
[role=status]{font-weight:600}
</style>
</head>
<body><main>{{end}}
{{define "bottom"}}<p class="note"><strong>Test mode</strong>: OneKhusa sandbox, no real money moves.</p></main></body></html>{{end}}`

var pages = template.Must(template.New("pages").Parse(layout + `
{{define "pay"}}{{template "top" .}}
<h1>Pay {{.Merchant}}</h1>
<section class="card" aria-label="Payment summary">
<dl>
<dt>Amount</dt><dd class="amount">MWK {{.Amount}}</dd>
<dt>Merchant reference</dt><dd>{{.Reference}}</dd>
<dt>Description</dt><dd>{{.Description}}</dd>
</dl>
{{if .Open}}
<form method="post" action="{{.Action}}">
<button type="submit" name="action" value="pay">Pay</button>
<button type="submit" name="action" value="decline">Decline</button>
<button type="submit" name="action" value="cancel">Cancel</button>
</form>
{{else}}<p role="status">{{.Message}}</p>{{end}}
</section>
{{template "bottom" .}}{{end}}

{{define "phone"}}{{template "top" .}}
<h1>Simulated phone</h1>
{{with .Message}}<p role="status">{{.}}</p>{{end}}
{{range .Pushes}}
<section class="card" aria-label="Prompt {{.Ref}}">
<h2>{{.Network}} prompt to {{.Payer}}</h2>
<p>Pay <span class="amount">MWK {{.Amount}}</span> to {{.Merchant}}?</p>
<dl>
<dt>Merchant reference</dt><dd>{{.Reference}}</dd>
<dt>Transaction</dt><dd>{{.Ref}}</dd>
</dl>
<form method="post" action="{{$.Action}}">
<input type="hidden" name="ref" value="{{.Ref}}">
<button type="submit" name="action" value="approve">Approve</button>
<button type="submit" name="action" value="decline">Decline</button>
<button type="submit" name="action" value="cancel">Reject prompt</button>
</form>
</section>
{{else}}<p>No pending prompts.</p>{{end}}
{{with .Paid}}<h2>Completed payments</h2>
{{range .}}<section class="card" aria-label="Payment {{.Ref}}">
<p><span class="amount">MWK {{.Amount}}</span> from {{.Payer}}</p>
<dl>
<dt>Merchant reference</dt><dd>{{.Reference}}</dd>
<dt>Transaction</dt><dd>{{.Ref}}</dd>
</dl>
<form method="post" action="{{$.Action}}">
<input type="hidden" name="ref" value="{{.Ref}}">
<button type="submit" name="action" value="reverse">Reverse</button>
</form>
</section>
{{end}}{{end}}
<p><a href="{{.Action}}">Refresh</a></p>
{{template "bottom" .}}{{end}}

{{define "index"}}{{template "top" .}}
<h1>OneKhusa sandbox</h1>
<section class="card">
<p>The API is served under <code>{{.Base}}/v1</code>.</p>
<p><a href="{{.Base}}/phone">Open the simulated phone</a> to answer mobile-money pushes.</p>
</section>
{{template "bottom" .}}{{end}}

{{define "message"}}{{template "top" .}}
<h1>{{.Title}}</h1>
<p role="status">{{.Message}}</p>
{{template "bottom" .}}{{end}}
`))

func render(w http.ResponseWriter, status int, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action *")
	w.WriteHeader(status)
	pages.ExecuteTemplate(w, name, data)
}

func renderMessage(w http.ResponseWriter, status int, title, msg string) {
	render(w, status, "message", map[string]string{"Title": title, "Message": msg})
}

type payView struct {
	Title, Merchant, Amount, Reference, Description, Action, Message string
	Open                                                             bool
}

// payPage serves the hosted checkout page of a transaction.
func (s *Server) payPage(w http.ResponseWriter, r *http.Request) {
	ptid := r.PathValue("ptid")
	s.mu.Lock()
	t := s.byPTID[ptid]
	if t == nil {
		s.mu.Unlock()
		renderMessage(w, http.StatusNotFound, "Checkout not found", "This checkout link is not valid.")
		return
	}
	s.expireIfDue(t)
	v := payView{
		Title: "Pay " + s.cfg.MerchantName, Merchant: s.cfg.MerchantName,
		Amount: string(formatAmount(t.amount)), Reference: t.sourceRef, Description: t.description,
		Action: s.cfg.Prefix + "/pay/" + url.PathEscape(t.ptid), Open: t.status == "P",
	}
	if !v.Open {
		v.Message = "This checkout is closed: " + strings.ToLower(statusNames[t.status]) + "."
	}
	s.mu.Unlock()
	render(w, http.StatusOK, "pay", v)
}

// payPost applies the shopper's choice and sends the browser where OneKhusa would: the success
// URL after a payment, the failure URL otherwise, with the transaction named in the query.
func (s *Server) payPost(w http.ResponseWriter, r *http.Request) {
	ptid := r.PathValue("ptid")
	act := r.PostFormValue("action")
	if act != actPay && act != actDecline && act != actCancel {
		renderMessage(w, http.StatusBadRequest, "Unknown choice", "Choose Pay, Decline or Cancel.")
		return
	}
	s.mu.Lock()
	t := s.byPTID[ptid]
	if t == nil {
		s.mu.Unlock()
		renderMessage(w, http.StatusNotFound, "Checkout not found", "This checkout link is not valid.")
		return
	}
	if err := s.decide(t, act); err != nil && t.status == "P" {
		s.mu.Unlock()
		renderMessage(w, http.StatusBadRequest, "Something went wrong", err.Error())
		return
	}
	// A second submission of a finished checkout goes where the first one went.
	target := t.failureURL
	if t.status == "S" {
		target = t.successURL
	}
	loc := withQuery(target, url.Values{
		"transactionReferenceNumber": {t.ref},
		"sourceReferenceNumber":      {t.sourceRef},
		"transactionStatusCode":      {t.status},
	})
	s.mu.Unlock()
	http.Redirect(w, r, loc, http.StatusSeeOther)
}

// withQuery appends extra to u's query, keeping the URL's own query exactly as it was.
func withQuery(u string, extra url.Values) string {
	frag := ""
	if i := strings.IndexByte(u, '#'); i >= 0 {
		u, frag = u[:i], u[i:]
	}
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
		if strings.HasSuffix(u, "?") || strings.HasSuffix(u, "&") {
			sep = ""
		}
	}
	return u + sep + extra.Encode() + frag
}

type pushView struct {
	Ref, Network, Payer, Amount, Merchant, Reference string
}

// phonePage lists the pending pushes with their answers.
func (s *Server) phonePage(w http.ResponseWriter, r *http.Request) {
	v := struct {
		Title, Message, Action string
		Pushes, Paid           []pushView
	}{Title: "Simulated phone", Action: s.cfg.Prefix + "/phone"}
	switch r.URL.Query().Get("result") {
	case "approve":
		v.Message = "Prompt approved."
	case "decline":
		v.Message = "Payment declined."
	case "cancel":
		v.Message = "Prompt rejected."
	case "reverse":
		v.Message = "Payment reversed."
	}
	s.mu.Lock()
	for _, t := range s.order {
		s.expireIfDue(t)
		if t.kind == kindPush && t.status == "P" {
			v.Pushes = append(v.Pushes, pushView{
				Ref: t.ref, Network: t.connectorName, Payer: t.payer,
				Amount: string(formatAmount(t.amount)), Merchant: s.cfg.MerchantName, Reference: t.sourceRef,
			})
		}
		if t.status == "S" {
			v.Paid = append(v.Paid, pushView{Ref: t.ref, Payer: t.payer, Amount: string(formatAmount(t.amount)), Reference: t.sourceRef})
		}
	}
	s.mu.Unlock()
	render(w, http.StatusOK, "phone", v)
}

// phonePost answers one prompt, then shows the phone again.
func (s *Server) phonePost(w http.ResponseWriter, r *http.Request) {
	ref, act := r.PostFormValue("ref"), r.PostFormValue("action")
	var err error
	switch act {
	case "approve":
		err = s.ApprovePush(ref)
	case "decline":
		err = s.DeclinePush(ref)
	case "cancel":
		err = s.CancelPush(ref)
	case "reverse":
		err = s.ReverseTransaction(ref)
	default:
		renderMessage(w, http.StatusBadRequest, "Unknown choice", "Choose Approve, Decline, Reject prompt or Reverse.")
		return
	}
	if err != nil {
		renderMessage(w, http.StatusConflict, "Prompt not answered", err.Error())
		return
	}
	http.Redirect(w, r, s.cfg.Prefix+"/phone?result="+act, http.StatusSeeOther)
}

func (s *Server) indexPage(w http.ResponseWriter, r *http.Request) {
	render(w, http.StatusOK, "index", map[string]string{"Title": "OneKhusa sandbox", "Base": s.cfg.Prefix})
}
