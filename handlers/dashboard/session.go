package dashboard

import (
	"net/http"
	"net/mail"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gorilla/sessions"

	"github.com/kassa-pay/kassa/checkout"
	views "github.com/kassa-pay/kassa/views/dashboard"
)

// Session values. The session row lives in the database; the cookie carries only its signed id.
const (
	sessOperator = "op"
	sessSignedIn = "signed_in" // Unix ms: the absolute expiry counts from here
	sessSeen     = "seen"      // Unix ms: the idle expiry counts from here
)

func (h *Handler) idle() time.Duration {
	if h.IdleTimeout > 0 {
		return h.IdleTimeout
	}
	return 30 * time.Minute
}

func (h *Handler) maxAge() time.Duration {
	if h.MaxAge > 0 {
		return h.MaxAge
	}
	return 12 * time.Hour
}

func (h *Handler) session(c *gin.Context) (*sessions.Session, error) {
	s, err := h.Sessions.Get(c.Request, CookieName)
	if s != nil {
		s.Options.Path = "/dashboard"
		s.Options.HttpOnly = true
		s.Options.SameSite = http.SameSiteLaxMode
		s.Options.MaxAge = int(h.maxAge().Seconds())
	}
	return s, err
}

func operator(c *gin.Context) *checkout.Operator {
	if o, ok := c.Get(operatorKey); ok {
		return o.(*checkout.Operator)
	}
	return nil
}

// requireOperator lets a request through only with a live session of an active operator whose
// password has not changed since signing in; anything else goes to the sign-in page.
func (h *Handler) requireOperator(c *gin.Context) {
	o, ok := h.current(c)
	if !ok {
		to := "/dashboard/sign-in"
		if c.Request.Method == http.MethodGet {
			to += "?next=" + url.QueryEscape(c.Request.URL.RequestURI())
		}
		seeOther(c, to)
		return
	}
	c.Set(operatorKey, o)
	c.Next()
}

// current returns the session's operator, ending the session if it has expired.
func (h *Handler) current(c *gin.Context) (*checkout.Operator, bool) {
	if _, err := c.Request.Cookie(CookieName); err != nil {
		return nil, false
	}
	s, err := h.session(c)
	if err != nil {
		h.log().WarnContext(c.Request.Context(), "dashboard session unavailable", "err", err)
		return nil, false
	}
	id, _ := s.Values[sessOperator].(string)
	signedIn, _ := s.Values[sessSignedIn].(int64)
	seen, _ := s.Values[sessSeen].(int64)
	if id == "" {
		return nil, false
	}
	now := h.now()
	end := func() (*checkout.Operator, bool) {
		h.endSession(c, s)
		return nil, false
	}
	if now.Sub(time.UnixMilli(signedIn)) > h.maxAge() || now.Sub(time.UnixMilli(seen)) > h.idle() {
		return end()
	}
	o, err := h.Operators.Find(c.Request.Context(), id)
	if err != nil || !o.SessionValid(time.UnixMilli(signedIn)) {
		return end()
	}
	// Refresh the idle clock at most once a minute: a write per page would queue every
	// page view behind SQLite's single writer.
	if now.Sub(time.UnixMilli(seen)) > time.Minute {
		s.Values[sessSeen] = now.UnixMilli()
		if err := s.Save(c.Request, c.Writer); err != nil {
			h.log().WarnContext(c.Request.Context(), "dashboard session not saved", "err", err)
		}
	}
	return o, true
}

func (h *Handler) endSession(c *gin.Context, s *sessions.Session) {
	s.Options.MaxAge = -1
	if err := s.Save(c.Request, c.Writer); err != nil {
		h.log().WarnContext(c.Request.Context(), "dashboard session not deleted", "err", err)
	}
}

// signInPage serves GET /dashboard/sign-in.
func (h *Handler) signInPage(c *gin.Context) {
	if _, ok := h.current(c); ok {
		seeOther(c, safeNext(c.Query("next")))
		return
	}
	render(c, http.StatusOK, views.SignInPage(views.SignInView{Page: h.page(c, "Sign in", ""), Next: safeNext(c.Query("next"))}))
}

// safeNext keeps a post-sign-in destination inside the dashboard, so the sign-in page cannot
// be used to send an operator elsewhere.
func safeNext(next string) string {
	if next == "/dashboard" || (strings.HasPrefix(next, "/dashboard/") && !strings.ContainsAny(next, "\\\r\n")) {
		if u, err := url.Parse(next); err == nil && u.Host == "" && u.Scheme == "" {
			return next
		}
	}
	return "/dashboard"
}

