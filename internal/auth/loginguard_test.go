package auth

import (
	"context"
	"strings"
	"testing"
	"time"

	"hqconnect/internal/errs"
	"hqconnect/internal/redisx/redistest"
)

// wantExhausted fails t unless err is a ResourceExhausted *errs.Error whose
// English text contains want.
func wantExhausted(t *testing.T, err error, want string) {
	t.Helper()
	e, ok := errs.As(err)
	if !ok || e.Code != errs.ResourceExhausted {
		t.Fatalf("err = %v, want a ResourceExhausted *errs.Error", err)
	}
	if !strings.Contains(e.EN, want) || !strings.Contains(e.VI, "đăng nhập") {
		t.Fatalf("EN=%q VI=%q, want EN containing %q and a Vietnamese text", e.EN, e.VI, want)
	}
}

// fail records n failed sign-ins for account, each after an allowed attempt.
func fail(t *testing.T, g *LoginGuard, account string, n int) {
	t.Helper()
	ctx := context.Background()
	for i := range n {
		if err := g.Allow(ctx, account, ""); err != nil {
			t.Fatalf("attempt %d: Allow = %v", i+1, err)
		}
		if err := g.Failed(ctx, account); err != nil {
			t.Fatal(err)
		}
	}
}

func TestLoginGuard(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		// On real Redis time cannot be fast-forwarded: a short lockout is
		// waited out instead.
		lockout := 15 * time.Minute
		if b.Mini == nil {
			lockout = time.Second
		}
		g := NewLoginGuard(b.Client, GuardConfig{Prefix: b.Prefix, Lockout: lockout})

		t.Run("five failures lock the account and the sixth attempt is refused", func(t *testing.T) {
			fail(t, g, "lock@example.vn", 5)
			err := g.Allow(ctx, "lock@example.vn", "198.51.100.1")
			if b.Mini != nil {
				wantExhausted(t, err, "too many failed sign-ins with this sign-in name; signing in with it is locked, try again in 15 minutes")
			} else {
				wantExhausted(t, err, "too many failed sign-ins")
			}
			if e, _ := errs.As(err); strings.Contains(e.EN, "account") {
				t.Errorf("message %q mentions an account: it must not hint that one exists", e.EN)
			}
			if err := g.Allow(ctx, "other@example.vn", "198.51.100.1"); err != nil {
				t.Fatalf("another account: Allow = %v", err)
			}
		})

		t.Run("the lock expires", func(t *testing.T) {
			fail(t, g, "expire@example.vn", 5)
			wantExhausted(t, g.Allow(ctx, "expire@example.vn", ""), "too many failed sign-ins")
			if b.Mini != nil {
				b.Mini.FastForward(lockout)
			}
			eventually(t, 5*time.Second, "the lock did not expire", func() bool {
				return g.Allow(ctx, "expire@example.vn", "") == nil
			})
		})

		t.Run("success clears the failure count", func(t *testing.T) {
			fail(t, g, "ok@example.vn", 4)
			if err := g.Succeeded(ctx, "ok@example.vn"); err != nil {
				t.Fatal(err)
			}
			fail(t, g, "ok@example.vn", 4)
			if err := g.Allow(ctx, "ok@example.vn", ""); err != nil {
				t.Fatalf("Allow = %v, want no lock after 4+4 failures with a success between", err)
			}
		})

		t.Run("unknown and odd identifiers are handled alike", func(t *testing.T) {
			for _, acct := range []string{"", "{brace}", "nobody-" + strings.Repeat("x", 500)} {
				fail(t, g, acct, 5)
				wantExhausted(t, g.Allow(ctx, acct, ""), "too many failed sign-ins")
			}
		})

		if b.Mini != nil {
			t.Run("failures outside the window do not add up", func(t *testing.T) {
				fail(t, g, "slow@example.vn", 4)
				b.Mini.FastForward(15*time.Minute + time.Second)
				fail(t, g, "slow@example.vn", 4)
				if err := g.Allow(ctx, "slow@example.vn", ""); err != nil {
					t.Fatalf("Allow = %v, want no lock", err)
				}
			})
		}

		t.Run("an IP over its limit is refused for any account", func(t *testing.T) {
			ig := NewLoginGuard(b.Client, GuardConfig{Prefix: b.Prefix, IPLimit: 3})
			for i := range 3 {
				if err := ig.Allow(ctx, "acct-"+string(rune('a'+i)), "192.0.2.9"); err != nil {
					t.Fatalf("attempt %d: Allow = %v", i+1, err)
				}
			}
			wantExhausted(t, ig.Allow(ctx, "acct-z", "192.0.2.9"), "too many sign-in attempts from your network; try again in 1 minute")
			if err := ig.Allow(ctx, "acct-z", "192.0.2.10"); err != nil {
				t.Fatalf("another IP: Allow = %v", err)
			}
			if ttl := b.Client.PTTL(ctx, ig.ipKey("192.0.2.9")).Val(); ttl <= 0 || ttl > time.Minute {
				t.Fatalf("IP counter TTL = %v, want at most the 1-minute window", ttl)
			}
			if b.Mini != nil {
				b.Mini.FastForward(time.Minute)
				if err := ig.Allow(ctx, "acct-z", "192.0.2.9"); err != nil {
					t.Fatalf("next window: Allow = %v", err)
				}
			}
		})

		t.Run("an empty client IP is not limited by IP", func(t *testing.T) {
			ig := NewLoginGuard(b.Client, GuardConfig{Prefix: b.Prefix, IPLimit: 1})
			for i := range 3 {
				if err := ig.Allow(ctx, "acct", ""); err != nil {
					t.Fatalf("attempt %d: Allow = %v", i+1, err)
				}
			}
		})
	})
}

func TestMinutesLeft(t *testing.T) {
	for _, tc := range []struct {
		ms   int64
		want int64
	}{{0, 1}, {1, 1}, {60_000, 1}, {60_001, 2}, {15 * 60_000, 15}} {
		if got := minutesLeft(tc.ms); got != tc.want {
			t.Errorf("minutesLeft(%d) = %d, want %d", tc.ms, got, tc.want)
		}
	}
}
