// Command kassa is a self-hosted hosted checkout: one binary that serves the checkout pages,
// the merchant API and (in sandbox mode) a simulator of every payment provider.
//
//	kassa serve     [--addr :8080] [--db sqlite:kassa.db] [--base-url URL] [--sandbox[=true|false]]
//	                [--log-format text|json] [--breaker-failures 5] [--breaker-cooldown 30s]
//	                [--shutdown-timeout 25s]
//	kassa migrate   [--db ...]
//	kassa apps create --name NAME [--webhook-url URL]
//	kassa tokens create --client-id ID --scope SCOPE [--scope ...] [--label L] [--expires RFC3339]
//	kassa sandbox credentials
//	kassa links create|list|deactivate ...
//	kassa webhooks list [--failed] [--since T] | webhooks redeliver ID|--all-failed [--since T]
//
//	kassa sandbox serve [--addr 127.0.0.1:8090] [--kassa-url URL]
//
// Every flag has an environment variable (KASSA_ADDR, KASSA_DATABASE_URL, KASSA_BASE_URL,
// KASSA_SANDBOX, KASSA_LOG_FORMAT, KASSA_PUBLIC_RATE_LIMIT, KASSA_TRUSTED_PROXIES,
// KASSA_WEBHOOK_ALLOW_PRIVATE, KASSA_WEBHOOK_RETRY_SCHEDULE, ...); where both are given, the
// environment wins. Sandbox mode (the provider simulators) is on when no real provider is
// configured, or when asked for; `make run` asks for it. KASSA_SECRET_KEY, when set, is the
// secret the cookie-signing keys are derived from (else they are made once and kept in the
// database); KASSA_SANDBOX_URL points the providers at a shared `sandbox serve`.
package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gorilla/sessions"

	"github.com/kassa-pay/kassa/checkout"
	"github.com/kassa-pay/kassa/db"
	"github.com/kassa-pay/kassa/handlers"
	"github.com/kassa-pay/kassa/handlers/dashboard"
	"github.com/kassa-pay/kassa/providers"
	"github.com/kassa-pay/kassa/providers/health"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "kassa:", err)
		os.Exit(1)
	}
}

const usage = `usage: kassa <command> [flags]

commands:
  serve                 start the checkout server
  migrate               apply database migrations and exit
  apps create           create a payment application
  apps list             list payment applications
  apps show             show one application, with its webhook secret
  apps rotate-secret    give an application a new webhook secret
  tokens create         create a client token for an application
  tokens list           list an application's client tokens
  tokens revoke         revoke a client token
  oauth-clients create  create OAuth2 client credentials for the dashboard API
  links create          create a payment link (a shareable price, QR code and button)
  links list            list payment links with their counters
  links deactivate      stop a payment link taking payments
  users create          create a dashboard operator (--email E [--password-stdin])
  users list            list dashboard operators
  users reset-password  give an operator a new password (--email E [--password-stdin])
  users disable         stop an operator from signing in (--email E)
  refunds create        refund a paid payment (--payment ID [--amount N] [--reason R] [--note T])
  refunds list          list a payment's refunds (--payment ID)
  webhooks list         list webhook deliveries (--failed: only failed ones)
  webhooks redeliver    send a webhook delivery again (ID, or --all-failed [--since T])
  sandbox credentials   print the credentials the provider sandboxes accept
  sandbox serve         run only the provider sandboxes, for several Kassa instances to share`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	cmd, rest := args[0], args[1:]
	if (cmd == "apps" || cmd == "tokens" || cmd == "sandbox" || cmd == "oauth-clients" || cmd == "links" || cmd == "refunds" || cmd == "users" || cmd == "webhooks") && len(rest) > 0 {
		cmd, rest = cmd+" "+rest[0], rest[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, rest, stdout, stderr)
	case "migrate":
		return migrate(ctx, rest, stdout)
	case "apps create":
		return appsCreate(ctx, rest, stdout)
	case "apps list", "apps show", "apps rotate-secret", "tokens list", "tokens revoke":
		return manage(ctx, cmd, rest, stdout)
	case "tokens create":
		return tokensCreate(ctx, rest, stdout)
	case "oauth-clients create":
		return oauthClientsCreate(ctx, rest, stdout)
	case "sandbox credentials":
		return sandboxCredentials(stdout)
	case "webhooks list", "webhooks redeliver":
		return webhooksCommand(ctx, cmd, rest, stdout)
	case "links create", "links list", "links deactivate":
		return links(ctx, cmd, rest, stdout)
	case "refunds create", "refunds list":
		return refundsCmd(ctx, cmd, rest, stdout)
	case "users create", "users list", "users reset-password", "users disable":
		return users(ctx, cmd, rest, os.Stdin, stdout, stderr)
	case "sandbox serve":
		return sandboxServe(ctx, rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", cmd, usage)
}

// commonFlags are the flags every subcommand takes.
type commonFlags struct {
	db string
}

func (c *commonFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.db, "db", "sqlite:kassa.db", "database URL (env KASSA_DATABASE_URL)")
}

