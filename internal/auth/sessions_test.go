package auth

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"hqconnect/internal/errs"
	"hqconnect/internal/ids"
	"hqconnect/internal/redisx/redistest"
)

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type sessionEnv struct {
	b      redistest.Backend
	tokens *Tokens
}

func newSessionEnv(t *testing.T, b redistest.Backend) sessionEnv {
	return sessionEnv{b: b, tokens: NewTokens(newTestKeyring(t), TokenConfig{})}
}

// sessions returns a Sessions on the env's Redis (every instance shares the
// keyring, as instances of one deployment do).
func (e sessionEnv) sessions(cfg SessionConfig) *Sessions {
	cfg.Prefix = e.b.Prefix
	return NewSessions(e.b.Client, e.tokens, cfg)
}

// run starts s.Run until the test ends and waits for it to return nil.
func run(t *testing.T, s *Sessions) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run = %v, want nil", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return after its context was cancelled")
		}
	})
}

// waitSubscribers waits until n instances listen for revocations.
func waitSubscribers(t *testing.T, b redistest.Backend, n int64) {
	t.Helper()
	ch := b.Prefix + "sessions:revoked"
	eventually(t, 5*time.Second, "instances did not subscribe", func() bool {
		m, err := b.Client.PubSubNumSub(context.Background(), ch).Result()
		return err == nil && m[ch] == n
	})
}

func user(id string) Principal {
	return Principal{UserID: id, Kind: KindOfficer, Roles: []string{RoleOfficer}, UnitID: "unit-1"}
}

// reloadAs returns a reload func that gives p for any user.
func reloadAs(p Principal) func(context.Context, string) (Principal, error) {
	return func(_ context.Context, uid string) (Principal, error) {
		p.UserID = uid
		return p, nil
	}
}

var reloadSame = reloadAs(user(""))

