package handlers

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/gorilla/csrf"

	"github.com/kassa-pay/kassa/checkout"
	"github.com/kassa-pay/kassa/views"
)

// A payment link's public side: its page (GET /l/:id), the form that creates the shopper's
// payment (POST /l/:id) and its QR codes (GET /l/:id/qr.svg and qr.png).

// showLink serves GET and HEAD /l/:id: what the link sells and the "Continue to payment" form.
// It never creates anything, so link previewers, crawlers and prefetches are harmless. An
// embedded GET form may prefill the quantity with ?quantity=N.
func (s *Server) showLink(c *gin.Context) {
	l, ok := s.openLink(c)
	if !ok {
		return
	}
	q, fields := "", map[string]string(nil)
	if l.Adjustable {
		q = strconv.FormatInt(l.QuantityMin, 10)
		if raw, given := c.GetQuery("quantity"); given {
			if n, ok := parseQuantity(raw); ok && n >= l.QuantityMin && n <= l.QuantityMax {
				q = strconv.FormatInt(n, 10)
			} else {
				_, _, err := l.Price(-1)
				fields = fieldTexts(s.shopperTranslator(c, l.ClientID), err)
			}
		}
	}
	s.renderLink(c, http.StatusOK, l, q, views.Notice{}, fields)
}

// payLink serves POST /l/:id: it creates a payment of the chosen quantity, priced by the
// server from the link alone (an amount or price in the form is ignored), and sends the
// shopper to its checkout page with a 303. A quantity that is not a whole number in the link's
// range is answered 422 with the form again, and nothing is created.
func (s *Server) payLink(c *gin.Context) {
	if !s.allowLinkPayment(c) {
		return
	}
	form, done := s.claimLinkForm(c)
	if done {
		return
	}
	defer form.release()
	l, ok := s.openLink(c)
	if !ok {
		return
	}
	q := int64(1)
	raw := c.PostForm("quantity")
	if l.Adjustable {
		n, ok := parseQuantity(raw)
		if !ok {
			_, _, err := l.Price(-1)
			t := s.shopperTranslator(c, l.ClientID)
			s.renderLink(c, http.StatusUnprocessableEntity, l, raw, views.Notice{Kind: "error", Text: errorText(t, err)}, fieldTexts(t, err))
			return
		}
		q = n
	}
	p, err := s.Checkout.PayLink(c.Request.Context(), l.ID, q)
	switch {
	case err == nil:
		form.finish(p.ID)
		c.Redirect(http.StatusSeeOther, "/checkout/"+p.ID)
	case checkout.ErrorCode(err) == checkout.EINVALID:
		t := s.shopperTranslator(c, l.ClientID)
		s.renderLink(c, http.StatusUnprocessableEntity, l, raw, views.Notice{Kind: "error", Text: errorText(t, err)}, fieldTexts(t, err))
	case checkout.ClosedReason(err) != "":
		s.shopperTranslator(c, l.ClientID)
		s.linkClosedPage(c, checkout.ClosedReason(err))
	default:
		s.pageError(c, err)
	}
}

// quantityPattern is a quantity as a shopper types it: digits only (no sign, no exponent, no
// fraction) and few enough that it cannot overflow.
var quantityPattern = regexp.MustCompile(`^[0-9]{1,9}$`)

