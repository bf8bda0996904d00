// Package scheduler keeps delayed jobs in Redis and runs each one on exactly
// one instance: SLA timers, reminders, scheduled notices.
//
// A job lives in two keys that share the {jobs} hash tag (so every script
// touches one Redis Cluster slot): a sorted set of keys by due time and a hash
// of key → job JSON. Claiming moves a due job's score to now+Lease in the same
// script that reads it, so no two instances hold it at once, and a job whose
// runner died comes back when the lease ends. Every Schedule writes a new
// generation into the JSON; finishing a run only touches the job if its JSON
// is still the one that was claimed, so a reschedule or cancel made while the
// handler runs wins.
package scheduler

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"hqconnect/internal/ids"
)

// ErrNotFound is returned by Replay for a key that is not a dead job.
var ErrNotFound = errors.New("job not found")

// ErrInvalidJob is returned by Schedule for a job without a key or kind.
var ErrInvalidJob = errors.New("invalid job")

// Job is one delayed piece of work.
type Job struct {
	// Key is unique ("issue-sla:<id>:warn"); scheduling an existing key
	// replaces it.
	Key string
	// Kind names the handler.
	Kind string
	// Due is when the job should run (millisecond precision; zero means now).
	Due     time.Time
	Payload []byte
	// Attempt counts the failed runs so far.
	Attempt int
	// LastError is the last failure's message (set on retried and dead jobs).
	LastError string
}

// Config tunes a Scheduler; zero values take the defaults.
type Config struct {
	// Prefix starts every key and channel.
	Prefix string
	// Poll is the longest pause between two claims (default 1s); a Schedule
	// due sooner wakes the runners early through pub/sub.
	Poll time.Duration
	// Lease is how long a claimed job stays with its runner (default 60s); a
	// running handler keeps extending it, so only a dead runner's jobs are
	// claimed again.
	Lease time.Duration
	// MaxAttempts is how many failed runs move a job to the dead set
	// (default 10).
	MaxAttempts int
	// Batch is the most jobs one instance runs at once (default 100).
	Batch int
	Log   *slog.Logger
	// Now replaces time.Now (tests).
	Now func() time.Time
}

const (
	minBackoff = time.Second
	maxBackoff = 10 * time.Minute
)

// Scheduler stores, claims and runs jobs. Its methods are safe for concurrent
// use; several instances may share one Redis.
type Scheduler struct {
	rdb     redis.UniversalClient
	cfg     Config
	log     *slog.Logger
	due     string // sorted set: key → due (or lease end) unix ms
	data    string // hash: key → record JSON
	dead    string // hash: key → record JSON
	channel string // pub/sub nudge: due unix ms of a job scheduled soon

	mu       sync.RWMutex
	handlers map[string]func(ctx context.Context, j Job) error

	// afterRun, when set (tests), is called once a run's outcome is stored.
	afterRun func(j Job, err error)
}

// record is a job as stored.
type record struct {
	Key       string `json:"key"`
	Kind      string `json:"kind"`
	DueMS     int64  `json:"due_ms"`
	Payload   []byte `json:"payload,omitempty"`
	Attempt   int    `json:"attempt"`
	LastError string `json:"last_error,omitempty"`
	// Gen is new on every write, so the JSON of two versions never matches.
	Gen string `json:"gen"`
}

func (r record) job() Job {
	return Job{Key: r.Key, Kind: r.Kind, Due: time.UnixMilli(r.DueMS).UTC(), Payload: r.Payload, Attempt: r.Attempt, LastError: r.LastError}
}

func (r record) encode() (string, error) {
	r.Gen = ids.New()
	b, err := json.Marshal(r)
	if err != nil {
		return "", fmt.Errorf("encode job %q: %w", r.Key, err)
	}
	return string(b), nil
}

func decode(s string) (record, error) {
	var r record
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		return record{}, fmt.Errorf("decode job: %w", err)
	}
	return r, nil
}

