package dashboard_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/sessions"

	"github.com/kassa-pay/kassa/checkout"
	"github.com/kassa-pay/kassa/db"
	"github.com/kassa-pay/kassa/handlers"
	"github.com/kassa-pay/kassa/handlers/dashboard"
)

// env is Kassa's whole handler (so the shared CSRF middleware is in front of the dashboard)
// on an httptest server, with one operator.
type env struct {
	srv      *httptest.Server
	svc      *checkout.Service
	ops      *checkout.Operators
	store    *db.DB
	app      *checkout.App
	email    string
	password string
	dash     *dashboard.Handler
}

func newEnv(t *testing.T) *env { t.Helper(); return newEnvWith(t, nil) }

// newEnvWith is newEnv with the server adjusted by configure before it starts serving.
func newEnvWith(t *testing.T, configure func(*handlers.Server)) *env {
	t.Helper()
	ctx := context.Background()
	d, err := db.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "kassa.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	e := &env{store: d, svc: &checkout.Service{Store: d, Log: quiet}, ops: &checkout.Operators{Store: d}}
	var h http.Handler
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeHTTP(w, r) }))
	t.Cleanup(e.srv.Close)
	base, _ := url.Parse(e.srv.URL)
	e.svc.URLs = checkout.URLs{Base: e.srv.URL}
	store := d.NewSessionStore(bytes.Repeat([]byte("s"), 32), sessions.Options{Path: "/", MaxAge: 86400, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	s := &handlers.Server{Checkout: e.svc, Sessions: store, CSRFKey: bytes.Repeat([]byte("c"), 32), BaseURL: base, Log: quiet,
		Dashboard: &dashboard.Handler{Checkout: e.svc, Operators: e.ops, Sessions: store, Log: quiet}}
	if configure != nil {
		configure(s)
	}
	e.dash = s.Dashboard
	h = s.Handler()
	if e.app, err = e.svc.NewApp(ctx, "Shop", ""); err != nil {
		t.Fatal(err)
	}
	e.email = "ops@example.com"
	if _, e.password, err = e.ops.Create(ctx, e.email, ""); err != nil {
		t.Fatal(err)
	}
	return e
}

// browser is a cookie jar that does not follow redirects.
type browser struct {
	t    *testing.T
	e    *env
	c    *http.Client
	csrf string // the last CSRF token seen in a page
}

func (e *env) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, e: e, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

type answer struct {
	status int
	body   string
	header http.Header
}

func (b *browser) do(req *http.Request) answer {
	b.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if m := csrfField.FindStringSubmatch(string(raw)); m != nil {
		b.csrf = html.UnescapeString(m[1])
	}
	return answer{resp.StatusCode, string(raw), resp.Header}
}

func (b *browser) get(path string) answer {
	b.t.Helper()
	req, _ := http.NewRequest("GET", b.e.srv.URL+path, nil)
	return b.do(req)
}

// post sends a form with the last CSRF token seen (unless the form sets csrf_token itself).
func (b *browser) post(path string, form url.Values) answer {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, set := form["csrf_token"]; !set {
		form.Set("csrf_token", b.csrf)
	}
	req, _ := http.NewRequest("POST", b.e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.e.srv.URL)
	return b.do(req)
}

func (b *browser) signIn() {
	b.t.Helper()
	b.get("/dashboard/sign-in")
	a := b.post("/dashboard/sign-in", url.Values{"email": {b.e.email}, "password": {b.e.password}})
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/dashboard" {
		b.t.Fatalf("sign in: %d %s", a.status, a.header.Get("Location"))
	}
	b.get("/dashboard") // for a CSRF token
}

func want(t *testing.T, a answer, status int, contains ...string) {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d\n%.3000s", a.status, status, a.body)
	}
	for _, s := range contains {
		if !strings.Contains(a.body, s) {
			t.Fatalf("page lacks %q\n%.4000s", s, a.body)
		}
	}
}

