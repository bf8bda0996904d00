package auth_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"hqconnect/internal/auth"
	"hqconnect/internal/errs"
	"hqconnect/internal/ids"
	"hqconnect/internal/store"
	"hqconnect/internal/store/storetest"
	"hqconnect/internal/testkit"
)

func TestNewAPIKey(t *testing.T) {
	key, hash, display := auth.NewAPIKey()
	if !auth.IsAPIKey(key) || len(key) < 40 || !strings.HasPrefix(key, display) || len(display) != 10 {
		t.Fatalf("key %q display %q", key, display)
	}
	if hash != auth.HashAPIKey(key) || len(hash) != 64 || strings.Contains(hash, key) {
		t.Fatalf("hash %q", hash)
	}
	other, _, _ := auth.NewAPIKey()
	if other == key {
		t.Fatal("two keys alike")
	}
	if auth.IsAPIKey("eyJhbGciOi.JWT.token") {
		t.Fatal("a JWT taken for a key")
	}
}

func insertKey(t *testing.T, db *store.DB) (id, key string) {
	t.Helper()
	key, hash, display := auth.NewAPIKey()
	id = ids.New()
	if _, err := db.ExecContext(context.Background(), `INSERT INTO api_keys (id, name, prefix, key_hash, create_time)
		VALUES ($1, 'test', $2, $3, $4)`, id, display, hash, store.Now()); err != nil {
		t.Fatal(err)
	}
	return id, key
}

func TestAPIKeysAuthenticate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		t.Run("a valid key is a system client and its use is noted", func(t *testing.T) {
			keys := auth.NewAPIKeys(db, auth.APIKeyConfig{})
			id, key := insertKey(t, db)
			p, err := keys.Authenticate(ctx, key)
			if err != nil || p.Kind != auth.KindSystem || p.UserID != id || len(p.Roles) != 0 {
				t.Fatalf("principal %+v, %v", p, err)
			}
			var used int
			if err := db.QueryRowContext(ctx, `SELECT count(*) FROM api_keys WHERE id = $1 AND last_use_time IS NOT NULL`, id).Scan(&used); err != nil || used != 1 {
				t.Fatalf("last use not recorded: %d %v", used, err)
			}
		})
		t.Run("unknown keys and tokens are refused", func(t *testing.T) {
			keys := auth.NewAPIKeys(db, auth.APIKeyConfig{})
			for _, k := range []string{auth.APIKeyPrefix + "nope", "not-a-key", ""} {
				if _, err := keys.Authenticate(ctx, k); !errs.Is(err, errs.Unauthenticated) {
					t.Fatalf("%q: %v", k, err)
				}
			}
		})
		t.Run("a revoked key is refused once the cache expires", func(t *testing.T) {
			keys := auth.NewAPIKeys(db, auth.APIKeyConfig{CacheTTL: 50 * time.Millisecond})
			id, key := insertKey(t, db)
			if _, err := keys.Authenticate(ctx, key); err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, `UPDATE api_keys SET revoke_time = $1 WHERE id = $2`, store.Now(), id); err != nil {
				t.Fatal(err)
			}
			testkit.Eventually(t, "the revoked key to be refused", func() bool {
				_, err := keys.Authenticate(ctx, key)
				return errs.Is(err, errs.Unauthenticated)
			})
		})
		t.Run("without a cache a revoked key is refused at once", func(t *testing.T) {
			keys := auth.NewAPIKeys(db, auth.APIKeyConfig{CacheTTL: -1})
			id, key := insertKey(t, db)
			if _, err := keys.Authenticate(ctx, key); err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, `UPDATE api_keys SET revoke_time = $1 WHERE id = $2`, store.Now(), id); err != nil {
				t.Fatal(err)
			}
			if _, err := keys.Authenticate(ctx, key); !errs.Is(err, errs.Unauthenticated) {
				t.Fatalf("revoked key: %v", err)
			}
		})
	})
}
