package auth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"

	"hqconnect/internal/errs"
	"hqconnect/internal/ids"
)

// SessionConfig says where sessions live and how long they last. Zero fields
// take defaults.
type SessionConfig struct {
	// Prefix starts every key and channel, e.g. "hq:".
	Prefix string
	// RefreshTTL is how long an idle session lives (default 30 days); each
	// Refresh extends it.
	RefreshTTL time.Duration
	// CacheTTL is how long an instance trusts "session is active" without
	// asking Redis (default 2 s; negative turns the cache off). It bounds how
	// late a revocation is seen when a pub/sub message is lost, so keep it
	// under 5 s in production.
	CacheTTL time.Duration
}

// TokenPair is what a sign-in or a refresh hands the client.
type TokenPair struct {
	AccessToken    string
	AccessExpires  time.Time
	RefreshToken   string
	RefreshExpires time.Time
	SessionID      string
}

// SessionInfo describes a session for the "your devices" list.
type SessionInfo struct {
	ID, UserID, DeviceName, ClientIP string
	Created, LastUsed                time.Time
}

const (
	// touchEvery limits LastUsed writes from Authenticate to one a minute per
	// session and instance.
	touchEvery = time.Minute
	// maxCache bounds the active-session cache; past it, stale entries go and,
	// if that is not enough, the whole cache (it refills from Redis).
	maxCache = 1 << 17
	// pruneGrace keeps fresh index entries whose session hash is not written
	// yet: Create writes the index first, so that RevokeAll never misses a
	// session, and a List or RevokeAll in between must not drop the entry.
	pruneGrace = time.Minute
	// maxSpent bounds the spent-token history of a long-lived session; an
	// older token is still refused, only without ending the session.
	maxSpent = 100
	// Limits on free text stored with a session.
	maxDeviceName = 128
	maxClientIP   = 64
)

// Sessions keeps sessions and their refresh tokens in Redis and checks access
// tokens against them.
//
// Keys, for a prefix P: "P sess:{sid}" (hash: uid, h = SHA-256 of the current
// refresh secret, dev, ip, c = created ms, u = last used ms) and
// "P sess:{sid}:spent" (sorted set of spent secret hashes) share a hash slot so
// that Lua scripts can rotate atomically on Redis Cluster; "P usess:{uid}"
// (sorted set of session ids by creation) indexes a user's sessions.
type Sessions struct {
	rdb        redis.UniversalClient
	tokens     *Tokens
	prefix     string
	channel    string
	refreshTTL time.Duration
	cacheTTL   time.Duration

	mu    sync.RWMutex
	cache map[string]cacheEntry
	// epoch counts evictions: an "active" answer from Redis is cached only
	// if no eviction happened while it was being fetched, so a revocation
	// racing a lookup is never overwritten by a stale answer.
	epoch atomic.Uint64
}

type cacheEntry struct {
	until   int64 // unix ns: trusted active until then
	touched int64 // unix ns: LastUsed last written by this instance
}

// NewSessions returns Sessions on rdb issuing access tokens with tokens.
func NewSessions(rdb redis.UniversalClient, tokens *Tokens, cfg SessionConfig) *Sessions {
	if cfg.RefreshTTL <= 0 {
		cfg.RefreshTTL = 30 * 24 * time.Hour
	}
	if cfg.CacheTTL == 0 {
		cfg.CacheTTL = 2 * time.Second
	}
	return &Sessions{
		rdb:        rdb,
		tokens:     tokens,
		prefix:     cfg.Prefix,
		channel:    cfg.Prefix + "sessions:revoked",
		refreshTTL: cfg.RefreshTTL,
		cacheTTL:   cfg.CacheTTL,
		cache:      make(map[string]cacheEntry),
	}
}

func (s *Sessions) sessKey(sid string) string  { return s.prefix + "sess:{" + sid + "}" }
func (s *Sessions) spentKey(sid string) string { return s.prefix + "sess:{" + sid + "}:spent" }
func (s *Sessions) indexKey(uid string) string { return s.prefix + "usess:{" + uid + "}" }

