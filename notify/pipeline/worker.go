package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"hqconnect/internal/outbox"
	"hqconnect/internal/scheduler"
)

// opTimeout bounds the Redis writes that record an event's outcome; they run
// even while the worker stops.
const opTimeout = 10 * time.Second

// readBlock is the longest XREADGROUP wait, so a stop is noticed soon.
const readBlock = time.Second

// lockScript takes an event's marker as a processing lock for token (the
// stream entry id that carries the event) for ARGV[2] ms, unless the event is
// finished or another token holds it. Taking it again with the same token
// renews it: a worker that reclaims an entry inherits its lock. KEYS: marker.
// ARGV: token, lease ms. Returns lockDone, lockTaken, lockBusy or lockDead.
var lockScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v == 'done' then return 0 end
if v == 'dead' then return 3 end
if v and v ~= ARGV[1] then return 2 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`)

const (
	lockDone  = 0
	lockTaken = 1
	lockBusy  = 2
	lockDead  = 3
)

// Worker consumes the events stream through the consumer group.
type Worker struct {
	rdb   redis.UniversalClient
	sched *scheduler.Scheduler
	cfg   Config
	h     Handler
	log   *slog.Logger
	// lockLease is how long an event's lock outlives a silent holder.
	lockLease time.Duration

	running atomic.Bool
	slots   chan struct{} // one token per event being handled
	wg      sync.WaitGroup
	mu      sync.Mutex
	// inflight holds the entries this worker read and has not finished,
	// so it keeps them fresh (XCLAIM) and does not start one twice.
	inflight map[string]struct{}
	down     outage
}

// NewWorker returns a worker that calls h for every event. It registers the
// RetryKind job handler on sched, so call it before sched.Run; sched must run
// for failed events to be retried.
func NewWorker(rdb redis.UniversalClient, sched *scheduler.Scheduler, cfg Config, h Handler) *Worker {
	cfg = cfg.withDefaults()
	w := &Worker{
		rdb: rdb, sched: sched, cfg: cfg, h: h,
		log:       cfg.Log.With("component", "event-worker", "consumer", cfg.Consumer),
		lockLease: max(10*cfg.ReclaimIdle, 5*time.Minute),
		slots:     make(chan struct{}, cfg.Concurrency),
		inflight:  map[string]struct{}{},
	}
	sched.Handle(RetryKind, w.runRetry)
	return w
}

// Run reads and handles events until ctx is done. It then stops reading,
// waits up to DrainTimeout for the running handlers (their context stays
// live meanwhile), cancels the ones still running, leaves their entries
// unacknowledged for another worker, and returns nil. Redis failures are
// logged once per outage and retried with backoff.
func (w *Worker) Run(ctx context.Context) error {
	if !w.running.CompareAndSwap(false, true) {
		return errors.New("run event worker: already running")
	}
	defer w.running.Store(false)
	// Handlers outlive ctx by up to DrainTimeout.
	hctx, hcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer hcancel()

	pause := 100 * time.Millisecond
	for {
		err := ensureGroup(ctx, w.rdb, w.cfg)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		w.down.fail(w.log, "worker: cannot reach the event stream; retrying", err)
		pause = min(pause*2, 5*time.Second)
		if !sleep(ctx, pause) {
			return nil
		}
	}

	reclaimed := make(chan struct{})
	go func() {
		defer close(reclaimed)
		w.reclaimLoop(ctx, hctx)
	}()
	w.readLoop(ctx, hctx)
	<-reclaimed

	done := make(chan struct{})
	go func() {
		w.wg.Wait()
		close(done)
	}()
	t := time.NewTimer(w.cfg.DrainTimeout)
	defer t.Stop()
	select {
	case <-done:
		w.leaveGroup(ctx)
		return nil
	case <-t.C:
	}
	w.log.Warn("worker: handlers still running at shutdown; cancelling them, their events will be reclaimed")
	hcancel()
	t.Reset(time.Second)
	select {
	case <-done:
	case <-t.C:
	}
	return nil
}

// leaveGroup removes this consumer from the group when it holds no pending
// entries (deleting a consumer drops its pending entries), so restarts do
// not pile up consumer names.
func (w *Worker) leaveGroup(ctx context.Context) {
	octx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opTimeout)
	defer cancel()
	p, err := w.rdb.XPendingExt(octx, &redis.XPendingExtArgs{
		Stream: w.cfg.streamKey(), Group: w.cfg.Group, Consumer: w.cfg.Consumer, Start: "-", End: "+", Count: 1,
	}).Result()
	if err != nil || len(p) > 0 {
		return
	}
	if err := w.rdb.XGroupDelConsumer(octx, w.cfg.streamKey(), w.cfg.Group, w.cfg.Consumer).Err(); err != nil {
		w.log.Info("worker: could not leave the consumer group", "err", err)
	}
}

// free waits until a handler slot is free (0: ctx ended) and returns how
// many are. Slots are only taken per entry, in dispatch, so neither the
// reader, blocked in XREADGROUP, nor the reclaimer holds capacity the other
// needs.
func (w *Worker) free(ctx context.Context) int {
	select {
	case w.slots <- struct{}{}:
	case <-ctx.Done():
		return 0
	}
	n := cap(w.slots) - len(w.slots) + 1
	<-w.slots
	return n
}

// readLoop reads new entries while there are free slots.
func (w *Worker) readLoop(ctx, hctx context.Context) {
	pause := 100 * time.Millisecond
	for ctx.Err() == nil {
		n := min(w.free(ctx), w.cfg.Batch)
		if n == 0 {
			return
		}
		res, err := w.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
			Group: w.cfg.Group, Consumer: w.cfg.Consumer,
			Streams: []string{w.cfg.streamKey(), ">"},
			Count:   int64(n), Block: readBlock,
		}).Result()
		if errors.Is(err, redis.Nil) {
			w.down.ok(w.log, "worker: event stream reachable again")
			continue
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if isNoGroup(err) {
				// Redis lost the stream (or someone deleted the group).
				if err = ensureGroup(ctx, w.rdb, w.cfg); err == nil {
					w.log.Warn("worker: consumer group was missing; created it again")
					continue
				}
			}
			w.down.fail(w.log, "worker: cannot read the event stream; retrying", err)
			pause = min(pause*2, 5*time.Second)
			sleep(ctx, pause)
			continue
		}
		w.down.ok(w.log, "worker: event stream reachable again")
		pause = 100 * time.Millisecond
		for _, s := range res {
			for _, m := range s.Messages {
				w.dispatch(ctx, hctx, m)
			}
		}
	}
}

// reclaimLoop, every ReclaimIdle/2, keeps this worker's entries fresh and
// takes over entries left idle longer than ReclaimIdle by other consumers.
func (w *Worker) reclaimLoop(ctx, hctx context.Context) {
	t := time.NewTicker(max(w.cfg.ReclaimIdle/2, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		w.heartbeat(ctx)
		w.reclaim(ctx, hctx)
	}
}

// heartbeat resets the idle time of the entries this worker is handling, so
// no other worker takes them over while this one is alive.
func (w *Worker) heartbeat(ctx context.Context) {
	w.mu.Lock()
	ids := make([]string, 0, len(w.inflight))
	for id := range w.inflight {
		ids = append(ids, id)
	}
	w.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	err := w.rdb.XClaimJustID(ctx, &redis.XClaimArgs{
		Stream: w.cfg.streamKey(), Group: w.cfg.Group, Consumer: w.cfg.Consumer, MinIdle: 0, Messages: ids,
	}).Err()
	if err != nil && ctx.Err() == nil && !isNoGroup(err) {
		w.down.fail(w.log, "worker: cannot refresh pending entries; retrying", err)
	}
}

// reclaim takes over idle entries, as many as there are free slots.
func (w *Worker) reclaim(ctx, hctx context.Context) {
	cursor := "0-0"
	for range 10 {
		n := min(w.free(ctx), w.cfg.Batch)
		if n == 0 {
			return
		}
		msgs, next, err := w.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
			Stream: w.cfg.streamKey(), Group: w.cfg.Group, Consumer: w.cfg.Consumer,
			MinIdle: w.cfg.ReclaimIdle, Start: cursor, Count: int64(n),
		}).Result()
		if err != nil {
			if ctx.Err() == nil && !isNoGroup(err) {
				w.down.fail(w.log, "worker: cannot reclaim idle entries; retrying", err)
			}
			return
		}
		if len(msgs) > 0 {
			w.log.Info("worker: reclaimed idle entries", "count", len(msgs))
		}
		for _, m := range msgs {
			w.dispatch(ctx, hctx, m)
		}
		if next == "" || next == "0-0" {
			return
		}
		cursor = next
	}
}

// dispatch handles m in a goroutine of its own, once a handler slot is free
// (meanwhile the entry counts as in flight, so the heartbeat keeps it). An
// entry this worker is already handling is skipped; one still waiting for a
// slot when ctx ends is left pending, for whoever reclaims it.
func (w *Worker) dispatch(ctx, hctx context.Context, m redis.XMessage) {
	w.mu.Lock()
	if _, dup := w.inflight[m.ID]; dup {
		w.mu.Unlock()
		return
	}
	w.inflight[m.ID] = struct{}{}
	w.mu.Unlock()
	done := func() {
		w.mu.Lock()
		delete(w.inflight, m.ID)
		w.mu.Unlock()
	}
	select {
	case w.slots <- struct{}{}:
	case <-ctx.Done():
		done()
		return
	}
	w.wg.Add(1)
	go func() {
		defer func() {
			done()
			<-w.slots
			w.wg.Done()
		}()
		w.process(hctx, m)
	}()
}

// entry is a stream entry's event.
type entry struct {
	eventID string
	kind    string
	payload string // the event JSON
	rt      int64  // relay time, unix ms
	event   outbox.Event
}

func parseEntry(m redis.XMessage) (entry, error) {
	str := func(k string) string { s, _ := m.Values[k].(string); return s }
	e := entry{eventID: str(fieldID), kind: str(fieldKind), payload: str(fieldPayload), rt: entryRT(m)}
	ev, err := outbox.Decode([]byte(e.payload))
	if err != nil {
		return e, err
	}
	if ev.ID == "" {
		ev.ID = e.eventID
	}
	if e.eventID == "" {
		e.eventID = ev.ID
	}
	if e.eventID == "" {
		return e, errors.New("event without an id")
	}
	if e.kind == "" {
		e.kind = ev.Kind
	}
	e.event = ev
	return e, nil
}

// lock takes the event's lock for token (see lockScript); the common case,
// an event nobody has touched, is one SET NX.
func (w *Worker) lock(ctx context.Context, eventID, token string) (int, error) {
	key := w.cfg.markerKey(eventID)
	ok, err := w.rdb.SetNX(ctx, key, token, w.lockLease).Result()
	if err != nil {
		return 0, fmt.Errorf("lock event %s: %w", eventID, err)
	}
	if ok {
		return lockTaken, nil
	}
	st, err := lockScript.Run(ctx, w.rdb, []string{key}, token, w.lockLease.Milliseconds()).Int()
	if err != nil {
		return 0, fmt.Errorf("lock event %s: %w", eventID, err)
	}
	return st, nil
}

// process handles one stream entry: lock, handler, outcome, XACK. An entry
// left unacknowledged (a Redis failure, an interrupted handler) is taken over
// after ReclaimIdle.
func (w *Worker) process(hctx context.Context, m redis.XMessage) {
	octx, cancel := context.WithTimeout(context.WithoutCancel(hctx), opTimeout)
	defer cancel()
	e, err := parseEntry(m)
	if err != nil {
		if len(m.Values) == 0 {
			// Trimmed away before it was handled: nothing left to do.
			w.log.Error("worker: pending entry has no data (trimmed from the stream?)", "entry", m.ID)
		} else if err := w.bury(octx, e, 0, "unreadable event: "+err.Error()); err != nil {
			w.down.fail(w.log, "worker: cannot record an unreadable event; retrying", err)
			return
		}
		w.ack(octx, m.ID)
		return
	}
	st, err := w.lock(octx, e.eventID, m.ID)
	if err != nil {
		w.down.fail(w.log, "worker: cannot lock an event; retrying", err)
		return
	}
	if st != lockTaken {
		// Handled, dead, or in another entry's hands (a duplicate).
		w.ack(octx, m.ID)
		return
	}
	herr := w.call(hctx, e.event)
	if herr == nil {
		if err := w.finish(octx, e.eventID, m.ID); err != nil {
			w.down.fail(w.log, "worker: cannot record a handled event; retrying", err)
		}
		return
	}
	if hctx.Err() != nil {
		// Interrupted by shutdown: not the event's fault; another worker
		// reclaims the entry.
		return
	}
	if err := w.fail(octx, e, m.ID, 1, herr); err != nil {
		w.down.fail(w.log, "worker: cannot schedule a failed event's retry; retrying", err)
		return
	}
	w.ack(octx, m.ID)
}

func (w *Worker) ack(ctx context.Context, id string) {
	if err := w.rdb.XAck(ctx, w.cfg.streamKey(), w.cfg.Group, id).Err(); err != nil && !isNoGroup(err) {
		w.down.fail(w.log, "worker: cannot acknowledge entries; retrying", err)
	}
}

// call runs the handler, turning a panic into an error.
func (w *Worker) call(ctx context.Context, e outbox.Event) (err error) {
	defer func() {
		if p := recover(); p != nil {
			w.log.Error("worker: handler panicked", "event", e.ID, "kind", e.Kind, "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("handler panicked: %v", p)
		}
	}()
	return w.h(ctx, e)
}

// finish records a handled event: its marker says done (later copies are
// skipped), it is no longer open, and its entry, if any, is acknowledged.
// One round trip: should the marker alone fail, a later copy runs the
// (idempotent) handler again.
func (w *Worker) finish(ctx context.Context, eventID, entryID string) error {
	pipe := w.rdb.Pipeline()
	pipe.Set(ctx, w.cfg.markerKey(eventID), markerDone, markerTTL)
	pipe.ZRem(ctx, w.cfg.openKey(), eventID)
	if entryID != "" {
		pipe.XAck(ctx, w.cfg.streamKey(), w.cfg.Group, entryID)
	}
	if _, err := pipe.Exec(ctx); err != nil && !isNoGroup(err) {
		return fmt.Errorf("mark event %s handled: %w", eventID, err)
	}
	return nil
}

// retryPayload is a RetryKind job's payload.
type retryPayload struct {
	Event   json.RawMessage `json:"event"`
	Kind    string          `json:"kind"`
	Attempt int             `json:"attempt"` // failures so far
	Token   string          `json:"token"`   // the lock holder's entry id
	RT      int64           `json:"rt"`
	Error   string          `json:"error"`
}

// fail records the attempt-th failure of e: a retry job, or the dead
// letters after MaxAttempts. The event is open (see the package
// documentation) before the caller acknowledges its entry.
func (w *Worker) fail(ctx context.Context, e entry, token string, attempt int, herr error) error {
	msg := herr.Error()
	if attempt >= w.cfg.MaxAttempts {
		return w.bury(ctx, e, attempt, msg)
	}
	delay := backoff(w.cfg, attempt)
	if err := w.rdb.ZAdd(ctx, w.cfg.openKey(), redis.Z{Score: float64(e.rt), Member: e.eventID}).Err(); err != nil {
		return fmt.Errorf("mark event %s open: %w", e.eventID, err)
	}
	// Keep the lock through the wait, so copies of the event stay away.
	st, err := lockScript.Run(ctx, w.rdb, []string{w.cfg.markerKey(e.eventID)}, token, (delay + w.lockLease).Milliseconds()).Int()
	if err != nil {
		return fmt.Errorf("lock event %s: %w", e.eventID, err)
	}
	switch st {
	case lockDone:
		// A copy was handled meanwhile.
		return w.rdb.ZRem(ctx, w.cfg.openKey(), e.eventID).Err()
	case lockBusy, lockDead:
		return nil // another entry holds it now
	}
	p, err := json.Marshal(retryPayload{Event: json.RawMessage(e.payload), Kind: e.kind, Attempt: attempt, Token: token, RT: e.rt, Error: msg})
	if err != nil {
		return fmt.Errorf("encode retry of event %s: %w", e.eventID, err)
	}
	if err := w.sched.Schedule(ctx, scheduler.Job{
		Key: RetryKind + ":" + e.eventID, Kind: RetryKind, Due: time.Now().Add(delay), Payload: p,
	}); err != nil {
		return err
	}
	w.log.Warn("worker: event failed; will retry", "event", e.eventID, "kind", e.kind, "attempt", attempt, "retry_in", delay, "err", herr)
	return nil
}

// bury moves e to the dead letters. It stays open (the relay's checkpoint
// keeps it re-relayable) and its marker says dead, so copies are skipped
// until ReplayDead.
func (w *Worker) bury(ctx context.Context, e entry, attempts int, msg string) error {
	if e.eventID != "" {
		if err := w.rdb.ZAdd(ctx, w.cfg.openKey(), redis.Z{Score: float64(e.rt), Member: e.eventID}).Err(); err != nil {
			return fmt.Errorf("mark event %s open: %w", e.eventID, err)
		}
	}
	err := w.rdb.XAdd(ctx, &redis.XAddArgs{
		Stream: w.cfg.deadKey(), MaxLen: w.cfg.StreamMaxLen, Approx: true,
		Values: []any{
			fieldID, e.eventID, fieldKind, e.kind, deadEvent, e.payload, deadAttempts, attempts,
			deadError, msg, deadTime, time.Now().UTC().Format(time.RFC3339Nano), fieldRT, e.rt,
		},
	}).Err()
	if err != nil {
		return fmt.Errorf("dead-letter event %s: %w", e.eventID, err)
	}
	if e.eventID != "" {
		if err := w.rdb.Set(ctx, w.cfg.markerKey(e.eventID), markerDead, markerTTL).Err(); err != nil {
			return fmt.Errorf("mark event %s dead: %w", e.eventID, err)
		}
	}
	w.log.Error("worker: event failed for the last time; moved to the dead letters",
		"event", e.eventID, "kind", e.kind, "attempts", attempts, "err", msg)
	return nil
}

// runRetry is the RetryKind job: the next attempt at a failed event.
func (w *Worker) runRetry(ctx context.Context, j scheduler.Job) error {
	var p retryPayload
	if err := json.Unmarshal(j.Payload, &p); err != nil {
		w.log.Error("worker: unreadable retry job dropped", "key", j.Key, "err", err)
		return nil
	}
	e, err := parseEntry(redis.XMessage{ID: p.Token, Values: map[string]any{
		fieldPayload: string(p.Event), fieldKind: p.Kind, fieldRT: strconv.FormatInt(p.RT, 10),
	}})
	if err != nil {
		w.log.Error("worker: unreadable retry job dropped", "key", j.Key, "err", err)
		return nil
	}
	st, err := w.lock(ctx, e.eventID, p.Token)
	if err != nil {
		return err
	}
	switch st {
	case lockDone:
		return w.rdb.ZRem(ctx, w.cfg.openKey(), e.eventID).Err()
	case lockBusy, lockDead:
		return nil
	}
	herr := w.call(ctx, e.event)
	if herr == nil {
		return w.finish(ctx, e.eventID, "")
	}
	if ctx.Err() != nil {
		// Shutting down: the scheduler runs the job again later.
		return herr
	}
	return w.fail(ctx, e, p.Token, p.Attempt+1, herr)
}