func mustCreate(t *testing.T, s *Sessions, uid string) TokenPair {
	t.Helper()
	tp, err := s.Create(context.Background(), user(uid), "Pixel 8", "203.0.113.7")
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

func wantCode(t *testing.T, err error, code errs.Code) {
	t.Helper()
	if e, ok := errs.As(err); !ok || e.Code != code {
		t.Fatalf("err = %v, want an *errs.Error with code %d", err, code)
	}
}

func TestSessionLifecycle(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		env := newSessionEnv(t, b)

		for _, tc := range []struct {
			name     string
			cacheTTL time.Duration
		}{
			{"without cache", -1},
			{"with the default cache", 0},
			{"with a long cache", time.Minute},
		} {
			t.Run("create, authenticate, revoke "+tc.name, func(t *testing.T) {
				s := env.sessions(SessionConfig{CacheTTL: tc.cacheTTL})
				tp := mustCreate(t, s, "u1")
				if !ids.Valid(tp.SessionID) || tp.RefreshToken[:36] != tp.SessionID {
					t.Fatalf("TokenPair = %+v", tp)
				}
				if d := time.Until(tp.RefreshExpires); d < 29*24*time.Hour {
					t.Errorf("refresh expires in %v, want the 30-day default", d)
				}
				p, err := s.Authenticate(ctx, tp.AccessToken)
				if err != nil {
					t.Fatal(err)
				}
				if p.UserID != "u1" || p.SessionID != tp.SessionID || p.UnitID != "unit-1" {
					t.Fatalf("Authenticate = %+v", p)
				}
				info, err := s.Get(ctx, tp.SessionID)
				if err != nil {
					t.Fatal(err)
				}
				if info.UserID != "u1" || info.DeviceName != "Pixel 8" || info.ClientIP != "203.0.113.7" || info.Created.IsZero() {
					t.Fatalf("Get = %+v", info)
				}

				if err := s.Revoke(ctx, "u1", tp.SessionID); err != nil {
					t.Fatal(err)
				}
				_, err = s.Authenticate(ctx, tp.AccessToken)
				wantUnauthenticated(t, err, "session ended")
				_, err = s.Get(ctx, tp.SessionID)
				wantCode(t, err, errs.NotFound)
				_, err = s.Refresh(ctx, tp.RefreshToken, reloadSame)
				wantUnauthenticated(t, err, "invalid or expired")
			})
		}

		t.Run("a check on a fresh instance does not bring a revoked session back", func(t *testing.T) {
			s := env.sessions(SessionConfig{})
			tp := mustCreate(t, s, "u1")
			if err := s.Revoke(ctx, "u1", tp.SessionID); err != nil {
				t.Fatal(err)
			}
			_, err := env.sessions(SessionConfig{}).Authenticate(ctx, tp.AccessToken)
			wantUnauthenticated(t, err, "session ended")
			if n := b.Client.Exists(ctx, s.sessKey(tp.SessionID)).Val(); n != 0 {
				t.Fatal("the session key exists again")
			}
		})

		t.Run("an invalid access token is refused before Redis is asked", func(t *testing.T) {
			_, err := env.sessions(SessionConfig{}).Authenticate(ctx, "garbage")
			wantUnauthenticated(t, err, "malformed")
		})

		t.Run("authenticate records last use", func(t *testing.T) {
			s := env.sessions(SessionConfig{})
			tp := mustCreate(t, s, "u1")
			old := time.Now().Add(-time.Hour).UnixMilli()
			b.Client.HSet(ctx, s.sessKey(tp.SessionID), "u", old)
			if _, err := env.sessions(SessionConfig{}).Authenticate(ctx, tp.AccessToken); err != nil {
				t.Fatal(err)
			}
			info, err := s.Get(ctx, tp.SessionID)
			if err != nil {
				t.Fatal(err)
			}
			if time.Since(info.LastUsed) > time.Minute {
				t.Fatalf("LastUsed = %v, want about now", info.LastUsed)
			}
		})

		t.Run("sessions expire when idle longer than the refresh TTL", func(t *testing.T) {
			ttl := 15 * time.Minute
			if b.Mini == nil {
				ttl = 300 * time.Millisecond
			}
			s := env.sessions(SessionConfig{RefreshTTL: ttl, CacheTTL: -1})
			tp := mustCreate(t, s, "u-idle")
			if b.Mini != nil {
				b.Mini.FastForward(ttl + time.Second)
			}
			eventually(t, 5*time.Second, "session did not expire", func() bool {
				_, err := s.Get(ctx, tp.SessionID)
				return errs.Is(err, errs.NotFound)
			})
			_, err := s.Authenticate(ctx, tp.AccessToken)
			wantUnauthenticated(t, err, "session ended")
			_, err = s.Refresh(ctx, tp.RefreshToken, reloadSame)
			wantUnauthenticated(t, err, "invalid or expired")
		})
	})
}