// Errors callers see.
var (
	errSessionEnded = errs.New(errs.Unauthenticated,
		"session ended: sign in again",
		"phiên đăng nhập đã kết thúc: hãy đăng nhập lại")
	errRefreshInvalid = errs.New(errs.Unauthenticated,
		"refresh token is invalid or expired: sign in again",
		"refresh token không hợp lệ hoặc đã hết hạn: hãy đăng nhập lại")
	errRefreshReused = errs.New(errs.Unauthenticated,
		"refresh token already used: the session was ended for safety; sign in again",
		"refresh token đã được sử dụng: phiên đăng nhập đã bị kết thúc để đảm bảo an toàn; hãy đăng nhập lại")
	errNoSession = errs.New(errs.NotFound,
		"no such session",
		"không có phiên đăng nhập này")
)

// refreshScript rotates a refresh token. KEYS: session, spent.
// ARGV: presented hash, new hash, now ms, ttl ms, max spent kept.
// Returns {1, uid} rotated, {2, uid} reuse (session deleted), {0, ""} unknown.
var refreshScript = redis.NewScript(`
local cur = redis.call('HGET', KEYS[1], 'h')
if not cur then return {0, ''} end
local uid = redis.call('HGET', KEYS[1], 'uid') or ''
if cur == ARGV[1] then
  redis.call('HSET', KEYS[1], 'h', ARGV[2], 'u', ARGV[3])
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, -1 - tonumber(ARGV[5]))
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
  return {1, uid}
end
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  redis.call('DEL', KEYS[1], KEYS[2])
  return {2, uid}
end
return {0, ''}
`)

// revokeScript deletes a session if it belongs to the user.
// KEYS: session, spent. ARGV: user id. Returns 1 if deleted.
var revokeScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], 'uid') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
return 1
`)

// touchScript sets LastUsed only on a live session: a plain HSET would bring
// a revoked one back to life. KEYS: session. ARGV: now ms. Returns 1 if live.
var touchScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'u', ARGV[1])
return 1
`)

func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// secretLen is the text length of ids.Secret(32): 256 bits, base64url.
const secretLen = 43

func parseRefreshToken(tok string) (sid, secret string, ok bool) {
	sid, secret, ok = strings.Cut(tok, ".")
	if !ok || !ids.Valid(sid) || len(secret) != secretLen {
		return "", "", false
	}
	if _, err := base64.RawURLEncoding.DecodeString(secret); err != nil {
		return "", "", false
	}
	return sid, secret, true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut at a character boundary, not inside a multi-byte character.
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func ms(t time.Time) int64 { return t.UnixMilli() }

// Create starts a session for p (its SessionID is set here) and returns its
// first tokens.
func (s *Sessions) Create(ctx context.Context, p Principal, deviceName, clientIP string) (TokenPair, error) {
	if p.UserID == "" {
		return TokenPair{}, errors.New("create session: principal has no user id")
	}
	now := time.Now()
	sid := ids.New()
	p.SessionID = sid
	access, accessExp, err := s.tokens.Issue(p, now)
	if err != nil {
		return TokenPair{}, err
	}
	secret := ids.Secret(32)

	// The index first: a session that exists but is missing from its user's
	// index would escape RevokeAll.
	idx := s.indexKey(p.UserID)
	if _, err := s.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		pipe.ZAdd(ctx, idx, redis.Z{Score: float64(ms(now)), Member: sid})
		pipe.PExpire(ctx, idx, s.refreshTTL)
		return nil
	}); err != nil {
		return TokenPair{}, fmt.Errorf("index session: %w", err)
	}
	key := s.sessKey(sid)
	if _, err := s.rdb.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		pipe.HSet(ctx, key,
			"uid", p.UserID,
			"h", hashSecret(secret),
			"dev", truncate(deviceName, maxDeviceName),
			"ip", truncate(clientIP, maxClientIP),
			"c", ms(now),
			"u", ms(now))
		pipe.PExpire(ctx, key, s.refreshTTL)
		return nil
	}); err != nil {
		return TokenPair{}, fmt.Errorf("store session: %w", err)
	}
	return TokenPair{
		AccessToken:    access,
		AccessExpires:  accessExp,
		RefreshToken:   sid + "." + secret,
		RefreshExpires: now.Add(s.refreshTTL),
		SessionID:      sid,
	}, nil
}