// New returns a Scheduler on rdb.
func New(rdb redis.UniversalClient, cfg Config) *Scheduler {
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 60 * time.Second
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 10
	}
	if cfg.Batch <= 0 {
		cfg.Batch = 100
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	base := cfg.Prefix + "sched:{jobs}:"
	return &Scheduler{
		rdb: rdb, cfg: cfg, log: cfg.Log,
		due: base + "due", data: base + "data", dead: base + "dead", channel: base + "nudge",
		handlers: map[string]func(ctx context.Context, j Job) error{},
	}
}

// Handle registers fn for jobs of kind. Register before Run.
func (s *Scheduler) Handle(kind string, fn func(ctx context.Context, j Job) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handlers[kind] = fn
}

func (s *Scheduler) handler(kind string) func(ctx context.Context, j Job) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.handlers[kind]
}

// scheduleScript upserts a job (a dead job of the same key is superseded).
// KEYS: due, data, dead. ARGV: key, record, due ms.
var scheduleScript = redis.NewScript(`
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return 1
`)

// Schedule stores j to run at j.Due, replacing any job with the same key
// (due time, kind, payload and attempt: that is how to reschedule). A run of
// the replaced job that is in progress does not delete the new one.
func (s *Scheduler) Schedule(ctx context.Context, j Job) error {
	if j.Key == "" || j.Kind == "" {
		return fmt.Errorf("schedule job: %w: key and kind are required", ErrInvalidJob)
	}
	due := j.Due
	if due.IsZero() {
		due = s.cfg.Now()
	}
	r := record{Key: j.Key, Kind: j.Kind, DueMS: due.UnixMilli(), Payload: j.Payload, Attempt: j.Attempt, LastError: j.LastError}
	if err := s.put(ctx, r); err != nil {
		return fmt.Errorf("schedule job %q: %w", j.Key, err)
	}
	return nil
}

// put writes r as the job's current version and nudges the runners when it
// is due before their next regular poll.
func (s *Scheduler) put(ctx context.Context, r record) error {
	v, err := r.encode()
	if err != nil {
		return err
	}
	if err := scheduleScript.Run(ctx, s.rdb, []string{s.due, s.data, s.dead}, r.Key, v, r.DueMS).Err(); err != nil {
		return err
	}
	if time.UnixMilli(r.DueMS).Before(s.cfg.Now().Add(s.cfg.Poll)) {
		// Best effort: a missed nudge only delays the job to the next poll.
		if err := s.rdb.Publish(ctx, s.channel, r.DueMS).Err(); err != nil {
			s.log.Warn("scheduler: nudge failed", "key", r.Key, "err", err)
		}
	}
	return nil
}

// cancelScript removes a job wherever it is. KEYS: due, data, dead. ARGV: key.
var cancelScript = redis.NewScript(`
local n = redis.call('HDEL', KEYS[2], ARGV[1]) + redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[1], ARGV[1])
return n
`)

// Cancel removes the job with key (scheduled or dead) and reports whether
// there was one. A run already in progress finishes but is not retried.
func (s *Scheduler) Cancel(ctx context.Context, key string) (bool, error) {
	n, err := cancelScript.Run(ctx, s.rdb, []string{s.due, s.data, s.dead}, key).Int64()
	if err != nil {
		return false, fmt.Errorf("cancel job %q: %w", key, err)
	}
	return n > 0, nil
}

// Get returns the scheduled job with key (not a dead one).
func (s *Scheduler) Get(ctx context.Context, key string) (Job, bool, error) {
	v, err := s.rdb.HGet(ctx, s.data, key).Result()
	if errors.Is(err, redis.Nil) {
		return Job{}, false, nil
	}
	if err != nil {
		return Job{}, false, fmt.Errorf("get job %q: %w", key, err)
	}
	r, err := decode(v)
	if err != nil {
		return Job{}, false, fmt.Errorf("get job %q: %w", key, err)
	}
	return r.job(), true, nil
}

