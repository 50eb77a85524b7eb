package checkout

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/kassa-pay/kassa/locale"
)

// AppPatch changes some of an application's fields; nil fields stay.
type AppPatch struct {
	Name        *string
	WebhookURL  *string
	DisplayName *string
	LogoURL     *string
	AccentColor *string
	// DefaultLanguage is one of locale.Languages' codes, or "" for English.
	DefaultLanguage *string
}

var hexColor = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// UpdateApp validates and applies a patch.
func (s *Service) UpdateApp(ctx context.Context, clientID string, p AppPatch) (*App, error) {
	a, err := s.App(ctx, clientID)
	if err != nil {
		return nil, err
	}
	if err := applyPatch(a, p, s.checkWebhookURL); err != nil {
		return nil, err
	}
	if err := s.Store.UpdateApp(ctx, a); err != nil {
		return nil, err
	}
	if p.WebhookURL != nil && !a.WebhookDisabledAt.IsZero() {
		// Setting the URL again is how a merchant re-enables an endpoint that answered 410.
		if err := s.Store.EnableWebhook(ctx, clientID); err != nil {
			return nil, err
		}
		a.WebhookDisabledAt, a.WebhookDisabledReason = time.Time{}, ""
	}
	return a, nil
}

// applyPatch validates p and applies it to a; checkURL returns what is wrong with a webhook
// URL, or "".
func applyPatch(a *App, p AppPatch, checkURL func(string) string) error {
	fe := fieldErrors{}
	if p.Name != nil {
		if n := strings.TrimSpace(*p.Name); n == "" || len(n) > 100 || !storableText(n) {
			fe.add("name", "must be 1 to 100 characters")
		} else {
			a.Name = n
		}
	}
	if p.WebhookURL != nil {
		if msg := checkURL(*p.WebhookURL); msg != "" {
			fe.add("webhookUrl", msg)
		}
		a.WebhookURL = *p.WebhookURL
	}
	if p.DisplayName != nil {
		if len(*p.DisplayName) > 100 || strings.ContainsAny(*p.DisplayName, "\r\n\x00") || !utf8.ValidString(*p.DisplayName) {
			fe.add("displayName", "must be a single line of at most 100 characters")
		}
		a.DisplayName = strings.TrimSpace(*p.DisplayName)
	}
	if p.LogoURL != nil {
		if *p.LogoURL != "" && (!strings.HasPrefix(*p.LogoURL, "https://") || !httpURL(*p.LogoURL)) {
			fe.add("logoUrl", "must be an absolute https URL")
		}
		a.LogoURL = *p.LogoURL
	}
	if p.AccentColor != nil {
		if *p.AccentColor != "" && !hexColor.MatchString(*p.AccentColor) {
			fe.add("accentColor", "must be a colour such as #0b57d0")
		}
		a.AccentColor = strings.ToLower(*p.AccentColor)
	}
	if p.DefaultLanguage != nil {
		if *p.DefaultLanguage != "" && !locale.Supported(*p.DefaultLanguage) {
			fe.add("defaultLanguage", "must be one of "+strings.Join(locale.Codes(), ", ")+", or empty for English")
		}
		a.DefaultLanguage = *p.DefaultLanguage
	}
	return fe.err()
}

// PaymentQuery is a dashboard request for a page of payments.
type PaymentQuery struct {
	ClientID    string
	Status      string
	CreatedFrom time.Time
	CreatedTo   time.Time
	// Search is a payment id or part of a reference.
	Search string
	// Anchor is the next_anchor of the previous page: the id of this page's first payment.
	Anchor string
	Limit  int
}

// PaymentPage is one page of payments, newest first.
type PaymentPage struct {
	Payments []Payment
	// Count is how many payments match the filters in all.
	Count int
	// NextAnchor names the next page's first payment; empty on the last page.
	NextAnchor string
	Limit      int
}

// MaxPageSize bounds a page of payments, as Onecheckout's orders-list does.
const MaxPageSize = 1024

// ListPayments returns a page of payments. Pages are anchored on a payment rather than an
// offset, so payments created while a merchant pages through never shift or repeat entries.
func (s *Service) ListPayments(ctx context.Context, q PaymentQuery) (PaymentPage, error) {
	fe := fieldErrors{}
	if q.Limit == 0 {
		q.Limit = 20
	}
	if q.Limit < 1 || q.Limit > MaxPageSize {
		fe.add("limit", "must be between 1 and 1024")
	}
	st := PaymentStatus(q.Status)
	if q.Status != "" {
		if _, known := paymentMoves[st]; !known && st != PaymentRefunded {
			fe.add("status", "must be one of open, paid, expired, cancelled, refunded, partially_refunded")
		}
	}
	if len(q.Search) > 200 {
		fe.add("search", "must be at most 200 characters")
	}
	f := PaymentFilter{ClientID: q.ClientID, Status: st, CreatedFrom: q.CreatedFrom, CreatedTo: q.CreatedTo,
		Search: strings.TrimSpace(q.Search), Limit: q.Limit + 1}
	if q.Anchor != "" {
		p, err := s.Store.FindPayment(ctx, q.Anchor)
		if errors.Is(err, ErrNotFound) {
			fe.add("anchor", "is not a payment id from next_anchor")
		} else if err != nil {
			return PaymentPage{}, err
		}
		f.After = p
	}
	if err := fe.err(); err != nil {
		return PaymentPage{}, err
	}
	ps, count, err := s.Store.ListPayments(ctx, f)
	if err != nil {
		return PaymentPage{}, err
	}
	page := PaymentPage{Payments: ps, Count: count, Limit: q.Limit}
	if len(ps) > q.Limit {
		page.NextAnchor = ps[q.Limit].ID
		page.Payments = ps[:q.Limit]
	}
	return page, nil
}

// storableText reports whether v is text a database column can hold: UTF-8 without NUL
// (PostgreSQL refuses either in TEXT).
func storableText(v string) bool {
	return utf8.ValidString(v) && !strings.ContainsRune(v, 0)
}
