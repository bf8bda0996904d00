package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"hqconnect/internal/ids"
	"hqconnect/internal/leader"
	"hqconnect/internal/store"
)

// maxRelayBatch bounds the rows of one relay batch (and so the placeholders
// of its UPDATE).
const maxRelayBatch = 500

// retentionEvery is how often the relay deletes old relayed rows, and
// retentionBatch how many rows one DELETE takes.
const (
	retentionEvery = time.Minute
	retentionBatch = 1000
)

// batchTimeout bounds one batch's writes, which run to the end even when the
// relay is stopping: a batch cut between XADD and UPDATE is relayed twice.
const batchTimeout = 10 * time.Second

// errDeposed stops the relay's work when its fence is no longer the live one.
var errDeposed = errors.New("relay deposed")

// Relay moves committed outbox rows to the events stream.
type Relay struct {
	db    *store.DB
	rdb   redis.UniversalClient
	cfg   Config
	log   *slog.Logger
	batch int

	// mu serialises batches and maintenance and guards the fields below,
	// which outlive one leadership term.
	mu sync.Mutex
	// epoch is the token of the Redis data set the relay last saw ("" before
	// its first contact).
	epoch string
	// cut is the checkpoint for epoch: every row relayed before it is
	// finished (zero: none computed yet).
	cut           time.Time
	lastRetention time.Time

	down outage
	// rerelayed counts rows set back to pending because Redis lost its data.
	rerelayed atomic.Int64
}

// NewRelay returns a relay from db to rdb.
func NewRelay(db *store.DB, rdb redis.UniversalClient, cfg Config) *Relay {
	cfg = cfg.withDefaults()
	return &Relay{
		db: db, rdb: rdb, cfg: cfg,
		log:   cfg.Log.With("component", "outbox-relay"),
		batch: min(cfg.Batch, maxRelayBatch),
	}
}

func (r *Relay) leaderConfig() leader.Config {
	return leader.Config{
		Prefix: r.cfg.Prefix, Name: LeaderName, TTL: r.cfg.LeaderTTL,
		// The lock logs every failed attempt; one line a minute is enough.
		Log: newQuietLogger(r.cfg.Log, time.Minute),
	}
}

// Run relays until ctx is done, while this instance holds the relay's leader
// lock (so one instance relays at a time), and returns nil. Failures (Redis
// or the database down) are logged once per outage and retried with backoff;
// the rows wait in SQL meanwhile.
func (r *Relay) Run(ctx context.Context) error {
	lcfg := r.leaderConfig()
	return leader.Run(ctx, r.rdb, lcfg, func(ctx context.Context, fence int64) error {
		return r.lead(ctx, lcfg, fence)
	})
}

// lead is the work of one leadership term.
func (r *Relay) lead(ctx context.Context, lcfg leader.Config, fence int64) error {
	// Checked before every append, so a deposed relay (a paused process
	// whose lease ran out) stops appending soon; what slips through is a
	// duplicate, which consumers drop.
	check := func(ctx context.Context) error {
		ok, err := leader.ValidFence(ctx, r.rdb, lcfg, fence)
		if err != nil {
			return err
		}
		if !ok {
			return errDeposed
		}
		return nil
	}
	pause := r.cfg.RelayPoll
	var nextMaint time.Time
	for ctx.Err() == nil {
		var err error
		if !time.Now().Before(nextMaint) {
			if err = r.maintain(ctx); err == nil {
				nextMaint = time.Now().Add(r.cfg.CheckpointEvery)
			}
		}
		n := 0
		if err == nil {
			n, err = r.relay(ctx, check)
		}
		switch {
		case errors.Is(err, errDeposed):
			r.log.Warn("relay: fence no longer valid; stepping down")
			return nil
		case err != nil:
			if ctx.Err() != nil {
				return nil
			}
			r.down.fail(r.log, "relay: cannot relay, events wait in SQL; retrying", err)
			pause = min(max(pause*2, r.cfg.RelayPoll), 5*time.Second)
			sleep(ctx, pause)
			continue
		}
		r.down.ok(r.log, "relay: relaying again")
		pause = r.cfg.RelayPoll
		if n < r.batch {
			sleep(ctx, r.cfg.RelayPoll)
		}
	}
	return nil
}

// RelayOnce relays one batch and returns how many rows it relayed. It does
// not take the leader lock (tests and benchmarks); do not run it beside Run.
func (r *Relay) RelayOnce(ctx context.Context) (int, error) {
	return r.relay(ctx, nil)
}