// ListDead returns the jobs that failed MaxAttempts times, by key.
func (s *Scheduler) ListDead(ctx context.Context) ([]Job, error) {
	m, err := s.rdb.HGetAll(ctx, s.dead).Result()
	if err != nil {
		return nil, fmt.Errorf("list dead jobs: %w", err)
	}
	jobs := make([]Job, 0, len(m))
	for _, v := range m {
		r, err := decode(v)
		if err != nil {
			return nil, fmt.Errorf("list dead jobs: %w", err)
		}
		jobs = append(jobs, r.job())
	}
	slices.SortFunc(jobs, func(a, b Job) int { return cmp.Compare(a.Key, b.Key) })
	return jobs, nil
}

// replayScript moves a dead job back to the schedule if it is still the dead
// version that was read. KEYS: due, data, dead. ARGV: key, dead record, new
// record, due ms. Returns 0 when the dead entry changed or is gone.
var replayScript = redis.NewScript(`
if redis.call('HGET', KEYS[3], ARGV[1]) ~= ARGV[2] then
  return 0
end
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
return 1
`)

// Replay schedules the dead job with key to run now, with its attempts reset.
func (s *Scheduler) Replay(ctx context.Context, key string) error {
	v, err := s.rdb.HGet(ctx, s.dead, key).Result()
	if errors.Is(err, redis.Nil) {
		return fmt.Errorf("replay job %q: %w", key, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("replay job %q: %w", key, err)
	}
	r, err := decode(v)
	if err != nil {
		return fmt.Errorf("replay job %q: %w", key, err)
	}
	r.Attempt, r.LastError, r.DueMS = 0, "", s.cfg.Now().UnixMilli()
	nv, err := r.encode()
	if err != nil {
		return fmt.Errorf("replay job %q: %w", key, err)
	}
	ok, err := replayScript.Run(ctx, s.rdb, []string{s.due, s.data, s.dead}, key, v, nv, r.DueMS).Int64()
	if err != nil {
		return fmt.Errorf("replay job %q: %w", key, err)
	}
	if ok == 0 {
		return fmt.Errorf("replay job %q: %w", key, ErrNotFound)
	}
	if err := s.rdb.Publish(ctx, s.channel, r.DueMS).Err(); err != nil {
		s.log.Warn("scheduler: nudge failed", "key", key, "err", err)
	}
	return nil
}

// claimScript takes up to ARGV[3] due jobs and leases them until
// ARGV[1]+ARGV[2]. KEYS: due, data. ARGV: now ms, lease ms, limit. Returns
// {next, key1, record1, key2, record2, …}: next is the score of the earliest
// remaining entry (when it becomes claimable), or empty when there is none.
var claimScript = redis.NewScript(`
local now = tonumber(ARGV[1])
local lease_end = now + tonumber(ARGV[2])
local out = {''}
if tonumber(ARGV[3]) > 0 then
  local keys = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
  for _, k in ipairs(keys) do
    local v = redis.call('HGET', KEYS[2], k)
    if v then
      redis.call('ZADD', KEYS[1], lease_end, k)
      out[#out + 1] = k
      out[#out + 1] = v
    else
      redis.call('ZREM', KEYS[1], k)
    end
  end
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if first[2] then
  out[1] = first[2]
end
return out
`)

// claimed is a job this instance holds, with the exact JSON it claimed.
type claimed struct {
	rec record
	raw string
}

// claim leases up to limit due jobs and says when the next one is due (zero
// when nothing is scheduled).
func (s *Scheduler) claim(ctx context.Context, limit int) ([]claimed, time.Time, error) {
	now := s.cfg.Now()
	res, err := claimScript.Run(ctx, s.rdb, []string{s.due, s.data}, now.UnixMilli(), s.cfg.Lease.Milliseconds(), limit).StringSlice()
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("claim jobs: %w", err)
	}
	var next time.Time
	if len(res) > 0 && res[0] != "" {
		f, err := strconv.ParseFloat(res[0], 64)
		if err == nil {
			next = time.UnixMilli(int64(f))
		}
	}
	var out []claimed
	for i := 1; i+1 < len(res); i += 2 {
		r, err := decode(res[i+1])
		if err != nil {
			// Unreadable: park it in the dead set rather than retry forever.
			s.log.Error("scheduler: unreadable job moved to dead set", "key", res[i], "err", err)
			if err := deadScript.Run(ctx, s.rdb, []string{s.due, s.data, s.dead}, res[i], res[i+1], res[i+1]).Err(); err != nil {
				s.log.Warn("scheduler: move unreadable job failed", "key", res[i], "err", err)
			}
			continue
		}
		out = append(out, claimed{rec: r, raw: res[i+1]})
	}
	return out, next, nil
}