// Refresh rotates refreshToken and returns new tokens with the principal
// reload gives (fresh roles and status). Presenting a token that was already
// rotated ends the session: either the client or a thief holds a copy, and we
// cannot tell which. Of concurrent calls with one token exactly one succeeds.
func (s *Sessions) Refresh(ctx context.Context, refreshToken string, reload func(ctx context.Context, userID string) (Principal, error)) (TokenPair, error) {
	sid, secret, ok := parseRefreshToken(refreshToken)
	if !ok {
		return TokenPair{}, errRefreshInvalid
	}
	now := time.Now()
	newSecret := ids.Secret(32)
	res, err := refreshScript.Run(ctx, s.rdb, []string{s.sessKey(sid), s.spentKey(sid)},
		hashSecret(secret), hashSecret(newSecret), ms(now), s.refreshTTL.Milliseconds(), maxSpent).Slice()
	if err != nil {
		return TokenPair{}, fmt.Errorf("rotate refresh token: %w", err)
	}
	status, uid, err := scriptResult(res)
	if err != nil {
		return TokenPair{}, fmt.Errorf("rotate refresh token: %w", err)
	}
	switch status {
	case 1:
	case 2:
		s.revoked(ctx, uid, sid)
		return TokenPair{}, errRefreshReused
	default:
		return TokenPair{}, errRefreshInvalid
	}

	if err := s.rdb.PExpire(ctx, s.indexKey(uid), s.refreshTTL).Err(); err != nil {
		return TokenPair{}, fmt.Errorf("extend session index: %w", err)
	}
	p, err := reload(ctx, uid)
	if err == nil && p.UserID != "" && p.UserID != uid {
		err = fmt.Errorf("reload session user: got user %q for session of %q", p.UserID, uid)
	}
	if err != nil {
		// The user may no longer sign in (disabled, deleted…): end the session
		// rather than leave a refresh token that can never work again.
		_ = s.revoke(ctx, uid, sid)
		return TokenPair{}, err
	}
	p.UserID, p.SessionID = uid, sid
	access, accessExp, err := s.tokens.Issue(p, now)
	if err != nil {
		return TokenPair{}, err
	}
	return TokenPair{
		AccessToken:    access,
		AccessExpires:  accessExp,
		RefreshToken:   sid + "." + newSecret,
		RefreshExpires: now.Add(s.refreshTTL),
		SessionID:      sid,
	}, nil
}

func scriptResult(res []any) (status int64, uid string, err error) {
	if len(res) != 2 {
		return 0, "", fmt.Errorf("unexpected script reply %v", res)
	}
	status, ok1 := res[0].(int64)
	uid, ok2 := res[1].(string)
	if !ok1 || !ok2 {
		return 0, "", fmt.Errorf("unexpected script reply %v", res)
	}
	return status, uid, nil
}

// Authenticate verifies an access token and that its session is still active.
func (s *Sessions) Authenticate(ctx context.Context, accessToken string) (*Principal, error) {
	p, err := s.tokens.Parse(accessToken)
	if err != nil {
		return nil, err
	}
	sid := p.SessionID
	now := time.Now().UnixNano()
	s.mu.RLock()
	e, ok := s.cache[sid]
	s.mu.RUnlock()
	if ok && e.until > now {
		return p, nil
	}

	epoch := s.epoch.Load()
	key := s.sessKey(sid)
	var alive bool
	if now-e.touched >= int64(touchEvery) {
		n, err := touchScript.Run(ctx, s.rdb, []string{key}, now/int64(time.Millisecond)).Int64()
		if err != nil {
			return nil, fmt.Errorf("check session: %w", err)
		}
		alive, e.touched = n == 1, now
	} else {
		n, err := s.rdb.Exists(ctx, key).Result()
		if err != nil {
			return nil, fmt.Errorf("check session: %w", err)
		}
		alive = n == 1
	}
	if !alive {
		s.evict(sid)
		return nil, errSessionEnded
	}
	e.until = now + int64(s.cacheTTL) // cacheTTL < 0: never trusted
	s.remember(sid, e, epoch, now)
	return p, nil
}

func (s *Sessions) remember(sid string, e cacheEntry, epoch uint64, now int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.epoch.Load() != epoch {
		return
	}
	if _, ok := s.cache[sid]; !ok && len(s.cache) >= maxCache {
		s.sweepLocked(now)
		if len(s.cache) >= maxCache {
			clear(s.cache)
		}
	}
	s.cache[sid] = e
}

