package dashboard

import (
	"net/http"
	"net/url"

	"github.com/gin-gonic/gin"

	"github.com/kassa-pay/kassa/checkout"
	views "github.com/kassa-pay/kassa/views/dashboard"
)

// oauthClients serves GET /dashboard/oauth-clients.
func (h *Handler) oauthClients(c *gin.Context) {
	h.renderOAuthClients(c, http.StatusOK, views.OAuthClientsView{Notice: h.takeNotice(c)})
}

func (h *Handler) renderOAuthClients(c *gin.Context, status int, v views.OAuthClientsView) {
	cs, err := h.Checkout.OAuthClients(c.Request.Context())
	if err != nil {
		h.fail(c, err)
		return
	}
	v.Page = h.page(c, "OAuth clients", "oauth")
	for _, oc := range cs {
		v.Clients = append(v.Clients, views.OAuthClientRow{ID: oc.ID, Name: oc.Name, Created: h.fmtTime(oc.CreatedAt),
			Revoked: h.fmtTime(oc.RevokedAt), RevokeURL: "/dashboard/oauth-clients/" + url.PathEscape(oc.ID) + "/revoke"})
	}
	render(c, status, views.OAuthClientsPage(v))
}

// createOAuthClient serves POST /dashboard/oauth-clients and shows the secret once.
func (h *Handler) createOAuthClient(c *gin.Context) {
	name := c.PostForm("name")
	oc, secret, err := h.Checkout.NewOAuthClient(c.Request.Context(), name)
	if fe := fields(err); fe != nil {
		h.renderOAuthClients(c, http.StatusUnprocessableEntity, views.OAuthClientsView{Name: name, Errors: fe})
		return
	} else if err != nil {
		h.fail(c, err)
		return
	}
	render(c, http.StatusCreated, views.SecretPage(views.SecretView{
		Page:        h.page(c, "OAuth client created", "oauth"),
		Heading:     "OAuth client " + oc.Name + " created",
		Intro:       "Exchange the client id and secret for access tokens at POST /oauth/token (grant_type=client_credentials).",
		Facts:       []views.Fact{{Label: "Client id", Value: oc.ID}},
		SecretLabel: "Client secret", Secret: secret.Reveal(),
		NextURL: "/dashboard/oauth-clients", NextText: "Back to OAuth clients",
	}))
}

func (h *Handler) findOAuthClient(c *gin.Context) (*checkout.OAuthClient, bool) {
	cs, err := h.Checkout.OAuthClients(c.Request.Context())
	if err != nil {
		h.fail(c, err)
		return nil, false
	}
	for _, oc := range cs {
		if oc.ID == c.Param("id") {
			return &oc, true
		}
	}
	h.fail(c, checkout.Errorf(checkout.ENOTFOUND, "No OAuth client has id %q.", c.Param("id")))
	return nil, false
}

// confirmRevokeOAuthClient serves GET /dashboard/oauth-clients/:id/revoke.
func (h *Handler) confirmRevokeOAuthClient(c *gin.Context) {
	oc, ok := h.findOAuthClient(c)
	if !ok {
		return
	}
	render(c, http.StatusOK, views.ConfirmPage(views.ConfirmView{Page: h.page(c, "Revoke OAuth client", "oauth"),
		Heading: "Revoke the OAuth client " + oc.Name + "?",
		Message: "Its access tokens stop working now, and it can get no new ones. This cannot be undone.",
		Action:  "/dashboard/oauth-clients/" + url.PathEscape(oc.ID) + "/revoke", Button: "Revoke",
		CancelURL: "/dashboard/oauth-clients"}))
}

// revokeOAuthClient serves POST /dashboard/oauth-clients/:id/revoke (with confirm=yes).
func (h *Handler) revokeOAuthClient(c *gin.Context) {
	if c.PostForm("confirm") != "yes" {
		h.confirmRevokeOAuthClient(c)
		return
	}
	oc, ok := h.findOAuthClient(c)
	if !ok {
		return
	}
	if err := h.Checkout.RevokeOAuthClient(c.Request.Context(), oc.ID); err != nil {
		h.fail(c, err)
		return
	}
	h.setNotice(c, "OAuth client revoked.")
	seeOther(c, "/dashboard/oauth-clients")
}
