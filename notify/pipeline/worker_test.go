package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"hqconnect/internal/outbox"
	"hqconnect/internal/redisx/redistest"
	"hqconnect/internal/store/storetest"
)

func TestWorker(t *testing.T) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		// Each behaviour gets a stream and group of its own.
		sub := func(name string) redistest.Backend {
			c := b
			c.Prefix += name + ":"
			return c
		}
		t.Run("every event handled exactly once, duplicated entries once", func(t *testing.T) {
			testHandledOnce(t, sub("once"))
		})
		t.Run("a killed worker's entries are reclaimed: 1000 events, each handled once", func(t *testing.T) {
			testKillWorker(t, sub("kill"))
		})
		t.Run("failures are retried, dead-lettered after MaxAttempts, and replayed", func(t *testing.T) {
			testRetriesAndDeadLetters(t, sub("retry"))
		})
		t.Run("shutdown drains running handlers and leaves unfinished ones pending", func(t *testing.T) {
			testShutdown(t, sub("shutdown"))
		})
	})
}

func testHandledOnce(t *testing.T, b redistest.Backend) {
	cfg := testConfig(b)
	cfg.Concurrency = 8
	cfg.Batch = 10
	evs := newEvents(200, "test.once")
	// Every fifth event is appended twice, as a relay that crashed between
	// XADD and marking its rows would; some copies land in the same batch.
	for i, e := range evs {
		publish(t, b.Client, cfg, e)
		if i%5 == 0 {
			publish(t, b.Client, cfg, e)
		}
	}
	rec := newRecorder()
	sched, startSched := newScheduler(t, b.Client, cfg)
	w := NewWorker(b.Client, sched, cfg, func(ctx context.Context, e outbox.Event) error {
		rec.call(e.ID)
		time.Sleep(time.Millisecond) // let copies overlap
		rec.success(e.ID)
		return nil
	})
	startSched()
	stop := background(t, w.Run)
	eventually(t, 20*time.Second, "all entries handled and acknowledged", func() bool {
		return rec.handled() == len(evs) && drained(t, b.Client, cfg)
	})
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	for _, e := range evs {
		if n := rec.callCount(e.ID); n != 1 {
			t.Errorf("event %s handled %d times, want 1", e.ID, n)
		}
	}
	// Stopped with nothing pending, the worker left the group.
	c := cfg.withDefaults()
	consumers, err := b.Client.XInfoConsumers(context.Background(), c.streamKey(), c.Group).Result()
	if err != nil || len(consumers) != 0 {
		t.Fatalf("consumers after a clean stop: %+v, %v", consumers, err)
	}
	if dead, _, err := ListDead(context.Background(), b.Client, cfg, "", 10); err != nil || len(dead) != 0 {
		t.Fatalf("dead letters %v, %v; want none", dead, err)
	}
}

func testKillWorker(t *testing.T, b redistest.Backend) {
	const total = 1000
	cfg := testConfig(b)
	cfg.Batch = 50
	evs := newEvents(total, "test.kill")
	for _, e := range evs {
		publish(t, b.Client, cfg, e)
	}

	// The side effect is idempotent (applied once per event id); applied
	// counts how often a handler completed for an event.
	var mu sync.Mutex
	effects := map[string]bool{}
	applied := map[string]int{}
	apply := func(id string) {
		mu.Lock()
		defer mu.Unlock()
		effects[id] = true
		applied[id]++
	}

	// Worker A handles 100 events, then "dies": its handlers hang with the
	// entries read and unacknowledged, until it is stopped abruptly.
	var aCalls, aHung atomic.Int64
	cfgA := cfg
	cfgA.Consumer = "worker-a"
	cfgA.Concurrency = 30
	cfgA.DrainTimeout = 10 * time.Millisecond
	schedA, startA := newScheduler(t, b.Client, cfgA)
	a := NewWorker(b.Client, schedA, cfgA, func(ctx context.Context, e outbox.Event) error {
		if aCalls.Add(1) <= 100 {
			apply(e.ID)
			return nil
		}
		aHung.Add(1)
		<-ctx.Done()
		return ctx.Err()
	})
	startA()
	stopA := background(t, a.Run)
	eventually(t, 10*time.Second, "worker A to hang with entries in hand", func() bool { return aHung.Load() >= 20 })

	// Worker B runs beside A, and reclaims what A held once A is gone.
	cfgB := cfg
	cfgB.Consumer = "worker-b"
	schedB, startB := newScheduler(t, b.Client, cfgB)
	bw := NewWorker(b.Client, schedB, cfgB, func(ctx context.Context, e outbox.Event) error {
		apply(e.ID)
		return nil
	})
	startB()
	background(t, bw.Run)
	if err := stopA(); err != nil {
		t.Fatalf("worker A Run: %v", err)
	}
	hung := aHung.Load()
	eventually(t, 20*time.Second, "every event handled", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(effects) == total
	})
	eventually(t, 10*time.Second, "the stream drained", func() bool { return drained(t, b.Client, cfg) })
	mu.Lock()
	defer mu.Unlock()
	for _, e := range evs {
		if applied[e.ID] != 1 {
			t.Errorf("event %s completed %d times, want 1", e.ID, applied[e.ID])
		}
	}
	if hung == 0 {
		t.Fatal("worker A held no entries when it died")
	}
}

