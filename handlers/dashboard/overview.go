package dashboard

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kassa-pay/kassa/checkout"
	views "github.com/kassa-pay/kassa/views/dashboard"
)

// overview serves GET /dashboard: today's and the week's paid payments per currency, the
// conversion rate, open payments and each provider's success rate.
func (h *Handler) overview(c *gin.Context) {
	o, err := h.Checkout.Overview(c.Request.Context(), h.loc())
	if err != nil {
		h.fail(c, err)
		return
	}
	v := views.OverviewView{Page: h.page(c, "Overview", "overview"), Created: o.Created, Converted: o.Converted, Open: o.Open,
		Conversion: percent(o.Converted, o.Created)}
	if failed, err := h.Checkout.FailedDeliveries(c.Request.Context(), h.now().Add(-7*24*time.Hour), 10000); err == nil {
		v.FailedWebhooks = len(failed)
	} else {
		h.log().WarnContext(c.Request.Context(), "dashboard: failed webhooks not counted", "err", err)
	}
	if len(o.Days) > 0 {
		v.Today = totals(o.Days[len(o.Days)-1:])
	}
	v.Week = totals(o.Days)
	counts := make([]int, len(o.Days))
	var label []string
	for i, d := range o.Days {
		for _, t := range d.Paid {
			counts[i] += t.Count
		}
		label = append(label, fmt.Sprintf("%s: %d", d.Start.Format("Mon 2 Jan"), counts[i]))
	}
	v.Spark = sparkline(counts, 140, 32)
	v.SparkLabel = "Paid payments per day: " + strings.Join(label, ", ")
	for _, p := range o.Providers {
		v.Providers = append(v.Providers, views.ProviderRate{Name: h.providerName(p.Provider), Attempts: p.Attempts, Paid: p.Paid,
			Rate: percent(p.Paid, p.Attempts)})
	}
	render(c, http.StatusOK, views.OverviewPage(v))
}

func totals(days []checkout.DayTotals) []views.Total {
	var out []views.Total
	for _, t := range checkout.Sum(days) {
		out = append(out, views.Total{Currency: t.Currency, Count: t.Count, Amount: checkout.Money{Amount: t.Amount, Currency: t.Currency}.String()})
	}
	return out
}

func percent(n, of int) string {
	if of == 0 {
		return "—"
	}
	return fmt.Sprintf("%d%%", (n*100+of/2)/of)
}

// sparkline returns an SVG polyline's points for values in a w×h box, with a 2-unit margin.
func sparkline(values []int, w, h int) string {
	if len(values) == 0 {
		return ""
	}
	top := 1
	for _, v := range values {
		top = max(top, v)
	}
	var b strings.Builder
	for i, v := range values {
		x := 2
		if len(values) > 1 {
			x = 2 + i*(w-4)/(len(values)-1)
		}
		y := h - 2 - v*(h-4)/top
		fmt.Fprintf(&b, "%d,%d ", x, y)
	}
	return strings.TrimSpace(b.String())
}
