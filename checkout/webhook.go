package checkout

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kassa-pay/kassa/webhooks"
)

// Merchant webhooks. Every event a merchant must hear about is queued as a Delivery by the
// store in the same transaction as the event (an outbox), so an event is never announced
// without having happened, nor happens without being announced. A WebhookWorker then sends
// each delivery, signed, until the merchant's endpoint answers 2xx or the retry schedule ends.

// The webhook types merchants receive.
const (
	WebhookPaymentPaid              = "payment.paid"
	WebhookPaymentCancelled         = "payment.cancelled"
	WebhookPaymentExpired           = "payment.expired"
	WebhookPaymentPaidTwice         = "payment.paid_twice"
	WebhookPaymentRefunded          = "payment.refunded"
	WebhookPaymentPartiallyRefunded = "payment.partially_refunded"
	WebhookRefundFailed             = "refund.failed"
)

// WebhookEventTypes maps the event types of the log that merchants hear about to the type
// their webhook carries. Internal events (payment.created, attempt.*) are not announced,
// except a second paid attempt, which the merchant must act on (refund one).
var WebhookEventTypes = map[string]string{
	EventPaymentPaid:              WebhookPaymentPaid,
	EventPaymentCancelled:         WebhookPaymentCancelled,
	EventPaymentExpired:           WebhookPaymentExpired,
	EventAttemptPaidTwice:         WebhookPaymentPaidTwice,
	EventPaymentRefunded:          WebhookPaymentRefunded,
	EventPaymentPartiallyRefunded: WebhookPaymentPartiallyRefunded,
	EventRefundFailed:             WebhookRefundFailed,
}

// WebhookType returns the webhook type announcing an event of type eventType, if merchants
// hear about it.
func WebhookType(eventType string) (string, bool) {
	t, ok := WebhookEventTypes[eventType]
	return t, ok
}

// NewWebhookID returns a fresh webhook-id ("msg_" and 26 random characters).
func NewWebhookID() string { return "msg_" + randomID(26) }

// DeliveryStatus is where a delivery stands.
type DeliveryStatus string

// The delivery statuses.
const (
	DeliveryPending   DeliveryStatus = "pending"   // waiting for its next attempt
	DeliveryDelivered DeliveryStatus = "delivered" // the endpoint answered 2xx
	DeliveryFailed    DeliveryStatus = "failed"    // the schedule ended, or it could not be sent
)

// Delivery is one event to announce to one application's webhook URL.
type Delivery struct {
	// ID is the webhook-id, the same on every attempt.
	ID        string
	ClientID  string
	PaymentID string
	EventSeq  int64
	Type      string
	EventAt   time.Time
	Status    DeliveryStatus
	// Body is the signed JSON, made before the first attempt and sent unchanged after.
	Body []byte
	// Tries counts attempts since the delivery was queued or last redelivered.
	Tries         int
	NextAttemptAt time.Time
	LeaseUntil    time.Time
	LeaseOwner    string
	LastError     string
	DeliveredAt   time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
	// Attempts are oldest first; loaded by Deliveries and FindDelivery.
	Attempts []DeliveryAttempt
}

// DeliveryAttempt is one try at sending a delivery.
type DeliveryAttempt struct {
	At         time.Time
	URL        string
	HTTPStatus int
	Error      string
	Duration   time.Duration
	// Response is the first 1 KB of the answer.
	Response string
}

// DeliveryOutcome records an attempt (if one was made) and where the delivery goes next.
type DeliveryOutcome struct {
	ID            string
	Owner         string
	Attempt       *DeliveryAttempt
	Status        DeliveryStatus
	Tries         int
	NextAttemptAt time.Time
	LastError     string
	At            time.Time
}

// DeliveryFilter selects deliveries across payments, newest first.
type DeliveryFilter struct {
	ClientID string // one application's, or all
	Status   DeliveryStatus
	Since    time.Time
	Limit    int
}

