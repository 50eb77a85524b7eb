package sandbox

import (
	"github.com/kassa-pay/kassa/providers/providertest"

	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Order statuses, as documented.
const (
	statusOpen            = "OPEN"
	statusAwaitingCapture = "AWAITING_CAPTURE"
	statusPaid            = "PAID"
	statusCancelled       = "CANCELLED"
	statusRefunded        = "REFUNDED"
)

type merchant struct {
	ID             string   `json:"id"`
	Email          string   `json:"email"`
	FullName       string   `json:"full_name"`
	Phone          string   `json:"phone"`
	Address        string   `json:"address"`
	Theme          string   `json:"theme"`
	OrderPrefix    string   `json:"order_prefix"`
	Currencies     []string `json:"currencies"`
	PaymentMethods []string `json:"payment_methods"`
	SuccessURL     string   `json:"success_url"`
	CancelURL      string   `json:"cancel_url"`
	WebhookURL     string   `json:"webhook_url"`
	Gateways       []string `json:"gateways"`
	Created        int64    `json:"created"`
	Updated        int64    `json:"updated"`
}

type order struct {
	ID, Token, MerchantID, Status, Currency string
	Exp                                     int
	Lines                                   []line
	TaxMinor, AmountMinor                   int64
	ReferenceID, SuccessURL, CancelURL      string
	ManualCapture                           bool
	PaymentMethod, PaymentGateway           string
	GatewayID, PaymentID                    string
	Created, Updated, Paid                  int64
	Events                                  []event
}

type line struct {
	Key, Title string
	Quantity   int64
	UnitMinor  int64
}

type event struct {
	ID, Type, PaymentStatus, Error string
	Created                        int64
	Snapshot                       orderJSON
}

// Wire shapes of responses.
type (
	orderJSON struct {
		ID             string          `json:"id"`
		Name           string          `json:"name"`
		PaymentToken   string          `json:"payment_token,omitempty"`
		Status         string          `json:"status"`
		Currency       string          `json:"currency"`
		ZeroDecimal    bool            `json:"zero_decimal"`
		Amount         json.Number     `json:"amount"`
		OrderLines     []orderLineJSON `json:"order_lines,omitempty"`
		TaxAmount      json.Number     `json:"tax_amount"`
		MerchantID     string          `json:"merchant_id"`
		ReferenceID    string          `json:"reference_id,omitempty"`
		PaymentMethod  string          `json:"payment_method,omitempty"`
		PaymentGateway string          `json:"payment_gateway,omitempty"`
		GatewayID      string          `json:"gateway_id,omitempty"`
		PaymentID      string          `json:"payment_id,omitempty"`
		SuccessURL     string          `json:"success_url,omitempty"`
		CancelURL      string          `json:"cancel_url,omitempty"`
		Created        int64           `json:"created"`
		Updated        int64           `json:"updated,omitempty"`
		Paid           int64           `json:"paid,omitempty"`
		Links          []linkJSON      `json:"links,omitempty"`
	}
	orderLineJSON struct {
		Key       string      `json:"key,omitempty"`
		Title     string      `json:"title"`
		Quantity  json.Number `json:"quantity"`
		UnitPrice json.Number `json:"unit_price"`
	}
	linkJSON struct {
		Href string `json:"href"`
		Rel  string `json:"rel"`
	}
	eventJSON struct {
		ID            string     `json:"id"`
		OrderID       string     `json:"order_id"`
		Type          string     `json:"type"`
		MerchantID    string     `json:"merchant_id"`
		Created       int64      `json:"created"`
		Error         string     `json:"error,omitempty"`
		PaymentStatus string     `json:"payment_status,omitempty"`
		Order         *orderJSON `json:"order,omitempty"`
	}
)

// view renders an order; base is the absolute mount URL, or "" to leave links out.
func (o *order) view(base string, withToken bool) orderJSON {
	v := orderJSON{
		ID: o.ID, Name: "Order #" + o.ID, Status: o.Status, Currency: o.Currency,
		ZeroDecimal: o.Exp == 0,
		Amount:      json.Number(formatAmount(o.AmountMinor, o.Exp)),
		TaxAmount:   json.Number(formatAmount(o.TaxMinor, o.Exp)),
		MerchantID:  o.MerchantID, ReferenceID: o.ReferenceID,
		PaymentMethod: o.PaymentMethod, PaymentGateway: o.PaymentGateway,
		GatewayID: o.GatewayID, PaymentID: o.PaymentID,
		SuccessURL: o.SuccessURL, CancelURL: o.CancelURL,
		Created: o.Created, Updated: o.Updated, Paid: o.Paid,
	}
	if withToken {
		v.PaymentToken = o.Token
	}
	for _, l := range o.Lines {
		v.OrderLines = append(v.OrderLines, orderLineJSON{
			Key: l.Key, Title: l.Title,
			Quantity:  json.Number(strconv.FormatInt(l.Quantity, 10)),
			UnitPrice: json.Number(formatAmount(l.UnitMinor, o.Exp)),
		})
	}
	if base != "" {
		q := "?token=" + url.QueryEscape(o.Token)
		v.Links = append(v.Links,
			linkJSON{Href: base + "/pay/" + url.PathEscape(o.ID) + q, Rel: "pay"},
			linkJSON{Href: base + "/order/" + url.PathEscape(o.ID) + q, Rel: "order"})
		if o.SuccessURL != "" {
			v.Links = append(v.Links, linkJSON{Href: o.returnURL(o.SuccessURL), Rel: "success"})
		}
		if o.CancelURL != "" {
			v.Links = append(v.Links, linkJSON{Href: o.returnURL(o.CancelURL), Rel: "cancel"})
		}
	}
	return v
}

// returnURL appends payment_id and reference_id to a merchant URL, keeping its own query
// string byte for byte.
func (o *order) returnURL(raw string) string {
	add := "payment_id=" + url.QueryEscape(o.ID)
	if o.ReferenceID != "" {
		add += "&reference_id=" + url.QueryEscape(o.ReferenceID)
	}
	frag := ""
	if i := strings.IndexByte(raw, '#'); i >= 0 {
		raw, frag = raw[:i], raw[i:]
	}
	switch {
	case !strings.Contains(raw, "?"):
		raw += "?" + add
	case strings.HasSuffix(raw, "?") || strings.HasSuffix(raw, "&"):
		raw += add
	default:
		raw += "&" + add
	}
	return raw + frag
}

// addEvent records an event with a snapshot of the order; the caller holds s.mu.
func (s *Server) addEvent(o *order, typ, paymentStatus, errText string) {
	o.Events = append(o.Events, event{
		ID: "evt_" + randomHex(12), Type: typ, PaymentStatus: paymentStatus, Error: errText,
		Created: s.nowMS(), Snapshot: o.view("", false),
	})
}

func (s *Server) getMe(w http.ResponseWriter, r *http.Request, m *merchant) {
	s.mu.Lock()
	v := *m
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, v)
}

