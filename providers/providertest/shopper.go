package providertest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/net/html"

	"github.com/kassa-pay/kassa/providers"
)

// Action is what a shopper does on a provider's page.
type Action string

// The three buttons of every sandbox pay page.
const (
	Pay     Action = "pay"
	Decline Action = "decline"
	Cancel  Action = "cancel"
)

// Shopper completes a provider session the way a person would, and returns the URL the provider
// finally sends the browser to (nil for sessions completed off the browser, such as a push).
type Shopper interface {
	Complete(ctx context.Context, s providers.Session, a Action) (*url.URL, error)
}

// FormShopper drives a sandbox's hosted pay page over plain HTTP: it loads the session's
// PayURL (following the sandbox's own redirects), finds the form holding the button for the
// action, submits it with the form's other fields, and returns the redirect that answers the
// submission: where the provider sends the browser, not followed.
type FormShopper struct {
	// Client defaults to a client without redirect following.
	Client *http.Client
}

// Complete implements Shopper.
func (f FormShopper) Complete(ctx context.Context, s providers.Session, a Action) (*url.URL, error) {
	if s.PayURL == "" {
		return nil, fmt.Errorf("providertest: session %s has no pay URL", s.ProviderRef)
	}
	client := f.Client
	if client == nil {
		client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	page, err := url.Parse(s.PayURL)
	if err != nil {
		return nil, err
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, page.String(), nil)
	for hops := 0; ; hops++ {
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		switch {
		case resp.StatusCode >= 300 && resp.StatusCode < 400:
			loc, err := req.URL.Parse(resp.Header.Get("Location"))
			if err != nil {
				return nil, err
			}
			if req.Method == http.MethodPost {
				return loc, nil
			}
			if hops > 10 {
				return nil, fmt.Errorf("providertest: too many redirects from %s", s.PayURL)
			}
			req, _ = http.NewRequestWithContext(ctx, http.MethodGet, loc.String(), nil)
		case resp.StatusCode == http.StatusOK && req.Method == http.MethodGet:
			action, fields, err := findForm(body, string(a))
			if err != nil {
				return nil, fmt.Errorf("providertest: %s: %w", req.URL, err)
			}
			target, err := req.URL.Parse(action)
			if err != nil {
				return nil, err
			}
			req, _ = http.NewRequestWithContext(ctx, http.MethodPost, target.String(), strings.NewReader(fields.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		default:
			return nil, fmt.Errorf("providertest: %s %s: HTTP %d: %.200s", req.Method, req.URL, resp.StatusCode, body)
		}
	}
}

// findForm returns the action and fields of the form containing <button name=action value=a>.
func findForm(page []byte, a string) (string, url.Values, error) {
	f, err := FindForm(page, func(n *html.Node) bool {
		return n.Data == "button" && Attr(n, "name") == "action" && Attr(n, "value") == a
	})
	if err != nil {
		return "", nil, fmt.Errorf("no form with a %q button", a)
	}
	f.Fields.Set("action", a)
	return f.Action, f.Fields, nil
}