// sweepLocked drops entries that are neither trusted nor needed to space out
// LastUsed writes.
func (s *Sessions) sweepLocked(now int64) {
	for sid, e := range s.cache {
		if e.until <= now && now-e.touched >= int64(touchEvery) {
			delete(s.cache, sid)
		}
	}
}

func (s *Sessions) sweep() {
	s.mu.Lock()
	s.sweepLocked(time.Now().UnixNano())
	s.mu.Unlock()
}

func (s *Sessions) evict(sid string) {
	s.epoch.Add(1)
	s.mu.Lock()
	delete(s.cache, sid)
	s.mu.Unlock()
}

func (s *Sessions) evictAll() {
	s.epoch.Add(1)
	s.mu.Lock()
	clear(s.cache)
	s.mu.Unlock()
}

// revoke deletes the session if it belongs to uid, else returns NotFound.
func (s *Sessions) revoke(ctx context.Context, uid, sid string) error {
	n, err := revokeScript.Run(ctx, s.rdb, []string{s.sessKey(sid), s.spentKey(sid)}, uid).Int64()
	if err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	if n == 0 {
		return errNoSession
	}
	s.revoked(ctx, uid, sid)
	return nil
}

// revoked tells every instance that sid is gone and drops it from the index.
// Both are best effort: the session keys are already deleted, a lost message
// is covered by CacheTTL, and a dangling index entry is pruned later.
func (s *Sessions) revoked(ctx context.Context, uid string, sids ...string) {
	if len(sids) == 0 {
		return
	}
	for _, sid := range sids {
		s.evict(sid)
	}
	// A caller that gave up (say, a client that disconnected after reusing a
	// refresh token) must not stop the other instances from hearing of it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	members := make([]any, len(sids))
	for i, sid := range sids {
		members[i] = sid
	}
	_, _ = s.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		if uid != "" {
			pipe.ZRem(ctx, s.indexKey(uid), members...)
		}
		for _, sid := range sids {
			pipe.Publish(ctx, s.channel, sid)
		}
		return nil
	})
}

// Revoke ends one of userID's sessions.
func (s *Sessions) Revoke(ctx context.Context, userID, sessionID string) error {
	if userID == "" || !ids.Valid(sessionID) {
		return errNoSession
	}
	return s.revoke(ctx, userID, sessionID)
}

// RevokeAll ends all of userID's sessions except exceptSessionID ("" for
// none) and returns how many it ended.
func (s *Sessions) RevokeAll(ctx context.Context, userID, exceptSessionID string) (int, error) {
	if userID == "" {
		return 0, nil
	}
	idx, err := s.rdb.ZRangeWithScores(ctx, s.indexKey(userID), 0, -1).Result()
	if err != nil {
		return 0, fmt.Errorf("list sessions: %w", err)
	}
	type pending struct {
		z   redis.Z
		cmd *redis.Cmd
	}
	var ps []pending
	_, err = s.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for _, z := range idx {
			sid, _ := z.Member.(string)
			if sid == exceptSessionID {
				continue
			}
			// Eval, not EvalSha: a pipeline cannot fall back on NOSCRIPT.
			ps = append(ps, pending{z, revokeScript.Eval(ctx, pipe, []string{s.sessKey(sid), s.spentKey(sid)}, userID)})
		}
		return nil
	})
	var ended []string
	var stale []any
	pruneBefore := float64(ms(time.Now().Add(-pruneGrace)))
	for _, p := range ps {
		sid, _ := p.z.Member.(string)
		n, cerr := p.cmd.Int64()
		switch {
		case cerr != nil:
		case n == 1:
			ended = append(ended, sid)
		case p.z.Score < pruneBefore:
			stale = append(stale, sid)
		}
	}
	s.revoked(ctx, userID, ended...)
	s.prune(ctx, userID, stale)
	if err != nil {
		return len(ended), fmt.Errorf("revoke sessions: %w", err)
	}
	return len(ended), nil
}

// prune drops index entries whose session expired (best effort).
func (s *Sessions) prune(ctx context.Context, uid string, sids []any) {
	if len(sids) > 0 {
		_ = s.rdb.ZRem(ctx, s.indexKey(uid), sids...).Err()
	}
}