func parseQuantity(raw string) (int64, bool) {
	if !quantityPattern.MatchString(raw) {
		return 0, false
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	return n, err == nil
}

// openLink loads the link in the path and answers with the friendly page when it is unknown
// or takes no payments.
func (s *Server) openLink(c *gin.Context) (*checkout.Link, bool) {
	l, err := s.Checkout.Link(c.Request.Context(), c.Param("id"))
	if checkout.ErrorCode(err) == checkout.ENOTFOUND {
		t := tr(c)
		s.errorPage(c, http.StatusNotFound, t.T("link.notFoundHeading"), t.T("link.notFoundText"))
		return nil, false
	} else if err != nil {
		s.pageError(c, err)
		return nil, false
	}
	if why := s.Checkout.LinkClosed(l); why != "" {
		s.shopperTranslator(c, l.ClientID)
		s.linkClosedPage(c, why)
		return nil, false
	}
	return l, true
}

// linkClosedPage tells the shopper why the link takes no payment, always with 410: the
// contract's one answer for a link that cannot be paid now. When every place is held by shoppers
// still paying, the page says that one may come back.
func (s *Server) linkClosedPage(c *gin.Context, why checkout.LinkClosed) {
	t := tr(c)
	switch why {
	case checkout.LinkInactive:
		s.errorPage(c, http.StatusGone, t.T("link.inactiveHeading"), t.T("link.inactiveText"))
	case checkout.LinkExpired:
		s.errorPage(c, http.StatusGone, t.T("link.expiredHeading"), t.T("link.expiredText"))
	case checkout.LinkUsedUp:
		s.errorPage(c, http.StatusGone, t.T("link.usedUpHeading"), t.T("link.usedUpText"))
	default:
		s.errorPage(c, http.StatusGone, t.T("link.heldHeading"),
			t.N("link.heldText", int(checkout.LinkPaymentTTL/time.Minute)))
	}
}

func (s *Server) renderLink(c *gin.Context, status int, l *checkout.Link, quantity string, n views.Notice, fields map[string]string) {
	t := s.shopperTranslator(c, l.ClientID)
	v := views.LinkView{
		Page:        s.merchantPage(c, l.Name, &checkout.Payment{ClientID: l.ClientID}),
		Name:        l.Name,
		Description: l.Description,
		Price:       t.Money(l.UnitAmount, l.Currency),
		Adjustable:  l.Adjustable,
		Min:         l.QuantityMin,
		Max:         l.QuantityMax,
		Quantity:    quantity,
		Notice:      n,
		FieldErrors: fields,
		CSRFField:   "csrf_token",
		CSRFToken:   csrf.Token(c.Request),
		Action:      "/l/" + l.ID,
	}
	if s.Idempotency != nil {
		v.FormKey = linkFormKey()
	}
	if len(l.LineItems) > 1 || (len(l.LineItems) == 1 && l.LineItems[0].Quantity > 1) {
		for _, li := range l.LineItems {
			v.Lines = append(v.Lines, views.LineView{Name: li.Name, Quantity: li.Quantity,
				Total: t.Money(li.Quantity*li.UnitAmount, l.Currency)})
		}
	}
	render(c, status, views.LinkPage(v))
}

// allowLinkPayment limits the payments one client address creates from links, so a script
// cannot fill a link's places or the payments table. It counts clientAddress: X-Forwarded-For
// only from a trusted proxy (a client cannot write its way past the limit), and behind one
// each shopper's own address, so one script does not use up every shopper's payments.
// In-process: each instance counts its own.
func (s *Server) allowLinkPayment(c *gin.Context) bool {
	if s.LinkPayments == nil || s.LinkPayments.Limit <= 0 {
		return true
	}
	_, reset, ok := s.LinkPayments.take(c.Request.Context(), "link:"+clientAddress(c))
	if ok {
		return true
	}
	c.Header("Retry-After", strconv.Itoa(s.LinkPayments.retryAfter(reset)))
	t := tr(c)
	s.errorPage(c, http.StatusTooManyRequests, t.T("link.tooManyHeading"), t.T("link.tooManyText"))
	return false
}

// linkQR serves GET /l/:id/qr.svg and /l/:id/qr.png: a QR code of the link's URL, for print
// (SVG, 60 mm) or screens and documents (PNG, about 1024 px). The code depends only on the URL,
// so it is cached for a day and revalidated with its ETag. ?download=1 asks the browser to save
// it as a file.
func (s *Server) linkQR(format string) gin.HandlerFunc {
	return func(c *gin.Context) {
		l, err := s.Checkout.Link(c.Request.Context(), c.Param("id"))
		if err != nil {
			s.pageError(c, err)
			return
		}
		u := s.linkURL(l.ID)
		sum := sha256.Sum256([]byte("kassa-qr-v1 " + format + " " + u))
		etag := `"` + hex.EncodeToString(sum[:16]) + `"`
		c.Header("ETag", etag)
		c.Header("Cache-Control", "public, max-age=86400")
		if match := c.GetHeader("If-None-Match"); match == etag || match == "*" {
			c.Status(http.StatusNotModified)
			return
		}
		draw, ctype := views.QRCodePNG, "image/png"
		if format == "svg" {
			draw, ctype = views.QRCodeSVG, "image/svg+xml"
		}
		img, err := draw(u)
		if err != nil {
			s.pageError(c, err)
			return
		}
		if c.Query("download") != "" {
			c.Header("Content-Disposition", `attachment; filename="`+l.ID+`-qr.`+format+`"`)
		}
		c.Data(http.StatusOK, ctype, img)
	}
}
