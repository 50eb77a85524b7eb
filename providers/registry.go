package providers

import (
	"context"
	"log/slog"
	"slices"
)

// Registry holds the configured providers in the order shoppers see them.
type Registry struct {
	list []Provider
	byID map[ID]Provider
}

// NewRegistry registers ps; a second provider with an ID already registered replaces nothing
// and is a programming error, so it panics.
func NewRegistry(ps ...Provider) *Registry {
	r := &Registry{byID: make(map[ID]Provider, len(ps))}
	for _, p := range ps {
		if _, dup := r.byID[p.ID()]; dup {
			panic("providers: duplicate provider " + string(p.ID()))
		}
		r.byID[p.ID()] = p
		r.list = append(r.list, p)
	}
	return r
}

// Get returns the provider with id.
func (r *Registry) Get(id ID) (Provider, bool) {
	p, ok := r.byID[id]
	return p, ok
}

// All returns every provider in display order.
func (r *Registry) All() []Provider { return slices.Clone(r.list) }

// ForCurrency returns the providers serving currency. A provider whose currency list cannot
// be fetched right now is left out (and logged) rather than failing the whole page: the
// shopper can still pay with the others.
func (r *Registry) ForCurrency(ctx context.Context, currency string) []Provider {
	var out []Provider
	for _, p := range r.list {
		cs, err := p.Currencies(ctx)
		if err != nil {
			slog.WarnContext(ctx, "provider currencies unavailable", "provider", p.ID(), "err", err)
			continue
		}
		if slices.Contains(cs, currency) {
			out = append(out, p)
		}
	}
	return out
}
