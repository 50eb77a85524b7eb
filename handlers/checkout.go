package handlers

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/gorilla/csrf"

	"github.com/kassa-pay/kassa/checkout"
	"github.com/kassa-pay/kassa/providers"
	"github.com/kassa-pay/kassa/views"
)

// showCheckout serves GET /checkout/:id: the choice of provider while the payment is open,
// the thank-you page once it is paid, a friendly page otherwise.
//
// Before the choice is offered again, the payment's live attempts are verified (a reading a
// few seconds old is reused): a shopper who paid and never came back sees the thank-you page,
// and one whose earlier payment is still being confirmed is sent to the confirming page
// rather than offered a second payment.
func (s *Server) showCheckout(c *gin.Context) {
	p, waiting, err := s.Checkout.Unconfirmed(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.pageError(c, err)
		return
	}
	if s.renderClosed(c, p) {
		return
	}
	if waiting != nil {
		c.Redirect(http.StatusSeeOther, "/checkout/"+p.ID+"/attempts/"+waiting.ID)
		return
	}
	notice := s.takeFlash(c)
	if notice.Text == "" {
		notice = attemptNotice(s.Checkout, p)
	}
	s.renderCheckout(c, http.StatusOK, p, checkoutForm{}, notice, nil)
}

// renderClosed renders the page of a payment that can no longer be paid and reports whether
// it did.
func (s *Server) renderClosed(c *gin.Context, p *checkout.Payment) bool {
	switch {
	case p.Status == checkout.PaymentPaid || p.Status == checkout.PaymentRefunded || p.Status == checkout.PaymentPartiallyRefunded:
		title := "Thank you"
		if p.Status == checkout.PaymentRefunded {
			title = "Payment refunded"
		}
		v := views.ThankYouView{Page: s.merchantPage(c, title, p), Amount: p.Money.String(), ReferenceLabel: p.ReferenceLabel,
			SuccessURL: p.SuccessURL}
		for _, a := range p.Attempts {
			if a.Status == checkout.AttemptPaid {
				v.Provider = s.providerName(a.Provider)
				break
			}
		}
		if !p.PaidAt.IsZero() {
			v.PaidAt = p.PaidAt.Format("2 January 2006, 15:04 MST")
		}
		if n := p.RefundedAmount(); n > 0 {
			v.Refunded = checkout.Money{Amount: n, Currency: p.Currency}.String()
			v.RefundedAt = p.LastRefundAt().Format("2 January 2006, 15:04 MST")
			v.FullyRefunded = p.Status == checkout.PaymentRefunded
		}
		render(c, http.StatusOK, views.ThankYouPage(v))
	case p.Status == checkout.PaymentCancelled:
		s.closedPage(c, p, "This payment was cancelled", "The merchant cancelled this payment, so it can no longer be paid.")
	case p.Status == checkout.PaymentExpired || s.Checkout.PastExpiry(p):
		s.closedPage(c, p, "This payment has expired", "The time to pay this payment has run out. Ask the merchant for a new payment link.")
	default:
		return false
	}
	return true
}

func (s *Server) closedPage(c *gin.Context, p *checkout.Payment, heading, msg string) {
	v := views.ErrorView{Page: page(heading), Heading: heading, Message: msg}
	if p.CancelURL != "" {
		v.LinkURL, v.LinkText = p.CancelURL, "Return to the merchant"
	}
	render(c, http.StatusGone, views.ErrorPage(v))
}

func (s *Server) providerName(id providers.ID) string {
	if pr, ok := s.Checkout.Providers.Get(id); ok {
		return pr.Name()
	}
	return string(id)
}