func testRetriesAndDeadLetters(t *testing.T, b redistest.Backend) {
	ctx := context.Background()
	cfg := testConfig(b)
	cfg.MaxAttempts = 3
	flaky := newEvents(1, "test.flaky")[0]
	broken := newEvents(3, "test.broken")
	isBroken := map[string]bool{}
	for _, e := range broken {
		isBroken[e.ID] = true
	}
	var fixed atomic.Bool
	rec := newRecorder()
	sched, startSched := newScheduler(t, b.Client, cfg)
	w := NewWorker(b.Client, sched, cfg, func(ctx context.Context, e outbox.Event) error {
		n := rec.call(e.ID)
		switch {
		case e.ID == flaky.ID && n == 1:
			panic("flaky handler panics")
		case e.ID == flaky.ID && n == 2:
			return errors.New("flaky handler fails")
		case isBroken[e.ID] && !fixed.Load():
			return fmt.Errorf("boom %s", e.ID)
		}
		rec.success(e.ID)
		return nil
	})
	startSched()
	background(t, w.Run)
	publish(t, b.Client, cfg, flaky)
	for _, e := range broken {
		publish(t, b.Client, cfg, e)
	}

	eventually(t, 10*time.Second, "the flaky event handled", func() bool { return rec.has(flaky.ID) })
	if n := rec.callCount(flaky.ID); n != 3 {
		t.Fatalf("flaky event called %d times, want 3", n)
	}
	var dead []DeadLetter
	eventually(t, 10*time.Second, "the broken events dead-lettered", func() bool {
		var err error
		dead, _, err = ListDead(ctx, b.Client, cfg, "", 10)
		return err == nil && len(dead) == len(broken)
	})
	for _, d := range dead {
		if !isBroken[d.Event.ID] {
			t.Fatalf("dead letter for %s, which is not a broken event", d.Event.ID)
		}
		if d.Attempts != cfg.MaxAttempts || d.LastError != "boom "+d.Event.ID || d.Event.Kind != "test.broken" ||
			time.Since(d.FailTime) > time.Minute {
			t.Fatalf("dead letter %+v: want %d attempts and the handler's error", d, cfg.MaxAttempts)
		}
		if n := rec.callCount(d.Event.ID); n != cfg.MaxAttempts {
			t.Fatalf("broken event called %d times, want %d", n, cfg.MaxAttempts)
		}
	}

	// Paging, oldest first.
	page1, next, err := ListDead(ctx, b.Client, cfg, "", 2)
	if err != nil || len(page1) != 2 || next != page1[1].ID {
		t.Fatalf("first page %v next %q err %v", page1, next, err)
	}
	page2, next2, err := ListDead(ctx, b.Client, cfg, next, 2)
	if err != nil || len(page2) != 1 || next2 != "" || page2[0].ID <= page1[1].ID {
		t.Fatalf("second page %v next %q err %v", page2, next2, err)
	}
	if _, _, err := ListDead(ctx, b.Client, cfg, "not-a-cursor", 2); !errors.Is(err, ErrInvalidCursor) {
		t.Fatalf("bad cursor: %v, want ErrInvalidCursor", err)
	}

	// Fixed, the dead letters replay and are handled.
	fixed.Store(true)
	for _, d := range dead {
		if err := ReplayDead(ctx, b.Client, cfg, d.ID); err != nil {
			t.Fatalf("ReplayDead: %v", err)
		}
	}
	eventually(t, 10*time.Second, "replayed events handled", func() bool { return len(rec.missing(idsOf(broken))) == 0 })
	left, _, err := ListDead(ctx, b.Client, cfg, "", 10)
	if err != nil || len(left) != 0 {
		t.Fatalf("dead letters after replay: %v, %v", left, err)
	}
	if err := ReplayDead(ctx, b.Client, cfg, dead[0].ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("replaying a replayed dead letter: %v, want ErrNotFound", err)
	}
	if err := ReplayDead(ctx, b.Client, cfg, "nonsense"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("replaying a malformed id: %v, want ErrNotFound", err)
	}
	// Handled events are no longer open.
	eventually(t, 5*time.Second, "no open events", func() bool {
		n, err := b.Client.ZCard(ctx, cfg.withDefaults().openKey()).Result()
		return err == nil && n == 0
	})
	if n := rec.okCount(flaky.ID); n != 1 {
		t.Fatalf("flaky event completed %d times", n)
	}
}

