package dashboard

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kassa-pay/kassa/checkout"
	views "github.com/kassa-pay/kassa/views/dashboard"
)

// scopeDescriptions say what each scope allows, in the seed's words where it has them.
var scopeDescriptions = map[checkout.Scope]string{
	checkout.ScopePaymentsCreate:       "Create payments (POST /api/payment/checkout) and cancel them.",
	checkout.ScopePaymentsGet:          "Read payments, their events and webhook deliveries.",
	checkout.ScopePaymentsInstructions: "Get a payment's user instructions for a provider and method.",
	checkout.ScopePaymentsRefund:       "Refund payments.",
	checkout.ScopePaymentLinksManage:   "Create, list and change payment links.",
	checkout.ScopeAll:                  "Every scope above, and any added later.",
}

// tokenForm is the "Create API Access Token" form as posted.
type tokenForm struct {
	Label   string
	Expires string
	Scopes  []checkout.Scope
}

// newToken serves GET /dashboard/apps/:clientId/tokens/new: the seed's "Create API Access
// Token" dialog, as a page so it works without JavaScript.
func (h *Handler) newToken(c *gin.Context) {
	a, err := h.Checkout.App(c.Request.Context(), c.Param("clientId"))
	if err != nil {
		h.fail(c, err)
		return
	}
	h.renderTokenForm(c, http.StatusOK, a, tokenForm{}, nil)
}

func (h *Handler) renderTokenForm(c *gin.Context, status int, a *checkout.App, f tokenForm, errs map[string]string) {
	v := views.TokenFormView{Page: h.page(c, "Create API Access Token", "apps"), AppName: a.Name, AppURL: appURL(a.ClientID),
		Action: appURL(a.ClientID) + "/tokens", Label: f.Label, Expires: f.Expires, Errors: errs,
		Min: h.now().UTC().Format(dateOnly)}
	for _, s := range checkout.Scopes {
		v.Scopes = append(v.Scopes, views.ScopeBox{Name: string(s), Description: scopeDescriptions[s], Checked: slices.Contains(f.Scopes, s)})
	}
	render(c, status, views.TokenFormPage(v))
}

// createToken serves POST /dashboard/apps/:clientId/tokens and shows the token once.
func (h *Handler) createToken(c *gin.Context) {
	ctx := c.Request.Context()
	a, err := h.Checkout.App(ctx, c.Param("clientId"))
	if err != nil {
		h.fail(c, err)
		return
	}
	f := tokenForm{Label: strings.TrimSpace(c.PostForm("label")), Expires: strings.TrimSpace(c.PostForm("expires"))}
	for _, s := range c.PostFormArray("scope") {
		f.Scopes = append(f.Scopes, checkout.Scope(s))
	}
	var exp time.Time
	if f.Expires != "" {
		d, err := time.ParseInLocation(dateOnly, f.Expires, time.UTC)
		if err != nil {
			h.renderTokenForm(c, http.StatusUnprocessableEntity, a, f, map[string]string{"expiresAt": "must be a date such as 2027-01-31"})
			return
		}
		exp = d.AddDate(0, 0, 1) // valid through the end of the day chosen
	}
	secret, t, err := h.Checkout.NewToken(ctx, a.ClientID, f.Scopes, f.Label, exp)
	if fe := fields(err); fe != nil {
		if msg, ok := fe["expiresAt"]; ok && msg == "must be in the future" {
			fe["expiresAt"] = "must be today or later"
		}
		h.renderTokenForm(c, http.StatusUnprocessableEntity, a, f, fe)
		return
	} else if err != nil {
		h.fail(c, err)
		return
	}
	scopes := make([]string, len(t.Scopes))
	for i, s := range t.Scopes {
		scopes[i] = string(s)
	}
	expires := h.fmtExpiry(t.ExpiresAt)
	render(c, http.StatusCreated, views.TokenCreatedPage(views.TokenCreatedView{Page: h.page(c, "Token created", "apps"),
		AppName: a.Name, AppURL: appURL(a.ClientID), Token: secret.Reveal(), Label: orDash(t.Label),
		Scopes: strings.Join(scopes, ", "), Expires: expires}))
}

// appToken finds the application's token named in the URL.
func (h *Handler) appToken(c *gin.Context) (*checkout.App, *checkout.Token, bool) {
	ctx := c.Request.Context()
	a, err := h.Checkout.App(ctx, c.Param("clientId"))
	if err != nil {
		h.fail(c, err)
		return nil, nil, false
	}
	toks, err := h.Checkout.Tokens(ctx, a.ClientID)
	if err != nil {
		h.fail(c, err)
		return nil, nil, false
	}
	for _, t := range toks {
		if t.ID == c.Param("tokenId") {
			return a, &t, true
		}
	}
	h.fail(c, checkout.Errorf(checkout.ENOTFOUND, "This application has no token %q.", c.Param("tokenId")))
	return nil, nil, false
}

// confirmRevokeToken serves GET /dashboard/apps/:clientId/tokens/:tokenId/revoke: the
// confirmation step, a page of its own so it needs no JavaScript.
func (h *Handler) confirmRevokeToken(c *gin.Context) {
	a, t, ok := h.appToken(c)
	if !ok {
		return
	}
	label := t.Label
	if label == "" {
		label = "kct_" + t.ID
	}
	render(c, http.StatusOK, views.ConfirmPage(views.ConfirmView{Page: h.page(c, "Revoke token", "apps"),
		Heading: "Revoke the token " + label + "?",
		Message: "Requests with this token will be refused (401) from now on. This cannot be undone.",
		Action:  appURL(a.ClientID) + "/tokens/" + url.PathEscape(t.ID) + "/revoke", Button: "Revoke",
		CancelURL: appURL(a.ClientID)}))
}

// revokeToken serves POST /dashboard/apps/:clientId/tokens/:tokenId/revoke; without
// confirm=yes it answers with the confirmation page.
func (h *Handler) revokeToken(c *gin.Context) {
	if c.PostForm("confirm") != "yes" {
		h.confirmRevokeToken(c)
		return
	}
	a, t, ok := h.appToken(c)
	if !ok {
		return
	}
	if err := h.Checkout.RevokeToken(c.Request.Context(), t.ID); err != nil {
		h.fail(c, err)
		return
	}
	h.setNotice(c, "Token revoked.")
	seeOther(c, appURL(a.ClientID))
}

// fmtExpiry writes a token's expiry; one made from an expiration date (midnight UTC after the
// day chosen) reads as that day, as the operator chose it.
func (h *Handler) fmtExpiry(t time.Time) string {
	switch u := t.UTC(); {
	case t.IsZero():
		return "Never"
	case u.Hour() == 0 && u.Minute() == 0 && u.Second() == 0 && u.Nanosecond() == 0:
		return "End of " + u.AddDate(0, 0, -1).Format("2 Jan 2006") + " (UTC)"
	default:
		return h.fmtTime(t)
	}
}
