package handlers

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/kassa-pay/kassa/checkout"
	"github.com/kassa-pay/kassa/providers"
)

// providerCallback serves POST /callbacks/:provider, where providers notify Kassa server to
// server. The provider adapter authenticates the delivery its documented way; a verified
// notification only makes Kassa fetch the order, exactly as a return does.
func (s *Server) providerCallback(c *gin.Context) {
	ctx := c.Request.Context()
	id := providers.ID(c.Param("provider"))
	pr, ok := s.Checkout.Providers.Get(id)
	recv, canReceive := pr.(providers.CallbackReceiver)
	if !ok || !canReceive {
		c.AbortWithStatusJSON(http.StatusNotFound, gin.H{"message": "Unknown provider.", "code": checkout.ENOTFOUND})
		return
	}
	body, ok := readBody(c) // 413 only when too large; a body that cannot be read is a 400
	if !ok {
		return
	}
	hint, err := recv.ReadCallback(ctx, c.Request.Header, body)
	if err != nil {
		s.log().WarnContext(ctx, "provider callback rejected", "provider", id, "err", err)
		status := http.StatusBadRequest
		if providers.Temporary(err) {
			status = http.StatusServiceUnavailable // let the provider deliver it again
		}
		c.AbortWithStatusJSON(status, gin.H{"message": "Callback not accepted.", "code": "callback_rejected"})
		return
	}
	a, err := s.Checkout.AttemptForCallback(ctx, id, hint)
	if errors.Is(err, checkout.ErrNotFound) {
		s.log().WarnContext(ctx, "provider callback for an unknown order", "provider", id, "ref", hint.ProviderRef, "reference", hint.Reference)
		c.JSON(http.StatusOK, gin.H{"received": true})
		return
	} else if err != nil {
		s.apiError(c, err)
		return
	}
	// A notification may announce a reversal of a paid attempt, so it is verified even then.
	if _, err := s.Checkout.VerifyNotified(ctx, a.PaymentID, a.ID); err != nil {
		s.apiError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"received": true})
}
