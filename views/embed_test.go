package views

import (
	"strings"
	"testing"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// parseSnippet parses a snippet as a fragment of a page body and returns its nodes.
func parseSnippet(t *testing.T, s string) []*html.Node {
	t.Helper()
	body := &html.Node{Type: html.ElementNode, Data: "body", DataAtom: atom.Body}
	nodes, err := html.ParseFragment(strings.NewReader(s), body)
	if err != nil {
		t.Fatal(err)
	}
	return nodes
}

func walk(n *html.Node, fn func(*html.Node)) {
	fn(n)
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		walk(c, fn)
	}
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func text(n *html.Node) string {
	var b strings.Builder
	walk(n, func(c *html.Node) {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	})
	return b.String()
}

// selfContained fails on anything a pasted snippet must not need: scripts, stylesheets, classes
// (the host page's CSS would restyle them), event handlers, or other resources.
func selfContained(t *testing.T, nodes []*html.Node) map[string][]*html.Node {
	t.Helper()
	byTag := map[string][]*html.Node{}
	for _, top := range nodes {
		walk(top, func(n *html.Node) {
			if n.Type != html.ElementNode {
				return
			}
			byTag[n.Data] = append(byTag[n.Data], n)
			switch n.Data {
			case "script", "style", "link", "img", "iframe":
				t.Errorf("snippet has a <%s>", n.Data)
			}
			for _, a := range n.Attr {
				if a.Key == "class" || a.Key == "id" || strings.HasPrefix(a.Key, "on") {
					t.Errorf("snippet's <%s> has attribute %s", n.Data, a.Key)
				}
			}
		})
	}
	return byTag
}

func TestEmbedButtonHTML(t *testing.T) {
	e := EmbedLink{URL: "https://pay.example/l/plink_abc?x=1&y=2", Name: `Tote "bag" <b>`, Price: "USD 24.00", Accent: "#aa0000"}
	s := EmbedButtonHTML(e)
	nodes := parseSnippet(t, s)
	byTag := selfContained(t, nodes)
	if len(nodes) != 1 || len(byTag["a"]) != 1 || len(byTag) != 1 {
		t.Fatalf("want exactly one <a>, got %s", s)
	}
	a := byTag["a"][0]
	if href, _ := attr(a, "href"); href != e.URL {
		t.Errorf("href %q, want %q", href, e.URL)
	}
	if style, _ := attr(a, "style"); !strings.Contains(style, "background:#aa0000") || !strings.Contains(style, "min-height:44px") {
		t.Errorf("style %q", style)
	}
	if got := text(a); got != `Pay USD 24.00 for Tote "bag" <b>` {
		t.Errorf("button text %q must name the price and what it pays, escaped as text", got)
	}
	// A colour that is not one falls back to Kassa's, so it cannot break out of the style.
	if s := EmbedButtonHTML(EmbedLink{URL: "https://x/l/p", Name: "T", Price: "USD 1.00", Accent: `red;background:url(x)`}); strings.Contains(s, "url(") {
		t.Errorf("accent injected: %s", s)
	}
}

func TestEmbedFormHTML(t *testing.T) {
	e := EmbedLink{URL: "https://pay.example/l/plink_abc", Name: "Mangoes", Price: "MWK 250.00", Adjustable: true, Min: 2, Max: 12}
	s := EmbedFormHTML(e)
	byTag := selfContained(t, parseSnippet(t, s))
	if len(byTag["form"]) != 1 || len(byTag["input"]) != 1 || len(byTag["button"]) != 1 || len(byTag["label"]) != 1 {
		t.Fatalf("want a form with one labelled input and one button: %s", s)
	}
	f := byTag["form"][0]
	if m, _ := attr(f, "method"); m != "get" {
		t.Errorf("method %q, want get: a GET never creates a payment", m)
	}
	if a, _ := attr(f, "action"); a != e.URL {
		t.Errorf("action %q", a)
	}
	in := byTag["input"][0]
	for k, want := range map[string]string{"type": "number", "name": "quantity", "min": "2", "max": "12", "value": "2", "step": "1"} {
		if got, _ := attr(in, k); got != want {
			t.Errorf("input %s=%q, want %q", k, got, want)
		}
	}
	// The input is inside its label, so its accessible name is "Quantity" without an id.
	if in.Parent != byTag["label"][0] || !strings.HasPrefix(text(byTag["label"][0]), "Quantity") {
		t.Errorf("the input is not labelled Quantity")
	}
	if b := text(byTag["button"][0]); b != "Buy Mangoes, MWK 250.00 each" {
		t.Errorf("button text %q", b)
	}
	// Without an adjustable quantity the form is the button.
	e.Adjustable = false
	if EmbedFormHTML(e) != EmbedButtonHTML(e) {
		t.Errorf("a fixed link's form snippet is not its button")
	}
}