func TestSignedOutGoesToSignIn(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	for _, p := range []string{"/dashboard", "/dashboard/payments?status=paid", "/dashboard/apps", "/dashboard/apps/" + e.app.ClientID,
		"/dashboard/apps/" + e.app.ClientID + "/tokens/new", "/dashboard/oauth-clients", "/dashboard/links", "/dashboard/payments.csv"} {
		a := b.get(p)
		if a.status != http.StatusSeeOther || a.header.Get("Location") != "/dashboard/sign-in?next="+url.QueryEscape(p) {
			t.Errorf("GET %s signed out: %d to %q", p, a.status, a.header.Get("Location"))
		}
		if cc := a.header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("GET %s: Cache-Control %q", p, cc)
		}
	}
	want(t, b.get("/dashboard/sign-in"), http.StatusOK, `<label for="email">Email</label>`, `<label for="password">Password</label>`, ">Sign in</button>")
	for _, p := range []string{"/dashboard/apps", "/dashboard/apps/" + e.app.ClientID + "/tokens", "/dashboard/apps/" + e.app.ClientID + "/webhook",
		"/dashboard/apps/" + e.app.ClientID + "/branding", "/dashboard/apps/" + e.app.ClientID + "/rotate-secret", "/dashboard/oauth-clients"} {
		if a := b.post(p, url.Values{"name": {"x"}}); a.status != http.StatusSeeOther || a.header.Get("Location") != "/dashboard/sign-in" {
			t.Errorf("POST %s signed out: %d to %q", p, a.status, a.header.Get("Location"))
		}
	}
	if apps, _ := e.svc.Apps(context.Background()); len(apps) != 1 {
		t.Fatalf("a signed-out POST created an application: %d apps", len(apps))
	}
}

func TestSignIn(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	b.get("/dashboard/sign-in?next=" + url.QueryEscape("/dashboard/apps"))
	want(t, b.post("/dashboard/sign-in", url.Values{"email": {""}, "password": {""}}), http.StatusUnprocessableEntity, "Email is required")
	wrong := b.post("/dashboard/sign-in", url.Values{"email": {e.email}, "password": {"not it at all"}})
	unknown := b.post("/dashboard/sign-in", url.Values{"email": {"who@example.com"}, "password": {e.password}})
	want(t, wrong, http.StatusUnauthorized, "The email or password is not right.")
	want(t, unknown, http.StatusUnauthorized, "The email or password is not right.")
	// An open redirect is not possible through next.
	a := b.post("/dashboard/sign-in", url.Values{"email": {e.email}, "password": {e.password}, "next": {"//evil.example/dashboard"}})
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/dashboard" {
		t.Fatalf("sign in: %d to %q", a.status, a.header.Get("Location"))
	}
	cookie := a.header.Get("Set-Cookie")
	for _, attr := range []string{"kassa_dashboard=", "Path=/dashboard", "HttpOnly", "SameSite=Lax"} {
		if !strings.Contains(cookie, attr) {
			t.Errorf("session cookie %q lacks %s", cookie, attr)
		}
	}
	page := b.get("/dashboard")
	want(t, page, http.StatusOK, ">Overview</h1>", ">Payments</a>", ">Applications</a>", ">Payment links</a>", ">Sign out</button>")
	if page.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("Cache-Control %q", page.header.Get("Cache-Control"))
	}
	// Signing in from a session starts a new one: the old id is dead.
	old := sessionCookie(t, b)
	b.post("/dashboard/sign-in", url.Values{"email": {e.email}, "password": {e.password}})
	if now := sessionCookie(t, b); now == old {
		t.Fatal("signing in again kept the session id")
	}
	if a := withCookie(t, e, old, "/dashboard"); a.status != http.StatusSeeOther {
		t.Fatalf("the session from before sign-in still works: %d", a.status)
	}
	// Too many failures: refused with one message, even with the right password.
	c := e.browser(t)
	c.get("/dashboard/sign-in")
	for range checkout.AccountFailureLimit {
		c.post("/dashboard/sign-in", url.Values{"email": {e.email}, "password": {"wrong password"}})
	}
	want(t, c.post("/dashboard/sign-in", url.Values{"email": {e.email}, "password": {e.password}}), http.StatusTooManyRequests, "Too many failed sign-ins")
}

