package views

import (
	"html"
	"regexp"
	"strconv"
)

// EmbedLink is what a payment link's copy-paste snippets say: the merchant pastes them into
// any web page (a social profile, a blog, a site builder) where Kassa controls nothing, so they
// carry their whole look in inline attributes: no script, no stylesheet, nothing to load.
type EmbedLink struct {
	// URL is the link's absolute URL.
	URL string
	// Name is what the link sells.
	Name string
	// Price is the price of one, written for people ("USD 24.00").
	Price string
	// Adjustable links let the shopper choose a quantity in Min..Max.
	Adjustable bool
	Min, Max   int64
	// Accent is the button's colour, "#rrggbb"; empty is Kassa's blue.
	Accent string
}

var embedColor = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

func (e EmbedLink) accent() string {
	if embedColor.MatchString(e.Accent) {
		return e.Accent
	}
	return "#0b57d0"
}

// buttonStyle is the inline style of the snippets' button: large enough to tap (44 px), with
// white on the accent colour.
func (e EmbedLink) buttonStyle() string {
	return "display:inline-block;box-sizing:border-box;min-height:44px;padding:12px 20px;border:0;border-radius:6px;" +
		"background:" + e.accent() + ";color:#fff;font:600 16px/1.25 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;" +
		"text-decoration:none;cursor:pointer"
}

// ButtonLabel is the button's text, naming what it pays so that it makes sense alone (a screen
// reader's list of links, a page with several buttons): "Pay USD 24.00 for Tote bag", or
// "Buy Tote bag, USD 24.00 each" when the shopper chooses the quantity.
func (e EmbedLink) ButtonLabel() string {
	if e.Adjustable {
		return "Buy " + e.Name + ", " + e.Price + " each"
	}
	return "Pay " + e.Price + " for " + e.Name
}

// EmbedButtonHTML is the snippet of a link styled as a button: an <a> that opens the link's
// page, where the shopper continues to payment. It works with JavaScript off everywhere.
func EmbedButtonHTML(e EmbedLink) string {
	return `<a href="` + html.EscapeString(e.URL) + `" style="` + e.buttonStyle() + `">` + html.EscapeString(e.ButtonLabel()) + `</a>`
}

// EmbedFormHTML is the snippet for a link with an adjustable quantity: a GET form with a
// labelled number input and a submit button, which opens the link's page with
// ?quantity=N filled in. It never creates a payment by itself (the link's page does, on the
// shopper's POST), so a crawler following it changes nothing. Without an adjustable quantity it
// is the button snippet.
func EmbedFormHTML(e EmbedLink) string {
	if !e.Adjustable {
		return EmbedButtonHTML(e)
	}
	min, max := strconv.FormatInt(e.Min, 10), strconv.FormatInt(e.Max, 10)
	return `<form method="get" action="` + html.EscapeString(e.URL) + `" style="display:inline-flex;flex-wrap:wrap;gap:8px;align-items:flex-end;margin:0;font:16px/1.25 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif">` +
		`<label style="display:inline-flex;flex-direction:column;gap:4px">Quantity` +
		`<input type="number" name="quantity" value="` + min + `" min="` + min + `" max="` + max + `" step="1" required inputmode="numeric" ` +
		`style="box-sizing:border-box;width:6em;min-height:44px;padding:8px;border:1px solid #767676;border-radius:6px;font:inherit"></label>` +
		`<button type="submit" style="` + e.buttonStyle() + `">` + html.EscapeString(e.ButtonLabel()) + `</button>` +
		`</form>`
}
