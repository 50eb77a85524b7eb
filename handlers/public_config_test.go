package handlers_test

import (
	"github.com/kassa-pay/kassa/handlers"
	"github.com/kassa-pay/kassa/providers"
)

// limitPublic gives the env a per-address limit on the public routes of perMinute requests,
// believing X-Forwarded-For from the proxies named.
func (e *env) limitPublic(perMinute int, trustedProxies ...string) {
	e.server.PublicRateLimit = handlers.NewRateLimiter(perMinute)
	e.server.TrustedProxies = trustedProxies
	e.rebuild()
}

// simulate marks providers as simulated (sandbox mode).
func (e *env) simulate(ids ...providers.ID) {
	e.server.Simulated = map[providers.ID]bool{}
	for _, id := range ids {
		e.server.Simulated[id] = true
	}
	e.rebuild()
}
