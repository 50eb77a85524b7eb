package onekhusa

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
)

// Decimal is an amount in major units exactly as OneKhusa writes it. The docs show amounts as
// JSON numbers (transactionAmount: 100.00) and, on some endpoints, as strings ("8375000.00"), so
// it reads both and writes a number. It never passes through a float: Format and Parse in
// providers/currency convert it to and from minor units.
type Decimal string

// MarshalJSON writes the decimal as a bare JSON number.
func (d Decimal) MarshalJSON() ([]byte, error) {
	if !validDecimal(string(d)) {
		return nil, fmt.Errorf("onekhusa: %q is not a decimal amount", string(d))
	}
	return []byte(d), nil
}

// UnmarshalJSON accepts a JSON number or a JSON string holding one; null leaves it empty.
func (d *Decimal) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if bytes.Equal(b, []byte("null")) {
		*d = ""
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*d = Decimal(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return errors.New("onekhusa: amount is neither a number nor a string")
	}
	*d = Decimal(n)
	return nil
}

// validDecimal reports whether s is a plain decimal: optional minus, digits, optional fraction.
func validDecimal(s string) bool {
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	whole, frac, dot := cutByte(s, '.')
	if whole == "" || (dot && frac == "") {
		return false
	}
	return allDigits(whole) && allDigits(frac)
}

