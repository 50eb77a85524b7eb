package checkout

import (
	"context"
	"time"
)

// The demo store (sandbox mode) is a merchant built into Kassa: it keeps its own orders and
// the webhooks it received, as any merchant's server would, to show a newcomer the whole
// integration working.

// DemoWebhook is a webhook the demo store received.
type DemoWebhook struct {
	WebhookID  string
	PaymentID  string
	Type       string
	Verified   bool
	Error      string
	ReceivedAt time.Time
}

// DemoStore keeps the demo store's orders and received webhooks.
type DemoStore interface {
	RecordDemoOrder(ctx context.Context, reference, paymentID string, at time.Time) error
	// FindDemoOrder returns the payment of a demo order, or ErrNotFound.
	FindDemoOrder(ctx context.Context, reference string) (string, error)
	// RecordDemoWebhook keeps the first receipt of each webhook-id.
	RecordDemoWebhook(ctx context.Context, w DemoWebhook) error
	DemoWebhooks(ctx context.Context, paymentID string) ([]DemoWebhook, error)
}
