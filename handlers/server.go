// Package handlers is Kassa's HTTP side: gin handlers for the shopper pages, the merchant API
// and provider callbacks, and the middleware around them (request ids, logging, security
// headers, CSRF, authentication). All routes are listed in Handler.
package handlers

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gorilla/csrf"
	"github.com/gorilla/sessions"

	"github.com/kassa-pay/kassa/checkout"
	"github.com/kassa-pay/kassa/handlers/dashboard"
	"github.com/kassa-pay/kassa/locale"
	"github.com/kassa-pay/kassa/providers"
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
	// IdempotencyRenew is how often a running request renews its key's claim (default 15 s,
	// well within the store's lease of a minute).
	IdempotencyRenew time.Duration
	// LinkPayments limits the payments created from payment links per client address; nil
	// disables it.
	LinkPayments *RateLimiter
	// DemoClientID is the application the demo store creates its payments for; empty
	// disables the store (it exists only in sandbox mode).
	DemoClientID string
	// DemoStore keeps the demo store's orders and the webhooks it received.
	DemoStore checkout.DemoStore
	// PublicRateLimit limits the public pages and the provider callbacks per client address
	// (see clientAddress); nil disables it.
	PublicRateLimit *RateLimiter
	// TrustedProxies are the reverse proxies (IP addresses or CIDR ranges) whose
	// X-Forwarded-For and X-Real-IP headers are believed about the client's address. Empty
	// trusts none: the client is the TCP peer, and those headers are ignored.
	TrustedProxies []string
	// Simulated marks the providers served by a simulator (sandbox mode): every Kassa page
	// offering or following one says "Test mode".
	Simulated map[providers.ID]bool
	// Dashboard serves the merchant dashboard under /dashboard; nil leaves it out.
	Dashboard *dashboard.Handler
	Log       *slog.Logger
	// Locale holds the shopper pages' message catalogues; nil uses locale.Shared().
	Locale *locale.Catalogue
	// Ready checks that the database answers and is migrated (GET /readyz); nil skips it.
	Ready func(context.Context) error
}

func (s *Server) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

// Handler returns Kassa's whole HTTP handler. The mounted simulators' pages cannot be framed
// either, and with an https base URL every answer carries Strict-Transport-Security.
func (s *Server) Handler() http.Handler {
	if s.Log != nil {
		s.Log = withRequestIDs(s.Log)
	}
	r := s.engine()
	mux := http.NewServeMux()
	for prefix, h := range s.Mounts {
		prefix = strings.TrimSuffix(prefix, "/")
		mux.Handle(prefix+"/", denyFraming(http.StripPrefix(prefix, h)))
	}
	mux.Handle("/", r)
	if s.secureCookies() {
		return strictTransport(mux)
	}
	return mux
}

