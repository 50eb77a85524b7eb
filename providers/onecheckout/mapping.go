package onecheckout

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/kassa-pay/kassa/providers"
	"github.com/kassa-pay/kassa/providers/currency"
)

// The documented order statuses.
const (
	StatusOpen            = "OPEN"
	StatusAwaitingCapture = "AWAITING_CAPTURE"
	StatusPaid            = "PAID"
	StatusCancelled       = "CANCELLED"
	StatusRefunded        = "REFUNDED"
)

// orderStatus maps an order status to Kassa's. OPEN is pending here; the adapter looks at the
// order's events to tell a declined payment from one not tried yet. Unknown words stay pending.
func orderStatus(s string) providers.Status {
	switch s {
	case StatusAwaitingCapture:
		return providers.StatusAuthorized
	case StatusPaid:
		return providers.StatusPaid
	case StatusCancelled:
		return providers.StatusCancelled
	case StatusRefunded:
		return providers.StatusRefunded
	}
	return providers.StatusPending
}

// errorKinds maps the documented error codes (and the validation issues that appear as codes)
// to Kassa's kinds.
var errorKinds = map[string]error{
	"api_key_required":     providers.ErrAuth, // documented as 400, but it is a credentials problem
	"api_key_invalid":      providers.ErrAuth,
	"validation_error":     providers.ErrInvalid,
	"currency_invalid":     providers.ErrInvalid,
	"amount_invalid":       providers.ErrInvalid,
	"id_required":          providers.ErrInvalid,
	"merchant_id_invalid":  providers.ErrInvalid,
	"id_invalid":           providers.ErrNotFound, // documented with 400, 403 and 404
	"order_status_invalid": providers.ErrConflict,
	"server_error":         providers.ErrUnavailable,
	"rate_limit_exceeded":  providers.ErrRateLimited,
}

// errorKind decides the kind of a failed call: 429 and 5xx by status whatever the body says,
// otherwise the documented code, otherwise the status.
func errorKind(status int, code string) error {
	switch {
	case status == 429:
		return providers.ErrRateLimited
	case status >= 500:
		return providers.ErrUnavailable
	}
	if k, ok := errorKinds[code]; ok {
		return k
	}
	if k := providers.KindForHTTPStatus(status); k != nil {
		return k
	}
	return providers.ErrUnavailable
}

// Payment event words; the failed ones are guesses (the docs show only payment_created and
// payment_succeeded, PENDING and COMPLETED).
var (
	failedPaymentStatuses = []string{"FAILED", "DECLINED"}
	failedEventTypes      = []string{"payment_failed", "payment_declined"}
)

// latestPaymentFailure reports whether the latest payment event says the payment failed, and
// the provider's words for why. Events are taken in created order (ties keep the list order).
func latestPaymentFailure(events []Event) (bool, string) {
	var last *Event
	for i := range events {
		e := &events[i]
		if e.PaymentStatus == "" && !strings.HasPrefix(e.Type, "payment_") {
			continue
		}
		if last == nil || e.Created >= last.Created {
			last = e
		}
	}
	if last == nil {
		return false, ""
	}
	if !slices.Contains(failedPaymentStatuses, last.PaymentStatus) && !slices.Contains(failedEventTypes, last.Type) {
		return false, ""
	}
	reason := last.Error.Code
	if reason == "" {
		reason = last.Error.Message
	}
	if reason == "" {
		reason = last.Type
	}
	if reason == "" {
		reason = "payment failed"
	}
	return true, reason
}

// amountToWire renders minor units as the provider's decimal in major units.
func amountToWire(minor int64, cur string) (json.Number, error) {
	if minor < 0 {
		return "", fmt.Errorf("negative amount %d", minor)
	}
	s, err := currency.Format(minor, cur)
	if err != nil {
		return "", err
	}
	return json.Number(s), nil
}

// amountFromWire reads the provider's decimal back into minor units, exactly; exponent
// notation, signs and extra non-zero digits are refused.
func amountFromWire(n json.Number, cur string) (int64, error) {
	s := string(n)
	if s == "" || strings.HasPrefix(s, "-") {
		return 0, fmt.Errorf("amount %q: %w", s, currency.ErrInvalidAmount)
	}
	return currency.Parse(s, cur)
}

func jsonInt(n int64) json.Number { return json.Number(strconv.FormatInt(n, 10)) }

// result maps an order object to Kassa's answer, checking the amount agrees with the currency.
func result(o Order, fallbackCurrency string) (providers.Result, error) {
	cur := o.Currency
	if cur == "" {
		cur = fallbackCurrency
	}
	exp, ok := currency.Exponent(cur)
	if !ok {
		return providers.Result{}, fmt.Errorf("unknown currency %q", cur)
	}
	if o.ZeroDecimal != nil && *o.ZeroDecimal != (exp == 0) {
		return providers.Result{}, fmt.Errorf("zero_decimal %t disagrees with %s", *o.ZeroDecimal, cur)
	}
	amount, err := amountFromWire(o.Amount, cur)
	if err != nil {
		return providers.Result{}, err
	}
	return providers.Result{
		ProviderRef: o.ID,
		Status:      orderStatus(o.Status),
		Amount:      amount,
		Currency:    cur,
		PaymentID:   o.PaymentID,
	}, nil
}
