package handlers

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kassa-pay/kassa/checkout"
)

// recordingWriter keeps a copy of the response so it can be stored for replay.
type recordingWriter struct {
	gin.ResponseWriter
	body bytes.Buffer
}

func (w *recordingWriter) Write(b []byte) (int, error) {
	w.body.Write(b)
	return w.ResponseWriter.Write(b)
}

// idempotent honours the Idempotency-Key header on API POSTs with Stripe's semantics: the same
// key with the same body within 24 hours replays the first successful response; the same key
// with another body is 409; a second request while the first still runs is 409; a request
// that failed is not stored, so a retry runs again. A claim is a lease of a minute
// (db.IdempotencyLease), renewed while the request runs, so a request that crashed frees its
// key soon and a slow one is never run a second time beside itself.
func (s *Server) idempotent(c *gin.Context) {
	key := c.GetHeader("Idempotency-Key")
	if key == "" || s.Idempotency == nil {
		c.Next()
		return
	}
	if len(key) > 255 {
		s.apiError(c, &checkout.Error{Code: checkout.EINVALID, Message: "Idempotency-Key is too long.",
			Fields: map[string]string{"Idempotency-Key": "must be at most 255 characters"}})
		return
	}
	body, ok := readBody(c)
	if !ok {
		return
	}
	c.Request.Body = io.NopCloser(bytes.NewReader(body))
	sum := sha256.Sum256(append([]byte(c.Request.Method+" "+c.Request.URL.Path+"\n"), body...))
	hash := hex.EncodeToString(sum[:])
	ctx := c.Request.Context()
	clientID := principal(c).ClientID
	held, err := s.Idempotency.ClaimIdempotencyKey(ctx, clientID, key, hash)
	switch {
	case err != nil:
		s.apiError(c, err)
		return
	case !held.SameRequest:
		s.apiError(c, checkout.Errorf(checkout.ECONFLICT, "This Idempotency-Key was already used with a different request."))
		return
	case held.Done:
		c.Header("Idempotent-Replayed", "true")
		c.Data(held.Status, "application/json; charset=utf-8", held.Body)
		c.Abort()
		return
	case !held.Claimed:
		s.apiError(c, checkout.Errorf(checkout.ECONFLICT, "A request with this Idempotency-Key is still being processed; retry later."))
		return
	}
	// From here the request runs to its end and its answer is recorded even if the client
	// hangs up: a payment created for a vanished client must be replayable to its retry, and
	// the key must not stay claimed. (A crashed process leaves the claim to its short lease.)
	ctx = context.WithoutCancel(ctx)
	c.Request = c.Request.WithContext(ctx)
	rec := &recordingWriter{ResponseWriter: c.Writer}
	c.Writer = rec
	stop := s.renewIdempotencyKey(ctx, clientID, key)
	c.Next()
	stop()
	if status := rec.Status(); status >= 200 && status < 300 {
		err = s.Idempotency.FinishIdempotencyKey(ctx, clientID, key, status, rec.body.Bytes())
	} else {
		err = s.Idempotency.ReleaseIdempotencyKey(ctx, clientID, key)
	}
	if err != nil {
		s.log().ErrorContext(ctx, "idempotency key not recorded", "err", err)
	}
}

// renewIdempotencyKey renews the key's claim every IdempotencyRenew until the returned stop is
// called (which waits for a renewal under way), so that a request outliving the lease keeps its
// key.
func (s *Server) renewIdempotencyKey(ctx context.Context, clientID, key string) (stop func()) {
	every := s.IdempotencyRenew
	if every <= 0 {
		every = 15 * time.Second
	}
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				if err := s.Idempotency.ExtendIdempotencyKey(ctx, clientID, key); err != nil {
					s.log().ErrorContext(ctx, "idempotency key not renewed", "err", err)
				}
			}
		}
	}()
	return func() { close(quit); <-done }
}
