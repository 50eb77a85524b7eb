package handlers

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kassa-pay/kassa/checkout"
)

// deliveryJSON is a webhook delivery as the API shows it.
type deliveryJSON struct {
	ID            string                `json:"id"`
	Type          string                `json:"type"`
	Status        string                `json:"status"`
	Attempts      []deliveryAttemptJSON `json:"attempts"`
	NextAttemptAt *time.Time            `json:"nextAttemptAt"`
	LastError     string                `json:"lastError"`
	EventAt       time.Time             `json:"eventAt"`
	DeliveredAt   *time.Time            `json:"deliveredAt"`
	CreatedAt     time.Time             `json:"createdAt"`
}

type deliveryAttemptJSON struct {
	At         time.Time `json:"at"`
	URL        string    `json:"url"`
	HTTPStatus *int      `json:"httpStatus"`
	Error      string    `json:"error"`
	DurationMS int64     `json:"durationMs"`
	Response   string    `json:"response"`
}

func deliveryView(d *checkout.Delivery) deliveryJSON {
	out := deliveryJSON{ID: d.ID, Type: d.Type, Status: string(d.Status), Attempts: []deliveryAttemptJSON{},
		LastError: d.LastError, EventAt: d.EventAt, DeliveredAt: timePtr(d.DeliveredAt), CreatedAt: d.CreatedAt}
	if d.Status == checkout.DeliveryPending {
		out.NextAttemptAt = timePtr(d.NextAttemptAt)
	}
	for _, a := range d.Attempts {
		aj := deliveryAttemptJSON{At: a.At, URL: a.URL, Error: a.Error, DurationMS: a.Duration.Milliseconds(), Response: a.Response}
		if a.HTTPStatus != 0 {
			st := a.HTTPStatus
			aj.HTTPStatus = &st
		}
		out.Attempts = append(out.Attempts, aj)
	}
	return out
}

// paymentWebhookDeliveries serves GET /api/payment/:id/webhook-deliveries: the webhooks sent
// (or being sent) about one payment, with every attempt.
func (s *Server) paymentWebhookDeliveries(c *gin.Context) {
	p, ok := s.ownPayment(c)
	if !ok {
		return
	}
	ds, err := s.Checkout.WebhookDeliveries(c.Request.Context(), p.ID)
	if err != nil {
		s.apiError(c, err)
		return
	}
	out := []deliveryJSON{}
	for i := range ds {
		out = append(out, deliveryView(&ds[i]))
	}
	c.JSON(http.StatusOK, gin.H{"paymentId": p.ID, "deliveries": out})
}

// redeliverWebhook serves POST /api/webhook-deliveries/:id/redeliver (dashboard): the
// delivery is queued to be sent again at once, under the same webhook-id, with a fresh retry
// schedule; 202, since the send itself happens in the background.
func (s *Server) redeliverWebhook(c *gin.Context) {
	d, err := s.Checkout.Redeliver(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.apiError(c, err)
		return
	}
	c.JSON(http.StatusAccepted, deliveryView(d))
}
