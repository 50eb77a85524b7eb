// Package dashboard serves the merchant dashboard under /dashboard: server-rendered pages for
// operators who sign in with an email and password. Every action is a plain form (no
// JavaScript needed); every page is Cache-Control: no-store. CSRF protection is the shared
// middleware of package handlers, applied to the group this package is mounted on.
package dashboard

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/a-h/templ"
	"github.com/gin-gonic/gin"
	"github.com/gorilla/csrf"
	"github.com/gorilla/sessions"

	"github.com/kassa-pay/kassa/checkout"
	"github.com/kassa-pay/kassa/static"
	views "github.com/kassa-pay/kassa/views/dashboard"
)

// Handler holds what the dashboard's pages need.
type Handler struct {
	Checkout  *checkout.Service
	Operators *checkout.Operators
	// Sessions is the database-backed session store; the dashboard's cookie is its own
	// (CookieName), limited to /dashboard.
	Sessions sessions.Store
	// IdleTimeout ends a session nobody used for that long; MaxAge ends any session that old.
	IdleTimeout time.Duration
	MaxAge      time.Duration
	// Location is where the overview's days start and end; UTC when nil.
	Location *time.Location
	Log      *slog.Logger
	Now      func() time.Time
	// ClientAddress is the address sign-in failures are counted by; nil uses gin's
	// ClientIP, which believes X-Forwarded-For only from the engine's trusted proxies.
	ClientAddress func(*gin.Context) string
	// IdempotencyRenew is how often a running refund renews its form key's claim (default
	// 15 s, within the store's lease of a minute).
	IdempotencyRenew time.Duration
}

// CookieName is the dashboard session's cookie.
const CookieName = "kassa_dashboard"

const operatorKey = "dashboard.operator"

func (h *Handler) log() *slog.Logger {
	if h.Log != nil {
		return h.Log
	}
	return slog.Default()
}

func (h *Handler) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

func (h *Handler) clientAddress(c *gin.Context) string {
	if h.ClientAddress != nil {
		return h.ClientAddress(c)
	}
	return c.ClientIP()
}

func (h *Handler) loc() *time.Location {
	if h.Location != nil {
		return h.Location
	}
	return time.UTC
}

// Mount registers every dashboard route on g, which must be /dashboard with CSRF protection.
// All the routes are listed here.
func (h *Handler) Mount(g *gin.RouterGroup) {
	g.Use(noStore)
	g.GET("/sign-in", h.signInPage)
	g.POST("/sign-in", h.signIn)
	g.POST("/sign-out", h.signOut)

	a := g.Group("", h.requireOperator)
	a.GET("", h.overview)
	a.GET("/payments", h.payments)
	a.GET("/payments.csv", h.paymentsCSV)
	a.GET("/payments/:id", h.payment)
	a.GET("/apps", h.apps)
	a.POST("/apps", h.createApp)
	a.GET("/apps/:clientId", h.app)
	a.POST("/webhook-deliveries/:id/resend", h.resendWebhook)
	a.POST("/apps/:clientId/webhook", h.updateWebhook)
	a.POST("/apps/:clientId/rotate-secret", h.rotateSecret)
	a.POST("/apps/:clientId/branding", h.updateBranding)
	a.GET("/apps/:clientId/preview.css", h.previewCSS)
	a.GET("/apps/:clientId/tokens/new", h.newToken)
	a.POST("/apps/:clientId/tokens", h.createToken)
	a.GET("/apps/:clientId/tokens/:tokenId/revoke", h.confirmRevokeToken)
	a.POST("/apps/:clientId/tokens/:tokenId/revoke", h.revokeToken)
	a.GET("/oauth-clients", h.oauthClients)
	a.POST("/oauth-clients", h.createOAuthClient)
	a.GET("/oauth-clients/:id/revoke", h.confirmRevokeOAuthClient)
	a.POST("/oauth-clients/:id/revoke", h.revokeOAuthClient)
	a.POST("/payments/:id/refunds", h.createRefund)
	a.POST("/refunds/:id/confirm", h.confirmRefund)
	a.GET("/refunds/:id/cancel", h.confirmCancelRefund)
	a.POST("/refunds/:id/cancel", h.cancelRefund)
	a.GET("/links", h.links)
	a.POST("/links", h.createLink)
	a.GET("/links/:id", h.link)
	a.POST("/links/:id", h.updateLink)
	a.POST("/links/:id/active", h.setLinkActive)
	a.GET("/links/:id/print", h.printLink)
}

// noStore keeps every dashboard answer, redirects included, out of caches: pages show
// secrets and payments.
func noStore(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Next()
}

// page is the layout's view model for the request.
func (h *Handler) page(c *gin.Context, title, section string) views.Page {
	p := views.Page{
		Title: title,
		CSS: []string{"/static/kassa.css?v=" + static.Version("kassa.css"),
			"/static/dashboard.css?v=" + static.Version("dashboard.css")},
		JS:        "/static/dashboard.js?v=" + static.Version("dashboard.js"),
		Section:   section,
		CSRFField: "csrf_token",
		CSRFToken: csrf.Token(c.Request),
	}
	if o := operator(c); o != nil {
		p.Operator = o.Email
	}
	return p
}

// render writes a component with status.
func render(c *gin.Context, status int, comp templ.Component) {
	c.Header("Content-Type", "text/html; charset=utf-8")
	c.Status(status)
	if err := comp.Render(c.Request.Context(), c.Writer); err != nil && !errors.Is(err, c.Request.Context().Err()) {
		panic(err)
	}
}

// seeOther answers a successful POST: post/redirect/get.
func seeOther(c *gin.Context, to string) {
	c.Redirect(http.StatusSeeOther, to)
	c.Abort()
}

// fail answers with the friendly page for err: not found, or Kassa's own failure (logged).
func (h *Handler) fail(c *gin.Context, err error) {
	code := checkout.ErrorCode(err)
	v := views.MessageView{Page: h.page(c, "Not found", ""), LinkURL: "/dashboard", LinkText: "Back to the overview"}
	status := http.StatusNotFound
	switch code {
	case checkout.ENOTFOUND:
		v.Heading, v.Message = "Not found", checkout.ErrorMessage(err)
	case checkout.EINTERNAL:
		if c.Request.Context().Err() != nil {
			c.Abort() // the browser left; nobody reads the answer
			return
		}
		h.log().ErrorContext(c.Request.Context(), "dashboard error", "err", err, "path", c.Request.URL.Path)
		status = http.StatusInternalServerError
		v.Page.Title, v.Heading, v.Message = "Something went wrong", "Something went wrong", "Kassa hit an internal error. Nothing was changed; please try again."
	default:
		status = http.StatusConflict
		v.Page.Title, v.Heading, v.Message = "This did not work", "This did not work", checkout.ErrorMessage(err)
	}
	render(c, status, views.MessagePage(v))
	c.Abort()
}

// fields returns err's field errors when it is an EINVALID, else nil.
func fields(err error) map[string]string {
	var e *checkout.Error
	if errors.As(err, &e) && e.Code == checkout.EINVALID && len(e.Fields) > 0 {
		return e.Fields
	}
	return nil
}

const (
	dateTime = "2 Jan 2006 15:04 MST"
	dateOnly = "2006-01-02"
)

func (h *Handler) fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(h.loc()).Format(dateTime)
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
