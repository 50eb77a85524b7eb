package kspay

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
)

// Secret is a credential or token: the secret key, access and refresh tokens, transaction
// signatures. It prints, formats, logs and marshals as "[redacted]"; Reveal gives the value for
// the wire.
type Secret string

const redacted = "[redacted]"

// Reveal returns the secret's value, for the one place that puts it on the wire.
func (s Secret) Reveal() string { return string(s) }

// String implements fmt.Stringer.
func (Secret) String() string { return redacted }

// GoString implements fmt.GoStringer, so %#v hides the value too.
func (Secret) GoString() string { return `"` + redacted + `"` }

// Format implements fmt.Formatter: every verb (%s, %v, %q, %x, ...) prints "[redacted]".
func (Secret) Format(f fmt.State, _ rune) { io.WriteString(f, redacted) }

// LogValue implements slog.LogValuer.
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON keeps a Secret out of any JSON it is accidentally marshalled into. Decoding a
// Secret from the provider's JSON works as for a plain string.
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// envelope is every KS Pay answer: {"status": 201, "message": "success", "result": ...}. Error
// answers carry a numeric code instead of a result (guess: {"status", "message", "code"}).
type envelope struct {
	Status  int             `json:"status"`
	Message json.RawMessage `json:"message"`
	Code    json.RawMessage `json:"code"`
	Result  json.RawMessage `json:"result"`
}

// credentialsBody is the body of generate-token and refresh-token.
type credentialsBody struct {
	AccessKey string `json:"accessKey"`
	SecretKey string `json:"secretKey"`
}

// TokenPair is the result of generate-token and refresh-token.
type TokenPair struct {
	AccessToken  Secret `json:"accessToken"`
	RefreshToken Secret `json:"refreshToken"`
}

// Currency is one entry of GET /currencies.
type Currency struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Code       string `json:"code"`
	Symbol     string `json:"symbol"`
	Type       string `json:"type"`
	UserID     string `json:"userId"`
	IsActive   *bool  `json:"isActive,omitempty"`
	IsDisabled bool   `json:"isDisabled"`
	CreatedAt  string `json:"createdAt"`
	UpdatedAt  string `json:"updatedAt"`
}

// PaymentMethod is one entry of GET /{currencyId}/payment-methods.
type PaymentMethod struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	IsActive   *bool  `json:"isActive,omitempty"`
	IsDisabled bool   `json:"isDisabled"`
}

// usable reports whether a catalog entry may be offered: not disabled, and not explicitly
// inactive (an absent isActive counts as active).
func usable(isActive *bool, isDisabled bool) bool {
	return !isDisabled && (isActive == nil || *isActive)
}

// InitiateRequest is the body of POST /transaction/initiate in the documented NPM sequence.
// Amount is a JSON number in major units ("345.67"), written from minor units by
// providers/currency so no float ever touches it.
type InitiateRequest struct {
	CurrencyID      string      `json:"currencyId"`
	PaymentMethodID string      `json:"paymentMethodId"`
	Amount          json.Number `json:"amount"`
	ReferenceNumber string      `json:"referenceNumber"`
	AppID           string      `json:"appId"`
	RedirectURL     string      `json:"redirectUrl"`
}

// InitiateResult is what initiate returns: the per-transaction signature for process.
type InitiateResult struct {
	Signature Secret `json:"signature"`
}

// ProcessedOrder is the "order" returned by POST /transaction/process. The fields are those of
// the documented S2S initiate result and the official SDK's process result; PayURL is a guess
// (see the package comment).
type ProcessedOrder struct {
	TxnID           string          `json:"pe_txnId"`
	ProviderOrderID string          `json:"providerOrderId"`
	Amount          Amount          `json:"amount"`
	Currency        string          `json:"currency"`
	Gateway         string          `json:"gateway"`
	Method          string          `json:"method"`
	Mode            string          `json:"mode"`
	PayURL          string          `json:"payUrl"`
	Config          json.RawMessage `json:"config,omitempty"`
}

// Transaction is the documented transaction object of GET /transaction/txnId/{txnId} and
// GET /transaction.
type Transaction struct {
	ID                     string `json:"id"`
	ProviderOrderID        string `json:"providerOrderId"`
	CurrencyID             string `json:"currencyId"`
	AppID                  string `json:"appId"`
	ReferenceNumber        string `json:"referenceNumber"`
	PaymentMethodID        string `json:"paymentMethodId"`
	Amount                 Amount `json:"amount"`
	CurrencyCode           string `json:"currencyCode"`
	Origin                 string `json:"origin"`
	GatewayConfigID        string `json:"gatewayConfigId"`
	PaymentType            string `json:"paymentType"`
	SubPaymentType         string `json:"subPaymentType"`
	ProviderName           string `json:"providerName"`
	ProviderPaymentType    string `json:"providerPaymentType"`
	ProviderSubpaymentType string `json:"providerSubpaymentType"`
	ProviderTxnID          string `json:"providerTxnId"`
	Signature              Secret `json:"signature"`
	Status                 string `json:"status"`
	ProviderStatus         string `json:"providerStatus"`
	UserID                 string `json:"userId"`
	IsPaid                 bool   `json:"isPaid"`
	CreatedAt              string `json:"createdAt"`
	UpdatedAt              string `json:"updatedAt"`
}

// Amount is a decimal amount in major units exactly as KS Pay sent it: transaction objects carry
// it as a JSON string ("11"), initiate and process results as a JSON number (345.67). Either is
// kept as its decimal text; parseAmount turns it into minor units.
type Amount string

// UnmarshalJSON accepts a JSON string or number and keeps its text; null leaves it empty.
func (a *Amount) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*a = ""
		return nil
	case len(b) > 0 && b[0] == '"':
		s, err := strconv.Unquote(string(b))
		if err != nil {
			return fmt.Errorf("kspay: amount %.40s: %w", b, err)
		}
		*a = Amount(s)
		return nil
	case json.Valid(b) && len(b) > 0 && (b[0] == '-' || (b[0] >= '0' && b[0] <= '9')):
		*a = Amount(b)
		return nil
	}
	return fmt.Errorf("kspay: amount %.40s is neither a string nor a number", b)
}

// ListOptions pages GET /transaction. Zero values are left out (the provider's defaults).
type ListOptions struct {
	Page  int
	Limit int
}
