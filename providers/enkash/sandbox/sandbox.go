// Package sandbox simulates EnKash's payment gateway API (base path /api/v0) and a hosted
// checkout page, in memory, for tests and for Kassa's sandbox mode. It speaks the documented
// wire format and makes the same guesses as the enkash adapter where the docs are silent (see
// README.md). It uses the standard library only.
package sandbox

import (
	"github.com/kassa-pay/kassa/providers/providertest"

	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Response codes: 0 and 117 are EnKash's; the rest are the adapter's documented guesses.
const (
	codeSuccess            = 0
	codeValidation         = 100
	codeDuplicateOrder     = 104
	codeInvalidAccessKey   = 116
	codeTokenInvalid       = 117
	codeOrderNotFound      = 120
	codePaymentNotFound    = 121
	codeRefundExceeds      = 130
	codeNotRefundable      = 131
	codeRefundRequestReuse = 132
	codeTooManyRequests    = 150
	codeInternal           = 999
)

// Magic amounts in rupees (mirroring providers/providertest/magic.go, which this package does
// not import so that it stays standard library only).
const (
	magicDecline           = 402_00
	magicCreateServerError = 500_00
	magicCreateRateLimited = 429_00
	magicCreateSlow        = 504_00
	magicFetchServerError  = 503_00
	// Refund amounts (see providertest.MagicRefund*): pending at first then SUCCESS, FAILED at
	// once, pending at first then FAILED. A pending refund settles when it is asked about
	// again (its requestId replayed).
	magicRefundPending         = 202_00
	magicRefundDeclined        = 402_00
	magicRefundPendingThenFail = 408_00
)

// Order statuses.
const (
	orderCreated          = "CREATED"
	orderCheckoutRendered = "CHECKOUT_RENDERED"
	orderAttempted        = "ATTEMPTED"
	orderPaid             = "PAID"
	orderCancelled        = "CANCELLED"
	orderExpired          = "EXPIRED"
)

// Payment statuses.
const (
	paymentSuccess           = "SUCCESS"
	paymentFailed            = "FAILED"
	paymentCancelled         = "CANCELLED"
	paymentPartiallyRefunded = "PARTIALLY_REFUNDED"
	paymentRefunded          = "REFUNDED"
	refundCreated            = "CREATED"
)

const (
	maxOrderID   = 50
	maxRequestID = 64
	maxBody      = 64 << 10
	maxAmount    = 1_000_000_000_00 // Rs 1,000,000,000 in paise
)

// Credentials are what the sandbox accepts at POST /api/v0/merchant/token, with the docs'
// field names.
type Credentials struct {
	AccessKey string `json:"accessKey"`
	SecretKey string `json:"secretKey"`
}

// DefaultCredentials are the fixed sandbox credentials. They are not secret.
func DefaultCredentials() Credentials {
	return Credentials{AccessKey: "EKSANDBOXACCESSKEY01", SecretKey: "ek-sandbox-secret-key-not-secret"}
}

// Config configures a sandbox. Zero values pick the defaults.
type Config struct {
	// Prefix is where Kassa mounts the server (with http.StripPrefix), e.g. "/sandbox/enkash";
	// it is only used to build absolute links.
	Prefix string
	// Now is the sandbox's clock (default time.Now); tokens and orders expire by it.
	Now func() time.Time
	// SlowDelay is how long creating an order of the slow magic amount takes (default 15s).
	SlowDelay time.Duration
	// TokenLifetime is how long an issued token works (default 30 minutes).
	TokenLifetime time.Duration
	// OrderLifetime is how long an order can be paid before it expires (default 30 minutes).
	OrderLifetime time.Duration
	// Credentials are the only ones accepted (default DefaultCredentials()).
	Credentials Credentials
	// NotifyClient delivers notifyUrl callbacks (default a plain client); NotifyTimeout bounds
	// each delivery (default 5s); NotifyAttempts is how many deliveries are tried until one
	// answers 2xx (default 3), NotifyBackoff the wait before the second (default 1s, doubling).
	NotifyClient   *http.Client
	NotifyTimeout  time.Duration
	NotifyAttempts int
	NotifyBackoff  time.Duration
}

// Server is the simulator; it is an http.Handler.
type Server struct {
	cfg Config
	mux *http.ServeMux

	mu       sync.Mutex
	tokens   map[string]time.Time // token -> expiry
	orders   map[string]*order
	payments map[string]*payment
	refunds  map[string]*refund // by requestId
	issued   int
	rejected int

	notifyCtx    context.Context
	stopNotifies context.CancelFunc
	notifies     sync.WaitGroup
}

type order struct {
	OrderID          string
	Amount           int64 // paise
	Status           string
	Description      string
	ReturnURL        string
	NotifyURL        string
	CustomerInfo     json.RawMessage
	CustomParameters map[string]string
	Created          time.Time
	LastModified     time.Time
	Payments         []*payment
}

type payment struct {
	ID          string
	Order       *order
	Amount      int64
	Refunded    int64
	Reserved    int64 // by refunds not yet settled
	Status      string
	TxnMsg      string
	Created     time.Time
	Modified    time.Time
	UniqueID    string
	BankTxnID   string
	PaymentMode string
}

type refund struct {
	RequestID string
	Payment   *payment
	Amount    int64
	ID        string
	Status    string // CREATED, SUCCESS or FAILED
	Created   time.Time
	UniqueID  string
}

// New returns a sandbox for cfg.
func New(cfg Config) *Server {
	cfg.Prefix = strings.TrimRight(cfg.Prefix, "/")
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SlowDelay <= 0 {
		cfg.SlowDelay = 15 * time.Second
	}
	if cfg.TokenLifetime <= 0 {
		cfg.TokenLifetime = 30 * time.Minute
	}
	if cfg.OrderLifetime <= 0 {
		cfg.OrderLifetime = 30 * time.Minute
	}
	if cfg.Credentials == (Credentials{}) {
		cfg.Credentials = DefaultCredentials()
	}
	if cfg.NotifyClient == nil {
		cfg.NotifyClient = &http.Client{}
	}
	if cfg.NotifyTimeout <= 0 {
		cfg.NotifyTimeout = 5 * time.Second
	}
	if cfg.NotifyAttempts <= 0 {
		cfg.NotifyAttempts = 3
	}
	if cfg.NotifyBackoff <= 0 {
		cfg.NotifyBackoff = time.Second
	}
	s := &Server{
		cfg:      cfg,
		mux:      http.NewServeMux(),
		tokens:   map[string]time.Time{},
		orders:   map[string]*order{},
		payments: map[string]*payment{},
		refunds:  map[string]*refund{},
	}
	s.notifyCtx, s.stopNotifies = context.WithCancel(context.Background())
	s.mux.HandleFunc("POST /api/v0/merchant/token", s.token)
	s.mux.HandleFunc("POST /api/v0/orders", s.authed(s.createOrder))
	s.mux.HandleFunc("GET /api/v0/orders/{orderId}", s.authed(s.getOrder))
	s.mux.HandleFunc("GET /api/v0/payment/{transactionId}", s.authed(s.getPayment))
	s.mux.HandleFunc("POST /api/v0/payment/{transactionId}/refund", s.authed(s.refund))
	s.mux.HandleFunc("/api/v0/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, codeValidation, "Not found", "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	s.mux.HandleFunc("GET /checkout/{orderId}", s.checkoutPage)
	s.mux.HandleFunc("POST /checkout/{orderId}", s.checkoutAction)
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Close stops pending notifyUrl deliveries and waits for those in flight.
func (s *Server) Close() {
	s.stopNotifies()
	s.notifies.Wait()
}

// ExpireTokens makes every token issued so far invalid (a test hook).
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// ExpireOrder lets the order with orderId ref time out unpaid (a test hook). A paid order
// stays paid.
func (s *Server) ExpireOrder(ref string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o, ok := s.orders[ref]; ok && o.Status != orderPaid {
		o.Status = orderExpired
		o.LastModified = s.cfg.Now()
	}
}

// TokenStats reports how many tokens were issued and how many API calls were refused for an
// invalid or expired token (a test hook for token renewal).
func (s *Server) TokenStats() (issued, rejected int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issued, s.rejected
}

// token serves POST /api/v0/merchant/token. Its answer is not wrapped in the envelope.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	var req Credentials
	if err := decodeJSON(r, &req); err != nil {
		writeJSON(w, http.StatusBadRequest, tokenResponse{ResultCode: 400, ResultMessage: "Malformed request body."})
		return
	}
	if req.AccessKey == "" || req.SecretKey == "" {
		writeJSON(w, http.StatusBadRequest, tokenResponse{ResultCode: 400, ResultMessage: "accessKey and secretKey are required."})
		return
	}
	want := s.cfg.Credentials
	okKey := subtle.ConstantTimeCompare([]byte(req.AccessKey), []byte(want.AccessKey)) == 1
	okSecret := subtle.ConstantTimeCompare([]byte(req.SecretKey), []byte(want.SecretKey)) == 1
	if !okKey || !okSecret {
		writeJSON(w, http.StatusUnauthorized, tokenResponse{ResultCode: 401, ResultMessage: "Invalid accessKey or secretKey."})
		return
	}
	tok := randomHex(32)
	exp := s.cfg.Now().Add(s.cfg.TokenLifetime)
	s.mu.Lock()
	s.tokens[tok] = exp
	s.issued++
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, tokenResponse{Token: tok, Expiry: exp.UnixMilli(), ResultCode: 200, ResultMessage: "Token generated successfully."})
}

type tokenResponse struct {
	Token         string `json:"token"`
	Expiry        int64  `json:"expiry"`
	ResultCode    int    `json:"resultCode"`
	ResultMessage string `json:"resultMessage"`
}

// authed enforces the merchantAccessKey header and a live bearer token.
func (s *Server) authed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("merchantAccessKey")
		if subtle.ConstantTimeCompare([]byte(key), []byte(s.cfg.Credentials.AccessKey)) != 1 {
			writeError(w, http.StatusUnauthorized, codeInvalidAccessKey, "Unauthorized", "merchantAccessKey is missing or invalid.")
			return
		}
		auth := r.Header.Get("Authorization")
		tok, ok := "", len(auth) > 7 && strings.EqualFold(auth[:7], "Bearer ")
		if ok {
			tok = strings.TrimSpace(auth[7:])
		}
		s.mu.Lock()
		exp, known := s.tokens[tok]
		valid := ok && known && s.cfg.Now().Before(exp)
		if !valid {
			s.rejected++
			if known {
				delete(s.tokens, tok)
			}
		}
		s.mu.Unlock()
		if !valid {
			writeError(w, http.StatusUnauthorized, codeTokenInvalid, "Unauthorized", "Token is invalid.")
			return
		}
		h(w, r)
	}
}

