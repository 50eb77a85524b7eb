package checkout

import (
	"context"
	"time"

	"github.com/kassa-pay/kassa/providers"
)

// Store keeps payments, attempts, events, applications and tokens. The db package implements
// it; tests may use it directly with a real SQLite file.
type Store interface {
	CreatePayment(ctx context.Context, p *Payment, ev Event) error
	// FindPayment returns the payment with its attempts, newest first, and its refunds, oldest
	// first, or ErrNotFound.
	FindPayment(ctx context.Context, id string) (*Payment, error)
	// CreateAttempt stores a new attempt. A creating attempt takes its payment+provider+method
	// slot: while another attempt holds it, CreateAttempt stores nothing and answers
	// ErrConflict (a unique constraint, so concurrent requests on any instance agree).
	CreateAttempt(ctx context.Context, a *Attempt, ev Event) error
	FindAttempt(ctx context.Context, id string) (*Attempt, error)
	FindAttemptByProviderRef(ctx context.Context, provider providers.ID, ref string) (*Attempt, error)
	// Apply makes a Change in one transaction, or nothing with ErrConflict when a row is no
	// longer in a state the change starts from.
	Apply(ctx context.Context, c Change) error
	// DueAttempts lists live attempts whose next check is due.
	DueAttempts(ctx context.Context, now time.Time, limit int) ([]Attempt, error)
	// ExpiredPayments lists open payments past their expiry.
	ExpiredPayments(ctx context.Context, now time.Time, limit int) ([]string, error)
	// StaleCreating lists attempts stuck in AttemptCreating since before.
	StaleCreating(ctx context.Context, before time.Time, limit int) ([]Attempt, error)
	Events(ctx context.Context, paymentID string) ([]Event, error)

	CreateApp(ctx context.Context, a *App) error
	FindApp(ctx context.Context, clientID string) (*App, error)
	ListApps(ctx context.Context) ([]App, error)
	// UpdateApp stores the application's name, webhook URL and branding.
	UpdateApp(ctx context.Context, a *App) error
	CreateOAuthClient(ctx context.Context, c *OAuthClient) error
	FindOAuthClient(ctx context.Context, id string) (*OAuthClient, error)
	ListOAuthClients(ctx context.Context) ([]OAuthClient, error)
	// RevokeOAuthClient marks the client revoked and deletes its access tokens; ErrNotFound
	// when there is no such client.
	RevokeOAuthClient(ctx context.Context, id string, at time.Time) error
	// Overview counts what the dashboard's home page shows, for the days starting at days
	// (midnights, oldest first; the last is today).
	Overview(ctx context.Context, days []time.Time) (*Overview, error)
	// CreateAccessToken stores t unless its client is revoked or gone (ErrNotFound).
	CreateAccessToken(ctx context.Context, t *AccessToken) error
	FindAccessToken(ctx context.Context, id string) (*AccessToken, error)
	// ListPayments returns one page of payments, newest first, and the total matching f.
	ListPayments(ctx context.Context, f PaymentFilter) ([]Payment, int, error)
	// SetWebhookSecret replaces the webhook secret, keeping the one it replaces as the
	// previous secret, rotated at at.
	SetWebhookSecret(ctx context.Context, clientID string, secret Secret, at time.Time) error
	CreateToken(ctx context.Context, t *Token) error
	ListTokens(ctx context.Context, clientID string) ([]Token, error)
	// RevokeToken marks the token revoked; ErrNotFound when there is no such token.
	RevokeToken(ctx context.Context, id string, at time.Time) error
	// FindToken returns the token with id (its public half) or ErrNotFound.
	FindToken(ctx context.Context, id string) (*Token, error)
	TouchToken(ctx context.Context, id string, at time.Time) error
	// Setting and PutSetting keep small pieces of instance state (cookie keys, the demo app).
	Setting(ctx context.Context, key string) (string, error)
	PutSettingIfAbsent(ctx context.Context, key, value string) (string, error)

	WebhookStore
	RefundStore
}

// Change is a set of conditional updates applied atomically with their events.
type Change struct {
	Payment *PaymentChange
	Attempt *AttemptChange
	Events  []Event
}

// PaymentChange moves payment ID from one of From to To.
type PaymentChange struct {
	ID     string
	From   []PaymentStatus
	To     PaymentStatus
	PaidAt time.Time // set with To == PaymentPaid
	At     time.Time
}

// AttemptChange moves attempt ID from one of From to To (To may equal a From to only update
// the other fields), setting the non-zero fields.
type AttemptChange struct {
	ID          string
	From        []AttemptStatus
	To          AttemptStatus
	ProviderRef string
	PayURL      string
	Error       string
	// Checks replaces the count of status checks; -1 leaves it.
	Checks      int
	NextCheckAt time.Time
	At          time.Time
	// ReleaseSlot frees the attempt's payment+provider+method slot although it stays live
	// (see AttemptStatus.Holding); a move to a status that does not hold frees it anyway.
	ReleaseSlot bool
}

// PaymentFilter selects a page of payments, newest first. After, when set, is the position
// (created time and id) where the page starts, inclusive.
type PaymentFilter struct {
	ClientID    string
	Status      PaymentStatus
	CreatedFrom time.Time
	CreatedTo   time.Time
	// Search, when set, matches a payment id exactly or a reference containing it.
	Search string
	After  *Payment
	Limit  int
}