// completeScript deletes a job that ran, unless it changed meanwhile.
// KEYS: due, data. ARGV: key, claimed record.
var completeScript = redis.NewScript(`
if redis.call('HGET', KEYS[2], ARGV[1]) == ARGV[2] then
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 1
end
return 0
`)

// retryScript stores a failed job's next version, unless it changed
// meanwhile. KEYS: due, data. ARGV: key, claimed record, new record, due ms.
var retryScript = redis.NewScript(`
if redis.call('HGET', KEYS[2], ARGV[1]) == ARGV[2] then
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
  redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
  return 1
end
return 0
`)

// deadScript moves a job to the dead set, unless it changed meanwhile.
// KEYS: due, data, dead. ARGV: key, claimed record, dead record.
var deadScript = redis.NewScript(`
if redis.call('HGET', KEYS[2], ARGV[1]) == ARGV[2] then
  redis.call('HDEL', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
  return 1
end
return 0
`)

// extendScript pushes a running job's lease end, unless it changed
// meanwhile. KEYS: due, data. ARGV: key, claimed record, lease end ms.
var extendScript = redis.NewScript(`
if redis.call('HGET', KEYS[2], ARGV[1]) == ARGV[2] then
  redis.call('ZADD', KEYS[1], 'XX', ARGV[3], ARGV[1])
  return 1
end
return 0
`)

// Run claims due jobs and runs their handlers, at most Batch at a time, until
// ctx is done; it then waits for the running handlers and returns nil.
func (s *Scheduler) Run(ctx context.Context) error {
	sub := s.rdb.Subscribe(ctx, s.channel)
	defer func() { _ = sub.Close() }()
	nudges := sub.Channel()

	var wg sync.WaitGroup
	defer wg.Wait()
	slots := make(chan struct{}, s.cfg.Batch) // one token per running job
	freed := make(chan struct{}, 1)

	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		if ctx.Err() != nil {
			return nil
		}
		free := s.cfg.Batch - len(slots)
		wait := s.cfg.Poll
		full := free == 0
		if free > 0 {
			jobs, next, err := s.claim(ctx, free)
			switch {
			case err != nil:
				if ctx.Err() != nil {
					return nil
				}
				s.log.Warn("scheduler: claim failed", "err", err)
			default:
				for _, c := range jobs {
					slots <- struct{}{}
					wg.Add(1)
					go func() {
						defer wg.Done()
						s.execute(ctx, c)
						<-slots
						select {
						case freed <- struct{}{}:
						default:
						}
					}()
				}
				if len(jobs) == free {
					full = true // maybe more are due: claim again when a slot frees
					wait = 0
				} else if !next.IsZero() {
					wait = min(wait, max(next.Sub(s.cfg.Now()), 0))
				}
			}
		}
		if wait == 0 && len(slots) < s.cfg.Batch {
			continue
		}
		wakeAt := time.Now().Add(wait)
		timer.Reset(wait)
	waiting:
		for {
			var freedC <-chan struct{}
			if full {
				freedC = freed
			}
			select {
			case <-ctx.Done():
				return nil
			case <-timer.C:
				break waiting
			case <-freedC:
				break waiting
			case m, ok := <-nudges:
				if !ok {
					nudges = nil
					continue
				}
				ms, err := strconv.ParseInt(m.Payload, 10, 64)
				if err != nil || time.UnixMilli(ms).Sub(s.cfg.Now()) < time.Until(wakeAt) {
					break waiting
				}
			}
		}
	}
}