type updateMeRequest struct {
	Email      *string `json:"email"`
	FullName   *string `json:"full_name"`
	Phone      *string `json:"phone"`
	Address    *string `json:"address"`
	Theme      *string `json:"theme"`
	WebhookURL *string `json:"webhook_url"`
	SuccessURL *string `json:"success_url"`
	CancelURL  *string `json:"cancel_url"`
}

func (s *Server) updateMe(w http.ResponseWriter, r *http.Request, m *merchant) {
	var req updateMeRequest
	if !decodeBody(w, r, &req) {
		return
	}
	var details []errorDetail
	if req.Email != nil && *req.Email != "" && !strings.Contains(*req.Email, "@") {
		details = append(details, errorDetail{"email", "email_invalid"})
	}
	for _, u := range []struct {
		field string
		v     *string
	}{{"webhook_url", req.WebhookURL}, {"success_url", req.SuccessURL}, {"cancel_url", req.CancelURL}} {
		if u.v != nil && *u.v != "" && !validURL(*u.v) {
			details = append(details, errorDetail{u.field, "url_invalid"})
		}
	}
	if len(details) > 0 {
		writeError(w, http.StatusBadRequest, "validation_error", "Invalid request data", details)
		return
	}
	s.mu.Lock()
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&m.Email, req.Email)
	set(&m.FullName, req.FullName)
	set(&m.Phone, req.Phone)
	set(&m.Address, req.Address)
	set(&m.Theme, req.Theme)
	set(&m.WebhookURL, req.WebhookURL)
	set(&m.SuccessURL, req.SuccessURL)
	set(&m.CancelURL, req.CancelURL)
	m.Updated = s.nowMS()
	v := *m
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, v)
}