// signIn serves POST /dashboard/sign-in. A new session (with a new id) begins on success, so a
// session id planted before sign-in is worth nothing after it.
func (h *Handler) signIn(c *gin.Context) {
	email, password := strings.TrimSpace(c.PostForm("email")), c.PostForm("password")
	v := views.SignInView{Page: h.page(c, "Sign in", ""), Email: email, Next: safeNext(c.PostForm("next")), Errors: map[string]string{}}
	if email == "" {
		v.Errors["email"] = "is required"
	}
	if password == "" {
		v.Errors["password"] = "is required"
	}
	if len(v.Errors) > 0 {
		render(c, http.StatusUnprocessableEntity, views.SignInPage(v))
		return
	}
	// The client's address, not the TCP peer's: behind a load balancer every peer is the
	// balancer, and 20 failures from anyone would lock every operator out.
	addr := h.clientAddress(c)
	o, err := h.Operators.SignIn(c.Request.Context(), email, password, addr)
	if err != nil {
		status := http.StatusUnauthorized
		switch {
		case err == checkout.ErrThrottled:
			status = http.StatusTooManyRequests
		case err != checkout.ErrSignIn:
			h.fail(c, err)
			return
		}
		// An audit line for each refusal; never the password, nor what was typed as the email
		// when it is not one (a password pasted into the wrong field).
		h.log().WarnContext(c.Request.Context(), "dashboard sign-in refused", "email", loggableEmail(email),
			"address", addr, "throttled", err == checkout.ErrThrottled)
		v.Notice = views.Notice{Kind: "error", Text: checkout.ErrorMessage(err)}
		render(c, status, views.SignInPage(v))
		return
	}
	if old, err := h.session(c); err == nil && !old.IsNew {
		h.endSession(c, old)
	}
	// A fresh session: New starts from the store's options (Secure when the base URL is
	// https), and an empty id makes Save draw a new one.
	s, err := h.Sessions.New(c.Request, CookieName)
	if s == nil {
		h.fail(c, err)
		return
	}
	s.ID, s.IsNew, s.Values = "", true, map[any]any{}
	s.Options.Path, s.Options.MaxAge, s.Options.HttpOnly, s.Options.SameSite = "/dashboard", int(h.maxAge().Seconds()), true, http.SameSiteLaxMode
	now := h.now().UnixMilli()
	s.Values[sessOperator], s.Values[sessSignedIn], s.Values[sessSeen] = o.ID, now, now
	if err := s.Save(c.Request, c.Writer); err != nil {
		h.fail(c, err)
		return
	}
	h.log().InfoContext(c.Request.Context(), "dashboard sign-in", "operator", o.ID, "address", addr)
	seeOther(c, v.Next)
}

// signOut serves POST /dashboard/sign-out: the session row is deleted, so its cookie is
// worthless even if copied.
func (h *Handler) signOut(c *gin.Context) {
	if _, err := c.Request.Cookie(CookieName); err == nil {
		if s, err := h.session(c); err == nil && !s.IsNew {
			h.endSession(c, s)
		}
	}
	seeOther(c, "/dashboard/sign-in")
}

const sessNotice = "notice"

// setNotice keeps a one-line success message for the page the redirect leads to.
func (h *Handler) setNotice(c *gin.Context, text string) {
	s, err := h.session(c)
	if err != nil {
		return
	}
	s.AddFlash(text, sessNotice)
	if err := s.Save(c.Request, c.Writer); err != nil {
		h.log().WarnContext(c.Request.Context(), "dashboard session not saved", "err", err)
	}
}

func (h *Handler) takeNotice(c *gin.Context) views.Notice {
	s, err := h.session(c)
	if err != nil {
		return views.Notice{}
	}
	f := s.Flashes(sessNotice)
	if len(f) == 0 {
		return views.Notice{}
	}
	if err := s.Save(c.Request, c.Writer); err != nil {
		h.log().WarnContext(c.Request.Context(), "dashboard session not saved", "err", err)
	}
	text, _ := f[len(f)-1].(string)
	return views.Notice{Kind: "success", Text: text}
}

// loggableEmail is the typed email for the audit log, or a placeholder when the text does not
// look like an email address: operators paste passwords into the wrong field.
func loggableEmail(typed string) string {
	e := checkout.NormalizeEmail(typed)
	if _, err := mail.ParseAddress(e); err != nil || strings.ContainsAny(e, " <>") {
		return "(not an email address)"
	}
	return e
}
