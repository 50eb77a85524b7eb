package main

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/kassa-pay/kassa/providers"
	"github.com/kassa-pay/kassa/providers/enkash"
	enkashsandbox "github.com/kassa-pay/kassa/providers/enkash/sandbox"
	"github.com/kassa-pay/kassa/providers/kspay"
	kspaysandbox "github.com/kassa-pay/kassa/providers/kspay/sandbox"
	"github.com/kassa-pay/kassa/providers/onecheckout"
	onecheckoutsandbox "github.com/kassa-pay/kassa/providers/onecheckout/sandbox"
	"github.com/kassa-pay/kassa/providers/onekhusa"
	onekhusasandbox "github.com/kassa-pay/kassa/providers/onekhusa/sandbox"
)

// wiring is the configured providers and, in sandbox mode, their simulators' mounts.
type wiring struct {
	providers []providers.Provider
	mounts    map[string]http.Handler
	// closers stop the simulators' background deliveries (webhooks) on shutdown.
	closers []func()
}

// providerEnv reads a provider's settings: KASSA_<PROVIDER>_<NAME> from the environment, or
// the sandbox's value in sandbox mode. A real credential in the environment always wins, so
// one provider can be pointed at its real service while the others stay simulated.
type providerEnv struct {
	prefix  string
	sandbox map[string]string
}

func (e providerEnv) get(name string) string {
	if v := os.Getenv(e.prefix + name); v != "" {
		return v
	}
	return e.sandbox[name]
}

