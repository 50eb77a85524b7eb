package handlers

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"regexp"
	"time"

	"github.com/gin-gonic/gin"
)

// linkFormKey is a fresh key for one drawing of a link's form.
func linkFormKey() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

var linkFormKeyPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

// linkForm is the claim of one drawing of a link's form (see claimLinkForm); its zero value
// (a form without a key) claims nothing.
type linkForm struct {
	s        *Server
	ctx      context.Context
	ns, key  string
	finished bool
}

// claimLinkForm makes a link's form act once per drawing: its key is claimed as an
// idempotency key (namespaced by the link), so the same form sent again (a double click with
// JavaScript off, whose second answer is the one the browser shows; the Back button) is sent
// to the payment the first send created instead of making a second one, which on a link with
// one place left would answer "sold out" while the shopper's own payment holds the place. The
// same form with another quantity is another request and creates another payment; a form
// without a key (an embedded one, an older page) creates one each time, as before.
//
// done reports that the answer was given (the first send's payment, or an error page); else
// the caller runs, calls finish with the payment it created, and defers release.
func (s *Server) claimLinkForm(c *gin.Context) (f *linkForm, done bool) {
	ctx := c.Request.Context()
	f = &linkForm{s: s, ctx: context.WithoutCancel(ctx)}
	key := c.PostForm("key")
	if s.Idempotency == nil || !linkFormKeyPattern.MatchString(key) {
		return f, false
	}
	ns := "link:" + c.Param("id")
	sum := sha256.Sum256([]byte(c.PostForm("quantity")))
	hash := hex.EncodeToString(sum[:])
	// The first send takes a moment (one write); a second one arriving meanwhile waits for it.
	deadline := time.Now().Add(5 * time.Second)
	for {
		held, err := s.Idempotency.ClaimIdempotencyKey(ctx, ns, key, hash)
		switch {
		case err != nil:
			s.pageError(c, err)
			return nil, true
		case !held.SameRequest:
			return f, false
		case held.Done:
			c.Redirect(http.StatusSeeOther, "/checkout/"+string(held.Body))
			return nil, true
		case held.Claimed:
			f.ns, f.key = ns, key
			return f, false
		}
		if time.Now().After(deadline) {
			return f, false // create without the key rather than keep the shopper waiting
		}
		select {
		case <-ctx.Done():
			return nil, true
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// finish records the payment the form created, for the same form sent again.
func (f *linkForm) finish(paymentID string) {
	if f.key == "" {
		return
	}
	f.finished = true
	if err := f.s.Idempotency.FinishIdempotencyKey(f.ctx, f.ns, f.key, http.StatusSeeOther, []byte(paymentID)); err != nil {
		f.s.log().ErrorContext(f.ctx, "payment link form key not recorded", "err", err)
	}
}

// release frees the key of a form that created nothing, so it may be sent again.
func (f *linkForm) release() {
	if f.key == "" || f.finished {
		return
	}
	if err := f.s.Idempotency.ReleaseIdempotencyKey(f.ctx, f.ns, f.key); err != nil {
		f.s.log().ErrorContext(f.ctx, "payment link form key not released", "err", err)
	}
}
