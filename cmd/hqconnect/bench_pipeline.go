package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"hqconnect/internal/ids"
	"hqconnect/internal/outbox"
	"hqconnect/internal/store"
)

// pipelineResult is one end-to-end run: events committed with outbox.Add
// at a fixed rate, delivered to one device each through relay, stream,
// worker, inbox and the real FCM SDK to the fake FCM server.
type pipelineResult struct {
	Events, Delivered int
	Rate              int // offered events/s
	Took              time.Duration
	// Offering is how long committing the events took (rate × duration when
	// the database keeps up).
	Offering      time.Duration
	P50, P99, Max time.Duration
}

func (p pipelineResult) throughput() float64 { return float64(p.Delivered) / p.Took.Seconds() }

// benchPipeline runs the worker side of hqconnect (relay, workers,
// scheduler) on a scratch PostgreSQL database and real Redis, with pushes to
// an in-process fake FCM server, and measures commit → FCM request.
func benchPipeline(ctx context.Context, log *slog.Logger, pgURL, redisURL string, rate int, d time.Duration) (res pipelineResult, err error) {
	fake, fcmURL, stopFake, err := fakeFCM(0)
	if err != nil {
		return
	}
	defer stopFake()
	fake.SetKeepMessages(true)

	tmp, err := os.MkdirTemp("", "hqbench-pipeline")
	if err != nil {
		return
	}
	defer os.RemoveAll(tmp)
	dbURL, drop, err := scratchDatabase(ctx, pgURL)
	if err != nil {
		return
	}
	defer drop()
	prefix := "hqbench:" + ids.Secret(6) + ":"
	c, err := parseConfig("worker", nil, func(string) string { return "" }, nil)
	if err != nil {
		return
	}
	c.VarDir, c.DatabaseURL, c.RedisURL, c.RedisPrefix, c.FCMEndpoint = tmp, dbURL, redisURL, prefix, fcmURL
	m := &Main{Config: c, Log: log}
	if err = m.Open(ctx); err != nil {
		return
	}
	defer m.Close()
	defer cleanupPrefix(m.Redis, prefix)

	// 1,000 enterprise users with one Android device each.
	const users = 1000
	userIDs := make([]string, users)
	now := store.Now()
	err = m.DB.Tx(ctx, func(tx *sql.Tx) error {
		entID := ids.New()
		if _, err := tx.ExecContext(ctx, `INSERT INTO enterprises (id, tax_code, name, status, create_time)
			VALUES ($1, '0100109106', 'Bench', 'VERIFIED', $2)`, entID, now); err != nil {
			return err
		}
		for i := range userIDs {
			userIDs[i] = ids.New()
			if _, err := tx.ExecContext(ctx, `INSERT INTO users (id, kind, email, full_name, password_hash, status,
				enterprise_id, create_time, update_time) VALUES ($1, 'enterprise_user', $2, 'Bench', 'x', 'ACTIVE', $3, $4, $4)`,
				userIDs[i], "u"+strconv.Itoa(i)+"@bench.vn", entID, now); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO devices (fcm_token, user_id, session_id, platform, locale,
				create_time, update_time) VALUES ($1, $2, 'bench', 'ANDROID', 'vi', $3, $3)`,
				"tok-"+strconv.Itoa(i), userIDs[i], now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("seed users: %w", err)
	}

	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- m.Run(runCtx) }()
	defer func() { stop(); <-done }()

	// Offer rate events/s for d: each event is its own transaction, as a
	// capability's change would be.
	total := int(float64(rate) * d.Seconds())
	committed := make(map[string]time.Time, total)
	var mu sync.Mutex
	var wg sync.WaitGroup
	jobs := make(chan int)
	var firstErr error
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				var id string
				err := m.DB.Tx(ctx, func(tx *sql.Tx) error {
					var err error
					id, err = outbox.Add(ctx, tx, outbox.Event{Kind: "bench.status_changed",
						Notification: &outbox.Notification{
							Audience: outbox.Audience{UserIDs: []string{userIDs[i%users]}},
							Category: outbox.CategoryClearance, Critical: true,
							TitleVI: "Tờ khai 305123456789: đã thông quan", TitleEN: "Declaration 305123456789: cleared",
							BodyVI: "Hàng hóa đã được thông quan lúc 10:42.", BodyEN: "Goods cleared at 10:42.",
							EntityKind: "declaration", EntityID: strconv.Itoa(i),
						}})
					return err
				})
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				} else if err == nil {
					committed[id] = time.Now()
				}
				mu.Unlock()
			}
		}()
	}
	start := time.Now()
	tick := time.Second / time.Duration(rate)
	for i := range total {
		if wait := time.Until(start.Add(time.Duration(i) * tick)); wait > 0 {
			time.Sleep(wait)
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	res.Offering = time.Since(start)
	if firstErr != nil {
		return res, fmt.Errorf("commit: %w", firstErr)
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := fake.WaitForCount(wctx, len(committed)); err != nil {
		return res, fmt.Errorf("only %d of %d pushes reached the fake FCM: %w", fake.Count(), len(committed), err)
	}
	var lat []time.Duration
	var last time.Time
	for _, msg := range fake.Messages() {
		if t, ok := committed[msg.Data["event_id"]]; ok {
			lat = append(lat, msg.Received.Sub(t))
			if msg.Received.After(last) {
				last = msg.Received
			}
		}
	}
	slices.Sort(lat)
	res.Events, res.Delivered, res.Rate, res.Took = len(committed), len(lat), rate, last.Sub(start)
	if len(lat) > 0 {
		res.P50, res.P99, res.Max = lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*99/100)], lat[len(lat)-1]
	}
	return res, nil
}

// benchRawStream is the baseline: n entries XADDed by 16 writers and read
// by one consumer group with 16 readers on the same Redis, XACKed; latency
// from XADD to the read.
func benchRawStream(ctx context.Context, redisURL string, n int) (rate float64, p99 time.Duration, err error) {
	opts, err := redis.ParseURL(redisURL)
	if err != nil {
		return
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	prefix := "hqbench:" + ids.Secret(6) + ":"
	defer cleanupPrefix(rdb, prefix)
	stream := prefix + "raw"
	if err = rdb.XGroupCreateMkStream(ctx, stream, "g", "0").Err(); err != nil {
		return
	}
	lat := make([]time.Duration, 0, n)
	var mu sync.Mutex
	start := time.Now()
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 16 {
				rdb.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: []any{"t", strconv.FormatInt(time.Now().UnixNano(), 10)}})
			}
		}()
	}
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for r := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rctx.Err() == nil {
				mu.Lock()
				finished := len(lat) >= n
				mu.Unlock()
				if finished {
					return
				}
				res, err := rdb.XReadGroup(rctx, &redis.XReadGroupArgs{Group: "g", Consumer: "c" + strconv.Itoa(r),
					Streams: []string{stream, ">"}, Count: 100, Block: 100 * time.Millisecond}).Result()
				if err != nil {
					continue
				}
				now := time.Now()
				var idsToAck []string
				mu.Lock()
				for _, s := range res {
					for _, msg := range s.Messages {
						ns, _ := strconv.ParseInt(fmt.Sprint(msg.Values["t"]), 10, 64)
						lat = append(lat, now.Sub(time.Unix(0, ns)))
						idsToAck = append(idsToAck, msg.ID)
					}
				}
				mu.Unlock()
				if len(idsToAck) > 0 {
					rdb.XAck(rctx, stream, "g", idsToAck...)
				}
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	if len(lat) < n {
		return 0, 0, fmt.Errorf("read %d of %d entries", len(lat), n)
	}
	slices.Sort(lat)
	return float64(n) / took.Seconds(), lat[len(lat)*99/100], nil
}

func cleanupPrefix(rdb redis.UniversalClient, prefix string) {
	ctx := context.Background()
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		rdb.Del(ctx, iter.Val())
	}
}
