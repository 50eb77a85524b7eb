package dashboard

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kassa-pay/kassa/checkout"
	"github.com/kassa-pay/kassa/providers"
	views "github.com/kassa-pay/kassa/views/dashboard"
)

var paymentStatuses = []string{string(checkout.PaymentOpen), string(checkout.PaymentPaid), string(checkout.PaymentExpired),
	string(checkout.PaymentCancelled), string(checkout.PaymentPartiallyRefunded), string(checkout.PaymentRefunded)}

// paymentFilters are the list's filters as they appear in its URL, so a filtered page can be
// bookmarked, paged and exported.
type paymentFilters struct {
	Status, App, From, To, Search, Anchor string
}

func readPaymentFilters(c *gin.Context) paymentFilters {
	return paymentFilters{Status: c.Query("status"), App: c.Query("app"), From: c.Query("from"), To: c.Query("to"),
		Search: strings.TrimSpace(c.Query("q")), Anchor: c.Query("anchor")}
}

func (f paymentFilters) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"status": f.Status, "app": f.App, "from": f.From, "to": f.To, "q": f.Search, "anchor": f.Anchor} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v
}

func (f paymentFilters) url(path string) string {
	if q := f.values().Encode(); q != "" {
		return path + "?" + q
	}
	return path
}

// query turns the filters into a domain query; dates are whole days in loc, "to" inclusive.
func (f paymentFilters) query(loc *time.Location, limit int) (checkout.PaymentQuery, map[string]string) {
	errs := map[string]string{}
	q := checkout.PaymentQuery{ClientID: f.App, Search: f.Search, Anchor: f.Anchor, Limit: limit}
	if f.Status != "" && !slices.Contains(paymentStatuses, f.Status) {
		errs["status"] = "is not a payment status"
	} else {
		q.Status = f.Status
	}
	if f.From != "" {
		d, err := time.ParseInLocation(dateOnly, f.From, loc)
		if err != nil {
			errs["from"] = "must be a date such as 2027-01-31"
		}
		q.CreatedFrom = d
	}
	if f.To != "" {
		d, err := time.ParseInLocation(dateOnly, f.To, loc)
		if err != nil {
			errs["to"] = "must be a date such as 2027-01-31"
		} else {
			q.CreatedTo = d.AddDate(0, 0, 1)
		}
	}
	return q, errs
}

// PageSize is how many payments a page of the list shows.
const PageSize = 25

// payments serves GET /dashboard/payments: newest first, filtered, paged by anchor.
func (h *Handler) payments(c *gin.Context) {
	ctx := c.Request.Context()
	f := readPaymentFilters(c)
	v := views.PaymentsView{Page: h.page(c, "Payments", "payments"), Status: f.Status, App: f.App, From: f.From, To: f.To,
		Search: f.Search, Statuses: paymentStatuses}
	apps, err := h.Checkout.Apps(ctx)
	if err != nil {
		h.fail(c, err)
		return
	}
	names := map[string]string{}
	for _, a := range apps {
		v.Apps = append(v.Apps, views.Option{Value: a.ClientID, Label: a.Name})
		names[a.ClientID] = a.Name
	}
	q, errs := f.query(h.loc(), PageSize)
	if len(errs) > 0 {
		v.Errors = errs
		render(c, http.StatusUnprocessableEntity, views.PaymentsPage(v))
		return
	}
	pg, err := h.Checkout.ListPayments(ctx, q)
	if fe := fields(err); fe != nil {
		v.Errors = fe
		render(c, http.StatusUnprocessableEntity, views.PaymentsPage(v))
		return
	} else if err != nil {
		h.fail(c, err)
		return
	}
	v.Count = pg.Count
	for _, p := range pg.Payments {
		row := views.PaymentRow{URL: "/dashboard/payments/" + url.PathEscape(p.ID), Reference: p.Reference, Amount: p.Money.String(),
			Status: string(p.Status), App: names[p.ClientID], Created: h.fmtTime(p.CreatedAt), Provider: "—"}
		// The list query leaves attempts out; a page is small enough to read them per row.
		if full, err := h.Checkout.Payment(ctx, p.ID); err == nil {
			if a, ok := paidOrLatest(full); ok {
				row.Provider = h.providerName(a.Provider)
			}
			row.Flagged = full.NeedsReview()
		}
		v.Rows = append(v.Rows, row)
	}
	if pg.NextAnchor != "" {
		next := f
		next.Anchor = pg.NextAnchor
		v.NextURL = next.url("/dashboard/payments")
	}
	if f.Anchor != "" {
		first := f
		first.Anchor = ""
		v.FirstURL = first.url("/dashboard/payments")
	}
	export := f
	export.Anchor = ""
	v.CSVURL = export.url("/dashboard/payments.csv")
	render(c, http.StatusOK, views.PaymentsPage(v))
}

