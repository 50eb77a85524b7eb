package checkout

import "context"

// IdempotentRequest is what an idempotency key holds when a request claims it.
type IdempotentRequest struct {
	// Claimed is true when this request now owns the key and must run.
	Claimed bool
	// SameRequest is false when the key was used with a different request.
	SameRequest bool
	// Done is true when the first request finished; Status and Body are its response.
	Done   bool
	Status int
	Body   []byte
}

// IdempotencyStore keeps the merchant API's idempotency keys, per application.
type IdempotencyStore interface {
	ClaimIdempotencyKey(ctx context.Context, clientID, key, requestHash string) (IdempotentRequest, error)
	FinishIdempotencyKey(ctx context.Context, clientID, key string, status int, body []byte) error
	ReleaseIdempotencyKey(ctx context.Context, clientID, key string) error
	// ExtendIdempotencyKey renews the lease of a claim whose request is still running, so a
	// slow request is not taken for a crashed one and run a second time.
	ExtendIdempotencyKey(ctx context.Context, clientID, key string) error
}
