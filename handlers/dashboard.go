package handlers

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kassa-pay/kassa/checkout"
)

// The dashboard API: managing payment applications, their tokens, and listing payments, with
// OAuth2 access tokens from POST /oauth/token.

type appResponse struct {
	ClientID      string `json:"clientId"`
	Name          string `json:"name"`
	WebhookURL    string `json:"webhookUrl"`
	WebhookSecret string `json:"webhookSecret,omitempty"`
	DisplayName   string `json:"displayName"`
	LogoURL       string `json:"logoUrl"`
	AccentColor   string `json:"accentColor"`
	// DefaultLanguage: the shopper pages' language when the browser names none Kassa speaks.
	DefaultLanguage string    `json:"defaultLanguage"`
	CreatedAt       time.Time `json:"createdAt"`
	// WebhookDisabledAt is set when the endpoint answered 410 Gone; setting webhookUrl
	// again enables it.
	WebhookDisabledAt      *time.Time `json:"webhookDisabledAt"`
	WebhookDisabledReason  string     `json:"webhookDisabledReason,omitempty"`
	WebhookSecretRotatedAt *time.Time `json:"webhookSecretRotatedAt"`
}

func appJSON(a *checkout.App, withSecret bool) appResponse {
	r := appResponse{ClientID: a.ClientID, Name: a.Name, WebhookURL: a.WebhookURL, DisplayName: a.DisplayName,
		LogoURL: a.LogoURL, AccentColor: a.AccentColor, DefaultLanguage: a.DefaultLanguage, CreatedAt: a.CreatedAt, WebhookDisabledAt: timePtr(a.WebhookDisabledAt),
		WebhookDisabledReason: a.WebhookDisabledReason, WebhookSecretRotatedAt: timePtr(a.WebhookSecretRotatedAt)}
	if withSecret {
		r.WebhookSecret = a.WebhookSecret.Reveal()
	}
	return r
}

