// Package locale speaks to shoppers in their language: the message catalogues (one JSON file
// per language in messages/, loaded with go-i18n, which knows each language's plural rules),
// the choice of language for a request, and money and dates written the way that language
// writes them (CLDR data through bojanz/currency).
//
// Views get a *Translator from the request's context (templ passes ctx to every component),
// never from a global, so two requests in two languages can render side by side.
package locale

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/bojanz/currency"
	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"

	kcurrency "github.com/kassa-pay/kassa/providers/currency"
)

// Language is one language shoppers can choose.
type Language struct {
	// Code is the BCP 47 code used in ?lang=, the cookie and <html lang>.
	Code string
	// Name is the language's name in itself, for the switcher.
	Name string
	// moneyLocale is the CLDR locale money is formatted with. CLDR has no confirmed data for
	// Chichewa (ny), so it borrows the conventions of English in Malawi, where it is spoken.
	moneyLocale string
}

// Languages lists what Kassa speaks, English (the fallback) first.
var Languages = []Language{
	{Code: "en", Name: "English", moneyLocale: "en"},
	{Code: "fr", Name: "Français", moneyLocale: "fr"},
	{Code: "pt", Name: "Português", moneyLocale: "pt"},
	{Code: "sw", Name: "Kiswahili", moneyLocale: "sw"},
	{Code: "ny", Name: "Chichewa", moneyLocale: "en-MW"},
	{Code: "hi", Name: "हिन्दी", moneyLocale: "hi"},
}

// Default is the language of last resort, and the one the catalogues are written from.
const Default = "en"

// Supported reports whether code names one of Languages exactly.
func Supported(code string) bool {
	return slices.ContainsFunc(Languages, func(l Language) bool { return l.Code == code })
}

// Codes lists the codes of Languages, English first.
func Codes() []string {
	out := make([]string, len(Languages))
	for i, l := range Languages {
		out[i] = l.Code
	}
	return out
}

//go:embed messages/*.json
var messageFiles embed.FS

// Catalogue holds every language's messages.
type Catalogue struct {
	bundle *i18n.Bundle
	// ids lists every message id per language, for the completeness test and for falling
	// back to English on a missing key instead of showing the id.
	ids map[string][]string
	// translators are built once per language: they hold no per-request state.
	translators map[string]*Translator
}

// Load reads the embedded catalogues.
func Load() (*Catalogue, error) { return load(messageFiles, "messages") }

// MustLoad is Load for program start, where a broken catalogue is a build mistake.
func MustLoad() *Catalogue {
	c, err := Load()
	if err != nil {
		panic(err)
	}
	return c
}

func load(fsys fs.FS, dir string) (*Catalogue, error) {
	b := i18n.NewBundle(language.English)
	b.RegisterUnmarshalFunc("json", json.Unmarshal)
	c := &Catalogue{bundle: b, ids: map[string][]string{}, translators: map[string]*Translator{}}
	for _, l := range Languages {
		name := path.Join(dir, l.Code+".json")
		raw, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("locale: %w", err)
		}
		mf, err := b.ParseMessageFileBytes(raw, name)
		if err != nil {
			return nil, fmt.Errorf("locale: %s: %w", name, err)
		}
		for _, m := range mf.Messages {
			c.ids[l.Code] = append(c.ids[l.Code], m.ID)
		}
		sort.Strings(c.ids[l.Code])
	}
	for _, l := range Languages {
		money := currency.NewFormatter(currency.NewLocale(l.moneyLocale))
		c.translators[l.Code] = &Translator{lang: l, loc: i18n.NewLocalizer(b, l.Code), en: i18n.NewLocalizer(b, Default), money: money}
	}
	return c, nil
}

// IDs lists the message ids of one language, sorted.
func (c *Catalogue) IDs(lang string) []string { return c.ids[lang] }

// Translator returns the translator for a language code, English when it is not supported.
func (c *Catalogue) Translator(lang string) *Translator {
	if t, ok := c.translators[lang]; ok {
		return t
	}
	return c.translators[Default]
}

// Translator renders messages, money and dates in one language.
type Translator struct {
	lang  Language
	loc   *i18n.Localizer
	en    *i18n.Localizer
	money *currency.Formatter
}

// Lang is the language's code, for <html lang>.
func (t *Translator) Lang() string { return t.lang.Code }

// T renders message id with its arguments given as name, value pairs:
// T("pay.button", "Amount", "USD 5.00"). A message missing from the language falls back to
// English (the completeness test keeps that from happening), and an unknown id renders as
// itself so the mistake is visible rather than a blank.
func (t *Translator) T(id string, args ...any) string {
	return t.render(id, nil, args)
}

// Has reports whether the catalogues hold message id (in English, at least): for names that
// are translated where Kassa has words for them and shown as they come otherwise, such as a
// provider's payment method names.
func (t *Translator) Has(id string) bool {
	_, err := t.en.Localize(&i18n.LocalizeConfig{MessageID: id})
	return err == nil
}