// Wire shapes of the API.

type amountJSON struct {
	Value    rupees `json:"value"`
	Currency string `json:"currency"`
}

type paymentDetailJSON struct {
	AccountNumber string `json:"accountNumber"`
	IFSC          string `json:"ifsc"`
}

type createOrderRequest struct {
	OrderID          string             `json:"orderId"`
	Amount           *amountJSON        `json:"amount"`
	ReturnURL        string             `json:"returnUrl"`
	NotifyURL        string             `json:"notifyUrl"`
	CustomerInfo     json.RawMessage    `json:"customerInfo"`
	CustomParameters map[string]string  `json:"customParameters"`
	Description      string             `json:"description"`
	PaymentDetail    *paymentDetailJSON `json:"paymentDetail"`
}

type orderJSON struct {
	OrderID          string            `json:"orderId"`
	Amount           amountOut         `json:"amount"`
	Status           string            `json:"status"`
	Description      string            `json:"description,omitempty"`
	ReturnURL        string            `json:"returnUrl,omitempty"`
	NotifyURL        string            `json:"notifyUrl,omitempty"`
	CheckoutURL      string            `json:"checkoutUrl"`
	CustomerInfo     json.RawMessage   `json:"customerInfo,omitempty"`
	CustomParameters map[string]string `json:"customParameters,omitempty"`
	Created          int64             `json:"created"`
	LastModified     int64             `json:"lastModified"`
	Transactions     []paymentJSON     `json:"transactions"`
}

