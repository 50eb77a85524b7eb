package locale

import (
	"context"
	"regexp"
	"slices"
	"testing"
	"time"
)

func TestChoose(t *testing.T) {
	for _, tc := range []struct {
		name                         string
		query, cookie, accept, appDf string
		want                         string
	}{
		{"nothing: English", "", "", "", "", "en"},
		{"query wins over everything", "fr", "hi", "sw", "pt", "fr"},
		{"query with region", "pt-BR", "", "", "", "pt"},
		{"query in capitals", "NY", "", "", "", "ny"},
		{"unknown query falls through to cookie", "xx", "hi", "sw", "", "hi"},
		{"cookie over header", "", "sw", "fr", "", "sw"},
		{"unknown cookie falls through to header", "", "zz", "fr-CA,fr;q=0.9", "", "fr"},
		{"header by quality, not order", "", "", "de;q=0.9, hi;q=0.5, sw;q=0.8", "", "sw"},
		{"header skips unsupported first choice", "", "", "de-DE, pt;q=0.3", "", "pt"},
		{"header q=0 refuses a language", "", "", "fr;q=0, ny;q=0.1", "", "ny"},
		{"header wildcard alone: app default", "", "", "*", "hi", "hi"},
		{"malformed q counts as refused", "", "", "fr;q=abc, sw;q=0.2", "", "sw"},
		{"app default when header has nothing we speak", "", "", "de, it;q=0.8", "ny", "ny"},
		{"unknown app default: English", "", "", "", "klingon", "en"},
		{"garbage everywhere: English", "../../etc", "\x00", ";;;,,,q=", "x", "en"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Choose(tc.query, tc.cookie, tc.accept, tc.appDf); got != tc.want {
				t.Errorf("Choose(%q, %q, %q, %q) = %q, want %q", tc.query, tc.cookie, tc.accept, tc.appDf, got, tc.want)
			}
		})
	}
}

// TestMoneyGolden pins how each language writes money in the currencies Kassa's providers
// serve, with 0, 2 and 3 decimals. The separators are CLDR's: narrow no-break space (U+202F)
// for French grouping, no-break space (U+00A0) between symbol and number.
func TestMoneyGolden(t *testing.T) {
	const amount = 123456789 // minor units
	want := map[string]map[string]string{
		"en": {"USD": "$1,234,567.89", "INR": "₹1,234,567.89", "MWK": "MWK\u00a01,234,567.89", "JPY": "¥123,456,789", "KWD": "KWD\u00a0123,456.789"},
		"fr": {"USD": "1\u202f234\u202f567,89\u00a0$US", "INR": "1\u202f234\u202f567,89\u00a0₹", "MWK": "1\u202f234\u202f567,89\u00a0MWK", "JPY": "123\u202f456\u202f789\u00a0¥", "KWD": "123\u202f456,789\u00a0KWD"},
		"pt": {"USD": "US$\u00a01.234.567,89", "INR": "₹\u00a01.234.567,89", "MWK": "MWK\u00a01.234.567,89", "JPY": "JP¥\u00a0123.456.789", "KWD": "KWD\u00a0123.456,789"},
		"sw": {"USD": "US$\u00a01,234,567.89", "INR": "₹\u00a01,234,567.89", "MWK": "MWK\u00a01,234,567.89", "JPY": "JP¥\u00a0123,456,789", "KWD": "KWD\u00a0123,456.789"},
		// Chichewa borrows English-in-Malawi: the kwacha is "MK".
		"ny": {"USD": "US$1,234,567.89", "INR": "₹1,234,567.89", "MWK": "MK\u00a01,234,567.89", "JPY": "JP¥123,456,789", "KWD": "KWD\u00a0123,456.789"},
		// Hindi groups by lakh and crore.
		"hi": {"USD": "$12,34,567.89", "INR": "₹12,34,567.89", "MWK": "MWK\u00a012,34,567.89", "JPY": "JP¥12,34,56,789", "KWD": "KWD\u00a01,23,456.789"},
	}
	c := MustLoad()
	for _, l := range Languages {
		for cur, w := range want[l.Code] {
			if got := c.Translator(l.Code).Money(amount, cur); got != w {
				t.Errorf("%s %s: got %q, want %q", l.Code, cur, got, w)
			}
		}
	}
	// Small amounts keep the currency's decimals: nothing rounds away, nothing is added.
	en := c.Translator("en")
	for _, tc := range []struct {
		minor int64
		cur   string
		want  string
	}{{5, "USD", "$0.05"}, {1, "KWD", "KWD\u00a00.001"}, {7, "JPY", "¥7"}, {4500000, "MWK", "MWK\u00a045,000.00"}} {
		if got := en.Money(tc.minor, tc.cur); got != tc.want {
			t.Errorf("en %d %s: got %q, want %q", tc.minor, tc.cur, got, tc.want)
		}
	}
	if got := c.Translator("ny").Money(4500000, "MWK"); got != "MK\u00a045,000.00" {
		t.Errorf("ny MK 45,000.00: got %q", got)
	}
}

