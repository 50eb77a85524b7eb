package checkout

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kassa-pay/kassa/providers/currency"
)

// Link is a payment link: a reusable price a merchant shares as a URL, a QR code or an HTML
// button, from which each shopper creates their own payment. It lets a merchant with no server
// sell: Kassa computes every payment's amount from the link, never from the shopper's form.
//
// The limit on payments (MaxPayments) counts the payments that are paid or still payable
// (open and not past their expiry), not every payment created and not only the paid ones:
//   - counting paid payments alone cannot be enforced, because two shoppers may both be at a
//     provider paying for the last item and Kassa cannot stop the second provider taking money;
//   - counting every payment created would let abandoned checkouts use the link up for good.
//
// So a shopper who presses "Continue to payment" holds one of the places until the payment is
// paid (kept for good) or expires or is cancelled (given back) and no attempt of it is still
// live at a provider (one that is may still be paid, so it keeps the place). Link payments expire after
// LinkPaymentTTL, so an abandoned place comes back soon. Two shoppers racing for the last place
// cannot both get it: the store counts and inserts in one write transaction with the link's
// row locked (LinkStore.CreateLinkPayment).
type Link struct {
	// ID is "plink_" and 26 random characters: unguessable, since the URL is public.
	ID          string
	ClientID    string
	Name        string
	Description string
	Currency    string
	// UnitAmount is the price of one: the fixed amount, or the total of LineItems.
	UnitAmount int64
	// LineItems, when set, are what one unit of the link buys.
	LineItems []LineItem
	// Adjustable lets the shopper choose a quantity in QuantityMin..QuantityMax; otherwise
	// the quantity is 1.
	Adjustable  bool
	QuantityMin int64
	QuantityMax int64
	// MaxPayments limits the payments that are paid or payable; 0 is no limit.
	MaxPayments int64
	// ExpiresAt, when set, is when the link stops taking payments.
	ExpiresAt time.Time
	// SuccessURL is where the thank-you page sends the shopper, with {PAYMENT_ID} replaced by
	// the payment's id; empty keeps Kassa's own thank-you page.
	SuccessURL string
	// Metadata is copied into every payment created from the link.
	Metadata  map[string]string
	Active    bool
	CreatedAt time.Time
	UpdatedAt time.Time
	// Counts are computed from the link's payments when the link is read.
	Counts LinkCounts
}

// LinkCounts are a link's counters, computed from the payments that record it, so they always
// agree with those payments' statuses.
type LinkCounts struct {
	// Created counts every payment created from the link.
	Created int64
	// Paid counts the payments that were paid (refunded ones included).
	Paid int64
	// Held counts the payments that hold one of MaxPayments' places: paid, open and not
	// past expiry, or with an attempt still live at a provider.
	Held int64
	// Collected is the amount of the paid payments, per currency.
	Collected []Money
}

// LinkPaymentTTL is how long a payment created from a link stays payable: long enough to pay,
// short enough that an abandoned checkout gives its place back soon.
const LinkPaymentTTL = 30 * time.Minute

// PaymentIDPlaceholder is replaced by the payment's id in a link's success URL.
const PaymentIDPlaceholder = "{PAYMENT_ID}"

// Bounds of a link.
const (
	maxLinkQuantity = 10_000
	// maxLineQuantity bounds a payment's line item quantity, as for payments made by the API.
	maxLineQuantity = 1_000_000
	maxLinkPayments = 1_000_000_000
)

// LinkStore keeps payment links. The db package implements it beside Store; a Service whose
// Store does not implement it has no payment links.
type LinkStore interface {
	CreateLink(ctx context.Context, l *Link) error
	// FindLink returns the link with its counts, or ErrNotFound.
	FindLink(ctx context.Context, id string) (*Link, error)
	// ListLinks returns links newest first, of one application or (clientID "") of all.
	ListLinks(ctx context.Context, clientID string, limit int) ([]Link, error)
	// UpdateLink stores the link's changeable fields (not its price); ErrNotFound when missing.
	UpdateLink(ctx context.Context, l *Link) error
	// CreateLinkPayment stores payment p of link p.LinkID with its event, in one write
	// transaction that first locks the link's row, then inserts p only if the link is active,
	// not expired at now, and (maxPayments > 0) fewer than maxPayments of its payments are paid
	// or open past now. Otherwise it stores nothing and returns ErrConflict.
	CreateLinkPayment(ctx context.Context, p *Payment, ev Event, maxPayments int64, now time.Time) error
	// LinkPayments returns the newest payments created from link id, without attempts.
	LinkPayments(ctx context.Context, id string, limit int) ([]Payment, error)
}

