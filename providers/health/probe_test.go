package health_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kassa-pay/kassa/providers"
	"github.com/kassa-pay/kassa/providers/enkash"
	eksandbox "github.com/kassa-pay/kassa/providers/enkash/sandbox"
	"github.com/kassa-pay/kassa/providers/health"
	"github.com/kassa-pay/kassa/providers/instrumented"
	"github.com/kassa-pay/kassa/providers/kspay"
	kssandbox "github.com/kassa-pay/kassa/providers/kspay/sandbox"
	"github.com/kassa-pay/kassa/providers/onecheckout"
	ocsandbox "github.com/kassa-pay/kassa/providers/onecheckout/sandbox"
	"github.com/kassa-pay/kassa/providers/onekhusa"
	oksandbox "github.com/kassa-pay/kassa/providers/onekhusa/sandbox"
)

// TestProbeLookupAnswersOnHealthyProviders: the probe's lookup of an order nobody has must get
// an answer (not found, invalid...) from every healthy provider — were it classed unavailable,
// a breaker could never close again — and an unavailable outcome when the provider is down.
func TestProbeLookupAnswersOnHealthyProviders(t *testing.T) {
	mux := http.NewServeMux()
	var down atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "bad gateway", http.StatusBadGateway)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	defer srv.Close()
	mount := func(prefix string, h http.Handler) string {
		mux.Handle(prefix+"/", http.StripPrefix(prefix, h))
		return srv.URL + prefix
	}
	ek := eksandbox.New(eksandbox.Config{Prefix: "/ek"})
	defer ek.Close()
	ok := oksandbox.New(oksandbox.Config{Prefix: "/ok"})
	defer ok.Close()
	occ, ekc, ksc, okc := ocsandbox.DefaultCredentials(), eksandbox.DefaultCredentials(), kssandbox.DefaultCredentials(), oksandbox.DefaultCredentials()
	ps := []providers.Provider{
		onecheckout.New(onecheckout.Config{BaseURL: mount("/oc", ocsandbox.New(ocsandbox.Config{Prefix: "/oc"})) + "/api/v1.0",
			APIKey: onecheckout.Secret(occ.APIKey), Timeout: 10 * time.Second}),
		enkash.New(enkash.Config{BaseURL: mount("/ek", ek) + "/api/v0", AccessKey: ekc.AccessKey, SecretKey: enkash.Secret(ekc.SecretKey),
			Timeout: 10 * time.Second}),
		kspay.New(kspay.Config{BaseURL: mount("/ks", kssandbox.New(kssandbox.Config{Prefix: "/ks"})), AppID: ksc.AppID,
			AccessKey: ksc.AccessKey, SecretKey: kspay.Secret(ksc.SecretKey)}),
		onekhusa.New(onekhusa.Config{BaseURL: mount("/ok", ok) + "/v1", APIKey: onekhusa.Secret(okc.APIKey),
			APISecret: onekhusa.Secret(okc.APISecret), OrganisationID: okc.OrganisationID,
			MerchantAccountNumber: okc.MerchantAccountNumber, CapturedBy: okc.CapturedBy}),
	}
	ctx := context.Background()
	for _, p := range ps {
		_, err := p.FetchOrder(ctx, health.ProbeLookup)
		got := instrumented.Outcome(ctx, err)
		t.Logf("%s: healthy probe outcome %s", p.ID(), got)
		if got == instrumented.OutcomeUnavailable || got == instrumented.OutcomeError {
			t.Errorf("%s: a healthy provider's probe outcome is %s (%v)", p.ID(), got, err)
		}
	}
	down.Store(true)
	for _, p := range ps {
		_, err := p.FetchOrder(ctx, health.ProbeLookup)
		if got := instrumented.Outcome(ctx, err); got != instrumented.OutcomeUnavailable {
			t.Errorf("%s: a provider answering 502 gives probe outcome %s (%v), want unavailable", p.ID(), got, err)
		}
	}
}
