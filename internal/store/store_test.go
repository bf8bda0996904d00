package store_test

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"hqconnect/internal/store"
	"hqconnect/internal/store/storetest"
)

func TestStore(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		t.Run("times round-trip in UTC", func(t *testing.T) {
			at := time.Date(2026, 1, 28, 23, 59, 58, 123456000, time.FixedZone("ICT", 7*3600)).UTC()
			_, err := db.ExecContext(ctx, `INSERT INTO audit_events (id, create_time, actor_kind, action, target_kind, target_id)
				VALUES ($1, $2, 'system', 'test.time', 'x', $1)`, "time-1", at)
			if err != nil {
				t.Fatal(err)
			}
			var got time.Time
			if err := db.QueryRowContext(ctx, `SELECT create_time FROM audit_events WHERE id = $1`, "time-1").Scan(&got); err != nil {
				t.Fatal(err)
			}
			if !got.Equal(at) {
				t.Fatalf("got %v, want %v", got, at)
			}
		})
		t.Run("rollback on error leaves nothing", func(t *testing.T) {
			boom := errors.New("boom")
			err := db.Tx(ctx, func(tx *sql.Tx) error {
				if _, err := tx.ExecContext(ctx, `INSERT INTO audit_events (id, create_time, actor_kind, action, target_kind, target_id)
					VALUES ($1, $2, 'system', 'test.tx', 'x', $1)`, "tx-1", store.Now()); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatalf("Tx = %v, want boom", err)
			}
			var n int
			if err := db.QueryRowContext(ctx, `SELECT count(*) FROM audit_events WHERE id = $1`, "tx-1").Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Fatalf("rolled-back row is there")
			}
		})
		t.Run("unique violation is recognised", func(t *testing.T) {
			q := `INSERT INTO audit_events (id, create_time, actor_kind, action, target_kind, target_id) VALUES ($1, $2, 'system', 'a', 'x', $1)`
			if _, err := db.ExecContext(ctx, q, "dup", store.Now()); err != nil {
				t.Fatal(err)
			}
			_, err := db.ExecContext(ctx, q, "dup", store.Now())
			if !store.IsUniqueViolation(err) {
				t.Fatalf("second insert: %v, want a unique violation", err)
			}
		})
		t.Run("migrate twice is harmless", func(t *testing.T) {
			if err := db.Migrate(ctx, nil); err != nil {
				t.Fatal(err)
			}
		})
	})
}

// Each database runs the common migrations and its own dialect's, merged
// into one sequence; the other dialect's files stay out.
func TestMigrationsFSMergesDialectFiles(t *testing.T) {
	common, err := fs.Glob(os.DirFS("migrations"), "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		dialect    store.Dialect
		own, other string
	}{
		{store.SQLite, "USING fts5", "tsvector"},
		{store.Postgres, "tsvector", "USING fts5"},
	} {
		t.Run(string(tc.dialect), func(t *testing.T) {
			fsys, err := store.MigrationsFS(tc.dialect)
			if err != nil {
				t.Fatal(err)
			}
			names, err := fs.Glob(fsys, "*.sql")
			if err != nil {
				t.Fatal(err)
			}
			own, err := fs.Glob(os.DirFS(filepath.Join("migrations", string(tc.dialect))), "*.sql")
			if err != nil {
				t.Fatal(err)
			}
			want := append(slices.Clone(common), own...)
			slices.Sort(want)
			if !slices.Equal(names, want) {
				t.Fatalf("migrations %q, want %q", names, want)
			}
			faq, err := fs.ReadFile(fsys, "00007_faq.sql")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(faq), tc.own) || strings.Contains(string(faq), tc.other) {
				t.Fatalf("00007_faq.sql is not the %s copy", tc.dialect)
			}
			if _, err := fsys.Open("sqlite/00007_faq.sql"); err == nil {
				t.Fatal("a path into a dialect directory opened; the merged directory is flat")
			}
		})
	}
}