// engine builds the gin engine with every route.
func (s *Server) engine() *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	r.HandleMethodNotAllowed = true
	if err := r.SetTrustedProxies(s.TrustedProxies); err != nil {
		s.log().Error("trusted proxies ignored: the client address is the TCP peer's", "err", err)
		_ = r.SetTrustedProxies(nil)
	}
	r.Use(s.requestID, s.logRequests, observeRequests, s.chooseLanguage, s.recoverPanics, securityHeaders, s.validUTF8)
	r.NoRoute(s.notFound)
	r.NoMethod(func(c *gin.Context) {
		if isAPI(c) {
			c.AbortWithStatusJSON(http.StatusMethodNotAllowed, gin.H{"message": "Method not allowed.", "code": "method_not_allowed"})
			return
		}
		t := tr(c)
		s.errorPage(c, http.StatusMethodNotAllowed, t.T("error.notAllowedHeading"), t.T("error.notAllowedText"))
	})

	r.GET("/healthz", s.health)
	r.GET("/readyz", s.ready)
	r.GET("/metrics", s.metricsPage)
	r.GET("/static/*file", s.staticFile)
	r.GET("/brand/:file", s.brandCSS)

	browser := r.Group("/", s.limitPublic, s.csrf())
	browser.GET("/", s.storePage)
	browser.POST("/buy", s.buy)
	browser.GET("/checkout/:id", s.showCheckout)
	browser.POST("/checkout/:id", s.choose)
	browser.GET("/checkout/:id/return/:attempt", s.providerReturn)
	browser.GET("/checkout/:id/attempts/:attempt", s.attemptStatus)
	browser.GET("/orders/:ref", s.demoOrder)
	r.POST("/demo/webhooks", s.demoWebhook)
	browser.GET("/l/:id", s.showLink)
	browser.HEAD("/l/:id", s.showLink)
	browser.POST("/l/:id", s.payLink)
	r.GET("/l/:id/qr.svg", s.linkQR("svg"))
	r.GET("/l/:id/qr.png", s.linkQR("png"))
	r.HEAD("/l/:id/qr.svg", s.linkQR("svg"))
	r.HEAD("/l/:id/qr.png", s.linkQR("png"))

	api := r.Group("/api", s.bearer(s.Checkout.Authenticate), s.rateLimit)
	api.POST("/payment/checkout", s.requireScope(checkout.ScopePaymentsCreate), s.idempotent, s.createPayment)
	api.GET("/payment/:id", s.requireScope(checkout.ScopePaymentsGet), s.getPayment)
	api.GET("/payment/:id/events", s.requireScope(checkout.ScopePaymentsGet), s.paymentEvents)
	api.GET("/payment/:id/instructions", s.requireScope(checkout.ScopePaymentsInstructions), s.paymentInstructions)
	api.POST("/payment/:id/cancel", s.requireScope(checkout.ScopePaymentsCreate), s.idempotent, s.cancelPayment)
	api.GET("/payment/:id/webhook-deliveries", s.requireScope(checkout.ScopePaymentsGet), s.paymentWebhookDeliveries)
	api.POST("/payment/:id/refunds", s.requireScope(checkout.ScopePaymentsRefund), s.idempotent, s.createRefund)
	api.GET("/payment/:id/refunds", s.requireScope(checkout.ScopePaymentsGet), s.listRefunds)

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
	dash.POST("/refunds/:id/confirm", s.confirmRefund)
	dash.POST("/refunds/:id/cancel", s.cancelRefund)

	links := r.Group("/api/payment-links", s.bearer(s.linkPrincipal), s.rateLimit, s.requireScope(checkout.ScopePaymentLinksManage))
	links.POST("", s.idempotent, s.createLink)
	links.GET("", s.listLinks)
	links.GET("/:id", s.getLink)
	links.PATCH("/:id", s.updateLink)
	links.GET("/:id/payments", s.linkPayments)

	if s.Dashboard != nil {
		if s.Dashboard.ClientAddress == nil {
			s.Dashboard.ClientAddress = clientAddress
		}
		s.Dashboard.Mount(r.Group("/dashboard", s.csrf()))
	}

	r.POST("/callbacks/:provider", s.limitPublic, s.providerCallback)
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
	t := locale.From(r.Context())
	s.writeErrorPage(w, r, http.StatusForbidden, t.T("error.formExpiredHeading"), t.T("error.formExpiredText"))
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
	if v := c.Query("v"); v != "" && v == static.Version(name) {
		c.Header("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		c.Header("Cache-Control", "public, max-age=300")
	}
	ctype := "text/css; charset=utf-8"
	if strings.HasSuffix(name, ".js") {
		ctype = "text/javascript; charset=utf-8"
	}
	c.Data(http.StatusOK, ctype, b)
}

// isAPI reports whether the request is for a JSON endpoint rather than a page.
func isAPI(c *gin.Context) bool {
	p := c.Request.URL.Path
	return strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/oauth/") || strings.HasPrefix(p, "/callbacks/")
}
