package dashboard

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kassa-pay/kassa/checkout"
	views "github.com/kassa-pay/kassa/views/dashboard"
)

func appURL(clientID string) string { return "/dashboard/apps/" + url.PathEscape(clientID) }

// apps serves GET /dashboard/apps.
func (h *Handler) apps(c *gin.Context) {
	h.renderApps(c, http.StatusOK, views.AppsView{})
}

func (h *Handler) renderApps(c *gin.Context, status int, v views.AppsView) {
	apps, err := h.Checkout.Apps(c.Request.Context())
	if err != nil {
		h.fail(c, err)
		return
	}
	v.Page = h.page(c, "Applications", "apps")
	for _, a := range apps {
		v.Apps = append(v.Apps, views.AppRow{Name: a.Name, URL: appURL(a.ClientID), ClientID: a.ClientID, Created: h.fmtTime(a.CreatedAt)})
	}
	render(c, status, views.AppsPage(v))
}

// createApp serves POST /dashboard/apps. The answer shows the webhook secret, once; it is not
// a redirect because the secret is not kept anywhere it could be shown from again.
func (h *Handler) createApp(c *gin.Context) {
	name, hook := c.PostForm("name"), strings.TrimSpace(c.PostForm("webhook_url"))
	a, err := h.Checkout.CreateApp(c.Request.Context(), checkout.AppPatch{Name: &name, WebhookURL: &hook})
	if fe := fields(err); fe != nil {
		h.renderApps(c, http.StatusUnprocessableEntity, views.AppsView{Name: name, WebhookURL: hook, Errors: fe})
		return
	} else if err != nil {
		h.fail(c, err)
		return
	}
	render(c, http.StatusCreated, views.SecretPage(views.SecretView{
		Page:        h.page(c, "Application created", "apps"),
		Heading:     "Application " + a.Name + " created",
		Intro:       "Kassa signs every webhook it sends this application with this secret; your receiver checks the signature with it.",
		Facts:       []views.Fact{{Label: "Client ID", Value: a.ClientID}},
		SecretLabel: "Webhook secret", Secret: a.WebhookSecret.Reveal(),
		NextURL: appURL(a.ClientID), NextText: "Go to " + a.Name,
	}))
}

// app serves GET /dashboard/apps/:clientId.
func (h *Handler) app(c *gin.Context) {
	a, err := h.Checkout.App(c.Request.Context(), c.Param("clientId"))
	if err != nil {
		h.fail(c, err)
		return
	}
	h.renderApp(c, http.StatusOK, a, a, nil, h.takeNotice(c))
}

// renderApp draws the application page with shown as the form's values (a differs from shown
// when a form failed or is previewed).
func (h *Handler) renderApp(c *gin.Context, status int, a, shown *checkout.App, errs map[string]string, n views.Notice) {
	toks, err := h.Checkout.Tokens(c.Request.Context(), a.ClientID)
	if err != nil {
		h.fail(c, err)
		return
	}
	v := views.AppView{Page: h.page(c, a.Name, "apps"), Name: a.Name, ClientID: a.ClientID, Created: h.fmtTime(a.CreatedAt),
		Notice: n, DisplayName: shown.DisplayName, LogoURL: shown.LogoURL, AccentColor: shown.AccentColor,
		DefaultLanguage: shown.DefaultLanguage, PreviewName: shown.DisplayName, WebhookURL: shown.WebhookURL, Errors: errs, Base: appURL(a.ClientID)}
	if v.PreviewName == "" {
		v.PreviewName = a.Name
	}
	if hexColor.MatchString(shown.AccentColor) {
		v.Page.HeadCSS = v.Base + "/preview.css?accent=" + url.QueryEscape(shown.AccentColor)
	}
	if !strings.HasPrefix(shown.LogoURL, "https://") {
		v.LogoURL = ""
	}
	for i := len(toks) - 1; i >= 0; i-- { // newest first
		t := toks[i]
		scopes := make([]string, len(t.Scopes))
		for j, s := range t.Scopes {
			scopes[j] = string(s)
		}
		row := views.TokenRow{ID: t.ID, Label: orDash(t.Label), Prefix: "kct_" + t.ID, Scopes: strings.Join(scopes, ", "),
			Created: h.fmtTime(t.CreatedAt), LastUsed: orDash(h.fmtTime(t.LastUsedAt)), Expires: h.fmtExpiry(t.ExpiresAt),
			Revoked: h.fmtTime(t.RevokedAt), RevokeURL: v.Base + "/tokens/" + url.PathEscape(t.ID) + "/revoke"}
		if row.LastUsed == "—" {
			row.LastUsed = "Never"
		}
		v.Tokens = append(v.Tokens, row)
	}
	if !a.WebhookDisabledAt.IsZero() {
		v.WebhookDisabled = a.WebhookDisabledReason + " (" + h.fmtTime(a.WebhookDisabledAt) + ")"
	}
	ds, err := h.Checkout.AppDeliveries(c.Request.Context(), a.ClientID, recentDeliveries)
	if err != nil {
		h.fail(c, err)
		return
	}
	v.Deliveries = h.deliveryRows(ds, v.Base)
	render(c, status, views.AppPage(v))
}

