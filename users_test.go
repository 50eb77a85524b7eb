package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kassa-pay/kassa/checkout"
	"github.com/kassa-pay/kassa/db"
)

func usersCLI(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := users(context.Background(), "users "+args[0], args[1:], strings.NewReader(stdin), &out, &errOut)
	return out.String(), err
}

func TestCLIUsers(t *testing.T) {
	dbURL := "sqlite:" + filepath.Join(t.TempDir(), "k.db")
	pw, err := usersCLI(t, "", "create", "--db", dbURL, "--email", "Ops@Example.com")
	if err != nil || strings.Count(pw, "\n") != 1 || len(strings.TrimSpace(pw)) != 20 {
		t.Fatalf("users create printed %q, %v", pw, err)
	}
	pw = strings.TrimSpace(pw)
	if out, err := usersCLI(t, "a chosen password\n", "create", "--db", dbURL, "--email", "two@example.com", "--password-stdin"); err != nil || out != "" {
		t.Fatalf("users create --password-stdin printed %q, %v", out, err)
	}
	if _, err := usersCLI(t, "", "create", "--db", dbURL, "--email", "ops@example.com"); err == nil {
		t.Fatal("a second operator with one email was created")
	}
	if _, err := usersCLI(t, "short\n", "create", "--db", dbURL, "--email", "three@example.com", "--password-stdin"); err == nil {
		t.Fatal("a short password was taken")
	}
	d, err := db.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ops := &checkout.Operators{Store: d}
	signIn := func(email, password string) error {
		_, err := ops.SignIn(context.Background(), email, password, "127.0.0.1")
		return err
	}
	if err := signIn("ops@example.com", pw); err != nil {
		t.Fatalf("the printed password does not sign in: %v", err)
	}
	if err := signIn("two@example.com", "a chosen password"); err != nil {
		t.Fatalf("the stdin password does not sign in: %v", err)
	}

	out, err := usersCLI(t, "", "list", "--db", dbURL)
	var list []map[string]any
	if err != nil || json.Unmarshal([]byte(out), &list) != nil || len(list) != 2 || list[0]["email"] != "ops@example.com" || strings.Contains(out, "argon2") {
		t.Fatalf("users list printed %q, %v", out, err)
	}

	pw2, err := usersCLI(t, "", "reset-password", "--db", dbURL, "--email", "ops@example.com")
	if pw2 = strings.TrimSpace(pw2); err != nil || len(pw2) != 20 || pw2 == pw {
		t.Fatalf("reset-password printed %q, %v", pw2, err)
	}
	if err := signIn("ops@example.com", pw); err == nil {
		t.Fatal("the old password still signs in")
	}
	if err := signIn("ops@example.com", pw2); err != nil {
		t.Fatalf("the new password does not sign in: %v", err)
	}
	if _, err := usersCLI(t, "", "disable", "--db", dbURL, "--email", "ops@example.com"); err != nil {
		t.Fatal(err)
	}
	if err := signIn("ops@example.com", pw2); err == nil {
		t.Fatal("a disabled operator signs in")
	}
	if _, err := usersCLI(t, "", "disable", "--db", dbURL, "--email", "nobody@example.com"); err == nil {
		t.Fatal("disabling an unknown operator succeeded")
	}
}

// In sandbox mode a fresh database gets an operator whose password every start prints, until
// it is changed; a database with operators of its own gets none.
func TestSandboxOperator(t *testing.T) {
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	d, err := db.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	email, pw, err := sandboxOperator(ctx, d, quiet)
	if err != nil || email == "" || len(pw) != 20 {
		t.Fatalf("first start: %q %q %v", email, pw, err)
	}
	ops := &checkout.Operators{Store: d}
	if _, err := ops.SignIn(ctx, email, pw, "127.0.0.1"); err != nil {
		t.Fatalf("the printed sandbox operator cannot sign in: %v", err)
	}
	if e2, pw2, err := sandboxOperator(ctx, d, quiet); err != nil || e2 != email || pw2 != pw {
		t.Fatalf("second start printed %q %q %v", e2, pw2, err)
	}
	if _, err := ops.ResetPassword(ctx, email, ""); err != nil {
		t.Fatal(err)
	}
	if e3, pw3, err := sandboxOperator(ctx, d, quiet); err != nil || e3 != "" || pw3 != "" {
		t.Fatalf("after a reset the start printed %q %q %v, want nothing", e3, pw3, err)
	}

	other, err := db.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "o.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, _, err := (&checkout.Operators{Store: other}).Create(ctx, "mine@example.com", ""); err != nil {
		t.Fatal(err)
	}
	if e, _, err := sandboxOperator(ctx, other, quiet); err != nil || e != "" {
		t.Fatalf("a database with its own operator got a sandbox one: %q %v", e, err)
	}
}

// TestSandboxOperatorRetiredOutsideSandbox: a database first served in sandbox mode (no
// provider configured yet: it is on by itself) has an operator whose password was printed on
// stdout and sits in the settings table in clear. Served later with a real provider, that
// operator is disabled, so the printed password opens no live dashboard.
func TestSandboxOperatorRetiredOutsideSandbox(t *testing.T) {
	clearKassaEnv(t)
	dbURL := "sqlite:" + filepath.Join(t.TempDir(), "k.db")
	serveOnce := func() string {
		stdout, stderr := &lockedBuffer{}, &lockedBuffer{}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--db", dbURL}, stdout, stderr) }()
		deadline := time.Now().Add(30 * time.Second)
		for !listening.MatchString(stdout.String()) {
			select {
			case err := <-done:
				cancel()
				t.Fatalf("kassa serve ended: %v\n%s", err, stderr)
			default:
			}
			if time.Now().After(deadline) {
				cancel()
				t.Fatalf("kassa serve did not start:\n%s", stderr)
			}
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("kassa serve: %v\n%s", err, stderr)
		}
		return stdout.String()
	}
	out := serveOnce()
	m := regexp.MustCompile(`sign in as (\S+) with password (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("the sandbox start printed no operator:\n%s", out)
	}
	realOnecheckout(t)
	if out := serveOnce(); strings.Contains(out, m[2]) {
		t.Fatalf("a start with a real provider printed the sandbox password:\n%s", out)
	}
	ctx := context.Background()
	d, err := db.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := (&checkout.Operators{Store: d}).SignIn(ctx, m[1], m[2], "127.0.0.1"); err == nil {
		t.Fatal("the sandbox operator's printed password still signs in once real providers are served")
	}
}
