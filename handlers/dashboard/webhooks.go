package dashboard

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kassa-pay/kassa/checkout"
	views "github.com/kassa-pay/kassa/views/dashboard"
)

// recentDeliveries is how many of an application's deliveries its page lists.
const recentDeliveries = 20

// deliveryRows draws deliveries for a page at back, whose Resend buttons come back to it.
func (h *Handler) deliveryRows(ds []checkout.Delivery, back string) []views.DeliveryRow {
	var out []views.DeliveryRow
	for _, d := range ds {
		row := views.DeliveryRow{ID: d.ID, Type: d.Type, Status: string(d.Status), Created: h.fmtTime(d.CreatedAt),
			LastError: d.LastError, ResendURL: "/dashboard/webhook-deliveries/" + url.PathEscape(d.ID) + "/resend", Back: back}
		if d.Status == checkout.DeliveryPending {
			row.NextAttempt = h.fmtTime(d.NextAttemptAt)
		}
		for _, a := range d.Attempts {
			st := "—"
			if a.HTTPStatus != 0 {
				st = "HTTP " + strconv.Itoa(a.HTTPStatus)
			}
			row.Attempts = append(row.Attempts, views.DeliveryAttemptRow{At: h.fmtTime(a.At), Status: st, Error: a.Error,
				Duration: a.Duration.Round(time.Millisecond).String()})
		}
		out = append(out, row)
	}
	return out
}

// resendWebhook serves POST /dashboard/webhook-deliveries/:id/resend: the delivery is sent
// again, under the same webhook-id, and the operator goes back where they pressed Resend.
func (h *Handler) resendWebhook(c *gin.Context) {
	d, err := h.Checkout.Redeliver(c.Request.Context(), c.Param("id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	back := c.PostForm("back")
	if !strings.HasPrefix(back, "/dashboard/") || strings.HasPrefix(back, "//") || strings.ContainsAny(back, "\\\r\n") {
		back = "/dashboard/payments/" + url.PathEscape(d.PaymentID)
	}
	h.setNotice(c, "The "+d.Type+" webhook will be sent again in a moment, as "+d.ID+".")
	c.Redirect(http.StatusSeeOther, back)
}
