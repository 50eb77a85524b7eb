package dashboard

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kassa-pay/kassa/checkout"
	"github.com/kassa-pay/kassa/providers/currency"
	"github.com/kassa-pay/kassa/static"
	kviews "github.com/kassa-pay/kassa/views"
	views "github.com/kassa-pay/kassa/views/dashboard"
)

// linkPage is a payment link's page in the dashboard.
func linkPage(id string) string { return "/dashboard/links/" + url.PathEscape(id) }

// publicLinkURL is the link's absolute public URL, the one shoppers open and the QR code holds
// (as handlers.LinkURL writes it; that package imports this one, so it is not called).
func (h *Handler) publicLinkURL(id string) string {
	return strings.TrimSuffix(h.Checkout.URLs.Base, "/") + "/l/" + id
}

// LinksLimit is how many links the list shows, newest first.
const LinksLimit = 200

// linkForm is the create form as posted; amounts are major units as an operator types them.
type linkForm struct {
	App, Name, Description, Amount, Currency, Lines string
	Adjustable                                      bool
	Min, Max, MaxPayments, Expires, SuccessURL      string
}

// links serves GET /dashboard/links: the links with their counters and the create form.
func (h *Handler) links(c *gin.Context) {
	h.renderLinks(c, http.StatusOK, linkForm{Currency: "USD", Min: "1", Max: "10"}, nil, h.takeNotice(c))
}

func (h *Handler) renderLinks(c *gin.Context, status int, f linkForm, errs map[string]string, n views.Notice) {
	ctx := c.Request.Context()
	apps, err := h.Checkout.Apps(ctx)
	if err != nil {
		h.fail(c, err)
		return
	}
	v := views.LinksView{Page: h.page(c, "Payment links", "links"), Notice: n, Errors: errs, Form: views.LinkForm{
		App: f.App, Name: f.Name, Description: f.Description, Amount: f.Amount, Currency: f.Currency, Lines: f.Lines,
		Adjustable: f.Adjustable, Min: f.Min, Max: f.Max, MaxPayments: f.MaxPayments, Expires: f.Expires, SuccessURL: f.SuccessURL,
		MinDate: h.now().UTC().Format(dateOnly)}}
	names := map[string]string{}
	for _, a := range apps {
		v.Apps = append(v.Apps, views.Option{Value: a.ClientID, Label: a.Name})
		names[a.ClientID] = a.Name
	}
	ls, err := h.Checkout.Links(ctx, "", LinksLimit)
	if err != nil {
		h.fail(c, err)
		return
	}
	for _, l := range ls {
		v.Links = append(v.Links, views.LinkRow{URL: linkPage(l.ID), Name: l.Name, App: names[l.ClientID], Price: h.linkPrice(&l),
			State: h.linkState(&l), Created: strconv.FormatInt(l.Counts.Created, 10), Paid: strconv.FormatInt(l.Counts.Paid, 10),
			Collected: collected(l.Counts.Collected), Since: h.fmtTime(l.CreatedAt)})
		if h.Checkout.LinkClosed(&l) == "" {
			v.Active++
		}
	}
	render(c, status, views.LinksPage(v))
}

// linkPrice is the price of one, and the quantity range when the shopper chooses it.
func (h *Handler) linkPrice(l *checkout.Link) string {
	s := checkout.Money{Amount: l.UnitAmount, Currency: l.Currency}.String()
	if l.Adjustable {
		s += fmt.Sprintf(" each, %d to %d", l.QuantityMin, l.QuantityMax)
	}
	return s
}

// linkState says whether the link takes payments, and why not.
func (h *Handler) linkState(l *checkout.Link) string {
	switch h.Checkout.LinkClosed(l) {
	case "":
		return "active"
	case checkout.LinkInactive:
		return "inactive"
	case checkout.LinkExpired:
		return "expired"
	case checkout.LinkUsedUp:
		return "used up"
	default:
		return "sold out for now"
	}
}

func collected(ms []checkout.Money) string {
	if len(ms) == 0 {
		return "—"
	}
	s := make([]string, len(ms))
	for i, m := range ms {
		s[i] = m.String()
	}
	return strings.Join(s, ", ")
}