// wireProviders configures every provider. In sandbox mode each simulator is mounted under
// /sandbox/<id> and its adapter reaches it over HTTP through Kassa's own base URL, exactly as
// it would reach the real service. Outside sandbox mode, a provider is enabled only when its
// credentials and base URL are set in the environment.
func wireProviders(base *url.URL, sandbox bool, log *slog.Logger) (wiring, error) {
	w := wiring{mounts: map[string]http.Handler{}}
	root := base.String()
	// KASSA_SANDBOX_URL names simulators served by another process (`kassa sandbox serve`),
	// shared by several instances: this one mounts none and its adapters use that server with
	// the sandbox credentials.
	shared := strings.TrimSuffix(os.Getenv("KASSA_SANDBOX_URL"), "/")
	if shared != "" {
		sandbox, root = true, shared
	}
	// mount builds and mounts a simulator in sandbox mode and returns its public root.
	mount := func(id providers.ID, build func(prefix string) http.Handler) string {
		prefix := "/sandbox/" + string(id)
		if sandbox && shared == "" {
			w.mounts[prefix] = build(prefix)
		}
		return root + prefix
	}
	sb := func(m map[string]string) map[string]string {
		if sandbox {
			return m
		}
		return nil
	}
	missing := func(e providerEnv, names ...string) []string {
		var out []string
		for _, n := range names {
			if e.get(n) == "" {
				out = append(out, e.prefix+n)
			}
		}
		return out
	}
	add := func(id providers.ID, e providerEnv, names []string, p func() (providers.Provider, error)) error {
		if miss := missing(e, names...); len(miss) > 0 {
			if len(miss) < len(names) {
				return fmt.Errorf("%s is partly configured: set %v", id, miss)
			}
			return nil // not configured at all: not offered
		}
		pr, err := p()
		if err != nil {
			return fmt.Errorf("%s: %w", id, err)
		}
		w.providers = append(w.providers, pr)
		return nil
	}

	// Onecheckout: a static API key. The per-key limits the client keeps to (default the
	// documented 1000 requests a minute and 10 in flight) are settable for merchants granted
	// more, and in sandbox mode the simulator enforces the same numbers.
	{
		c := onecheckoutsandbox.DefaultCredentials()
		ocLimits := struct{ perMinute, inFlight int }{envInt("KASSA_ONECHECKOUT_REQUESTS_PER_MINUTE"), envInt("KASSA_ONECHECKOUT_MAX_CONCURRENT")}
		at := mount(providers.Onecheckout, func(prefix string) http.Handler {
			return onecheckoutsandbox.New(onecheckoutsandbox.Config{Prefix: prefix, RequestsPerMinute: ocLimits.perMinute,
				MaxConcurrent: ocLimits.inFlight})
		})
		e := providerEnv{"KASSA_ONECHECKOUT_", sb(map[string]string{"API_KEY": c.APIKey, "BASE_URL": at + "/api/v1.0"})}
		if err := add(providers.Onecheckout, e, []string{"API_KEY", "BASE_URL"}, func() (providers.Provider, error) {
			perMinute, inFlight := onecheckoutShare(ocLimits.perMinute, ocLimits.inFlight, envInt("KASSA_INSTANCES"))
			return onecheckout.New(onecheckout.Config{BaseURL: e.get("BASE_URL"), APIKey: onecheckout.Secret(e.get("API_KEY")),
				RequestsPerMinute: perMinute, MaxConcurrent: inFlight}), nil
		}); err != nil {
			return w, err
		}
	}

	// EnKash: access and secret key exchanged for an expiring token.
	{
		c := enkashsandbox.DefaultCredentials()
		at := mount(providers.EnKash, func(prefix string) http.Handler {
			srv := enkashsandbox.New(enkashsandbox.Config{Prefix: prefix})
			w.closers = append(w.closers, srv.Close)
			return srv
		})
		e := providerEnv{"KASSA_ENKASH_", sb(map[string]string{"ACCESS_KEY": c.AccessKey, "SECRET_KEY": c.SecretKey, "BASE_URL": at + "/api/v0"})}
		if err := add(providers.EnKash, e, []string{"ACCESS_KEY", "SECRET_KEY", "BASE_URL"}, func() (providers.Provider, error) {
			return enkash.New(enkash.Config{BaseURL: e.get("BASE_URL"), AccessKey: e.get("ACCESS_KEY"), SecretKey: enkash.Secret(e.get("SECRET_KEY"))}), nil
		}); err != nil {
			return w, err
		}
	}

	// KS Pay: an application id with access and secret key, exchanged for access and
	// refresh tokens.
	{
		c := kspaysandbox.DefaultCredentials()
		at := mount(providers.KSPay, func(prefix string) http.Handler {
			return kspaysandbox.New(kspaysandbox.Config{Prefix: prefix})
		})
		e := providerEnv{"KASSA_KSPAY_", sb(map[string]string{"APP_ID": c.AppID, "ACCESS_KEY": c.AccessKey, "SECRET_KEY": c.SecretKey, "BASE_URL": at})}
		if err := add(providers.KSPay, e, []string{"APP_ID", "ACCESS_KEY", "SECRET_KEY", "BASE_URL"}, func() (providers.Provider, error) {
			return kspay.New(kspay.Config{BaseURL: e.get("BASE_URL"), AppID: e.get("APP_ID"), AccessKey: e.get("ACCESS_KEY"),
				SecretKey: kspay.Secret(e.get("SECRET_KEY")), Origin: os.Getenv("KASSA_KSPAY_ORIGIN")}), nil
		}); err != nil {
			return w, err
		}
	}

	// OneKhusa: API key and secret with the organisation and merchant account, exchanged for
	// a five-minute token; webhooks are registered per merchant account, so the simulator is
	// told Kassa's callback URL.
	{
		c := onekhusasandbox.DefaultCredentials()
		at := mount(providers.OneKhusa, func(prefix string) http.Handler {
			srv := onekhusasandbox.New(onekhusasandbox.Config{Prefix: prefix, WebhookURL: root + "/callbacks/onekhusa"})
			w.closers = append(w.closers, srv.Close)
			return srv
		})
		e := providerEnv{"KASSA_ONEKHUSA_", sb(map[string]string{"API_KEY": c.APIKey, "API_SECRET": c.APISecret,
			"ORGANISATION_ID": c.OrganisationID, "MERCHANT_ACCOUNT_NUMBER": strconv.FormatInt(c.MerchantAccountNumber, 10),
			"CAPTURED_BY": c.CapturedBy, "BASE_URL": at + "/v1"})}
		if err := add(providers.OneKhusa, e, []string{"API_KEY", "API_SECRET", "ORGANISATION_ID", "MERCHANT_ACCOUNT_NUMBER", "CAPTURED_BY", "BASE_URL"},
			func() (providers.Provider, error) {
				account, err := strconv.ParseInt(e.get("MERCHANT_ACCOUNT_NUMBER"), 10, 64)
				if err != nil {
					return nil, fmt.Errorf("KASSA_ONEKHUSA_MERCHANT_ACCOUNT_NUMBER must be a number")
				}
				return onekhusa.New(onekhusa.Config{BaseURL: e.get("BASE_URL"), APIKey: onekhusa.Secret(e.get("API_KEY")),
					APISecret: onekhusa.Secret(e.get("API_SECRET")), OrganisationID: e.get("ORGANISATION_ID"),
					MerchantAccountNumber: account, CapturedBy: e.get("CAPTURED_BY")}), nil
			}); err != nil {
			return w, err
		}
	}

	if len(w.providers) == 0 {
		log.Warn("no payment provider is configured: shoppers cannot pay (set provider credentials or run with --sandbox)")
	}
	return w, nil
}

// sandboxCredentialSet is what `kassa sandbox credentials` prints: per provider, the
// credentials its simulator accepts, with the field names of the provider's docs.
func sandboxCredentialSet() map[providers.ID]any {
	return map[providers.ID]any{
		providers.Onecheckout: onecheckoutsandbox.DefaultCredentials(),
		providers.EnKash:      enkashsandbox.DefaultCredentials(),
		providers.KSPay:       kspaysandbox.DefaultCredentials(),
		providers.OneKhusa:    onekhusasandbox.DefaultCredentials(),
	}
}

// envInt reads a whole number from the environment; unset or not a number is 0 (the default).
func envInt(key string) int {
	n, _ := strconv.Atoi(os.Getenv(key))
	return n
}