// attemptNotice tells the shopper what happened on their last trip to a provider, from the
// attempt's verified status, so it survives a reload and cannot be forged by a query string.
func attemptNotice(svc *checkout.Service, p *checkout.Payment) views.Notice {
	a, ok := p.LatestAttempt()
	if !ok {
		return views.Notice{}
	}
	name := string(a.Provider)
	if pr, ok := svc.Providers.Get(a.Provider); ok {
		name = pr.Name()
	}
	again := " You can try again or choose another way to pay."
	switch a.Status {
	case checkout.AttemptDeclined:
		return views.Notice{Kind: "error", Text: "Your payment with " + name + " was declined." + again}
	case checkout.AttemptCancelled:
		return views.Notice{Kind: "info", Text: "You cancelled the payment with " + name + "." + again}
	case checkout.AttemptExpired:
		return views.Notice{Kind: "info", Text: "The payment with " + name + " timed out." + again}
	case checkout.AttemptFailed:
		return views.Notice{Kind: "error", Text: name + " could not take this payment." + again}
	}
	return views.Notice{}
}

// checkoutForm is the checkout page's form as posted: the provider's radio, the method
// select of that provider (named "method.<provider>"), and the phone for push methods.
type checkoutForm struct {
	Provider string
	Method   string
	Phone    string
}

func readCheckoutForm(c *gin.Context) checkoutForm {
	p := c.PostForm("provider")
	return checkoutForm{Provider: p, Method: c.PostForm("method." + p), Phone: strings.TrimSpace(c.PostForm("phone"))}
}

func (f checkoutForm) choice() checkout.Choice {
	return checkout.Choice{Provider: providers.ID(f.Provider), Method: f.Method, Phone: f.Phone}
}

func (s *Server) renderCheckout(c *gin.Context, status int, p *checkout.Payment, f checkoutForm, notice views.Notice, fields map[string]string) {
	v := views.CheckoutView{
		Page:           s.merchantPage(c, "Pay "+p.Money.String(), p),
		PaymentID:      p.ID,
		Amount:         p.Money.String(),
		ReferenceLabel: p.ReferenceLabel,
		Notice:         notice,
		FieldErrors:    fields,
		CSRFField:      "csrf_token",
		CSRFToken:      csrf.Token(c.Request),
		Action:         "/checkout/" + p.ID,
		CancelURL:      p.CancelURL,
		Phone:          f.Phone,
	}
	for _, li := range p.LineItems {
		v.Lines = append(v.Lines, views.LineView{Name: li.Name, Quantity: li.Quantity,
			Total: checkout.Money{Amount: li.Quantity * li.UnitAmount, Currency: p.Currency}.String()})
	}
	for _, o := range s.Checkout.Options(c.Request.Context(), p) {
		ov := views.OptionView{Provider: string(o.Provider), Label: o.Name, Checked: string(o.Provider) == f.Provider}
		for _, m := range o.Methods {
			ov.Methods = append(ov.Methods, views.MethodView{ID: m.ID, Name: m.Name, NeedsPhone: m.NeedsPhone,
				Selected: ov.Checked && m.ID == f.Method})
		}
		v.Options = append(v.Options, ov)
	}
	if len(v.Options) == 0 && s.Checkout.ProvidersDown(c.Request.Context(), p) {
		s.providersDownPage(c, p)
		return
	}
	if len(v.Options) == 1 {
		v.Options[0].Checked = true
	}
	render(c, status, views.CheckoutPage(v))
}

// choose serves POST /checkout/:id: it creates the attempt at the chosen provider and sends
// the shopper there with a 303.
func (s *Server) choose(c *gin.Context) {
	ctx := c.Request.Context()
	f := readCheckoutForm(c)
	a, err := s.Checkout.StartAttempt(ctx, c.Param("id"), f.choice())
	if err == nil && a.PayURL == "" && a.Status == checkout.AttemptPending && a.ProviderRef == "" && !s.Checkout.IsPush(ctx, *a) {
		// The provider's answer was lost, so the shopper never got its pay page and cannot
		// have paid there: there is nothing for them to confirm. The attempt stays live and
		// is looked up in the background (the order may exist); the shopper may choose again.
		p, perr := s.Checkout.Payment(ctx, c.Param("id"))
		if perr != nil {
			s.pageError(c, perr)
			return
		}
		name := s.providerName(a.Provider)
		s.renderCheckout(c, http.StatusServiceUnavailable, p, f, views.Notice{Kind: "error",
			Text: name + " is not available right now. Please try again or choose another way to pay."}, nil)
		return
	}
	if err == nil {
		// Only an ordinary pending order sends the shopper to the provider's page; a shared
		// attempt in review or still being confirmed shows the confirming page instead.
		if a.PayURL != "" && a.Status == checkout.AttemptPending {
			c.Redirect(http.StatusSeeOther, a.PayURL)
		} else {
			c.Redirect(http.StatusSeeOther, "/checkout/"+a.PaymentID+"/attempts/"+a.ID)
		}
		return
	}
	code := checkout.ErrorCode(err)
	if code == checkout.ECONFLICT {
		c.Redirect(http.StatusSeeOther, "/checkout/"+c.Param("id"))
		return
	}
	if code != checkout.EINVALID && code != checkout.EUNAVAILABLE {
		s.pageError(c, err)
		return
	}
	p, perr := s.Checkout.Payment(ctx, c.Param("id"))
	if perr != nil {
		s.pageError(c, perr)
		return
	}
	var e *checkout.Error
	errors.As(err, &e)
	s.renderCheckout(c, httpStatus(code), p, f, views.Notice{Kind: "error", Text: e.Message}, e.Fields)
}

