package sandbox

import (
	"errors"
	"math"
	"strconv"
	"strings"
)

// The provider's own knowledge of minor units: ISO 4217 currencies whose exponent is not 2.
// Every other three-letter code is treated as two-decimal.
var (
	zeroDecimal  = strings.Fields("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF")
	threeDecimal = strings.Fields("BHD IQD JOD KWD LYD OMR TND")
)

func exponent(code string) int {
	for _, c := range zeroDecimal {
		if c == code {
			return 0
		}
	}
	for _, c := range threeDecimal {
		if c == code {
			return 3
		}
	}
	return 2
}

var errAmount = errors.New("amount_invalid")

// parseAmount reads a non-negative JSON number in major units into minor units, exactly.
// Extra fraction digits are accepted only when they are zeros; exponents and signs are not.
func parseAmount(s string, exp int) (int64, error) {
	whole, frac, dot := strings.Cut(s, ".")
	if whole == "" || (dot && frac == "") || !isDigits(whole) || !isDigits(frac) {
		return 0, errAmount
	}
	if len(frac) > exp {
		if strings.Trim(frac[exp:], "0") != "" {
			return 0, errAmount
		}
		frac = frac[:exp]
	}
	frac += strings.Repeat("0", exp-len(frac))
	n, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil || n > math.MaxInt64/1024 {
		return 0, errAmount
	}
	return n, nil
}

func isDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// formatAmount writes minor units as the provider's JSON number: an integer for zero-decimal
// currencies, otherwise the shortest decimal (61.97, 12.3, 1.5), as a JavaScript server would.
func formatAmount(minor int64, exp int) string {
	s := strconv.FormatInt(minor, 10)
	if exp == 0 {
		return s
	}
	if len(s) <= exp {
		s = strings.Repeat("0", exp-len(s)+1) + s
	}
	whole, frac := s[:len(s)-exp], strings.TrimRight(s[len(s)-exp:], "0")
	if frac == "" {
		return whole
	}
	return whole + "." + frac
}

// displayAmount writes minor units with every fraction digit, for the pay page.
func displayAmount(minor int64, exp int) string {
	s := strconv.FormatInt(minor, 10)
	if exp == 0 {
		return s
	}
	if len(s) <= exp {
		s = strings.Repeat("0", exp-len(s)+1) + s
	}
	return s[:len(s)-exp] + "." + s[len(s)-exp:]
}

// isMagic reports whether minor units are exactly the magic number of major units.
func isMagic(minor int64, exp int, magic int64) bool {
	for range exp {
		magic *= 10
	}
	return minor == magic
}
