package checkout

import (
	"testing"
)

// refundFixture is a payment of amount paid through the attempts given (newest first), with
// refunds.
func refundFixture(status PaymentStatus, attempts []Attempt, refunds ...Refund) *Payment {
	return &Payment{ID: "pay_1", Money: Money{1000, "USD"}, Status: status, Attempts: attempts, Refunds: refunds}
}

func paidAttempt(id string) Attempt {
	return Attempt{ID: id, Status: AttemptPaid, Money: Money{1000, "USD"}}
}

func TestRefundableAmount(t *testing.T) {
	a1, a2 := paidAttempt("att_1"), paidAttempt("att_2")
	declined := Attempt{ID: "att_0", Status: AttemptDeclined, Money: Money{1000, "USD"}}
	rf := func(att string, amount int64, st RefundStatus) Refund {
		return Refund{AttemptID: att, Money: Money{amount, "USD"}, Status: st}
	}
	for _, tc := range []struct {
		name                 string
		p                    *Payment
		refundable, refunded int64
	}{
		{"paid, no refunds", refundFixture(PaymentPaid, []Attempt{a1, declined}), 1000, 0},
		{"a succeeded refund", refundFixture(PaymentPartiallyRefunded, []Attempt{a1}, rf("att_1", 300, RefundSucceeded)), 700, 300},
		{"pending and manual refunds hold their amount", refundFixture(PaymentPaid, []Attempt{a1},
			rf("att_1", 100, RefundPending), rf("att_1", 200, RefundManual)), 700, 0},
		{"failed refunds give it back", refundFixture(PaymentPaid, []Attempt{a1}, rf("att_1", 1000, RefundFailed)), 1000, 0},
		{"fully refunded", refundFixture(PaymentRefunded, []Attempt{a1}, rf("att_1", 400, RefundSucceeded), rf("att_1", 600, RefundSucceeded)), 0, 1000},
		{"paid twice", refundFixture(PaymentPaid, []Attempt{a2, a1}, rf("att_1", 1000, RefundSucceeded)), 1000, 1000},
		{"a reversal beyond a refund never goes negative", refundFixture(PaymentRefunded, []Attempt{a1},
			rf("att_1", 300, RefundSucceeded), rf("att_1", 1000, RefundSucceeded)), 0, 1300},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.p.Refundable(); got != tc.refundable {
				t.Errorf("Refundable() = %d, want %d", got, tc.refundable)
			}
			if got := tc.p.RefundedAmount(); got != tc.refunded {
				t.Errorf("RefundedAmount() = %d, want %d", got, tc.refunded)
			}
		})
	}
}

func TestPlanRefund(t *testing.T) {
	a1, a2 := paidAttempt("att_1"), paidAttempt("att_2")
	rf := func(att string, amount int64, st RefundStatus) Refund {
		return Refund{AttemptID: att, Money: Money{amount, "USD"}, Status: st}
	}
	for _, tc := range []struct {
		name    string
		p       *Payment
		amount  int64
		code    string
		attempt string
		want    int64
	}{
		{"all that is left by default", refundFixture(PaymentPartiallyRefunded, []Attempt{a1}, rf("att_1", 300, RefundSucceeded)), 0, "", "att_1", 700},
		{"part", refundFixture(PaymentPaid, []Attempt{a1}), 250, "", "att_1", 250},
		{"exactly what is left", refundFixture(PaymentPaid, []Attempt{a1}, rf("att_1", 300, RefundManual)), 700, "", "att_1", 700},
		{"more than is left", refundFixture(PaymentPaid, []Attempt{a1}, rf("att_1", 300, RefundPending)), 701, EINVALID, "", 0},
		{"fully refunded", refundFixture(PaymentRefunded, []Attempt{a1}, rf("att_1", 1000, RefundSucceeded)), 0, EINVALID, "", 0},
		{"fully refunded, an amount", refundFixture(PaymentRefunded, []Attempt{a1}, rf("att_1", 1000, RefundSucceeded)), 1, EINVALID, "", 0},
		{"negative", refundFixture(PaymentPaid, []Attempt{a1}), -5, EINVALID, "", 0},
		{"open: never paid", refundFixture(PaymentOpen, nil), 100, ECONFLICT, "", 0},
		{"expired: never paid", refundFixture(PaymentExpired, nil), 0, ECONFLICT, "", 0},
		{"cancelled: never paid", refundFixture(PaymentCancelled, nil), 0, ECONFLICT, "", 0},
		{"paid twice: the first payment first", refundFixture(PaymentPaid, []Attempt{a2, a1}), 600, "", "att_1", 600},
		{"paid twice: then the second", refundFixture(PaymentPartiallyRefunded, []Attempt{a2, a1}, rf("att_1", 1000, RefundSucceeded)), 0, "", "att_2", 1000},
		{"paid twice: one refund cannot span both", refundFixture(PaymentPaid, []Attempt{a2, a1}, rf("att_1", 500, RefundSucceeded)), 1200, EINVALID, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, n, err := planRefund(tc.p, tc.amount)
			if tc.code != "" {
				if ErrorCode(err) != tc.code {
					t.Fatalf("err %v, want code %s", err, tc.code)
				}
				return
			}
			if err != nil || a.ID != tc.attempt || n != tc.want {
				t.Fatalf("planRefund = %s, %d, %v; want %s, %d", a.ID, n, err, tc.attempt, tc.want)
			}
		})
	}
}

func TestRefundedStatusAndMoves(t *testing.T) {
	p := refundFixture(PaymentPaid, []Attempt{paidAttempt("att_1")})
	if got := refundedStatus(p, 999); got != PaymentPartiallyRefunded {
		t.Errorf("999 of 1000 refunded: %s", got)
	}
	if got := refundedStatus(p, 1000); got != PaymentRefunded {
		t.Errorf("1000 of 1000 refunded: %s", got)
	}
	for _, tc := range []struct {
		from, to RefundStatus
		ok       bool
	}{
		{RefundPending, RefundSucceeded, true}, {RefundPending, RefundFailed, true},
		{RefundManual, RefundSucceeded, true}, {RefundManual, RefundFailed, true},
		{RefundSucceeded, RefundFailed, false}, {RefundFailed, RefundSucceeded, false},
		{RefundManual, RefundPending, false}, {RefundPending, RefundManual, false},
	} {
		if got := tc.from.CanBecome(tc.to); got != tc.ok {
			t.Errorf("%s -> %s: %v, want %v", tc.from, tc.to, got, tc.ok)
		}
	}
}
