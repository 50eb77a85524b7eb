package checkout

import (
	"context"

	"github.com/kassa-pay/kassa/providers"
	"github.com/kassa-pay/kassa/providers/health"
)

// ProviderBreakers tells which providers may be offered to shoppers right now;
// *health.Breakers implements it.
type ProviderBreakers interface {
	// Available reports whether the provider's circuit breaker is closed.
	Available(ctx context.Context, id providers.ID) bool
	// States returns every configured provider's breaker, read now.
	States(ctx context.Context) ([]health.Status, error)
}

// ProviderHealth is one configured provider's circuit breaker, for operators (the readiness
// answer, the dashboard).
type ProviderHealth struct {
	health.Status
	Name string `json:"name"`
}

// ProviderHealth returns the breaker of every configured provider, in display order; every
// breaker is closed when Kassa runs without breakers.
func (s *Service) ProviderHealth(ctx context.Context) ([]ProviderHealth, error) {
	byID := map[providers.ID]health.Status{}
	if s.Breakers != nil {
		states, err := s.Breakers.States(ctx)
		if err != nil {
			return nil, err
		}
		for _, st := range states {
			byID[st.Provider] = st
		}
	}
	var out []ProviderHealth
	for _, pr := range s.Providers.All() {
		st, ok := byID[pr.ID()]
		if !ok {
			st = health.Status{Provider: pr.ID(), State: health.Closed}
		}
		out = append(out, ProviderHealth{Status: st, Name: pr.Name()})
	}
	return out, nil
}

// offered reports whether provider id may be offered to shoppers: its breaker is not open.
func (s *Service) offered(ctx context.Context, id providers.ID) bool {
	return s.Breakers == nil || s.Breakers.Available(ctx, id)
}

// ProvidersDown reports whether p's currency is served by configured providers but every one
// of them is taken off for now (its breaker open): the shopper should try again in a few
// minutes rather than be told nobody takes this currency.
func (s *Service) ProvidersDown(ctx context.Context, p *Payment) bool {
	serving := s.Providers.ForCurrency(ctx, p.Currency)
	for _, pr := range serving {
		if s.offered(ctx, pr.ID()) {
			return false
		}
	}
	return len(serving) > 0
}
