// Package dbtest gives tests a fresh PostgreSQL database of their own on the server named by
// KASSA_TEST_POSTGRES_URL (default the local one, postgres@127.0.0.1:5432). When no server
// answers, the test fails and says how to get one: a missing database never passes as skipped.
package dbtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the database/sql driver "pgx"
)

// DefaultURL is the server tests use when KASSA_TEST_POSTGRES_URL is not set.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// ServerURL is the maintenance database URL tests create their databases through.
func ServerURL() string {
	if u := os.Getenv("KASSA_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return DefaultURL
}

var (
	adminOnce sync.Once
	admin     *sql.DB
	adminErr  error
)

func server() (*sql.DB, error) {
	adminOnce.Do(func() {
		admin, adminErr = sql.Open("pgx", ServerURL())
		if adminErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		adminErr = admin.PingContext(ctx)
	})
	return admin, adminErr
}

// NewDatabase creates an empty database kassa_test_<random> and returns its URL; it is dropped
// when the test ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	s, err := server()
	if err != nil {
		u, _ := url.Parse(ServerURL())
		t.Fatalf("PostgreSQL is needed by this test and does not answer at %s (%v).\n"+
			"Run `make test-deps` to install and start it, or set KASSA_TEST_POSTGRES_URL.", u.Redacted(), err)
	}
	b := make([]byte, 6)
	rand.Read(b)
	name := "kassa_test_" + hex.EncodeToString(b)
	ctx := context.Background()
	if _, err := s.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("creating test database: %v", err)
	}
	t.Cleanup(func() {
		if _, err := s.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("dropping test database %s: %v", name, err)
		}
	})
	u, err := url.Parse(ServerURL())
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return fmt.Sprint(u)
}
