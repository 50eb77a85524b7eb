package checkout_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kassa-pay/kassa/checkout"
	"github.com/kassa-pay/kassa/db"
)

func TestPasswordHash(t *testing.T) {
	h := checkout.HashPassword("correct horse battery staple")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q is not argon2id at OWASP's parameters", h)
	}
	if !checkout.CheckPassword(h, "correct horse battery staple") {
		t.Fatal("the right password does not verify")
	}
	if checkout.CheckPassword(h, "correct horse battery stapler") {
		t.Fatal("a wrong password verifies")
	}
	if h2 := checkout.HashPassword("correct horse battery staple"); h2 == h {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	parts := strings.Split(h, "$")
	for _, bad := range []string{"", "plain", "$argon2i$v=19$m=19456,t=2,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=0,t=2,p=1$" + parts[4] + "$" + parts[5], "$argon2id$v=19$m=19456,t=2,p=1$!!$" + parts[5],
		"$argon2id$v=19$m=19456,t=2,p=1$" + parts[4] + "$"} {
		if checkout.CheckPassword(bad, "correct horse battery staple") {
			t.Errorf("malformed hash %q verified", bad)
		}
	}
	if p := checkout.GeneratePassword(); len(p) != 20 || p == checkout.GeneratePassword() {
		t.Fatalf("generated password %q", p)
	}
}

func newOperators(t *testing.T) (*checkout.Operators, *time.Time) {
	t.Helper()
	d, err := db.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "kassa.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	return &checkout.Operators{Store: d, Now: func() time.Time { return now }}, &now
}

func TestOperatorCreate(t *testing.T) {
	ops, _ := newOperators(t)
	ctx := context.Background()
	o, pw, err := ops.Create(ctx, " Ops@Example.com ", "")
	if err != nil {
		t.Fatal(err)
	}
	if o.Email != "ops@example.com" || len(pw) != 20 || !checkout.CheckPassword(o.PasswordHash, pw) {
		t.Fatalf("created %+v with password %q", o, pw)
	}
	if _, _, err := ops.Create(ctx, "OPS@example.com", ""); checkout.ErrorCode(err) != checkout.ECONFLICT {
		t.Fatalf("a second operator with the same email: %v", err)
	}
	for _, tc := range []struct{ email, pw, field string }{{"not an email", "", "email"}, {"a@b.example", "short", "password"}} {
		_, _, err := ops.Create(ctx, tc.email, tc.pw)
		var e *checkout.Error
		if !asError(err, &e) || e.Fields[tc.field] == "" {
			t.Errorf("Create(%q, %q) = %v, want a %s field error", tc.email, tc.pw, err, tc.field)
		}
	}
}

func asError(err error, e **checkout.Error) bool {
	ce, ok := err.(*checkout.Error)
	*e = ce
	return ok
}