func TestSessionCacheAndRevocationAcrossInstances(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		env := newSessionEnv(t, b)

		t.Run("an instance trusts its cache for CacheTTL without pub/sub", func(t *testing.T) {
			a, other := env.sessions(SessionConfig{}), env.sessions(SessionConfig{CacheTTL: time.Minute})
			tp := mustCreate(t, a, "u1")
			if _, err := other.Authenticate(ctx, tp.AccessToken); err != nil {
				t.Fatal(err)
			}
			if err := a.Revoke(ctx, "u1", tp.SessionID); err != nil {
				t.Fatal(err)
			}
			// Not running Run: nothing tells other, so its cached answer
			// stands. This is why Run must run and CacheTTL must be short.
			if _, err := other.Authenticate(ctx, tp.AccessToken); err != nil {
				t.Fatalf("cached Authenticate = %v, want success", err)
			}
		})

		t.Run("a revocation by one instance reaches another through pub/sub", func(t *testing.T) {
			a, other := env.sessions(SessionConfig{}), env.sessions(SessionConfig{CacheTTL: time.Minute})
			run(t, a)
			run(t, other)
			waitSubscribers(t, b, 2)

			tp := mustCreate(t, a, "u1")
			if _, err := other.Authenticate(ctx, tp.AccessToken); err != nil {
				t.Fatal(err)
			}
			if err := a.Revoke(ctx, "u1", tp.SessionID); err != nil {
				t.Fatal(err)
			}
			eventually(t, 5*time.Second, "other instance still accepts the revoked session", func() bool {
				_, err := other.Authenticate(ctx, tp.AccessToken)
				return errs.Is(err, errs.Unauthenticated)
			})
		})

		t.Run("refresh-token reuse detected by one instance reaches another", func(t *testing.T) {
			a, other := env.sessions(SessionConfig{}), env.sessions(SessionConfig{CacheTTL: time.Minute})
			run(t, a)
			run(t, other)
			waitSubscribers(t, b, 2)

			tp := mustCreate(t, a, "u1")
			next, err := a.Refresh(ctx, tp.RefreshToken, reloadSame)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := other.Authenticate(ctx, next.AccessToken); err != nil {
				t.Fatal(err)
			}
			_, err = a.Refresh(ctx, tp.RefreshToken, reloadSame)
			wantUnauthenticated(t, err, "already used")
			eventually(t, 5*time.Second, "other instance still accepts the session", func() bool {
				_, err := other.Authenticate(ctx, next.AccessToken)
				return errs.Is(err, errs.Unauthenticated)
			})
		})
	})
}