func (s *Service) linkStore() (LinkStore, error) {
	ls, ok := s.Store.(LinkStore)
	if !ok {
		return nil, errors.New("checkout: the store keeps no payment links")
	}
	return ls, nil
}

// LinkQuantity is the shopper's quantity range, when the link has one.
type LinkQuantity struct{ Min, Max int64 }

// NewLink is a merchant's request for a payment link.
type NewLink struct {
	ClientID    string
	Name        string
	Description string
	// Amount is the fixed price of one; with LineItems it must be 0 or their total.
	Amount      int64
	Currency    string
	LineItems   []LineItem
	Quantity    *LinkQuantity
	MaxPayments int64
	ExpiresAt   time.Time
	SuccessURL  string
	Metadata    map[string]string
}

// LinkPatch changes some of a link's fields; nil fields stay. The price, currency and
// quantity range cannot change: printed QR codes and pasted buttons keep pointing at the link,
// and a shopper must pay what the merchant advertised. A new price is a new link.
type LinkPatch struct {
	Name        *string
	Description *string
	Active      *bool
	// MaxPayments: 0 removes the limit.
	MaxPayments *int64
	// ExpiresAt: the zero time removes the expiry.
	ExpiresAt  *time.Time
	SuccessURL *string
	Metadata   map[string]string
	// SetMetadata tells a nil Metadata (clear) from an absent one.
	SetMetadata bool
}

// CreateLink validates and stores a new active payment link.
func (s *Service) CreateLink(ctx context.Context, n NewLink) (*Link, error) {
	ls, err := s.linkStore()
	if err != nil {
		return nil, err
	}
	l, err := s.buildLink(n)
	if err != nil {
		return nil, err
	}
	if _, err := s.App(ctx, n.ClientID); err != nil {
		if ErrorCode(err) == ENOTFOUND {
			return nil, &Error{Code: EINVALID, Message: "The request has invalid fields.",
				Fields: map[string]string{"clientId": "is not a payment application"}}
		}
		return nil, err
	}
	if err := ls.CreateLink(ctx, l); err != nil {
		return nil, fmt.Errorf("create link: %w", err)
	}
	return l, nil
}

// ValidateLink checks a link request without creating anything.
func (s *Service) ValidateLink(n NewLink) error {
	_, err := s.buildLink(n)
	return err
}

