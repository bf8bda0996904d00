// Package pipeline moves outbox events from SQL to their consumers: a relay
// (one active instance, by a leader lock) appends committed outbox rows to a
// Redis Stream in id order and marks them relayed; workers read the stream
// through a consumer group and call a Handler for every event, at least once.
//
// # Delivery
//
// A worker takes an event by setting its marker key
// "<prefix>evdone:{<event id>}" to the stream entry id (a lock with a lease),
// calls the handler and, on success, sets the marker to "done" for 7 days
// before it acknowledges the entry. A second copy of an event (the relay
// re-relays a row when it crashed between XADD and marking the row) finds the
// marker and is acknowledged without calling the handler. A failure
// acknowledges the entry and hands the event to the scheduler ("pipeline.retry"
// jobs, exponential backoff with full jitter); after MaxAttempts failures the
// event goes to the dead-letter stream "<prefix>events:dead", from where
// ReplayDead puts it back. Entries left pending by a dead worker are taken over
// with XAUTOCLAIM after ReclaimIdle; a live worker keeps the entries it is
// working on fresh, so only a dead or stalled worker's entries move.
//
// # Redis losing its data
//
// A Redis without persistence that restarts has lost the stream, the group,
// the retry jobs and the markers. Rows the relay has not marked yet are
// relayed again anyway; the danger is the rows already marked relayed whose
// events were not finished. The relay therefore keeps, in its memory, a
// checkpoint: a relay time before which every relayed event is known finished
// (handled, or given up after MaxAttempts). It computes it every
// CheckpointEvery from Redis itself, between two reads of an epoch key
// ("<prefix>events:epoch", a random token only the relay writes):
//
//   - every stream entry carries the relay time "rt" of its row;
//   - the undelivered part of the stream starts after the group's
//     last-delivered id; the oldest undelivered entry gives its rt;
//   - the oldest pending entry of the group (XPENDING) gives its rt;
//   - events that left the pending list without finishing (waiting for a
//     retry, dead-lettered, or replayed) sit in the sorted set
//     "<prefix>events:open", scored by their rt; a worker adds an event there
//     before it acknowledges a failed entry and removes it only once the
//     event is handled.
//
// An event only moves forward through these states (undelivered → pending →
// open → finished), and they are read in that order, so none can slip
// between two reads. Rows relayed later have a later rt (one relay at a time
// stamps each batch before appending it), so every row relayed before the
// smallest of those rt values, less ClockSkew, is finished: that is the
// checkpoint. When the relay finds the epoch key missing or changed (Redis
// lost its data, or another relay already saw that happen), it sets
// relay_time back to NULL on every row relayed at or after its checkpoint,
// makes sure the group exists (starting at "0"), and only then writes a new
// epoch token: those rows go through the pipeline again and handlers, which
// are idempotent by event id, see them at least once more. A relay that has
// no checkpoint for the lost epoch (it started after the loss) re-relays
// everything relayed within ReplayWindow (default: Retention, every row kept).
//
// The price: after a loss, events finished shortly before the checkpoint
// moved are handled again (the dedupe markers were lost too), and a dead
// letter holds the checkpoint back until it is replayed or older than
// Retention (so the dead-letter stream is rebuilt by a loss). What the
// design cannot save is an unfinished entry trimmed away by StreamMaxLen, a
// backlog that size being an outage of its own.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"hqconnect/internal/ids"
	"hqconnect/internal/outbox"
)

// ErrNotFound is returned (wrapped) by ReplayDead for an id that is not a
// dead letter.
var ErrNotFound = errors.New("dead letter not found")

// ErrInvalidCursor is returned (wrapped) by ListDead for a malformed cursor.
var ErrInvalidCursor = errors.New("invalid dead-letter cursor")

// Handler handles one event. It must be idempotent per event id: the
// pipeline delivers at least once. A returned error or a panic is a failure
// and is retried later.
type Handler func(ctx context.Context, e outbox.Event) error

// RetryKind is the scheduler job kind of a failed event's next attempt.
const RetryKind = "pipeline.retry"

// LeaderName names the relay's leader lock.
const LeaderName = "outbox-relay"

