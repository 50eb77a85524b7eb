package dashboard

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kassa-pay/kassa/checkout"
	"github.com/kassa-pay/kassa/providers/currency"
	views "github.com/kassa-pay/kassa/views/dashboard"
)

// refundForm is the payment page's refund form as posted. Amount is what the operator typed,
// in the currency's major units ("12.50"), parsed with providers/currency, never as a float.
type refundForm struct {
	Amount string
	Reason string
	Note   string
}

func refundURL(id string) string { return "/dashboard/refunds/" + url.PathEscape(id) }

// refundsView fills the payment page's refunds: the list, the refunded amount and the form
// (shown while something is left to refund), with f as typed and its errors when f is not nil.
func (h *Handler) refundsView(v *views.PaymentView, p *checkout.Payment, f *refundForm, errs map[string]string) {
	if r := p.RefundedAmount(); r > 0 {
		v.Refunded = checkout.Money{Amount: r, Currency: p.Currency}.String()
	}
	for _, r := range slices.Backward(p.Refunds) { // newest first, like the list of payments
		row := views.RefundRow{Amount: r.Money.String(), Reason: string(r.Reason), Status: string(r.Status), Note: r.Note,
			RequestedBy: orDash(r.RequestedBy), Created: h.fmtTime(r.CreatedAt), Error: r.Error, Provider: h.providerName(r.Provider)}
		if r.Status == checkout.RefundManual {
			row.ConfirmURL = refundURL(r.ID) + "/confirm"
			row.CancelURL = refundURL(r.ID) + "/cancel"
		}
		v.Refunds = append(v.Refunds, row)
	}
	left := p.Refundable()
	switch {
	case left > 0:
		v.RefundLeft = checkout.Money{Amount: left, Currency: p.Currency}.String()
	case p.Status == checkout.PaymentPaid || p.Status == checkout.PaymentPartiallyRefunded || p.Status == checkout.PaymentRefunded:
		v.RefundClosed = "Nothing is left to refund on this payment."
	default:
		v.RefundClosed = "Only a paid payment can be refunded; this one is " + string(p.Status) + "."
	}
	for _, r := range checkout.RefundReasons {
		v.Reasons = append(v.Reasons, string(r))
	}
	v.RefundAction = "/dashboard/payments/" + url.PathEscape(p.ID) + "/refunds"
	v.RefundKey = formKey()
	v.RefundCurrency = p.Currency
	v.RefundReason = string(checkout.ReasonRequestedByCustomer)
	if left > 0 {
		v.RefundAmount, _ = currency.Format(left, p.Currency)
	}
	if f != nil {
		v.RefundAmount, v.RefundReason, v.RefundNote = f.Amount, f.Reason, f.Note
		v.RefundErrors = errs
	}
}

// formKey is a fresh random key for a form that must not act twice.
func formKey() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// renewKey renews the form key's claim while the refund runs, until stop is called, so a
// refund slower than the store's lease is not taken for a crashed one and made again when the
// form is sent once more.
func (h *Handler) renewKey(c *gin.Context, idem checkout.IdempotencyStore, clientID, key string) (stop func()) {
	every := h.IdempotencyRenew
	if every <= 0 {
		every = 15 * time.Second
	}
	ctx := context.WithoutCancel(c.Request.Context())
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
				if err := idem.ExtendIdempotencyKey(ctx, clientID, key); err != nil {
					h.log().ErrorContext(ctx, "dashboard refund form key not renewed", "err", err)
				}
			}
		}
	}()
	return func() { close(quit); <-done }
}

func (h *Handler) logIdem(c *gin.Context, err error) {
	if err != nil {
		h.log().ErrorContext(c.Request.Context(), "dashboard refund form key not recorded", "err", err)
	}
}