func testShutdown(t *testing.T, b redistest.Backend) {
	ctx := context.Background()
	cfg := testConfig(b)
	cfg.DrainTimeout = 300 * time.Millisecond
	evs := newEvents(2, "test.shutdown")
	slow, stuck := evs[0], evs[1]
	started := make(chan string, 2)
	release := make(chan struct{})
	rec := newRecorder()
	sched, startSched := newScheduler(t, b.Client, cfg)
	w := NewWorker(b.Client, sched, cfg, func(ctx context.Context, e outbox.Event) error {
		started <- e.ID
		if e.ID == stuck.ID {
			<-ctx.Done() // never finishes by itself
			return ctx.Err()
		}
		<-release
		rec.success(e.ID)
		return nil
	})
	startSched()
	stop := background(t, w.Run)
	publish(t, b.Client, cfg, slow)
	publish(t, b.Client, cfg, stuck)
	for range 2 {
		select {
		case <-started:
		case <-time.After(10 * time.Second):
			t.Fatal("handlers did not start")
		}
	}
	// Stop while both run; the slow one finishes during the drain.
	begin := time.Now()
	go func() {
		time.Sleep(50 * time.Millisecond)
		close(release)
	}()
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if took := time.Since(begin); took > 5*time.Second {
		t.Fatalf("Run took %v to return after cancel", took)
	}
	if !rec.has(slow.ID) {
		t.Fatal("the running handler was not let finish")
	}
	// The finished entry is acknowledged; the interrupted one stays pending
	// for another worker, and is not dead-lettered or retried.
	n, err := Lag(ctx, b.Client, cfg)
	if err != nil || n != 1 {
		t.Fatalf("pending after shutdown: %d, %v; want 1 (the interrupted event)", n, err)
	}
	p, err := b.Client.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: cfg.withDefaults().streamKey(), Group: "notify", Start: "-", End: "+", Count: 10}).Result()
	if err != nil || len(p) != 1 {
		t.Fatalf("pending entries %v, %v", p, err)
	}
	if dead, _, _ := ListDead(ctx, b.Client, cfg, "", 10); len(dead) != 0 {
		t.Fatalf("dead letters after shutdown: %v", dead)
	}

	// The relay also stops promptly.
	r := NewRelay(storetest.SQLite(t), b.Client, cfg)
	stopRelay := background(t, r.Run)
	eventually(t, 10*time.Second, "the relay to lead", func() bool {
		return b.Client.Exists(ctx, r.leaderConfig().LockKey()).Val() == 1
	})
	begin = time.Now()
	if err := stopRelay(); err != nil {
		t.Fatalf("relay Run: %v", err)
	}
	if took := time.Since(begin); took > 5*time.Second {
		t.Fatalf("relay Run took %v to return after cancel", took)
	}
}

func idsOf(evs []outbox.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}