// pendingRow is an outbox row not relayed yet.
type pendingRow struct{ id, kind, payload string }

// relay appends the oldest pending rows to the stream, in id order, and
// marks them relayed. check, when set, runs just before the append.
func (r *Relay) relay(ctx context.Context, check func(context.Context) error) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rows, err := r.pending(ctx)
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	if err := r.syncEpoch(ctx); err != nil {
		return 0, err
	}
	if check != nil {
		if err := check(ctx); err != nil {
			return 0, err
		}
	}
	// From here on, finish the batch even if ctx ends.
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), batchTimeout)
	defer cancel()
	// The stream entries carry the relay time the rows get (see the package
	// documentation: the checkpoint is computed from it).
	now := store.Now()
	rt := now.UnixMilli()
	pipe := r.rdb.Pipeline()
	for _, row := range rows {
		pipe.XAdd(bctx, xaddArgs(r.cfg, row.id, row.kind, row.payload, rt))
	}
	if _, err := pipe.Exec(bctx); err != nil {
		return 0, fmt.Errorf("append events to the stream: %w", err)
	}
	var q strings.Builder
	q.WriteString(`UPDATE outbox_events SET relay_time = $1 WHERE relay_time IS NULL AND id IN (`)
	args := make([]any, 0, len(rows)+1)
	args = append(args, now)
	for i, row := range rows {
		if i > 0 {
			q.WriteByte(',')
		}
		q.WriteString("$" + strconv.Itoa(i+2))
		args = append(args, row.id)
	}
	q.WriteByte(')')
	// Not through the statement cache: the text varies with the batch size.
	if _, err := r.db.DB.ExecContext(bctx, q.String(), args...); err != nil {
		// The rows stay pending and are appended again: consumers dedupe.
		return 0, fmt.Errorf("mark events relayed: %w", err)
	}
	return len(rows), nil
}

func (r *Relay) pending(ctx context.Context) ([]pendingRow, error) {
	rs, err := r.db.QueryContext(ctx,
		`SELECT id, kind, payload FROM outbox_events WHERE relay_time IS NULL ORDER BY id LIMIT $1`, r.batch)
	if err != nil {
		return nil, fmt.Errorf("read pending events: %w", err)
	}
	defer rs.Close()
	var rows []pendingRow
	for rs.Next() {
		var row pendingRow
		if err := rs.Scan(&row.id, &row.kind, &row.payload); err != nil {
			return nil, fmt.Errorf("read pending events: %w", err)
		}
		rows = append(rows, row)
	}
	if err := rs.Err(); err != nil {
		return nil, fmt.Errorf("read pending events: %w", err)
	}
	return rows, nil
}

// maintain checks the epoch, recomputes the checkpoint and, now and then,
// deletes old relayed rows.
func (r *Relay) maintain(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.syncEpoch(ctx); err != nil {
		return err
	}
	if err := r.observe(ctx); err != nil {
		return err
	}
	if time.Since(r.lastRetention) >= retentionEvery {
		if err := r.retention(ctx); err != nil {
			return err
		}
		r.lastRetention = time.Now()
	}
	return nil
}

func (r *Relay) getEpoch(ctx context.Context) (string, error) {
	v, err := r.rdb.Get(ctx, r.cfg.epochKey()).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read stream epoch: %w", err)
	}
	return v, nil
}

// syncEpoch compares the epoch key with the token the relay last saw. A
// missing or changed token means Redis lost its data since: the rows
// relayed since the checkpoint go back to pending before a new token is
// written (so a crash in between only repeats this).
func (r *Relay) syncEpoch(ctx context.Context) error {
	v, err := r.getEpoch(ctx)
	if err != nil {
		return err
	}
	switch {
	case v != "" && v == r.epoch:
		return nil
	case v != "" && r.epoch == "":
		// First contact with a data set some relay already took care of.
		if err := ensureGroup(ctx, r.rdb, r.cfg); err != nil {
			return err
		}
		r.epoch, r.cut = v, time.Time{}
		return nil
	}
	since, why := r.cut, "checkpoint"
	if r.epoch == "" || r.cut.IsZero() {
		since, why = store.Now().Add(-r.cfg.ReplayWindow), "replay window (no checkpoint)"
	}
	res, err := r.db.ExecContext(ctx,
		`UPDATE outbox_events SET relay_time = NULL WHERE relay_time >= $1`, since)
	if err != nil {
		return fmt.Errorf("re-relay events after a Redis data loss: %w", err)
	}
	n, _ := res.RowsAffected()
	r.rerelayed.Add(n)
	if r.epoch != "" || n > 0 {
		r.log.Warn("relay: the event stream lost its data (Redis restarted without persistence?); re-relaying events",
			"since", since, "from", why, "rows", n)
	} else {
		r.log.Info("relay: event stream initialised")
	}
	if err := ensureGroup(ctx, r.rdb, r.cfg); err != nil {
		return err
	}
	if v == "" {
		tok := ids.Secret(12)
		ok, err := r.rdb.SetNX(ctx, r.cfg.epochKey(), tok, 0).Result()
		if err != nil {
			return fmt.Errorf("write stream epoch: %w", err)
		}
		if v = tok; !ok {
			if v, err = r.getEpoch(ctx); err != nil {
				return err
			}
		}
	}
	r.epoch, r.cut = v, time.Time{}
	return nil
}

