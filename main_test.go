package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kassa-pay/kassa/checkout"
	"github.com/kassa-pay/kassa/db"
)

func kassa(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, &out, &errOut)
	return out.String(), err
}

func TestCLIAppsAndTokens(t *testing.T) {
	dbURL := "sqlite:" + filepath.Join(t.TempDir(), "k.db")
	out, err := kassa(t, "apps", "create", "--db", dbURL, "--name", "Shop", "--webhook-url", "https://shop.example/hook")
	if err != nil {
		t.Fatal(err)
	}
	var app map[string]string
	if err := json.Unmarshal([]byte(out), &app); err != nil || len(app["clientId"]) != 32 || !strings.HasPrefix(app["webhookSecret"], "whsec_") {
		t.Fatalf("apps create printed %q", out)
	}
	id := app["clientId"]
	if out, _ := kassa(t, "apps", "list", "--db", dbURL); !strings.Contains(out, id) || strings.Contains(out, "whsec_") {
		t.Fatalf("apps list must list the app without its secret: %s", out)
	}
	out, err = kassa(t, "apps", "rotate-secret", "--db", dbURL, "--client-id", id)
	var rotated map[string]any
	if err != nil || json.Unmarshal([]byte(out), &rotated) != nil || rotated["webhookSecret"] == app["webhookSecret"] {
		t.Fatalf("rotate-secret: %v %s", err, out)
	}

	tok, err := kassa(t, "tokens", "create", "--db", dbURL, "--client-id", id, "--scope", "payments.create", "--scope", "payments.get", "--label", "server")
	if err != nil || strings.Count(tok, "\n") != 1 || !strings.HasPrefix(tok, "kct_") {
		t.Fatalf("tokens create printed %q, %v", tok, err)
	}
	tok = strings.TrimSpace(tok)
	d, err := db.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	svc := &checkout.Service{Store: d}
	if p, err := svc.Authenticate(context.Background(), tok); err != nil || !p.Can(checkout.ScopePaymentsGet) {
		t.Fatalf("the printed token does not authenticate: %v", err)
	}
	tokenID := strings.Split(tok, "_")[1]
	if _, err := kassa(t, "tokens", "revoke", "--db", dbURL, "--id", tokenID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Authenticate(context.Background(), tok); checkout.ErrorCode(err) != checkout.EUNAUTHORIZED {
		t.Fatalf("a revoked token still authenticates: %v", err)
	}
	if out, _ := kassa(t, "tokens", "list", "--db", dbURL, "--client-id", id); !strings.Contains(out, "revokedAt") || strings.Contains(out, tok[20:]) {
		t.Fatalf("tokens list: %s", out)
	}

	for _, bad := range [][]string{
		{"tokens", "create", "--db", dbURL, "--client-id", id, "--scope", "payments.delete"},
		{"tokens", "create", "--db", dbURL, "--client-id", "nope", "--scope", "*"},
		{"tokens", "create", "--db", dbURL, "--client-id", id, "--scope", "*", "--expires", "tomorrow"},
		{"apps", "create", "--db", dbURL},
		{"apps", "create", "--db", dbURL, "--name", "X", "--webhook-url", "ftp://x"},
		{"tokens", "revoke", "--db", dbURL, "--id", "0000000000000000"},
		{"nonsense"},
	} {
		if _, err := kassa(t, bad...); err == nil {
			t.Errorf("kassa %v succeeded", bad)
		}
	}
}

func TestEnvironmentWinsOverFlags(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("KASSA_DATABASE_URL", "sqlite:"+filepath.Join(dir, "env.db"))
	if _, err := kassa(t, "apps", "create", "--db", "sqlite:"+filepath.Join(dir, "flag.db"), "--name", "Shop"); err != nil {
		t.Fatal(err)
	}
	out, _ := kassa(t, "apps", "list")
	if !strings.Contains(out, "Shop") {
		t.Fatalf("the app went to the flag's database, not the environment's: %s", out)
	}
}

func TestSandboxCredentials(t *testing.T) {
	out, err := kassa(t, "sandbox", "credentials")
	var creds map[string]map[string]any
	if err != nil || json.Unmarshal([]byte(out), &creds) != nil {
		t.Fatalf("sandbox credentials: %v %s", err, out)
	}
	for p, fields := range map[string][]string{
		"onecheckout": {"apiKey"}, "enkash": {"accessKey", "secretKey"}, "kspay": {"appId", "accessKey", "secretKey"},
		"onekhusa": {"apiKey", "apiSecret", "organisationId", "merchantAccountNumber"},
	} {
		for _, f := range fields {
			if creds[p][f] == nil {
				t.Errorf("%s lacks %s: %v", p, f, creds[p])
			}
		}
	}
}