type amountOut struct {
	Value    json.RawMessage `json:"value"`
	Currency string          `json:"currency"`
}

type paymentJSON struct {
	TransactionID       string          `json:"transactionId"`
	OrderID             string          `json:"orderId"`
	Amount              json.RawMessage `json:"amount"`
	Currency            string          `json:"currency"`
	Status              string          `json:"status"`
	PaymentMode         string          `json:"paymentMode"`
	BankCode            string          `json:"bankCode"`
	BankName            string          `json:"bankName"`
	TxnMsg              string          `json:"txnMsg"`
	TxnDate             string          `json:"txnDate"`
	UniqueTransactionID string          `json:"uniqueTransactionId"`
	BankTransactionID   string          `json:"bankTransactionId"`
	RefundedAmount      json.RawMessage `json:"refundedAmount"`
	Created             int64           `json:"created"`
	LastModified        int64           `json:"lastModified"`
}

type refundRequest struct {
	Amount    *rupees `json:"amount"`
	Remarks   string  `json:"remarks"`
	RequestID string  `json:"requestId"`
}

type refundJSON struct {
	Amount              json.RawMessage `json:"amount"`
	PaymentMode         string          `json:"paymentMode"`
	BankCode            string          `json:"bankCode"`
	BankName            string          `json:"bankName"`
	Currency            string          `json:"currency"`
	Status              string          `json:"status"`
	TransactionID       string          `json:"transactionId"`
	TxnMsg              string          `json:"txnMsg"`
	TxnDate             string          `json:"txnDate"`
	UniqueTransactionID string          `json:"uniqueTransactionId"`
	BankTransactionID   string          `json:"bankTransactionId"`
}

