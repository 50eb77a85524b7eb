package enkash

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
)

// Decimal is an amount in decimal rupees exactly as EnKash puts it on the wire, a JSON number
// such as 20.15 ("Rs 20 and 15 paisa"). It keeps the digits as text so no amount ever passes
// through a float; mapping.go converts it to and from paise with providers/currency. It also
// reads a JSON string holding a number, because the documented refund example sends "100".
type Decimal string

// MarshalJSON writes the amount as a bare JSON number.
func (d Decimal) MarshalJSON() ([]byte, error) {
	if !isJSONNumber(string(d)) {
		return nil, errors.New("enkash: amount " + strconv.Quote(string(d)) + " is not a number")
	}
	return []byte(d), nil
}

// UnmarshalJSON reads a JSON number, a string holding one, or null (the empty amount). It only
// checks the JSON syntax; whether the amount makes sense is decided when it is converted.
func (d *Decimal) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		*d = ""
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*d = Decimal(s)
		return nil
	case isJSONNumber(string(b)):
		*d = Decimal(b)
		return nil
	}
	return errors.New("enkash: amount is neither a number nor a string")
}

func isJSONNumber(s string) bool {
	if s == "" || (s[0] != '-' && (s[0] < '0' || s[0] > '9')) {
		return false
	}
	var n json.Number
	return json.Unmarshal([]byte(s), &n) == nil
}

// Envelope wraps every answer of the order, payment and refund endpoints. ResponseCode 0 is
// success; on failure Payload is usually a string explaining why ("Token is invalid.").
type Envelope struct {
	ResponseCode    int             `json:"response_code"`
	ResponseMessage string          `json:"response_message"`
	Payload         json.RawMessage `json:"payload"`
}

// TokenRequest is the body of POST /api/v0/merchant/token.
type TokenRequest struct {
	AccessKey string `json:"accessKey"`
	SecretKey string `json:"secretKey"`
}

// TokenResponse is the (unwrapped) answer of POST /api/v0/merchant/token. Expiry is the moment
// the token stops working, in milliseconds since the Unix epoch.
type TokenResponse struct {
	Token         string `json:"token"`
	Expiry        int64  `json:"expiry"`
	ResultCode    int    `json:"resultCode"`
	ResultMessage string `json:"resultMessage"`
}

// Amount is an amount with its currency; EnKash only accepts INR.
type Amount struct {
	Value    Decimal `json:"value"`
	Currency string  `json:"currency"`
}

// CustomerInfo is the optional shopper of an order.
type CustomerInfo struct {
	FirstName   string `json:"firstName,omitempty"`
	LastName    string `json:"lastName,omitempty"`
	Email       string `json:"email,omitempty"`
	PhoneNumber string `json:"phoneNumber,omitempty"`
}

// PaymentDetail restricts an order to one bank account (third-party validation).
type PaymentDetail struct {
	AccountNumber string `json:"accountNumber,omitempty"`
	IFSC          string `json:"ifsc,omitempty"`
}

// CreateOrderRequest is the body of POST /api/v0/orders. OrderID is the merchant's own id,
// alphanumeric only.
type CreateOrderRequest struct {
	OrderID          string            `json:"orderId"`
	Amount           Amount            `json:"amount"`
	ReturnURL        string            `json:"returnUrl,omitempty"`
	NotifyURL        string            `json:"notifyUrl,omitempty"`
	CustomerInfo     *CustomerInfo     `json:"customerInfo,omitempty"`
	CustomParameters map[string]string `json:"customParameters,omitempty"`
	Description      string            `json:"description,omitempty"`
	PaymentDetail    *PaymentDetail    `json:"paymentDetail,omitempty"`
}

// Order is the payload of POST /api/v0/orders and GET /api/v0/orders/{orderId}
// (OrderGetResponse). Only orderId, created and lastModified are documented; the other fields
// are guesses listed in the package comment. The timestamps are kept raw because their format
// is undocumented and nothing here depends on them.
type Order struct {
	OrderID          string            `json:"orderId"`
	Amount           Amount            `json:"amount"`
	Status           string            `json:"status"`
	Description      string            `json:"description,omitempty"`
	ReturnURL        string            `json:"returnUrl,omitempty"`
	NotifyURL        string            `json:"notifyUrl,omitempty"`
	CheckoutURL      string            `json:"checkoutUrl,omitempty"`
	CustomParameters map[string]string `json:"customParameters,omitempty"`
	Created          json.RawMessage   `json:"created,omitempty"`
	LastModified     json.RawMessage   `json:"lastModified,omitempty"`
	// Transactions are the order's payments, oldest first.
	Transactions []Transaction `json:"transactions,omitempty"`
}