// parse parses args, then lets the environment override what it names.
func parse(fs *flag.FlagSet, args []string, env map[string]string) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%s: %w", fs.Name(), err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	for name, key := range env {
		if v, ok := os.LookupEnv(key); ok {
			if err := fs.Set(name, v); err != nil {
				return fmt.Errorf("%s: %s=%q: %w", fs.Name(), key, v, err)
			}
		}
	}
	return nil
}

func openDB(ctx context.Context, url string) (*db.DB, error) {
	return db.Open(ctx, url)
}

// withService gives a management subcommand its --db flag, parses fs, opens the database
// (running migrations) and calls fn with a checkout service on it.
func withService(ctx context.Context, fs *flag.FlagSet, args []string, fn func(*checkout.Service) error) error {
	var c commonFlags
	c.register(fs)
	if err := parse(fs, args, map[string]string{"db": "KASSA_DATABASE_URL"}); err != nil {
		return err
	}
	d, err := openDB(ctx, c.db)
	if err != nil {
		return err
	}
	defer d.Close()
	return fn(&checkout.Service{Store: d, WebhookAllowPrivate: envBool("KASSA_WEBHOOK_ALLOW_PRIVATE")})
}

func migrate(ctx context.Context, args []string, stdout io.Writer) error {
	return withService(ctx, flag.NewFlagSet("migrate", flag.ContinueOnError), args, func(*checkout.Service) error {
		_, err := fmt.Fprintln(stdout, "migrations applied")
		return err
	})
}

func appsCreate(ctx context.Context, args []string, stdout io.Writer) error {
	var name, webhook string
	fs := flag.NewFlagSet("apps create", flag.ContinueOnError)
	fs.StringVar(&name, "name", "", "application name (required)")
	fs.StringVar(&webhook, "webhook-url", "", "the merchant's webhook URL")
	return withService(ctx, fs, args, func(svc *checkout.Service) error {
		a, err := svc.NewApp(ctx, name, webhook)
		if err != nil {
			return cliError(err)
		}
		return json.NewEncoder(stdout).Encode(map[string]string{
			"clientId": a.ClientID, "name": a.Name, "webhookUrl": a.WebhookURL, "webhookSecret": a.WebhookSecret.Reveal(),
		})
	})
}

// appJSON is how the CLI prints an application; the secret only where asked for.
func appJSON(a checkout.App, withSecret bool) map[string]any {
	m := map[string]any{"clientId": a.ClientID, "name": a.Name, "webhookUrl": a.WebhookURL, "createdAt": a.CreatedAt}
	if !a.WebhookDisabledAt.IsZero() {
		m["webhookDisabledAt"], m["webhookDisabledReason"] = a.WebhookDisabledAt, a.WebhookDisabledReason
	}
	if withSecret {
		m["webhookSecret"] = a.WebhookSecret.Reveal()
	}
	return m
}

// manage runs the listing, showing, rotating and revoking subcommands.
func manage(ctx context.Context, cmd string, args []string, stdout io.Writer) error {
	var clientID, tokenID string
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.StringVar(&clientID, "client-id", "", "the application's Client ID")
	fs.StringVar(&tokenID, "id", "", "the token's id (tokens revoke)")
	return withService(ctx, fs, args, func(svc *checkout.Service) error {
		return manageWith(ctx, svc, cmd, clientID, tokenID, stdout)
	})
}