func TestRunReturnsWhenContextEnds(t *testing.T) {
	b := redistest.Mini(t)
	s := newSessionEnv(t, b).sessions(SessionConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	waitSubscribers(t, b, 1)

	t.Run("reconnects after the connection drops", func(t *testing.T) {
		b.Mini.Close()
		if err := b.Mini.Restart(); err != nil {
			t.Fatal(err)
		}
		waitSubscribers(t, b, 1)
	})

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
}

func TestRefresh(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		env := newSessionEnv(t, b)
		s := env.sessions(SessionConfig{})

		t.Run("rotates the refresh token and reloads the principal", func(t *testing.T) {
			tp := mustCreate(t, s, "u1")
			promoted := user("")
			promoted.Roles = []string{RoleOfficer, RoleUnitHead}
			next, err := s.Refresh(ctx, tp.RefreshToken, reloadAs(promoted))
			if err != nil {
				t.Fatal(err)
			}
			if next.RefreshToken == tp.RefreshToken || next.SessionID != tp.SessionID || next.AccessToken == tp.AccessToken {
				t.Fatalf("Refresh = %+v after %+v", next, tp)
			}
			p, err := s.Authenticate(ctx, next.AccessToken)
			if err != nil {
				t.Fatal(err)
			}
			if !p.HasRole(RoleUnitHead) || p.SessionID != tp.SessionID || p.UserID != "u1" {
				t.Fatalf("principal after refresh = %+v, want the reloaded roles", p)
			}
			// The new refresh token rotates again.
			if _, err := s.Refresh(ctx, next.RefreshToken, reloadSame); err != nil {
				t.Fatal(err)
			}
		})

		t.Run("only the hash of the secret is stored", func(t *testing.T) {
			tp := mustCreate(t, s, "u1")
			_, secret, _ := parseRefreshToken(tp.RefreshToken)
			h := b.Client.HGet(ctx, s.sessKey(tp.SessionID), "h").Val()
			if h != hashSecret(secret) || h == secret {
				t.Fatalf("stored %q, want the SHA-256 of the secret", h)
			}
		})

		t.Run("reuse of a spent refresh token ends the session", func(t *testing.T) {
			tp := mustCreate(t, s, "u1")
			next, err := s.Refresh(ctx, tp.RefreshToken, reloadSame)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Authenticate(ctx, next.AccessToken); err != nil {
				t.Fatal(err) // now cached as active
			}
			_, err = s.Refresh(ctx, tp.RefreshToken, reloadSame)
			wantUnauthenticated(t, err, "refresh token already used: the session was ended for safety")

			_, err = s.Refresh(ctx, next.RefreshToken, reloadSame)
			wantUnauthenticated(t, err, "invalid or expired")
			for i, access := range []string{tp.AccessToken, next.AccessToken} {
				if _, err := s.Authenticate(ctx, access); !errs.Is(err, errs.Unauthenticated) {
					t.Fatalf("access token %d: Authenticate = %v, want Unauthenticated", i, err)
				}
			}
			if n := b.Client.Exists(ctx, s.sessKey(tp.SessionID), s.spentKey(tp.SessionID)).Val(); n != 0 {
				t.Fatalf("%d session keys left, want none", n)
			}
			if l, _ := s.List(ctx, "u1"); containsSession(l, tp.SessionID) {
				t.Fatal("List still shows the ended session")
			}
		})

		t.Run("exactly one of 20 concurrent refreshes with one token wins", func(t *testing.T) {
			tp := mustCreate(t, s, "u1")
			var wg sync.WaitGroup
			results := make([]error, 20)
			for i := range results {
				wg.Go(func() {
					_, results[i] = s.Refresh(ctx, tp.RefreshToken, reloadSame)
				})
			}
			wg.Wait()
			wins := 0
			for _, err := range results {
				switch {
				case err == nil:
					wins++
				case !errs.Is(err, errs.Unauthenticated):
					t.Errorf("Refresh = %v, want success or Unauthenticated", err)
				}
			}
			if wins != 1 {
				t.Fatalf("%d refreshes succeeded, want exactly 1", wins)
			}
		})

		t.Run("a reload error ends the session and is returned", func(t *testing.T) {
			tp := mustCreate(t, s, "u1")
			disabled := errs.New(errs.PermissionDenied, "account disabled", "tài khoản đã bị khóa")
			_, err := s.Refresh(ctx, tp.RefreshToken, func(context.Context, string) (Principal, error) {
				return Principal{}, disabled
			})
			if !errors.Is(err, disabled) {
				t.Fatalf("Refresh = %v, want the reload error", err)
			}
			_, err = s.Get(ctx, tp.SessionID)
			wantCode(t, err, errs.NotFound)
		})

		t.Run("refresh extends the session's lifetime", func(t *testing.T) {
			tp := mustCreate(t, s, "u1")
			b.Client.PExpire(ctx, s.sessKey(tp.SessionID), time.Hour)
			if _, err := s.Refresh(ctx, tp.RefreshToken, reloadSame); err != nil {
				t.Fatal(err)
			}
			if ttl := b.Client.PTTL(ctx, s.sessKey(tp.SessionID)).Val(); ttl < 29*24*time.Hour {
				t.Fatalf("TTL after refresh = %v, want about 30 days", ttl)
			}
			if ttl := b.Client.PTTL(ctx, s.indexKey("u1")).Val(); ttl < 29*24*time.Hour {
				t.Fatalf("index TTL after refresh = %v, want about 30 days", ttl)
			}
		})

		live := mustCreate(t, s, "u1")
		for _, tc := range []struct{ name, token string }{
			{"empty", ""},
			{"no dot", "abc"},
			{"session id only", live.SessionID + "."},
			{"not a session id", "x." + ids.Secret(32)},
			{"short secret", live.SessionID + "." + ids.Secret(16)},
			{"wrong secret of a live session", live.SessionID + "." + ids.Secret(32)},
			{"unknown session", ids.New() + "." + ids.Secret(32)},
		} {
			t.Run("refuses "+tc.name, func(t *testing.T) {
				_, err := s.Refresh(ctx, tc.token, reloadSame)
				wantUnauthenticated(t, err, "invalid or expired")
			})
		}
		t.Run("a wrong secret does not end the session", func(t *testing.T) {
			if _, err := s.Refresh(ctx, live.RefreshToken, reloadSame); err != nil {
				t.Fatal(err)
			}
		})
	})
}