// createOrder serves POST /api/v0/orders.
func (s *Server) createOrder(w http.ResponseWriter, r *http.Request) {
	var req createOrderRequest
	if err := decodeJSON(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, codeValidation, "Validation failed", "malformed JSON body: "+err.Error())
		return
	}
	if problems := validateOrder(req); len(problems) > 0 {
		writeError(w, http.StatusBadRequest, codeValidation, "Validation failed", strings.Join(problems, "; "))
		return
	}
	amount := req.Amount.Value.paise
	switch amount {
	case magicCreateServerError:
		writeError(w, http.StatusInternalServerError, codeInternal, "Internal server error", "Something went wrong, please try again.")
		return
	case magicCreateRateLimited:
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusTooManyRequests, codeTooManyRequests, "Too many requests", "Rate limit exceeded, retry later.")
		return
	}
	now := s.cfg.Now()
	o := &order{
		OrderID:          req.OrderID,
		Amount:           amount,
		Status:           orderCreated,
		Description:      req.Description,
		ReturnURL:        req.ReturnURL,
		NotifyURL:        req.NotifyURL,
		CustomerInfo:     req.CustomerInfo,
		CustomParameters: req.CustomParameters,
		Created:          now,
		LastModified:     now,
	}
	s.mu.Lock()
	if _, dup := s.orders[o.OrderID]; dup {
		s.mu.Unlock()
		writeError(w, http.StatusConflict, codeDuplicateOrder, "Duplicate order", "An order with this orderId already exists.")
		return
	}
	s.orders[o.OrderID] = o
	out := s.orderJSON(r, o)
	s.mu.Unlock()
	// The fault amounts act first and then fail: the order exists, the caller cannot know.
	switch amount {
	case magicCreateSlow:
		t := time.NewTimer(s.cfg.SlowDelay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	case providertest.MagicCreateResetAfterActing * 100:
		providertest.ResetConnection(w)
		return
	case providertest.MagicCreateServerErrorAfterActing * 100:
		writeError(w, http.StatusInternalServerError, codeInternal, "Internal server error", "Something went wrong, please try again.")
		return
	}
	writeOK(w, out)
}

