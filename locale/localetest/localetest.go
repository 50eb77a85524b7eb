// Package localetest finds English left on a page rendered in another language: the check
// behind the tests that render every shopper page in every language.
package localetest

import (
	"regexp"
	"slices"
	"strings"

	"golang.org/x/net/html"

	"github.com/kassa-pay/kassa/locale"
)

// Texts lists what a reader meets on a page: its visible text nodes (not scripts or styles),
// and the words a screen reader says that are not text nodes (aria-label, alt, placeholder,
// title attributes), each trimmed, in document order.
func Texts(page string) []string {
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		return nil
	}
	var out []string
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && (n.Data == "script" || n.Data == "style") {
			return
		}
		if n.Type == html.TextNode {
			if s := strings.Join(strings.Fields(n.Data), " "); s != "" {
				out = append(out, s)
			}
		}
		if n.Type == html.ElementNode {
			for _, a := range n.Attr {
				if a.Key == "aria-label" || a.Key == "alt" || a.Key == "placeholder" || a.Key == "title" {
					if s := strings.TrimSpace(a.Val); s != "" {
						out = append(out, s)
					}
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return out
}

// amount matches an amount as any language writes it, with or without a symbol or code.
var amount = regexp.MustCompile(`(?:[A-Z]{2,3}\$?|US\$|JP¥|[$₹¥€£]|MK)?[\s\x{a0}\x{202f}]?[0-9][0-9.,\s\x{a0}\x{202f}]*(?:[\s\x{a0}]?(?:\$US|[A-Z]{3}|[$₹¥]))?`)

// Untranslated returns the texts of page (rendered in another language) that are also texts
// of enPage (the same page in English) and say more than names: allowed lists the names that
// read the same in every language (provider and method names, references, the shop's name);
// amounts, digits, punctuation, "Kassa" and the languages' own names are always allowed.
func Untranslated(enPage, page string, allowed ...string) []string {
	en := Texts(enPage)
	var out []string
	for _, s := range Texts(page) {
		if !slices.Contains(en, s) || !saysMore(s, allowed) {
			continue
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// saysMore reports whether s still has letters once names and amounts are taken out.
func saysMore(s string, allowed []string) bool {
	names := append([]string{"Kassa"}, allowed...)
	for _, l := range locale.Languages {
		names = append(names, l.Name)
	}
	// Longest first, so "KS Pay" goes before a shorter name inside it.
	slices.SortFunc(names, func(a, b string) int { return len(b) - len(a) })
	for _, n := range names {
		if n != "" {
			s = strings.ReplaceAll(s, n, " ")
		}
	}
	s = amount.ReplaceAllString(s, " ")
	for _, r := range s {
		if r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r > 0x7f && isLetter(r) {
			return true
		}
	}
	return false
}

func isLetter(r rune) bool {
	return strings.ContainsRune("×·–—’‘“”«»\u00a0\u202f", r) == false && r > 0xbf
}
