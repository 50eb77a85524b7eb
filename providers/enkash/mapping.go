package enkash

import (
	"fmt"

	"github.com/kassa-pay/kassa/providers"
	"github.com/kassa-pay/kassa/providers/currency"
)

// Order statuses, as documented.
const (
	OrderCreated                    = "CREATED"
	OrderCheckoutRendered           = "CHECKOUT_RENDERED"
	OrderAttempted                  = "ATTEMPTED"
	OrderPaid                       = "PAID"
	OrderCancelled                  = "CANCELLED"
	OrderExpired                    = "EXPIRED"
	OrderPaymentConfirmationPending = "PAYMENT_CONFIRMATION_PENDING"
)

// Payment (transaction) statuses, as documented.
const (
	PaymentCreated           = "CREATED"
	PaymentAuthorized        = "AUTHORIZED"
	PaymentPendingWithBank   = "PENDING_WITH_BANK"
	PaymentSuccess           = "SUCCESS"
	PaymentFailed            = "FAILED"
	PaymentCancelled         = "CANCELLED"
	PaymentPartiallyRefunded = "PARTIALLY_REFUNDED"
	PaymentRefunded          = "REFUNDED"
)

// Currency is the only currency EnKash serves.
const Currency = "INR"

// Response codes of the envelope. Only CodeSuccess and CodeTokenInvalid have been seen in the
// wild; the rest are guesses (see the package comment), shared with the sandbox.
const (
	CodeSuccess            = 0
	CodeValidation         = 100
	CodeDuplicateOrder     = 104
	CodeInvalidAccessKey   = 116
	CodeTokenInvalid       = 117
	CodeOrderNotFound      = 120
	CodePaymentNotFound    = 121
	CodeRefundExceeds      = 130
	CodeNotRefundable      = 131
	CodeRefundRequestReuse = 132
	CodeTooManyRequests    = 150
	CodeInternal           = 999
)

// codeKinds maps envelope codes to Kassa's error kinds.
var codeKinds = map[int]error{
	CodeValidation:         providers.ErrInvalid,
	CodeDuplicateOrder:     providers.ErrConflict,
	CodeInvalidAccessKey:   providers.ErrAuth,
	CodeTokenInvalid:       providers.ErrAuth,
	CodeOrderNotFound:      providers.ErrNotFound,
	CodePaymentNotFound:    providers.ErrNotFound,
	CodeRefundExceeds:      providers.ErrInvalid,
	CodeNotRefundable:      providers.ErrConflict,
	CodeRefundRequestReuse: providers.ErrConflict,
	CodeTooManyRequests:    providers.ErrRateLimited,
	CodeInternal:           providers.ErrUnavailable,
}

// kindFor picks the error kind of a failed answer. A 5xx always means the outcome is unknown,
// whatever code came with it; an unknown code falls back to the HTTP status, and an unknown
// code on a 2xx to ErrUnavailable, so an answer nobody understands is retried rather than
// believed.
func kindFor(httpStatus, code int) error {
	if httpStatus >= 500 {
		return providers.ErrUnavailable
	}
	if k, ok := codeKinds[code]; ok {
		return k
	}
	if k := providers.KindForHTTPStatus(httpStatus); k != nil {
		return k
	}
	return providers.ErrUnavailable
}

// orderStatus turns an order and its payments into Kassa's status, and returns the payment the
// status is about (the zero Transaction when there is none).
//
// Only the order's own final words end it: PAID (refined by its successful payment's refund
// state), CANCELLED, EXPIRED, and the guessed decline shape ATTEMPTED with a FAILED latest
// payment. Everything else, including a SUCCESS payment on an order that is not PAID yet, stays
// pending until the order says so.
func orderStatus(o Order) (providers.Status, Transaction) {
	var latest Transaction
	if n := len(o.Transactions); n > 0 {
		latest = o.Transactions[n-1]
	}
	switch o.Status {
	case OrderPaid:
		paid, ok := successfulPayment(o)
		if !ok {
			return providers.StatusPaid, latest
		}
		switch paid.Status {
		case PaymentRefunded:
			return providers.StatusRefunded, paid
		case PaymentPartiallyRefunded:
			return providers.StatusPartiallyRefunded, paid
		}
		return providers.StatusPaid, paid
	case OrderCancelled:
		return providers.StatusCancelled, latest
	case OrderExpired:
		return providers.StatusExpired, latest
	case OrderAttempted:
		if latest.Status == PaymentFailed {
			return providers.StatusDeclined, latest
		}
	}
	return providers.StatusPending, latest
}

// successfulPayment returns the latest payment of o that collected money.
func successfulPayment(o Order) (Transaction, bool) {
	for i := len(o.Transactions) - 1; i >= 0; i-- {
		switch t := o.Transactions[i]; t.Status {
		case PaymentSuccess, PaymentPartiallyRefunded, PaymentRefunded:
			return t, true
		}
	}
	return Transaction{}, false
}

// paymentStatus maps one payment's status on its own (for a return hint).
func paymentStatus(s string) providers.Status {
	switch s {
	case PaymentSuccess:
		return providers.StatusPaid
	case PaymentFailed:
		return providers.StatusDeclined
	case PaymentCancelled:
		return providers.StatusCancelled
	case PaymentRefunded:
		return providers.StatusRefunded
	case PaymentPartiallyRefunded:
		return providers.StatusPartiallyRefunded
	}
	return providers.StatusPending
}

// refundStatus maps a refund's status: SUCCESS (or REFUNDED) means the money is on its way
// back, FAILED or CANCELLED that EnKash refused, anything else (CREATED, ...) is undecided.
func refundStatus(s string) providers.Status {
	switch s {
	case PaymentSuccess, PaymentRefunded, PaymentPartiallyRefunded:
		return providers.StatusRefunded
	case PaymentFailed, PaymentCancelled:
		return providers.StatusDeclined
	}
	return providers.StatusPending
}

// toDecimal renders minor units as EnKash's decimal rupees.
func toDecimal(minor int64, cur string) (Decimal, error) {
	s, err := currency.Format(minor, cur)
	if err != nil {
		return "", err
	}
	return Decimal(s), nil
}

// toMinor reads EnKash's decimal rupees into minor units, exactly.
func toMinor(d Decimal, cur string) (int64, error) {
	if d == "" {
		return 0, fmt.Errorf("enkash: missing amount: %w", currency.ErrInvalidAmount)
	}
	return currency.Parse(string(d), cur)
}
