package pipeline

import (
	"context"
	"database/sql"
	"errors"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"hqconnect/internal/outbox"
	"hqconnect/internal/store"
	"hqconnect/internal/store/storetest"
)

// redisProc is a redis-server process the test owns, without persistence:
// killing it loses everything, as a crashed cache-only Redis would.
type redisProc struct {
	bin, dir string
	port     int
	cmd      *exec.Cmd
}

func (p *redisProc) start(t *testing.T) {
	t.Helper()
	p.cmd = exec.Command(p.bin, "--port", strconv.Itoa(p.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", p.dir)
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	c := redis.NewClient(&redis.Options{Addr: p.addr()})
	defer c.Close()
	eventually(t, 10*time.Second, "redis-server to answer", func() bool {
		return c.Ping(context.Background()).Err() == nil
	})
}

func (p *redisProc) kill() {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
		p.cmd = nil
	}
}

func (p *redisProc) addr() string { return "127.0.0.1:" + strconv.Itoa(p.port) }

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestRedisRestart(t *testing.T) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not on PATH")
	}
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		t.Run("stop and restart Redis during a run: nothing lost", func(t *testing.T) {
			testRedisRestart(t, db, bin)
		})
	})
}

func testRedisRestart(t *testing.T, db *store.DB, bin string) {
	ctx := context.Background()
	proc := &redisProc{bin: bin, dir: t.TempDir(), port: freePort(t)}
	proc.start(t)
	t.Cleanup(proc.kill)
	rdb := redis.NewClient(&redis.Options{Addr: proc.addr(), MaxRetries: 1, DialTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { _ = rdb.Close() })

	cfg := Config{
		Prefix:          "rr:",
		Consumer:        "w1",
		Concurrency:     64,
		ReclaimIdle:     500 * time.Millisecond,
		RelayPoll:       10 * time.Millisecond,
		RetryMin:        3 * time.Second, // retries still wait in Redis when it dies
		RetryMax:        4 * time.Second,
		CheckpointEvery: 20 * time.Millisecond,
		ClockSkew:       time.Millisecond,
		LeaderTTL:       time.Second,
		DrainTimeout:    50 * time.Millisecond,
		Log:             testLog(),
	}

	// In "trouble", a worker fails the first attempt of the first 10 new
	// events (their retries wait in the scheduler, in Redis: they are the
	// oldest unfinished events) and hangs on the next ones (they stay
	// pending on it, in Redis, until it dies); later ones are not delivered.
	rec := newRecorder()
	var trouble atomic.Bool
	var nth, failed, held atomic.Int64
	h := func(ctx context.Context, e outbox.Event) error {
		n := rec.call(e.ID)
		if trouble.Load() && n == 1 {
			if nth.Add(1) <= 10 {
				failed.Add(1)
				return errors.New("transient failure")
			}
			held.Add(1)
			<-ctx.Done()
			return ctx.Err()
		}
		rec.success(e.ID)
		return nil
	}

	relay := NewRelay(db, rdb, cfg)
	sched1, startSched1 := newScheduler(t, rdb, cfg)
	w1 := NewWorker(rdb, sched1, cfg, h)
	startSched1()
	background(t, relay.Run)
	stopW1 := background(t, w1.Run)

	// Events keep coming, one transaction each, whatever Redis does.
	var mu sync.Mutex
	var committed []string
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(committed)
	}
	snapshot := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), committed...)
	}
	stopProducer := background(t, func(ctx context.Context) error {
		for ctx.Err() == nil {
			ids, err := commitN(db, 1, "test.restart")
			if err != nil {
				return err
			}
			mu.Lock()
			committed = append(committed, ids...)
			mu.Unlock()
			time.Sleep(3 * time.Millisecond) // pace, not a wait
		}
		return nil
	})

	// Phase 1: all is well.
	eventually(t, 20*time.Second, "the first 50 events handled", func() bool {
		c := snapshot()
		return len(c) >= 50 && len(rec.missing(c[:50])) == 0
	})
	id50 := snapshot()[49]
	eventually(t, 10*time.Second, "the relay's checkpoint to pass the handled events", func() bool {
		// The row is marked relayed just after its entry is appended.
		var rt50 sql.NullTime
		if err := db.QueryRowContext(ctx, `SELECT relay_time FROM outbox_events WHERE id = $1`, id50).Scan(&rt50); err != nil {
			t.Fatal(err)
		}
		return rt50.Valid && relay.checkpoint().After(rt50.Time)
	})

	// Phase 2: events relayed but unfinished pile up: pending on a worker,
	// waiting for a retry, not delivered yet.
	trouble.Store(true)
	eventually(t, 20*time.Second, "events held and failed", func() bool {
		return held.Load() >= 10 && failed.Load() >= 10
	})
	var relayedBefore int64
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox_events WHERE relay_time IS NOT NULL`).Scan(&relayedBefore); err != nil {
		t.Fatal(err)
	}

	// Phase 3: Redis dies, and so does the worker holding events. Commits go
	// on and wait in SQL.
	proc.kill()
	if err := stopW1(); err != nil {
		t.Fatalf("worker 1 Run: %v", err)
	}
	atKill := count()
	eventually(t, 20*time.Second, "events committed while Redis is down", func() bool {
		return count() >= atKill+50 && pendingRows(t, db) >= 50
	})

	// Phase 4: Redis is back, empty. A new worker takes over.
	trouble.Store(false)
	proc.start(t)
	cfg2 := cfg
	cfg2.Consumer = "w2"
	sched2, startSched2 := newScheduler(t, rdb, cfg2)
	w2 := NewWorker(rdb, sched2, cfg2, h)
	startSched2()
	background(t, w2.Run)
	atRestart := count()
	eventually(t, 20*time.Second, "events committed after the restart", func() bool { return count() >= atRestart+50 })
	if err := stopProducer(); err != nil {
		t.Fatalf("producer: %v", err)
	}

	all := snapshot()
	eventually(t, 30*time.Second, "every committed event handled", func() bool {
		return len(rec.missing(all)) == 0
	})
	n := relay.rerelayed.Load()
	t.Logf("%d events committed; %d relayed before the kill; %d re-relayed from the checkpoint; %d held, %d failed when Redis died",
		len(all), relayedBefore, n, held.Load(), failed.Load())
	if n == 0 || n >= relayedBefore {
		t.Fatalf("re-relayed %d rows, want some but fewer than the %d relayed before the kill (the checkpoint's work)", n, relayedBefore)
	}
}