// providerReturn serves GET /checkout/:id/return/:attempt, where providers send the shopper
// back. Its query string is only a hint: the provider's API is asked before anything else,
// and the shopper is redirected to the page matching the verified state.
func (s *Server) providerReturn(c *gin.Context) {
	ctx := c.Request.Context()
	paymentID, attemptID := c.Param("id"), c.Param("attempt")
	v, err := s.Checkout.Verify(ctx, paymentID, attemptID)
	if err != nil {
		s.pageError(c, err)
		return
	}
	checkoutURL := "/checkout/" + paymentID
	switch {
	case v.Payment.Status != checkout.PaymentOpen:
		c.Redirect(http.StatusSeeOther, checkoutURL)
	case !v.Attempt.Status.Live() && v.Err == nil:
		c.Redirect(http.StatusSeeOther, checkoutURL)
	case c.Query("outcome") == "cancel" && v.Err == nil:
		// The provider sent the shopper to the cancel URL but has not closed its order:
		// keep watching it, and let the shopper choose again.
		name := s.providerName(v.Attempt.Provider)
		s.setFlash(c, views.Notice{Kind: "info", Text: "The payment with " + name + " was cancelled or not completed. You can try again or choose another way to pay."})
		c.Redirect(http.StatusSeeOther, checkoutURL)
	default:
		c.Redirect(http.StatusSeeOther, checkoutURL+"/attempts/"+attemptID)
	}
}

// attemptStatus serves GET /checkout/:id/attempts/:attempt: "confirming your payment" while
// the provider has no final answer. The page reloads itself and each load asks the provider.
func (s *Server) attemptStatus(c *gin.Context) {
	ctx := c.Request.Context()
	paymentID := c.Param("id")
	v, err := s.Checkout.VerifyRecent(ctx, paymentID, c.Param("attempt"))
	if err != nil {
		s.pageError(c, err)
		return
	}
	if v.Payment.Status != checkout.PaymentOpen || !v.Attempt.Status.Live() {
		c.Redirect(http.StatusSeeOther, "/checkout/"+paymentID)
		return
	}
	// The way back to the choice is offered only once the provider has read the order as
	// not paid: while it cannot be asked, or its reading is in doubt, or the order is still
	// being looked up after a lost answer, choosing again could pay twice.
	backURL := ""
	if v.Err == nil && v.Attempt.Status == checkout.AttemptPending && v.Attempt.ProviderRef != "" {
		backURL = "/checkout/" + paymentID
	}
	pg := s.merchantPage(c, "Confirming your payment", v.Payment)
	pg.Refresh = 3
	render(c, http.StatusOK, views.PendingPage(views.PendingView{
		Page:           pg,
		Amount:         v.Payment.Money.String(),
		ReferenceLabel: v.Payment.ReferenceLabel,
		Provider:       s.providerName(v.Attempt.Provider),
		Push:           v.Attempt.PayURL == "" && s.Checkout.IsPush(ctx, v.Attempt),
		Problem:        v.Err != nil,
		CheckURL:       c.Request.URL.Path,
		BackURL:        backURL,
	}))
}
