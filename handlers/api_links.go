package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kassa-pay/kassa/checkout"
)

// The payment links API: POST/GET /api/payment-links, GET/PATCH /api/payment-links/:id. Both
// kinds of token are accepted: a dashboard OAuth2 access token acts on every application's
// links, a client token with scope payment-links.manage on its own application's only.

// linkPrincipal resolves either kind of bearer token by its prefix.
func (s *Server) linkPrincipal(ctx context.Context, token string) (checkout.Principal, error) {
	if strings.HasPrefix(token, "kat_") {
		return s.dashboardPrincipal(ctx, token)
	}
	return s.Checkout.Authenticate(ctx, token)
}

// linkURL is the public page of link id; the QR codes and snippets all point here.
func (s *Server) linkURL(id string) string { return LinkURL(s.Checkout.URLs.Base, id) }

// LinkURL is the public page of link id under base, Kassa's public URL.
func LinkURL(base, id string) string { return strings.TrimSuffix(base, "/") + "/l/" + id }

type linkQuantityJSON struct {
	Min int64 `json:"min"`
	Max int64 `json:"max"`
}

type moneyJSON struct {
	Amount       int64  `json:"amount"`
	CurrencyCode string `json:"currencyCode"`
}

type linkResponse struct {
	ID           string            `json:"id"`
	ClientID     string            `json:"clientId"`
	Name         string            `json:"name"`
	Description  string            `json:"description"`
	Amount       int64             `json:"amount"`
	CurrencyCode string            `json:"currencyCode"`
	LineItems    []lineItemJSON    `json:"lineItems"`
	Quantity     *linkQuantityJSON `json:"quantity"`
	MaxPayments  *int64            `json:"maxPayments"`
	ExpiresAt    *time.Time        `json:"expiresAt"`
	SuccessURL   string            `json:"successUrl"`
	Metadata     map[string]string `json:"metadata"`
	Active       bool              `json:"active"`
	// State is "open", or why the link takes no payment now: "inactive", "expired",
	// "used_up", "held".
	State         string      `json:"state"`
	URL           string      `json:"url"`
	QRCodeURL     string      `json:"qrCodeUrl"`
	QRCodeSVGURL  string      `json:"qrCodeSvgUrl"`
	PaymentsCount int64       `json:"paymentsCount"`
	PaidCount     int64       `json:"paidCount"`
	Collected     []moneyJSON `json:"collected"`
	CreatedAt     time.Time   `json:"createdAt"`
	UpdatedAt     time.Time   `json:"updatedAt"`
}

func (s *Server) linkJSON(l *checkout.Link) linkResponse {
	u := s.linkURL(l.ID)
	r := linkResponse{
		ID: l.ID, ClientID: l.ClientID, Name: l.Name, Description: l.Description, Amount: l.UnitAmount,
		CurrencyCode: l.Currency, LineItems: []lineItemJSON{}, SuccessURL: l.SuccessURL, Metadata: l.Metadata,
		Active: l.Active, State: "open", URL: u, QRCodeURL: u + "/qr.png", QRCodeSVGURL: u + "/qr.svg",
		PaymentsCount: l.Counts.Created, PaidCount: l.Counts.Paid, Collected: []moneyJSON{},
		ExpiresAt: timePtr(l.ExpiresAt), CreatedAt: l.CreatedAt, UpdatedAt: l.UpdatedAt,
	}
	if why := s.Checkout.LinkClosed(l); why != "" {
		r.State = string(why)
	}
	if r.Metadata == nil {
		r.Metadata = map[string]string{}
	}
	for _, li := range l.LineItems {
		r.LineItems = append(r.LineItems, lineItemJSON(li))
	}
	if l.Adjustable {
		r.Quantity = &linkQuantityJSON{Min: l.QuantityMin, Max: l.QuantityMax}
	}
	if l.MaxPayments > 0 {
		n := l.MaxPayments
		r.MaxPayments = &n
	}
	for _, m := range l.Counts.Collected {
		r.Collected = append(r.Collected, moneyJSON{Amount: m.Amount, CurrencyCode: m.Currency})
	}
	return r
}

