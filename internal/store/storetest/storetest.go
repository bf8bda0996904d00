// Package storetest gives each test a database of its own: a fresh SQLite
// file always, and, when TEST_DATABASE_URL is set, a fresh PostgreSQL schema
// on that server, dropped at cleanup. Migrations are applied to both.
package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hqconnect/internal/ids"
	"hqconnect/internal/store"
)

// SQLite opens a migrated SQLite database in t's temporary directory.
func SQLite(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatalf("open sqlite: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if err := db.Migrate(context.Background(), nil); err != nil {
		t.Fatalf("migrate sqlite: %v", err)
	}
	return db
}

// Postgres opens a migrated, empty schema of its own on TEST_DATABASE_URL, or
// returns false when the variable is unset.
func Postgres(t testing.TB) (*store.DB, bool) {
	t.Helper()
	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" {
		return nil, false
	}
	ctx := context.Background()
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	defer admin.Close()
	schema := "t_" + strings.ToLower(strings.NewReplacer("-", "_").Replace(ids.Secret(9)))
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("TEST_DATABASE_URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	db, err := store.Open(ctx, u.String())
	if err != nil {
		t.Fatalf("open postgres: %v", err)
	}
	t.Cleanup(func() {
		_ = db.Close()
		a, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer a.Close()
		if _, err := a.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Logf("drop schema %s: %v", schema, err)
		}
	})
	if err := db.Migrate(ctx, nil); err != nil {
		t.Fatalf("migrate postgres: %v", err)
	}
	return db, true
}

// Each runs fn as a subtest on SQLite and, when TEST_DATABASE_URL is set, on
// PostgreSQL, each with a database of its own.
func Each(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	if os.Getenv("TEST_DATABASE_URL") != "" {
		t.Run("postgres", func(t *testing.T) {
			db, _ := Postgres(t)
			fn(t, db)
		})
	}
}

// Name describes db for messages.
func Name(db *store.DB) string { return fmt.Sprint(db.Dialect) }