// TestCataloguesComplete fails when a language misses a message another has, or a
// translation drops or invents a placeholder: a shopper would see English or a blank.
func TestCataloguesComplete(t *testing.T) {
	c := MustLoad()
	en := c.IDs(Default)
	if len(en) < 50 {
		t.Fatalf("the English catalogue has only %d messages", len(en))
	}
	for _, l := range Languages {
		ids := c.IDs(l.Code)
		for _, id := range en {
			if !slices.Contains(ids, id) {
				t.Errorf("%s misses %q", l.Code, id)
			}
		}
		for _, id := range ids {
			if !slices.Contains(en, id) {
				t.Errorf("%s has %q, which English does not", l.Code, id)
			}
		}
	}
	placeholder := regexp.MustCompile(`\{\{\s*\.(\w+)\s*\}\}`)
	args := []any{"Amount", "AMT", "Provider", "PRV", "Message", "MSG", "Method", "MTH", "Min", 1, "Max", 9,
		"Day", 1, "Month", "MON", "Year", 2026, "Time", "12:00", "Zone", "UTC", "Network", "NET", "Date", "DAT"}
	for _, l := range Languages {
		tr := c.Translator(l.Code)
		for _, id := range en {
			enText := c.Translator(Default).T(id, args...)
			text := tr.T(id, args...)
			for _, m := range placeholder.FindAllStringSubmatch(text, -1) {
				t.Errorf("%s %q leaves a placeholder unfilled: %s", l.Code, id, m[0])
			}
			for _, v := range []string{"AMT", "PRV", "MSG", "MTH", "NET", "DAT"} {
				if (regexp.MustCompile(v).MatchString(enText)) != regexp.MustCompile(v).MatchString(text) {
					t.Errorf("%s %q: English uses %s and this translation does not, or the other way round: %q", l.Code, id, v, text)
				}
			}
			if l.Code != Default && text == enText && !sameInEveryLanguage[id] {
				t.Errorf("%s %q is still English: %q", l.Code, id, text)
			}
		}
	}
}

// sameInEveryLanguage lists messages that may read the same as English in some language.
var sameInEveryLanguage = map[string]bool{
	"checkout.total": true, "thanks.date": true, "date.long": true, "month.6": true, "month.9": true,
}

func TestPluralsFollowEachLanguage(t *testing.T) {
	c := MustLoad()
	if got := c.Translator("en").N("items", 1); got != "1 item" {
		t.Errorf("en one: %q", got)
	}
	if got := c.Translator("en").N("items", 3); got != "3 items" {
		t.Errorf("en other: %q", got)
	}
	// French counts 0 and 1 as singular; English does not.
	if got := c.Translator("fr").N("items", 0); got != "0 article" {
		t.Errorf("fr zero: %q", got)
	}
	if got := c.Translator("ny").N("items", 2); got != "zinthu 2" {
		t.Errorf("ny other: %q", got)
	}
}

func TestDate(t *testing.T) {
	at := time.Date(2026, 11, 30, 15, 4, 0, 0, time.UTC)
	c := MustLoad()
	for lang, want := range map[string]string{
		"en": "30 November 2026, 15:04 UTC", "fr": "30 novembre 2026 à 15:04 UTC", "pt": "30 de novembro de 2026, 15:04 UTC",
		"sw": "30 Novemba 2026, 15:04 UTC", "ny": "30 Novembala 2026, 15:04 UTC", "hi": "30 नवंबर 2026, 15:04 UTC",
	} {
		if got := c.Translator(lang).Date(at); got != want {
			t.Errorf("%s: got %q, want %q", lang, got, want)
		}
	}
}

func TestTranslatorFromContext(t *testing.T) {
	c := MustLoad()
	if got := From(context.Background()).Lang(); got != "en" {
		t.Errorf("no translator in ctx: %q", got)
	}
	ctx := WithTranslator(context.Background(), c.Translator("hi"))
	if got := From(ctx).Lang(); got != "hi" {
		t.Errorf("hi in ctx: %q", got)
	}
	if got := c.Translator("xx").Lang(); got != "en" {
		t.Errorf("unknown language: %q", got)
	}
	if got := From(ctx).T("no.such.message"); got != "no.such.message" {
		t.Errorf("unknown id renders as itself, got %q", got)
	}
}
