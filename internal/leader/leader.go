// Package leader runs work on one instance at a time: a lease lock in Redis
// with a fencing counter. The holder renews the lease while it works; losing
// it (a failed renewal, another owner found, or the lease running out
// locally) cancels the work's context at once. Every acquisition takes a new,
// larger fence, so a consumer can refuse writes from a deposed leader with
// ValidFence.
package leader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/redis/go-redis/v9"

	"hqconnect/internal/ids"
)

// ErrLeaseLost is the cause of the work context's cancellation when the lease
// is lost (context.Cause reports it).
var ErrLeaseLost = errors.New("leader lease lost")

// Config says which lock to hold and how.
type Config struct {
	// Prefix starts every key ("hq:" → "hq:leader:{relay}").
	Prefix string
	// Name names the singleton; it is the hash tag of both keys.
	Name string
	// TTL is the lease length (default 10s).
	TTL time.Duration
	// Renew is how often the holder extends the lease and a contender retries
	// (default TTL/3; a value not below TTL is replaced by the default).
	Renew time.Duration
	Log   *slog.Logger

	// hooks lets tests simulate a frozen or killed holder.
	hooks *hooks
}

// hooks are test-only switches (the zero value changes nothing).
type hooks struct {
	// skipRenew and skipRelease, when they return true, make the holder stop
	// talking to Redis as a crashed process would.
	skipRenew   func() bool
	skipRelease func() bool
}

func (c Config) withDefaults() Config {
	if c.TTL <= 0 {
		c.TTL = 10 * time.Second
	}
	if c.Renew <= 0 || c.Renew >= c.TTL {
		c.Renew = c.TTL / 3
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	return c
}

// LockKey is the lock's key: "<prefix>leader:{<name>}". It holds the current
// owner's random id.
func (c Config) LockKey() string { return c.Prefix + "leader:{" + c.Name + "}" }

// FenceKey is the fencing counter's key, in the lock's hash slot. A consumer
// that needs its write and the fence check to be one atomic step can run its
// own script over LockKey, FenceKey and keys with the same {<name>} tag.
func (c Config) FenceKey() string { return c.LockKey() + ":fence" }

// acquireScript takes the lock if it is free and, in the same step, draws the
// next fence. KEYS: lock, fence. ARGV: owner, ttl ms. Returns the fence, or 0.
var acquireScript = redis.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('INCR', KEYS[2])
end
return 0
`)

// renewScript extends the lease only for its owner. KEYS: lock. ARGV: owner,
// ttl ms. Returns 1, or 0 when another owner (or nobody) holds the lock.
var renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`)

// releaseScript deletes the lock only for its owner. KEYS: lock. ARGV: owner.
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// validScript tells whether a fence is the live one: the lock is held and no
// acquisition happened since. KEYS: lock, fence. ARGV: fence.
var validScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 and redis.call('GET', KEYS[2]) == ARGV[1] then
  return 1
