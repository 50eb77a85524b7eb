package handlers

import (
	"bytes"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/kassa-pay/kassa/checkout"
)

// validUTF8 refuses a request whose path, query, urlencoded form, Idempotency-Key or
// Authorization is not UTF-8 text (or holds a NUL), before any handler looks a value up. Such bytes can name
// nothing Kassa stores (its ids and keys are text), and PostgreSQL rejects them in any
// statement, which would otherwise surface as a 500: bad input gets a 4xx on either database.
// JSON bodies need no check: encoding/json already replaces invalid bytes.
func (s *Server) validUTF8(c *gin.Context) {
	r := c.Request
	if !text(r.URL.Path) {
		s.notFound(c)
		return
	}
	if !text(r.Header.Get("Authorization")) {
		s.apiError(c, checkout.Errorf(checkout.EUNAUTHORIZED, "Unauthenticated"))
		return
	}
	field := ""
	if !text(r.Header.Get("Idempotency-Key")) {
		field = "Idempotency-Key"
	}
	for k, vs := range r.URL.Query() {
		if field == "" && !validAll(k, vs) {
			field = "query"
		}
	}
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); field == "" && ct == "application/x-www-form-urlencoded" && r.Body != nil {
		// The body is read and put back as it was: callbacks verify their raw bytes, and the
		// handlers parse forms themselves. A body beyond the limit is left to them unchecked.
		body, err := io.ReadAll(io.LimitReader(r.Body, maxFormCheck+1))
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(body), r.Body), r.Body}
		if err == nil && len(body) <= maxFormCheck {
			form, _ := url.ParseQuery(string(body)) // the pairs that parse, as the handlers will see them
			for k, vs := range form {
				if !validAll(k, vs) {
					field = "form"
					break
				}
			}
		}
	}
	if field == "" {
		c.Next()
		return
	}
	if isAPI(c) {
		s.apiError(c, &checkout.Error{Code: checkout.EINVALID, Message: "The request has invalid fields.",
			Fields: map[string]string{field: "must be UTF-8 text without NUL"}})
		return
	}
	t := tr(c)
	s.errorPage(c, http.StatusBadRequest, t.T("error.genericHeading"), t.T("error.notAllowedText"))
}

// maxFormCheck is the largest urlencoded body validUTF8 reads: far more than any form of
// Kassa's, and little enough to hold in memory.
const maxFormCheck = 1 << 20

// text reports whether v is text a database column can hold: UTF-8 without NUL (PostgreSQL
// refuses either).
func text(v string) bool { return utf8.ValidString(v) && !strings.ContainsRune(v, 0) }

func validAll(k string, vs []string) bool {
	if !text(k) {
		return false
	}
	for _, v := range vs {
		if !text(v) {
			return false
		}
	}
	return true
}