// updateWebhook serves POST /dashboard/apps/:clientId/webhook.
func (h *Handler) updateWebhook(c *gin.Context) {
	hook := strings.TrimSpace(c.PostForm("webhook_url"))
	h.patchApp(c, checkout.AppPatch{WebhookURL: &hook}, "Webhook URL saved.")
}

// updateBranding serves POST /dashboard/apps/:clientId/branding; with preview=1 it only
// re-draws the page with the typed values, saving nothing (the preview without JavaScript).
func (h *Handler) updateBranding(c *gin.Context) {
	name, logo, accent := c.PostForm("display_name"), strings.TrimSpace(c.PostForm("logo_url")), strings.TrimSpace(c.PostForm("accent_color"))
	p := checkout.AppPatch{DisplayName: &name, LogoURL: &logo, AccentColor: &accent}
	if lang, ok := c.GetPostForm("default_language"); ok {
		p.DefaultLanguage = &lang
	}
	if c.PostForm("preview") != "" {
		a, err := h.Checkout.App(c.Request.Context(), c.Param("clientId"))
		if err != nil {
			h.fail(c, err)
			return
		}
		shown := *a
		shown.DisplayName, shown.LogoURL, shown.AccentColor = strings.TrimSpace(name), logo, strings.ToLower(accent)
		if p.DefaultLanguage != nil {
			shown.DefaultLanguage = *p.DefaultLanguage
		}
		h.renderApp(c, http.StatusOK, a, &shown, nil, views.Notice{Kind: "info", Text: "Preview only: press Save branding to keep it."})
		return
	}
	h.patchApp(c, p, "Branding saved.")
}

// patchApp applies p and redirects back to the application page, or re-draws it with the
// field errors (422).
func (h *Handler) patchApp(c *gin.Context, p checkout.AppPatch, done string) {
	ctx := c.Request.Context()
	a, err := h.Checkout.App(ctx, c.Param("clientId"))
	if err != nil {
		h.fail(c, err)
		return
	}
	_, err = h.Checkout.UpdateApp(ctx, a.ClientID, p)
	if fe := fields(err); fe != nil {
		shown := *a
		for f, v := range map[*string]*string{&shown.WebhookURL: p.WebhookURL, &shown.DisplayName: p.DisplayName, &shown.LogoURL: p.LogoURL, &shown.AccentColor: p.AccentColor,
			&shown.DefaultLanguage: p.DefaultLanguage} {
			if v != nil {
				*f = *v
			}
		}
		h.renderApp(c, http.StatusUnprocessableEntity, a, &shown, fe, views.Notice{Kind: "error", Text: "Nothing was saved: correct the fields below."})
		return
	} else if err != nil {
		h.fail(c, err)
		return
	}
	h.setNotice(c, done)
	seeOther(c, appURL(a.ClientID))
}

// rotateSecret serves POST /dashboard/apps/:clientId/rotate-secret and shows the new secret once.
func (h *Handler) rotateSecret(c *gin.Context) {
	a, err := h.Checkout.RotateWebhookSecret(c.Request.Context(), c.Param("clientId"))
	if err != nil {
		h.fail(c, err)
		return
	}
	render(c, http.StatusOK, views.SecretPage(views.SecretView{
		Page:        h.page(c, "Webhook secret rotated", "apps"),
		Heading:     "New webhook secret for " + a.Name,
		Intro:       "Webhooks are signed with this secret from now on, and for 24 hours with the old one too (two signatures), so your receiver can switch over without dropping any.",
		SecretLabel: "Webhook secret", Secret: a.WebhookSecret.Reveal(),
		NextURL: appURL(a.ClientID), NextText: "Back to " + a.Name,
	}))
}

var hexColor = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// previewCSS serves GET /dashboard/apps/:clientId/preview.css?accent=%23rrggbb: the branding
// preview's colour as a stylesheet, since the Content-Security-Policy refuses inline styles.
func (h *Handler) previewCSS(c *gin.Context) {
	accent := c.Query("accent")
	if !hexColor.MatchString(accent) {
		c.Status(http.StatusNotFound)
		return
	}
	c.Data(http.StatusOK, "text/css; charset=utf-8", []byte(".preview{--accent:"+strings.ToLower(accent)+"}\n"))
}
