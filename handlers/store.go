package handlers

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/gorilla/csrf"

	"github.com/kassa-pay/kassa/checkout"
	"github.com/kassa-pay/kassa/locale"
	"github.com/kassa-pay/kassa/views"
)

// demoPrices is the demo product's price in each currency a sandbox serves, in minor units.
var demoPrices = []checkout.Money{
	{Amount: 2400, Currency: "USD"},
	{Amount: 199900, Currency: "INR"},
	{Amount: 4500000, Currency: "MWK"},
}

const demoProduct = "Kassa canvas tote bag"

// storePage serves GET /: a one-product demo store, so a newcomer can pay end to end.
func (s *Server) storePage(c *gin.Context) {
	if s.DemoClientID == "" {
		s.notFound(c)
		return
	}
	s.renderStore(c, http.StatusOK, "", views.Notice{})
}

func (s *Server) renderStore(c *gin.Context, status int, picked string, n views.Notice) {
	// The demo store is English (it is a developer's page); the language links still set the
	// checkout's language.
	s.useLanguage(c, locale.Default)
	v := views.StoreView{
		Page:      page("Demo store"),
		Product:   demoProduct,
		Blurb:     "A sturdy bag for a quick test purchase. Pick a currency to see the providers that serve it.",
		CSRFField: "csrf_token",
		CSRFToken: csrf.Token(c.Request),
		Notice:    n,
	}
	v.Page.Brand = "Kassa demo store"
	v.Page.TestMode = true // the store exists only in sandbox mode
	for _, m := range demoPrices {
		var names []string
		for _, p := range s.Checkout.Providers.ForCurrency(c.Request.Context(), m.Currency) {
			names = append(names, p.Name())
		}
		if len(names) == 0 {
			continue
		}
		v.Prices = append(v.Prices, views.PriceView{Currency: m.Currency, Label: m.String(),
			Hint: "Pay with " + strings.Join(names, ", "), Checked: m.Currency == picked})
	}
	if picked == "" && len(v.Prices) > 0 {
		v.Prices[0].Checked = true
	}
	render(c, status, views.StorePage(v))
}

// buy serves POST /buy: it creates a payment through the same service the API uses and sends
// the shopper to its checkout page.
func (s *Server) buy(c *gin.Context) {
	if s.DemoClientID == "" {
		s.notFound(c)
		return
	}
	cur := c.PostForm("currency")
	var price checkout.Money
	for _, m := range demoPrices {
		if m.Currency == cur {
			price = m
		}
	}
	if price.Currency == "" {
		s.renderStore(c, http.StatusUnprocessableEntity, "", views.Notice{Kind: "error", Text: "Choose one of the prices."})
		return
	}
	ref := "DEMO-" + strings.ToUpper(RequestID(c.Request.Context()))
	p, err := s.Checkout.CreatePayment(c.Request.Context(), checkout.NewPayment{
		ClientID:       s.DemoClientID,
		Amount:         price.Amount,
		Currency:       price.Currency,
		Reference:      ref,
		ReferenceLabel: "Demo order " + ref[len(ref)-6:],
		LineItems:      []checkout.LineItem{{Name: demoProduct, Quantity: 1, UnitAmount: price.Amount}},
		SuccessURL:     s.Checkout.URLs.Base + "/orders/" + ref,
		CancelURL:      s.Checkout.URLs.Base + "/",
	})
	if err != nil {
		s.pageError(c, err)
		return
	}
	if s.DemoStore != nil {
		if err := s.DemoStore.RecordDemoOrder(c.Request.Context(), ref, p.ID, p.CreatedAt); err != nil {
			s.pageError(c, err)
			return
		}
	}
	c.Redirect(http.StatusSeeOther, "/checkout/"+p.ID)
}