func manageWith(ctx context.Context, svc *checkout.Service, cmd, clientID, tokenID string, stdout io.Writer) error {
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	switch cmd {
	case "apps list":
		apps, err := svc.Apps(ctx)
		if err != nil {
			return err
		}
		out := []map[string]any{}
		for _, a := range apps {
			out = append(out, appJSON(a, false))
		}
		return enc.Encode(out)
	case "apps show", "apps rotate-secret":
		if clientID == "" {
			return fmt.Errorf("%s: --client-id is required", cmd)
		}
		get := svc.App
		if cmd == "apps rotate-secret" {
			get = svc.RotateWebhookSecret
		}
		a, err := get(ctx, clientID)
		if err != nil {
			return cliError(err)
		}
		return enc.Encode(appJSON(*a, true))
	case "tokens list":
		if clientID == "" {
			return fmt.Errorf("%s: --client-id is required", cmd)
		}
		toks, err := svc.Tokens(ctx, clientID)
		if err != nil {
			return cliError(err)
		}
		out := []map[string]any{}
		for _, t := range toks {
			m := map[string]any{"id": t.ID, "label": t.Label, "scopes": t.Scopes, "createdAt": t.CreatedAt}
			for k, v := range map[string]time.Time{"expiresAt": t.ExpiresAt, "lastUsedAt": t.LastUsedAt, "revokedAt": t.RevokedAt} {
				if !v.IsZero() {
					m[k] = v
				}
			}
			out = append(out, m)
		}
		return enc.Encode(out)
	default: // tokens revoke
		if tokenID == "" {
			return fmt.Errorf("%s: --id is required", cmd)
		}
		if err := svc.RevokeToken(ctx, tokenID); err != nil {
			return cliError(err)
		}
		fmt.Fprintln(stdout, "revoked", tokenID)
		return nil
	}
}

// multiFlag collects a repeated flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func tokensCreate(ctx context.Context, args []string, stdout io.Writer) error {
	var clientID, label, expires string
	var scopes multiFlag
	fs := flag.NewFlagSet("tokens create", flag.ContinueOnError)
	fs.StringVar(&clientID, "client-id", "", "the application's Client ID (required)")
	fs.Var(&scopes, "scope", "a scope: payments.create, payments.get, payments.user-instructions.get, payments.refund, payment-links.manage or * (repeatable)")
	fs.StringVar(&label, "label", "", "a label to recognise the token by")
	fs.StringVar(&expires, "expires", "", "expiry time, RFC 3339")
	return withService(ctx, fs, args, func(svc *checkout.Service) error {
		var exp time.Time
		if expires != "" {
			t, err := time.Parse(time.RFC3339, expires)
			if err != nil {
				return fmt.Errorf("tokens create: --expires must be RFC 3339, e.g. 2027-01-02T15:04:05Z")
			}
			exp = t
		}
		var sc []checkout.Scope
		for _, s := range scopes {
			sc = append(sc, checkout.Scope(s))
		}
		tok, _, err := svc.NewToken(ctx, clientID, sc, label, exp)
		if err != nil {
			return cliError(err)
		}
		_, err = fmt.Fprintln(stdout, tok.Reveal())
		return err
	})
}

func oauthClientsCreate(ctx context.Context, args []string, stdout io.Writer) error {
	var name string
	fs := flag.NewFlagSet("oauth-clients create", flag.ContinueOnError)
	fs.StringVar(&name, "name", "", "a name for the client (required)")
	return withService(ctx, fs, args, func(svc *checkout.Service) error {
		client, secret, err := svc.NewOAuthClient(ctx, name)
		if err != nil {
			return cliError(err)
		}
		return json.NewEncoder(stdout).Encode(map[string]string{"clientId": client.ID, "clientSecret": secret.Reveal(), "name": client.Name})
	})
}

// cliError spells out a domain error's field messages for the terminal.
func cliError(err error) error {
	var e *checkout.Error
	if !errors.As(err, &e) || len(e.Fields) == 0 {
		return err
	}
	var parts []string
	for f, m := range e.Fields {
		parts = append(parts, f+" "+m)
	}
	return fmt.Errorf("%s (%s)", e.Message, strings.Join(parts, "; "))
}

func sandboxCredentials(stdout io.Writer) error {
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(sandboxCredentialSet())
}

