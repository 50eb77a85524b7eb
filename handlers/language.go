package handlers

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kassa-pay/kassa/checkout"
	"github.com/kassa-pay/kassa/locale"
)

// The shopper's language: chosen per request by chooseLanguage, put in the request's context
// as a *locale.Translator (views read it from there, see views.T), and refined by the
// payment's application default once a handler knows the payment (shopperTranslator).
//
// The dashboard pages are English and do not read the translator yet; translating them later
// is data only: give their strings keys in locale/messages and write { T(ctx, "key") } in
// views/dashboard, as the shopper views do.

// langCookie remembers a language picked with ?lang= for a year.
const langCookie = "kassa_lang"

const langCookieMaxAge = 365 * 24 * 60 * 60

// gin context keys of the language choice.
const (
	langAskedKey = "kassa.lang.asked"
	langAppKey   = "kassa.lang.app"
)

func (s *Server) catalogue() *locale.Catalogue {
	if s.Locale != nil {
		return s.Locale
	}
	return locale.Shared()
}

// chooseLanguage picks the language of a browser request: ?lang=xx (remembered in a cookie
// when Kassa speaks it), else the cookie, else Accept-Language by quality; the application's
// default and English come later, in shopperTranslator. API routes speak JSON and are left alone.
func (s *Server) chooseLanguage(c *gin.Context) {
	if isAPI(c) {
		c.Next()
		return
	}
	q := c.Query("lang")
	if code, ok := locale.Valid(q); ok {
		http.SetCookie(c.Writer, &http.Cookie{Name: langCookie, Value: code, Path: "/", MaxAge: langCookieMaxAge,
			HttpOnly: true, Secure: s.secureCookies(), SameSite: http.SameSiteLaxMode})
	}
	ck := ""
	if v, err := c.Request.Cookie(langCookie); err == nil {
		ck = v.Value
	}
	code, asked := locale.Asked(q, ck, c.GetHeader("Accept-Language"))
	c.Set(langAskedKey, asked)
	s.useLanguage(c, code)
	c.Next()
}

// useLanguage makes code the language the request's pages are rendered in.
func (s *Server) useLanguage(c *gin.Context, code string) {
	c.Request = c.Request.WithContext(locale.WithTranslator(c.Request.Context(), s.catalogue().Translator(code)))
}

// tr is the request's translator.
func tr(c *gin.Context) *locale.Translator { return locale.From(c.Request.Context()) }

// shopperTranslator reads the application a shopper page belongs to (once per request) and,
// when the shopper asked for no language Kassa speaks, switches to the application's default
// language. Handlers call it before they put anything into words.
func (s *Server) shopperTranslator(c *gin.Context, clientID string) *locale.Translator {
	a := s.pageApp(c, clientID)
	if asked, _ := c.Get(langAskedKey); asked != true && a != nil && a.DefaultLanguage != "" {
		s.useLanguage(c, a.DefaultLanguage)
	}
	return tr(c)
}

// pageApp is the application clientID, read once per request; nil when it cannot be read
// (branding and language are decoration: the page is still shown).
func (s *Server) pageApp(c *gin.Context, clientID string) *checkout.App {
	if v, ok := c.Get(langAppKey); ok {
		if a, _ := v.(*checkout.App); a != nil && a.ClientID == clientID {
			return a
		}
	}
	a, err := s.Checkout.App(c.Request.Context(), clientID)
	if err != nil {
		return nil
	}
	c.Set(langAppKey, a)
	return a
}

// varyByLanguage marks a page whose words depend on the language headers, so no cache serves
// one shopper's language to another.
func varyByLanguage(h http.Header) {
	for _, v := range h.Values("Vary") {
		if strings.Contains(v, "Accept-Language") {
			return
		}
	}
	h.Add("Vary", "Accept-Language, Cookie")
}

// money writes an amount the way the request's language writes money.
func money(ctx context.Context, m checkout.Money) string {
	return locale.From(ctx).Money(m.Amount, m.Currency)
}

// say puts a catalogue message into the translator's words.
func say(t *locale.Translator, m checkout.Message) string {
	args := make([]any, len(m.Args))
	for i, a := range m.Args {
		args[i] = a
	}
	return t.T(m.Key, args...)
}

// errorText is err's message in the page's language: its catalogue message when it has one,
// else its English text.
func errorText(t *locale.Translator, err error) string {
	if m, ok := checkout.ShopperMessage(err); ok {
		return say(t, m)
	}
	return checkout.ErrorMessage(err)
}

// fieldTexts are err's field errors as whole sentences in the page's language. A field
// without a catalogue message keeps its English text after the field's name ("quantity must
// be…"), so nothing is lost, and the page test catches it.
func fieldTexts(t *locale.Translator, err error) map[string]string {
	var e *checkout.Error
	if !errors.As(err, &e) || len(e.Fields) == 0 {
		return nil
	}
	out := make(map[string]string, len(e.Fields))
	for f, msg := range e.Fields {
		if m, ok := e.ShopperFields[f]; ok && m.Key != "" {
			out[f] = say(t, m)
		} else {
			out[f] = f + " " + msg
		}
	}
	return out
}
