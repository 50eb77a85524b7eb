// Package views holds Kassa's templ components: one file per page, each taking a view model
// shaped like its screen rather than database rows.
package views

import (
	"context"
	"strconv"

	"github.com/kassa-pay/kassa/locale"
)

func itoa(n int) string { return strconv.Itoa(n) }

// noticeRole makes errors interrupt a screen reader and other notices wait their turn.
func noticeRole(n Notice) string {
	if n.Kind == "error" {
		return "alert"
	}
	return "status"
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

func hasPhoneOption(os []OptionView) bool {
	for _, o := range os {
		for _, m := range o.Methods {
			if m.NeedsPhone {
				return true
			}
		}
	}
	return false
}

// T renders message id in the request's language (see locale.From); args are name, value pairs.
func T(ctx context.Context, id string, args ...any) string {
	return locale.From(ctx).T(id, args...)
}

// lang is the request's language code, for <html lang>.
func lang(ctx context.Context) string { return locale.From(ctx).Lang() }
