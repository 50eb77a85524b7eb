package handlers

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/kassa-pay/kassa/checkout"
	"github.com/kassa-pay/kassa/views"
)

// The demo store acts as a merchant: its webhook endpoint verifies each webhook with the
// Standard Webhooks library exactly as a merchant's server would, and its order page shows
// what arrived.

// demoWebhook serves POST /demo/webhooks, the demo store's webhook endpoint.
func (s *Server) demoWebhook(c *gin.Context) {
	if s.DemoClientID == "" || s.DemoStore == nil {
		c.AbortWithStatusJSON(http.StatusNotFound, gin.H{"message": "The demo store is off.", "code": "not_found"})
		return
	}
	ctx := c.Request.Context()
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, 1<<20))
	id := c.GetHeader(standardwebhooks.HeaderWebhookID)
	if err != nil || id == "" {
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"message": "Not a webhook.", "code": "bad_request"})
		return
	}
	app, err := s.Checkout.App(ctx, s.DemoClientID)
	if err != nil {
		s.apiError(c, err)
		return
	}
	wh, err := standardwebhooks.NewWebhook(app.WebhookSecret.Reveal())
	if err == nil {
		err = wh.Verify(body, c.Request.Header)
	}
	var msg struct {
		Type string `json:"type"`
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if jerr := json.Unmarshal(body, &msg); jerr != nil && err == nil {
		err = jerr
	}
	rec := checkout.DemoWebhook{WebhookID: id, PaymentID: msg.Data.ID, Type: msg.Type, Verified: err == nil, ReceivedAt: time.Now().UTC()}
	if err != nil {
		rec.Error = err.Error()
	}
	// Only what verified is kept: anyone can POST here, and a store must not let strangers
	// write into its records.
	if err == nil && msg.Data.ID != "" {
		if rerr := s.DemoStore.RecordDemoWebhook(ctx, rec); rerr != nil {
			s.apiError(c, rerr)
			return
		}
	}
	if err != nil {
		s.log().WarnContext(ctx, "demo store: webhook refused", "webhook_id", id, "err", err)
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"message": "Signature not verified.", "code": "bad_request"})
		return
	}
	c.Status(http.StatusNoContent)
}

// demoOrder serves GET /orders/:ref, the demo store's order page, where the shopper lands
// after paying.
func (s *Server) demoOrder(c *gin.Context) {
	if s.DemoClientID == "" || s.DemoStore == nil {
		s.notFound(c)
		return
	}
	ctx := c.Request.Context()
	pid, err := s.DemoStore.FindDemoOrder(ctx, c.Param("ref"))
	if errors.Is(err, checkout.ErrNotFound) {
		s.notFound(c)
		return
	} else if err != nil {
		s.pageError(c, err)
		return
	}
	p, err := s.Checkout.Payment(ctx, pid)
	if err != nil {
		s.pageError(c, err)
		return
	}
	received, err := s.DemoStore.DemoWebhooks(ctx, pid)
	if err != nil {
		s.pageError(c, err)
		return
	}
	v := views.OrderView{Page: page("Order " + p.Reference), Reference: p.Reference, Amount: p.Money.String(), Status: string(p.Status)}
	v.Page.Brand = "Kassa demo store"
	for _, w := range received {
		v.Webhooks = append(v.Webhooks, views.OrderWebhookView{Type: w.Type, ID: w.WebhookID, Verified: w.Verified, Error: w.Error,
			ReceivedAt: w.ReceivedAt.Format("15:04:05 MST")})
		v.PaidWebhook = v.PaidWebhook || (w.Verified && w.Type == checkout.WebhookPaymentPaid)
	}
	if app, err := s.Checkout.App(ctx, s.DemoClientID); err == nil && app.WebhookURL == "" {
		v.WebhooksOff = true
	}
	if !v.PaidWebhook && !v.WebhooksOff {
		v.Page.Refresh = 2
	}
	render(c, http.StatusOK, views.OrderPage(v))
}
