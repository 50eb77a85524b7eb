package sandbox

import (
	"github.com/kassa-pay/kassa/providers/providertest"

	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Magic amounts in MWK, the values of providertest/magic.go (repeated here because the sandbox
// imports nothing but the standard library; a test checks they agree).
const (
	magicDecline           = 402_00
	magicCreateServerError = 500_00
	magicCreateRateLimited = 429_00
	magicCreateSlow        = 504_00
	magicFetchServerError  = 503_00
)

// Transaction status letters, as documented.
var statusNames = map[string]string{
	"P": "Pending", "D": "Ready for funds transfer", "T": "Transferring", "S": "Successful",
	"F": "Transfer failed", "E": "Error", "X": "Rejected", "C": "Cancelled", "R": "Reversed",
}

// Response codes. I100 and S100 appear in the docs; the E2xx codes are the sandbox's guesses.
const (
	codeInitiated = "I100" // Push payment transaction initiated
	codeSuccess   = "S100"
	codeDeclined  = "E201" // refused by the payer's wallet or card issuer
	codeRefused   = "E202" // the payer declined on the page or the phone
	codeCancelled = "E203" // the payer cancelled or rejected the prompt
	codeExpired   = "E204" // the checkout session or the push prompt expired unanswered
	codeReversed  = "R100" // a successful transaction was reversed
)

// connector is a mobile-money network the sandbox can push to. The ids are guesses: 550044 is
// the docs' push example (with a 0999 Airtel number).
type connector struct {
	name     string
	prefixes []string // after the trunk 0
}

var connectors = map[int64]connector{
	550044: {name: "Airtel Money", prefixes: []string{"99", "98"}},
	550045: {name: "TNM Mpamba", prefixes: []string{"88", "89"}},
}

const (
	kindCheckout = "checkout"
	kindPush     = "push"
)

// txn is one collection.
type txn struct {
	ref, ptid, kind        string
	merchant               int64
	sourceRef, description string
	amount, fee            int64 // tambala
	payer                  string
	connectorID            int64
	connectorName          string
	status                 string
	responseCode, message  string
	bridgeRef              string
	successURL, failureURL string
	created, expires       time.Time
	decided                time.Time
	decline, fetchFails    bool
}

// magic applies the fault amounts to a create; it reports whether the create may go on.
func (s *Server) magic(w http.ResponseWriter, r *http.Request, amount int64) bool {
	switch amount {
	case magicCreateServerError:
		s.problem(w, r, http.StatusInternalServerError, "E500", "An unexpected error occurred. Please try again later.")
		return false
	case magicCreateRateLimited:
		w.Header().Set("X-RateLimit-Limit", strconv.Itoa(max(s.cfg.RequestsPerSecond, 50)))
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(s.cfg.Now().Unix()+1, 10))
		s.problem(w, r, http.StatusTooManyRequests, "E429", "Too many requests.")
		return false
	}
	return true
}

// afterActing applies the fault amounts that act first and then fail, once the transaction
// exists (so a lookup by sourceReferenceNumber finds it): a late answer, a reset connection,
// or a 5xx. It reports whether the handler should answer normally.
func (s *Server) afterActing(w http.ResponseWriter, r *http.Request, amount int64) bool {
	switch amount {
	case magicCreateSlow:
		return s.slow(r.Context())
	case providertest.MagicCreateResetAfterActing * 100:
		if rec, ok := w.(*recorder); ok {
			// The answer is made and remembered for the idempotency key, as OneKhusa
			// would, but the connection drops before it is sent (idempotent does that).
			rec.reset = true
			return true
		}
		providertest.ResetConnection(w)
		return false
	case providertest.MagicCreateServerErrorAfterActing * 100:
		s.problem(w, r, http.StatusInternalServerError, "E500", "An unexpected error occurred. Please try again later.")
		return false
	}
	return true
}

type checkoutRequest struct {
	Payment struct {
		MerchantAccountNumber json.Number `json:"merchantAccountNumber"`
		Amount                json.Number `json:"amount"`
		Description           string      `json:"description"`
		SourceReferenceNumber string      `json:"sourceReferenceNumber"`
		CapturedBy            string      `json:"capturedBy"`
	} `json:"payment"`
	Route struct {
		SuccessRedirectionURL string `json:"successRedirectionUrl"`
		FailureRedirectionURL string `json:"failureRedirectionUrl"`
	} `json:"route"`
}

// initiateCheckout serves POST /checkout/push/initiate: a hosted checkout valid 10 minutes.
func (s *Server) initiateCheckout(w http.ResponseWriter, r *http.Request, c caller, body []byte) {
	var in checkoutRequest
	if err := decode(body, &in); err != nil {
		s.problem(w, r, http.StatusBadRequest, "E900", "Validation failed", "Request body is not valid JSON.")
		return
	}
	p := in.Payment
	var errs []string
	merchant, ok := merchantNumber(p.MerchantAccountNumber)
	if !ok {
		errs = append(errs, "Merchant Account Number should be 8 numbers only.")
	}
	amount, ok := parseAmount(p.Amount)
	if !ok {
		errs = append(errs, "Amount should be greater than zero with at most 2 decimal places.")
	}
	if strings.TrimSpace(p.Description) == "" || len(p.Description) > 200 {
		errs = append(errs, "Description is required (at most 200 characters).")
	}
	if !validSourceRef(p.SourceReferenceNumber) {
		errs = append(errs, "Source Reference Number is required (1 to 50 characters without spaces).")
	}
	if !validEmail(p.CapturedBy) {
		errs = append(errs, "Captured By should be a valid email address.")
	}
	if !validRedirect(in.Route.SuccessRedirectionURL) {
		errs = append(errs, "Success Redirection Url should be an absolute http(s) URL.")
	}
	if !validRedirect(in.Route.FailureRedirectionURL) {
		errs = append(errs, "Failure Redirection Url should be an absolute http(s) URL.")
	}
	if errs != nil {
		s.problem(w, r, http.StatusBadRequest, "E900", "Validation failed", errs...)
		return
	}
	if merchant != c.merchant {
		s.problem(w, r, http.StatusForbidden, "E403", "The access token does not belong to this merchant account.")
		return
	}
	if !s.magic(w, r, amount) {
		return
	}
	now := s.cfg.Now()
	s.mu.Lock()
	t := &txn{
		ref: s.newRef(now), ptid: newPTID(), kind: kindCheckout, merchant: merchant,
		sourceRef: p.SourceReferenceNumber, description: p.Description, amount: amount,
		status: "P", responseCode: codeInitiated, message: "Checkout initiated",
		successURL: in.Route.SuccessRedirectionURL, failureURL: in.Route.FailureRedirectionURL,
		created: now, expires: now.Add(s.cfg.CheckoutLifetime),
		decline: amount == magicDecline, fetchFails: amount == magicFetchServerError,
	}
	s.add(t)
	s.mu.Unlock()
	if !s.afterActing(w, r, amount) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"merchantAccountNumber":      merchant,
		"sourceReferenceNumber":      t.sourceRef,
		"paymentTransactionId":       t.ptid,
		"transactionReferenceNumber": t.ref,
		"checkoutUrl":                s.base(r) + "/pay/" + t.ptid,
		"expiryInMinutes":            int(s.cfg.CheckoutLifetime / time.Minute),
	})
}