// buildLink makes the link n asks for, or the EINVALID error naming what is wrong.
func (s *Service) buildLink(n NewLink) (*Link, error) {
	now := s.now()
	fe := fieldErrors{}
	if n.ClientID == "" {
		fe.add("clientId", "is required")
	}
	l := &Link{
		ID: "plink_" + randomID(26), ClientID: n.ClientID, Name: strings.TrimSpace(n.Name),
		Description: strings.TrimSpace(n.Description), Currency: n.Currency, LineItems: n.LineItems,
		QuantityMin: 1, QuantityMax: 1, MaxPayments: n.MaxPayments, ExpiresAt: n.ExpiresAt.UTC().Truncate(time.Millisecond),
		SuccessURL: n.SuccessURL, Metadata: n.Metadata, Active: true, CreatedAt: now, UpdatedAt: now,
	}
	if !currency.Valid(n.Currency) {
		fe.add("currencyCode", "must be an ISO 4217 currency code such as USD")
	}
	switch {
	case len(n.LineItems) == 0:
		if n.Amount <= 0 || n.Amount > maxAmount {
			fe.add("amount", "must be a positive whole number of minor units (cents), or give lineItems")
		}
		l.UnitAmount = n.Amount
	case len(n.LineItems) > maxLineItems:
		fe.add("lineItems", fmt.Sprintf("at most %d line items", maxLineItems))
	default:
		total := linesTotal(n.LineItems, fe)
		if total <= 0 {
			fe.add("lineItems", "must add up to a positive amount")
		} else if total > maxAmount {
			fe.add("lineItems", "add up to too large an amount")
		}
		if n.Amount != 0 && n.Amount != total {
			fe.add("amount", fmt.Sprintf("line items total %d, but amount is %d (leave amount out with lineItems)", total, n.Amount))
		}
		l.UnitAmount = total
	}
	if q := n.Quantity; q != nil {
		l.Adjustable, l.QuantityMin, l.QuantityMax = true, q.Min, q.Max
		switch {
		case q.Min < 1 || q.Min > maxLinkQuantity:
			fe.add("quantity.min", fmt.Sprintf("must be between 1 and %d", maxLinkQuantity))
		case q.Max < q.Min || q.Max > maxLinkQuantity:
			fe.add("quantity.max", fmt.Sprintf("must be between quantity.min and %d", maxLinkQuantity))
		case l.UnitAmount > 0 && l.UnitAmount > maxAmount/q.Max:
			fe.add("quantity.max", "makes the largest payment too large")
		default:
			for _, li := range l.LineItems {
				if li.Quantity > 0 && li.Quantity > maxLineQuantity/q.Max {
					fe.add("quantity.max", fmt.Sprintf("times a line item's quantity must stay within %d", maxLineQuantity))
				}
			}
		}
	}
	validateLinkFields(l, now, fe, true)
	if err := fe.err(); err != nil {
		return nil, err
	}
	return l, nil
}

// linesTotal checks line items and returns their total (maxAmount+1 when it is too large).
func linesTotal(lines []LineItem, fe fieldErrors) int64 {
	var total int64
	for i, li := range lines {
		f := fmt.Sprintf("lineItems[%d]", i)
		if n := strings.TrimSpace(li.Name); n == "" || utf8.RuneCountInString(li.Name) > 255 || strings.ContainsAny(li.Name, "\x00\r\n") {
			fe.add(f+".name", "must be 1 to 255 characters on one line")
		}
		if li.Quantity <= 0 || li.Quantity > 1_000_000 {
			fe.add(f+".quantity", "must be between 1 and 1000000")
			continue
		}
		if li.UnitAmount < 0 || li.UnitAmount > maxAmount {
			fe.add(f+".unitAmount", "must be a non-negative whole number of minor units")
			continue
		}
		if li.UnitAmount > 0 && li.UnitAmount > (maxAmount-total)/li.Quantity {
			return maxAmount + 1
		}
		total += li.Quantity * li.UnitAmount
	}
	if total > maxAmount {
		return maxAmount + 1
	}
	return total
}

// validateLinkFields checks the fields a patch may change too.
func validateLinkFields(l *Link, now time.Time, fe fieldErrors, creating bool) {
	switch {
	case l.Name == "":
		fe.add("name", "is required")
	case utf8.RuneCountInString(l.Name) > 100 || strings.ContainsAny(l.Name, "\x00\r\n") || !utf8.ValidString(l.Name):
		fe.add("name", "must be one line of at most 100 characters")
	}
	if utf8.RuneCountInString(l.Description) > 1000 || !utf8.ValidString(l.Description) || strings.ContainsRune(l.Description, 0) {
		fe.add("description", "must be at most 1000 characters")
	}
	if l.MaxPayments < 0 || l.MaxPayments > maxLinkPayments {
		fe.add("maxPayments", fmt.Sprintf("must be between 1 and %d, or absent for no limit", maxLinkPayments))
	}
	if !l.ExpiresAt.IsZero() && creating && !l.ExpiresAt.After(now) {
		fe.add("expiresAt", "must be in the future")
	}
	if u := l.SuccessURL; u != "" && !httpURL(strings.ReplaceAll(u, PaymentIDPlaceholder, "pay_x")) {
		fe.add("successUrl", "must be an absolute http or https URL; {PAYMENT_ID} is replaced by the payment's id")
	}
	if len(l.Metadata) > maxMetadataKeys {
		fe.add("metadata", fmt.Sprintf("at most %d keys", maxMetadataKeys))
	}
	size := 0
	for k, v := range l.Metadata {
		size += len(k) + len(v)
		if k == "" || len(k) > 40 {
			fe.add("metadata", "keys must be 1 to 40 characters")
		}
	}
	if size > maxMetadataSize {
		fe.add("metadata", fmt.Sprintf("at most %d bytes in all", maxMetadataSize))
	}
}

