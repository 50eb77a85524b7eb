// Package currency knows the ISO 4217 currencies and their minor-unit exponents, and converts
// between Kassa's integer minor units and the decimal strings providers put on the wire.
//
// It is a leaf package so that both the domain (checkout) and every provider adapter can use the
// same table without providers importing checkout. No conversion here ever touches a float.
package currency

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// exponents lists every active ISO 4217 currency whose minor unit is not 2.
var exponents = map[string]int{
	"BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
	"RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
	"CLF": 4, "UYW": 4,
}

// twoDecimal lists the active ISO 4217 currencies with a minor unit of 2.
var twoDecimal = strings.Fields(`
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN BZD
CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS
GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL
MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK
PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS
TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VES VED WST XCD XCG YER ZAR ZMW ZWG`)

func init() {
	for _, c := range twoDecimal {
		exponents[c] = 2
	}
}

// Exponent returns the number of digits after the decimal point in code's minor unit.
func Exponent(code string) (int, bool) {
	e, ok := exponents[code]
	return e, ok
}

// Valid reports whether code is an active ISO 4217 currency code (upper case).
func Valid(code string) bool {
	_, ok := exponents[code]
	return ok
}

// ErrInvalidAmount is wrapped by every parse failure.
var ErrInvalidAmount = errors.New("invalid amount")

// Format renders minor units as a plain decimal string with exactly the currency's number of
// fraction digits: Format(6197, "USD") == "61.97", Format(500, "JPY") == "500",
// Format(1500, "KWD") == "1.500".
func Format(minor int64, code string) (string, error) {
	e, ok := exponents[code]
	if !ok {
		return "", fmt.Errorf("currency: unknown currency %q", code)
	}
	return formatExp(minor, e), nil
}

func formatExp(minor int64, e int) string {
	neg := minor < 0
	u := uint64(minor)
	if neg {
		u = -u
	}
	s := strconv.FormatUint(u, 10)
	if e > 0 {
		if len(s) <= e {
			s = strings.Repeat("0", e-len(s)+1) + s
		}
		s = s[:len(s)-e] + "." + s[len(s)-e:]
	}
	if neg {
		s = "-" + s
	}
	return s
}

// Parse reads a decimal amount in major units ("61.97", "61.9", "500", "1.500") into minor units.
// It refuses more fraction digits than the currency has unless they are zeros ("61.970" is fine
// for USD, "61.975" is not), exponents, signs other than a leading minus, and overflow.
func Parse(s, code string) (int64, error) {
	e, ok := exponents[code]
	if !ok {
		return 0, fmt.Errorf("currency: unknown currency %q", code)
	}
	return parseExp(s, e)
}

func parseExp(s string, e int) (int64, error) {
	orig := s
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	whole, frac, hasDot := strings.Cut(s, ".")
	if whole == "" || (hasDot && frac == "") || !digits(whole) || !digits(frac) {
		return 0, fmt.Errorf("currency: %q: %w", orig, ErrInvalidAmount)
	}
	if len(frac) > e {
		extra := frac[e:]
		if strings.Trim(extra, "0") != "" {
			return 0, fmt.Errorf("currency: %q has more than %d decimals: %w", orig, e, ErrInvalidAmount)
		}
		frac = frac[:e]
	}
	frac += strings.Repeat("0", e-len(frac))
	sign := ""
	if neg {
		sign = "-" // parsed with the digits so that the most negative int64 fits
	}
	n, err := strconv.ParseInt(sign+whole+frac, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("currency: %q: %w", orig, ErrInvalidAmount)
	}
	return n, nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
