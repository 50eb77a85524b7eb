package handlers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"
	"github.com/gorilla/securecookie"

	"github.com/kassa-pay/kassa/checkout"
	"github.com/kassa-pay/kassa/locale"
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
	m.Write([]byte("kassa flash cookie v2"))
	sc := securecookie.New(m.Sum(nil), nil)
	sc.MaxAge(flashMaxAge)
	return sc
}

// flashPath is the path the flash cookie is scoped to: the payment's own pages.
func flashPath(c *gin.Context) string { return "/checkout/" + c.Param("id") }

// setFlash leaves a notice of kind ("error", "info", "success") for the next checkout page of
// this payment. It carries the message's catalogue key, not its words, so the page says it in
// the language it is shown in.
func (s *Server) setFlash(c *gin.Context, kind string, m checkout.Message) {
	raw, err := json.Marshal(flashNotice{Payment: c.Param("id"), Kind: kind, Message: m})
	if err != nil {
		return
	}
	v, err := s.flashCodec().Encode(flashCookie, string(raw))
	if err != nil {
		s.log().WarnContext(c.Request.Context(), "flash not set", "err", err)
		return
	}
	http.SetCookie(c.Writer, &http.Cookie{Name: flashCookie, Value: v, Path: flashPath(c), MaxAge: flashMaxAge,
		HttpOnly: true, Secure: s.secureCookies(), SameSite: http.SameSiteLaxMode})
}

// flashNotice is a flash cookie's content.
type flashNotice struct {
	// Payment is the payment the notice is for: the cookie's path is only a hint to the
	// browser, so the signed content says which payment's page may show it.
	Payment string           `json:"payment"`
	Kind    string           `json:"kind"`
	Message checkout.Message `json:"message"`
}

// takeFlash returns the notice left for this page, if any, in t's words, and clears it.
func (s *Server) takeFlash(c *gin.Context, t *locale.Translator) views.Notice {
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
	var n flashNotice
	if err := json.Unmarshal([]byte(v), &n); err != nil || n.Message.Key == "" || n.Payment != c.Param("id") {
		return views.Notice{}
	}
	return views.Notice{Kind: n.Kind, Text: say(t, n.Message)}
}