func TestSignInThrottle(t *testing.T) {
	ops, now := newOperators(t)
	ctx := context.Background()
	_, pw, err := ops.Create(ctx, "ops@example.com", "")
	if err != nil {
		t.Fatal(err)
	}
	// Unknown email and wrong password answer the same.
	_, errUnknown := ops.SignIn(ctx, "nobody@example.com", pw, "10.0.0.9")
	_, errWrong := ops.SignIn(ctx, "ops@example.com", "wrong password", "10.0.0.9")
	if errUnknown != checkout.ErrSignIn || errWrong != checkout.ErrSignIn || errUnknown.Error() != errWrong.Error() {
		t.Fatalf("unknown email: %v; wrong password: %v", errUnknown, errWrong)
	}
	// The account: after AccountFailureLimit failures even the right password is refused,
	// from any address, with a message that names neither field.
	for i := 1; i < checkout.AccountFailureLimit; i++ {
		if _, err := ops.SignIn(ctx, "ops@example.com", "wrong password", "10.0.0.1"); err != checkout.ErrSignIn {
			t.Fatalf("failure %d: %v", i+1, err)
		}
	}
	if _, err := ops.SignIn(ctx, "ops@example.com", pw, "10.0.0.2"); err != checkout.ErrThrottled {
		t.Fatalf("right password on a throttled account: %v, want throttled", err)
	}
	if msg := checkout.ErrorMessage(checkout.ErrThrottled); strings.Contains(msg, "password") || strings.Contains(msg, "email") {
		t.Fatalf("throttle message %q says which field", msg)
	}
	// The window passes: the right password works again and clears the account's count.
	*now = now.Add(checkout.ThrottleWindow + time.Second)
	if _, err := ops.SignIn(ctx, "ops@example.com", pw, "10.0.0.2"); err != nil {
		t.Fatalf("after the window: %v", err)
	}

	// The address: failures on many accounts from one address throttle that address only.
	for i := 0; i < checkout.AddressFailureLimit; i++ {
		if _, err := ops.SignIn(ctx, "guess"+strings.Repeat("x", i)+"@example.com", "guess", "192.0.2.7"); err != checkout.ErrSignIn {
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	if _, err := ops.SignIn(ctx, "ops@example.com", pw, "192.0.2.7"); err != checkout.ErrThrottled {
		t.Fatalf("right password from a throttled address: %v", err)
	}
	if _, err := ops.SignIn(ctx, "ops@example.com", pw, "192.0.2.8"); err != nil {
		t.Fatalf("right password from another address: %v", err)
	}
}

func TestOperatorResetAndDisable(t *testing.T) {
	ops, now := newOperators(t)
	ctx := context.Background()
	o, pw, err := ops.Create(ctx, "ops@example.com", "")
	if err != nil {
		t.Fatal(err)
	}
	signedIn := *now
	for range checkout.AccountFailureLimit {
		ops.SignIn(ctx, "ops@example.com", "wrong password", "10.0.0.1")
	}
	*now = now.Add(time.Minute)
	pw2, err := ops.ResetPassword(ctx, "ops@example.com", "")
	if err != nil || pw2 == pw {
		t.Fatalf("reset: %q %v", pw2, err)
	}
	if _, err := ops.SignIn(ctx, "ops@example.com", pw, "10.0.0.1"); err != checkout.ErrSignIn {
		t.Fatalf("old password after a reset: %v", err)
	}
	if _, err := ops.SignIn(ctx, "ops@example.com", pw2, "10.0.0.1"); err != nil {
		t.Fatalf("new password after a reset (which lifts the account's throttle): %v", err)
	}
	o, _ = ops.Find(ctx, o.ID)
	if o.SessionValid(signedIn) || !o.SessionValid(*now) {
		t.Fatal("a session begun before the reset is still valid, or one after it is not")
	}
	if err := ops.Disable(ctx, "ops@example.com"); err != nil {
		t.Fatal(err)
	}
	o, _ = ops.Find(ctx, o.ID)
	if o.SessionValid(*now) {
		t.Fatal("a disabled operator's session is valid")
	}
	if _, err := ops.SignIn(ctx, "ops@example.com", pw2, "10.0.0.3"); err != checkout.ErrSignIn {
		t.Fatalf("a disabled operator signed in: %v", err)
	}
}

func TestNeedsReview(t *testing.T) {
	p := &checkout.Payment{Attempts: []checkout.Attempt{{Status: checkout.AttemptPaid}, {Status: checkout.AttemptDeclined}}}
	if r := p.NeedsReview(); r != "" {
		t.Fatalf("one paid attempt: %q", r)
	}
	p.Attempts = append(p.Attempts, checkout.Attempt{Status: checkout.AttemptPaid})
	if r := p.NeedsReview(); r != "paid twice" {
		t.Fatalf("two paid attempts: %q", r)
	}
}

// TestSignInThrottleConcurrent: guesses sent all at once are throttled like guesses sent one
// by one. The count of failures is read before the (slow) password check and written after
// it, so without serialising one account's sign-ins, every guess of a burst read "no failures
// yet" and had its password checked: the limit of 5 per 15 minutes became as many as an
// attacker could send in parallel.
func TestSignInThrottleConcurrent(t *testing.T) {
	ops, _ := newOperators(t)
	ctx := context.Background()
	if _, _, err := ops.Create(ctx, "ops@example.com", ""); err != nil {
		t.Fatal(err)
	}
	const burst = 24
	start := make(chan struct{})
	errs := make(chan error, burst)
	var wg sync.WaitGroup
	for i := range burst {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := ops.SignIn(ctx, "ops@example.com", fmt.Sprintf("guess number %d", i), fmt.Sprintf("198.51.100.%d", i+1))
			errs <- err
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	checked := 0
	for err := range errs {
		switch err {
		case checkout.ErrSignIn:
			checked++
		case checkout.ErrThrottled:
		default:
			t.Fatalf("sign-in: %v", err)
		}
	}
	if checked > checkout.AccountFailureLimit {
		t.Fatalf("%d guesses of a burst of %d had their password checked; the limit is %d", checked, burst, checkout.AccountFailureLimit)
	}
}

// TestSignInThrottleAcrossInstances: two instances (each with its own in-process locks) on
// one database take a burst of guesses for one account together; no more than the limit get
// their password checked, because each attempt is recorded before it is counted.
func TestSignInThrottleAcrossInstances(t *testing.T) {
	one, _ := newOperators(t)
	two := &checkout.Operators{Store: one.Store, Now: one.Now}
	ctx := context.Background()
	if _, _, err := one.Create(ctx, "ops@example.com", ""); err != nil {
		t.Fatal(err)
	}
	const burst = 24
	start := make(chan struct{})
	errs := make(chan error, burst)
	var wg sync.WaitGroup
	for i := range burst {
		ops := one
		if i%2 == 1 {
			ops = two
		}
		wg.Go(func() {
			<-start
			_, err := ops.SignIn(ctx, "ops@example.com", fmt.Sprintf("guess number %d", i), fmt.Sprintf("198.51.100.%d", i+1))
			errs <- err
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	checked := 0
	for err := range errs {
		switch err {
		case checkout.ErrSignIn:
			checked++
		case checkout.ErrThrottled:
		default:
			t.Fatalf("sign-in: %v", err)
		}
	}
	if checked > checkout.AccountFailureLimit {
		t.Fatalf("%d guesses of a burst of %d on two instances had their password checked; the limit is %d", checked, burst, checkout.AccountFailureLimit)
	}
	// The right password after the burst is refused too: the account is throttled.
	if _, err := one.SignIn(ctx, "ops@example.com", "whatever", "203.0.113.9"); err != checkout.ErrThrottled {
		t.Fatalf("after the burst: %v, want throttled", err)
	}
}
