package checkout

import (
	"testing"
	"time"
)

func TestLinkPrice(t *testing.T) {
	fixed := &Link{Name: "Tote", UnitAmount: 2400, QuantityMin: 1, QuantityMax: 1}
	bundle := &Link{Name: "Breakfast", UnitAmount: 750, Adjustable: true, QuantityMin: 2, QuantityMax: 5,
		LineItems: []LineItem{{Name: "Coffee", Quantity: 2, UnitAmount: 250}, {Name: "Bun", Quantity: 1, UnitAmount: 250}}}
	for _, tc := range []struct {
		name  string
		l     *Link
		q     int64
		want  int64
		lines []LineItem
		bad   bool
	}{
		{"fixed", fixed, 1, 2400, []LineItem{{"Tote", 1, 2400}}, false},
		{"fixed refuses 2", fixed, 2, 0, nil, true},
		{"fixed refuses 0", fixed, 0, 0, nil, true},
		{"bundle of 3", bundle, 3, 2250, []LineItem{{"Coffee", 6, 250}, {"Bun", 3, 250}}, false},
		{"bundle at min", bundle, 2, 1500, []LineItem{{"Coffee", 4, 250}, {"Bun", 2, 250}}, false},
		{"bundle below min", bundle, 1, 0, nil, true},
		{"bundle above max", bundle, 6, 0, nil, true},
		{"negative", bundle, -3, 0, nil, true},
		{"huge", bundle, 1 << 62, 0, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			amount, lines, err := tc.l.Price(tc.q)
			if tc.bad {
				if ErrorCode(err) != EINVALID || err.(*Error).Fields["quantity"] == "" {
					t.Fatalf("Price(%d) = %d, %v; want a quantity error", tc.q, amount, err)
				}
				return
			}
			if err != nil || amount != tc.want || len(lines) != len(tc.lines) {
				t.Fatalf("Price(%d) = %d %v %v; want %d %v", tc.q, amount, lines, err, tc.want, tc.lines)
			}
			var sum int64
			for i := range lines {
				if lines[i] != tc.lines[i] {
					t.Fatalf("line %d = %v, want %v", i, lines[i], tc.lines[i])
				}
				sum += lines[i].Quantity * lines[i].UnitAmount
			}
			if sum != amount {
				t.Fatalf("lines add up to %d, amount %d", sum, amount)
			}
		})
	}
}

func TestLinkClosed(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		l    Link
		want LinkClosed
	}{
		{"open", Link{Active: true}, ""},
		{"open with places", Link{Active: true, MaxPayments: 3, Counts: LinkCounts{Paid: 1, Held: 2}}, ""},
		{"inactive", Link{Active: false}, LinkInactive},
		{"expired", Link{Active: true, ExpiresAt: now}, LinkExpired},
		{"not yet expired", Link{Active: true, ExpiresAt: now.Add(time.Millisecond)}, ""},
		{"used up", Link{Active: true, MaxPayments: 2, Counts: LinkCounts{Paid: 2, Held: 2}}, LinkUsedUp},
		{"held", Link{Active: true, MaxPayments: 2, Counts: LinkCounts{Paid: 1, Held: 2}}, LinkHeld},
		{"no limit", Link{Active: true, Counts: LinkCounts{Paid: 1000, Held: 1000}}, ""},
	} {
		if got := tc.l.Closed(now); got != tc.want {
			t.Errorf("%s: Closed = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestNewLinkValidation(t *testing.T) {
	svc := &Service{Store: linkStoreOnly{}}
	ok := NewLink{ClientID: "c", Name: "Tote", Amount: 2400, Currency: "USD"}
	for _, tc := range []struct {
		name  string
		edit  func(*NewLink)
		field string
	}{
		{"no name", func(n *NewLink) { n.Name = " " }, "name"},
		{"no price", func(n *NewLink) { n.Amount = 0 }, "amount"},
		{"negative price", func(n *NewLink) { n.Amount = -5 }, "amount"},
		{"bad currency", func(n *NewLink) { n.Currency = "usd" }, "currencyCode"},
		{"amount and lines disagree", func(n *NewLink) { n.LineItems = []LineItem{{Name: "A", Quantity: 1, UnitAmount: 100}} }, "amount"},
		{"free lines", func(n *NewLink) { n.Amount = 0; n.LineItems = []LineItem{{Name: "A", Quantity: 1, UnitAmount: 0}} }, "lineItems"},
		{"min above max", func(n *NewLink) { n.Quantity = &LinkQuantity{Min: 5, Max: 2} }, "quantity.max"},
		{"min zero", func(n *NewLink) { n.Quantity = &LinkQuantity{Min: 0, Max: 2} }, "quantity.min"},
		{"max too big", func(n *NewLink) { n.Quantity = &LinkQuantity{Min: 1, Max: 1_000_000} }, "quantity.max"},
		{"overflowing total", func(n *NewLink) { n.Amount = maxAmount; n.Quantity = &LinkQuantity{Min: 1, Max: 2} }, "quantity.max"},
		{"lines times quantity too many", func(n *NewLink) {
			n.Amount = 0
			n.LineItems = []LineItem{{Name: "Grain of rice", Quantity: 1000, UnitAmount: 1}}
			n.Quantity = &LinkQuantity{Min: 1, Max: 5000}
		}, "quantity.max"},
		{"negative limit", func(n *NewLink) { n.MaxPayments = -1 }, "maxPayments"},
		{"past expiry", func(n *NewLink) { n.ExpiresAt = time.Now().Add(-time.Hour) }, "expiresAt"},
		{"bad success URL", func(n *NewLink) { n.SuccessURL = "javascript:alert(1)" }, "successUrl"},
	} {
		n := ok
		tc.edit(&n)
		_, err := svc.CreateLink(t.Context(), n)
		e, isErr := err.(*Error)
		if !isErr || e.Code != EINVALID || e.Fields[tc.field] == "" {
			t.Errorf("%s: %v, want an error on %s", tc.name, err, tc.field)
		}
	}
}

// linkStoreOnly is a Store and LinkStore whose every method panics (nil embedded interfaces):
// validation must refuse before anything is stored.
type linkStoreOnly struct {
	Store
	LinkStore
}