func cutByte(s string, c byte) (string, string, bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// AccessTokenRequest is the body of POST /account/getAccessToken.
type AccessTokenRequest struct {
	APIKey                string `json:"apiKey"`
	APISecret             string `json:"apiSecret"`
	OrganisationID        string `json:"organisationId"`
	MerchantAccountNumber int64  `json:"merchantAccountNumber"`
}

// String keeps the credentials out of any log that prints the request.
func (r AccessTokenRequest) String() string {
	return fmt.Sprintf("AccessTokenRequest{organisationId:%s merchantAccountNumber:%d apiKey:[redacted] apiSecret:[redacted]}", r.OrganisationID, r.MerchantAccountNumber)
}

// Format applies String to every verb, %#v and %+v included.
func (r AccessTokenRequest) Format(f fmt.State, _ rune) { fmt.Fprint(f, r.String()) }

// LogValue keeps slog's JSON handler from marshalling the credentials.
func (r AccessTokenRequest) LogValue() slog.Value { return slog.StringValue(r.String()) }

// AccessTokenResponse is the answer of POST /account/getAccessToken.
type AccessTokenResponse struct {
	AccessToken     Secret `json:"accessToken"`
	ExpiresOn       string `json:"expiresOn"`
	ExpiryInMinutes int    `json:"expiryInMinutes"`
}

// CheckoutRequest is the body of POST /checkout/push/initiate (standard hosted checkout).
type CheckoutRequest struct {
	Payment CheckoutPayment `json:"payment"`
	Route   CheckoutRoute   `json:"route"`
}

// CheckoutPayment is the payment section of a CheckoutRequest.
type CheckoutPayment struct {
	MerchantAccountNumber int64   `json:"merchantAccountNumber"`
	Amount                Decimal `json:"amount"`
	Description           string  `json:"description"`
	SourceReferenceNumber string  `json:"sourceReferenceNumber"`
	CapturedBy            string  `json:"capturedBy"`
}

// CheckoutRoute is where the hosted page sends the shopper back to.
type CheckoutRoute struct {
	SuccessRedirectionURL string `json:"successRedirectionUrl"`
	FailureRedirectionURL string `json:"failureRedirectionUrl"`
}

// CheckoutResponse is the answer of POST /checkout/push/initiate. Its fields are a guess (the
// docs do not show it): the overview names checkoutUrl, the sibling request-to-pay checkout
// answers paymentTransactionId, and getTransaction needs a transactionReferenceNumber.
type CheckoutResponse struct {
	MerchantAccountNumber      int64  `json:"merchantAccountNumber"`
	SourceReferenceNumber      string `json:"sourceReferenceNumber"`
	PaymentTransactionID       string `json:"paymentTransactionId"`
	TransactionReferenceNumber string `json:"transactionReferenceNumber"`
	CheckoutURL                string `json:"checkoutUrl"`
	ExpiryInMinutes            int    `json:"expiryInMinutes"`
}

// DirectPushRequest is the body of POST /collections/push/direct/initiate: a mobile-money
// prompt on the payer's phone.
type DirectPushRequest struct {
	MerchantAccountNumber  int64   `json:"merchantAccountNumber"`
	ConnectorID            int64   `json:"connectorId"`
	PayerAccountNumber     string  `json:"payerAccountNumber"`
	SourceReferenceNumber  string  `json:"sourceReferenceNumber"`
	TransactionDescription string  `json:"transactionDescription"`
	TransactionAmount      Decimal `json:"transactionAmount"`
	CapturedBy             string  `json:"capturedBy"`
}

// DirectPushResponse is the answer of a direct push. Its fields are a guess: the docs cut the
// example off, and the changelog adds response code I100 "Push payment transaction initiated".
type DirectPushResponse struct {
	MerchantAccountNumber      int64  `json:"merchantAccountNumber"`
	SourceReferenceNumber      string `json:"sourceReferenceNumber"`
	TransactionReferenceNumber string `json:"transactionReferenceNumber"`
	TransactionStatusCode      string `json:"transactionStatusCode"`
	ResponseCode               string `json:"responseCode"`
	ResponseMessage            string `json:"responseMessage"`
}

// GetTransactionRequest is the body of POST /collections/getTransaction.
type GetTransactionRequest struct {
	MerchantAccountNumber      int64  `json:"merchantAccountNumber"`
	TransactionReferenceNumber string `json:"transactionReferenceNumber"`
}

// GetTransactionsRequest is the body of POST /collections/getTransactions (one day's
// collections, paged, optionally searched).
type GetTransactionsRequest struct {
	MerchantAccountNumber int64  `json:"merchantAccountNumber"`
	TransactionDate       string `json:"transactionDate"` // YYYY-MM-DD
	PageNumber            int    `json:"pageNumber"`
	NumberOfReturnedRows  int    `json:"numberOfReturnedRows"`
	IsIncremental         bool   `json:"isIncremental"`
	SearchBy              string `json:"searchBy,omitempty"`
	SearchText            string `json:"searchText,omitempty"`
}

// Transaction is a collection as getTransaction describes it, in the documented flat shape.
// It also reads the nested shape of the 31 March 2026 changelog (beneficiary, source,
// transaction sections) and flattens it, so callers see one shape whichever the API answers.
// Webhook payloads are read with it too.
type Transaction struct {
	SourceAccountNumber        string  `json:"sourceAccountNumber"`
	SourceCustomerName         string  `json:"sourceCustomerName"`
	SourceReferenceNumber      string  `json:"sourceReferenceNumber"`
	ConnectorName              string  `json:"connectorName"`
	AmountSent                 Decimal `json:"amountSent"`
	TransactionStatusCode      string  `json:"transactionStatusCode"`
	TransactionStatusName      string  `json:"transactionStatusName"`
	TransactionFee             Decimal `json:"transactionFee"`
	TransactionReferenceNumber string  `json:"transactionReferenceNumber"`
	SourceCurrencyCode         string  `json:"sourceCurrencyCode"`
	TransactionDescription     string  `json:"transactionDescription"`
	BeneficiaryAccountNumber   string  `json:"beneficiaryAccountNumber"`
	BeneficiaryCurrencyCode    string  `json:"beneficiaryCurrencyCode"`
	BeneficiaryName            string  `json:"beneficiaryName"`
	AmountReceived             Decimal `json:"amountReceived"`
	TransactionDate            string  `json:"transactionDate"`
	BridgeReferenceNumber      string  `json:"bridgeReferenceNumber"`
	DateCreated                string  `json:"dateCreated"`
	TransactionTypeName        string  `json:"transactionTypeName"`
	ResponseCode               string  `json:"responseCode"`
	ResponseMessage            string  `json:"responseMessage"`
}

// flatTransaction has Transaction's fields without its UnmarshalJSON.
type flatTransaction Transaction

// nestedTransaction is the 2026 "Get Payment" shape.
type nestedTransaction struct {
	Beneficiary *struct {
		AccountNumber  string  `json:"accountNumber"`
		AccountName    string  `json:"accountName"`
		AmountReceived Decimal `json:"amountReceived"`
		CurrencyCode   string  `json:"currencyCode"`
	} `json:"beneficiary"`
	Source *struct {
		AccountNumber         string  `json:"accountNumber"`
		CustomerName          string  `json:"customerName"`
		AmountSent            Decimal `json:"amountSent"`
		CurrencyCode          string  `json:"currencyCode"`
		SourceReferenceNumber string  `json:"sourceReferenceNumber"`
		ConnectorName         string  `json:"connectorName"`
	} `json:"source"`
	Transaction *struct {
		TransactionReferenceNumber string  `json:"transactionReferenceNumber"`
		TransactionFee             Decimal `json:"transactionFee"`
		TransactionDescription     string  `json:"transactionDescription"`
		TransactionDate            string  `json:"transactionDate"`
		TransactionTypeName        string  `json:"transactionTypeName"`
		TransactionStatusCode      string  `json:"transactionStatusCode"`
		TransactionStatusName      string  `json:"transactionStatusName"`
		BridgeReferenceNumber      string  `json:"bridgeReferenceNumber"`
		ResponseCode               string  `json:"responseCode"`
		ResponseMessage            string  `json:"responseMessage"`
	} `json:"transaction"`
}

// UnmarshalJSON reads the flat shape and, where present, the nested one on top of it.
func (t *Transaction) UnmarshalJSON(b []byte) error {
	var flat flatTransaction
	if err := json.Unmarshal(b, &flat); err != nil {
		return err
	}
	var n nestedTransaction
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	if s := n.Beneficiary; s != nil {
		setIf(&flat.BeneficiaryAccountNumber, s.AccountNumber)
		setIf(&flat.BeneficiaryName, s.AccountName)
		setIf((*string)(&flat.AmountReceived), string(s.AmountReceived))
		setIf(&flat.BeneficiaryCurrencyCode, s.CurrencyCode)
	}
	if s := n.Source; s != nil {
		setIf(&flat.SourceAccountNumber, s.AccountNumber)
		setIf(&flat.SourceCustomerName, s.CustomerName)
		setIf((*string)(&flat.AmountSent), string(s.AmountSent))
		setIf(&flat.SourceCurrencyCode, s.CurrencyCode)
		setIf(&flat.SourceReferenceNumber, s.SourceReferenceNumber)
		setIf(&flat.ConnectorName, s.ConnectorName)
	}
	if s := n.Transaction; s != nil {
		setIf(&flat.TransactionReferenceNumber, s.TransactionReferenceNumber)
		setIf((*string)(&flat.TransactionFee), string(s.TransactionFee))
		setIf(&flat.TransactionDescription, s.TransactionDescription)
		setIf(&flat.TransactionDate, s.TransactionDate)
		setIf(&flat.TransactionTypeName, s.TransactionTypeName)
		setIf(&flat.TransactionStatusCode, s.TransactionStatusCode)
		setIf(&flat.TransactionStatusName, s.TransactionStatusName)
		setIf(&flat.BridgeReferenceNumber, s.BridgeReferenceNumber)
		setIf(&flat.ResponseCode, s.ResponseCode)
		setIf(&flat.ResponseMessage, s.ResponseMessage)
	}
	*t = Transaction(flat)
	return nil
}

func setIf(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}

// VerifyWebhookRequest is the body of POST /merchants/webhooks/verify: the two webhook headers
// passed on as received.
type VerifyWebhookRequest struct {
	MerchantAccountNumber int64  `json:"merchantAccountNumber"`
	EventCode             string `json:"eventCode"`
	WebhookSignature      string `json:"webhookSignature"`
}

// VerifyWebhookResponse is the answer of the webhook verification.
type VerifyWebhookResponse struct {
	MerchantAccountNumber int64 `json:"merchantAccountNumber"`
	IsSignatureValid      bool  `json:"isSignatureValid"`
}

// Problem is OneKhusa's RFC 7807 error body.
type Problem struct {
	Type      string   `json:"type"`
	Title     string   `json:"title"`
	Status    int      `json:"status"`
	ErrorCode string   `json:"errorCode"`
	Detail    string   `json:"detail"`
	Instance  string   `json:"instance"`
	Errors    []string `json:"errors"`
}

// The documented webhook headers.
const (
	HeaderWebhookEvent     = "X-OneKhusa-Webhook-Event"
	HeaderWebhookSignature = "X-OneKhusa-Webhook-Signature"
)

// jsonUnmarshalObject decodes b into v only if b is a JSON object.
func jsonUnmarshalObject(b []byte, v any) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return errors.New("onekhusa: not a JSON object")
	}
	return json.Unmarshal(b, v)
}
