package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kassa-pay/kassa/checkout"
)

const principalKey = "kassa.principal"

// maxAPIBody bounds request bodies; larger ones get 413 before any parsing.
const maxAPIBody = 64 << 10

// bearer makes middleware that resolves the request's bearer token with resolve and stores
// the principal, answering 401 with a WWW-Authenticate challenge when it cannot.
func (s *Server) bearer(resolve func(ctx context.Context, token string) (checkout.Principal, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		token, ok := bearerToken(c.GetHeader("Authorization"))
		if !ok {
			c.Header("WWW-Authenticate", `Bearer realm="kassa"`)
			s.apiError(c, checkout.Errorf(checkout.EUNAUTHORIZED, "Unauthenticated"))
			return
		}
		p, err := resolve(c.Request.Context(), token)
		if err != nil {
			c.Header("WWW-Authenticate", `Bearer realm="kassa", error="invalid_token"`)
			s.apiError(c, err)
			return
		}
		c.Set(principalKey, p)
		c.Next()
	}
}

// bearerToken returns the token of an "Authorization: Bearer <token>" header. The scheme is
// matched case-insensitively, as RFC 7235 §2.1 requires: "bearer" and "BEARER" are the same.
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

func principal(c *gin.Context) checkout.Principal {
	p, _ := c.Get(principalKey)
	return p.(checkout.Principal)
}

// requireScope refuses tokens without scope.
func (s *Server) requireScope(scope checkout.Scope) gin.HandlerFunc {
	return func(c *gin.Context) {
		if !principal(c).Can(scope) {
			s.apiError(c, checkout.Errorf(checkout.EFORBIDDEN, "Insufficient permissions"))
			return
		}
		c.Next()
	}
}

// jsonInt is a JSON integer that records, rather than fails on, anything else: 10.5, "100" and
// 1e3 become a field error naming the field instead of being truncated or coerced.
type jsonInt struct {
	set, bad bool
	v        int64
}

func (j *jsonInt) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	j.set = true
	v, err := strconv.ParseInt(string(b), 10, 64)
	j.v, j.bad = v, err != nil
	return nil
}

// createPaymentRequest is the body of POST /api/payment/checkout.
type createPaymentRequest struct {
	Amount         jsonInt `json:"amount"`
	CurrencyCode   string  `json:"currencyCode"`
	Reference      string  `json:"reference"`
	ReferenceLabel string  `json:"referenceLabel"`
	ClientID       string  `json:"clientId"`
	LineItems      []struct {
		Name       string  `json:"name"`
		Quantity   jsonInt `json:"quantity"`
		UnitAmount jsonInt `json:"unitAmount"`
	} `json:"lineItems"`
	SuccessURL string            `json:"successUrl"`
	CancelURL  string            `json:"cancelUrl"`
	Customer   checkout.Customer `json:"customer"`
	ExpiresAt  string            `json:"expiresAt"`
	Metadata   map[string]string `json:"metadata"`
}

// readJSON decodes the request body into v, answering 413, 400 or 422 itself when it cannot.
// Every JSON API body goes through it: a body with a key given twice is malformed (400), like
// one with trailing data.
func (s *Server) readJSON(c *gin.Context, v any) bool {
	body, ok := readBody(c)
	return ok && s.decodeJSON(c, body, v)
}

// readBody reads an API request's body, up to maxAPIBody, answering 413 or 400 itself when it
// cannot.
func readBody(c *gin.Context) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxAPIBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		c.AbortWithStatusJSON(http.StatusRequestEntityTooLarge, gin.H{"message": "Request body too large.", "code": "too_large"})
		return nil, false
	} else if err != nil {
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"message": "Request body could not be read.", "code": "bad_request"})
		return nil, false
	}
	return body, true
}

// decodeJSON decodes body into v as readJSON does.
func (s *Server) decodeJSON(c *gin.Context, body []byte, v any) bool {
	dec := json.NewDecoder(bytes.NewReader(body))
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("trailing data")
	}
	if err == nil {
		if key, dup := duplicateKey(body); dup {
			err = fmt.Errorf("duplicate key %q", key)
		}
	}
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == nil:
		return true
	case errors.As(err, &typeErr) && typeErr.Field != "":
		s.apiError(c, &checkout.Error{Code: checkout.EINVALID, Message: "The request has invalid fields.",
			Fields: map[string]string{typeErr.Field: "must be a " + jsonKind(typeErr.Type.Kind().String())}})
	default:
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{"message": "Malformed JSON: " + err.Error(), "code": "bad_request"})
	}
	return false
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "map", "struct":
		return "JSON object"
	case "slice":
		return "JSON array"
	}
	return "number"
}

// intField returns a JSON integer, recording a field error when it is absent or not an integer.
func intField(n jsonInt, field string, required bool, fields map[string]string) int64 {
	switch {
	case !n.set && required:
		fields[field] = "is required"
	case n.bad:
		fields[field] = "must be a whole number of minor units (e.g. 10000 for 100.00)"
	}
	return n.v
}