// Config tunes the relay and the workers; zero values take the defaults.
// The relay and every worker of a deployment must agree on Prefix, Stream
// and Group.
type Config struct {
	// Prefix starts every Redis key, e.g. "hq:".
	Prefix string
	// Stream is the stream's name after the prefix (default "events").
	Stream string
	// Group is the consumer group (default "notify").
	Group string
	// Consumer names this worker in the group (default hostname-pid-random);
	// it must be unique per worker.
	Consumer string
	// Batch is the most entries per XREADGROUP and rows per relay batch
	// (default 100; the relay takes at most 500).
	Batch int
	// Concurrency is how many events one worker handles at once (default 16).
	Concurrency int
	// ReclaimIdle: entries pending longer than this on any consumer are taken
	// over (default 30s). Workers look every ReclaimIdle/2.
	ReclaimIdle time.Duration
	// MaxAttempts failures send an event to the dead-letter stream
	// (default 8).
	MaxAttempts int
	// RelayPoll is the relay's pause when it found nothing to relay
	// (default 100ms); after a full batch it goes on at once.
	RelayPoll time.Duration
	// Retention: relayed outbox rows older than this are deleted by the relay
	// (default 7 days).
	Retention time.Duration
	// StreamMaxLen caps the stream: XADD … MAXLEN ~ (default 1,000,000).
	StreamMaxLen int64
	Log          *slog.Logger

	// RetryMin and RetryMax bound the backoff between attempts (defaults 1s
	// and 5min): attempt n waits a random time up to RetryMin·2^(n-1),
	// capped at RetryMax, and at least RetryMin.
	RetryMin, RetryMax time.Duration
	// DrainTimeout is how long a stopping worker waits for its running
	// handlers before it cancels their context (default 10s).
	DrainTimeout time.Duration
	// LeaderTTL is the relay's lease (default 10s).
	LeaderTTL time.Duration
	// CheckpointEvery is how often the relay recomputes its checkpoint (see
	// the package documentation; default 1s).
	CheckpointEvery time.Duration
	// ReplayWindow is how far back a relay without a checkpoint re-relays
	// when Redis lost its data (default Retention).
	ReplayWindow time.Duration
	// ClockSkew is the clock difference tolerated between relay hosts; the
	// checkpoint is moved back by it (default 5s).
	ClockSkew time.Duration
}

func (c Config) withDefaults() Config {
	if c.Stream == "" {
		c.Stream = "events"
	}
	if c.Group == "" {
		c.Group = "notify"
	}
	if c.Consumer == "" {
		host, _ := os.Hostname()
		if host == "" {
			host = "worker"
		}
		c.Consumer = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), ids.Secret(4))
	}
	if c.Batch <= 0 {
		c.Batch = 100
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 16
	}
	if c.ReclaimIdle <= 0 {
		c.ReclaimIdle = 30 * time.Second
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 8
	}
	if c.RelayPoll <= 0 {
		c.RelayPoll = 100 * time.Millisecond
	}
	if c.Retention <= 0 {
		c.Retention = 7 * 24 * time.Hour
	}
	if c.StreamMaxLen <= 0 {
		c.StreamMaxLen = 1_000_000
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.RetryMin <= 0 {
		c.RetryMin = time.Second
	}
	if c.RetryMax <= 0 {
		c.RetryMax = 5 * time.Minute
	}
	c.RetryMax = max(c.RetryMax, c.RetryMin)
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 10 * time.Second
	}
	if c.LeaderTTL <= 0 {
		c.LeaderTTL = 10 * time.Second
	}
	if c.CheckpointEvery <= 0 {
		c.CheckpointEvery = time.Second
	}
	if c.ReplayWindow <= 0 {
		c.ReplayWindow = c.Retention
	}
	if c.ClockSkew <= 0 {
		c.ClockSkew = 5 * time.Second
	}
	return c
}

// markerTTL is how long a handled event's marker dedupes later copies.
const markerTTL = 7 * 24 * time.Hour

// Marker values besides a lock holder's stream entry id.
const (
	markerDone = "done"
	markerDead = "dead"
)

// streamKey is the events stream: "<prefix>events".
func (c Config) streamKey() string { return c.Prefix + c.Stream }

// deadKey is the dead-letter stream: "<prefix>events:dead".
func (c Config) deadKey() string { return c.streamKey() + ":dead" }

// openKey is the sorted set of events that left the pending list unfinished
// (waiting for a retry, dead, replayed), scored by relay time (unix ms).
func (c Config) openKey() string { return c.streamKey() + ":open" }

// epochKey holds the relay's token for the current Redis data set.
func (c Config) epochKey() string { return c.streamKey() + ":epoch" }

// markerKey is an event's dedupe marker and processing lock.
func (c Config) markerKey(eventID string) string { return c.Prefix + "evdone:{" + eventID + "}" }