// createLinkRequest is the body of POST /api/payment-links.
type createLinkRequest struct {
	ClientID     string  `json:"clientId"`
	Name         string  `json:"name"`
	Description  string  `json:"description"`
	Amount       jsonInt `json:"amount"`
	CurrencyCode string  `json:"currencyCode"`
	LineItems    []struct {
		Name       string  `json:"name"`
		Quantity   jsonInt `json:"quantity"`
		UnitAmount jsonInt `json:"unitAmount"`
	} `json:"lineItems"`
	Quantity *struct {
		Min jsonInt `json:"min"`
		Max jsonInt `json:"max"`
	} `json:"quantity"`
	MaxPayments jsonInt           `json:"maxPayments"`
	ExpiresAt   string            `json:"expiresAt"`
	SuccessURL  string            `json:"successUrl"`
	Metadata    map[string]string `json:"metadata"`
}

// createLink serves POST /api/payment-links.
func (s *Server) createLink(c *gin.Context) {
	var req createLinkRequest
	if !s.readJSON(c, &req) {
		return
	}
	pr := principal(c)
	fields := map[string]string{}
	clientID := req.ClientID
	switch {
	case pr.ClientID != "" && clientID != "" && clientID != pr.ClientID:
		// A client token acts only for its own application.
		s.apiError(c, checkout.Errorf(checkout.EFORBIDDEN, "Insufficient permissions"))
		return
	case pr.ClientID != "":
		clientID = pr.ClientID
	case clientID == "":
		fields["clientId"] = "is required"
	}
	n := checkout.NewLink{
		ClientID: clientID, Name: req.Name, Description: req.Description, Currency: req.CurrencyCode,
		Amount:     intField(req.Amount, "amount", false, fields),
		SuccessURL: req.SuccessURL, Metadata: req.Metadata,
	}
	if req.MaxPayments.set {
		if n.MaxPayments = req.MaxPayments.v; req.MaxPayments.bad || n.MaxPayments < 1 {
			fields["maxPayments"] = "must be a whole number of at least 1, or absent for no limit"
		}
	}
	for i, li := range req.LineItems {
		f := "lineItems[" + strconv.Itoa(i) + "]"
		n.LineItems = append(n.LineItems, checkout.LineItem{
			Name:       li.Name,
			Quantity:   intField(li.Quantity, f+".quantity", true, fields),
			UnitAmount: intField(li.UnitAmount, f+".unitAmount", true, fields),
		})
	}
	if q := req.Quantity; q != nil {
		n.Quantity = &checkout.LinkQuantity{Min: quantityField(q.Min, "quantity.min", fields), Max: quantityField(q.Max, "quantity.max", fields)}
	}
	n.ExpiresAt = rfc3339Field(req.ExpiresAt, "expiresAt", fields)
	if len(fields) > 0 {
		s.answerFieldErrors(c, fields, s.Checkout.ValidateLink(n))
		return
	}
	l, err := s.Checkout.CreateLink(c.Request.Context(), n)
	if err != nil {
		s.apiError(c, err)
		return
	}
	c.Header("Location", "/api/payment-links/"+l.ID)
	c.JSON(http.StatusCreated, s.linkJSON(l))
}

func quantityField(n jsonInt, field string, fields map[string]string) int64 {
	switch {
	case !n.set:
		fields[field] = "is required"
	case n.bad:
		fields[field] = "must be a whole number"
	}
	return n.v
}