func containsSession(l []SessionInfo, sid string) bool {
	for _, si := range l {
		if si.ID == sid {
			return true
		}
	}
	return false
}

func TestListAndRevoke(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		ctx := context.Background()
		env := newSessionEnv(t, b)
		s := env.sessions(SessionConfig{})

		t.Run("List shows the most recently used first", func(t *testing.T) {
			tps := []TokenPair{mustCreate(t, s, "u-list"), mustCreate(t, s, "u-list"), mustCreate(t, s, "u-list")}
			base := time.Now().Add(-time.Hour)
			// Last use: second newest, then third, then first.
			for i, offset := range []time.Duration{1, 3, 2} {
				b.Client.HSet(ctx, s.sessKey(tps[i].SessionID), "u", base.Add(offset*time.Minute).UnixMilli())
			}
			l, err := s.List(ctx, "u-list")
			if err != nil {
				t.Fatal(err)
			}
			want := []string{tps[1].SessionID, tps[2].SessionID, tps[0].SessionID}
			if got := sessionIDs(l); !slices.Equal(got, want) {
				t.Fatalf("List = %v, want %v", got, want)
			}
			if l[0].DeviceName != "Pixel 8" || l[0].UserID != "u-list" {
				t.Fatalf("List[0] = %+v", l[0])
			}

			// A refresh is a use: that session moves to the top.
			if _, err := s.Refresh(ctx, tps[0].RefreshToken, reloadSame); err != nil {
				t.Fatal(err)
			}
			l, _ = s.List(ctx, "u-list")
			if l[0].ID != tps[0].SessionID {
				t.Fatalf("after refresh List = %v, want %s first", sessionIDs(l), tps[0].SessionID)
			}
		})

		t.Run("List prunes index entries of expired sessions", func(t *testing.T) {
			tp := mustCreate(t, s, "u-prune")
			gone, fresh := ids.New(), ids.New()
			b.Client.ZAdd(ctx, s.indexKey("u-prune"),
				redis.Z{Score: float64(time.Now().Add(-time.Hour).UnixMilli()), Member: gone},
				redis.Z{Score: float64(time.Now().UnixMilli()), Member: fresh})
			l, err := s.List(ctx, "u-prune")
			if err != nil {
				t.Fatal(err)
			}
			if got := sessionIDs(l); !slices.Equal(got, []string{tp.SessionID}) {
				t.Fatalf("List = %v, want only %s", got, tp.SessionID)
			}
			if b.Client.ZScore(ctx, s.indexKey("u-prune"), gone).Err() != redis.Nil {
				t.Fatal("the expired entry is still indexed")
			}
			// A fresh entry may belong to a session being created right now.
			if b.Client.ZScore(ctx, s.indexKey("u-prune"), fresh).Err() != nil {
				t.Fatal("a fresh entry was pruned")
			}
		})

		t.Run("List of a user without sessions is empty", func(t *testing.T) {
			l, err := s.List(ctx, "nobody")
			if err != nil || len(l) != 0 {
				t.Fatalf("List = %v, %v", l, err)
			}
		})

		t.Run("RevokeAll ends every session but the current one", func(t *testing.T) {
			mine := []TokenPair{mustCreate(t, s, "u-all"), mustCreate(t, s, "u-all"), mustCreate(t, s, "u-all")}
			theirs := mustCreate(t, s, "u-other")
			for _, tp := range append(mine, theirs) {
				if _, err := s.Authenticate(ctx, tp.AccessToken); err != nil {
					t.Fatal(err) // cached as active
				}
			}
			n, err := s.RevokeAll(ctx, "u-all", mine[1].SessionID)
			if err != nil || n != 2 {
				t.Fatalf("RevokeAll = %d, %v; want 2", n, err)
			}
			for i, tp := range mine {
				_, err := s.Authenticate(ctx, tp.AccessToken)
				if (err == nil) != (i == 1) {
					t.Errorf("session %d: Authenticate = %v", i, err)
				}
			}
			if _, err := s.Authenticate(ctx, theirs.AccessToken); err != nil {
				t.Fatalf("another user's session: %v", err)
			}
			l, _ := s.List(ctx, "u-all")
			if got := sessionIDs(l); !slices.Equal(got, []string{mine[1].SessionID}) {
				t.Fatalf("List = %v, want only the current session", got)
			}

			n, err = s.RevokeAll(ctx, "u-all", "")
			if err != nil || n != 1 {
				t.Fatalf("RevokeAll(all) = %d, %v; want 1", n, err)
			}
			if _, err := s.Authenticate(ctx, mine[1].AccessToken); err == nil {
				t.Fatal("the last session still works")
			}
		})

		t.Run("Revoke refuses another user's session", func(t *testing.T) {
			tp := mustCreate(t, s, "u-victim")
			err := s.Revoke(ctx, "u-attacker", tp.SessionID)
			wantCode(t, err, errs.NotFound)
			if _, err := s.Authenticate(ctx, tp.AccessToken); err != nil {
				t.Fatalf("the victim's session was ended: %v", err)
			}
		})

		for _, tc := range []struct{ name, sid string }{
			{"an unknown session", ids.New()},
			{"a malformed id", "not-an-id}"},
			{"an empty id", ""},
		} {
			t.Run("Revoke of "+tc.name+" is NotFound", func(t *testing.T) {
				wantCode(t, s.Revoke(ctx, "u1", tc.sid), errs.NotFound)
			})
			t.Run("Get of "+tc.name+" is NotFound", func(t *testing.T) {
				_, err := s.Get(ctx, tc.sid)
				wantCode(t, err, errs.NotFound)
			})
		}
	})
}