func validURL(raw string) bool {
	if len(raw) > 2048 {
		return false
	}
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

type createOrderRequest struct {
	Currency   string `json:"currency"`
	OrderLines []struct {
		Key       string      `json:"key"`
		Title     string      `json:"title"`
		Quantity  json.Number `json:"quantity"`
		UnitPrice json.Number `json:"unit_price"`
	} `json:"order_lines"`
	Amount              json.Number `json:"amount"`
	TaxAmount           json.Number `json:"tax_amount"`
	SuccessURL          string      `json:"success_url"`
	CancelURL           string      `json:"cancel_url"`
	ReferenceID         string      `json:"reference_id"`
	PaypalManualCapture bool        `json:"paypal_manual_capture"`
}

func (s *Server) createOrder(w http.ResponseWriter, r *http.Request, m *merchant) {
	var req createOrderRequest
	if !decodeBody(w, r, &req) {
		return
	}
	var details []errorDetail
	bad := func(field, issue string) { details = append(details, errorDetail{field, issue}) }

	s.mu.Lock()
	served := slices.Contains(m.Currencies, req.Currency)
	s.mu.Unlock()
	exp := exponent(req.Currency)
	if req.Currency == "" {
		bad("currency", "required")
	} else if !served {
		bad("currency", "currency_invalid")
	}
	o := &order{Currency: req.Currency, Exp: exp, MerchantID: m.ID, Status: statusOpen}
	if len(req.OrderLines) == 0 {
		bad("order_lines", "required")
	}
	if len(req.OrderLines) > 100 {
		bad("order_lines", "too_many")
	}
	var total int64
	overflow := false
	for i, l := range req.OrderLines {
		f := "order_lines[" + strconv.Itoa(i) + "]."
		title := strings.TrimSpace(l.Title)
		if title == "" {
			bad(f+"title", "required")
		} else if utf8.RuneCountInString(l.Title) > 255 {
			bad(f+"title", "too_long")
		}
		qty, err := strconv.ParseInt(l.Quantity.String(), 10, 64)
		if l.Quantity == "" {
			bad(f+"quantity", "required")
		} else if err != nil || qty < 1 || qty > 100000 {
			bad(f+"quantity", "quantity_invalid")
		}
		unit, err := parseAmount(l.UnitPrice.String(), exp)
		if l.UnitPrice == "" {
			bad(f+"unit_price", "required")
		} else if err != nil {
			bad(f+"unit_price", "amount_invalid")
		}
		o.Lines = append(o.Lines, line{Key: l.Key, Title: l.Title, Quantity: qty, UnitMinor: unit})
		if qty > 0 && unit > 0 && unit > (1<<53)/qty {
			overflow = true
		}
		total += qty * unit
		if total > 1<<53 {
			overflow = true
		}
	}
	if req.TaxAmount != "" {
		tax, err := parseAmount(req.TaxAmount.String(), exp)
		if err != nil {
			bad("tax_amount", "amount_invalid")
		}
		o.TaxMinor = tax
		total += tax
	}
	if overflow {
		bad("amount", "amount_invalid")
	}
	if len(details) == 0 {
		// The documented minimum: 0.50 in two-decimal currencies; elsewhere above zero.
		if (exp == 2 && total < 50) || total <= 0 {
			bad("amount", "amount_invalid")
		}
		if req.Amount != "" {
			if a, err := parseAmount(req.Amount.String(), exp); err != nil || a != total {
				bad("amount", "amount_invalid")
			}
		}
	}
	for _, u := range []struct{ field, v string }{{"success_url", req.SuccessURL}, {"cancel_url", req.CancelURL}} {
		if u.v != "" && !validURL(u.v) {
			bad(u.field, "url_invalid")
		}
	}
	if utf8.RuneCountInString(req.ReferenceID) > 255 {
		bad("reference_id", "too_long")
	}
	if len(details) > 0 {
		writeError(w, http.StatusBadRequest, "validation_error", "Invalid request data", details)
		return
	}
	o.AmountMinor = total

	switch {
	case isMagic(total, exp, magicCreateServerError):
		writeServerError(w)
		return
	case isMagic(total, exp, magicCreateRateLimited):
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusTooManyRequests, "rate_limit_exceeded", "Too many requests.", nil)
		return
	}

	o.ID = randomHex(8)
	o.Token = randomHex(16)
	o.ReferenceID = req.ReferenceID
	o.ManualCapture = req.PaypalManualCapture
	s.mu.Lock()
	o.SuccessURL, o.CancelURL = req.SuccessURL, req.CancelURL
	if o.SuccessURL == "" {
		o.SuccessURL = m.SuccessURL
	}
	if o.CancelURL == "" {
		o.CancelURL = m.CancelURL
	}
	o.Created = s.nowMS()
	o.Updated = o.Created
	s.orders[o.ID] = o
	s.list = append(s.list, o)
	s.addEvent(o, "payment_created", "PENDING", "")
	v := o.view(s.base(r), true)
	s.mu.Unlock()

	// The fault amounts act first and then fail: the caller cannot know the order exists.
	switch {
	case isMagic(total, exp, magicCreateSlow):
		if !sleep(r.Context(), s.cfg.SlowDelay) {
			return
		}
	case isMagic(total, exp, providertest.MagicCreateResetAfterActing):
		providertest.ResetConnection(w)
		return
	case isMagic(total, exp, providertest.MagicCreateServerErrorAfterActing):
		writeServerError(w)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// findOrder returns the merchant's order; unknown and foreign ids are both id_invalid.
func (s *Server) findOrder(w http.ResponseWriter, id string, m *merchant) *order {
	if id == "" {
		writeErrorString(w, http.StatusBadRequest, "id_required")
		return nil
	}
	o := s.orders[id]
	if o == nil || o.MerchantID != m.ID {
		writeErrorString(w, http.StatusNotFound, "id_invalid")
		return nil
	}
	return o
}

func (s *Server) getOrderByQuery(w http.ResponseWriter, r *http.Request, m *merchant) {
	s.readOrder(w, r, m, r.URL.Query().Get("id"))
}

func (s *Server) getOrder(w http.ResponseWriter, r *http.Request, m *merchant) {
	s.readOrder(w, r, m, r.PathValue("id"))
}

func (s *Server) readOrder(w http.ResponseWriter, r *http.Request, m *merchant, id string) {
	s.mu.Lock()
	o := s.findOrder(w, id, m)
	if o == nil {
		s.mu.Unlock()
		return
	}
	if isMagic(o.AmountMinor, o.Exp, magicFetchServerError) {
		s.mu.Unlock()
		writeServerError(w)
		return
	}
	v := o.view(s.base(r), false)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) captureOrder(w http.ResponseWriter, r *http.Request, m *merchant) {
	s.mu.Lock()
	o := s.findOrder(w, r.PathValue("id"), m)
	if o == nil {
		s.mu.Unlock()
		return
	}
	if o.Status != statusAwaitingCapture {
		s.mu.Unlock()
		writeErrorString(w, http.StatusBadRequest, "order_status_invalid")
		return
	}
	o.Status = statusPaid
	o.Paid = s.nowMS()
	o.Updated = o.Paid
	s.addEvent(o, "payment_succeeded", "COMPLETED", "")
	v := o.view(s.base(r), false)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) orderEvents(w http.ResponseWriter, r *http.Request, m *merchant) {
	s.mu.Lock()
	o := s.findOrder(w, r.PathValue("id"), m)
	if o == nil {
		s.mu.Unlock()
		return
	}
	if isMagic(o.AmountMinor, o.Exp, magicFetchServerError) {
		s.mu.Unlock()
		writeServerError(w)
		return
	}
	out := make([]eventJSON, 0, len(o.Events))
	for _, e := range o.Events {
		snap := e.Snapshot
		out = append(out, eventJSON{
			ID: e.ID, OrderID: o.ID, Type: e.Type, MerchantID: o.MerchantID, Created: e.Created,
			Error: e.Error, PaymentStatus: e.PaymentStatus, Order: &snap,
		})
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string][]eventJSON{"events": out})
}

type listOrdersRequest struct {
	Anchor          string      `json:"anchor"`
	Limit           json.Number `json:"limit"`
	Status          string      `json:"status"`
	CreatedHourFrom json.Number `json:"created_hour_from"`
	CreatedHourTo   json.Number `json:"created_hour_to"`
	UpdatedHourFrom json.Number `json:"updated_hour_from"`
	UpdatedHourTo   json.Number `json:"updated_hour_to"`
	PaidHourFrom    json.Number `json:"paid_hour_from"`
	PaidHourTo      json.Number `json:"paid_hour_to"`
}

type window struct{ from, to int64 } // milliseconds, inclusive; 0 means open

func (win window) holds(ms int64) bool {
	return (win.from == 0 || ms >= win.from) && (win.to == 0 || ms <= win.to)
}

// timestamp reads a time-window bound: Unix seconds, or milliseconds when it is that large.
func timestamp(n json.Number) (int64, bool) {
	if n == "" {
		return 0, true
	}
	v, err := strconv.ParseInt(n.String(), 10, 64)
	if err != nil || v < 0 {
		return 0, false
	}
	if v < 1_000_000_000_000 {
		v *= 1000
	}
	return v, true
}

func (s *Server) listOrders(w http.ResponseWriter, r *http.Request, m *merchant) {
	var req listOrdersRequest
	if !decodeBody(w, r, &req) {
		return
	}
	var details []errorDetail
	limit := int64(20)
	if req.Limit != "" {
		l, err := strconv.ParseInt(req.Limit.String(), 10, 64)
		if err != nil || l < 1 || l > 1024 {
			details = append(details, errorDetail{"limit", "limit_invalid"})
		}
		limit = l
	}
	switch req.Status {
	case "", statusOpen, statusAwaitingCapture, statusPaid, statusCancelled, statusRefunded:
	default:
		details = append(details, errorDetail{"status", "status_invalid"})
	}
	var created, updated, paid window
	for _, b := range []struct {
		field string
		n     json.Number
		dst   *int64
	}{
		{"created_hour_from", req.CreatedHourFrom, &created.from}, {"created_hour_to", req.CreatedHourTo, &created.to},
		{"updated_hour_from", req.UpdatedHourFrom, &updated.from}, {"updated_hour_to", req.UpdatedHourTo, &updated.to},
		{"paid_hour_from", req.PaidHourFrom, &paid.from}, {"paid_hour_to", req.PaidHourTo, &paid.to},
	} {
		v, ok := timestamp(b.n)
		if !ok {
			details = append(details, errorDetail{b.field, "timestamp_invalid"})
		}
		*b.dst = v
	}
	if len(details) > 0 {
		writeError(w, http.StatusBadRequest, "validation_error", "Invalid request data", details)
		return
	}

	s.mu.Lock()
	body, ok := s.orderPage(m, req.Anchor, int(limit), req.Status, created, updated, paid, s.base(r))
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusBadRequest, "validation_error", "Invalid request data",
			[]errorDetail{{"anchor", "anchor_invalid"}})
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// orderPage selects one page of the merchant's orders, newest first; the caller holds s.mu.
// The anchor is the id of the first order of the page (a previous page's next_anchor).
func (s *Server) orderPage(m *merchant, anchor string, limit int, status string, created, updated, paid window, base string) (map[string]any, bool) {
	var match []*order
	for i := len(s.list) - 1; i >= 0; i-- {
		o := s.list[i]
		if o.MerchantID != m.ID || (status != "" && o.Status != status) ||
			!created.holds(o.Created) || !updated.holds(o.Updated) {
			continue
		}
		if (paid.from != 0 || paid.to != 0) && (o.Paid == 0 || !paid.holds(o.Paid)) {
			continue
		}
		match = append(match, o)
	}
	start := 0
	if anchor != "" {
		start = slices.IndexFunc(match, func(o *order) bool { return o.ID == anchor })
		if start < 0 {
			return nil, false
		}
	}
	end := min(len(match), start+limit)
	page := make([]orderJSON, 0, end-start)
	for _, o := range match[start:end] {
		page = append(page, o.view(base, false))
	}
	next := ""
	if end < len(match) {
		next = match[end].ID
	}
	return map[string]any{
		"anchor": anchor, "limit": limit, "count": len(match), "next_anchor": next, "orders": page,
	}, true
}