// queryLimit reads ?limit= (default 100, 1 to 1000), answering 422 itself when it is bad.
func (s *Server) queryLimit(c *gin.Context) (int, bool) {
	v := c.Query("limit")
	if v == "" {
		return 100, true
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1000 {
		s.apiError(c, &checkout.Error{Code: checkout.EINVALID, Message: "The request has invalid fields.",
			Fields: map[string]string{"limit": "must be a whole number from 1 to 1000"}})
		return 0, false
	}
	return n, true
}

// listLinks serves GET /api/payment-links: a client token's own links, or (dashboard) every
// link or one application's with ?clientId=.
func (s *Server) listLinks(c *gin.Context) {
	pr := principal(c)
	clientID := c.Query("clientId")
	if pr.ClientID != "" {
		if clientID != "" && clientID != pr.ClientID {
			s.apiError(c, checkout.Errorf(checkout.EFORBIDDEN, "Insufficient permissions"))
			return
		}
		clientID = pr.ClientID
	}
	limit, ok := s.queryLimit(c)
	if !ok {
		return
	}
	links, err := s.Checkout.Links(c.Request.Context(), clientID, limit)
	if err != nil {
		s.apiError(c, err)
		return
	}
	out := []linkResponse{}
	for i := range links {
		out = append(out, s.linkJSON(&links[i]))
	}
	c.JSON(http.StatusOK, gin.H{"data": out})
}

// ownLink loads the link named in the path if the principal may see it; another
// application's link is answered exactly like a missing one.
func (s *Server) ownLink(c *gin.Context) (*checkout.Link, bool) {
	l, err := s.Checkout.Link(c.Request.Context(), c.Param("id"))
	if pr := principal(c); err == nil && pr.ClientID != "" && l.ClientID != pr.ClientID {
		err = checkout.Errorf(checkout.ENOTFOUND, "No payment link has id %q.", c.Param("id"))
	}
	if err != nil {
		s.apiError(c, err)
		return nil, false
	}
	return l, true
}

// getLink serves GET /api/payment-links/:id.
func (s *Server) getLink(c *gin.Context) {
	if l, ok := s.ownLink(c); ok {
		c.JSON(http.StatusOK, s.linkJSON(l))
	}
}

// linkPayments serves GET /api/payment-links/:id/payments: the payments created from the
// link, newest first, as GET /api/payment/:id shows them but without attempts.
func (s *Server) linkPayments(c *gin.Context) {
	l, ok := s.ownLink(c)
	if !ok {
		return
	}
	limit, ok := s.queryLimit(c)
	if !ok {
		return
	}
	ps, err := s.Checkout.LinkPayments(c.Request.Context(), l.ID, limit)
	if err != nil {
		s.apiError(c, err)
		return
	}
	out := []paymentResponse{}
	for i := range ps {
		out = append(out, s.paymentJSON(&ps[i]))
	}
	c.JSON(http.StatusOK, gin.H{"data": out})
}

// updateLink serves PATCH /api/payment-links/:id. {"active": false} deactivates the link.
// The price, currency, line items and quantity range cannot change (see checkout.LinkPatch):
// naming them is a 422, rather than silently ignored.
func (s *Server) updateLink(c *gin.Context) {
	var raw map[string]json.RawMessage
	if !s.readJSON(c, &raw) {
		return
	}
	l, ok := s.ownLink(c)
	if !ok {
		return
	}
	fields := map[string]string{}
	var p checkout.LinkPatch
	str := func(key string) *string {
		v, ok := raw[key]
		if !ok || string(v) == "null" {
			return nil
		}
		var s string
		if json.Unmarshal(v, &s) != nil {
			fields[key] = "must be a string"
			return nil
		}
		return &s
	}
	for key, v := range raw {
		switch key {
		case "name", "description", "successUrl":
		case "active":
			var b bool
			if json.Unmarshal(v, &b) != nil {
				fields[key] = "must be true or false"
			} else {
				p.Active = &b
			}
		case "maxPayments":
			var n int64
			switch {
			case string(v) == "null":
				p.MaxPayments = &n
			case json.Unmarshal(v, &n) != nil || n < 1:
				fields[key] = "must be a whole number of at least 1, or null for no limit"
			default:
				p.MaxPayments = &n
			}
		case "expiresAt":
			var t time.Time
			var s string
			switch {
			case string(v) == "null":
				p.ExpiresAt = &t
			case json.Unmarshal(v, &s) != nil:
				fields[key] = "must be an RFC 3339 time such as 2026-01-02T15:04:05Z, or null"
			default:
				var err error
				if t, err = time.Parse(time.RFC3339, s); err != nil {
					fields[key] = "must be an RFC 3339 time such as 2026-01-02T15:04:05Z, or null"
				}
				p.ExpiresAt = &t
			}
		case "metadata":
			p.SetMetadata = true
			if string(v) != "null" && json.Unmarshal(v, &p.Metadata) != nil {
				fields[key] = "must be a JSON object of strings"
			}
		case "amount", "currencyCode", "lineItems", "quantity", "clientId":
			fields[key] = "cannot be changed; create a new payment link instead"
		}
	}
	p.Name, p.Description, p.SuccessURL = str("name"), str("description"), str("successUrl")
	if len(fields) > 0 {
		s.apiError(c, &checkout.Error{Code: checkout.EINVALID, Message: "The request has invalid fields.", Fields: fields})
		return
	}
	l, err := s.Checkout.UpdateLink(c.Request.Context(), l.ID, p)
	if err != nil {
		s.apiError(c, err)
		return
	}
	c.JSON(http.StatusOK, s.linkJSON(l))
}
