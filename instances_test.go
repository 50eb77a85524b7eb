package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kassa-pay/kassa/db"
	"github.com/kassa-pay/kassa/providers/onecheckout"
	onecheckoutsandbox "github.com/kassa-pay/kassa/providers/onecheckout/sandbox"
)

func TestOnecheckoutShare(t *testing.T) {
	for _, tc := range []struct{ perMinute, inFlight, instances, wantMinute, wantFlight int }{
		{0, 0, 0, 1000, 10},
		{0, 0, 1, 1000, 10},
		{0, 0, 3, 333, 3},
		{6000, 40, 4, 1500, 10},
		{0, 0, 20, 50, 1}, // never below one in flight
	} {
		m, f := onecheckoutShare(tc.perMinute, tc.inFlight, tc.instances)
		if m != tc.wantMinute || f != tc.wantFlight {
			t.Errorf("share(%d, %d, %d) = %d, %d; want %d, %d", tc.perMinute, tc.inFlight, tc.instances, m, f, tc.wantMinute, tc.wantFlight)
		}
	}
}

// TestOnecheckoutSharesStayWithinTheKeysLimit runs three instances' Onecheckout clients, each
// with its share, flat out against one simulator that enforces the documented limit of 10 in
// flight per key: together they never go over it, and nothing is refused. With the whole
// limit each (no KASSA_INSTANCES), the same load is refused.
func TestOnecheckoutSharesStayWithinTheKeysLimit(t *testing.T) {
	run := func(instances int) (onecheckoutsandbox.Stats, int) {
		var failed atomic.Int32
		sb := onecheckoutsandbox.New(onecheckoutsandbox.Config{Latency: 50 * time.Millisecond})
		srv := httptest.NewServer(sb)
		defer srv.Close()
		perMinute, inFlight := onecheckoutShare(0, 0, instances)
		var wg sync.WaitGroup
		for range 3 {
			c := onecheckout.NewClient(onecheckout.Config{BaseURL: srv.URL + "/api/v1.0", MaxRetries: -1,
				APIKey: onecheckout.Secret(onecheckoutsandbox.DefaultCredentials().APIKey), RequestsPerMinute: perMinute, MaxConcurrent: inFlight})
			for range 12 {
				wg.Go(func() {
					if _, err := c.GetMe(context.Background()); err != nil {
						failed.Add(1)
					}
				})
			}
		}
		wg.Wait()
		return sb.Stats(), int(failed.Load())
	}
	if st, failed := run(3); st.PeakInFlight > 10 || st.RateLimited != 0 || failed != 0 {
		t.Fatalf("three instances with their shares: peak %d in flight, %d refused, %d calls failed", st.PeakInFlight, st.RateLimited, failed)
	}
	if st, _ := run(1); st.RateLimited == 0 {
		t.Fatalf("three instances each with the whole limit were never refused (peak %d): the test load is too light", st.PeakInFlight)
	}
}

// TestSecretKeyGivesEveryInstanceTheSameKeys: with KASSA_SECRET_KEY, instances on different
// databases (or a restarted one) sign cookies alike; without it, instances on one database do.
func TestSecretKeyGivesEveryInstanceTheSameKeys(t *testing.T) {
	ctx := context.Background()
	openAt := func(name string) *db.DB {
		d, err := db.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		return d
	}
	a, b := openAt("a.db"), openAt("b.db")

	ka, _ := instanceKeys(ctx, a)
	ka2, _ := instanceKeys(ctx, a)
	kb, _ := instanceKeys(ctx, b)
	if !bytes.Equal(ka.session, ka2.session) || !bytes.Equal(ka.csrf, ka2.csrf) || bytes.Equal(ka.session, kb.session) {
		t.Fatal("without a secret, the keys must be one per database")
	}

	t.Setenv("KASSA_SECRET_KEY", "0123456789abcdef0123456789abcdef")
	sa, err := instanceKeys(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	sb, _ := instanceKeys(ctx, b)
	if !bytes.Equal(sa.session, sb.session) || !bytes.Equal(sa.csrf, sb.csrf) || bytes.Equal(sa.session, sa.csrf) || len(sa.session) != 32 {
		t.Fatal("with a secret, every instance derives the same two distinct keys")
	}
	t.Setenv("KASSA_SECRET_KEY", "short")
	if _, err := instanceKeys(ctx, a); err == nil {
		t.Fatal("a short KASSA_SECRET_KEY was accepted")
	}
	// Long enough but guessable: a placeholder left in, a word repeated, one character.
	// Whoever guesses it signs dashboard session ids and CSRF tokens as Kassa does.
	for _, weak := range []string{"CHANGE-ME-CHANGE-ME-CHANGE-ME-CHANGE-ME", "passwordpasswordpasswordpassword",
		strings.Repeat("x", 64), "CHANGE-ME-64-HEX-CHARACTERS-0123456789abcdef"} {
		t.Setenv("KASSA_SECRET_KEY", weak)
		if _, err := instanceKeys(ctx, a); err == nil {
			t.Errorf("the guessable KASSA_SECRET_KEY %q was accepted", weak)
		}
	}
	t.Setenv("KASSA_SECRET_KEY", "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")
	if _, err := instanceKeys(ctx, a); err != nil {
		t.Fatalf("openssl rand -hex 32's kind of secret refused: %v", err)
	}
}

// TestSharedSandboxMountsNothing: with KASSA_SANDBOX_URL an instance mounts no simulator and
// still offers every provider, with the sandbox credentials.
func TestSharedSandboxMountsNothing(t *testing.T) {
	base, _ := url.Parse("http://127.0.0.1:8080")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	own, err := wireProviders(base, sandboxFlag{set: true, on: true}, quiet)
	if err != nil || len(own.mounts) != 4 || len(own.providers) != 4 {
		t.Fatalf("sandbox mode: %d mounts, %d providers, %v", len(own.mounts), len(own.providers), err)
	}
	t.Setenv("KASSA_SANDBOX_URL", "http://127.0.0.1:8090/")
	shared, err := wireProviders(base, sandboxFlag{}, quiet)
	if err != nil || len(shared.mounts) != 0 || len(shared.providers) != 4 {
		t.Fatalf("shared sandbox: %d mounts, %d providers, %v", len(shared.mounts), len(shared.providers), err)
	}
}