// WebhookStore keeps the outbox. Deliveries are inserted by the store itself with their event.
type WebhookStore interface {
	// DueDeliveries lists pending deliveries due at now and not leased, oldest first,
	// leaving out those of the applications in skip.
	DueDeliveries(ctx context.Context, now time.Time, skip []string, limit int) ([]Delivery, error)
	// ClaimDelivery leases a due delivery to owner until until, and sets its body unless it
	// has one; false when another holds it or it is no longer due.
	ClaimDelivery(ctx context.Context, id, owner string, now, until time.Time, body []byte) (bool, error)
	// ClaimDeliveries claims each of ds as ClaimDelivery does (with its Body), in one
	// transaction, and returns the ids won.
	ClaimDeliveries(ctx context.Context, ds []Delivery, owner string, now, until time.Time) (map[string]bool, error)
	FindDelivery(ctx context.Context, id string) (*Delivery, error)
	SetDeliveryBody(ctx context.Context, id string, body []byte) error
	// FinishDeliveries records outcomes, in one transaction, and releases their leases.
	FinishDeliveries(ctx context.Context, os []DeliveryOutcome) error
	// Deliveries lists a payment's deliveries, oldest first, with their attempts.
	Deliveries(ctx context.Context, paymentID string) ([]Delivery, error)
	ListDeliveries(ctx context.Context, f DeliveryFilter) ([]Delivery, error)
	// Redeliver makes a delivery pending again, due at at, with a fresh schedule.
	Redeliver(ctx context.Context, id string, at time.Time) error
	// PruneDeliveries deletes up to limit deliveries delivered before before.
	PruneDeliveries(ctx context.Context, before time.Time, limit int) (int, error)
	// DisableWebhook marks the application's endpoint disabled, if its URL is still url.
	DisableWebhook(ctx context.Context, clientID, url, reason string, at time.Time) error
	EnableWebhook(ctx context.Context, clientID string) error
}

// SecretOverlap is how long after a rotation webhooks are signed with the previous secret
// too, so a merchant can roll over without dropping events.
const SecretOverlap = 24 * time.Hour

// SigningSecrets are the secrets a webhook sent at now is signed with: the current one, and
// the previous one for SecretOverlap after a rotation.
func (a *App) SigningSecrets(now time.Time) []string {
	out := []string{a.WebhookSecret.Reveal()}
	if a.PreviousWebhookSecret != "" && now.Sub(a.WebhookSecretRotatedAt) < SecretOverlap {
		out = append(out, a.PreviousWebhookSecret.Reveal())
	}
	return out
}

// checkWebhookURL is the check every way of setting a webhook URL passes.
func (s *Service) checkWebhookURL(raw string) string {
	if raw == "" {
		return ""
	}
	err := webhooks.CheckURL(raw, s.WebhookAllowPrivate)
	var refused *webhooks.RefusedError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &refused):
		return fmt.Sprintf("must not point at a %s address (%s); Kassa refuses those unless started with --webhook-allow-private",
			refused.Reason, refused.Host)
	case errors.Is(err, webhooks.ErrInvalidURL) && err != webhooks.ErrInvalidURL:
		return "must be an absolute http or https URL" + strings.TrimPrefix(err.Error(), webhooks.ErrInvalidURL.Error())
	}
	return "must be an absolute http or https URL"
}

// WebhookDeliveries lists a payment's webhook deliveries with their attempts, oldest first.
func (s *Service) WebhookDeliveries(ctx context.Context, paymentID string) ([]Delivery, error) {
	return s.Store.Deliveries(ctx, paymentID)
}

// Redeliver queues a delivery to be sent again now, under the same webhook-id, with a fresh
// retry schedule.
func (s *Service) Redeliver(ctx context.Context, id string) (*Delivery, error) {
	err := s.Store.Redeliver(ctx, id, s.now())
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(ENOTFOUND, "No webhook delivery has id %q.", id)
	} else if err != nil {
		return nil, err
	}
	return s.Store.FindDelivery(ctx, id)
}

// AppDeliveries lists an application's most recent deliveries, newest first, without their
// attempts (for the dashboard's webhook section).
func (s *Service) AppDeliveries(ctx context.Context, clientID string, limit int) ([]Delivery, error) {
	return s.Store.ListDeliveries(ctx, DeliveryFilter{ClientID: clientID, Limit: limit})
}

// FailedDeliveries lists failed deliveries created since since, newest first.
func (s *Service) FailedDeliveries(ctx context.Context, since time.Time, limit int) ([]Delivery, error) {
	return s.Store.ListDeliveries(ctx, DeliveryFilter{Status: DeliveryFailed, Since: since, Limit: limit})
}

// webhookBody is what a delivery sends: the type, the event's time, and the payment as the
// API shows it.
func (s *Service) webhookBody(ctx context.Context, d *Delivery) ([]byte, error) {
	p, err := s.Store.FindPayment(ctx, d.PaymentID)
	if err != nil {
		return nil, fmt.Errorf("webhook %s: payment %s: %w", d.ID, d.PaymentID, err)
	}
	return marshalWebhook(d.Type, d.EventAt, s.View(p))
}
