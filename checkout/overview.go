package checkout

import (
	"context"
	"time"

	"github.com/kassa-pay/kassa/providers"
)

// Overview is what the dashboard's home page shows: money received and how well checkout
// converts, over today and the last seven days.
type Overview struct {
	// Days holds one entry per day, oldest first; the last is today.
	Days []DayTotals
	// Created and Converted count the payments created in the period and, of those, the ones
	// paid since.
	Created, Converted int
	// Open counts payments still open now, whenever created.
	Open int
	// Providers are the attempts of the period by provider.
	Providers []ProviderTotals
}

// DayTotals is one day's paid payments, per currency.
type DayTotals struct {
	Start time.Time
	Paid  []CurrencyTotal
}

// CurrencyTotal counts paid payments and sums their amounts in one currency.
type CurrencyTotal struct {
	Currency string
	Count    int
	Amount   int64
}

// ProviderTotals counts a provider's attempts and the paid ones among them.
type ProviderTotals struct {
	Provider providers.ID
	Attempts int
	Paid     int
}

// OverviewDays is how many days the overview covers.
const OverviewDays = 7

// Overview returns the dashboard's home-page figures, with days cut at midnight in loc.
func (s *Service) Overview(ctx context.Context, loc *time.Location) (*Overview, error) {
	now := s.now().In(loc)
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, loc)
	days := make([]time.Time, OverviewDays)
	for i := range days {
		days[i] = today.AddDate(0, 0, i-OverviewDays+1)
	}
	return s.Store.Overview(ctx, days)
}

// Sum adds the totals of several days per currency, in the order currencies first appear.
func Sum(days []DayTotals) []CurrencyTotal {
	var out []CurrencyTotal
	idx := map[string]int{}
	for _, d := range days {
		for _, t := range d.Paid {
			i, ok := idx[t.Currency]
			if !ok {
				i = len(out)
				idx[t.Currency] = i
				out = append(out, CurrencyTotal{Currency: t.Currency})
			}
			out[i].Count += t.Count
			out[i].Amount += t.Amount
		}
	}
	return out
}
