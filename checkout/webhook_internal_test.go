package checkout

import (
	"testing"
	"time"
)

func TestParseRetrySchedule(t *testing.T) {
	got, err := ParseRetrySchedule("1s, 2s,4s")
	if err != nil || len(got) != 3 || got[0] != time.Second || got[2] != 4*time.Second {
		t.Fatalf("ParseRetrySchedule = %v, %v", got, err)
	}
	for _, bad := range []string{"", "1s,,2s", "1s,0s", "-1s", "soon", "1s,2"} {
		if _, err := ParseRetrySchedule(bad); err == nil {
			t.Errorf("ParseRetrySchedule(%q) accepted", bad)
		}
	}
}

// The default schedule follows Standard Webhooks' recommendation and spans about three days.
func TestDefaultRetrySchedule(t *testing.T) {
	var total time.Duration
	for _, d := range DefaultRetrySchedule {
		total += d
	}
	if total < 66*time.Hour || total > 84*time.Hour || DefaultRetrySchedule[0] != 5*time.Second {
		t.Fatalf("default schedule spans %s, want about three days starting with 5s", total)
	}
}

func TestJitter(t *testing.T) {
	if lo, hi := jitterWith(10*time.Second, 0), jitterWith(10*time.Second, 1); lo != 8*time.Second || hi != 12*time.Second {
		t.Fatalf("jitter bounds %s..%s, want 8s..12s", lo, hi)
	}
	seen := map[time.Duration]bool{}
	for range 200 {
		d := Jitter(time.Minute)
		if d < 48*time.Second || d > 72*time.Second {
			t.Fatalf("Jitter(1m) = %s, outside ±20%%", d)
		}
		seen[d] = true
	}
	if len(seen) < 50 {
		t.Fatalf("Jitter gave only %d distinct delays in 200 draws", len(seen))
	}
}

func TestNextDelay(t *testing.T) {
	none := func(d time.Duration) time.Duration { return d }
	schedule := []time.Duration{time.Second, time.Minute}
	for _, c := range []struct {
		tries      int
		retryAfter time.Duration
		want       time.Duration
		retry      bool
	}{
		{1, 0, time.Second, true},
		{2, 0, time.Minute, true},
		{3, 0, 0, false},                              // the schedule is over: failed
		{1, 30 * time.Second, 30 * time.Second, true}, // Retry-After beyond the schedule's wait
		{2, 30 * time.Second, time.Minute, true},      // ... but never sooner than the schedule
		{1, 7 * 24 * time.Hour, 24 * time.Hour, true}, // and at most a day
		{3, time.Hour, 0, false},
	} {
		got, retry := nextDelay(schedule, c.tries, c.retryAfter, none)
		if got != c.want || retry != c.retry {
			t.Errorf("nextDelay(tries %d, Retry-After %s) = %s %v, want %s %v", c.tries, c.retryAfter, got, retry, c.want, c.retry)
		}
	}
}

func TestWebhookTypes(t *testing.T) {
	for ev, want := range map[string]string{
		EventPaymentPaid: "payment.paid", EventPaymentCancelled: "payment.cancelled", EventPaymentExpired: "payment.expired",
		EventAttemptPaidTwice: "payment.paid_twice", "payment.refunded": "payment.refunded",
		"payment.partially_refunded": "payment.partially_refunded", "refund.failed": "refund.failed",
	} {
		if got, ok := WebhookType(ev); !ok || got != want {
			t.Errorf("WebhookType(%s) = %q %v, want %q", ev, got, ok, want)
		}
	}
	for _, ev := range []string{EventPaymentCreated, EventAttemptCreated, EventAttemptPending, EventAttemptFailed, EventAttemptStatus} {
		if _, ok := WebhookType(ev); ok {
			t.Errorf("%s must not be announced", ev)
		}
	}
}
