package onekhusa

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kassa-pay/kassa/providers"
	"github.com/kassa-pay/kassa/providers/onekhusa/sandbox"
)

// TestSecretsNeverLeak logs and formats everything that holds a credential or a token, and
// the errors of failing calls, in every usual way, and checks no secret shows.
func TestSecretsNeverLeak(t *testing.T) {
	srv := sandbox.New(sandbox.Config{SlowDelay: 6 * time.Second})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	creds := sandbox.DefaultCredentials()
	cfg := Config{
		BaseURL: ts.URL + "/v1", APIKey: Secret(creds.APIKey), APISecret: Secret(creds.APISecret),
		OrganisationID: creds.OrganisationID, MerchantAccountNumber: creds.MerchantAccountNumber,
		CapturedBy: creds.CapturedBy, Timeout: 2 * time.Second,
	}
	p := New(cfg)
	bad := cfg
	bad.APISecret = "wrong-secret-wrong-secret-wrong-secret-12345"
	ctx := context.Background()
	o := providers.Order{Reference: "leak-00000000001", Amount: 100, Currency: "MWK", Description: "x",
		ReturnURL: "https://kassa.test/r", CancelURL: "https://kassa.test/c"}

	_, errBad := New(bad).CreateOrder(ctx, o)
	if !errors.Is(errBad, providers.ErrAuth) {
		t.Fatalf("bad credentials: %v", errBad)
	}
	s, err := p.CreateOrder(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := p.client.tokens.Token()
	if err != nil {
		t.Fatal(err)
	}
	srv.ExpireTokens()
	if _, err := p.FetchOrder(ctx, providers.Lookup{ProviderRef: s.ProviderRef}); err != nil {
		t.Fatal(err) // renewed after a 401: the rejected token must not show in anything either
	}
	slow := o
	slow.Reference, slow.Amount = "leak-00000000002", 504_00
	_, errTimeout := p.CreateOrder(ctx, slow)
	if !errors.Is(errTimeout, providers.ErrUnavailable) {
		t.Fatalf("slow create: %v", errTimeout)
	}
	resp, err := p.client.GetAccessToken(ctx)
	if err != nil {
		t.Fatal(err)
	}

	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	jsonLogger := slog.New(slog.NewJSONHandler(&logs, nil))
	things := []any{cfg, &cfg, bad, p, p.client, resp, errBad, errTimeout,
		AccessTokenRequest{APIKey: creds.APIKey, APISecret: creds.APISecret}}
	for _, v := range things {
		logger.Info("thing", "v", v)
		jsonLogger.Info("thing", "v", v)
		fmt.Fprintf(&logs, "%v|%+v|%#v|%s\n", v, v, v, v)
		if _, wire := v.(AccessTokenRequest); wire {
			continue // the wire body is meant to carry the credentials
		}
		if j, err := json.Marshal(v); err == nil {
			logs.Write(j)
		}
	}
	out := logs.String()
	for _, secret := range []string{creds.APIKey, creds.APISecret, bad.APISecret.reveal(), tok.AccessToken, resp.AccessToken.reveal()} {
		if strings.Contains(out, secret) {
			t.Errorf("secret %.12q… leaked", secret)
		}
	}
	if !strings.Contains(out, redacted) {
		t.Error("nothing was redacted: the test printed nothing useful")
	}
}
