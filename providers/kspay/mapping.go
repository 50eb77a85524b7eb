package kspay

import (
	"encoding/json"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/kassa-pay/kassa/providers"
	"github.com/kassa-pay/kassa/providers/currency"
)

// mapStatus turns a transaction's status and isPaid into Kassa's vocabulary. isPaid is the
// success bit: a paid transaction is paid whatever word its status uses, unless the status
// contradicts it with a failure, in which case it stays pending for a later look. Every status
// not known to be final stays pending. The enum beyond PENDING is a guess.
func mapStatus(status string, isPaid bool) providers.Status {
	s := strings.ToUpper(strings.TrimSpace(status))
	failed := map[string]providers.Status{
		"FAILED":    providers.StatusDeclined,
		"FAILURE":   providers.StatusDeclined,
		"DECLINED":  providers.StatusDeclined,
		"CANCELLED": providers.StatusCancelled,
		"CANCELED":  providers.StatusCancelled,
		"EXPIRED":   providers.StatusExpired,
	}
	if isPaid {
		if _, contradicts := failed[s]; contradicts {
			return providers.StatusPending
		}
		return providers.StatusPaid
	}
	if st, ok := failed[s]; ok {
		return st
	}
	// PENDING, CREATED, and SUCCESS without isPaid (not settled, or inconsistent): ask again.
	return providers.StatusPending
}

// hintStatus reads the redirect's payment_status ("success", "failed" per the docs; "cancelled"
// is what the sandbox sends for Cancel, a guess).
func hintStatus(s string) providers.Status {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "success", "successful", "paid", "captured":
		return providers.StatusPaid
	case "failed", "failure", "declined":
		return providers.StatusDeclined
	case "cancelled", "canceled", "cancel":
		return providers.StatusCancelled
	case "expired":
		return providers.StatusExpired
	}
	return ""
}

// validID reports whether s can be a KS Pay id worth echoing as a hint (tx_UOVynlQ0j): short,
// and made of letters, digits, '_' and '-'.
func validID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// parseReturn is ParseReturn: the redirect carries payment_status, kspay_id and
// provider_payment_id, none of them signed.
func parseReturn(q url.Values) providers.ReturnHint {
	var h providers.ReturnHint
	if id := strings.TrimSpace(q.Get("kspay_id")); validID(id) {
		h.ProviderRef = id
	}
	h.Status = hintStatus(q.Get("payment_status"))
	return h
}

// The documented error codes and what Kassa does about them. Codes the table lacks fall back
// to the HTTP status. Some codes are documented twice with different meanings; kindFor settles
// those by HTTP status.
var codeKinds = map[int]error{
	// auth: token and API key
	9000: providers.ErrAuth, // token missing or incorrect (400)
	9001: providers.ErrAuth,
	9002: providers.ErrAuth, // API key missing
	9003: providers.ErrAuth,
	9004: providers.ErrAuth, // unauthorized access
	9005: providers.ErrAuth, // invalid API key
	9007: providers.ErrAuth, // unauthorized, provide valid credentials (401)
	9008: providers.ErrAuth, // refresh token expired / invalid token (401)
	9009: providers.ErrAuth, // token expired (401)
	// credentials (key vault) and application
	11001: providers.ErrAuth, // credentials not found for the access key (404)
	11002: providers.ErrAuth, // application not found for the app id (404)
	11003: providers.ErrAuth, // user does not belong to the application (403)
	11004: providers.ErrAuth, // invalid secret key
	11006: providers.ErrInvalid,
	11007: providers.ErrUnavailable, // encryption error (500)
	11008: providers.ErrAuth,        // access key mismatch
	11009: providers.ErrUnavailable, // signature verification error (500)
	11011: providers.ErrAuth,        // application disabled
	// system
	23: providers.ErrAuth,
	24: providers.ErrNotFound,    // no data found with this id (404)
	25: providers.ErrInvalid,     // invalid request
	26: providers.ErrUnavailable, // oops, something went wrong (500)
	27: providers.ErrUnavailable, // external provider issue
	28: providers.ErrUnavailable, // DB error
	29: providers.ErrAuth,        // invalid API key
	30: providers.ErrInvalid,     // not available in your country
	// validation
	-3:  providers.ErrInvalid, // invalid id
	-9:  providers.ErrInvalid, // field not present in request
	-10: providers.ErrNotFound,
	-13: providers.ErrInvalid,
	-17: providers.ErrInvalid, // malformed id / custom validation
	-19: providers.ErrInvalid, // too many decimal places
	-34: providers.ErrInvalid, // KS Pay's own gateway credentials are wrong: operator's to fix
	// catalog and gateways
	1052:  providers.ErrInvalid, // currency does not exist
	1054:  providers.ErrInvalid, // invalid currency code
	4056:  providers.ErrInvalid, // limit must be positive
	4089:  providers.ErrInvalid, // page must be positive
	12001: providers.ErrInvalid, // payment method not found (404, but the request is at fault)
	13001: providers.ErrInvalid, // gateway not found or disabled
	13005: providers.ErrInvalid,
	13006: providers.ErrInvalid, // unknown payment method ids
	13008: providers.ErrInvalid,
}