// paidOrLatest is the attempt that paid, else the newest.
func paidOrLatest(p *checkout.Payment) (checkout.Attempt, bool) {
	for _, a := range p.Attempts {
		if a.Status == checkout.AttemptPaid {
			return a, true
		}
	}
	return p.LatestAttempt()
}

// providerName is the provider's display name, or its id when it is not configured now.
func (h *Handler) providerName(id providers.ID) string {
	if h.Checkout.Providers != nil {
		if pr, ok := h.Checkout.Providers.Get(id); ok {
			return pr.Name()
		}
	}
	return string(id)
}

// paymentsCSV serves GET /dashboard/payments.csv: every payment matching the filters.
func (h *Handler) paymentsCSV(c *gin.Context) {
	ctx := c.Request.Context()
	f := readPaymentFilters(c)
	f.Anchor = ""
	q, errs := f.query(h.loc(), checkout.MaxPageSize)
	if len(errs) > 0 {
		for k, m := range errs {
			c.String(http.StatusUnprocessableEntity, "%s %s\n", k, m)
			return
		}
	}
	c.Header("Content-Type", "text/csv; charset=utf-8")
	c.Header("Content-Disposition", `attachment; filename="payments-`+h.now().UTC().Format("20060102-150405")+`.csv"`)
	w := csv.NewWriter(c.Writer)
	started := false
	for {
		pg, err := h.Checkout.ListPayments(ctx, q)
		if err != nil {
			if !started {
				c.Header("Content-Type", "text/plain; charset=utf-8")
				c.Header("Content-Disposition", "")
				c.String(http.StatusUnprocessableEntity, "%s\n", checkout.ErrorMessage(err))
				return
			}
			h.log().ErrorContext(ctx, "csv export cut short", "err", err)
			return
		}
		if !started {
			c.Status(http.StatusOK)
			w.Write([]string{"id", "reference", "reference_label", "amount", "amount_minor", "currency", "status", "client_id", "created_at", "paid_at"})
			started = true
		}
		for _, p := range pg.Payments {
			paid := ""
			if !p.PaidAt.IsZero() {
				paid = p.PaidAt.UTC().Format(time.RFC3339)
			}
			w.Write([]string{p.ID, cell(p.Reference), cell(p.ReferenceLabel), strings.TrimPrefix(p.Money.String(), p.Currency+" "),
				strconv.FormatInt(p.Amount, 10), p.Currency, string(p.Status), p.ClientID, p.CreatedAt.UTC().Format(time.RFC3339), paid})
		}
		w.Flush()
		if pg.NextAnchor == "" {
			return
		}
		q.Anchor = pg.NextAnchor
	}
}

