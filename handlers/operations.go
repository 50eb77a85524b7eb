package handlers

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kassa-pay/kassa/checkout"
	"github.com/kassa-pay/kassa/metrics"
	"github.com/kassa-pay/kassa/views"
)

// readyTimeout bounds the readiness checks, so a hung database answers 503, not a timeout.
const readyTimeout = 3 * time.Second

// providerState is a provider's breaker as /readyz shows it: the state, never the error text.
type providerState struct {
	Provider  string    `json:"provider"`
	Name      string    `json:"name"`
	State     string    `json:"state"`
	Failures  int       `json:"failures"`
	OpenUntil time.Time `json:"openUntil,omitzero"`
}

// ready serves GET /readyz: 200 when the database answers and every migration this binary
// carries is applied, else 503, so a load balancer sends no traffic to an instance that
// cannot serve it. The answer also shows each provider's circuit breaker; an open breaker
// does not make the instance unready (it still serves the other providers).
func (s *Server) ready(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), readyTimeout)
	defer cancel()
	body := gin.H{"status": "ready", "database": "ok"}
	status := http.StatusOK
	if s.Ready != nil {
		if err := s.Ready(ctx); err != nil {
			// The reason goes to the log only: this endpoint is public and a database error
			// can name hosts and users.
			s.log().WarnContext(ctx, "not ready", "err", err)
			body["status"], body["database"] = "unavailable", "not ready"
			status = http.StatusServiceUnavailable
		}
	}
	if status == http.StatusOK {
		if hs, err := s.Checkout.ProviderHealth(ctx); err == nil {
			list := make([]providerState, 0, len(hs))
			for _, h := range hs {
				list = append(list, providerState{Provider: string(h.Provider), Name: h.Name, State: string(h.State),
					Failures: h.Failures, OpenUntil: h.OpenUntil})
			}
			body["providers"] = list
		} else {
			s.log().WarnContext(ctx, "provider health unreadable", "err", err)
		}
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(status, body)
}

// metricsPage serves GET /metrics in the Prometheus text format.
func (s *Server) metricsPage(c *gin.Context) {
	metrics.Handler().ServeHTTP(c.Writer, c.Request)
}

// observeRequests counts every request by its route pattern (gin's FullPath, so a payment id
// never becomes a label) and status, with its duration.
func observeRequests(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	metrics.HTTPRequest(route, c.Request.Method, c.Writer.Status(), time.Since(start))
}

// LogHandler wraps h so that every record logged with a request's context carries that
// request's id (request_id), whoever logs it: handlers, the checkout service, the provider
// registry. Records without a request context pass through unchanged.
func LogHandler(h slog.Handler) slog.Handler { return requestIDHandler{h} }

type requestIDHandler struct{ slog.Handler }

// withRequestIDs returns log with its handler wrapped by LogHandler, unless it already is.
func withRequestIDs(log *slog.Logger) *slog.Logger {
	if _, ok := log.Handler().(requestIDHandler); ok {
		return log
	}
	return slog.New(LogHandler(log.Handler()))
}

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		has := false
		r.Attrs(func(a slog.Attr) bool {
			has = a.Key == "request_id"
			return !has
		})
		if !has {
			r = r.Clone()
			r.AddAttrs(slog.String("request_id", id))
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(as)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}

// providersDownRetry is the Retry-After of the all-providers-down page: about one cool-down.
const providersDownRetry = "60"

// providersDownPage tells the shopper that every provider for this payment is failing right
// now (their circuit breakers are open): nothing was charged, the payment stays open, and the
// same link works again in a few minutes.
func (s *Server) providersDownPage(c *gin.Context, p *checkout.Payment) {
	c.Header("Retry-After", providersDownRetry)
	render(c, http.StatusServiceUnavailable, views.ErrorPage(views.ErrorView{
		Page:    s.merchantPage(c, "Payments are unavailable", p),
		Heading: "Payments are unavailable right now",
		Message: "The payment services we use are not answering at the moment, so you cannot pay yet. " +
			"Nothing has been charged and your payment is still open: please try again in a few minutes.",
		LinkURL:  "/checkout/" + p.ID,
		LinkText: "Try again",
	}))
}
