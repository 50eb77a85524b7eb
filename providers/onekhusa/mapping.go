package onekhusa

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/kassa-pay/kassa/providers"
	"github.com/kassa-pay/kassa/providers/currency"
)

// Currency is the only currency OneKhusa collects in: the merchant account's, Malawi kwacha.
const Currency = "MWK"

// MapStatus turns a documented transactionStatusCode into Kassa's status. Only the letters the
// docs call final end a payment; every other letter, known or not, stays pending.
func MapStatus(code string) providers.Status {
	switch strings.ToUpper(strings.TrimSpace(code)) {
	case "S": // Successful
		return providers.StatusPaid
	case "F", "E", "X": // Transfer failed, Error, Rejected
		return providers.StatusDeclined
	case "C": // Cancelled (also what a shopper rejecting a push prompt and an expired session give: a guess)
		return providers.StatusCancelled
	case "R": // Reversed: the money went back to the payer
		return providers.StatusRefunded
	}
	// P Pending, D Ready for funds transfer, T Transferring, and anything undocumented.
	return providers.StatusPending
}

// errorKinds maps OneKhusa's errorCode values to Kassa's kinds. E900, E306 and E307 are
// documented; the others are the sandbox's guesses (see the package comment) and only refine
// what the HTTP status already says.
var errorKinds = map[string]error{
	"E900": providers.ErrInvalid,     // Validation failed [doc]
	"E306": providers.ErrUnavailable, // Status unknown, enquire again after 2 minutes [doc]
	"E307": providers.ErrNotFound,    // Invalid transaction id [doc]
	"E401": providers.ErrAuth,        // missing, expired or invalid credentials [guess]
	"E403": providers.ErrAuth,        // token not allowed for this merchant account [guess]
	"E409": providers.ErrConflict,    // idempotency key reused with another request [guess]
	"E402": providers.ErrDeclined,    // request failed on a business rule [guess]
	"E424": providers.ErrUnavailable, // downstream (mobile network) failed [guess]
	"E429": providers.ErrRateLimited, // too many requests [guess]
	"E500": providers.ErrUnavailable, // internal error [guess]
	"E503": providers.ErrUnavailable, // service unavailable [guess]
}

// KindForError picks the kind for an error answer: the errorCode when it is known, otherwise
// the HTTP status, with OneKhusa's documented 402 "Request Failed" (a business rule refused the
// payment) and 424 "External Dependency Failed" placed where Kassa acts on them.
func KindForError(status int, code string) error {
	if k, ok := errorKinds[strings.ToUpper(strings.TrimSpace(code))]; ok {
		return k
	}
	switch status {
	case http.StatusPaymentRequired:
		return providers.ErrDeclined
	case http.StatusFailedDependency:
		return providers.ErrUnavailable
	}
	if k := providers.KindForHTTPStatus(status); k != nil {
		return k
	}
	return providers.ErrUnavailable
}

// ToDecimal renders minor units as OneKhusa's major-unit decimal.
func ToDecimal(minor int64, cur string) (Decimal, error) {
	s, err := currency.Format(minor, cur)
	if err != nil {
		return "", err
	}
	return Decimal(s), nil
}

// ToMinor reads a OneKhusa decimal back into minor units, exactly.
func ToMinor(d Decimal, cur string) (int64, error) {
	return currency.Parse(string(d), cur)
}

// IdempotencyKey derives the X-Idempotency-Key of a money call from Kassa's attempt reference,
// so every retry of one attempt carries the same key. It follows the docs' recommended
// "{merchantAccountNumber}-{unique}" pattern and their rules (15–80 characters of letters,
// digits and dashes): a reference that fits is used as is, anything else is hashed.
func IdempotencyKey(merchantAccountNumber int64, reference string) string {
	prefix := strconv.FormatInt(merchantAccountNumber, 10) + "-"
	if k := prefix + reference; ValidIdempotencyKey(k) {
		return k
	}
	sum := sha256.Sum256([]byte(reference))
	return prefix + hex.EncodeToString(sum[:20])
}

// ValidIdempotencyKey applies the documented key rules.
func ValidIdempotencyKey(k string) bool {
	if len(k) < 15 || len(k) > 80 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// Mobile networks a push can go to, named as Kassa's method ids.
const (
	NetworkAirtel = "airtel" // Airtel Money
	NetworkMpamba = "mpamba" // TNM Mpamba
)

// networkPrefixes maps the first two digits of a Malawian mobile subscriber number (after the
// trunk 0 or country code 265) to its network: 99 and 98 are Airtel, 88 and 89 are TNM. This
// follows Malawi's numbering plan as publicly described; it is not from OneKhusa's docs.
var networkPrefixes = map[string]string{
	"99": NetworkAirtel, "98": NetworkAirtel,
	"88": NetworkMpamba, "89": NetworkMpamba,
}

// NormalizeMSISDN turns a Malawian mobile number typed in any usual form (0999123456,
// 0888123456, +265999123456, 265999123456, with optional spaces or dashes) into the local
// ten-digit form the docs' payerAccountNumber example uses (0999000000), and names its network.
// Anything else is refused.
func NormalizeMSISDN(s string) (local, network string, err error) {
	n := strings.NewReplacer(" ", "", "-", "").Replace(strings.TrimSpace(s))
	switch {
	case strings.HasPrefix(n, "+265"):
		n = n[4:]
	case strings.HasPrefix(n, "265") && len(n) == 12:
		n = n[3:]
	case strings.HasPrefix(n, "0") && len(n) == 10:
		n = n[1:]
	default:
		return "", "", fmt.Errorf("onekhusa: %q is not a Malawian mobile number", s)
	}
	if len(n) != 9 || !allDigits(n) {
		return "", "", fmt.Errorf("onekhusa: %q is not a Malawian mobile number", s)
	}
	network, ok := networkPrefixes[n[:2]]
	if !ok {
		return "", "", fmt.Errorf("onekhusa: %q is not on Airtel Money or TNM Mpamba", s)
	}
	return "0" + n, network, nil
}

// ValidMSISDN reports whether s is a Malawian Airtel or TNM mobile number NormalizeMSISDN
// accepts.
func ValidMSISDN(s string) bool {
	_, _, err := NormalizeMSISDN(s)
	return err == nil
}