// createPayment serves POST /api/payment/checkout.
func (s *Server) createPayment(c *gin.Context) {
	var req createPaymentRequest
	if !s.readJSON(c, &req) {
		return
	}
	pr := principal(c)
	if req.ClientID != "" && req.ClientID != pr.ClientID {
		s.apiError(c, checkout.Errorf(checkout.EFORBIDDEN, "Insufficient permissions"))
		return
	}
	fields := map[string]string{}
	n := checkout.NewPayment{
		ClientID:       pr.ClientID,
		Amount:         intField(req.Amount, "amount", true, fields),
		Currency:       req.CurrencyCode,
		Reference:      req.Reference,
		ReferenceLabel: req.ReferenceLabel,
		SuccessURL:     req.SuccessURL,
		CancelURL:      req.CancelURL,
		Customer:       req.Customer,
		Metadata:       req.Metadata,
	}
	if req.ClientID == "" {
		fields["clientId"] = "is required"
	}
	for i, li := range req.LineItems {
		f := "lineItems[" + strconv.Itoa(i) + "]"
		n.LineItems = append(n.LineItems, checkout.LineItem{
			Name:       li.Name,
			Quantity:   intField(li.Quantity, f+".quantity", true, fields),
			UnitAmount: intField(li.UnitAmount, f+".unitAmount", true, fields),
		})
	}
	n.ExpiresAt = rfc3339Field(req.ExpiresAt, "expiresAt", fields)
	if len(fields) > 0 {
		s.answerFieldErrors(c, fields, s.Checkout.ValidatePayment(n))
		return
	}
	p, err := s.Checkout.CreatePayment(c.Request.Context(), n)
	if err != nil {
		s.apiError(c, err)
		return
	}
	c.Header("Location", "/api/payment/"+p.ID)
	c.JSON(http.StatusCreated, s.paymentJSON(p))
}

// getPayment serves GET /api/payment/:id. Another application's payment is answered exactly
// like a missing one, so ids cannot be probed.
func (s *Server) getPayment(c *gin.Context) {
	if p, ok := s.ownPayment(c); ok {
		c.JSON(http.StatusOK, s.paymentJSON(p))
	}
}

// paymentJSON is the payment as the API answers it; checkout.View is the one shape, shared
// with the webhooks' data.
func (s *Server) paymentJSON(p *checkout.Payment) checkout.PaymentView { return s.Checkout.View(p) }

// The API's names for the shapes checkout.View makes.
type (
	paymentResponse = checkout.PaymentView
	lineItemJSON    = checkout.LineItemView
)

// ownPayment loads the payment named in the path if it belongs to the token's application;
// another application's payment is answered exactly like a missing one.
func (s *Server) ownPayment(c *gin.Context) (*checkout.Payment, bool) {
	p, err := s.Checkout.Payment(c.Request.Context(), c.Param("id"))
	if err == nil && p.ClientID != principal(c).ClientID {
		err = checkout.Errorf(checkout.ENOTFOUND, "No payment has id %q.", c.Param("id"))
	}
	if err != nil {
		s.apiError(c, err)
		return nil, false
	}
	return p, true
}

// paymentEvents serves GET /api/payment/:id/events: the payment's append-only log.
func (s *Server) paymentEvents(c *gin.Context) {
	p, ok := s.ownPayment(c)
	if !ok {
		return
	}
	evs, err := s.Checkout.Events(c.Request.Context(), p.ID)
	if err != nil {
		s.apiError(c, err)
		return
	}
	type eventJSON struct {
		ID        int64          `json:"id"`
		Type      string         `json:"type"`
		AttemptID string         `json:"attemptId,omitempty"`
		Data      map[string]any `json:"data"`
		CreatedAt time.Time      `json:"createdAt"`
	}
	out := []eventJSON{}
	for _, e := range evs {
		out = append(out, eventJSON{ID: e.Seq, Type: e.Type, AttemptID: e.AttemptID, Data: e.Data, CreatedAt: e.CreatedAt})
	}
	c.JSON(http.StatusOK, gin.H{"paymentId": p.ID, "events": out})
}

// cancelPayment serves POST /api/payment/:id/cancel for an open payment.
func (s *Server) cancelPayment(c *gin.Context) {
	p, ok := s.ownPayment(c)
	if !ok {
		return
	}
	p, err := s.Checkout.CancelPayment(c.Request.Context(), p.ID)
	if err != nil {
		s.apiError(c, err)
		return
	}
	c.JSON(http.StatusOK, s.paymentJSON(p))
}

// rfc3339Field reads an optional RFC 3339 time field of a JSON body, recording a field error
// (and answering the zero time) when it is not one.
func rfc3339Field(v, field string, fields map[string]string) time.Time {
	if v == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		fields[field] = "must be an RFC 3339 time such as 2026-01-02T15:04:05Z"
	}
	return t
}

// answerFieldErrors answers 422 with the fields found wrong while reading a body and, beside
// them, what the domain's validation (validated) finds, so that the merchant sees every
// problem at once; nothing is created.
func (s *Server) answerFieldErrors(c *gin.Context, fields map[string]string, validated error) {
	var e *checkout.Error
	if errors.As(validated, &e) {
		for k, v := range e.Fields {
			if _, ok := fields[k]; !ok {
				fields[k] = v
			}
		}
	}
	s.apiError(c, &checkout.Error{Code: checkout.EINVALID, Message: "The request has invalid fields.", Fields: fields})
}