// serveFlags are serve's settings.
type serveFlags struct {
	commonFlags
	addr           string
	baseURL        string
	sandbox        sandboxFlag
	reconcile      time.Duration
	rateLimit      int
	publicLimit    int
	trustedProxies string
	logFormat      string
	// breakerFailures and breakerCooldown tune the provider circuit breakers; grace bounds
	// the graceful shutdown.
	breakerFailures int
	breakerCooldown time.Duration
	grace           time.Duration
	webhooks        webhookFlags
}

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var f serveFlags
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	f.register(fs)
	fs.StringVar(&f.addr, "addr", ":8080", "listen address (env KASSA_ADDR)")
	fs.StringVar(&f.baseURL, "base-url", "", "public base URL, used in return URLs (env KASSA_BASE_URL; default from --addr)")
	fs.Var(&f.sandbox, "sandbox", "mount the provider simulators and use them for every provider without real settings (env KASSA_SANDBOX; default: on only when no real provider is configured)")
	fs.DurationVar(&f.reconcile, "reconcile-every", 2*time.Second, "how often the background job checks pending payments (env KASSA_RECONCILE_EVERY)")
	fs.IntVar(&f.rateLimit, "api-rate-limit", 1000, "merchant API requests per client token per minute; 0 disables (env KASSA_API_RATE_LIMIT)")
	fs.StringVar(&f.logFormat, "log-format", "text", "log format: text or json (env KASSA_LOG_FORMAT)")
	fs.IntVar(&f.breakerFailures, "breaker-failures", 5, "consecutive provider failures (timeouts, 5xx, connection errors) that take a provider off checkout pages (env KASSA_BREAKER_FAILURES)")
	fs.DurationVar(&f.breakerCooldown, "breaker-cooldown", 30*time.Second, "how long a failing provider stays off before it is probed (env KASSA_BREAKER_COOLDOWN)")
	fs.DurationVar(&f.grace, "shutdown-timeout", 25*time.Second, "how long a SIGTERM waits for requests in flight (env KASSA_SHUTDOWN_TIMEOUT)")
	fs.IntVar(&f.publicLimit, "public-rate-limit", 120, "requests per client address per minute to the public pages, and apart to provider callbacks; 0 disables (env KASSA_PUBLIC_RATE_LIMIT)")
	fs.StringVar(&f.trustedProxies, "trusted-proxies", "", "comma-separated IPs or CIDR ranges of reverse proxies whose X-Forwarded-For is believed; default none (env KASSA_TRUSTED_PROXIES)")
	f.webhooks.register(fs)
	if err := parse(fs, args, f.webhooks.env(map[string]string{"db": "KASSA_DATABASE_URL", "addr": "KASSA_ADDR", "base-url": "KASSA_BASE_URL",
		"sandbox": "KASSA_SANDBOX", "reconcile-every": "KASSA_RECONCILE_EVERY", "api-rate-limit": "KASSA_API_RATE_LIMIT",
		"log-format": "KASSA_LOG_FORMAT", "breaker-failures": "KASSA_BREAKER_FAILURES", "breaker-cooldown": "KASSA_BREAKER_COOLDOWN",
		"shutdown-timeout":  "KASSA_SHUTDOWN_TIMEOUT",
		"public-rate-limit": "KASSA_PUBLIC_RATE_LIMIT", "trusted-proxies": "KASSA_TRUSTED_PROXIES"})); err != nil {
		return err
	}
	proxies, err := trustedProxies(f.trustedProxies)
	if err != nil {
		return err
	}
	log, err := newLogger(f.logFormat, stderr)
	if err != nil {
		return err
	}
	slog.SetDefault(log)

	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	base, err := publicURL(f.baseURL, ln.Addr().(*net.TCPAddr), f.addr)
	if err != nil {
		return err
	}

	d, err := openDB(ctx, f.db)
	if err != nil {
		return err
	}
	defer d.Close()
	if v := os.Getenv("KASSA_CLAIM_LEASE"); v != "" {
		if d.Lease, err = time.ParseDuration(v); err != nil || d.Lease <= 0 {
			return fmt.Errorf("KASSA_CLAIM_LEASE=%q must be a positive duration such as 2m", v)
		}
	}
	keys, err := instanceKeys(ctx, d)
	if err != nil {
		return err
	}

	wiring, err := wireProviders(base, f.sandbox, log)
	if err != nil {
		return err
	}
	defer func() {
		for _, c := range wiring.closers {
			c()
		}
	}()
	breakers, wrapped, probe, err := providerHealth(ctx, d, wiring.providers,
		health.Config{Threshold: f.breakerFailures, Cooldown: f.breakerCooldown, Log: log})
	if err != nil {
		return err
	}
	watchDatabase(d)
	svc := &checkout.Service{Store: d, Providers: providers.NewRegistry(wrapped...),
		URLs: checkout.URLs{Base: strings.TrimSuffix(base.String(), "/")}, Log: log, Breakers: breakers,
		WebhookAllowPrivate: f.webhooks.allowPrivate}
	worker, err := f.webhooks.worker(svc, d)
	if err != nil {
		return err
	}
	// The demo store exists only in sandbox mode: it sells nothing real. Instances starting
	// together on one database create it once, under the startup lock.
	var demo string
	if wiring.sandbox {
		if err := d.WithStartupLock(ctx, func() (err error) {
			demo, err = demoApp(ctx, d, svc)
			return err
		}); err != nil {
			return err
		}
		demoWebhookURL(ctx, svc, demo, log)
	}
	sessionStore := d.NewSessionStore(keys.session, sessions.Options{Path: "/", MaxAge: 86400, HttpOnly: true,
		Secure: base.Scheme == "https", SameSite: http.SameSiteLaxMode})
	var opEmail, opPassword string
	if wiring.sandbox {
		if err := d.WithStartupLock(ctx, func() (err error) {
			opEmail, opPassword, err = sandboxOperator(ctx, d, log)
			return err
		}); err != nil {
			return err
		}
	} else if err := retireSandboxOperator(ctx, d, log); err != nil {
		return err
	}
	srv := &handlers.Server{
		Checkout:        svc,
		Sessions:        sessionStore,
		CSRFKey:         keys.csrf,
		Idempotency:     d,
		RateLimit:       sharedRateLimiter(f.rateLimit, d, log),
		PublicRateLimit: handlers.NewRateLimiter(f.publicLimit),
		LinkPayments:    handlers.NewRateLimiter(linkPaymentsPerMinute),
		TrustedProxies:  proxies,
		BaseURL:         base,
		Mounts:          wiring.mounts,
		Simulated:       wiring.simulated,
		DemoClientID:    demo,
		DemoStore:       d,
		Dashboard: &dashboard.Handler{Checkout: svc, Operators: &checkout.Operators{Store: d},
			Sessions: sessionStore, Log: log},
		Log:   log,
		Ready: d.Ready,
	}
	log.Info("public pages", "rate_limit_per_address_per_minute", f.publicLimit, "trusted_proxies", proxies)
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(stdout, "Kassa is listening on %s\n", base)
	if demo != "" {
		fmt.Fprintf(stdout, "  demo store:    %s/\n", base)
	}
	fmt.Fprintf(stdout, "  merchant API:  %s/api/payment/checkout\n", base)
	fmt.Fprintf(stdout, "  dashboard:     %s/dashboard\n", base)
	if opEmail != "" {
		fmt.Fprintf(stdout, "                 sign in as %s with password %s (sandbox operator)\n", opEmail, opPassword)
	}
	if u := os.Getenv("KASSA_SANDBOX_URL"); u != "" {
		fmt.Fprintf(stdout, "  sandboxes:     %s/sandbox/<provider>/ (shared, KASSA_SANDBOX_URL)\n", strings.TrimSuffix(u, "/"))
	} else if wiring.sandbox {
		fmt.Fprintf(stdout, "  sandboxes:     %s/sandbox/<provider>/ (credentials: kassa sandbox credentials)\n", base)
		fmt.Fprintln(stdout, "  Test mode: simulated providers move no real money")
	}
	// The database closes (deferred above) only after runServer has stopped the jobs; the
	// leases this instance still holds are then handed back, so another instance takes its
	// work at once instead of after the lease runs out.
	err = runServer(ctx, hs, ln, f.grace, log,
		func(ctx context.Context) { svc.Run(ctx, f.reconcile) },
		func(ctx context.Context) { svc.RunRefunds(ctx, f.reconcile) },
		func(ctx context.Context) { cleanSessions(ctx, d, log) },
		func(ctx context.Context) { breakers.Run(ctx, probeEvery, probe) },
		// Sends in flight finish (each within its 10 s timeout) and are recorded.
		func(ctx context.Context) { worker.Run(ctx) },
	)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if rerr := d.ReleaseClaims(rctx); rerr != nil {
		log.Warn("leases not released: other instances take the work when they run out", "err", rerr)
	}
	return err
}