// Codes documented with two meanings.
const (
	// codeSignatureExpired is "The provided signature has expired" (400) and also
	// "Too many requests made in a short period" (429).
	codeSignatureExpired = 11005
	// codeInvalidOrigin is "Access denied from this origin" (403) and also "Invalid currency
	// ID" (400).
	codeInvalidOrigin = 13007
)

// kindFor maps a documented error code and the HTTP status it came with to an error kind.
func kindFor(code, status int) error {
	switch {
	case status == 429:
		return providers.ErrRateLimited
	case code == codeSignatureExpired:
		return providers.ErrInvalid
	case code == codeInvalidOrigin:
		if status == 403 {
			return providers.ErrAuth
		}
		return providers.ErrInvalid
	case status >= 500:
		return providers.ErrUnavailable
	}
	if k, ok := codeKinds[code]; ok && code != 0 {
		return k
	}
	if k := providers.KindForHTTPStatus(status); k != nil {
		return k
	}
	return providers.ErrUnavailable
}

// apiError is a KS Pay error body, read leniently: code may be a number or a numeric string,
// message a string or a list of strings (NestJS validation style).
type apiError struct {
	Code    int
	HasCode bool
	Message string
}

// parseAPIError reads an error body. It never fails: an unreadable body is an error without a
// code, described by the start of its text.
func parseAPIError(body []byte) apiError {
	var e apiError
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil {
		e.Message = clip(string(body))
		return e
	}
	if len(env.Code) > 0 {
		raw := strings.Trim(string(env.Code), `"`)
		if n, err := strconv.Atoi(raw); err == nil {
			e.Code, e.HasCode = n, true
		}
	}
	var s string
	var list []string
	switch {
	case json.Unmarshal(env.Message, &s) == nil:
		e.Message = clip(s)
	case json.Unmarshal(env.Message, &list) == nil:
		e.Message = clip(strings.Join(list, "; "))
	}
	return e
}

// clip bounds provider text kept in errors, cutting on a rune boundary.
func clip(s string) string {
	const max = 200
	s = strings.TrimSpace(s)
	if len(s) <= max {
		return strings.ToValidUTF8(s, "?")
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strings.ToValidUTF8(s[:cut], "?") + "..."
}

// wireAmount renders minor units as the decimal major-unit JSON number KS Pay expects.
func wireAmount(minor int64, code string) (json.Number, error) {
	s, err := currency.Format(minor, code)
	if err != nil {
		return "", err
	}
	return json.Number(s), nil
}

// errBadAmount is wrapped when KS Pay sends an amount that is not a plain decimal.
var errBadAmount = errors.New("unreadable amount")

// parseAmount reads an amount KS Pay sent (a string "11" or a number 345.67, kept as text) into
// minor units of code. Exponent notation and more fraction digits than the currency has
// (other than trailing zeros) are refused.
func parseAmount(a Amount, code string) (int64, error) {
	s := strings.TrimSpace(string(a))
	if s == "" {
		return 0, errBadAmount
	}
	n, err := currency.Parse(s, code)
	if err != nil {
		return 0, errors.Join(errBadAmount, err)
	}
	return n, nil
}
