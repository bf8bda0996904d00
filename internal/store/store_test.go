package store_test

import (
	"context"
	"database/sql"
	"errors"
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
