// Package redistest gives each test its own Redis: a fresh miniredis always,
// and, when TEST_REDIS_URL is set, the real server under a key prefix of the
// test's own. It never flushes a shared server: cleanup deletes the test's
// keys only.
package redistest

import (
	"context"
	"os"
	"testing"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"hqconnect/internal/ids"
)

// Backend is one Redis a test can run against.
type Backend struct {
	Name   string
	Client redis.UniversalClient
	// Prefix is the key (and pub/sub channel) prefix the test must use.
	Prefix string
	// Mini is set for the miniredis backend (to fast-forward its clock).
	Mini *miniredis.Miniredis
}

// Mini starts a miniredis for t with ClockTTL on, closed at cleanup.
func Mini(t testing.TB) Backend {
	t.Helper()
	m := miniredis.RunT(t)
	m.ClockTTL(true)
	c := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { _ = c.Close() })
	return Backend{Name: "miniredis", Client: c, Prefix: "t:", Mini: m}
}

// Real connects to TEST_REDIS_URL with a prefix unique to t, or returns false
// when the variable is unset.
func Real(t testing.TB) (Backend, bool) {
	t.Helper()
	u := os.Getenv("TEST_REDIS_URL")
	if u == "" {
		return Backend{}, false
	}
	opts, err := redis.ParseURL(u)
	if err != nil {
		t.Fatalf("TEST_REDIS_URL: %v", err)
	}
	c := redis.NewClient(opts)
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("TEST_REDIS_URL unreachable: %v", err)
	}
	prefix := "test:" + ids.Secret(9) + ":"
	t.Cleanup(func() {
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 500).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
			if len(keys) == 500 {
				c.Del(ctx, keys...)
				keys = keys[:0]
			}
		}
		if len(keys) > 0 {
			c.Del(ctx, keys...)
		}
		_ = c.Close()
	})
	return Backend{Name: "redis", Client: c, Prefix: prefix}, true
}

// All returns miniredis and, when TEST_REDIS_URL is set, the real server.
func All(t testing.TB) []Backend {
	t.Helper()
	bs := []Backend{Mini(t)}
	if r, ok := Real(t); ok {
		bs = append(bs, r)
	}
	return bs
}

// Each runs fn as a subtest against every backend from All.
func Each(t *testing.T, fn func(t *testing.T, b Backend)) {
	t.Helper()
	names := []string{"miniredis"}
	if os.Getenv("TEST_REDIS_URL") != "" {
		names = append(names, "redis")
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			var b Backend
			if name == "miniredis" {
				b = Mini(t)
			} else {
				b, _ = Real(t)
			}
			fn(t, b)
		})
	}
}