func validateOrder(req createOrderRequest) []string {
	var p []string
	switch {
	case req.OrderID == "":
		p = append(p, "orderId is required")
	case !alphanumeric(req.OrderID):
		p = append(p, "orderId must be alphanumeric")
	case len(req.OrderID) > maxOrderID:
		p = append(p, fmt.Sprintf("orderId must be at most %d characters", maxOrderID))
	}
	if req.Amount == nil || !req.Amount.Value.set {
		p = append(p, "amount.value is required")
	} else {
		if req.Amount.Value.paise < 1 || req.Amount.Value.paise > maxAmount {
			p = append(p, "amount.value must be between 0.01 and 1000000000")
		}
		if req.Amount.Currency != "INR" {
			p = append(p, "amount.currency must be INR")
		}
	}
	for name, u := range map[string]string{"returnUrl": req.ReturnURL, "notifyUrl": req.NotifyURL} {
		if u != "" && !absoluteHTTPURL(u) {
			p = append(p, name+" must be an absolute http(s) URL")
		}
	}
	if d := req.PaymentDetail; d != nil {
		if n := len(d.AccountNumber); d.AccountNumber != "" && (n < 9 || n > 36) {
			p = append(p, "paymentDetail.accountNumber must be 9 to 36 characters")
		}
		if d.IFSC != "" && len(d.IFSC) != 11 {
			p = append(p, "paymentDetail.ifsc must be 11 characters")
		}
	}
	if len(req.Description) > 255 {
		p = append(p, "description must be at most 255 characters")
	}
	return p
}

// getOrder serves GET /api/v0/orders/{orderId}.
func (s *Server) getOrder(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	o, ok := s.orders[r.PathValue("orderId")]
	if !ok {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, codeOrderNotFound, "Order not found", "No order with this orderId.")
		return
	}
	if o.Amount == magicFetchServerError {
		s.mu.Unlock()
		writeError(w, http.StatusInternalServerError, codeInternal, "Internal server error", "Something went wrong, please try again.")
		return
	}
	s.expireIfDue(o)
	out := s.orderJSON(r, o)
	s.mu.Unlock()
	writeOK(w, out)
}

// getPayment serves GET /api/v0/payment/{transactionId}.
func (s *Server) getPayment(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	p, ok := s.payments[r.PathValue("transactionId")]
	if !ok {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, codePaymentNotFound, "Transaction not found", "No transaction with this transactionId.")
		return
	}
	if p.Order.Amount == magicFetchServerError {
		s.mu.Unlock()
		writeError(w, http.StatusInternalServerError, codeInternal, "Internal server error", "Something went wrong, please try again.")
		return
	}
	out := paymentOut(p)
	s.mu.Unlock()
	writeOK(w, out)
}