// cell defuses text a spreadsheet would run as a formula (CSV injection).
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// payment serves GET /dashboard/payments/:id: summary, line items, customer, metadata,
// attempts and the timeline of its events.
func (h *Handler) payment(c *gin.Context) {
	ctx := c.Request.Context()
	p, err := h.Checkout.Payment(ctx, c.Param("id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	h.renderPayment(c, http.StatusOK, p, nil, nil, h.takeNotice(c))
}

// renderPayment draws a payment's page; f is the refund form as typed when it is re-rendered
// with its errors, and n the notice above the page.
func (h *Handler) renderPayment(c *gin.Context, status int, p *checkout.Payment, f *refundForm, errs map[string]string, n views.Notice) {
	ctx := c.Request.Context()
	evs, err := h.Checkout.Events(ctx, p.ID)
	if err != nil {
		h.fail(c, err)
		return
	}
	v := views.PaymentView{Page: h.page(c, "Payment "+p.Reference, "payments"), ID: p.ID, Reference: p.Reference,
		Label: p.ReferenceLabel, Amount: p.Money.String(), Status: string(p.Status), AppURL: appURL(p.ClientID), App: p.ClientID,
		Created: h.fmtTime(p.CreatedAt), Expires: h.fmtTime(p.ExpiresAt), Paid: h.fmtTime(p.PaidAt),
		Checkout: "/checkout/" + url.PathEscape(p.ID), Notice: n}
	if p.LinkID != "" {
		v.LinkURL = linkPage(p.LinkID)
		v.LinkName = p.LinkID
		if l, err := h.Checkout.Link(ctx, p.LinkID); err == nil {
			v.LinkName = l.Name
		}
	}
	h.refundsView(&v, p, f, errs)
	if a, err := h.Checkout.App(ctx, p.ClientID); err == nil {
		v.App = a.Name
	}
	for _, l := range p.LineItems {
		v.Lines = append(v.Lines, views.LineRow{Name: l.Name, Quantity: strconv.FormatInt(l.Quantity, 10),
			Unit:  checkout.Money{Amount: l.UnitAmount, Currency: p.Currency}.String(),
			Total: checkout.Money{Amount: l.UnitAmount * l.Quantity, Currency: p.Currency}.String()})
	}
	for _, f := range [][2]string{{"Name", p.Customer.Name}, {"Email", p.Customer.Email}, {"Phone", p.Customer.Phone}} {
		if f[1] != "" {
			v.Customer = append(v.Customer, views.Fact{Label: f[0], Value: f[1]})
		}
	}
	keys := make([]string, 0, len(p.Metadata))
	for k := range p.Metadata {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v.Metadata = append(v.Metadata, views.Fact{Label: k, Value: p.Metadata[k]})
	}
	for _, a := range p.Attempts {
		v.Attempts = append(v.Attempts, views.AttemptRow{ID: a.ID, Provider: h.providerName(a.Provider), Method: orDash(a.Method),
			Status: string(a.Status), ProviderRef: orDash(a.ProviderRef), Error: a.Error, Created: h.fmtTime(a.CreatedAt),
			Updated: h.fmtTime(a.UpdatedAt)})
	}
	if p.NeedsReview() != "" {
		v.Flagged = p.NeedsReview() + ": refund one of the paid attempts"
	}
	for _, e := range evs {
		if e.Type == checkout.EventAttemptPaidTwice {
			v.Flagged = "paid twice: refund one of the paid attempts"
		}
		v.Timeline = append(v.Timeline, views.EventRow{Time: h.fmtTime(e.CreatedAt), ISO: e.CreatedAt.UTC().Format(time.RFC3339Nano),
			Type: e.Type, Attempt: e.AttemptID, Data: eventData(e.Data)})
	}
	ds, err := h.Checkout.WebhookDeliveries(ctx, p.ID)
	if err != nil {
		h.fail(c, err)
		return
	}
	v.Deliveries = h.deliveryRows(ds, "/dashboard/payments/"+url.PathEscape(p.ID))
	render(c, status, views.PaymentPage(v))
}

// eventData lists an event's data as label and text, keys sorted.
func eventData(d map[string]any) []views.Fact {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var out []views.Fact
	for _, k := range keys {
		var s string
		switch x := d[k].(type) {
		case string:
			s = x
		case nil:
			s = "null"
		default:
			b, err := json.Marshal(x)
			if err != nil {
				s = fmt.Sprint(x)
			} else {
				s = string(b)
			}
		}
		out = append(out, views.Fact{Label: k, Value: s})
	}
	return out
}
