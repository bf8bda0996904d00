package auth

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"

	"hqconnect/internal/errs"
	"hqconnect/internal/ids"
	"hqconnect/internal/store"
)

// KindSystem is a system client (the customs clearance system) that
// authenticates with an API key, never with a user's token. It may call only
// the procedures whose Policy lists it.
const KindSystem Kind = "system"

// APIKeyPrefix starts every API key, so that the server tells a key from an
// access token ("Authorization: Bearer hqk_…") and so that a leaked key is
// easy to spot in logs and secret scanners.
const APIKeyPrefix = "hqk_"

// apiKeyDisplayLen is how much of a key is stored in clear to recognise it.
const apiKeyDisplayLen = len(APIKeyPrefix) + 6

// NewAPIKey returns a new random key (256 bits after the prefix), the hash
// to store and the prefix to show.
func NewAPIKey() (key, hash, display string) {
	key = APIKeyPrefix + ids.Secret(32)
	return key, HashAPIKey(key), key[:apiKeyDisplayLen]
}

// HashAPIKey is the stored form of a key: SHA-256, hex. The key has 256 bits
// of entropy, so a fast hash is enough (no guessing a key from its hash).
func HashAPIKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// IsAPIKey reports whether a bearer token is an API key rather than an
// access token.
func IsAPIKey(token string) bool { return strings.HasPrefix(token, APIKeyPrefix) }

// Defaults of APIKeyConfig.
const (
	// DefaultAPIKeyCacheTTL: a revoked key is refused within this long on
	// every instance.
	DefaultAPIKeyCacheTTL = 2 * time.Second
	// apiKeyTouchEvery spaces out the writes of last_use_time.
	apiKeyTouchEvery = time.Minute
	// maxAPIKeyCache bounds the cache (unknown keys are cached too).
	maxAPIKeyCache = 10_000
)

// APIKeyConfig configures APIKeys.
type APIKeyConfig struct {
	// CacheTTL is how long a key's verdict is trusted without reading the
	// database again; DefaultAPIKeyCacheTTL when zero, no caching when < 0.
	CacheTTL time.Duration
}

// ErrBadAPIKey refuses an unknown or revoked key.
var ErrBadAPIKey = errs.New(errs.Unauthenticated,
	"the API key is unknown or revoked; ask an administrator for a new one",
	"khóa API không tồn tại hoặc đã bị thu hồi; đề nghị quản trị viên cấp khóa mới")

type apiKeyEntry struct {
	p       *Principal // nil: unknown or revoked
	until   time.Time
	touched time.Time
}

// APIKeys authenticates system clients by their API key against the
// api_keys table, keeping each verdict for a short while. It implements the
// server's Authenticator.
type APIKeys struct {
	db  *store.DB
	ttl time.Duration

	mu    sync.Mutex
	cache map[string]apiKeyEntry // by key hash
}

// NewAPIKeys returns an authenticator over db.
func NewAPIKeys(db *store.DB, cfg APIKeyConfig) *APIKeys {
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = DefaultAPIKeyCacheTTL
	}
	return &APIKeys{db: db, ttl: cfg.CacheTTL, cache: map[string]apiKeyEntry{}}
}

// Authenticate returns the system client a key belongs to, or ErrBadAPIKey.
func (k *APIKeys) Authenticate(ctx context.Context, key string) (*Principal, error) {
	if !IsAPIKey(key) {
		return nil, ErrBadAPIKey
	}
	hash := HashAPIKey(key)
	now := time.Now()
	k.mu.Lock()
	e, ok := k.cache[hash]
	k.mu.Unlock()
	if ok && now.Before(e.until) {
		if e.p == nil {
			return nil, ErrBadAPIKey
		}
		p := *e.p
		return &p, nil
	}

	var id string
	var revoked sql.NullTime
	err := k.db.QueryRowContext(ctx,
		`SELECT id, revoke_time FROM api_keys WHERE key_hash = $1`, hash).Scan(&id, &revoked)
	switch {
	case store.IsNoRows(err):
		e = apiKeyEntry{}
	case err != nil:
		return nil, fmt.Errorf("read api key: %w", err)
	case revoked.Valid:
		e = apiKeyEntry{}
	default:
		if now.Sub(e.touched) >= apiKeyTouchEvery {
			if _, err := k.db.ExecContext(ctx, `UPDATE api_keys SET last_use_time = $1 WHERE id = $2`,
				store.Now().Truncate(time.Minute), id); err != nil {
				return nil, fmt.Errorf("touch api key: %w", err)
			}
			e.touched = now
		}
		e.p = &Principal{UserID: id, Kind: KindSystem}
	}
	e.until = now.Add(k.ttl)
	k.mu.Lock()
	if len(k.cache) >= maxAPIKeyCache {
		clear(k.cache)
	}
	k.cache[hash] = e
	k.mu.Unlock()
	if e.p == nil {
		return nil, ErrBadAPIKey
	}
	p := *e.p
	return &p, nil
}
