package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// PostgreSQL is reached through pgx's database/sql driver (jackc/pgx/v5/stdlib) rather than
// pgx's own interface, so that the store keeps one Go API over *sql.DB and *sql.Tx on both
// databases. The one thing SQLite and PostgreSQL disagree on in every statement, the
// placeholder (`?` against `$1`), is bridged here: Kassa's connections rewrite `?` to `$n`
// before pgx sees a query, so the store's SQL (and SQL written elsewhere with `?`) runs
// unchanged on both.

// PostgresDriverName is the database/sql driver Kassa registers: pgx with `?` placeholders.
const PostgresDriverName = "kassa-postgres"

func init() {
	sql.Register(PostgresDriverName, rebindDriver{})
}

// rebindDriver opens pgx connections that rewrite placeholders.
type rebindDriver struct{}

func (rebindDriver) Open(name string) (driver.Conn, error) {
	c, err := rebindDriver{}.OpenConnector(name)
	if err != nil {
		return nil, err
	}
	return c.Connect(context.Background())
}

func (rebindDriver) OpenConnector(name string) (driver.Connector, error) {
	cfg, err := pgx.ParseConfig(name)
	if err != nil {
		return nil, err
	}
	return rebindConnector{stdlib.GetConnector(*cfg)}, nil
}

type rebindConnector struct{ driver.Connector }

func (c rebindConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	pc, ok := conn.(*stdlib.Conn)
	if !ok {
		conn.Close()
		return nil, fmt.Errorf("db: pgx connection of unexpected type %T", conn)
	}
	return rebindConn{pc}, nil
}

func (rebindConnector) Driver() driver.Driver { return rebindDriver{} }

// rebindConn is a pgx connection whose queries are rewritten; everything else (transactions,
// pings, session resets, argument conversion) is pgx's own.
type rebindConn struct{ *stdlib.Conn }

func (c rebindConn) Prepare(query string) (driver.Stmt, error) {
	return c.Conn.Prepare(rebind(query))
}

func (c rebindConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.Conn.PrepareContext(ctx, rebind(query))
}

func (c rebindConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	return c.Conn.ExecContext(ctx, rebind(query), args)
}

func (c rebindConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	return c.Conn.QueryContext(ctx, rebind(query), args)
}

// rebind rewrites each `?` placeholder of query to PostgreSQL's `$1`, `$2`, … in order. A `?`
// inside a string literal ('…', a doubled quote standing for one), a quoted identifier ("…"), a comment
// (-- to the end of the line, or /* … */, which nest in PostgreSQL) or a dollar-quoted body
// ($$…$$, $tag$…$tag$) is text, not a placeholder, and is left alone. Escape strings with
// backslashes (E'…\'…') are not recognised: Kassa never writes them.
func rebind(query string) string {
	if strings.IndexByte(query, '?') < 0 {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); {
		c := query[i]
		switch {
		case c == '\'' || c == '"':
			j := endOfQuoted(query, i)
			b.WriteString(query[i:j])
			i = j
		case c == '-' && strings.HasPrefix(query[i:], "--"):
			j := strings.IndexByte(query[i:], '\n')
			if j < 0 {
				j = len(query)
			} else {
				j += i + 1
			}
			b.WriteString(query[i:j])
			i = j
		case c == '/' && strings.HasPrefix(query[i:], "/*"):
			j := endOfBlockComment(query, i)
			b.WriteString(query[i:j])
			i = j
		case c == '$' && (i == 0 || !identByte(query[i-1])):
			tag := dollarTag(query, i)
			if tag == "" {
				b.WriteByte(c)
				i++
				continue
			}
			j := strings.Index(query[i+len(tag):], tag)
			if j < 0 {
				j = len(query)
			} else {
				j += i + 2*len(tag)
			}
			b.WriteString(query[i:j])
			i = j
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			i++
		default:
			b.WriteByte(c)
			i++
		}
	}
	return b.String()
}

// endOfQuoted returns the index just past the quoted text starting at i (a doubled quote
// stands for itself), or len(s) when it is not closed.
func endOfQuoted(s string, i int) int {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		if s[j] != q {
			continue
		}
		if j+1 < len(s) && s[j+1] == q {
			j++
			continue
		}
		return j + 1
	}
	return len(s)
}

// endOfBlockComment returns the index just past the (possibly nested) comment at i.
func endOfBlockComment(s string, i int) int {
	depth := 0
	for j := i; j < len(s)-1; {
		switch {
		case s[j] == '/' && s[j+1] == '*':
			depth++
			j += 2
		case s[j] == '*' && s[j+1] == '/':
			depth--
			j += 2
			if depth == 0 {
				return j
			}
		default:
			j++
		}
	}
	return len(s)
}

// dollarTag returns the dollar-quote opening tag at i ("$$" or "$name$"), or "" when the
// dollar sign opens none (a positional parameter such as $1, or a lone $).
func dollarTag(s string, i int) string {
	for j := i + 1; j < len(s); j++ {
		c := s[j]
		if c == '$' {
			return s[i : j+1]
		}
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80 || j > i+1 && c >= '0' && c <= '9') {
			return ""
		}
	}
	return ""
}

// identByte reports whether c can be part of an unquoted identifier, where a $ is not a quote.
func identByte(c byte) bool {
	return c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}
