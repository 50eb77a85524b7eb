package providertest

import (
	"bytes"
	"errors"
	"net/url"
	"strings"

	"golang.org/x/net/html"
)

// Form is a parsed HTML form: its action and the fields a browser would send.
type Form struct {
	Action string
	Fields url.Values
}

// FindForm returns the first form holding an element for which match is true, with the
// values a browser would submit: hidden and text inputs, checked radios and checkboxes, and
// each select's selected (or first) option.
func FindForm(page []byte, match func(*html.Node) bool) (Form, error) {
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		return Form{}, err
	}
	var found *html.Node
	var walk func(n, f *html.Node)
	walk = func(n, f *html.Node) {
		if found != nil {
			return
		}
		if n.Type == html.ElementNode {
			if n.Data == "form" {
				f = n
			} else if f != nil && match(n) {
				found = f
				return
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, f)
		}
	}
	walk(doc, nil)
	if found == nil {
		return Form{}, errors.New("no such form on the page")
	}
	f := Form{Action: Attr(found, "action"), Fields: url.Values{}}
	collectFields(found, f.Fields)
	return f, nil
}

func collectFields(n *html.Node, v url.Values) {
	if n.Type == html.ElementNode && Attr(n, "name") != "" && !HasAttr(n, "disabled") {
		switch n.Data {
		case "input":
			switch Attr(n, "type") {
			case "radio", "checkbox":
				if HasAttr(n, "checked") {
					v.Add(Attr(n, "name"), Attr(n, "value"))
				}
			case "submit", "button", "image", "reset", "file":
			default:
				v.Add(Attr(n, "name"), Attr(n, "value"))
			}
		case "select":
			var first, selected *html.Node
			var opts func(*html.Node)
			opts = func(o *html.Node) {
				if o.Type == html.ElementNode && o.Data == "option" {
					if first == nil {
						first = o
					}
					if selected == nil && HasAttr(o, "selected") {
						selected = o
					}
				}
				for c := o.FirstChild; c != nil; c = c.NextSibling {
					opts(c)
				}
			}
			opts(n)
			if selected == nil {
				selected = first
			}
			if selected != nil {
				v.Add(Attr(n, "name"), optionValue(selected))
			}
			return
		case "textarea":
			v.Add(Attr(n, "name"), text(n))
		}
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		collectFields(c, v)
	}
}

func optionValue(o *html.Node) string {
	if HasAttr(o, "value") {
		return Attr(o, "value")
	}
	return strings.TrimSpace(text(o))
}

// Heading returns the text of the page's first h1.
func Heading(page []byte) string {
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		return ""
	}
	var h *html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if h != nil {
			return
		}
		if n.Type == html.ElementNode && n.Data == "h1" {
			h = n
			return
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if h == nil {
		return ""
	}
	return strings.Join(strings.Fields(text(h)), " ")
}

func text(n *html.Node) string {
	var sb strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			sb.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return sb.String()
}

// Attr returns the value of n's attribute key, or "".
func Attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// HasAttr reports whether n has the attribute key.
func HasAttr(n *html.Node, key string) bool {
	for _, a := range n.Attr {
		if a.Key == key {
			return true
		}
	}
	return false
}
