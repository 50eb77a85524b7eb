package handlers

import (
	"crypto/hmac"
	"crypto/sha256"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/gorilla/securecookie"

	"github.com/kassa-pay/kassa/views"
)

// flashCookie carries a one-time notice to the next page of the same payment: the checkout page
// after a return from the provider's cancel URL. It lives in a signed cookie scoped to the
// payment's path, not in a server-side session, so a return (which anyone can request, with or
// without cookies) never writes a session row: requests that need no session create none.
const flashCookie = "kassa_flash"

// flashMaxAge bounds how long a notice waits for the page it was meant for.
const flashMaxAge = 300

// flashCodec signs flash cookies with a key derived from the CSRF key, so every instance on
// the same database agrees on it without another setting.
func (s *Server) flashCodec() *securecookie.SecureCookie {
	m := hmac.New(sha256.New, s.CSRFKey)
	m.Write([]byte("kassa flash cookie v1"))
	sc := securecookie.New(m.Sum(nil), nil)
	sc.MaxAge(flashMaxAge)
	return sc
}

// flashPath is the path the flash cookie is scoped to: the payment's own pages.
func flashPath(c *gin.Context) string { return "/checkout/" + c.Param("id") }

// setFlash leaves n for the next checkout page of this payment.
func (s *Server) setFlash(c *gin.Context, n views.Notice) {
	v, err := s.flashCodec().Encode(flashCookie, n.Kind+"|"+n.Text)
	if err != nil {
		s.log().WarnContext(c.Request.Context(), "flash not set", "err", err)
		return
	}
	http.SetCookie(c.Writer, &http.Cookie{Name: flashCookie, Value: v, Path: flashPath(c), MaxAge: flashMaxAge,
		HttpOnly: true, Secure: s.secureCookies(), SameSite: http.SameSiteLaxMode})
}

// takeFlash returns the notice left for this page, if any, and clears it.
func (s *Server) takeFlash(c *gin.Context) views.Notice {
	ck, err := c.Request.Cookie(flashCookie)
	if err != nil {
		return views.Notice{}
	}
	http.SetCookie(c.Writer, &http.Cookie{Name: flashCookie, Path: flashPath(c), MaxAge: -1,
		HttpOnly: true, Secure: s.secureCookies(), SameSite: http.SameSiteLaxMode})
	var v string
	if err := s.flashCodec().Decode(flashCookie, ck.Value, &v); err != nil {
		return views.Notice{}
	}
	kind, text, _ := strings.Cut(v, "|")
	return views.Notice{Kind: kind, Text: text}
}