// Link returns the link with id and its counts.
func (s *Service) Link(ctx context.Context, id string) (*Link, error) {
	ls, err := s.linkStore()
	if err != nil {
		return nil, err
	}
	l, err := ls.FindLink(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, Errorf(ENOTFOUND, "No payment link has id %q.", id)
	}
	return l, err
}

// Links lists links, newest first: one application's, or every one for clientID "".
func (s *Service) Links(ctx context.Context, clientID string, limit int) ([]Link, error) {
	ls, err := s.linkStore()
	if err != nil {
		return nil, err
	}
	return ls.ListLinks(ctx, clientID, limit)
}

// LinkPayments lists the newest payments created from link id (without their attempts).
func (s *Service) LinkPayments(ctx context.Context, id string, limit int) ([]Payment, error) {
	ls, err := s.linkStore()
	if err != nil {
		return nil, err
	}
	if _, err := s.Link(ctx, id); err != nil {
		return nil, err
	}
	return ls.LinkPayments(ctx, id, limit)
}

// UpdateLink validates and applies a patch to link id.
func (s *Service) UpdateLink(ctx context.Context, id string, p LinkPatch) (*Link, error) {
	ls, err := s.linkStore()
	if err != nil {
		return nil, err
	}
	l, err := s.Link(ctx, id)
	if err != nil {
		return nil, err
	}
	if p.Name != nil {
		l.Name = strings.TrimSpace(*p.Name)
	}
	if p.Description != nil {
		l.Description = strings.TrimSpace(*p.Description)
	}
	if p.Active != nil {
		l.Active = *p.Active
	}
	if p.MaxPayments != nil {
		l.MaxPayments = *p.MaxPayments
	}
	fe := fieldErrors{}
	if p.ExpiresAt != nil {
		l.ExpiresAt = p.ExpiresAt.UTC().Truncate(time.Millisecond)
		if !l.ExpiresAt.IsZero() && !l.ExpiresAt.After(s.now()) {
			fe.add("expiresAt", "must be in the future")
		}
	}
	if p.SuccessURL != nil {
		l.SuccessURL = *p.SuccessURL
	}
	if p.SetMetadata {
		l.Metadata = p.Metadata
	}
	validateLinkFields(l, s.now(), fe, false)
	if err := fe.err(); err != nil {
		return nil, err
	}
	l.UpdatedAt = s.now()
	if err := ls.UpdateLink(ctx, l); errors.Is(err, ErrNotFound) {
		return nil, Errorf(ENOTFOUND, "No payment link has id %q.", id)
	} else if err != nil {
		return nil, err
	}
	return s.Link(ctx, id)
}

// LinkClosed says why a link takes no payments, or "" when it does.
type LinkClosed string

// Why a link takes no payments.
const (
	LinkInactive LinkClosed = "inactive"
	LinkExpired  LinkClosed = "expired"
	// LinkUsedUp: MaxPayments payments were paid; it will not open again by itself.
	LinkUsedUp LinkClosed = "used_up"
	// LinkHeld: every place is held by a payment still being paid; one may come back.
	LinkHeld LinkClosed = "held"
)

// Closed says why the link takes no payment at now, from its counts, or "".
func (l *Link) Closed(now time.Time) LinkClosed {
	switch {
	case !l.Active:
		return LinkInactive
	case !l.ExpiresAt.IsZero() && !now.Before(l.ExpiresAt):
		return LinkExpired
	case l.MaxPayments > 0 && l.Counts.Paid >= l.MaxPayments:
		return LinkUsedUp
	case l.MaxPayments > 0 && l.Counts.Held >= l.MaxPayments:
		return LinkHeld
	}
	return ""
}

// LinkClosedError is the error of a payment asked of a closed link.
type LinkClosedError struct{ Why LinkClosed }

func (e *LinkClosedError) Error() string { return "checkout: payment link " + string(e.Why) }

