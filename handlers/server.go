// Package handlers is Kassa's HTTP side: gin handlers for the shopper pages, the merchant API
// and provider callbacks, and the middleware around them (request ids, logging, security
// headers, CSRF, authentication). All routes are listed in Handler.
package handlers

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/gorilla/csrf"
	"github.com/gorilla/sessions"

	"github.com/kassa-pay/kassa/checkout"
	"github.com/kassa-pay/kassa/static"
)

// Server holds what the handlers need.
type Server struct {
	Checkout *checkout.Service
	Sessions sessions.Store
	// CSRFKey signs the CSRF cookie (32 bytes).
	CSRFKey []byte
	// BaseURL is Kassa's public URL; its scheme decides whether cookies are Secure.
	BaseURL *url.URL
	// Mounts are extra handlers served under a path prefix, outside gin (the provider
	// sandboxes), keyed by prefix such as "/sandbox/onecheckout".
	Mounts map[string]http.Handler
	// RateLimit limits API requests per client token; nil disables it.
	RateLimit *RateLimiter
	// Idempotency keeps Idempotency-Key responses; nil disables the header.
	Idempotency checkout.IdempotencyStore
	// DemoClientID is the application the demo store creates its payments for; empty
	// disables the store.
	DemoClientID string
	// DemoStore keeps the demo store's orders and the webhooks it received.
	DemoStore checkout.DemoStore
	Log       *slog.Logger
}

func (s *Server) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// Handler returns Kassa's whole HTTP handler.
func (s *Server) Handler() http.Handler {
	r := s.engine()
	mux := http.NewServeMux()
	for prefix, h := range s.Mounts {
		prefix = strings.TrimSuffix(prefix, "/")
		mux.Handle(prefix+"/", http.StripPrefix(prefix, h))
	}
	mux.Handle("/", r)
	return mux
}

// engine builds the gin engine with every route.
func (s *Server) engine() *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.HandleMethodNotAllowed = true
	r.Use(s.requestID, s.logRequests, s.recoverPanics, securityHeaders)
	r.NoRoute(s.notFound)
	r.NoMethod(func(c *gin.Context) {
		if isAPI(c) {
			c.AbortWithStatusJSON(http.StatusMethodNotAllowed, gin.H{"message": "Method not allowed.", "code": "method_not_allowed"})
			return
		}
		s.errorPage(c, http.StatusMethodNotAllowed, "Not allowed", "This page cannot be used that way.")
	})

	r.GET("/healthz", s.health)
	r.GET("/static/*file", s.staticFile)
	r.GET("/brand/:file", s.brandCSS)

	browser := r.Group("/", s.csrf())
	browser.GET("/", s.storePage)
	browser.POST("/buy", s.buy)
	browser.GET("/checkout/:id", s.showCheckout)
	browser.POST("/checkout/:id", s.choose)
	browser.GET("/checkout/:id/return/:attempt", s.providerReturn)
	browser.GET("/checkout/:id/attempts/:attempt", s.attemptStatus)
	browser.GET("/orders/:ref", s.demoOrder)
	r.POST("/demo/webhooks", s.demoWebhook)

	api := r.Group("/api", s.bearer(s.Checkout.Authenticate), s.rateLimit)
	api.POST("/payment/checkout", s.requireScope(checkout.ScopePaymentsCreate), s.idempotent, s.createPayment)
	api.GET("/payment/:id", s.requireScope(checkout.ScopePaymentsGet), s.getPayment)
	api.GET("/payment/:id/events", s.requireScope(checkout.ScopePaymentsGet), s.paymentEvents)
	api.GET("/payment/:id/instructions", s.requireScope(checkout.ScopePaymentsInstructions), s.paymentInstructions)
	api.POST("/payment/:id/cancel", s.requireScope(checkout.ScopePaymentsCreate), s.idempotent, s.cancelPayment)
	api.GET("/payment/:id/webhook-deliveries", s.requireScope(checkout.ScopePaymentsGet), s.paymentWebhookDeliveries)

	r.POST("/oauth/token", s.oauthToken)
	dash := r.Group("/api", s.bearer(s.dashboardPrincipal), s.rateLimit)
	dash.GET("/payment-applications", s.listApps)
	dash.POST("/payment-applications", s.createApp)
	dash.GET("/payment-applications/:clientId", s.getApp)
	dash.PATCH("/payment-applications/:clientId", s.updateApp)
	dash.POST("/payment-applications/:clientId/rotate-webhook-secret", s.rotateWebhookSecret)
	dash.GET("/payment-applications/:clientId/tokens", s.listTokens)
	dash.POST("/payment-applications/:clientId/tokens", s.createToken)
	dash.DELETE("/payment-applications/:clientId/tokens/:tokenId", s.revokeToken)
	dash.GET("/payments", s.listPayments)
	dash.POST("/webhook-deliveries/:id/redeliver", s.redeliverWebhook)

	r.POST("/callbacks/:provider", s.providerCallback)
	r.GET("/api/openapi.json", s.openAPI)
	return r
}

// secureCookies reports whether cookies should carry the Secure flag.
func (s *Server) secureCookies() bool { return s.BaseURL != nil && s.BaseURL.Scheme == "https" }

// csrf protects every browser form with gorilla/csrf: a signed cookie plus a masked token in
// the form, and an Origin check.
func (s *Server) csrf() gin.HandlerFunc {
	protect := csrf.Protect(s.CSRFKey,
		csrf.Secure(s.secureCookies()),
		csrf.Path("/"),
		csrf.SameSite(csrf.SameSiteLaxMode),
		csrf.CookieName("kassa_csrf"),
		csrf.FieldName("csrf_token"),
		csrf.ErrorHandler(http.HandlerFunc(s.csrfFailed)),
	)
	plaintext := !s.secureCookies()
	return func(c *gin.Context) {
		passed := false
		req := c.Request
		if plaintext {
			req = csrf.PlaintextHTTPRequest(req)
		}
		protect(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			passed = true
			c.Request = r
			c.Next()
		})).ServeHTTP(c.Writer, req)
		if !passed {
			c.Abort()
		}
	}
}

func (s *Server) csrfFailed(w http.ResponseWriter, r *http.Request) {
	s.log().WarnContext(r.Context(), "csrf check failed", "path", r.URL.Path, "reason", csrf.FailureReason(r))
	s.writeErrorPage(w, r, http.StatusForbidden, "This form has expired",
		"For your security, the form could not be accepted. Please go back, reload the page and try again.")
}

func (s *Server) health(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

func (s *Server) staticFile(c *gin.Context) {
	name := strings.TrimPrefix(c.Param("file"), "/")
	b, err := static.FS.ReadFile(name)
	if err != nil {
		c.Status(http.StatusNotFound)
		return
	}
	if c.Query("v") == static.CSSVersion {
		c.Header("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		c.Header("Cache-Control", "public, max-age=300")
	}
	c.Data(http.StatusOK, "text/css; charset=utf-8", b)
}

// isAPI reports whether the request is for a JSON endpoint rather than a page.
func isAPI(c *gin.Context) bool {
	p := c.Request.URL.Path
	return strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/oauth/") || strings.HasPrefix(p, "/callbacks/")
}
