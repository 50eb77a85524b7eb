package db

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kassa-pay/kassa/db/dbtest"
)

// testDialect is the database open gives the tests of this pass: TestMain runs every test of
// the package once on SQLite and once more on PostgreSQL, so each store test (whoever wrote
// it, as long as it opens its database with open) holds on both.
var testDialect = "sqlite"

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		fmt.Println("db: the same tests again, on PostgreSQL")
		testDialect = "postgres"
		code = m.Run()
	}
	os.Exit(code)
}

// open returns a fresh, migrated database of this pass's dialect and where it is: a new
// SQLite file's path, or a new PostgreSQL database's URL (see dbtest). reopen takes either.
func open(t testing.TB) (*DB, string) {
	t.Helper()
	var where string
	if testDialect == "postgres" {
		where = dbtest.NewDatabase(t)
	} else {
		// A space in the path proves paths are escaped.
		where = filepath.Join(t.TempDir(), "kassa test.db")
	}
	t.Logf("database: %s", testDialect)
	return reopen(t, where), where
}

// reopen opens another handle on the database open returned, as another instance would.
func reopen(t testing.TB, where string) *DB {
	t.Helper()
	dbURL := where
	if !strings.HasPrefix(where, "postgres") {
		dbURL = "sqlite:" + where
	}
	d, err := Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// freshPostgres returns the URL of a new, empty PostgreSQL database.
func freshPostgres(t *testing.T) string { return dbtest.NewDatabase(t) }