func sessionCookie(t *testing.T, b *browser) string {
	t.Helper()
	u, _ := url.Parse(b.e.srv.URL + "/dashboard")
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == dashboard.CookieName {
			return c.Value
		}
	}
	t.Fatal("no session cookie")
	return ""
}

func withCookie(t *testing.T, e *env, value, path string) answer {
	t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
	req.AddCookie(&http.Cookie{Name: dashboard.CookieName, Value: value})
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return answer{status: resp.StatusCode, header: resp.Header}
}

// A session ends with sign-out, a password reset or disabling the operator: a copied cookie
// is then worth nothing.
func TestSessionEnds(t *testing.T) {
	for _, end := range []struct {
		name string
		do   func(e *env, b *browser)
	}{
		{"sign out", func(e *env, b *browser) {
			if a := b.post("/dashboard/sign-out", nil); a.status != http.StatusSeeOther {
				t.Fatalf("sign out: %d", a.status)
			}
		}},
		{"password reset", func(e *env, b *browser) {
			time.Sleep(2 * time.Millisecond) // sessions are timed in milliseconds
			if _, err := e.ops.ResetPassword(context.Background(), e.email, ""); err != nil {
				t.Fatal(err)
			}
		}},
		{"disabled", func(e *env, b *browser) {
			if err := e.ops.Disable(context.Background(), e.email); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(end.name, func(t *testing.T) {
			e := newEnv(t)
			b := e.browser(t)
			b.signIn()
			copied := sessionCookie(t, b)
			if a := withCookie(t, e, copied, "/dashboard"); a.status != http.StatusOK {
				t.Fatalf("the copied cookie does not work before: %d", a.status)
			}
			end.do(e, b)
			if a := withCookie(t, e, copied, "/dashboard"); a.status != http.StatusSeeOther {
				t.Fatalf("after %s the session still works: %d", end.name, a.status)
			}
		})
	}
}

func TestIdleSessionExpires(t *testing.T) {
	e := newEnv(t)
	now := time.Now()
	e.svc.Now = func() time.Time { return now }
	b := e.browser(t)
	b.signIn()
	// The handler's clock is time.Now; a 30-minute idle limit is tested through a handler
	// with a tiny one.
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	store := e.store.NewSessionStore(bytes.Repeat([]byte("s"), 32), sessions.Options{Path: "/", MaxAge: 86400})
	later := time.Now().Add(31 * time.Minute)
	h := &handlers.Server{Checkout: e.svc, Sessions: store, CSRFKey: bytes.Repeat([]byte("c"), 32), Log: quiet,
		Dashboard: &dashboard.Handler{Checkout: e.svc, Operators: e.ops, Sessions: store, Log: quiet, Now: func() time.Time { return later }}}
	req := httptest.NewRequest("GET", "/dashboard", nil)
	req.AddCookie(&http.Cookie{Name: dashboard.CookieName, Value: sessionCookie(t, b)})
	w := httptest.NewRecorder()
	h.Handler().ServeHTTP(w, req)
	if w.Code != http.StatusSeeOther {
		t.Fatalf("a session idle for 31 minutes answered %d", w.Code)
	}
	if a := b.get("/dashboard"); a.status != http.StatusSeeOther {
		t.Fatalf("an expired session was not ended: %d", a.status)
	}
}

func TestCSRFRefused(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	b.signIn()
	forms := []string{"/dashboard/sign-in", "/dashboard/sign-out", "/dashboard/apps", "/dashboard/apps/" + e.app.ClientID + "/webhook",
		"/dashboard/apps/" + e.app.ClientID + "/branding", "/dashboard/apps/" + e.app.ClientID + "/rotate-secret",
		"/dashboard/apps/" + e.app.ClientID + "/tokens", "/dashboard/oauth-clients"}
	for _, p := range forms {
		for _, tok := range []string{"", "forged"} {
			a := b.post(p, url.Values{"csrf_token": {tok}, "name": {"Evil"}, "scope": {"*"}, "confirm": {"yes"}})
			if a.status != http.StatusForbidden {
				t.Errorf("POST %s with CSRF token %q: %d, want 403", p, tok, a.status)
			}
		}
	}
	if apps, _ := e.svc.Apps(context.Background()); len(apps) != 1 {
		t.Fatalf("a forged form created an application")
	}
	if a := b.get("/dashboard"); a.status != http.StatusOK {
		t.Fatalf("a forged sign-out ended the session: %d", a.status)
	}
}

func TestApplications(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	b.signIn()
	want(t, b.get("/dashboard/apps"), http.StatusOK, ">Shop</a>", ">Create application</button>")
	want(t, b.post("/dashboard/apps", url.Values{"name": {" "}, "webhook_url": {"ftp://x"}}), http.StatusUnprocessableEntity,
		"Name must be 1 to 100 characters", "Webhook URL must be an absolute http or https URL", `value="ftp://x"`)
	a := b.post("/dashboard/apps", url.Values{"name": {"Corner shop"}, "webhook_url": {"https://shop.example/hook"}})
	want(t, a, http.StatusCreated, "Webhook secret", "you will not see it again", ">Copy</button>")
	apps, _ := e.svc.Apps(context.Background())
	if len(apps) != 2 || apps[1].Name != "Corner shop" || apps[1].WebhookURL != "https://shop.example/hook" {
		t.Fatalf("apps: %+v", apps)
	}
	created := apps[1]
	if !strings.Contains(a.body, created.WebhookSecret.Reveal()) {
		t.Fatal("the new application's secret is not shown")
	}
	page := "/dashboard/apps/" + created.ClientID
	p := b.get(page)
	want(t, p, http.StatusOK, "<h1>Corner shop</h1>", created.ClientID, ">Create API Access Token</button>", ">Rotate secret</button>")
	if strings.Contains(p.body, created.WebhookSecret.Reveal()) {
		t.Fatal("the application page shows the webhook secret")
	}
	want(t, b.get("/dashboard/apps/nope"), http.StatusNotFound)

	// Webhook URL.
	want(t, b.post(page+"/webhook", url.Values{"webhook_url": {"not a url"}}), http.StatusUnprocessableEntity, "Webhook URL must be")
	if a := b.post(page+"/webhook", url.Values{"webhook_url": {"https://shop.example/new"}}); a.status != http.StatusSeeOther || a.header.Get("Location") != page {
		t.Fatalf("webhook: %d %s", a.status, a.header.Get("Location"))
	}
	want(t, b.get(page), http.StatusOK, "Webhook URL saved.", `value="https://shop.example/new"`)

	// Rotating the secret shows the new one.
	r := b.post(page+"/rotate-secret", nil)
	after, _ := e.svc.App(context.Background(), created.ClientID)
	want(t, r, http.StatusOK, after.WebhookSecret.Reveal())
	if after.WebhookSecret == created.WebhookSecret {
		t.Fatal("the secret did not change")
	}

	// Branding: preview saves nothing; errors are 422; save redirects.
	want(t, b.post(page+"/branding", url.Values{"display_name": {"Corner"}, "accent_color": {"#112233"}, "preview": {"1"}}), http.StatusOK,
		"Preview only", "preview.css?accent=%23112233", `<span data-preview-name>Corner</span>`)
	if a, _ := e.svc.App(context.Background(), created.ClientID); a.DisplayName != "" {
		t.Fatal("a preview saved the branding")
	}
	want(t, b.post(page+"/branding", url.Values{"accent_color": {"red"}, "logo_url": {"http://x.example/l.png"}}), http.StatusUnprocessableEntity,
		"Accent colour must be", "Logo URL must be an absolute https URL")
	if a := b.post(page+"/branding", url.Values{"display_name": {"Corner"}, "accent_color": {"#112233"}, "logo_url": {"https://x.example/l.png"}}); a.status != http.StatusSeeOther {
		t.Fatalf("branding: %d", a.status)
	}
	if a, _ := e.svc.App(context.Background(), created.ClientID); a.DisplayName != "Corner" || a.AccentColor != "#112233" || a.LogoURL != "https://x.example/l.png" {
		t.Fatalf("branding saved as %+v", a)
	}
	// The checkout language: saved with the branding, refused when Kassa does not speak it,
	// and left alone by a branding form without the field.
	want(t, b.post(page+"/branding", url.Values{"default_language": {"xx"}}), http.StatusUnprocessableEntity, "Checkout language must be one of")
	if r := b.post(page+"/branding", url.Values{"display_name": {"Corner"}, "default_language": {"ny"}}); r.status != http.StatusSeeOther {
		t.Fatalf("language: %d", r.status)
	}
	want(t, b.get(page), http.StatusOK, `<option value="ny" lang="ny" selected>Chichewa</option>`)
	b.post(page+"/branding", url.Values{"display_name": {"Corner"}})
	if a, _ := e.svc.App(context.Background(), created.ClientID); a.DefaultLanguage != "ny" {
		t.Fatalf("default language %q after a form without the field", a.DefaultLanguage)
	}
	css := b.get(page + "/preview.css?accent=%23112233")
	want(t, css, http.StatusOK, "--accent:#112233")
	if b.get(page+"/preview.css?accent=red;}body{x").status != http.StatusNotFound {
		t.Fatal("preview.css took a value that is not a colour")
	}
}

func TestTokens(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	b.signIn()
	page := "/dashboard/apps/" + e.app.ClientID
	form := b.get(page + "/tokens/new")
	want(t, form, http.StatusOK, "<h1>Create API Access Token</h1>", `<label for="label">Label</label>`, `<label for="expires">Expiration date</label>`, ">Create token</button>")
	for _, s := range checkout.Scopes {
		if !strings.Contains(form.body, `value="`+html.EscapeString(string(s))+`"`) || !strings.Contains(form.body, ">"+string(s)+"</label>") {
			t.Errorf("no checkbox labelled %s", s)
		}
	}
	want(t, b.post(page+"/tokens", url.Values{"label": {"Till"}}), http.StatusUnprocessableEntity, "at least one scope is required", `value="Till"`)
	want(t, b.post(page+"/tokens", url.Values{"label": {"Till"}, "scope": {"payments.get"}, "expires": {"31/12/2099"}}), http.StatusUnprocessableEntity,
		"Expiration date must be a date")
	want(t, b.post(page+"/tokens", url.Values{"label": {"Till"}, "scope": {"payments.get"}, "expires": {"2001-01-01"}}), http.StatusUnprocessableEntity,
		"Expiration date must be today or later")
	want(t, b.post(page+"/tokens", url.Values{"scope": {"payments.everything"}}), http.StatusUnprocessableEntity, "unknown scope")
	a := b.post(page+"/tokens", url.Values{"label": {"Till"}, "scope": {"payments.create", "payments.get"}, "expires": {"2099-12-31"}})
	want(t, a, http.StatusCreated, `<label for="token">Token</label>`, "readonly", ">Copy</button>", "you will not see it again")
	tok := regexp.MustCompile(`id="token" name="token" value="([^"]+)"`).FindStringSubmatch(a.body)
	if tok == nil {
		t.Fatalf("no token field:\n%s", a.body)
	}
	pr, err := e.svc.Authenticate(context.Background(), tok[1])
	if err != nil || pr.ClientID != e.app.ClientID || !pr.Can(checkout.ScopePaymentsGet) || pr.Can(checkout.ScopePaymentsRefund) {
		t.Fatalf("the shown token authenticates as %+v, %v", pr, err)
	}
	toks, _ := e.svc.Tokens(context.Background(), e.app.ClientID)
	if len(toks) != 1 || !toks[0].ExpiresAt.Equal(time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("tokens: %+v", toks)
	}
	list := b.get(page)
	want(t, list, http.StatusOK, ">Till</th>", "payments.create, payments.get", "kct_"+toks[0].ID, ">Revoke</button>", "End of 31 Dec 2099 (UTC)")
	if strings.Contains(list.body, tok[1]) {
		t.Fatal("the application page shows the token")
	}
	revoke := page + "/tokens/" + toks[0].ID + "/revoke"
	want(t, b.get(revoke), http.StatusOK, "Revoke the token Till?", `class="danger">Revoke</button>`, `name="confirm" value="yes"`)
	// Without the confirmation field, the POST only asks.
	want(t, b.post(revoke, nil), http.StatusOK, "Revoke the token Till?")
	if _, err := e.svc.Authenticate(context.Background(), tok[1]); err != nil {
		t.Fatal("an unconfirmed revoke revoked")
	}
	if a := b.post(revoke, url.Values{"confirm": {"yes"}}); a.status != http.StatusSeeOther || a.header.Get("Location") != page {
		t.Fatalf("revoke: %d %s", a.status, a.header.Get("Location"))
	}
	if _, err := e.svc.Authenticate(context.Background(), tok[1]); checkout.ErrorCode(err) != checkout.EUNAUTHORIZED {
		t.Fatalf("a revoked token authenticates: %v", err)
	}
	want(t, b.get(page), http.StatusOK, "Token revoked.", "Revoked ")
	// Another application's token cannot be revoked through this one's page.
	other, _ := e.svc.NewApp(context.Background(), "Other", "")
	_, ot, _ := e.svc.NewToken(context.Background(), other.ClientID, []checkout.Scope{checkout.ScopeAll}, "o", time.Time{})
	want(t, b.post(page+"/tokens/"+ot.ID+"/revoke", url.Values{"confirm": {"yes"}}), http.StatusNotFound)
}

func TestOAuthClients(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	b.signIn()
	want(t, b.get("/dashboard/oauth-clients"), http.StatusOK, "No OAuth clients yet.")
	want(t, b.post("/dashboard/oauth-clients", url.Values{"name": {""}}), http.StatusUnprocessableEntity, "Name must be 1 to 100 characters")
	a := b.post("/dashboard/oauth-clients", url.Values{"name": {"Back office"}})
	want(t, a, http.StatusCreated, "Client secret", "you will not see it again")
	cs, _ := e.svc.OAuthClients(context.Background())
	secret := regexp.MustCompile(`id="secret" name="secret" value="([^"]+)"`).FindStringSubmatch(a.body)
	if len(cs) != 1 || secret == nil {
		t.Fatalf("clients %+v, secret shown: %v", cs, secret != nil)
	}
	access, _, err := e.svc.IssueAccessToken(context.Background(), cs[0].ID, secret[1])
	if err != nil {
		t.Fatal(err)
	}
	revoke := "/dashboard/oauth-clients/" + cs[0].ID + "/revoke"
	want(t, b.get(revoke), http.StatusOK, "Revoke the OAuth client Back office?")
	if a := b.post(revoke, url.Values{"confirm": {"yes"}}); a.status != http.StatusSeeOther {
		t.Fatalf("revoke: %d", a.status)
	}
	if _, err := e.svc.AuthenticateAccessToken(context.Background(), access.Reveal()); checkout.ErrorCode(err) != checkout.EUNAUTHORIZED {
		t.Fatalf("a revoked client's access token still works: %v", err)
	}
	if _, _, err := e.svc.IssueAccessToken(context.Background(), cs[0].ID, secret[1]); checkout.ErrorCode(err) != checkout.EUNAUTHORIZED {
		t.Fatalf("a revoked client got a new access token: %v", err)
	}
	want(t, b.get("/dashboard/oauth-clients"), http.StatusOK, "OAuth client revoked.", "Revoked ")
}

func TestPayments(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	b := e.browser(t)
	b.signIn()
	var ids []string
	for i, ref := range []string{"A-1", "B-2", "A-3", "=HYPERLINK(1)", "A-5"} {
		p, err := e.svc.CreatePayment(ctx, checkout.NewPayment{ClientID: e.app.ClientID, Amount: int64(1000 + 2*i), Currency: "USD",
			Reference: ref, ReferenceLabel: "Order " + ref, LineItems: []checkout.LineItem{{Name: "Tea", Quantity: 2, UnitAmount: int64(500 + i)}},
			Customer: checkout.Customer{Email: "shopper@example.com"}, Metadata: map[string]string{"cart": "c" + ref}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, p.ID)
	}
	all := b.get("/dashboard/payments")
	want(t, all, http.StatusOK, "5 payments", `<label for="status">Status</label>`, `<label for="search">Search</label>`, ">A-5</a>", "USD 10.04")
	want(t, b.get("/dashboard/payments?status=bogus"), http.StatusUnprocessableEntity, "Status is not a payment status")
	want(t, b.get("/dashboard/payments?from=yesterday"), http.StatusUnprocessableEntity, "Created from must be a date")
	found := b.get("/dashboard/payments?q=A-")
	want(t, found, http.StatusOK, "3 payments", ">A-1</a>", ">A-3</a>", ">A-5</a>")
	if strings.Contains(found.body, ">B-2</a>") {
		t.Fatal("the search for A- lists B-2")
	}
	want(t, b.get("/dashboard/payments?q="+ids[1]), http.StatusOK, "1 payments", ">B-2</a>")
	want(t, b.get("/dashboard/payments?status=paid"), http.StatusOK, "0 payments")
	want(t, b.get("/dashboard/payments?app=nope"), http.StatusOK, "0 payments")
	today := time.Now().UTC().Format("2006-01-02")
	want(t, b.get("/dashboard/payments?from="+today+"&to="+today), http.StatusOK, "5 payments")
	want(t, b.get("/dashboard/payments?to=2001-01-01"), http.StatusOK, "0 payments")

	// Pages keep the filters in their links.
	next := regexp.MustCompile(`href="([^"]+)" rel="next"`)
	var seen []string
	u := "/dashboard/payments?q=A-"
	for range 5 {
		pg := b.get(u)
		if pg.status != http.StatusOK {
			t.Fatalf("%s: %d", u, pg.status)
		}
		seen = append(seen, regexp.MustCompile(`>(A-\d)</a>`).FindAllString(pg.body, -1)...)
		m := next.FindStringSubmatch(pg.body)
		if m == nil {
			break
		}
		u = html.UnescapeString(m[1])
		if !strings.Contains(u, "q=A-") || !strings.Contains(u, "anchor=") {
			t.Fatalf("next page link %q loses the filter", u)
		}
	}
	if len(seen) != 3 {
		t.Fatalf("paging saw %v", seen)
	}

	// CSV of the filtered list; a reference that looks like a formula is defused.
	c := b.get("/dashboard/payments.csv?q=HYPER")
	if c.status != http.StatusOK || !strings.HasPrefix(c.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv: %d %s", c.status, c.header.Get("Content-Type"))
	}
	rows, err := csv.NewReader(strings.NewReader(c.body)).ReadAll()
	if err != nil || len(rows) != 2 || rows[0][0] != "id" || rows[1][0] != ids[3] || rows[1][1] != "'=HYPERLINK(1)" || rows[1][3] != "10.06" {
		t.Fatalf("csv rows %q (%v)", rows, err)
	}
	if all := b.get("/dashboard/payments.csv"); strings.Count(all.body, "\n") != 6 {
		t.Fatalf("csv of everything:\n%s", all.body)
	}

	// The payment page: summary, line items, customer, metadata, timeline.
	p := b.get("/dashboard/payments/" + ids[0])
	want(t, p, http.StatusOK, "A-1", "USD 10.00", "Order A-1", ">Tea</th>", "shopper@example.com", ">cart</dt>", "cA-1",
		"<h2 id=\"timeline-h\">Timeline</h2>", "payment.created", "The shopper has not picked a provider yet.")
	want(t, b.get("/dashboard/payments/nope"), http.StatusNotFound)

	// A payment paid twice is flagged on the list and on its page.
	for i, ref := range []string{"oc-1", "oc-2"} {
		a := &checkout.Attempt{ID: "att" + ref, PaymentID: ids[1], Provider: "onecheckout", Status: checkout.AttemptPaid, ProviderRef: ref,
			Money: checkout.Money{Amount: 1002, Currency: "USD"}, CreatedAt: time.Now().Add(time.Duration(i) * time.Millisecond), UpdatedAt: time.Now()}
		if err := e.store.CreateAttempt(ctx, a, checkout.Event{PaymentID: ids[1], AttemptID: a.ID, Type: checkout.EventAttemptCreated, CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	want(t, b.get("/dashboard/payments?q=B-2"), http.StatusOK, `<tr class="flagged">`, "paid twice", ">onecheckout</td>")
	want(t, b.get("/dashboard/payments/"+ids[1]), http.StatusOK, "Needs review: paid twice", "oc-1", "oc-2")
}

func TestOverview(t *testing.T) {
	e := newEnv(t)
	b := e.browser(t)
	b.signIn()
	if _, err := e.svc.CreatePayment(context.Background(), checkout.NewPayment{ClientID: e.app.ClientID,
		Amount: 1234, Currency: "USD", Reference: "R", ReferenceLabel: "R"}); err != nil {
		t.Fatal(err)
	}
	want(t, b.get("/dashboard"), http.StatusOK, "Open payments", `status=open">1</a>`, "0 paid of 1 created", "<polyline")
}

// postFrom is post with the X-Forwarded-For a reverse proxy would add.
func (b *browser) postFrom(forwardedFor, path string, form url.Values) answer {
	b.t.Helper()
	form.Set("csrf_token", b.csrf)
	req, _ := http.NewRequest("POST", b.e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.e.srv.URL)
	req.Header.Set("X-Forwarded-For", forwardedFor)
	return b.do(req)
}

// TestSignInThrottleBehindProxy: behind a trusted reverse proxy (a load balancer in front of
// several instances), the address a sign-in is throttled by is the client's, not the
// proxy's: one stranger's failed guesses do not lock every operator out of the dashboard.
// Without trusted proxies, X-Forwarded-For is ignored, so rotating it does not escape the
// address limit.
func TestSignInThrottleBehindProxy(t *testing.T) {
	e := newEnvWith(t, func(s *handlers.Server) { s.TrustedProxies = []string{"127.0.0.1", "::1"} })
	attacker := e.browser(t)
	attacker.get("/dashboard/sign-in")
	for i := range checkout.AddressFailureLimit {
		a := attacker.postFrom("198.51.100.7", "/dashboard/sign-in", url.Values{"email": {fmt.Sprintf("guess%d@example.com", i)}, "password": {"wrong password"}})
		want(t, a, http.StatusUnauthorized)
	}
	want(t, attacker.postFrom("198.51.100.7", "/dashboard/sign-in", url.Values{"email": {"another@example.com"}, "password": {"wrong password"}}),
		http.StatusTooManyRequests)
	op := e.browser(t)
	op.get("/dashboard/sign-in")
	if a := op.postFrom("203.0.113.9", "/dashboard/sign-in", url.Values{"email": {e.email}, "password": {e.password}}); a.status != http.StatusSeeOther {
		t.Fatalf("the operator behind the same proxy is locked out by a stranger's failures: %d", a.status)
	}

	direct := newEnv(t)
	b := direct.browser(t)
	b.get("/dashboard/sign-in")
	for i := range checkout.AddressFailureLimit {
		b.postFrom(fmt.Sprintf("192.0.2.%d", i+1), "/dashboard/sign-in", url.Values{"email": {fmt.Sprintf("guess%d@example.com", i)}, "password": {"wrong password"}})
	}
	want(t, b.postFrom("192.0.2.200", "/dashboard/sign-in", url.Values{"email": {"another@example.com"}, "password": {"wrong password"}}),
		http.StatusTooManyRequests)
}