// add records t; s.mu is held.
func (s *Server) add(t *txn) {
	s.txns[t.ref] = t
	if t.ptid != "" {
		s.byPTID[t.ptid] = t
	}
	s.bySRN[t.sourceRef] = t
	s.order = append(s.order, t)
}

type pushRequest struct {
	MerchantAccountNumber  json.Number `json:"merchantAccountNumber"`
	ConnectorID            json.Number `json:"connectorId"`
	PayerAccountNumber     string      `json:"payerAccountNumber"`
	SourceReferenceNumber  string      `json:"sourceReferenceNumber"`
	TransactionDescription string      `json:"transactionDescription"`
	TransactionAmount      json.Number `json:"transactionAmount"`
	CapturedBy             string      `json:"capturedBy"`
}

// initiatePush serves POST /collections/push/direct/initiate: a prompt on the payer's phone,
// which the simulated phone (or a test hook) answers.
func (s *Server) initiatePush(w http.ResponseWriter, r *http.Request, c caller, body []byte) {
	var in pushRequest
	if err := decode(body, &in); err != nil {
		s.problem(w, r, http.StatusBadRequest, "E900", "Validation failed", "Request body is not valid JSON.")
		return
	}
	var errs []string
	merchant, ok := merchantNumber(in.MerchantAccountNumber)
	if !ok {
		errs = append(errs, "Merchant Account Number should be 8 numbers only.")
	}
	cid, _ := strconv.ParseInt(string(in.ConnectorID), 10, 64)
	conn, known := connectors[cid]
	if !known {
		errs = append(errs, "Connector Id is not a mobile money connector.")
	}
	payer := in.PayerAccountNumber
	if len(payer) != 10 || payer[0] != '0' || !digits(payer) {
		errs = append(errs, "Payer Account Number should be 10 digits starting with 0.")
	} else if known && !hasPrefix(payer[1:], conn.prefixes) {
		errs = append(errs, "Payer Account Number is not a "+conn.name+" number.")
	}
	if !validSourceRef(in.SourceReferenceNumber) {
		errs = append(errs, "Source Reference Number is required (1 to 50 characters without spaces).")
	}
	if strings.TrimSpace(in.TransactionDescription) == "" || len(in.TransactionDescription) > 200 {
		errs = append(errs, "Transaction Description is required (at most 200 characters).")
	}
	amount, ok := parseAmount(in.TransactionAmount)
	if !ok {
		errs = append(errs, "Transaction Amount should be greater than zero with at most 2 decimal places.")
	}
	if !validEmail(in.CapturedBy) {
		errs = append(errs, "Captured By should be a valid email address.")
	}
	if errs != nil {
		s.problem(w, r, http.StatusBadRequest, "E900", "Validation failed", errs...)
		return
	}
	if merchant != c.merchant {
		s.problem(w, r, http.StatusForbidden, "E403", "The access token does not belong to this merchant account.")
		return
	}
	if !s.magic(w, r, amount) {
		return
	}
	now := s.cfg.Now()
	s.mu.Lock()
	t := &txn{
		ref: s.newRef(now), kind: kindPush, merchant: merchant,
		sourceRef: in.SourceReferenceNumber, description: in.TransactionDescription, amount: amount,
		payer: payer, connectorID: cid, connectorName: conn.name,
		status: "P", responseCode: codeInitiated, message: "Push payment transaction initiated",
		created: now, expires: now.Add(s.cfg.PushLifetime),
		decline: amount == magicDecline, fetchFails: amount == magicFetchServerError,
	}
	s.add(t)
	s.mu.Unlock()
	if !s.afterActing(w, r, amount) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"merchantAccountNumber":      merchant,
		"sourceReferenceNumber":      t.sourceRef,
		"transactionReferenceNumber": t.ref,
		"transactionStatusCode":      t.status,
		"transactionStatusName":      statusNames[t.status],
		"responseCode":               t.responseCode,
		"responseMessage":            t.message,
	})
}

func hasPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

type getTransactionRequest struct {
	MerchantAccountNumber      json.Number `json:"merchantAccountNumber"`
	TransactionReferenceNumber string      `json:"transactionReferenceNumber"`
}

// getTransaction serves POST /collections/getTransaction; 204 when there is no such
// transaction for this merchant, as documented.
func (s *Server) getTransaction(w http.ResponseWriter, r *http.Request, c caller, body []byte) {
	var in getTransactionRequest
	if err := decode(body, &in); err != nil {
		s.problem(w, r, http.StatusBadRequest, "E900", "Validation failed", "Request body is not valid JSON.")
		return
	}
	var errs []string
	merchant, ok := merchantNumber(in.MerchantAccountNumber)
	if !ok {
		errs = append(errs, "Merchant Account Number should be 8 numbers only.")
	}
	if len(in.TransactionReferenceNumber) != 12 {
		errs = append(errs, "Transaction Reference Number should be exact 12 characters.")
	}
	if errs != nil {
		s.problem(w, r, http.StatusBadRequest, "E900", "Validation failed", errs...)
		return
	}
	if merchant != c.merchant {
		s.problem(w, r, http.StatusForbidden, "E403", "The access token does not belong to this merchant account.")
		return
	}
	s.mu.Lock()
	t := s.txns[in.TransactionReferenceNumber]
	if t == nil || t.merchant != merchant {
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
		return
	}
	s.expireIfDue(t)
	if t.fetchFails {
		s.mu.Unlock()
		s.problem(w, r, http.StatusServiceUnavailable, "E503", "The service is temporarily unavailable.")
		return
	}
	v := s.view(t)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, v)
}