// createRefund serves POST /dashboard/payments/:id/refunds: the refund form. Bad input (not a
// number, more than is left, a payment not paid) re-renders the page with the message (422).
func (h *Handler) createRefund(c *gin.Context) {
	ctx := c.Request.Context()
	p, err := h.Checkout.Payment(ctx, c.Param("id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	f := refundForm{Amount: strings.TrimSpace(c.PostForm("amount")), Reason: c.PostForm("reason"), Note: strings.TrimSpace(c.PostForm("note"))}
	again := func(errs map[string]string, msg string) {
		// Read the payment again: a refund racing this one may have changed what is left.
		if fresh, err := h.Checkout.Payment(ctx, p.ID); err == nil {
			p = fresh
		}
		h.renderPayment(c, http.StatusUnprocessableEntity, p, &f, errs, views.Notice{Kind: "error", Text: msg})
	}
	amount, err := currency.Parse(f.Amount, p.Currency)
	switch {
	case f.Amount == "":
		again(map[string]string{"amount": "is required"}, "The refund was not made: give the amount to refund.")
		return
	case err != nil:
		example, _ := currency.Format(1250, p.Currency)
		again(map[string]string{"amount": "must be a number in " + p.Currency + " such as " + example},
			"The refund was not made: the amount is not a number.")
		return
	case amount <= 0:
		// Zero would mean "all that is left" to the domain; an operator who typed 0 meant nothing.
		again(map[string]string{"amount": "must be more than zero"}, "The refund was not made: the amount must be more than zero.")
		return
	}
	// The form carries a key made when it was drawn: the same form sent twice (a double
	// click, a resent POST) makes one refund, as an Idempotency-Key does on the API.
	idem, _ := h.Checkout.Store.(checkout.IdempotencyStore)
	key := c.PostForm("key")
	if idem == nil || key == "" || len(key) > 64 {
		idem = nil
	} else {
		key = "dashboard:refund:" + key
		sum := sha256.Sum256([]byte(p.ID + "\n" + f.Amount + "\n" + f.Reason + "\n" + f.Note))
		held, err := idem.ClaimIdempotencyKey(ctx, p.ClientID, key, hex.EncodeToString(sum[:]))
		switch {
		case err != nil:
			h.fail(c, err)
			return
		case !held.SameRequest:
			again(nil, "The refund was not made: this form was already sent with other values. Check the refunds above before refunding again.")
			return
		case held.Done:
			h.setNotice(c, "This refund form was already sent: the refund was made once, not twice.")
			seeOther(c, "/dashboard/payments/"+url.PathEscape(p.ID))
			return
		case !held.Claimed:
			// Its first send is still running and may yet fail: say so, not that it was made.
			h.setNotice(c, "This refund form was already sent and its refund is still being made: check the refunds below before refunding again.")
			seeOther(c, "/dashboard/payments/"+url.PathEscape(p.ID))
			return
		}
	}
	stop := func() {}
	if idem != nil {
		stop = h.renewKey(c, idem, p.ClientID, key)
	}
	r, err := h.Checkout.CreateRefund(ctx, p.ID, checkout.NewRefund{Amount: amount, Reason: checkout.RefundReason(f.Reason),
		Note: f.Note, RequestedBy: "operator:" + operator(c).Email})
	stop()
	if idem != nil {
		if err != nil {
			err2 := idem.ReleaseIdempotencyKey(ctx, p.ClientID, key)
			h.logIdem(c, err2)
		} else {
			h.logIdem(c, idem.FinishIdempotencyKey(ctx, p.ClientID, key, http.StatusSeeOther, []byte(r.ID)))
		}
	}
	if fe := fields(err); fe != nil {
		if _, ok := fe["amount"]; ok {
			if fresh, err := h.Checkout.Payment(ctx, p.ID); err == nil {
				p = fresh
			}
			if left := p.Refundable(); left > 0 {
				d, _ := currency.Format(left, p.Currency)
				fe["amount"] = "must be at most " + d + " (" + p.Currency + "), what is left to refund"
			} else {
				fe["amount"] = "cannot be refunded: nothing is left"
			}
		}
		again(fe, "The refund was not made: "+checkout.ErrorMessage(err))
		return
	} else if checkout.ErrorCode(err) == checkout.ECONFLICT {
		again(nil, "The refund was not made: "+checkout.ErrorMessage(err))
		return
	} else if err != nil {
		h.fail(c, err)
		return
	}
	switch r.Status {
	case checkout.RefundSucceeded:
		h.setNotice(c, "Refunded "+r.Money.String()+".")
	case checkout.RefundManual:
		h.setNotice(c, "Refund of "+r.Money.String()+" recorded as manual: return the money in the provider's portal, then confirm it here.")
	case checkout.RefundFailed:
		h.setNotice(c, "The provider refused the refund of "+r.Money.String()+": "+orDash(r.Error))
	default:
		h.setNotice(c, "Refund of "+r.Money.String()+" asked of the provider; it is pending until the provider answers.")
	}
	seeOther(c, "/dashboard/payments/"+url.PathEscape(p.ID))
}

// confirmRefund serves POST /dashboard/refunds/:id/confirm: the operator returned the money of a
// manual refund in the provider's portal.
func (h *Handler) confirmRefund(c *gin.Context) {
	r, err := h.Checkout.ConfirmRefund(c.Request.Context(), c.Param("id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	h.setNotice(c, "Refund of "+r.Money.String()+" confirmed.")
	seeOther(c, "/dashboard/payments/"+url.PathEscape(r.PaymentID))
}

// confirmCancelRefund serves GET /dashboard/refunds/:id/cancel: the confirmation step, a page of
// its own so it needs no JavaScript.
func (h *Handler) confirmCancelRefund(c *gin.Context) {
	r, err := h.Checkout.Refund(c.Request.Context(), c.Param("id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	back := "/dashboard/payments/" + url.PathEscape(r.PaymentID)
	if r.Status != checkout.RefundManual {
		h.fail(c, checkout.Errorf(checkout.ECONFLICT, "Only a manual refund awaiting confirmation can be cancelled; this one is %s.", r.Status))
		return
	}
	render(c, http.StatusOK, views.ConfirmPage(views.ConfirmView{Page: h.page(c, "Cancel refund", "payments"),
		Heading: "Cancel the refund of " + r.Money.String() + "?",
		Message: "Cancel it only if you did not return the money in the provider's portal. Its amount can be refunded again later.",
		Action:  refundURL(r.ID) + "/cancel", Button: "Cancel refund", CancelURL: back, CancelText: "Keep the refund"}))
}

// cancelRefund serves POST /dashboard/refunds/:id/cancel; without confirm=yes it answers with
// the confirmation page.
func (h *Handler) cancelRefund(c *gin.Context) {
	if c.PostForm("confirm") != "yes" {
		h.confirmCancelRefund(c)
		return
	}
	r, err := h.Checkout.CancelRefund(c.Request.Context(), c.Param("id"))
	if err != nil {
		h.fail(c, err)
		return
	}
	h.setNotice(c, "Refund of "+r.Money.String()+" cancelled.")
	seeOther(c, "/dashboard/payments/"+url.PathEscape(r.PaymentID))
}