// refund serves POST /api/v0/payment/{transactionId}/refund.
func (s *Server) refund(w http.ResponseWriter, r *http.Request) {
	var req refundRequest
	if err := decodeJSON(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, codeValidation, "Validation failed", "malformed JSON body: "+err.Error())
		return
	}
	var problems []string
	if req.RequestID == "" {
		problems = append(problems, "requestId is required")
	} else if len(req.RequestID) > maxRequestID {
		problems = append(problems, fmt.Sprintf("requestId must be at most %d characters", maxRequestID))
	}
	if req.Amount == nil || !req.Amount.set {
		problems = append(problems, "amount is required")
	} else if req.Amount.paise < 1 {
		problems = append(problems, "amount must be at least 0.01")
	}
	if len(problems) > 0 {
		writeError(w, http.StatusBadRequest, codeValidation, "Validation failed", strings.Join(problems, "; "))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.payments[r.PathValue("transactionId")]
	if !ok {
		writeError(w, http.StatusNotFound, codePaymentNotFound, "Transaction not found", "No transaction with this transactionId.")
		return
	}
	if prev, ok := s.refunds[req.RequestID]; ok {
		if prev.Payment != p || prev.Amount != req.Amount.paise {
			writeError(w, http.StatusConflict, codeRefundRequestReuse, "Duplicate requestId", "This requestId was used for a different refund.")
			return
		}
		if prev.Status == refundCreated {
			// Asked about again: a pending magic refund settles now.
			s.settleRefund(prev, prev.Amount != magicRefundPendingThenFail)
		}
		writeOK(w, refundOut(prev))
		return
	}
	if p.Status != paymentSuccess && p.Status != paymentPartiallyRefunded {
		writeError(w, http.StatusConflict, codeNotRefundable, "Not refundable", "Only a successful payment can be refunded; this one is "+p.Status+".")
		return
	}
	if p.Refunded+p.Reserved+req.Amount.paise > p.Amount {
		writeError(w, http.StatusBadRequest, codeRefundExceeds, "Refund exceeds the refundable amount",
			"At most "+formatRupees(p.Amount-p.Refunded-p.Reserved)+" can still be refunded.")
		return
	}
	now := s.cfg.Now()
	rf := &refund{RequestID: req.RequestID, Payment: p, Amount: req.Amount.paise, ID: "RF" + randomID(), Status: refundCreated,
		Created: now, UniqueID: randomID()}
	s.refunds[rf.RequestID] = rf
	p.Reserved += rf.Amount
	switch rf.Amount {
	case magicRefundPending, magicRefundPendingThenFail:
	case magicRefundDeclined:
		s.settleRefund(rf, false)
	default:
		s.settleRefund(rf, true)
	}
	writeOK(w, refundOut(rf))
}

// settleRefund ends a CREATED refund: SUCCESS moves the payment to PARTIALLY_REFUNDED or
// REFUNDED, FAILED gives its amount back. Caller holds s.mu.
func (s *Server) settleRefund(rf *refund, ok bool) {
	p := rf.Payment
	p.Reserved -= rf.Amount
	p.Modified = s.cfg.Now()
	if !ok {
		rf.Status = paymentFailed
		return
	}
	rf.Status = paymentSuccess
	p.Refunded += rf.Amount
	p.Status = paymentPartiallyRefunded
	if p.Refunded == p.Amount {
		p.Status = paymentRefunded
	}
}

// expireIfDue lets an unpaid, untried order lapse after OrderLifetime. Caller holds s.mu.
func (s *Server) expireIfDue(o *order) {
	if (o.Status == orderCreated || o.Status == orderCheckoutRendered) && !s.cfg.Now().Before(o.Created.Add(s.cfg.OrderLifetime)) {
		o.Status = orderExpired
		o.LastModified = s.cfg.Now()
	}
}

// orderJSON renders an order. Caller holds s.mu.
func (s *Server) orderJSON(r *http.Request, o *order) orderJSON {
	out := orderJSON{
		OrderID:          o.OrderID,
		Amount:           amountOut{Value: json.RawMessage(formatRupees(o.Amount)), Currency: "INR"},
		Status:           o.Status,
		Description:      o.Description,
		ReturnURL:        o.ReturnURL,
		NotifyURL:        o.NotifyURL,
		CheckoutURL:      s.baseURL(r) + "/checkout/" + url.PathEscape(o.OrderID),
		CustomerInfo:     o.CustomerInfo,
		CustomParameters: o.CustomParameters,
		Created:          o.Created.UnixMilli(),
		LastModified:     o.LastModified.UnixMilli(),
		Transactions:     []paymentJSON{},
	}
	for _, p := range o.Payments {
		out.Transactions = append(out.Transactions, paymentOut(p))
	}
	return out
}