// Stream entry fields.
const (
	fieldID      = "id"
	fieldKind    = "kind"
	fieldPayload = "payload"
	fieldRT      = "rt" // relay time of the row, unix ms
)

// xaddArgs is how an event is appended to the stream (by the relay and by
// ReplayDead).
func xaddArgs(cfg Config, id, kind, payload string, rt int64) *redis.XAddArgs {
	return &redis.XAddArgs{
		Stream: cfg.streamKey(),
		MaxLen: cfg.StreamMaxLen,
		Approx: true,
		Values: []any{fieldID, id, fieldKind, kind, fieldPayload, payload, fieldRT, rt},
	}
}

// ensureGroup creates the consumer group (and the stream) when missing,
// starting at "0" so entries appended before the group existed are read.
func ensureGroup(ctx context.Context, rdb redis.UniversalClient, cfg Config) error {
	err := rdb.XGroupCreateMkStream(ctx, cfg.streamKey(), cfg.Group, "0").Err()
	if err != nil && !strings.HasPrefix(err.Error(), "BUSYGROUP") {
		return fmt.Errorf("create consumer group: %w", err)
	}
	return nil
}

// isNoGroup reports whether err says the stream or the group is missing.
func isNoGroup(err error) bool {
	return err != nil && strings.HasPrefix(err.Error(), "NOGROUP")
}

// isNoKey reports whether err says the key is missing (XINFO).
func isNoKey(err error) bool {
	return err != nil && strings.Contains(err.Error(), "no such key")
}

// Lag returns how many entries the group holds delivered but not yet
// acknowledged (XPENDING's count); 0 when the group does not exist yet.
func Lag(ctx context.Context, rdb redis.UniversalClient, cfg Config) (int64, error) {
	cfg = cfg.withDefaults()
	p, err := rdb.XPending(ctx, cfg.streamKey(), cfg.Group).Result()
	if isNoGroup(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read pipeline lag: %w", err)
	}
	return p.Count, nil
}

// backoff is the pause before attempt number attempt+1, after attempt
// failures: full jitter up to min·2^(attempt-1), capped, at least min.
func backoff(cfg Config, attempt int) time.Duration {
	ceil := cfg.RetryMin
	for i := 1; i < attempt && ceil < cfg.RetryMax; i++ {
		ceil *= 2
	}
	ceil = min(ceil, cfg.RetryMax)
	return max(cfg.RetryMin, rand.N(ceil+1))
}

// idTime is the millisecond part of a stream entry id.
func idTime(id string) int64 {
	ms, _, _ := strings.Cut(id, "-")
	n, _ := strconv.ParseInt(ms, 10, 64)
	return n
}

// validStreamID reports whether s looks like "<ms>-<seq>".
func validStreamID(s string) bool {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return false
	}
	_, err1 := strconv.ParseUint(a, 10, 64)
	_, err2 := strconv.ParseUint(b, 10, 64)
	return err1 == nil && err2 == nil
}

// outage logs a failing dependency once per outage, and its recovery.
type outage struct {
	mu    sync.Mutex
	since time.Time
}

// fail notes a failure; it logs only the first of an outage.
func (o *outage) fail(log *slog.Logger, msg string, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.since.IsZero() {
		o.since = time.Now()
		log.Warn(msg, "err", err)
	}
}

// ok notes a success; it logs the end of an outage.
func (o *outage) ok(log *slog.Logger, msg string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.since.IsZero() {
		log.Info(msg, "outage", time.Since(o.since).Round(time.Millisecond))
		o.since = time.Time{}
	}
}

// quietHandler drops warnings whose message was already logged within
// every, so a library that logs every failed retry (the leader lock) logs an
// outage about once.
type quietHandler struct {
	slog.Handler
	every time.Duration
	mu    *sync.Mutex
	last  map[string]time.Time
}

func newQuietLogger(log *slog.Logger, every time.Duration) *slog.Logger {
	return slog.New(&quietHandler{Handler: log.Handler(), every: every, mu: new(sync.Mutex), last: map[string]time.Time{}})
}

func (h *quietHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		h.mu.Lock()
		last, seen := h.last[r.Message]
		if seen && r.Time.Sub(last) < h.every {
			h.mu.Unlock()
			return nil
		}
		h.last[r.Message] = r.Time
		h.mu.Unlock()
	}
	return h.Handler.Handle(ctx, r)
}

func (h *quietHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.Handler = h.Handler.WithAttrs(as)
	return &c
}

func (h *quietHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.Handler = h.Handler.WithGroup(name)
	return &c
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