type getTransactionsRequest struct {
	MerchantAccountNumber json.Number `json:"merchantAccountNumber"`
	TransactionDate       string      `json:"transactionDate"`
	PageNumber            json.Number `json:"pageNumber"`
	NumberOfReturnedRows  json.Number `json:"numberOfReturnedRows"`
	IsIncremental         bool        `json:"isIncremental"`
	SearchBy              string      `json:"searchBy"`
	SearchText            string      `json:"searchText"`
}

// getTransactions serves POST /collections/getTransactions: the merchant's collections of
// one day (UTC), newest first, optionally searched by TransactionReferenceNumber (documented)
// or SourceReferenceNumber (a guess: the docs show only the first value of searchBy).
func (s *Server) getTransactions(w http.ResponseWriter, r *http.Request, c caller, body []byte) {
	var in getTransactionsRequest
	if err := decode(body, &in); err != nil {
		s.problem(w, r, http.StatusBadRequest, "E900", "Validation failed", "Request body is not valid JSON.")
		return
	}
	var errs []string
	merchant, ok := merchantNumber(in.MerchantAccountNumber)
	if !ok {
		errs = append(errs, "Merchant Account Number should be 8 numbers only.")
	}
	day, err := time.Parse("2006-01-02", in.TransactionDate)
	if err != nil {
		errs = append(errs, "Transaction Date should be a date such as 2026-01-05.")
	}
	page, _ := strconv.Atoi(string(in.PageNumber))
	if page < 1 {
		errs = append(errs, "Page Number should be 1 or more.")
	}
	rows, _ := strconv.Atoi(string(in.NumberOfReturnedRows))
	if rows < 1 || rows > 500 {
		errs = append(errs, "Number Of Returned Rows should be between 1 and 500.")
	}
	switch in.SearchBy {
	case "", "TransactionReferenceNumber", "SourceReferenceNumber":
	default:
		errs = append(errs, "Search By is not a known field.")
	}
	if errs != nil {
		s.problem(w, r, http.StatusBadRequest, "E900", "Validation failed", errs...)
		return
	}
	if merchant != c.merchant {
		s.problem(w, r, http.StatusForbidden, "E403", "The access token does not belong to this merchant account.")
		return
	}
	s.mu.Lock()
	var match []any
	for i := len(s.order) - 1; i >= 0; i-- {
		t := s.order[i]
		created := t.created.UTC()
		if t.merchant != merchant || created.Year() != day.Year() || created.YearDay() != day.YearDay() {
			continue
		}
		if (in.SearchBy == "TransactionReferenceNumber" && t.ref != in.SearchText) ||
			(in.SearchBy == "SourceReferenceNumber" && t.sourceRef != in.SearchText) {
			continue
		}
		s.expireIfDue(t)
		match = append(match, s.view(t))
	}
	s.mu.Unlock()
	from := min(len(match), (page-1)*rows)
	out := match[from:min(len(match), from+rows)]
	if out == nil {
		out = []any{}
	}
	writeJSON(w, http.StatusOK, out)
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// view renders t the way getTransaction and webhooks show it; s.mu is held.
func (s *Server) view(t *txn) any {
	received := int64(0)
	if t.status == "S" {
		received = t.amount - t.fee
	}
	typeName, code := "Standard Checkout", "CHK"
	if t.kind == kindPush {
		typeName, code = "Direct Push Payment", "DPP"
	}
	if s.cfg.FlatTransactions {
		return map[string]any{
			"sourceAccountNumber":        t.payer,
			"sourceCustomerName":         "",
			"sourceReferenceNumber":      t.sourceRef,
			"connectorName":              t.connectorName,
			"amountSent":                 formatAmount(t.amount),
			"transactionStatusCode":      t.status,
			"transactionStatusName":      statusNames[t.status],
			"transactionFee":             formatAmount(t.fee),
			"transactionReferenceNumber": t.ref,
			"sourceCurrencyCode":         "MWK",
			"transactionDescription":     t.description,
			"beneficiaryAccountNumber":   strconv.FormatInt(t.merchant, 10),
			"beneficiaryCurrencyCode":    "MWK",
			"beneficiaryName":            s.cfg.MerchantName,
			"amountReceived":             formatAmount(received),
			"transactionDate":            stamp(t.created),
			"bridgeReferenceNumber":      t.bridgeRef,
			"dateCreated":                stamp(t.created),
			"transactionTypeName":        typeName,
			"responseCode":               t.responseCode,
			"responseMessage":            t.message,
		}
	}
	return map[string]any{
		"beneficiary": map[string]any{
			"accountNumber":  strconv.FormatInt(t.merchant, 10),
			"accountName":    s.cfg.MerchantName,
			"amountReceived": formatAmount(received),
			"currencyCode":   "MWK",
		},
		"source": map[string]any{
			"accountNumber":         t.payer,
			"customerName":          "",
			"amountSent":            formatAmount(t.amount),
			"currencyCode":          "MWK",
			"sourceReferenceNumber": t.sourceRef,
			"connectorId":           t.connectorID,
			"connectorName":         t.connectorName,
		},
		"transaction": map[string]any{
			"transactionReferenceNumber": t.ref,
			"transactionFee":             formatAmount(t.fee),
			"transactionDescription":     t.description,
			"transactionDate":            stamp(t.created),
			"valueDate":                  stamp(t.decided),
			"transactionCode":            code,
			"transactionTypeName":        typeName,
			"transactionStatusCode":      t.status,
			"transactionStatusName":      statusNames[t.status],
			"bridgeReferenceNumber":      t.bridgeRef,
			"responseCode":               t.responseCode,
			"responseMessage":            t.message,
		},
	}
}

// The ways a pending transaction ends.
const (
	actPay     = "pay"
	actDecline = "decline"
	actCancel  = "cancel"
)

var errNotPending = errors.New("the transaction is no longer pending")

// decide ends a pending transaction and sends its webhook; s.mu is held.
func (s *Server) decide(t *txn, act string) error {
	s.expireIfDue(t)
	if t.status != "P" {
		return errNotPending
	}
	now := s.cfg.Now()
	t.decided = now
	switch act {
	case actPay:
		if t.decline {
			t.status, t.responseCode, t.message = "F", codeDeclined, "Payment declined by the payer's wallet or card issuer."
			break
		}
		t.status, t.responseCode, t.message = "S", codeSuccess, "Transaction successful"
		t.fee = t.amount * 15 / 1000 // 1.5%, a made-up sandbox tariff
		t.bridgeRef = "BR" + strings.ToUpper(strings.ReplaceAll(newPTID(), "-", "")[:14])
		if t.kind == kindCheckout {
			// The shopper paid on the hosted page with the sandbox's Airtel wallet.
			t.payer, t.connectorID, t.connectorName = "0999000000", 550044, connectors[550044].name
		}
	case actDecline:
		t.status, t.responseCode, t.message = "F", codeRefused, "Payment declined by the payer."
	case actCancel:
		t.status, t.responseCode, t.message = "C", codeCancelled, "Payment cancelled by the payer."
	default:
		return fmt.Errorf("unknown action %q", act)
	}
	s.notify(t)
	return nil
}

// expireIfDue ends a pending transaction whose session or prompt has run out; s.mu is held.
func (s *Server) expireIfDue(t *txn) {
	if t.status == "P" && !s.cfg.Now().Before(t.expires) {
		s.expire(t)
	}
}

// expire ends a pending transaction unpaid (C, a guess: the docs have no expired letter);
// s.mu is held.
func (s *Server) expire(t *txn) {
	t.decided = s.cfg.Now()
	t.status, t.responseCode, t.message = "C", codeExpired, "The checkout session or push prompt expired."
	s.notify(t)
}

// lookup finds a transaction by transactionReferenceNumber, paymentTransactionId or
// sourceReferenceNumber; s.mu is held.
func (s *Server) lookup(ref string) *txn {
	if t := s.txns[ref]; t != nil {
		return t
	}
	if t := s.byPTID[ref]; t != nil {
		return t
	}
	return s.bySRN[ref]
}

// ExpireOrder lets a pending checkout or push time out unpaid (status C, as if its 10-minute
// session or the prompt ran out). ref is the transactionReferenceNumber, paymentTransactionId
// or sourceReferenceNumber; unknown or finished transactions are left alone.
func (s *Server) ExpireOrder(ref string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.lookup(ref); t != nil && t.status == "P" {
		s.expire(t)
	}
}

// ApprovePush makes the payer enter their PIN on a pending push: it succeeds (S), or fails (F)
// for the magic decline amount.
func (s *Server) ApprovePush(ref string) error { return s.decidePush(ref, actPay) }

// DeclinePush makes the payment fail on the payer's side (F), as a wrong PIN or an empty
// wallet would.
func (s *Server) DeclinePush(ref string) error { return s.decidePush(ref, actDecline) }

// CancelPush makes the payer reject the prompt (C).
func (s *Server) CancelPush(ref string) error { return s.decidePush(ref, actCancel) }

// ReverseTransaction reverses a successful transaction, as OneKhusa does when the money goes
// back to the payer (a disputed or mistaken payment): its status becomes R (Reversed) and the
// pushpayment.reversed webhook is sent. It fails for unknown transactions and for ones that are
// not successful.
func (s *Server) ReverseTransaction(ref string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.lookup(ref)
	if t == nil {
		return fmt.Errorf("sandbox: no transaction %q", ref)
	}
	if t.status != "S" {
		return fmt.Errorf("sandbox: transaction %s is %s, only a successful one can be reversed", t.ref, strings.ToLower(statusNames[t.status]))
	}
	t.status, t.responseCode, t.message = "R", codeReversed, "Transaction reversed: the money went back to the payer."
	t.decided = s.cfg.Now()
	s.notify(t)
	return nil
}

func (s *Server) decidePush(ref, act string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.lookup(ref)
	if t == nil || t.kind != kindPush {
		return fmt.Errorf("sandbox: no push %q", ref)
	}
	if err := s.decide(t, act); err != nil {
		return fmt.Errorf("sandbox: push %s: %w", t.ref, err)
	}
	return nil
}

// --- webhooks ------------------------------------------------------------------------------

// notify sends the webhook for a finished transaction to the configured URL, with the
// documented headers and an opaque signature only /merchants/webhooks/verify can vouch for.
// s.mu is held; delivery happens in the background with up to three attempts.
func (s *Server) notify(t *txn) {
	if s.cfg.WebhookURL == "" {
		return
	}
	event := "pushpayment.failed"
	switch t.status {
	case "S":
		event = "pushpayment.success"
	case "R":
		event = "pushpayment.reversed"
	}
	body, _ := json.Marshal(s.view(t))
	sig := base64.RawURLEncoding.EncodeToString(randomBytes(32))
	s.sigs[sig] = signature{merchant: t.merchant, event: event}
	s.wg.Add(1)
	go s.deliver(event, sig, body)
}

func (s *Server) deliver(event, sig string, body []byte) {
	defer s.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	for attempt := 0; attempt < 3; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.cfg.WebhookURL, bytes.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-OneKhusa-Webhook-Event", event)
		req.Header.Set("X-OneKhusa-Webhook-Signature", sig)
		resp, err := s.cfg.WebhookClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode >= 200 && resp.StatusCode < 300 {
				return
			}
		}
		timer := time.NewTimer(time.Duration(attempt+1) * time.Second)
		select {
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
			return
		}
	}
}

