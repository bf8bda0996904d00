package pipeline

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"hqconnect/internal/outbox"
	"hqconnect/internal/redisx/redistest"
	"hqconnect/internal/store"
	"hqconnect/internal/store/storetest"
)

// eachStore runs fn on every Redis backend × every database, each pair
// fresh (a sub-prefix per database on a shared backend).
func eachStore(t *testing.T, fn func(t *testing.T, db *store.DB, b redistest.Backend)) {
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		storetest.Each(t, func(t *testing.T, db *store.DB) {
			b := b
			b.Prefix += string(db.Dialect) + ":"
			fn(t, db, b)
		})
	})
}

func TestRelay(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, b redistest.Backend) {
		t.Run("committed events are relayed in id order and marked; rolled back ones never", func(t *testing.T) {
			testRelayOrder(t, db, b)
		})
	})
}

func testRelayOrder(t *testing.T, db *store.DB, b redistest.Backend) {
	ctx := context.Background()
	cfg := testConfig(b)
	cfg.Batch = 7
	want := commit(t, db, 20, "test.single")
	// Several events in one transaction, and one transaction rolled back.
	err := db.Tx(ctx, func(tx *sql.Tx) error {
		for range 5 {
			id, err := outbox.Add(ctx, tx, outbox.Event{Kind: "test.multi"})
			if err != nil {
				return err
			}
			want = append(want, id)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var rolledBack string
	errRollback := errors.New("roll back")
	err = db.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		if rolledBack, err = outbox.Add(ctx, tx, outbox.Event{Kind: "test.rolled_back"}); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatalf("rolled back tx: %v", err)
	}
	want = append(want, commit(t, db, 3, "test.single")...)

	r := NewRelay(db, b.Client, cfg)
	total := 0
	for {
		n, err := r.RelayOnce(ctx)
		if err != nil {
			t.Fatalf("relay: %v", err)
		}
		if n > cfg.Batch {
			t.Fatalf("relayed %d rows in one batch, batch is %d", n, cfg.Batch)
		}
		if n == 0 {
			break
		}
		total += n
	}
	if total != len(want) {
		t.Fatalf("relayed %d rows, want %d", total, len(want))
	}
	got := streamIDs(t, b.Client, cfg)
	if !slices.Equal(got, sortedCopy(want)) {
		t.Fatalf("stream holds %v\nwant (id order) %v", got, sortedCopy(want))
	}
	if slices.Contains(got, rolledBack) {
		t.Fatalf("rolled back event %s was relayed", rolledBack)
	}
	if n := pendingRows(t, db); n != 0 {
		t.Fatalf("%d rows still pending after relaying", n)
	}
	// The entries carry the event as the worker reads it.
	msgs, err := b.Client.XRangeN(ctx, cfg.withDefaults().streamKey(), "-", "+", 1).Result()
	if err != nil {
		t.Fatal(err)
	}
	e, err := parseEntry(msgs[0])
	if err != nil || e.event.ID != want[0] || e.event.Kind != "test.single" || e.rt == 0 {
		t.Fatalf("first entry parsed as %+v, %v", e, err)
	}

	// Retention: relayed rows older than Retention are deleted by the
	// relay's maintenance, younger ones kept.
	old := want[:4]
	for _, id := range old {
		if _, err := db.ExecContext(ctx, `UPDATE outbox_events SET relay_time = $1 WHERE id = $2`,
			store.Now().Add(-8*24*time.Hour), id); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.maintain(ctx); err != nil {
		t.Fatalf("maintain: %v", err)
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM outbox_events`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != len(want)-len(old) {
		t.Fatalf("%d outbox rows after retention, want %d", n, len(want)-len(old))
	}
}

func TestRelay_TwoInstances(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, b redistest.Backend) {
		t.Run("each event is appended once while two relays run", func(t *testing.T) {
			testTwoRelays(t, db, b)
		})
	})
}

func testTwoRelays(t *testing.T, db *store.DB, b redistest.Backend) {
	cfg := testConfig(b)
	stops := []func() error{
		background(t, NewRelay(db, b.Client, cfg).Run),
		background(t, NewRelay(db, b.Client, cfg).Run),
	}
	var mu sync.Mutex
	var want []string
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			ids, err := commitN(db, 40, "test.two")
			if err != nil {
				t.Error(err)
			}
			mu.Lock()
			want = append(want, ids...)
			mu.Unlock()
		})
	}
	wg.Wait()
	check := func() {
		t.Helper()
		eventually(t, 15*time.Second, "every event relayed", func() bool {
			return pendingRows(t, db) == 0 && len(streamIDs(t, b.Client, cfg)) >= len(want)
		})
		got := streamIDs(t, b.Client, cfg)
		if !slices.Equal(sortedCopy(got), sortedCopy(want)) {
			t.Fatalf("stream holds %d entries (%d distinct), want %d events once each", len(got), len(slices.Compact(sortedCopy(got))), len(want))
		}
	}
	check()

	// One relay stops; the other takes over.
	if err := stops[0](); err != nil {
		t.Fatalf("relay Run: %v", err)
	}
	want = append(want, commit(t, db, 30, "test.two")...)
	check()
}

func TestRelay_Checkpoint(t *testing.T) {
	eachStore(t, func(t *testing.T, db *store.DB, b redistest.Backend) {
		t.Run("the checkpoint follows the oldest unfinished event; a data loss re-relays from it", func(t *testing.T) {
			testCheckpoint(t, db, b)
		})
	})
}

func testCheckpoint(t *testing.T, db *store.DB, b redistest.Backend) {
	ctx := context.Background()
	cfg := testConfig(b)
	cfg.ClockSkew = time.Millisecond
	cfg = cfg.withDefaults()
	r := NewRelay(db, b.Client, cfg)
	// Three events relayed in three batches, each with its own relay time.
	var rts []int64
	for range 3 {
		last := time.Now().UnixMilli()
		for time.Now().UnixMilli() == last {
			time.Sleep(100 * time.Microsecond)
		}
		commit(t, db, 1, "test.cp")
		if n, err := r.RelayOnce(ctx); err != nil || n != 1 {
			t.Fatalf("relay: %d, %v", n, err)
		}
		msgs, err := b.Client.XRevRangeN(ctx, cfg.streamKey(), "+", "-", 1).Result()
		if err != nil {
			t.Fatal(err)
		}
		rts = append(rts, entryRT(msgs[0]))
	}
	cut := func() int64 {
		t.Helper()
		if err := r.maintain(ctx); err != nil {
			t.Fatalf("maintain: %v", err)
		}
		return r.checkpoint().Add(cfg.ClockSkew).UnixMilli()
	}
	read := func() string {
		t.Helper()
		res, err := b.Client.XReadGroup(ctx, &redis.XReadGroupArgs{Group: cfg.Group, Consumer: "c", Streams: []string{cfg.streamKey(), ">"}, Count: 1, Block: -1}).Result()
		if err != nil {
			t.Fatalf("xreadgroup: %v", err)
		}
		return res[0].Messages[0].ID
	}
	ack := func(id string) {
		t.Helper()
		if err := b.Client.XAck(ctx, cfg.streamKey(), cfg.Group, id).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// Nothing delivered: the oldest undelivered entry.
	if got := cut(); got != rts[0] {
		t.Fatalf("checkpoint %d, want the first relay time %d (undelivered)", got, rts[0])
	}
	// Delivered, not acknowledged: the oldest pending entry.
	e1 := read()
	if got := cut(); got != rts[0] {
		t.Fatalf("checkpoint %d, want %d (pending)", got, rts[0])
	}
	ack(e1)
	if got := cut(); got != rts[1] {
		t.Fatalf("checkpoint %d, want %d (next undelivered)", got, rts[1])
	}
	// Failed, waiting for a retry: open.
	e2 := read()
	if err := b.Client.ZAdd(ctx, cfg.openKey(), redis.Z{Score: float64(rts[1]), Member: "e2"}).Err(); err != nil {
		t.Fatal(err)
	}
	ack(e2)
	ack(read())
	if got := cut(); got != rts[1] {
		t.Fatalf("checkpoint %d, want %d (open)", got, rts[1])
	}
	b.Client.ZRem(ctx, cfg.openKey(), "e2")
	if got := cut(); got <= rts[2] {
		t.Fatalf("checkpoint %d, want after the last relay time %d (all finished)", got, rts[2])
	}

	// Back to "e2 failed"; then Redis loses everything of ours.
	b.Client.ZAdd(ctx, cfg.openKey(), redis.Z{Score: float64(rts[1]), Member: "e2"})
	if got := cut(); got != rts[1] {
		t.Fatalf("checkpoint %d, want %d", got, rts[1])
	}
	var keys []string
	iter := b.Client.Scan(ctx, 0, cfg.Prefix+"*", 100).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	if err := b.Client.Del(ctx, keys...).Err(); err != nil {
		t.Fatal(err)
	}
	if err := r.maintain(ctx); err != nil {
		t.Fatalf("maintain: %v", err)
	}
	if n := pendingRows(t, db); n != 2 {
		t.Fatalf("%d rows pending after the loss, want 2 (the unfinished ones)", n)
	}
	if n, err := r.RelayOnce(ctx); err != nil || n != 2 {
		t.Fatalf("re-relay: %d, %v", n, err)
	}
	// The group is back, from the start of the new stream.
	if got := read(); got == "" {
		t.Fatal("no entry for the group after the loss")
	}
}
