package handlers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/gin-gonic/gin"
)

type ctxKey int

const requestIDKey ctxKey = iota

// requestID gives every request an id, echoed in X-Request-Id and attached to its logs (by
// LogHandler, from the context). An incoming id is kept when it looks like one, so a merchant
// or a load balancer can correlate.
func (s *Server) requestID(c *gin.Context) {
	id := c.GetHeader("X-Request-Id")
	if len(id) == 0 || len(id) > 64 || !printable(id) {
		b := make([]byte, 8)
		rand.Read(b)
		id = hex.EncodeToString(b)
	}
	c.Header("X-Request-Id", id)
	c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), requestIDKey, id))
	c.Next()
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// RequestID returns the request id stored in ctx.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// logRequests logs one line per request. It logs the path, never the query or headers, so
// tokens and provider parameters stay out of the logs.
func (s *Server) logRequests(c *gin.Context) {
	start := time.Now()
	c.Next()
	status := c.Writer.Status()
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	s.log().LogAttrs(c.Request.Context(), level, "request",
		slog.String("method", c.Request.Method),
		slog.String("path", c.Request.URL.Path),
		slog.Int("status", status),
		slog.Duration("duration", time.Since(start)))
}

func (s *Server) recoverPanics(c *gin.Context) {
	defer func() {
		if v := recover(); v != nil {
			s.log().ErrorContext(c.Request.Context(), "panic", "value", v, "stack", string(debug.Stack()))
			if !c.Writer.Written() && isAPI(c) {
				c.AbortWithStatusJSON(http.StatusInternalServerError, gin.H{"message": "Internal error.", "code": "internal"})
				return
			}
			if !c.Writer.Written() {
				s.writeErrorPage(c.Writer, c.Request, http.StatusInternalServerError, "Something went wrong",
					"Kassa hit an internal error. Nothing was charged by this page; please try again.")
			}
			c.Abort()
		}
	}()
	c.Next()
}

// securityHeaders: no framing (the pay button cannot be clickjacked), no sniffing, no
// referrer leaking payment ids to providers, and a CSP that allows only Kassa's own files
// (and https images, for merchants' logos).
// form-action is left open on purpose: the checkout form redirects to the provider's host.
func securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data: https:; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	c.Next()
}