// createLink serves POST /dashboard/links: a new payment link, then its page.
func (h *Handler) createLink(c *gin.Context) {
	f := linkForm{App: c.PostForm("app"), Name: strings.TrimSpace(c.PostForm("name")), Description: strings.TrimSpace(c.PostForm("description")),
		Amount: strings.TrimSpace(c.PostForm("amount")), Currency: strings.ToUpper(strings.TrimSpace(c.PostForm("currency"))),
		Lines: strings.TrimSpace(c.PostForm("lines")), Adjustable: c.PostForm("adjustable") != "",
		Min: strings.TrimSpace(c.PostForm("min")), Max: strings.TrimSpace(c.PostForm("max")),
		MaxPayments: strings.TrimSpace(c.PostForm("max_payments")), Expires: strings.TrimSpace(c.PostForm("expires")),
		SuccessURL: strings.TrimSpace(c.PostForm("success_url"))}
	n, errs := f.parse()
	// The domain's checks too, so every field's message shows at once; what could not be read
	// keeps its own message.
	if err := h.Checkout.ValidateLink(n); err != nil {
		fe := fields(err)
		if fe == nil {
			h.fail(c, err)
			return
		}
		// Decided against the form's own errors only, not the domain's merged so far: map
		// order would otherwise decide which of the domain's price messages survive.
		parsed := maps.Clone(errs)
		for k, m := range fe {
			price := k == "amount" || strings.HasPrefix(k, "lineItems") || strings.HasPrefix(k, "quantity")
			if _, ok := parsed[k]; ok || (price && (parsed["currencyCode"] != "" || parsed["lineItems"] != "" || parsed["amount"] != "")) {
				continue
			}
			errs[k] = m
		}
	}
	if len(errs) > 0 {
		h.renderLinks(c, http.StatusUnprocessableEntity, f, linkErrors(errs), views.Notice{Kind: "error", Text: "The payment link was not created: see the fields marked below."})
		return
	}
	l, err := h.Checkout.CreateLink(c.Request.Context(), n)
	if fe := fields(err); fe != nil {
		h.renderLinks(c, http.StatusUnprocessableEntity, f, linkErrors(fe), views.Notice{Kind: "error", Text: "The payment link was not created: see the fields marked below."})
		return
	} else if err != nil {
		h.fail(c, err)
		return
	}
	h.setNotice(c, "Payment link "+l.Name+" created.")
	seeOther(c, linkPage(l.ID))
}

// parse turns the form into a link request, with the errors of what cannot be read, keyed
// like the domain's field errors.
func (f linkForm) parse() (checkout.NewLink, map[string]string) {
	errs := map[string]string{}
	n := checkout.NewLink{ClientID: f.App, Name: f.Name, Description: f.Description, Currency: f.Currency, SuccessURL: f.SuccessURL}
	if f.App == "" {
		errs["clientId"] = "is required"
	}
	if !currency.Valid(f.Currency) {
		errs["currencyCode"] = "must be an ISO 4217 currency code such as USD"
	} else {
		if f.Amount != "" {
			a, err := currency.Parse(f.Amount, f.Currency)
			if err != nil || a <= 0 {
				errs["amount"] = "must be a positive amount in " + f.Currency + " such as " + example(f.Currency)
			}
			n.Amount = a
		} else if f.Lines == "" {
			errs["amount"] = "is required, unless you give line items"
		}
		for i, line := range strings.Split(f.Lines, "\n") {
			line = strings.TrimSpace(line)
			if line == "" {
				continue
			}
			li, ok := parseLine(line, f.Currency)
			if !ok {
				errs["lineItems"] = fmt.Sprintf("line %d must read name | quantity | unit price, such as Tea | 2 | %s", i+1, example(f.Currency))
				break
			}
			n.LineItems = append(n.LineItems, li)
		}
	}
	if f.Adjustable {
		lo, err1 := strconv.ParseInt(f.Min, 10, 64)
		hi, err2 := strconv.ParseInt(f.Max, 10, 64)
		if err1 != nil {
			errs["quantity.min"] = "must be a whole number"
		}
		if err2 != nil {
			errs["quantity.max"] = "must be a whole number"
		}
		n.Quantity = &checkout.LinkQuantity{Min: lo, Max: hi}
	}
	if f.MaxPayments != "" {
		m, err := strconv.ParseInt(f.MaxPayments, 10, 64)
		if err != nil || m < 1 {
			errs["maxPayments"] = "must be a whole number of at least 1, or empty for no limit"
		}
		n.MaxPayments = m
	}
	if f.Expires != "" {
		d, err := time.ParseInLocation(dateOnly, f.Expires, time.UTC)
		if err != nil {
			errs["expiresAt"] = "must be a date such as 2027-01-31"
		}
		n.ExpiresAt = d.AddDate(0, 0, 1) // open through the end of the day chosen (UTC)
	}
	return n, errs
}