var sessionFields = []string{"uid", "dev", "ip", "c", "u"}

func sessionInfo(sid string, vals []any) (SessionInfo, bool) {
	if len(vals) != len(sessionFields) {
		return SessionInfo{}, false
	}
	str := func(i int) string { v, _ := vals[i].(string); return v }
	uid := str(0)
	if uid == "" {
		return SessionInfo{}, false
	}
	c, _ := strconv.ParseInt(str(3), 10, 64)
	u, _ := strconv.ParseInt(str(4), 10, 64)
	return SessionInfo{
		ID: sid, UserID: uid, DeviceName: str(1), ClientIP: str(2),
		Created: time.UnixMilli(c).UTC(), LastUsed: time.UnixMilli(u).UTC(),
	}, true
}

// List returns userID's active sessions, most recently used first.
func (s *Sessions) List(ctx context.Context, userID string) ([]SessionInfo, error) {
	if userID == "" {
		return nil, nil
	}
	idx, err := s.rdb.ZRangeWithScores(ctx, s.indexKey(userID), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	cmds := make([]*redis.SliceCmd, len(idx))
	if _, err := s.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for i, z := range idx {
			sid, _ := z.Member.(string)
			cmds[i] = pipe.HMGet(ctx, s.sessKey(sid), sessionFields...)
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read sessions: %w", err)
	}
	out := make([]SessionInfo, 0, len(idx))
	var stale []any
	pruneBefore := float64(ms(time.Now().Add(-pruneGrace)))
	for i, z := range idx {
		sid, _ := z.Member.(string)
		info, ok := sessionInfo(sid, cmds[i].Val())
		switch {
		case ok && info.UserID == userID:
			out = append(out, info)
		case z.Score < pruneBefore:
			stale = append(stale, sid)
		}
	}
	s.prune(ctx, userID, stale)
	slices.SortFunc(out, func(a, b SessionInfo) int {
		if c := b.LastUsed.Compare(a.LastUsed); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID) // ids are time-ordered: newer first
	})
	return out, nil
}

// Get returns one session, or errs.NotFound if it ended or expired.
func (s *Sessions) Get(ctx context.Context, sessionID string) (SessionInfo, error) {
	if !ids.Valid(sessionID) {
		return SessionInfo{}, errNoSession
	}
	vals, err := s.rdb.HMGet(ctx, s.sessKey(sessionID), sessionFields...).Result()
	if err != nil {
		return SessionInfo{}, fmt.Errorf("read session: %w", err)
	}
	info, ok := sessionInfo(sessionID, vals)
	if !ok {
		return SessionInfo{}, errNoSession
	}
	return info, nil
}

// Run listens for revocations made by any instance and evicts them from this
// instance's cache. It returns nil when ctx is done and reconnects on errors
// meanwhile.
func (s *Sessions) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(touchEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.sweep()
			}
		}
	})
	defer wg.Wait()

	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		received, _ := s.listen(ctx)
		if received {
			backoff = 100 * time.Millisecond
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
			backoff = min(2*backoff, 5*time.Second)
		}
	}
	return nil
}

// pubsubIdle is how long a quiet subscription waits before pinging, so that
// a dead connection is noticed.
const pubsubIdle = 30 * time.Second

// listen subscribes once and evicts until the connection fails or ctx is
// done. received reports whether the subscription was confirmed.
func (s *Sessions) listen(ctx context.Context) (received bool, err error) {
	ps := s.rdb.Subscribe(ctx, s.channel)
	defer ps.Close()
	// go-redis does not interrupt a blocked read when ctx is done; closing
	// the connection does.
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() })
	defer stop()

	if _, err := ps.Receive(ctx); err != nil {
		return false, fmt.Errorf("subscribe to revocations: %w", err)
	}
	// Revocations published while we were not subscribed are lost: forget
	// every cached answer instead.
	s.evictAll()
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, pubsubIdle)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && !pinged && ctx.Err() == nil {
				if err := ps.Ping(ctx); err != nil {
					return true, fmt.Errorf("ping revocation channel: %w", err)
				}
				pinged = true
				continue
			}
			return true, fmt.Errorf("receive revocation: %w", err)
		}
		pinged = false
		if m, ok := msg.(*redis.Message); ok {
			s.evict(m.Payload)
		}
	}
}