// Transaction is one payment of an order: the payload of GET /api/v0/payment/{transactionId}
// (OrderTransactionResponse) and an element of Order.Transactions.
type Transaction struct {
	TransactionID       string          `json:"transactionId"`
	OrderID             string          `json:"orderId,omitempty"`
	Amount              Decimal         `json:"amount,omitempty"`
	Currency            string          `json:"currency,omitempty"`
	Status              string          `json:"status"`
	PaymentMode         string          `json:"paymentMode,omitempty"`
	BankCode            string          `json:"bankCode,omitempty"`
	BankName            string          `json:"bankName,omitempty"`
	TxnMsg              string          `json:"txnMsg,omitempty"`
	TxnDate             string          `json:"txnDate,omitempty"`
	UniqueTransactionID string          `json:"uniqueTransactionId,omitempty"`
	BankTransactionID   string          `json:"bankTransactionId,omitempty"`
	RefundedAmount      Decimal         `json:"refundedAmount,omitempty"`
	Created             json.RawMessage `json:"created,omitempty"`
	LastModified        json.RawMessage `json:"lastModified,omitempty"`
}

// RefundRequest is the body of POST /api/v0/payment/{transactionId}/refund. RequestID is unique
// per refund; EnKash uses it to recognise a retried refund.
type RefundRequest struct {
	Amount    Decimal `json:"amount"`
	Remarks   string  `json:"remarks,omitempty"`
	RequestID string  `json:"requestId"`
}

// RefundResponse is the payload of a refund. TransactionID is the refund's own transaction.
type RefundResponse struct {
	Amount              Decimal `json:"amount"`
	PaymentMode         string  `json:"paymentMode,omitempty"`
	BankCode            string  `json:"bankCode,omitempty"`
	BankName            string  `json:"bankName,omitempty"`
	Currency            string  `json:"currency"`
	Status              string  `json:"status"`
	TransactionID       string  `json:"transactionId"`
	TxnMsg              string  `json:"txnMsg,omitempty"`
	TxnDate             string  `json:"txnDate,omitempty"`
	UniqueTransactionID string  `json:"uniqueTransactionId,omitempty"`
	BankTransactionID   string  `json:"bankTransactionId,omitempty"`
}

// NotifyRequest is the documented "Payment Notify Request" EnKash POSTs to an order's
// notifyUrl. Its checksum algorithm is undocumented, so nothing here trusts it.
type NotifyRequest struct {
	Surcharge           Decimal `json:"surcharge,omitempty"`
	SurchargeGst        Decimal `json:"surchargeGst,omitempty"`
	Amount              Decimal `json:"amount,omitempty"`
	FinalAmount         Decimal `json:"finalAmount,omitempty"`
	PaymentMode         string  `json:"paymentMode,omitempty"`
	BankCode            string  `json:"bankCode,omitempty"`
	BankName            string  `json:"bankName,omitempty"`
	CardScheme          string  `json:"cardScheme,omitempty"`
	Currency            string  `json:"currency,omitempty"`
	Checksum            string  `json:"checksum,omitempty"`
	Status              string  `json:"status,omitempty"`
	TransactionID       string  `json:"transactionId,omitempty"`
	TxnMsg              string  `json:"txnMsg,omitempty"`
	TxnDate             string  `json:"txnDate,omitempty"`
	UniqueTransactionID string  `json:"uniqueTransactionId,omitempty"`
	MaskedCardNumber    string  `json:"maskedCardNumber,omitempty"`
	CardHolderName      string  `json:"cardHolderName,omitempty"`
	PaymentToken        string  `json:"paymentToken,omitempty"`
	BankTransactionID   string  `json:"bankTransactionId,omitempty"`
	Mdr                 Decimal `json:"mdr,omitempty"`
	MdrGst              Decimal `json:"mdrGst,omitempty"`
	TransactionAmount   Decimal `json:"transactionAmount,omitempty"`
	OrderID             string  `json:"orderId"`
	OrderStatus         string  `json:"orderStatus,omitempty"`
	TransactionStatus   string  `json:"transactionStatus,omitempty"`
}
