package checkout

// NeedsReview says why a payment needs a person's attention, or "" when it does not: today,
// when more than one of its attempts was paid (the shopper paid twice; one must be refunded).
// Payments must be loaded with their attempts.
func (p *Payment) NeedsReview() string {
	paid := 0
	for _, a := range p.Attempts {
		if a.Status == AttemptPaid {
			paid++
		}
	}
	if paid > 1 {
		return "paid twice"
	}
	return ""
}
