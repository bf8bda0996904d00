package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"hqconnect/internal/errs"
)

// GuardConfig sets the sign-in limits. Zero fields take defaults.
type GuardConfig struct {
	// Prefix starts every key, e.g. "hq:".
	Prefix string
	// MaxFailures failed sign-ins within Window lock the account key for
	// Lockout (defaults 5, 15 min, 15 min).
	MaxFailures int
	Window      time.Duration
	Lockout     time.Duration
	// IPLimit attempts per client IP per IPWindow (defaults 30 per minute).
	IPLimit  int
	IPWindow time.Duration
}

// LoginGuard slows down password guessing: per client IP (any account) and
// per account key (from any IP). It is called for unknown identifiers too,
// so its answers never tell whether an account exists.
type LoginGuard struct {
	rdb redis.UniversalClient
	cfg GuardConfig
}

// NewLoginGuard returns a LoginGuard keeping its counters in rdb.
func NewLoginGuard(rdb redis.UniversalClient, cfg GuardConfig) *LoginGuard {
	if cfg.MaxFailures <= 0 {
		cfg.MaxFailures = 5
	}
	if cfg.Window <= 0 {
		cfg.Window = 15 * time.Minute
	}
	if cfg.Lockout <= 0 {
		cfg.Lockout = 15 * time.Minute
	}
	if cfg.IPLimit <= 0 {
		cfg.IPLimit = 30
	}
	if cfg.IPWindow <= 0 {
		cfg.IPWindow = time.Minute
	}
	return &LoginGuard{rdb: rdb, cfg: cfg}
}

// Account keys are hashed: keys stay short, identifiers (emails, tax codes)
// are not stored in Redis, and braces in them cannot break the hash tag that
// keeps an account's two keys in one Cluster slot.
func (g *LoginGuard) accountKeys(accountKey string) (fails, lock string) {
	sum := sha256.Sum256([]byte(accountKey))
	base := g.cfg.Prefix + "lg:acct:{" + hex.EncodeToString(sum[:16]) + "}"
	return base + ":fails", base + ":lock"
}

func (g *LoginGuard) ipKey(ip string) string {
	// The address may come from a forwarding header: bound the key.
	return g.cfg.Prefix + "lg:ip:{" + truncate(ip, maxClientIP) + "}"
}

// windowScript counts one event in a fixed window. KEYS: counter. ARGV:
// window ms. Returns {count, ms left}. The expiry is set in the same step, so
// a crash between INCR and PEXPIRE cannot leave a counter that never resets.
var windowScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
`)

// failScript counts a failure and locks the account at the limit.
// KEYS: failures, lock. ARGV: max failures, window ms, lockout ms.
var failScript = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
if n >= tonumber(ARGV[1]) then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
`)

// minutesLeft rounds up, so "try again in 1 minute" is never too early.
func minutesLeft(ms int64) int64 {
	return max(1, (ms+59_999)/60_000)
}

// Allow counts one sign-in attempt and refuses it when the client IP or the
// account key is over its limit. An empty clientIP is not limited by IP:
// lumping unknown addresses together would let one client lock out all.
func (g *LoginGuard) Allow(ctx context.Context, accountKey, clientIP string) error {
	_, lockKey := g.accountKeys(accountKey)
	var ipCmd *redis.Cmd
	var lockCmd *redis.DurationCmd
	if _, err := g.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		if clientIP != "" {
			ipCmd = windowScript.Eval(ctx, pipe, []string{g.ipKey(clientIP)}, g.cfg.IPWindow.Milliseconds())
		}
		lockCmd = pipe.PTTL(ctx, lockKey)
		return nil
	}); err != nil {
		return fmt.Errorf("check sign-in limits: %w", err)
	}
	if ipCmd != nil {
		res, err := ipCmd.Int64Slice()
		if err != nil {
			return fmt.Errorf("count sign-in attempt: %w", err)
		}
		if len(res) != 2 {
			return fmt.Errorf("count sign-in attempt: unexpected reply %v", res)
		}
		if res[0] > int64(g.cfg.IPLimit) {
			m := minutesLeft(res[1])
			return errs.Newf(errs.ResourceExhausted,
				fmt.Sprintf("có quá nhiều lần thử đăng nhập từ mạng của bạn; hãy thử lại sau %d phút", m),
				"too many sign-in attempts from your network; try again in %d %s", m, plural(m, "minute"))
		}
	}
	if left := lockCmd.Val(); left > 0 {
		m := minutesLeft(left.Milliseconds())
		// Says "this sign-in name", not "your account": unknown names are
		// locked the same way, so the answer reveals nothing.
		return errs.Newf(errs.ResourceExhausted,
			fmt.Sprintf("đăng nhập sai quá nhiều lần với tên đăng nhập này; việc đăng nhập bằng tên này bị tạm khóa, hãy thử lại sau %d phút", m),
			"too many failed sign-ins with this sign-in name; signing in with it is locked, try again in %d %s", m, plural(m, "minute"))
	}
	return nil
}

func plural(n int64, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// Failed records a failed sign-in for accountKey; the MaxFailures-th within
// Window locks it for Lockout.
func (g *LoginGuard) Failed(ctx context.Context, accountKey string) error {
	fails, lock := g.accountKeys(accountKey)
	err := failScript.Run(ctx, g.rdb, []string{fails, lock},
		g.cfg.MaxFailures, g.cfg.Window.Milliseconds(), g.cfg.Lockout.Milliseconds()).Err()
	if err != nil {
		return fmt.Errorf("record failed sign-in: %w", err)
	}
	return nil
}

// Succeeded clears accountKey's failure count.
func (g *LoginGuard) Succeeded(ctx context.Context, accountKey string) error {
	fails, _ := g.accountKeys(accountKey)
	if err := g.rdb.Del(ctx, fails).Err(); err != nil {
		return fmt.Errorf("clear failed sign-ins: %w", err)
	}
	return nil
}
