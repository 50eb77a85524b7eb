// Package providertest is the conformance suite every provider adapter passes against its own
// sandbox, and the conventions every sandbox follows so one suite can drive them all.
//
// Sandbox conventions (providers/<id>/sandbox):
//
//   - The sandbox is an http.Handler speaking the provider's documented API on its documented
//     paths, mounted by Kassa under /sandbox/<id>; absolute links it returns are built from the
//     request's host and its configured mount prefix.
//   - Its hosted pay page has one <form method="post"> holding three buttons
//     <button type="submit" name="action" value="pay|decline|cancel"> labelled Pay, Decline and
//     Cancel; submitting it answers 303 to where the real provider would send the browser.
//   - Outcomes and faults are chosen by magic amounts, in major units whatever the currency
//     (the constants below), and every sandbox's README lists the ones it honours.
package providertest

import "net/http"

// Magic amounts in major units. An order whose total is one of these behaves as described;
// every other amount behaves normally.
const (
	// MagicDecline: paying succeeds on the page, but the payment is declined, as a card
	// refused by the issuer would be.
	MagicDecline = 402
	// MagicCreateServerError: creating the order answers the provider's 5xx error without
	// creating anything.
	MagicCreateServerError = 500
	// MagicCreateRateLimited: creating the order answers 429.
	MagicCreateRateLimited = 429
	// MagicCreateSlow: the order is created at once, but the answer comes only after the
	// sandbox's configured slow delay, beyond the client's timeout: the caller cannot know
	// the provider acted.
	MagicCreateSlow = 504
	// MagicCreateResetAfterActing: the order is created, then the connection is dropped
	// without an answer (a reset after the request was acted on).
	MagicCreateResetAfterActing = 521
	// MagicCreateServerErrorAfterActing: the order is created, then the provider answers its
	// 5xx error anyway.
	MagicCreateServerErrorAfterActing = 502
	// MagicFetchServerError: the order is created normally, but every status lookup of it
	// answers the provider's 5xx error (the provider is down during verification).
	MagicFetchServerError = 503
	// MagicAuthorizeOnly: paying only authorizes; the order needs a capture. Sandboxes of
	// providers without capture ignore it.
	MagicAuthorizeOnly = 202
)

// Magic refund amounts in major units, for sandboxes of providers with a refund API. Asking
// about a refund again (the same refund id) is what settles a pending one.
const (
	// MagicRefundPending: the refund is accepted but pending; asked about again, it succeeds.
	MagicRefundPending = 202
	// MagicRefundDeclined: the provider refuses the refund at once.
	MagicRefundDeclined = 402
	// MagicRefundPendingThenDeclined: pending at first; asked about again, it is refused.
	MagicRefundPendingThenDeclined = 408
)

// ResetConnection drops the client's connection without an answer, as a provider whose
// connection is reset after it acted on the request. Sandboxes call it for
// MagicCreateResetAfterActing once the order exists.
func ResetConnection(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	conn, _, err := rc.Hijack()
	if err != nil {
		// Not hijackable (HTTP/2, a recorder): abort the handler, which net/http turns into a
		// dropped stream or connection.
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(interface{ SetLinger(int) error }); ok {
		tc.SetLinger(0) // a reset (RST), not an orderly close
	}
	conn.Close()
}
