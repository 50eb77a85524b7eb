package handlers

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kassa-pay/kassa/checkout"
	"github.com/kassa-pay/kassa/providers"
)

// paymentInstructions serves GET /api/payment/:id/instructions?provider=P&method=M[&phone=N]:
// what a shopper needs to pay with that provider and method outside the checkout page. It
// reuses a live attempt for the same provider and method, and creates the provider order
// otherwise, so calling it again (or concurrently) does not create a second order. When the
// provider's answer to the create was lost, the answer is "confirming": the order may exist
// and is looked up, never created twice.
func (s *Server) paymentInstructions(c *gin.Context) {
	p, ok := s.ownPayment(c)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	id := providers.ID(c.Query("provider"))
	method := c.Query("method")
	if id == "" {
		s.apiError(c, &checkout.Error{Code: checkout.EINVALID, Message: "The request has invalid fields.",
			Fields: map[string]string{"provider": "is required (" + s.providerIDs() + ")"}})
		return
	}
	if p.Status != checkout.PaymentOpen || s.Checkout.PastExpiry(p) {
		s.apiError(c, checkout.Errorf(checkout.ECONFLICT, "This payment can no longer be paid (it is %s).", p.Status))
		return
	}
	// StartAttempt returns the live attempt for this provider and method when there is one
	// (the store allows one per payment, provider and method, so concurrent calls share it),
	// and creates the provider order otherwise: this GET is safe to retry.
	phone := c.Query("phone")
	if phone == "" {
		phone = p.Customer.Phone
	}
	attempt, err := s.Checkout.StartAttempt(ctx, p.ID, checkout.Choice{Provider: id, Method: method, Phone: phone})
	if err != nil {
		s.apiError(c, err)
		return
	}
	name := s.providerName(attempt.Provider)
	out := gin.H{
		"paymentId": p.ID, "attemptId": attempt.ID, "provider": attempt.Provider, "method": attempt.Method,
		"status": attempt.Status, "amount": p.Amount, "currencyCode": p.Currency, "reference": p.ReferenceLabel,
		"expiresAt": p.ExpiresAt,
	}
	switch {
	case attempt.Status == checkout.AttemptCreating || attempt.Status == checkout.AttemptReview ||
		(attempt.PayURL == "" && (attempt.ProviderRef == "" || !s.Checkout.IsPush(ctx, *attempt))):
		out["type"] = "confirming"
		out["steps"] = []string{
			"Kassa is confirming this payment with " + name + "; do not start another payment for it.",
			"Call this endpoint again in a few seconds, or poll GET /api/payment/" + p.ID + " to see it paid.",
		}
	case attempt.PayURL != "":
		out["type"] = "redirect"
		out["payUrl"] = attempt.PayURL
		out["steps"] = []string{
			"Open the pay URL in a browser.",
			"Pay " + p.Money.String() + " on " + name + "'s page.",
			"You are brought back to " + s.Checkout.URLs.Checkout(p.ID) + " once " + name + " confirms the payment.",
		}
	default:
		out["type"] = "push"
		out["steps"] = []string{
			name + " has sent a payment request for " + p.Money.String() + " to the shopper's phone.",
			"The shopper approves it on the phone (for example by entering their PIN).",
			"Kassa confirms the payment with " + name + "; poll GET /api/payment/" + p.ID + " to see it paid.",
		}
	}
	c.JSON(http.StatusOK, out)
}

// providerIDs lists the configured providers for error messages.
func (s *Server) providerIDs() string {
	var ids []string
	for _, p := range s.Checkout.Providers.All() {
		ids = append(ids, string(p.ID()))
	}
	return strings.Join(ids, ", ")
}
