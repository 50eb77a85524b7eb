package handlers

import (
	"errors"
	"net/http"
	"strings"

	"github.com/a-h/templ"
	"github.com/gin-gonic/gin"

	"github.com/kassa-pay/kassa/checkout"
	"github.com/kassa-pay/kassa/static"
	"github.com/kassa-pay/kassa/views"
)

// render writes a templ component as the response.
func render(c *gin.Context, status int, comp templ.Component) {
	writeComponent(c.Writer, c.Request, status, comp)
}

func writeComponent(w http.ResponseWriter, r *http.Request, status int, comp templ.Component) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if err := comp.Render(r.Context(), w); err != nil && !errors.Is(err, r.Context().Err()) {
		panic(err)
	}
}

func page(title string) views.Page {
	return views.Page{Title: title + " · Kassa", CSS: "/static/kassa.css?v=" + static.CSSVersion}
}

// httpStatus is the one mapping of domain error codes to HTTP statuses.
func httpStatus(code string) int {
	switch code {
	case checkout.EINVALID:
		return http.StatusUnprocessableEntity
	case checkout.ENOTFOUND:
		return http.StatusNotFound
	case checkout.ECONFLICT:
		return http.StatusConflict
	case checkout.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case checkout.EFORBIDDEN:
		return http.StatusForbidden
	case checkout.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// apiError answers an API request with err as JSON, logging only Kassa's own failures.
func (s *Server) apiError(c *gin.Context, err error) {
	code := checkout.ErrorCode(err)
	status := httpStatus(code)
	body := gin.H{"message": checkout.ErrorMessage(err), "code": code}
	if status >= 500 {
		s.log().ErrorContext(c.Request.Context(), "api error", "err", err)
		body["message"] = "Internal error. The request id in X-Request-Id helps support find it."
	}
	var e *checkout.Error
	if errors.As(err, &e) && len(e.Fields) > 0 {
		fields := map[string][]string{}
		for f, m := range e.Fields {
			fields[f] = []string{m}
		}
		body["errors"] = fields
	}
	c.AbortWithStatusJSON(status, body)
}

// pageError answers a browser request with a friendly page for err.
func (s *Server) pageError(c *gin.Context, err error) {
	code := checkout.ErrorCode(err)
	status := httpStatus(code)
	switch code {
	case checkout.ENOTFOUND:
		s.errorPage(c, status, "Payment not found", "We could not find this payment. Check the link you were given, or ask the merchant for a new one.")
	case checkout.EUNAVAILABLE:
		s.errorPage(c, status, "Payment provider unavailable", checkout.ErrorMessage(err))
	case checkout.EINTERNAL:
		s.log().ErrorContext(c.Request.Context(), "page error", "err", err)
		s.errorPage(c, status, "Something went wrong", "Kassa hit an internal error. Nothing was charged by this page; please try again.")
	default:
		s.errorPage(c, status, "This did not work", checkout.ErrorMessage(err))
	}
}

func (s *Server) errorPage(c *gin.Context, status int, heading, message string) {
	s.writeErrorPage(c.Writer, c.Request, status, heading, message)
	c.Abort()
}

func (s *Server) writeErrorPage(w http.ResponseWriter, r *http.Request, status int, heading, message string) {
	writeComponent(w, r, status, views.ErrorPage(views.ErrorView{Page: page(heading), Heading: heading, Message: message}))
}

func (s *Server) notFound(c *gin.Context) {
	if isAPI(c) {
		c.AbortWithStatusJSON(http.StatusNotFound, gin.H{"message": "Not found", "code": checkout.ENOTFOUND})
		return
	}
	s.errorPage(c, http.StatusNotFound, "Page not found", "There is nothing at this address.")
}

// merchantPage is page() branded for the payment's application, and marked "Test mode" when
// it involves a simulated provider. Branding is decoration: if the application cannot be read,
// the page is shown unbranded rather than not at all.
func (s *Server) merchantPage(c *gin.Context, title string, p *checkout.Payment) views.Page {
	pg := page(title)
	pg.TestMode = s.touchesSimulator(c.Request.Context(), p)
	a, err := s.Checkout.App(c.Request.Context(), p.ClientID)
	if err != nil {
		return pg
	}
	pg.Brand, pg.Logo = a.Name, a.LogoURL
	if a.DisplayName != "" {
		pg.Brand = a.DisplayName
	}
	if a.AccentColor != "" {
		pg.BrandCSS = "/brand/" + a.ClientID + ".css?v=" + strings.TrimPrefix(a.AccentColor, "#")
	}
	return pg
}

// brandCSS serves GET /brand/:file: an application's accent colour as a stylesheet, so the
// Content-Security-Policy can keep refusing inline styles.
func (s *Server) brandCSS(c *gin.Context) {
	a, err := s.Checkout.App(c.Request.Context(), strings.TrimSuffix(c.Param("file"), ".css"))
	if err != nil || a.AccentColor == "" {
		c.Status(http.StatusNotFound)
		return
	}
	c.Header("Cache-Control", "public, max-age=300")
	c.Data(http.StatusOK, "text/css; charset=utf-8", []byte(":root,html{--accent:"+a.AccentColor+"}\n"))
}
