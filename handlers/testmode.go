package handlers

import (
	"context"

	"github.com/kassa-pay/kassa/checkout"
)

// touchesSimulator reports whether a page about p involves a simulated provider, and so must
// say "Test mode": an attempt of p went to a simulator (the pending and thank-you pages), or p
// is open and a simulator is among the providers serving its currency (the checkout page).
func (s *Server) touchesSimulator(ctx context.Context, p *checkout.Payment) bool {
	if len(s.Simulated) == 0 {
		return false
	}
	if s.allSimulated() {
		return true // plain sandbox mode: no need to ask which providers serve p
	}
	for _, a := range p.Attempts {
		if s.Simulated[a.Provider] {
			return true
		}
	}
	if p.Status != checkout.PaymentOpen {
		return false
	}
	for _, pr := range s.Checkout.Providers.ForCurrency(ctx, p.Currency) {
		if s.Simulated[pr.ID()] {
			return true
		}
	}
	return false
}

// allSimulated reports whether every configured provider is a simulator.
func (s *Server) allSimulated() bool {
	for _, pr := range s.Checkout.Providers.All() {
		if !s.Simulated[pr.ID()] {
			return false
		}
	}
	return true
}