type verifyRequest struct {
	MerchantAccountNumber json.Number `json:"merchantAccountNumber"`
	EventCode             string      `json:"eventCode"`
	WebhookSignature      string      `json:"webhookSignature"`
}

// verifyWebhook serves POST /merchants/webhooks/verify: is this the signature the sandbox sent
// with this event to this merchant?
func (s *Server) verifyWebhook(w http.ResponseWriter, r *http.Request, c caller, body []byte) {
	var in verifyRequest
	if err := decode(body, &in); err != nil {
		s.problem(w, r, http.StatusBadRequest, "E900", "Validation failed", "Request body is not valid JSON.")
		return
	}
	var errs []string
	merchant, ok := merchantNumber(in.MerchantAccountNumber)
	if !ok {
		errs = append(errs, "Merchant Account Number should be 8 numbers only.")
	}
	if in.EventCode == "" {
		errs = append(errs, "Event Code is required.")
	}
	if in.WebhookSignature == "" {
		errs = append(errs, "Webhook Signature is required.")
	}
	if errs != nil {
		s.problem(w, r, http.StatusBadRequest, "E900", "Validation failed", errs...)
		return
	}
	if merchant != c.merchant {
		s.problem(w, r, http.StatusForbidden, "E403", "The access token does not belong to this merchant account.")
		return
	}
	s.mu.Lock()
	sig, known := s.sigs[in.WebhookSignature]
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"merchantAccountNumber": merchant,
		"isSignatureValid":      known && sig.merchant == merchant && sig.event == in.EventCode,
	})
}