func sessionIDs(l []SessionInfo) []string {
	out := make([]string, len(l))
	for i, si := range l {
		out[i] = si.ID
	}
	return out
}

func TestSessionCacheIsBounded(t *testing.T) {
	b := redistest.Mini(t)
	s := newSessionEnv(t, b).sessions(SessionConfig{})
	now := time.Now().UnixNano()
	for i := range maxCache + 10 {
		s.remember(strconv.Itoa(i), cacheEntry{until: now + int64(time.Second), touched: now}, s.epoch.Load(), now)
	}
	if n := len(s.cache); n > maxCache {
		t.Fatalf("cache holds %d entries, want at most %d", n, maxCache)
	}

	t.Run("stale entries are swept", func(t *testing.T) {
		later := now + int64(2*touchEvery)
		s.mu.Lock()
		s.sweepLocked(later)
		n := len(s.cache)
		s.mu.Unlock()
		if n != 0 {
			t.Fatalf("%d entries left after the sweep, want 0", n)
		}
	})

	t.Run("an answer fetched across an eviction is not cached", func(t *testing.T) {
		epoch := s.epoch.Load()
		s.evict("other")
		s.remember("sid", cacheEntry{until: now + int64(time.Minute)}, epoch, now)
		if _, ok := s.cache["sid"]; ok {
			t.Fatal("a possibly stale answer was cached")
		}
	})
}

func BenchmarkAuthenticateCached(b *testing.B) {
	be := redistest.Mini(b)
	s := NewSessions(be.Client, NewTokens(newTestKeyring(b), TokenConfig{}), SessionConfig{Prefix: be.Prefix, CacheTTL: time.Minute})
	tp, err := s.Create(context.Background(), user("u1"), "", "")
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Authenticate(ctx, tp.AccessToken); err != nil {
			b.Fatal(err)
		}
	}
}
