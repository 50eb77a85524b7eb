package handlers

import (
	"context"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kassa-pay/kassa/checkout"
)

// oauthToken serves POST /oauth/token: the client-credentials grant of RFC 6749 §4.4, with
// client authentication by HTTP Basic (client_secret_basic) or in the form
// (client_secret_post), and errors in the shape of §5.2.
func (s *Server) oauthToken(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Header("Pragma", "no-cache")
	oauthError := func(status int, code, desc string) {
		if status == http.StatusUnauthorized {
			c.Header("WWW-Authenticate", `Basic realm="kassa"`)
		}
		c.AbortWithStatusJSON(status, gin.H{"error": code, "error_description": desc})
	}
	if !strings.HasPrefix(c.ContentType(), "application/x-www-form-urlencoded") {
		oauthError(http.StatusBadRequest, "invalid_request", "The body must be application/x-www-form-urlencoded.")
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, 8<<10)
	if err := c.Request.ParseForm(); err != nil {
		oauthError(http.StatusBadRequest, "invalid_request", "The form could not be read.")
		return
	}
	id, secret, basic := c.Request.BasicAuth()
	formID, formSecret := c.Request.PostForm.Get("client_id"), c.Request.PostForm.Get("client_secret")
	switch {
	case basic && formSecret != "":
		oauthError(http.StatusBadRequest, "invalid_request", "Use one client authentication method, not two.")
		return
	case !basic:
		id, secret = formID, formSecret
	}
	if id == "" || secret == "" {
		oauthError(http.StatusUnauthorized, "invalid_client", "Client credentials are required.")
		return
	}
	if gt := c.Request.PostForm.Get("grant_type"); gt != "client_credentials" {
		if gt == "" {
			oauthError(http.StatusBadRequest, "invalid_request", "grant_type is required.")
		} else {
			oauthError(http.StatusBadRequest, "unsupported_grant_type", "Only client_credentials is supported.")
		}
		return
	}
	tok, ttl, err := s.Checkout.IssueAccessToken(c.Request.Context(), id, secret)
	if checkout.ErrorCode(err) == checkout.EUNAUTHORIZED {
		oauthError(http.StatusUnauthorized, "invalid_client", "Client authentication failed.")
		return
	} else if err != nil {
		s.apiError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"access_token": tok.Reveal(), "token_type": "Bearer", "expires_in": int(ttl.Seconds())})
}

// dashboardPrincipal resolves an OAuth2 access token: dashboard clients act on every
// application, and are rate limited under their own key.
func (s *Server) dashboardPrincipal(ctx context.Context, token string) (checkout.Principal, error) {
	clientID, err := s.Checkout.AuthenticateAccessToken(ctx, token)
	if err != nil {
		return checkout.Principal{}, err
	}
	return checkout.Principal{TokenID: "oauth:" + clientID, Scopes: []checkout.Scope{checkout.ScopeAll}}, nil
}
