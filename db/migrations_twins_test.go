package db

import (
	"io/fs"
	"path"
	"testing"
)

// TestEveryMigrationHasItsTwin: a schema change made for one dialect only would leave the
// other database without a table the shared store code uses, so each numbered migration
// exists in both folders under the same name.
func TestEveryMigrationHasItsTwin(t *testing.T) {
	names := func(dialect string) map[string]bool {
		files, err := fs.Glob(migrations, "migrations/"+dialect+"/*.sql")
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, f := range files {
			out[path.Base(f)] = true
		}
		return out
	}
	sqlite, postgres := names("sqlite"), names("postgres")
	if len(sqlite) == 0 {
		t.Fatal("no SQLite migrations embedded")
	}
	for n := range sqlite {
		if !postgres[n] {
			t.Errorf("%s has no PostgreSQL twin in db/migrations/postgres", n)
		}
	}
	for n := range postgres {
		if !sqlite[n] {
			t.Errorf("%s has no SQLite twin in db/migrations/sqlite", n)
		}
	}
}