// N renders a message with plural forms for count, which is also available as {{.Count}}.
func (t *Translator) N(id string, count int, args ...any) string {
	return t.render(id, count, append(args, "Count", count))
}

func (t *Translator) render(id string, count any, args []any) string {
	data := map[string]any{}
	for i := 0; i+1 < len(args); i += 2 {
		if k, ok := args[i].(string); ok {
			data[k] = args[i+1]
		}
	}
	cfg := &i18n.LocalizeConfig{MessageID: id, TemplateData: data, PluralCount: count}
	if s, err := t.loc.Localize(cfg); err == nil {
		return s
	}
	if s, err := t.en.Localize(cfg); err == nil {
		return s
	}
	return id
}

// Money writes an amount in minor units the way the language writes money: "$1,234.56" in
// English, "1 234,56 $US" in French, "₹1,23,456.00" in Hindi, "MK 45,000.00" in Chichewa. The
// number of decimals is the currency's ISO 4217 exponent, as everywhere in Kassa.
func (t *Translator) Money(minor int64, code string) string {
	dec, err := kcurrency.Format(minor, code)
	if err != nil {
		return strconv.FormatInt(minor, 10) + " " + code
	}
	a, err := currency.NewAmount(dec, code)
	if err != nil { // a code CLDR does not know: Kassa's own plain form
		return code + " " + dec
	}
	exp, _ := kcurrency.Exponent(code)
	f := *t.money // a copy: the digits differ per currency, the formatter is shared
	f.MinDigits, f.MaxDigits = uint8(exp), uint8(exp)
	return f.Format(a)
}

// Date writes a time with the language's month names: "2 January 2026, 15:04 UTC".
func (t *Translator) Date(tm time.Time) string {
	return t.T("date.long", "Day", tm.Day(), "Month", t.T("month."+strconv.Itoa(int(tm.Month()))),
		"Year", tm.Year(), "Time", tm.Format("15:04"), "Zone", tm.Format("MST"))
}

// Choose picks the language for a request: an explicit ?lang= first, then the cookie that
// remembers it, then the browser's Accept-Language (by quality), then the merchant
// application's default, then English. Unknown codes are skipped without an error.
func Choose(query, cookie, acceptLanguage, appDefault string) string {
	if c, ok := Asked(query, cookie, acceptLanguage); ok {
		return c
	}
	if c := base(appDefault); Supported(c) {
		return c
	}
	return Default
}

// Asked is the language the shopper asked for, by ?lang=, the cookie or Accept-Language, and
// whether they asked for one Kassa speaks at all. When they did not, the page's application
// default decides (see Choose), which a handler knows only once it has read the payment.
func Asked(query, cookie, acceptLanguage string) (string, bool) {
	for _, c := range []string{query, cookie} {
		if c = base(c); Supported(c) {
			return c, true
		}
	}
	for _, c := range acceptedLanguages(acceptLanguage) {
		if Supported(c) {
			return c, true
		}
	}
	return Default, false
}

// Valid returns code reduced to its base ("pt-BR" → "pt") and whether Kassa speaks it: the
// check for a ?lang= worth remembering.
func Valid(code string) (string, bool) {
	c := base(code)
	return c, Supported(c)
}

// base reduces "pt-BR" or "PT_br" to "pt".
func base(code string) string {
	code = strings.ToLower(strings.TrimSpace(code))
	if i := strings.IndexAny(code, "-_"); i >= 0 {
		code = code[:i]
	}
	return code
}

// acceptedLanguages parses an Accept-Language header into base codes ordered by quality
// (RFC 9110 §12.5.4); entries with q=0 are refused languages and dropped.
func acceptedLanguages(h string) []string {
	type entry struct {
		code string
		q    float64
		pos  int
	}
	var es []entry
	for i, part := range strings.Split(h, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			k, v, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
				f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil || f < 0 || f > 1 {
					f = 0
				}
				q = f
			}
		}
		if tag = base(tag); tag != "" && tag != "*" && q > 0 {
			es = append(es, entry{tag, q, i})
		}
	}
	sort.SliceStable(es, func(i, j int) bool { return es[i].q > es[j].q })
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.code
	}
	return out
}

type ctxKey struct{}

// WithTranslator returns ctx carrying t, for the views rendered with it.
func WithTranslator(ctx context.Context, t *Translator) context.Context {
	return context.WithValue(ctx, ctxKey{}, t)
}

var shared = MustLoad()

var fallback = shared.Translator(Default)

// Shared is the catalogue loaded from the embedded files at start. Catalogues hold no
// per-request state, so one serves every request.
func Shared() *Catalogue { return shared }

// From returns the translator the request chose, or English when none was set (a view
// rendered outside a request, such as in a unit test).
func From(ctx context.Context) *Translator {
	if t, ok := ctx.Value(ctxKey{}).(*Translator); ok && t != nil {
		return t
	}
	return fallback
}
