package main

import (
	"errors"
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
	// sandbox is whether sandbox mode is on; simulated names the providers a simulator serves.
	sandbox   bool
	simulated map[providers.ID]bool
	// closers stop the simulators' background deliveries (webhooks) on shutdown.
	closers []func()
}

// sandboxFlag is --sandbox / KASSA_SANDBOX: unset or "auto" (decided by the configuration),
// on or off.
// It is a boolean flag, so a bare --sandbox turns it on.
type sandboxFlag struct{ set, on bool }

func (f *sandboxFlag) String() string {
	if !f.set {
		return "auto"
	}
	return strconv.FormatBool(f.on)
}

func (f *sandboxFlag) Set(v string) error {
	if v == "" || v == "auto" {
		*f = sandboxFlag{}
		return nil
	}
	on, err := strconv.ParseBool(v)
	if err != nil {
		return errors.New("must be true, false or auto")
	}
	f.set, f.on = true, on
	return nil
}

func (f *sandboxFlag) IsBoolFlag() bool { return true }

// providerEnv reads a provider's settings: KASSA_<PROVIDER>_<NAME> from the environment, or
// the simulator's value for a simulated provider. For a simulated provider an environment value
// still wins (KASSA_ONECHECKOUT_BASE_URL can point it at a simulator served elsewhere); a live
// provider takes nothing from the simulator.
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

// providerSetup is one provider's settings as the environment gives them.
type providerSetup struct {
	id    providers.ID
	env   providerEnv
	names []string // the settings it needs; BASE_URL among them
}

// inEnv lists which of the provider's settings the environment sets.
func (p providerSetup) inEnv() (set, missing []string) {
	for _, n := range p.names {
		if os.Getenv(p.env.prefix+n) != "" {
			set = append(set, n)
		} else {
			missing = append(missing, p.env.prefix+n)
		}
	}
	return set, missing
}

// live reports whether the environment configures the real provider: every setting given.
func (p providerSetup) live() bool {
	_, missing := p.inEnv()
	return len(missing) == 0
}

// check refuses a partial configuration, which is a mistake rather than a choice: a real
// credential without the rest must not silently fall back to a simulator, nor be ignored. In
// sandbox mode BASE_URL alone is allowed: it points the simulated adapter elsewhere.
func (p providerSetup) check(sandbox bool) error {
	set, missing := p.inEnv()
	if len(set) == 0 || len(missing) == 0 {
		return nil
	}
	if sandbox && len(set) == 1 && set[0] == "BASE_URL" {
		return nil
	}
	return fmt.Errorf("%s is partly configured: set %v too, or unset %v", p.id, missing, prefixed(p.env.prefix, set))
}

func prefixed(prefix string, names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = prefix + n
	}
	return out
}

