package checkout

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/url"
	"slices"
	"strings"
	"time"
)

// App is a merchant's payment application: the owner of payments and client tokens.
type App struct {
	// ClientID is public and 32 characters long.
	ClientID      string
	Name          string
	WebhookURL    string
	WebhookSecret Secret
	// Branding shown on the checkout page; all optional.
	DisplayName string
	LogoURL     string
	AccentColor string // "#rrggbb"
	// DefaultLanguage is the language of the shopper pages when the shopper's browser names
	// none Kassa speaks (a code of locale.Languages); empty means English.
	DefaultLanguage string
	CreatedAt       time.Time
	// PreviousWebhookSecret still signs webhooks for SecretOverlap after
	// WebhookSecretRotatedAt.
	PreviousWebhookSecret  Secret
	WebhookSecretRotatedAt time.Time
	// WebhookDisabledAt is set when the endpoint answered 410 Gone; setting the webhook URL
	// again clears it.
	WebhookDisabledAt     time.Time
	WebhookDisabledReason string
}

// Scope is a permission a client token carries.
type Scope string

// The scopes of the merchant API.
const (
	ScopePaymentsCreate       Scope = "payments.create"
	ScopePaymentsGet          Scope = "payments.get"
	ScopePaymentsInstructions Scope = "payments.user-instructions.get"
	// ScopePaymentsRefund and ScopePaymentLinksManage are Kassa's own, beyond the seed's three.
	ScopePaymentsRefund     Scope = "payments.refund"
	ScopePaymentLinksManage Scope = "payment-links.manage"
	ScopeAll                Scope = "*"
)

// Scopes lists every scope a token may be given.
var Scopes = []Scope{ScopePaymentsCreate, ScopePaymentsGet, ScopePaymentsInstructions, ScopePaymentsRefund, ScopePaymentLinksManage, ScopeAll}

// Token is a client token as stored: its public id and the hash of its secret half.
type Token struct {
	ID         string
	ClientID   string
	SecretHash string
	Scopes     []Scope
	Label      string
	ExpiresAt  time.Time // zero: never
	RevokedAt  time.Time // zero: not revoked
	LastUsedAt time.Time
	CreatedAt  time.Time
}

// Secret is a string that never prints: logs and errors that format it show "[redacted]".
type Secret string

func (Secret) String() string   { return "[redacted]" }
func (Secret) GoString() string { return "[redacted]" }

// Reveal returns the secret itself, for the one place that must send it.
func (s Secret) Reveal() string { return string(s) }

// Principal is who an authenticated API request acts for.
type Principal struct {
	ClientID string
	TokenID  string
	Scopes   []Scope
}

// Can reports whether the principal holds scope.
func (p Principal) Can(s Scope) bool {
	return slices.Contains(p.Scopes, s) || slices.Contains(p.Scopes, ScopeAll)
}

const tokenPrefix = "kct_"

// NewApp creates a payment application with a fresh Client ID and webhook secret.
func (s *Service) NewApp(ctx context.Context, name, webhookURL string) (*App, error) {
	return s.CreateApp(ctx, AppPatch{Name: &name, WebhookURL: &webhookURL})
}

// CreateApp creates a payment application from the fields of p (a name is required), with a
// fresh Client ID and webhook secret.
func (s *Service) CreateApp(ctx context.Context, p AppPatch) (*App, error) {
	if p.Name == nil {
		p.Name = new(string)
	}
	a := &App{ClientID: randomID(32), WebhookSecret: newWebhookSecret(), CreatedAt: s.now()}
	if err := applyPatch(a, p, s.checkWebhookURL); err != nil {
		return nil, err
	}
	if err := s.Store.CreateApp(ctx, a); err != nil {
		return nil, err
	}
	return a, nil
}

// NewToken creates a client token for the application and returns it in full. Only its hash
// is stored: this is the one time the token exists in the clear.
func (s *Service) NewToken(ctx context.Context, clientID string, scopes []Scope, label string, expiresAt time.Time) (Secret, *Token, error) {
	fe := fieldErrors{}
	if len(scopes) == 0 {
		fe.add("scopes", "at least one scope is required")
	}
	for _, sc := range scopes {
		if !slices.Contains(Scopes, sc) {
			fe.add("scopes", "unknown scope "+string(sc))
		}
	}
	if !expiresAt.IsZero() && !expiresAt.After(s.now()) {
		fe.add("expiresAt", "must be in the future")
	}
	if len(label) > 100 || !storableText(label) {
		fe.add("label", "must be text of at most 100 characters")
	}
	if err := fe.err(); err != nil {
		return "", nil, err
	}
	if _, err := s.Store.FindApp(ctx, clientID); errors.Is(err, ErrNotFound) {
		return "", nil, Errorf(ENOTFOUND, "No application has Client ID %q.", clientID)
	} else if err != nil {
		return "", nil, err
	}
	secret := base64.RawURLEncoding.EncodeToString(randomBytes(32))
	t := &Token{
		ID:         hex.EncodeToString(randomBytes(8)),
		ClientID:   clientID,
		SecretHash: hashSecret(secret),
		Scopes:     slices.Compact(slices.Sorted(slices.Values(scopes))),
		Label:      label,
		ExpiresAt:  expiresAt,
		CreatedAt:  s.now(),
	}
	if err := s.Store.CreateToken(ctx, t); err != nil {
		return "", nil, err
	}
	return Secret(tokenPrefix + t.ID + "_" + secret), t, nil
}