// parseLine reads "name | quantity | unit price", or "name | unit price" for one.
func parseLine(line, cur string) (checkout.LineItem, bool) {
	parts := strings.Split(line, "|")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	q, price := "1", ""
	switch len(parts) {
	case 2:
		price = parts[1]
	case 3:
		q, price = parts[1], parts[2]
	default:
		return checkout.LineItem{}, false
	}
	qty, err := strconv.ParseInt(q, 10, 64)
	if err != nil {
		return checkout.LineItem{}, false
	}
	unit, err := currency.Parse(price, cur)
	if err != nil {
		return checkout.LineItem{}, false
	}
	return checkout.LineItem{Name: parts[0], Quantity: qty, UnitAmount: unit}, true
}

func example(cur string) string {
	s, err := currency.Format(1250, cur)
	if err != nil {
		return "12.50"
	}
	return s
}

// linkErrors words the domain's errors for the form: minor units become the form's wording,
// and a line item's error is the line items field's.
func linkErrors(errs map[string]string) map[string]string {
	out := map[string]string{}
	for k, m := range errs {
		switch {
		case strings.HasPrefix(k, "lineItems["):
			i, rest, _ := strings.Cut(strings.TrimPrefix(k, "lineItems["), "]")
			n, _ := strconv.Atoi(i)
			out["lineItems"] = fmt.Sprintf("line %d: %s %s", n+1, strings.TrimPrefix(rest, "."), m)
		case k == "amount" && strings.Contains(m, "minor units"):
			out[k] = "must be a positive amount, or give line items"
		case k == "maxPayments":
			out[k] = "must be a whole number of at least 1, or empty for no limit"
		case k == "lineItems":
			if !hasLineError(errs) {
				out[k] = m
			}
		default:
			out[k] = m
		}
	}
	return out
}

// hasLineError reports whether one line item has an error of its own, which says more than
// the total's.
func hasLineError(errs map[string]string) bool {
	for k := range errs {
		if strings.HasPrefix(k, "lineItems[") {
			return true
		}
	}
	return false
}

// editForm is the link page's edit form as posted.
type editForm struct {
	Name, Description, MaxPayments, Expires, SuccessURL string
}

