package pipeline

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"hqconnect/internal/ids"
	"hqconnect/internal/outbox"
	"hqconnect/internal/redisx/redistest"
	"hqconnect/internal/scheduler"
	"hqconnect/internal/store"
)

// testLog discards, unless PIPELINE_TEST_LOG is set.
func testLog() *slog.Logger {
	if os.Getenv("PIPELINE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// testConfig is a fast configuration on b.
func testConfig(b redistest.Backend) Config {
	return Config{
		Prefix:          b.Prefix,
		Consumer:        "c-" + ids.Secret(4),
		ReclaimIdle:     300 * time.Millisecond,
		RelayPoll:       10 * time.Millisecond,
		RetryMin:        20 * time.Millisecond,
		RetryMax:        80 * time.Millisecond,
		CheckpointEvery: 50 * time.Millisecond,
		LeaderTTL:       time.Second,
		DrainTimeout:    2 * time.Second,
		Log:             testLog(),
	}
}

// eventually polls cond until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// background runs fn until the returned stop is called (or the test ends);
// stop waits for fn and returns its error.
func background(t *testing.T, fn func(ctx context.Context) error) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			err = <-done
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// newScheduler returns a scheduler running until the test ends; register
// handlers (NewWorker) before calling start.
func newScheduler(t *testing.T, rdb redis.UniversalClient, cfg Config) (*scheduler.Scheduler, func()) {
	s := scheduler.New(rdb, scheduler.Config{Prefix: cfg.Prefix, Poll: 50 * time.Millisecond, Log: cfg.Log})
	return s, func() { background(t, s.Run) }
}

// commit adds one event per transaction and returns the ids.
func commit(t *testing.T, db *store.DB, n int, kind string) []string {
	t.Helper()
	ids, err := commitN(db, n, kind)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// commitN adds n events, one per transaction (safe off the test goroutine).
func commitN(db *store.DB, n int, kind string) ([]string, error) {
	var out []string
	for i := range n {
		var id string
		err := db.Tx(context.Background(), func(tx *sql.Tx) error {
			var err error
			id, err = outbox.Add(context.Background(), tx, outbox.Event{Kind: kind, Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))})
			return err
		})
		if err != nil {
			return out, fmt.Errorf("commit event: %w", err)
		}
		out = append(out, id)
	}
	return out, nil
}

// publish appends e to the stream as the relay would (tests without SQL).
func publish(t *testing.T, rdb redis.UniversalClient, cfg Config, e outbox.Event) {
	t.Helper()
	cfg = cfg.withDefaults()
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if err := rdb.XAdd(context.Background(), xaddArgs(cfg, e.ID, e.Kind, string(b), time.Now().UnixMilli())).Err(); err != nil {
		t.Fatalf("publish: %v", err)
	}
}

// newEvents makes n events with fresh ids.
func newEvents(n int, kind string) []outbox.Event {
	out := make([]outbox.Event, n)
	for i := range out {
		out[i] = outbox.Event{ID: ids.New(), Kind: kind, Time: store.Now()}
	}
	return out
}

// streamIDs returns the event ids in the stream, in stream order.
func streamIDs(t *testing.T, rdb redis.UniversalClient, cfg Config) []string {
	t.Helper()
	cfg = cfg.withDefaults()
	msgs, err := rdb.XRange(context.Background(), cfg.streamKey(), "-", "+").Result()
	if err != nil {
		t.Fatalf("xrange: %v", err)
	}
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i], _ = m.Values[fieldID].(string)
	}
	return out
}

// pendingRows counts outbox rows not relayed yet.
func pendingRows(t *testing.T, db *store.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM outbox_events WHERE relay_time IS NULL`).Scan(&n); err != nil {
		t.Fatalf("count pending: %v", err)
	}
	return n
}

// drained reports whether every entry in the stream was delivered to the
// group and acknowledged.
func drained(t *testing.T, rdb redis.UniversalClient, cfg Config) bool {
	t.Helper()
	cfg = cfg.withDefaults()
	ctx := context.Background()
	last, err := rdb.XRevRangeN(ctx, cfg.streamKey(), "+", "-", 1).Result()
	if err != nil || len(last) == 0 {
		return false
	}
	groups, err := rdb.XInfoGroups(ctx, cfg.streamKey()).Result()
	if err != nil {
		return false
	}
	for _, g := range groups {
		if g.Name == cfg.Group && g.LastDeliveredID == last[0].ID {
			n, err := Lag(ctx, rdb, cfg)
			return err == nil && n == 0
		}
	}
	return false
}

// recorder counts handler calls and successes per event id.
type recorder struct {
	mu    sync.Mutex
	calls map[string]int
	ok    map[string]int
}

func newRecorder() *recorder { return &recorder{calls: map[string]int{}, ok: map[string]int{}} }

func (r *recorder) call(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls[id]++
	return r.calls[id]
}

func (r *recorder) success(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ok[id]++
}

func (r *recorder) handled() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.ok)
}

func (r *recorder) has(id string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ok[id] > 0
}

func (r *recorder) okCount(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ok[id]
}

func (r *recorder) callCount(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[id]
}

// missing returns the ids of want not handled.
func (r *recorder) missing(want []string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, id := range want {
		if r.ok[id] == 0 {
			out = append(out, id)
		}
	}
	return out
}

// sortedCopy returns s sorted.
func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}