// execute runs one claimed job and records the outcome.
func (s *Scheduler) execute(ctx context.Context, c claimed) {
	job := c.rec.job()
	log := s.log.With("key", job.Key, "kind", job.Kind, "attempt", job.Attempt)
	// Keep the lease while the handler runs.
	hctx, stop := context.WithCancel(ctx)
	kept := make(chan struct{})
	go func() {
		defer close(kept)
		s.keepLease(hctx, c)
	}()
	err := s.call(hctx, job)
	stop()
	<-kept
	if s.afterRun != nil {
		defer s.afterRun(job, err)
	}

	// Record the outcome even while shutting down, briefly.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	keys := []string{s.due, s.data}
	if err == nil {
		if err := completeScript.Run(wctx, s.rdb, keys, job.Key, c.raw).Err(); err != nil {
			log.Error("scheduler: mark job done failed; it will run again after its lease", "err", err)
		}
		return
	}
	if ctx.Err() != nil {
		// Shutting down: the handler was interrupted, not at fault. The job
		// stays leased and another instance runs it after the lease.
		log.Info("scheduler: job interrupted by shutdown", "err", err)
		return
	}
	next := c.rec
	next.Attempt++
	next.LastError = err.Error()
	if next.Attempt >= s.cfg.MaxAttempts {
		log.Error("scheduler: job failed for the last time; moved to the dead set", "err", err)
		v, eerr := next.encode()
		if eerr == nil {
			eerr = deadScript.Run(wctx, s.rdb, []string{s.due, s.data, s.dead}, job.Key, c.raw, v).Err()
		}
		if eerr != nil {
			log.Error("scheduler: move job to dead set failed", "err", eerr)
		}
		return
	}
	delay := backoff(next.Attempt)
	next.DueMS = s.cfg.Now().Add(delay).UnixMilli()
	log.Warn("scheduler: job failed; will retry", "err", err, "retry_in", delay)
	v, eerr := next.encode()
	if eerr == nil {
		eerr = retryScript.Run(wctx, s.rdb, keys, job.Key, c.raw, v, next.DueMS).Err()
	}
	if eerr != nil {
		log.Error("scheduler: reschedule failed job failed; it will run again after its lease", "err", eerr)
	}
}

// call runs the job's handler, turning an unknown kind and a panic into
// errors.
func (s *Scheduler) call(ctx context.Context, j Job) (err error) {
	fn := s.handler(j.Kind)
	if fn == nil {
		return fmt.Errorf("run job: no handler for kind %q", j.Kind)
	}
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("scheduler: handler panicked", "key", j.Key, "kind", j.Kind, "panic", r, "stack", string(debug.Stack()))
			err = fmt.Errorf("run job: handler panicked: %v", r)
		}
	}()
	return fn(ctx, j)
}

// keepLease extends the lease of a running job every third of the lease
// until ctx is done or the job changes.
func (s *Scheduler) keepLease(ctx context.Context, c claimed) {
	t := time.NewTicker(s.cfg.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		end := s.cfg.Now().Add(s.cfg.Lease).UnixMilli()
		ok, err := extendScript.Run(ctx, s.rdb, []string{s.due, s.data}, c.rec.Key, c.raw, end).Int64()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			s.log.Warn("scheduler: extend lease failed", "key", c.rec.Key, "err", err)
		case ok == 0:
			return // rescheduled or cancelled meanwhile: the new version is not ours
		}
	}
}

// backoff is the pause before retry number attempt (1-based): 1 s doubling to
// 10 min, plus up to half again as jitter, never above 10 min.
func backoff(attempt int) time.Duration {
	d := minBackoff
	for i := 1; i < attempt && d < maxBackoff; i++ {
		d *= 2
	}
	d = min(d, maxBackoff)
	d += rand.N(d/2 + 1)
	return min(d, maxBackoff)
}