// link serves GET /dashboard/links/:id: the link's URL, QR code, snippets, printable page,
// edit form, Deactivate / Activate, and its payments.
func (h *Handler) link(c *gin.Context) {
	l, err := h.Checkout.Link(c.Request.Context(), c.Param("id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	h.renderLink(c, http.StatusOK, l, h.editFormOf(l), nil, h.takeNotice(c))
}

func (h *Handler) editFormOf(l *checkout.Link) editForm {
	f := editForm{Name: l.Name, Description: l.Description, SuccessURL: l.SuccessURL}
	if l.MaxPayments > 0 {
		f.MaxPayments = strconv.FormatInt(l.MaxPayments, 10)
	}
	if !l.ExpiresAt.IsZero() {
		// Expiry chosen as a day is stored as the midnight after it (UTC): show that day.
		u := l.ExpiresAt.UTC()
		if u.Hour() == 0 && u.Minute() == 0 && u.Second() == 0 && u.Nanosecond() == 0 {
			u = u.AddDate(0, 0, -1)
		}
		f.Expires = u.Format(dateOnly)
	}
	return f
}

func (h *Handler) renderLink(c *gin.Context, status int, l *checkout.Link, f editForm, errs map[string]string, n views.Notice) {
	ctx := c.Request.Context()
	u := h.publicLinkURL(l.ID)
	price := checkout.Money{Amount: l.UnitAmount, Currency: l.Currency}.String()
	v := views.LinkView{Page: h.page(c, "Payment link "+l.Name, "links"), ID: l.ID, Name: l.Name, Description: l.Description,
		URL: u, Price: h.linkPrice(l), State: h.linkState(l), Active: l.Active, Notice: n, Errors: errs,
		QRPNG: "/l/" + url.PathEscape(l.ID) + "/qr.png", QRSVG: "/l/" + url.PathEscape(l.ID) + "/qr.svg",
		PrintURL: linkPage(l.ID) + "/print", Action: linkPage(l.ID), ActiveAction: linkPage(l.ID) + "/active",
		Created: strconv.FormatInt(l.Counts.Created, 10), Paid: strconv.FormatInt(l.Counts.Paid, 10), Collected: collected(l.Counts.Collected),
		Edit: views.LinkEdit{Name: f.Name, Description: f.Description, MaxPayments: f.MaxPayments, Expires: f.Expires, SuccessURL: f.SuccessURL,
			MinDate: h.now().UTC().Format(dateOnly)},
		Facts: []views.Fact{{Label: "Price", Value: h.linkPrice(l)}}}
	embed := kviews.EmbedLink{URL: u, Name: l.Name, Price: price, Adjustable: l.Adjustable, Min: l.QuantityMin, Max: l.QuantityMax}
	if a, err := h.Checkout.App(ctx, l.ClientID); err == nil {
		embed.Accent = a.AccentColor
		v.AppName, v.AppURL = a.Name, appURL(a.ClientID)
	}
	v.ButtonHTML = kviews.EmbedButtonHTML(embed)
	if l.Adjustable {
		v.FormHTML = kviews.EmbedFormHTML(embed)
	}
	for _, li := range l.LineItems {
		v.Facts = append(v.Facts, views.Fact{Label: "Item", Value: fmt.Sprintf("%s × %d, %s", li.Name, li.Quantity,
			checkout.Money{Amount: li.UnitAmount * li.Quantity, Currency: l.Currency})})
	}
	limit := "No limit"
	if l.MaxPayments > 0 {
		limit = fmt.Sprintf("%d paid or being paid", l.MaxPayments)
	}
	expires := "Never"
	if !l.ExpiresAt.IsZero() {
		expires = h.fmtExpiry(l.ExpiresAt)
	}
	success := "Kassa's thank-you page"
	if l.SuccessURL != "" {
		success = l.SuccessURL
	}
	v.Facts = append(v.Facts, views.Fact{Label: "Maximum payments", Value: limit}, views.Fact{Label: "Expires", Value: expires},
		views.Fact{Label: "After paying", Value: success}, views.Fact{Label: "Link id", Value: l.ID},
		views.Fact{Label: "Created", Value: h.fmtTime(l.CreatedAt)})
	ps, err := h.Checkout.LinkPayments(ctx, l.ID, 50)
	if err != nil {
		h.fail(c, err)
		return
	}
	for _, p := range ps {
		v.Payments = append(v.Payments, views.PaymentRow{URL: "/dashboard/payments/" + url.PathEscape(p.ID), Reference: p.Reference,
			Amount: p.Money.String(), Status: string(p.Status), Created: h.fmtTime(p.CreatedAt)})
	}
	render(c, status, views.LinkPage(v))
}

// updateLink serves POST /dashboard/links/:id: the edit form (name, description, maximum
// payments, expiry, success URL; the price cannot change).
func (h *Handler) updateLink(c *gin.Context) {
	ctx := c.Request.Context()
	l, err := h.Checkout.Link(ctx, c.Param("id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	f := editForm{Name: strings.TrimSpace(c.PostForm("name")), Description: strings.TrimSpace(c.PostForm("description")),
		MaxPayments: strings.TrimSpace(c.PostForm("max_payments")), Expires: strings.TrimSpace(c.PostForm("expires")),
		SuccessURL: strings.TrimSpace(c.PostForm("success_url"))}
	errs := map[string]string{}
	patch := checkout.LinkPatch{Name: &f.Name, Description: &f.Description, SuccessURL: &f.SuccessURL}
	var maxp int64
	if f.MaxPayments != "" {
		m, err := strconv.ParseInt(f.MaxPayments, 10, 64)
		if err != nil || m < 1 {
			errs["maxPayments"] = "must be a whole number of at least 1, or empty for no limit"
		}
		maxp = m
	}
	patch.MaxPayments = &maxp
	var exp time.Time
	if f.Expires != "" {
		d, err := time.ParseInLocation(dateOnly, f.Expires, time.UTC)
		if err != nil {
			errs["expiresAt"] = "must be a date such as 2027-01-31"
		}
		exp = d.AddDate(0, 0, 1)
	}
	if f.Expires != h.editFormOf(l).Expires {
		// Only a changed expiry is checked and saved: an expired link can still be renamed.
		patch.ExpiresAt = &exp
	}
	bad := func(errs map[string]string) {
		h.renderLink(c, http.StatusUnprocessableEntity, l, f, linkErrors(errs), views.Notice{Kind: "error", Text: "The changes were not saved: see the fields marked below."})
	}
	if len(errs) > 0 {
		bad(errs)
		return
	}
	if _, err := h.Checkout.UpdateLink(ctx, l.ID, patch); fields(err) != nil {
		fe := fields(err)
		if m, ok := fe["expiresAt"]; ok && m == "must be in the future" {
			fe["expiresAt"] = "must be today or later"
		}
		bad(fe)
		return
	} else if err != nil {
		h.fail(c, err)
		return
	}
	h.setNotice(c, "Changes saved.")
	seeOther(c, linkPage(l.ID))
}

// setLinkActive serves POST /dashboard/links/:id/active: Deactivate (active=no) or Activate
// (active=yes).
func (h *Handler) setLinkActive(c *gin.Context) {
	var on bool
	switch c.PostForm("active") {
	case "yes":
		on = true
	case "no":
	default:
		h.fail(c, checkout.Errorf(checkout.EINVALID, "Choose Activate or Deactivate."))
		return
	}
	l, err := h.Checkout.UpdateLink(c.Request.Context(), c.Param("id"), checkout.LinkPatch{Active: &on})
	if err != nil {
		h.fail(c, err)
		return
	}
	if on {
		h.setNotice(c, "Payment link activated: shoppers can pay through it again.")
	} else {
		h.setNotice(c, "Payment link deactivated: shoppers who open it are told it takes no payments.")
	}
	seeOther(c, linkPage(l.ID))
}

// printLink serves GET /dashboard/links/:id/print: an A6 card (name, price, QR code, short URL)
// that prints cleanly from the browser.
func (h *Handler) printLink(c *gin.Context) {
	l, err := h.Checkout.Link(c.Request.Context(), c.Param("id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	u := h.publicLinkURL(l.ID)
	short := strings.TrimPrefix(strings.TrimPrefix(u, "https://"), "http://")
	p := h.page(c, "Print "+l.Name, "links")
	p.HeadCSS = "/static/link-print.css?v=" + static.Version("link-print.css")
	render(c, http.StatusOK, views.LinkPrintPage(views.LinkPrintView{Page: p, Name: l.Name, Description: l.Description,
		Price: printPrice(l), QR: "/l/" + url.PathEscape(l.ID) + "/qr.svg", URL: u, ShortURL: short, BackURL: linkPage(l.ID)}))
}

// printPrice is the price as a shopper reads it on the card: the price of one, "each" when they
// choose the quantity.
func printPrice(l *checkout.Link) string {
	s := checkout.Money{Amount: l.UnitAmount, Currency: l.Currency}.String()
	if l.Adjustable {
		s += " each"
	}
	return s
}
