package checkout

import (
	"fmt"
	"strings"

	"github.com/kassa-pay/kassa/providers/currency"
)

// Money is an amount in a currency's minor units. Kassa never holds money in a float.
type Money struct {
	Amount   int64
	Currency string
}

// Decimal renders the amount in major units with the currency's ISO 4217 exponent ("61.97").
func (m Money) Decimal() string {
	s, err := currency.Format(m.Amount, m.Currency)
	if err != nil {
		return fmt.Sprintf("%d", m.Amount)
	}
	return s
}

// String renders the amount for people: "USD 1,234.56".
func (m Money) String() string {
	d := m.Decimal()
	neg := strings.HasPrefix(d, "-")
	d = strings.TrimPrefix(d, "-")
	whole, frac, hasFrac := strings.Cut(d, ".")
	var b strings.Builder
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	s := b.String()
	if hasFrac {
		s += "." + frac
	}
	if neg {
		s = "-" + s
	}
	return m.Currency + " " + s
}

// maxAmount bounds a payment so that sums of line items can never overflow an int64 and no
// provider's decimal field is asked to carry an absurd number.
const maxAmount = 1_000_000_000_000_00
