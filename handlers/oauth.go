package handlers

import (
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

// authenticateDashboard resolves the OAuth2 access token of every dashboard request.
func (s *Server) authenticateDashboard(c *gin.Context) {
	token, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
	if !ok {
		c.Header("WWW-Authenticate", `Bearer realm="kassa"`)
		s.apiError(c, checkout.Errorf(checkout.EUNAUTHORIZED, "Unauthenticated"))
		return
	}
	clientID, err := s.Checkout.AuthenticateAccessToken(c.Request.Context(), strings.TrimSpace(token))
	if err != nil {
		c.Header("WWW-Authenticate", `Bearer realm="kassa", error="invalid_token"`)
		s.apiError(c, err)
		return
	}
	c.Set(principalKey, checkout.Principal{TokenID: "oauth:" + clientID, Scopes: []checkout.Scope{checkout.ScopeAll}})
	c.Next()
}
