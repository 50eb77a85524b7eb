package checkout

import (
	"slices"
	"testing"
)

func TestPaymentTransitions(t *testing.T) {
	legal := map[[2]PaymentStatus]bool{
		{PaymentOpen, PaymentPaid}: true, {PaymentOpen, PaymentExpired}: true, {PaymentOpen, PaymentCancelled}: true,
		{PaymentExpired, PaymentPaid}: true, {PaymentCancelled, PaymentPaid}: true,
		{PaymentPaid, PaymentRefunded}: true, {PaymentPaid, PaymentPartiallyRefunded}: true,
		{PaymentPartiallyRefunded, PaymentPartiallyRefunded}: true, {PaymentPartiallyRefunded, PaymentRefunded}: true,
	}
	all := []PaymentStatus{PaymentOpen, PaymentPaid, PaymentExpired, PaymentCancelled, PaymentRefunded, PaymentPartiallyRefunded}
	for _, from := range all {
		for _, to := range all {
			if got := from.CanBecome(to); got != legal[[2]PaymentStatus{from, to}] {
				t.Errorf("%s -> %s: CanBecome = %v", from, to, got)
			}
		}
	}
	if got := paymentStatusesInto(PaymentPaid); !slices.Equal(got, []PaymentStatus{PaymentCancelled, PaymentExpired, PaymentOpen}) {
		t.Errorf("statuses into paid: %v", got)
	}
}

func TestAttemptTransitions(t *testing.T) {
	for _, tc := range []struct {
		from, to AttemptStatus
		ok       bool
	}{
		{AttemptCreating, AttemptPending, true},
		{AttemptCreating, AttemptPaid, false}, // no provider order yet: nothing can be paid
		{AttemptPending, AttemptPaid, true},
		{AttemptPending, AttemptDeclined, true},
		{AttemptAuthorized, AttemptPaid, true},
		{AttemptDeclined, AttemptPaid, true}, // the provider's later word wins
		{AttemptPaid, AttemptDeclined, false},
		{AttemptPaid, AttemptPending, false},
		{AttemptFailed, AttemptPaid, true}, // "no such order" was believed too early: the money still counts
		{AttemptReview, AttemptPaid, true},
		{AttemptPending, AttemptReview, true},
		{AttemptCreating, AttemptReview, false},
		{AttemptDeclined, AttemptCancelled, false},
	} {
		if got := tc.from.CanBecome(tc.to); got != tc.ok {
			t.Errorf("%s -> %s: CanBecome = %v, want %v", tc.from, tc.to, got, tc.ok)
		}
	}
	if !AttemptPending.Live() || !AttemptAuthorized.Live() || !AttemptReview.Live() || AttemptDeclined.Live() || AttemptCreating.Live() {
		t.Error("Live is wrong")
	}
}

func TestCheckDelay(t *testing.T) {
	want := []int{20, 40, 80, 160, 320, 600, 600}
	for i, w := range want {
		if got := int(checkDelay(i).Seconds()); got != w {
			t.Errorf("checkDelay(%d) = %ds, want %ds", i, got, w)
		}
	}
}

func TestMoneyString(t *testing.T) {
	for _, tc := range []struct {
		m    Money
		want string
	}{
		{Money{10000, "USD"}, "USD 100.00"},
		{Money{123456789, "USD"}, "USD 1,234,567.89"},
		{Money{4500000, "MWK"}, "MWK 45,000.00"},
		{Money{1500, "JPY"}, "JPY 1,500"},
		{Money{1234567, "KWD"}, "KWD 1,234.567"},
		{Money{-250, "EUR"}, "EUR -2.50"},
		{Money{5, "USD"}, "USD 0.05"},
	} {
		if got := tc.m.String(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.m, got, tc.want)
		}
	}
}

func TestRandomID(t *testing.T) {
	id := randomID(32)
	if len(id) != 32 {
		t.Fatalf("len %d", len(id))
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			t.Fatalf("id %q has %q", id, r)
		}
	}
}