// Authenticate resolves a bearer client token. Every failure is the same EUNAUTHORIZED, so the
// answer does not tell which part was wrong.
func (s *Service) Authenticate(ctx context.Context, bearer string) (Principal, error) {
	unauth := Errorf(EUNAUTHORIZED, "Unauthenticated")
	rest, ok := strings.CutPrefix(bearer, tokenPrefix)
	if !ok {
		return Principal{}, unauth
	}
	id, secret, ok := strings.Cut(rest, "_")
	if !ok || len(id) != 16 || secret == "" {
		return Principal{}, unauth
	}
	t, err := s.Store.FindToken(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return Principal{}, unauth
	} else if err != nil {
		return Principal{}, err
	}
	if subtle.ConstantTimeCompare([]byte(hashSecret(secret)), []byte(t.SecretHash)) != 1 {
		return Principal{}, unauth
	}
	now := s.now()
	if !t.RevokedAt.IsZero() || (!t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt)) {
		return Principal{}, unauth
	}
	// Last-used is informational: a write per request would serialise the API on SQLite's
	// single writer, so it is refreshed at most once a minute per token.
	if now.Sub(t.LastUsedAt) > time.Minute {
		if err := s.Store.TouchToken(ctx, t.ID, now); err != nil {
			s.log().WarnContext(ctx, "token last-used not recorded", "token", t.ID, "err", err)
		}
	}
	return Principal{ClientID: t.ClientID, TokenID: t.ID, Scopes: t.Scopes}, nil
}

func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return b
}

const idAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// randomID returns n characters from [a-z0-9], about 5.2 bits each: 26 characters carry more
// than 128 bits, so ids cannot be guessed.
func randomID(n int) string {
	b := randomBytes(n)
	for i := range b {
		// 252 is the largest multiple of 36 below 256; rejection keeps the draw uniform.
		for b[i] >= 252 {
			b[i] = randomBytes(1)[0]
		}
		b[i] = idAlphabet[b[i]%36]
	}
	return string(b)
}

func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && len(s) <= 2048
}

// Apps lists every payment application.
func (s *Service) Apps(ctx context.Context) ([]App, error) { return s.Store.ListApps(ctx) }

// App returns the application with clientID.
func (s *Service) App(ctx context.Context, clientID string) (*App, error) {
	if !storableText(clientID) { // names no application, and PostgreSQL would refuse the lookup
		return nil, Errorf(ENOTFOUND, "No application has Client ID %q.", clientID)
	}
	a, err := s.Store.FindApp(ctx, clientID)
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(ENOTFOUND, "No application has Client ID %q.", clientID)
	}
	return a, err
}

// RotateWebhookSecret gives the application a new webhook secret and returns the application.
// The previous secret keeps signing webhooks beside the new one for SecretOverlap.
func (s *Service) RotateWebhookSecret(ctx context.Context, clientID string) (*App, error) {
	if _, err := s.App(ctx, clientID); err != nil {
		return nil, err
	}
	if err := s.Store.SetWebhookSecret(ctx, clientID, newWebhookSecret(), s.now()); err != nil {
		return nil, err
	}
	return s.App(ctx, clientID)
}

// Tokens lists an application's client tokens (never their secrets, which are not stored).
func (s *Service) Tokens(ctx context.Context, clientID string) ([]Token, error) {
	if _, err := s.App(ctx, clientID); err != nil {
		return nil, err
	}
	return s.Store.ListTokens(ctx, clientID)
}

// RevokeToken makes a client token unusable from now on.
func (s *Service) RevokeToken(ctx context.Context, id string) error {
	err := s.Store.RevokeToken(ctx, id, s.now())
	if errors.Is(err, ErrNotFound) {
		return Errorf(ENOTFOUND, "No token has id %q.", id)
	}
	return err
}

func newWebhookSecret() Secret {
	return Secret("whsec_" + base64.StdEncoding.EncodeToString(randomBytes(32)))
}
