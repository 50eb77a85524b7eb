package handlers

import (
	"bytes"
	"context"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/kassa-pay/kassa/checkout"
)

// refundJSON is a refund as the merchant API shows it: checkout.RefundView, the shape a
// payment's refunds have in its JSON and its webhooks too.
type refundJSON = checkout.RefundView

func toRefundJSON(r checkout.Refund) refundJSON { return checkout.RefundViewOf(r) }

func refundsJSON(rs []checkout.Refund) []refundJSON { return checkout.RefundViews(rs) }

// createRefundRequest is the body of POST /api/payment/:id/refunds; every field is optional.
type createRefundRequest struct {
	Amount jsonInt `json:"amount"`
	Reason string  `json:"reason"`
	Note   string  `json:"note"`
}

// createRefund serves POST /api/payment/:id/refunds. An empty body refunds all that is left.
func (s *Server) createRefund(c *gin.Context) {
	p, ok := s.ownPayment(c)
	if !ok {
		return
	}
	var req createRefundRequest
	body, ok := readBody(c)
	if !ok {
		return
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	if !s.decodeJSON(c, body, &req) {
		return
	}
	fields := map[string]string{}
	amount := intField(req.Amount, "amount", false, fields)
	if req.Amount.set && !req.Amount.bad && amount <= 0 {
		fields["amount"] = "must be a positive whole number of minor units"
	}
	if len(fields) > 0 {
		s.apiError(c, &checkout.Error{Code: checkout.EINVALID, Message: "The request has invalid fields.", Fields: fields})
		return
	}
	r, err := s.Checkout.CreateRefund(c.Request.Context(), p.ID, checkout.NewRefund{Amount: amount,
		Reason: checkout.RefundReason(req.Reason), Note: req.Note, RequestedBy: "token:" + principal(c).TokenID})
	if err != nil {
		s.apiError(c, err)
		return
	}
	c.JSON(http.StatusCreated, toRefundJSON(*r))
}

// listRefunds serves GET /api/payment/:id/refunds, oldest first.
func (s *Server) listRefunds(c *gin.Context) {
	if p, ok := s.ownPayment(c); ok {
		c.JSON(http.StatusOK, gin.H{"refunds": refundsJSON(p.Refunds)})
	}
}

// confirmRefund serves POST /api/refunds/:id/confirm (dashboard): the operator returned the
// money of a manual refund in the provider's portal.
func (s *Server) confirmRefund(c *gin.Context) {
	s.decideRefund(c, s.Checkout.ConfirmRefund)
}

// cancelRefund serves POST /api/refunds/:id/cancel (dashboard): a manual refund is withdrawn
// before it was confirmed.
func (s *Server) cancelRefund(c *gin.Context) {
	s.decideRefund(c, s.Checkout.CancelRefund)
}

func (s *Server) decideRefund(c *gin.Context, decide func(ctx context.Context, id string) (*checkout.Refund, error)) {
	r, err := decide(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.apiError(c, err)
		return
	}
	c.JSON(http.StatusOK, toRefundJSON(*r))
}
