package db

import (
	"strconv"
	"strings"
	"testing"
)

func TestRebind(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`SELECT 1`, `SELECT 1`},
		{`SELECT * FROM t WHERE a = ? AND b IN (?, ?)`, `SELECT * FROM t WHERE a = $1 AND b IN ($2, $3)`},
		{`SELECT '?', "a?b", ? -- what?` + "\n" + `, ?`, `SELECT '?', "a?b", $1 -- what?` + "\n" + `, $2`},
		{`SELECT 'it''s ?', ?`, `SELECT 'it''s ?', $1`},
		{`SELECT "x""?", ?`, `SELECT "x""?", $1`},
		{`/* a /* nested ? */ still ? */ ?`, `/* a /* nested ? */ still ? */ $1`},
		{`SELECT $$ ? $$, $tag$ ?$$ ? $tag$, ?`, `SELECT $$ ? $$, $tag$ ?$$ ? $tag$, $1`},
		{`SELECT a$b, ?, $1`, `SELECT a$b, $1, $1`},
		{`SELECT 'unterminated ?`, `SELECT 'unterminated ?`},
		{`??`, `$1$2`},
	} {
		if got := rebind(tc.in); got != tc.want {
			t.Errorf("rebind(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzRebind checks that any text inside a literal, a quoted identifier, a comment or a
// dollar-quoted body survives byte for byte, that the placeholders around it are numbered in
// order, and that arbitrary input never panics and keeps every byte that is not a `?`.
func FuzzRebind(f *testing.F) {
	for _, s := range []string{"", "?", "'", `"`, "$$", "$a$", "/*", "*/", "--", "\n", "it's", "a?b", "$1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// Arbitrary input: only placeholders change, and they are numbered 1..n in order.
		out := rebind(s)
		var rebuilt strings.Builder
		n := 0
		for i := 0; i < len(out); {
			marker := "$" + strconv.Itoa(n+1)
			if strings.HasPrefix(out[i:], marker) && (rebuilt.Len() > len(s) || !strings.HasPrefix(s[rebuilt.Len():], marker)) {
				rebuilt.WriteByte('?')
				n++
				i += len(marker)
				continue
			}
			rebuilt.WriteByte(out[i])
			i++
		}
		if rebuilt.String() != s {
			t.Fatalf("rebind(%q) = %q: more than placeholders changed", s, out)
		}

		// s inside each kind of quoting is text, between two real placeholders.
		lit := "'" + strings.ReplaceAll(s, "'", "''") + "'"
		ident := `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
		line := "-- " + strings.ReplaceAll(s, "\n", " ") + "\n"
		var quoted []string
		quoted = append(quoted, lit, ident, line)
		if !strings.Contains(s, "$q$") {
			quoted = append(quoted, "$q$"+s+"$q$")
		}
		if !strings.Contains(s, "*/") && !strings.Contains(s, "/*") && !strings.HasSuffix(s, "/") && !strings.HasSuffix(s, "*") {
			quoted = append(quoted, "/* "+s+" */")
		}
		for _, q := range quoted {
			in := "SELECT ?, " + q + " , ?"
			want := "SELECT $1, " + q + " , $2"
			if got := rebind(in); got != want {
				t.Fatalf("rebind(%q) = %q, want %q", in, got, want)
			}
		}
	})
}
