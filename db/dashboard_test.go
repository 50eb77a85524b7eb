package db

import (
	"context"
	"testing"
	"time"

	"github.com/kassa-pay/kassa/checkout"
)

func seedPayment(t *testing.T, d *DB, id, ref string, status checkout.PaymentStatus, created, paid time.Time, amount int64, cur string) {
	t.Helper()
	p := &checkout.Payment{ID: id, ClientID: "app", Money: checkout.Money{Amount: amount, Currency: cur}, Reference: ref, ReferenceLabel: ref,
		Status: status, ExpiresAt: created.Add(time.Hour), PaidAt: paid, CreatedAt: created, UpdatedAt: created, Metadata: map[string]string{}}
	if err := d.CreatePayment(context.Background(), p, checkout.Event{PaymentID: id, Type: checkout.EventPaymentCreated, CreatedAt: created}); err != nil {
		t.Fatal(err)
	}
}

func TestPaymentSearch(t *testing.T) {
	d, _ := open(t)
	ctx := context.Background()
	if err := d.CreateApp(ctx, &checkout.App{ClientID: "app", Name: "A", WebhookSecret: "whsec_x"}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i, ref := range []string{"ORDER_1", "ORDERX1", "100%", "1000", `back\slash`} {
		seedPayment(t, d, "pay_"+string(rune('a'+i)), ref, checkout.PaymentOpen, now.Add(time.Duration(i)*time.Millisecond), time.Time{}, 100, "USD")
	}
	for _, tc := range []struct {
		search string
		want   int
	}{{"ORDER_", 1}, {"ORDER", 2}, {"%", 1}, {"100", 2}, {`\`, 1}, {"pay_c", 1}, {"pay_", 0}, {"nothing", 0}} {
		ps, n, err := d.ListPayments(ctx, checkout.PaymentFilter{Search: tc.search, Limit: 10})
		if err != nil || n != tc.want || len(ps) != tc.want {
			t.Errorf("search %q: %d (%d listed), %v; want %d", tc.search, n, len(ps), err, tc.want)
		}
	}
}

func TestOverview(t *testing.T) {
	d, _ := open(t)
	ctx := context.Background()
	if err := d.CreateApp(ctx, &checkout.App{ClientID: "app", Name: "A", WebhookSecret: "whsec_x"}); err != nil {
		t.Fatal(err)
	}
	today := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	days := make([]time.Time, 7)
	for i := range days {
		days[i] = today.AddDate(0, 0, i-6)
	}
	seedPayment(t, d, "p1", "r1", checkout.PaymentPaid, today.Add(time.Hour), today.Add(2*time.Hour), 500, "USD")
	seedPayment(t, d, "p2", "r2", checkout.PaymentPaid, today.Add(-30*time.Hour), today.Add(-29*time.Hour), 700, "USD")
	seedPayment(t, d, "p3", "r3", checkout.PaymentPaid, today.Add(-30*time.Hour), today.Add(-29*time.Hour), 9000, "INR")
	seedPayment(t, d, "p4", "r4", checkout.PaymentOpen, today.Add(time.Hour), time.Time{}, 100, "USD")
	seedPayment(t, d, "old", "r5", checkout.PaymentPaid, today.AddDate(0, 0, -20), today.AddDate(0, 0, -20), 100, "USD")
	o, err := d.Overview(ctx, days)
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Days) != 7 || len(o.Days[6].Paid) != 1 || o.Days[6].Paid[0] != (checkout.CurrencyTotal{Currency: "USD", Count: 1, Amount: 500}) {
		t.Fatalf("today: %+v", o.Days)
	}
	week := checkout.Sum(o.Days)
	if len(week) != 2 || week[0] != (checkout.CurrencyTotal{Currency: "INR", Count: 1, Amount: 9000}) || week[1] != (checkout.CurrencyTotal{Currency: "USD", Count: 2, Amount: 1200}) {
		t.Fatalf("week: %+v", week)
	}
	if o.Created != 4 || o.Converted != 3 || o.Open != 1 {
		t.Fatalf("created %d, converted %d, open %d", o.Created, o.Converted, o.Open)
	}
}

func TestRevokeOAuthClient(t *testing.T) {
	d, _ := open(t)
	ctx := context.Background()
	now := time.Now()
	if err := d.CreateOAuthClient(ctx, &checkout.OAuthClient{ID: "koc_1", SecretHash: "h", Name: "n", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := d.CreateAccessToken(ctx, &checkout.AccessToken{ID: "t1", SecretHash: "h", ClientID: "koc_1", ExpiresAt: now.Add(time.Hour), CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := d.RevokeOAuthClient(ctx, "koc_1", now); err != nil {
		t.Fatal(err)
	}
	if _, err := d.FindAccessToken(ctx, "t1"); err != checkout.ErrNotFound {
		t.Fatalf("the revoked client's access token is still there: %v", err)
	}
	c, err := d.FindOAuthClient(ctx, "koc_1")
	if err != nil || c.RevokedAt.IsZero() {
		t.Fatalf("client after revoking: %+v %v", c, err)
	}
	if err := d.RevokeOAuthClient(ctx, "koc_nope", now); err != checkout.ErrNotFound {
		t.Fatalf("revoking an unknown client: %v", err)
	}
}

// TestNoAccessTokenAfterRevoke: an access token being issued while its client is revoked (the
// client was read before the revocation, the token is written after it) is refused, so a
// leaked client secret cannot keep an hour of access by asking for tokens during the revoke.
func TestNoAccessTokenAfterRevoke(t *testing.T) {
	d, _ := open(t)
	ctx := context.Background()
	now := time.Now()
	if err := d.CreateOAuthClient(ctx, &checkout.OAuthClient{ID: "koc_1", SecretHash: "h", Name: "n", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := d.RevokeOAuthClient(ctx, "koc_1", now); err != nil {
		t.Fatal(err)
	}
	err := d.CreateAccessToken(ctx, &checkout.AccessToken{ID: "t1", SecretHash: "h", ClientID: "koc_1", ExpiresAt: now.Add(time.Hour), CreatedAt: now})
	if err != checkout.ErrNotFound {
		t.Fatalf("issuing for a revoked client: %v, want ErrNotFound", err)
	}
	if _, err := d.FindAccessToken(ctx, "t1"); err != checkout.ErrNotFound {
		t.Fatalf("a revoked client got a live access token: %v", err)
	}
}
