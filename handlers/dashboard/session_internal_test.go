package dashboard

import "testing"

func TestLoggableEmail(t *testing.T) {
	for typed, want := range map[string]string{
		" Ops@Example.com ":     "ops@example.com",
		"hunter2-correct-horse": "(not an email address)",
		"Pa55 word@x":           "(not an email address)",
		"":                      "(not an email address)",
		"<a@b.c>":               "(not an email address)",
	} {
		if got := loggableEmail(typed); got != want {
			t.Errorf("loggableEmail(%q) = %q, want %q", typed, got, want)
		}
	}
}