func paymentOut(p *payment) paymentJSON {
	return paymentJSON{
		TransactionID:       p.ID,
		OrderID:             p.Order.OrderID,
		Amount:              json.RawMessage(formatRupees(p.Amount)),
		Currency:            "INR",
		Status:              p.Status,
		PaymentMode:         p.PaymentMode,
		BankCode:            "SBXB",
		BankName:            "Sandbox Bank",
		TxnMsg:              p.TxnMsg,
		TxnDate:             p.Created.UTC().Format(time.RFC3339),
		UniqueTransactionID: p.UniqueID,
		BankTransactionID:   p.BankTxnID,
		RefundedAmount:      json.RawMessage(formatRupees(p.Refunded)),
		Created:             p.Created.UnixMilli(),
		LastModified:        p.Modified.UnixMilli(),
	}
}

var refundMessages = map[string]string{
	refundCreated:  "Refund initiated (sandbox)",
	paymentSuccess: "Refund processed (sandbox)",
	paymentFailed:  "Refund declined by the bank (sandbox)",
}

func refundOut(rf *refund) refundJSON {
	return refundJSON{
		Amount:              json.RawMessage(formatRupees(rf.Amount)),
		PaymentMode:         rf.Payment.PaymentMode,
		BankCode:            "SBXB",
		BankName:            "Sandbox Bank",
		Currency:            "INR",
		Status:              rf.Status,
		TransactionID:       rf.ID,
		TxnMsg:              refundMessages[rf.Status],
		TxnDate:             rf.Created.UTC().Format(time.RFC3339),
		UniqueTransactionID: rf.UniqueID,
		BankTransactionID:   "SBXRF" + rf.UniqueID,
	}
}

// baseURL is the absolute URL of the sandbox's root as the browser sees it.
func (s *Server) baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "http" || p == "https" {
		scheme = p
	}
	return scheme + "://" + r.Host + s.cfg.Prefix
}

// rupees is an amount in decimal rupees read from a JSON number (or a string holding one, as
// the documented refund example sends), exactly, into paise.
type rupees struct {
	paise int64
	set   bool
}

func (a *rupees) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" {
		return nil
	}
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	p, err := parseRupees(s)
	if err != nil {
		return err
	}
	a.paise, a.set = p, true
	return nil
}

var errAmount = errors.New("amount must be a decimal number of rupees with at most 2 decimals")

// parseRupees reads "20.15", "20.1", "20" or "20.150" into paise; it refuses signs, exponents,
// more than two significant decimals and absurd sizes.
func parseRupees(s string) (int64, error) {
	whole, frac, dot := strings.Cut(s, ".")
	if whole == "" || len(whole) > 12 || (dot && frac == "") || !digits(whole) || !digits(frac) {
		return 0, errAmount
	}
	if len(frac) > 2 {
		if strings.Trim(frac[2:], "0") != "" {
			return 0, errAmount
		}
		frac = frac[:2]
	}
	frac += strings.Repeat("0", 2-len(frac))
	n, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil {
		return 0, errAmount
	}
	return n, nil
}

func formatRupees(paise int64) string {
	return fmt.Sprintf("%d.%02d", paise/100, paise%100)
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func alphanumeric(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

func absoluteHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON body")
	}
	return nil
}

type envelope struct {
	ResponseCode    int    `json:"response_code"`
	ResponseMessage string `json:"response_message"`
	Payload         any    `json:"payload"`
}

func writeOK(w http.ResponseWriter, payload any) {
	writeJSON(w, http.StatusOK, envelope{ResponseCode: codeSuccess, ResponseMessage: "SUCCESS", Payload: payload})
}

func writeError(w http.ResponseWriter, status, code int, msg, detail string) {
	writeJSON(w, status, envelope{ResponseCode: code, ResponseMessage: msg, Payload: detail})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// randomID is an upper-case alphanumeric id in EnKash's style.
func randomID() string { return strings.ToUpper(randomHex(10)) }