// wireProviders configures every provider and decides sandbox mode. Unless --sandbox or
// KASSA_SANDBOX says otherwise, sandbox mode is on exactly when no real provider is configured,
// so a merchant who configures one real provider is never offered a simulator beside it. In
// sandbox mode every provider without real settings is served by its simulator, mounted under
// /sandbox/<id> and reached over HTTP through Kassa's own base URL, exactly as the real service
// would be; live and simulated providers are mixed only when sandbox mode is asked for
// explicitly, and then the pages touching a simulator say "Test mode". The log lists each
// provider as live, simulated or off.
func wireProviders(base *url.URL, mode sandboxFlag, log *slog.Logger) (wiring, error) {
	w := wiring{mounts: map[string]http.Handler{}, simulated: map[providers.ID]bool{}}
	root := base.String()
	// KASSA_SANDBOX_URL names simulators served by another process (`kassa sandbox serve`),
	// shared by several instances: this one mounts none, and its adapters use that server with
	// the sandbox credentials.
	simRoot := root
	shared := strings.TrimSuffix(os.Getenv("KASSA_SANDBOX_URL"), "/")
	if shared != "" {
		simRoot, mode = shared, sandboxFlag{set: true, on: true}
	}
	at := func(id providers.ID) string { return simRoot + "/sandbox/" + string(id) }

	oc, ek, ks, okh := onecheckoutsandbox.DefaultCredentials(), enkashsandbox.DefaultCredentials(),
		kspaysandbox.DefaultCredentials(), onekhusasandbox.DefaultCredentials()
	// The per-key limits the Onecheckout client keeps to (default the documented 1000
	// requests a minute and 10 in flight) are settable for merchants granted more, and the
	// simulator enforces the same numbers.
	ocLimits := struct{ perMinute, inFlight int }{envInt("KASSA_ONECHECKOUT_REQUESTS_PER_MINUTE"), envInt("KASSA_ONECHECKOUT_MAX_CONCURRENT")}
	type entry struct {
		providerSetup
		simulator func(prefix string) http.Handler
		build     func(e providerEnv) (providers.Provider, error)
	}
	entries := []entry{
		{
			// Onecheckout: a static API key.
			providerSetup{providers.Onecheckout, providerEnv{"KASSA_ONECHECKOUT_", map[string]string{
				"API_KEY": oc.APIKey, "BASE_URL": at(providers.Onecheckout) + "/api/v1.0"}}, []string{"API_KEY", "BASE_URL"}},
			func(prefix string) http.Handler {
				return onecheckoutsandbox.New(onecheckoutsandbox.Config{Prefix: prefix, RequestsPerMinute: ocLimits.perMinute,
					MaxConcurrent: ocLimits.inFlight})
			},
			func(e providerEnv) (providers.Provider, error) {
				perMinute, inFlight := onecheckoutShare(ocLimits.perMinute, ocLimits.inFlight, envInt("KASSA_INSTANCES"))
				return onecheckout.New(onecheckout.Config{BaseURL: e.get("BASE_URL"), APIKey: onecheckout.Secret(e.get("API_KEY")),
					RequestsPerMinute: perMinute, MaxConcurrent: inFlight}), nil
			},
		},
		{
			// EnKash: access and secret key exchanged for an expiring token.
			providerSetup{providers.EnKash, providerEnv{"KASSA_ENKASH_", map[string]string{
				"ACCESS_KEY": ek.AccessKey, "SECRET_KEY": ek.SecretKey, "BASE_URL": at(providers.EnKash) + "/api/v0"}},
				[]string{"ACCESS_KEY", "SECRET_KEY", "BASE_URL"}},
			func(prefix string) http.Handler {
				srv := enkashsandbox.New(enkashsandbox.Config{Prefix: prefix})
				w.closers = append(w.closers, srv.Close)
				return srv
			},
			func(e providerEnv) (providers.Provider, error) {
				return enkash.New(enkash.Config{BaseURL: e.get("BASE_URL"), AccessKey: e.get("ACCESS_KEY"), SecretKey: enkash.Secret(e.get("SECRET_KEY"))}), nil
			},
		},
		{
			// KS Pay: an application id with access and secret key, exchanged for access and
			// refresh tokens.
			providerSetup{providers.KSPay, providerEnv{"KASSA_KSPAY_", map[string]string{
				"APP_ID": ks.AppID, "ACCESS_KEY": ks.AccessKey, "SECRET_KEY": ks.SecretKey, "BASE_URL": at(providers.KSPay)}},
				[]string{"APP_ID", "ACCESS_KEY", "SECRET_KEY", "BASE_URL"}},
			func(prefix string) http.Handler {
				return kspaysandbox.New(kspaysandbox.Config{Prefix: prefix})
			},
			func(e providerEnv) (providers.Provider, error) {
				return kspay.New(kspay.Config{BaseURL: e.get("BASE_URL"), AppID: e.get("APP_ID"), AccessKey: e.get("ACCESS_KEY"),
					SecretKey: kspay.Secret(e.get("SECRET_KEY")), Origin: os.Getenv("KASSA_KSPAY_ORIGIN")}), nil
			},
		},
		{
			// OneKhusa: API key and secret with the organisation and merchant account, exchanged
			// for a five-minute token; webhooks are registered per merchant account, so the
			// simulator is told Kassa's callback URL.
			providerSetup{providers.OneKhusa, providerEnv{"KASSA_ONEKHUSA_", map[string]string{
				"API_KEY": okh.APIKey, "API_SECRET": okh.APISecret, "ORGANISATION_ID": okh.OrganisationID,
				"MERCHANT_ACCOUNT_NUMBER": strconv.FormatInt(okh.MerchantAccountNumber, 10), "CAPTURED_BY": okh.CapturedBy,
				"BASE_URL": at(providers.OneKhusa) + "/v1"}},
				[]string{"API_KEY", "API_SECRET", "ORGANISATION_ID", "MERCHANT_ACCOUNT_NUMBER", "CAPTURED_BY", "BASE_URL"}},
			func(prefix string) http.Handler {
				srv := onekhusasandbox.New(onekhusasandbox.Config{Prefix: prefix, WebhookURL: root + "/callbacks/onekhusa"})
				w.closers = append(w.closers, srv.Close)
				return srv
			},
			func(e providerEnv) (providers.Provider, error) {
				account, err := strconv.ParseInt(e.get("MERCHANT_ACCOUNT_NUMBER"), 10, 64)
				if err != nil {
					return nil, fmt.Errorf("KASSA_ONEKHUSA_MERCHANT_ACCOUNT_NUMBER must be a number")
				}
				return onekhusa.New(onekhusa.Config{BaseURL: e.get("BASE_URL"), APIKey: onekhusa.Secret(e.get("API_KEY")),
					APISecret: onekhusa.Secret(e.get("API_SECRET")), OrganisationID: e.get("ORGANISATION_ID"),
					MerchantAccountNumber: account, CapturedBy: e.get("CAPTURED_BY")}), nil
			},
		},
	}

	anyLive := false
	for _, en := range entries {
		anyLive = anyLive || en.live()
	}
	w.sandbox = mode.on || (!mode.set && !anyLive)
	for _, en := range entries {
		if err := en.check(w.sandbox); err != nil {
			return w, err
		}
		env := en.env
		state := "live"
		switch {
		case en.live():
			env.sandbox = nil // a live provider takes nothing from its simulator
		case w.sandbox:
			state = "simulated"
			if shared == "" {
				prefix := "/sandbox/" + string(en.id)
				w.mounts[prefix] = en.simulator(prefix)
			}
			w.simulated[en.id] = true
		default:
			log.Info("provider", "provider", en.id, "mode", "off")
			continue
		}
		pr, err := en.build(env)
		if err != nil {
			return w, fmt.Errorf("%s: %w", en.id, err)
		}
		w.providers = append(w.providers, pr)
		log.Info("provider", "provider", en.id, "mode", state, "base_url", env.get("BASE_URL"))
	}
	if w.sandbox && anyLive {
		log.Warn("sandbox mode with live providers: shoppers are offered real and simulated providers side by side; pages touching a simulator say Test mode")
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