// observe recomputes the checkpoint: the smallest relay time among the
// oldest undelivered entry, the oldest pending entry and the open events, or
// now when there is none, less ClockSkew. It reads the epoch before and
// after, so a data loss in between cannot pass for "nothing unfinished".
func (r *Relay) observe(ctx context.Context) error {
	t0 := store.Now()
	low := t0.UnixMilli()
	consider := func(msgs []redis.XMessage) {
		if len(msgs) > 0 {
			low = min(low, entryRT(msgs[0]))
		}
	}
	stream := r.cfg.streamKey()

	// Undelivered: after the group's last-delivered id.
	groups, err := r.rdb.XInfoGroups(ctx, stream).Result()
	streamExists := !isNoKey(err)
	if err != nil && streamExists {
		return fmt.Errorf("read consumer groups: %w", err)
	}
	if streamExists {
		start, group := "-", false
		for _, g := range groups {
			if g.Name == r.cfg.Group {
				start, group = "("+g.LastDeliveredID, true
			}
		}
		msgs, err := r.rdb.XRangeN(ctx, stream, start, "+", 1).Result()
		if err != nil {
			return fmt.Errorf("read undelivered events: %w", err)
		}
		consider(msgs)
		// Pending: delivered, not acknowledged.
		if group {
			p, err := r.rdb.XPending(ctx, stream, r.cfg.Group).Result()
			if err != nil && !isNoGroup(err) {
				return fmt.Errorf("read pending events: %w", err)
			}
			if err == nil && p.Count > 0 {
				msgs, err := r.rdb.XRangeN(ctx, stream, p.Lower, p.Lower, 1).Result()
				if err != nil {
					return fmt.Errorf("read pending events: %w", err)
				}
				consider(msgs)
			}
		}
	}
	// Open: waiting for a retry, dead or replayed.
	zs, err := r.rdb.ZRangeWithScores(ctx, r.cfg.openKey(), 0, 0).Result()
	if err != nil {
		return fmt.Errorf("read open events: %w", err)
	}
	if len(zs) > 0 {
		low = min(low, int64(zs[0].Score))
	}

	v, err := r.getEpoch(ctx)
	if err != nil {
		return err
	}
	if v != r.epoch {
		return r.syncEpoch(ctx)
	}
	r.cut = time.UnixMilli(low).UTC().Add(-r.cfg.ClockSkew)
	return nil
}

// checkpoint returns the current checkpoint (tests).
func (r *Relay) checkpoint() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cut
}

// retention deletes relayed rows older than Retention, in batches, and
// forgets open events of that age.
func (r *Relay) retention(ctx context.Context) error {
	before := store.Now().Add(-r.cfg.Retention)
	for range 20 {
		res, err := r.db.ExecContext(ctx,
			`DELETE FROM outbox_events WHERE id IN (SELECT id FROM outbox_events WHERE relay_time < $1 LIMIT $2)`,
			before, retentionBatch)
		if err != nil {
			return fmt.Errorf("delete old outbox events: %w", err)
		}
		if n, _ := res.RowsAffected(); n < retentionBatch {
			break
		}
	}
	if err := r.rdb.ZRemRangeByScore(ctx, r.cfg.openKey(), "-inf", "("+strconv.FormatInt(before.UnixMilli(), 10)).Err(); err != nil {
		return fmt.Errorf("forget old open events: %w", err)
	}
	return nil
}

// entryRT is the relay time an entry carries, or its id's time.
func entryRT(m redis.XMessage) int64 {
	if s, ok := m.Values[fieldRT].(string); ok {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n
		}
	}
	return idTime(m.ID)
}