end
return 0
`)

// Run contends for the lock until ctx is done. Whenever it holds the lock it
// calls work with a context that is cancelled as soon as the lease is lost,
// and with the fence of that acquisition. When work returns, the lock is
// released and, after a short pause, contended for again. Run returns nil once
// ctx is done (after work has returned), or an error for a bad Config.
func Run(ctx context.Context, rdb redis.UniversalClient, cfg Config, work func(ctx context.Context, fence int64) error) error {
	cfg = cfg.withDefaults()
	if cfg.Name == "" {
		return errors.New("run leader: empty name")
	}
	log := cfg.Log.With("lock", cfg.LockKey())
	owner := ids.Secret(16)
	for {
		if ctx.Err() != nil {
			return nil
		}
		// The lease cannot end in Redis before start+TTL: SET ran after start.
		start := time.Now()
		fence, err := acquire(ctx, rdb, cfg, owner)
		switch {
		case err != nil:
			if ctx.Err() == nil {
				log.Warn("leader: acquire failed", "err", err)
			}
		case fence > 0:
			log.Info("leader: acquired", "fence", fence)
			hold(ctx, rdb, cfg, log, owner, fence, start.Add(cfg.TTL), work)
		}
		if !sleep(ctx, jitter(cfg.Renew)) {
			return nil
		}
	}
}

func acquire(ctx context.Context, rdb redis.UniversalClient, cfg Config, owner string) (int64, error) {
	fence, err := acquireScript.Run(ctx, rdb, []string{cfg.LockKey(), cfg.FenceKey()}, owner, cfg.TTL.Milliseconds()).Int64()
	if err != nil {
		return 0, fmt.Errorf("acquire leader lock: %w", err)
	}
	return fence, nil
}

// hold runs work while keeping the lease, then releases it.
// expires is the earliest moment the lease can end in Redis.
func hold(ctx context.Context, rdb redis.UniversalClient, cfg Config, log *slog.Logger, owner string, fence int64,
	expires time.Time, work func(ctx context.Context, fence int64) error) {
	wctx, cancel := context.WithCancelCause(ctx)
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		keep(wctx, rdb, cfg, log, owner, expires, cancel)
	}()

	err := runWork(wctx, fence, work)
	lost := errors.Is(context.Cause(wctx), ErrLeaseLost)
	cancel(nil)
	<-renewed
	switch {
	case lost:
		log.Warn("leader: work stopped, lease lost", "fence", fence, "err", err)
	case ctx.Err() != nil:
		// Shutting down: whatever work returned is its reaction to that.
	case err != nil:
		log.Error("leader: work failed", "fence", fence, "err", err)
	default:
		log.Info("leader: work returned", "fence", fence)
	}
	if cfg.hooks != nil && cfg.hooks.skipRelease != nil && cfg.hooks.skipRelease() {
		return
	}
	// Release even when ctx is done, so a successor need not wait for the TTL.
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Renew)
	defer rcancel()
	if err := releaseScript.Run(rctx, rdb, []string{cfg.LockKey()}, owner).Err(); err != nil {
		log.Warn("leader: release failed", "fence", fence, "err", fmt.Errorf("release leader lock: %w", err))
		return
	}
	log.Info("leader: released", "fence", fence)
}

func runWork(ctx context.Context, fence int64, work func(ctx context.Context, fence int64) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("run leader work: panic: %v", r)
		}
	}()
	return work(ctx, fence)
}

// keep renews the lease every cfg.Renew until ctx is done, and cancels ctx
// (with ErrLeaseLost) when a renewal finds another owner or when the lease
// runs out before a renewal got through. expires is the local lease end.
func keep(ctx context.Context, rdb redis.UniversalClient, cfg Config, log *slog.Logger, owner string, expires time.Time,
	cancel context.CancelCauseFunc) {
	// Stop a little before the lease ends in Redis: clocks drift, and the
	// work needs a moment to notice its cancellation.
	margin := cfg.TTL / 10
	tick := time.NewTicker(cfg.Renew)
	defer tick.Stop()
	deadline := time.NewTimer(time.Until(expires.Add(-margin)))
	defer deadline.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-deadline.C:
			log.Warn("leader: lease ran out before it could be renewed")
			cancel(ErrLeaseLost)
			return
		case <-tick.C:
		}
		if cfg.hooks != nil && cfg.hooks.skipRenew != nil && cfg.hooks.skipRenew() {
			continue
		}
		start := time.Now()
		rctx, rcancel := context.WithDeadline(ctx, expires.Add(-margin))
		ok, err := renewScript.Run(rctx, rdb, []string{cfg.LockKey()}, owner, cfg.TTL.Milliseconds()).Int64()
		rcancel()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			// Keep trying until the lease runs out locally.
			log.Warn("leader: renew failed", "err", fmt.Errorf("renew leader lock: %w", err))
		case ok == 0:
			log.Warn("leader: lease taken by another owner")
			cancel(ErrLeaseLost)
			return
		default:
			expires = start.Add(cfg.TTL)
			deadline.Reset(time.Until(expires.Add(-margin)))
		}
	}
}

// ValidFence reports whether fence is the current one: the lock named by cfg
// is held and was not acquired again since fence was drawn. A consumer checks
// it (ideally atomically with its write, comparing against the same keys) to
// refuse writes from a deposed leader.
func ValidFence(ctx context.Context, rdb redis.UniversalClient, cfg Config, fence int64) (bool, error) {
	ok, err := validScript.Run(ctx, rdb, []string{cfg.LockKey(), cfg.FenceKey()}, fence).Int64()
	if err != nil {
		return false, fmt.Errorf("check leader fence: %w", err)
	}
	return ok == 1, nil
}

// jitter spreads d by ±20 % so contenders do not retry in lockstep.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	return d*4/5 + rand.N(d*2/5+1)
}

// sleep waits d or until ctx is done; it reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