type tokenResponse struct {
	ID         string           `json:"id"`
	Token      string           `json:"token,omitempty"`
	Label      string           `json:"label"`
	Scopes     []checkout.Scope `json:"scopes"`
	ExpiresAt  *time.Time       `json:"expiresAt"`
	LastUsedAt *time.Time       `json:"lastUsedAt"`
	RevokedAt  *time.Time       `json:"revokedAt"`
	CreatedAt  time.Time        `json:"createdAt"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func tokenJSON(t *checkout.Token) tokenResponse {
	return tokenResponse{ID: t.ID, Label: t.Label, Scopes: t.Scopes, ExpiresAt: timePtr(t.ExpiresAt),
		LastUsedAt: timePtr(t.LastUsedAt), RevokedAt: timePtr(t.RevokedAt), CreatedAt: t.CreatedAt}
}

// listApps serves GET /api/payment-applications.
func (s *Server) listApps(c *gin.Context) {
	apps, err := s.Checkout.Apps(c.Request.Context())
	if err != nil {
		s.apiError(c, err)
		return
	}
	out := []appResponse{}
	for i := range apps {
		out = append(out, appJSON(&apps[i], false))
	}
	c.JSON(http.StatusOK, gin.H{"data": out})
}

type appRequest struct {
	Name            *string `json:"name"`
	WebhookURL      *string `json:"webhookUrl"`
	DisplayName     *string `json:"displayName"`
	LogoURL         *string `json:"logoUrl"`
	AccentColor     *string `json:"accentColor"`
	DefaultLanguage *string `json:"defaultLanguage"`
}

func (r appRequest) patch() checkout.AppPatch {
	return checkout.AppPatch{Name: r.Name, WebhookURL: r.WebhookURL, DisplayName: r.DisplayName, LogoURL: r.LogoURL, AccentColor: r.AccentColor,
		DefaultLanguage: r.DefaultLanguage}
}

// createApp serves POST /api/payment-applications; the answer carries the webhook secret.
func (s *Server) createApp(c *gin.Context) {
	var req appRequest
	if !s.readJSON(c, &req) {
		return
	}
	a, err := s.Checkout.CreateApp(c.Request.Context(), req.patch())
	if err != nil {
		s.apiError(c, err)
		return
	}
	c.JSON(http.StatusCreated, appJSON(a, true))
}

// getApp serves GET /api/payment-applications/:clientId.
func (s *Server) getApp(c *gin.Context) {
	a, err := s.Checkout.App(c.Request.Context(), c.Param("clientId"))
	if err != nil {
		s.apiError(c, err)
		return
	}
	c.JSON(http.StatusOK, appJSON(a, false))
}

// updateApp serves PATCH /api/payment-applications/:clientId.
func (s *Server) updateApp(c *gin.Context) {
	var req appRequest
	if !s.readJSON(c, &req) {
		return
	}
	a, err := s.Checkout.UpdateApp(c.Request.Context(), c.Param("clientId"), req.patch())
	if err != nil {
		s.apiError(c, err)
		return
	}
	c.JSON(http.StatusOK, appJSON(a, false))
}

// rotateWebhookSecret serves POST /api/payment-applications/:clientId/rotate-webhook-secret.
func (s *Server) rotateWebhookSecret(c *gin.Context) {
	a, err := s.Checkout.RotateWebhookSecret(c.Request.Context(), c.Param("clientId"))
	if err != nil {
		s.apiError(c, err)
		return
	}
	c.JSON(http.StatusOK, appJSON(a, true))
}

// listTokens serves GET /api/payment-applications/:clientId/tokens.
func (s *Server) listTokens(c *gin.Context) {
	toks, err := s.Checkout.Tokens(c.Request.Context(), c.Param("clientId"))
	if err != nil {
		s.apiError(c, err)
		return
	}
	out := []tokenResponse{}
	for i := range toks {
		out = append(out, tokenJSON(&toks[i]))
	}
	c.JSON(http.StatusOK, gin.H{"data": out})
}

// createToken serves POST /api/payment-applications/:clientId/tokens; the token itself is in
// this answer only.
func (s *Server) createToken(c *gin.Context) {
	var req struct {
		Scopes    []checkout.Scope `json:"scopes"`
		Label     string           `json:"label"`
		ExpiresAt string           `json:"expiresAt"`
	}
	if !s.readJSON(c, &req) {
		return
	}
	var exp time.Time
	if req.ExpiresAt != "" {
		t, err := time.Parse(time.RFC3339, req.ExpiresAt)
		if err != nil {
			s.apiError(c, &checkout.Error{Code: checkout.EINVALID, Message: "The request has invalid fields.",
				Fields: map[string]string{"expiresAt": "must be an RFC 3339 time in the future"}})
			return
		}
		exp = t
	}
	secret, t, err := s.Checkout.NewToken(c.Request.Context(), c.Param("clientId"), req.Scopes, req.Label, exp)
	if err != nil {
		s.apiError(c, err)
		return
	}
	out := tokenJSON(t)
	out.Token = secret.Reveal()
	c.JSON(http.StatusCreated, out)
}

// revokeToken serves DELETE /api/payment-applications/:clientId/tokens/:tokenId.
func (s *Server) revokeToken(c *gin.Context) {
	toks, err := s.Checkout.Tokens(c.Request.Context(), c.Param("clientId"))
	if err != nil {
		s.apiError(c, err)
		return
	}
	for _, t := range toks {
		if t.ID == c.Param("tokenId") {
			if err := s.Checkout.RevokeToken(c.Request.Context(), t.ID); err != nil {
				s.apiError(c, err)
				return
			}
			c.Status(http.StatusNoContent)
			return
		}
	}
	s.apiError(c, checkout.Errorf(checkout.ENOTFOUND, "This application has no token %q.", c.Param("tokenId")))
}

// listPayments serves GET /api/payments: payments newest first, with anchor pagination and
// filters by status, application and creation time.
func (s *Server) listPayments(c *gin.Context) {
	fields := map[string]string{}
	q := checkout.PaymentQuery{ClientID: c.Query("clientId"), Status: c.Query("status"), Anchor: c.Query("anchor")}
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil {
			fields["limit"] = "must be a whole number between 1 and 1024"
		}
		q.Limit = n
		if n == 0 {
			q.Limit = -1 // an explicit 0 is refused, not taken as the default
		}
	}
	for name, dst := range map[string]*time.Time{"created_from": &q.CreatedFrom, "created_to": &q.CreatedTo} {
		if v := c.Query(name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				fields[name] = "must be an RFC 3339 time"
			}
			*dst = t
		}
	}
	if len(fields) > 0 {
		s.apiError(c, &checkout.Error{Code: checkout.EINVALID, Message: "The request has invalid fields.", Fields: fields})
		return
	}
	page, err := s.Checkout.ListPayments(c.Request.Context(), q)
	if err != nil {
		s.apiError(c, err)
		return
	}
	out := []checkout.PaymentView{}
	for i := range page.Payments {
		out = append(out, s.paymentJSON(&page.Payments[i]))
	}
	c.JSON(http.StatusOK, gin.H{"anchor": q.Anchor, "limit": page.Limit, "count": page.Count, "next_anchor": page.NextAnchor, "payments": out})
}