// probeEvery is how often each instance looks for providers whose cool-down is over.
const probeEvery = 5 * time.Second

// trustedProxies parses --trusted-proxies: IP addresses and CIDR ranges, comma-separated.
func trustedProxies(v string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(v, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if net.ParseIP(p) == nil {
			if _, _, err := net.ParseCIDR(p); err != nil {
				return nil, fmt.Errorf("--trusted-proxies: %q is neither an IP address nor a CIDR range", p)
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// publicURL is --base-url, or http://<listen host>:<port> with localhost for a wildcard host.
func publicURL(flagValue string, addr *net.TCPAddr, listen string) (*url.URL, error) {
	if flagValue != "" {
		u, err := url.Parse(strings.TrimSuffix(flagValue, "/"))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("--base-url %q must be an absolute http(s) URL", flagValue)
		}
		return u, nil
	}
	host, _, _ := net.SplitHostPort(listen)
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return &url.URL{Scheme: "http", Host: net.JoinHostPort(host, strconv.Itoa(addr.Port))}, nil
}

type keys struct{ session, csrf []byte }

// guessableSecret reports a KASSA_SECRET_KEY that is long enough but not random: the docs'
// CHANGE-ME placeholder left in, or too few distinct characters (a word repeated, one
// character). Random hex of 32 characters has about 14 distinct ones; under 8 is no accident
// (about 3 in a million for 32 random hex characters, and far less for longer ones).
func guessableSecret(secret string) bool {
	lower := strings.ToLower(secret)
	if strings.Contains(lower, "change-me") || strings.Contains(lower, "changeme") {
		return true
	}
	distinct := map[rune]bool{}
	for _, r := range secret {
		distinct[r] = true
	}
	return len(distinct) < 8
}

// instanceKeys returns the cookie-signing keys, derived from KASSA_SECRET_KEY when it is set,
// else made once per database, so that sessions and forms survive restarts and are shared by
// every instance on the same database: a shopper's next request may land on any of them.
func instanceKeys(ctx context.Context, d *db.DB) (keys, error) {
	if secret := os.Getenv("KASSA_SECRET_KEY"); secret != "" {
		if len(secret) < 32 {
			return keys{}, errors.New("KASSA_SECRET_KEY must be at least 32 characters (e.g. openssl rand -hex 32)")
		}
		if guessableSecret(secret) {
			return keys{}, errors.New("KASSA_SECRET_KEY looks like a placeholder or a repeated word, not a random secret: use openssl rand -hex 32")
		}
		derive := func(purpose string) []byte {
			m := hmac.New(sha256.New, []byte(secret))
			m.Write([]byte("kassa " + purpose))
			return m.Sum(nil)
		}
		return keys{session: derive("session cookie key"), csrf: derive("csrf key")}, nil
	}
	get := func(name string) ([]byte, error) {
		b := make([]byte, 32)
		rand.Read(b)
		v, err := d.PutSettingIfAbsent(ctx, name, hex.EncodeToString(b))
		if err != nil {
			return nil, fmt.Errorf("instance key %s: %w", name, err)
		}
		return hex.DecodeString(v)
	}
	var k keys
	var err error
	if k.session, err = get("session_key"); err != nil {
		return k, err
	}
	k.csrf, err = get("csrf_key")
	return k, err
}

// sharedRateLimiter limits merchant API requests per client token. On PostgreSQL the counts
// are kept in the database, so that every instance on it enforces one limit per token; on
// SQLite, which one process owns, they stay in memory and spare each API request a write
// through the single writer.
func sharedRateLimiter(limit int, d *db.DB, log *slog.Logger) *handlers.RateLimiter {
	rl := handlers.NewRateLimiter(limit)
	if d.Dialect() == "postgres" {
		rl.Counter, rl.Log = d, log
	}
	return rl
}

// demoApp returns the demo store's application, creating it on first start.
func demoApp(ctx context.Context, d *db.DB, svc *checkout.Service) (string, error) {
	if id, err := d.Setting(ctx, "demo_client_id"); err == nil {
		return id, nil
	} else if !errors.Is(err, checkout.ErrNotFound) {
		return "", err
	}
	a, err := svc.NewApp(ctx, "Demo store", "")
	if err != nil {
		return "", err
	}
	return d.PutSettingIfAbsent(ctx, "demo_client_id", a.ClientID)
}

func cleanSessions(ctx context.Context, d *db.DB, log *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := d.DeleteExpiredSessions(ctx); err != nil {
				log.Error("session cleanup", "err", err)
			} else if n > 0 {
				log.Info("expired sessions removed", "count", n)
			}
			if n, err := d.DeleteExpiredIdempotencyKeys(ctx); err != nil {
				log.Error("idempotency key cleanup", "err", err)
			} else if n > 0 {
				log.Info("expired idempotency keys removed", "count", n)
			}
		}
	}
}