// Price is what quantity q of the link costs, with the line items of the payment. A quantity
// outside the link's range is an EINVALID error on field "quantity".
func (l *Link) Price(q int64) (int64, []LineItem, error) {
	if q < l.QuantityMin || q > l.QuantityMax {
		msg := "must be " + strconv.FormatInt(l.QuantityMin, 10)
		if l.QuantityMax != l.QuantityMin {
			msg = fmt.Sprintf("must be between %d and %d", l.QuantityMin, l.QuantityMax)
		}
		min, max := strconv.FormatInt(l.QuantityMin, 10), strconv.FormatInt(l.QuantityMax, 10)
		return 0, nil, &Error{Code: EINVALID, Message: "Choose a quantity " + strings.TrimPrefix(msg, "must be ") + ".",
			Fields: map[string]string{"quantity": msg}, Shopper: Say("link.chooseQuantity", "Min", min, "Max", max),
			ShopperFields: map[string]Message{"quantity": Say("link.quantityError", "Min", min, "Max", max)}}
	}
	if len(l.LineItems) == 0 {
		return l.UnitAmount * q, []LineItem{{Name: l.Name, Quantity: q, UnitAmount: l.UnitAmount}}, nil
	}
	lines := make([]LineItem, len(l.LineItems))
	for i, li := range l.LineItems {
		lines[i] = LineItem{Name: li.Name, Quantity: li.Quantity * q, UnitAmount: li.UnitAmount}
	}
	return l.UnitAmount * q, lines, nil
}

// PayLink creates a payment of quantity q from link id, its amount computed here from the
// link alone. A closed link is an ECONFLICT error wrapping *LinkClosedError.
func (s *Service) PayLink(ctx context.Context, id string, q int64) (*Payment, error) {
	ls, err := s.linkStore()
	if err != nil {
		return nil, err
	}
	l, err := s.Link(ctx, id)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if why := l.Closed(now); why != "" {
		return nil, &Error{Code: ECONFLICT, Message: "This payment link takes no payments now.", Err: &LinkClosedError{Why: why}}
	}
	amount, lines, err := l.Price(q)
	if err != nil {
		return nil, err
	}
	meta := make(map[string]string, len(l.Metadata))
	for k, v := range l.Metadata {
		meta[k] = v
	}
	p := &Payment{
		ID: "pay_" + randomID(26), ClientID: l.ClientID, Money: Money{Amount: amount, Currency: l.Currency},
		Reference: l.ID, ReferenceLabel: l.Name, LineItems: lines, Metadata: meta, Status: PaymentOpen,
		ExpiresAt: now.Add(LinkPaymentTTL), CreatedAt: now, UpdatedAt: now, LinkID: l.ID,
	}
	if l.SuccessURL != "" {
		p.SuccessURL = strings.ReplaceAll(l.SuccessURL, PaymentIDPlaceholder, p.ID)
	}
	ev := Event{PaymentID: p.ID, Type: EventPaymentCreated, CreatedAt: now,
		Data: map[string]any{"amount": p.Amount, "currency": p.Currency, "reference": p.Reference, "linkId": l.ID, "quantity": q}}
	err = ls.CreateLinkPayment(ctx, p, ev, l.MaxPayments, now)
	if errors.Is(err, ErrConflict) {
		// Another shopper took the last place, or the link changed since it was read: say
		// which from a fresh read.
		why := LinkHeld
		if fresh, ferr := s.Link(ctx, id); ferr == nil && fresh.Closed(now) != "" {
			why = fresh.Closed(now)
		}
		return nil, &Error{Code: ECONFLICT, Message: "This payment link takes no payments now.", Err: &LinkClosedError{Why: why}}
	} else if err != nil {
		return nil, fmt.Errorf("create link payment: %w", err)
	}
	return p, nil
}

// LinkClosed says why link l takes no payment now, or "".
func (s *Service) LinkClosed(l *Link) LinkClosed { return l.Closed(s.now()) }

// ClosedReason returns why err refused a link payment, or "".
func ClosedReason(err error) LinkClosed {
	var e *LinkClosedError
	if errors.As(err, &e) {
		return e.Why
	}
	return ""
}
