package pipeline

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"hqconnect/internal/outbox"
)

// Dead-letter entry fields (besides id, kind and rt).
const (
	deadEvent    = "event"
	deadAttempts = "attempts"
	deadError    = "error"
	deadTime     = "time"
)

// DeadLetter is an event whose handling failed MaxAttempts times.
type DeadLetter struct {
	// ID is the dead-letter stream entry's id: the handle for ReplayDead and
	// the paging cursor.
	ID        string
	Event     outbox.Event
	Attempts  int
	LastError string
	FailTime  time.Time
}

func parseDead(m redis.XMessage) DeadLetter {
	str := func(k string) string { s, _ := m.Values[k].(string); return s }
	d := DeadLetter{ID: m.ID, LastError: str(deadError)}
	if ev, err := outbox.Decode([]byte(str(deadEvent))); err == nil {
		d.Event = ev
	}
	// An unreadable event still shows what is known of it.
	if d.Event.ID == "" {
		d.Event.ID = str(fieldID)
	}
	if d.Event.Kind == "" {
		d.Event.Kind = str(fieldKind)
	}
	d.Attempts, _ = strconv.Atoi(str(deadAttempts))
	if t, err := time.Parse(time.RFC3339Nano, str(deadTime)); err == nil {
		d.FailTime = t
	} else {
		d.FailTime = time.UnixMilli(idTime(m.ID)).UTC()
	}
	return d
}

// ListDead returns up to limit dead letters (default 50, at most 1000),
// oldest first, starting after the entry id after ("" for the first page),
// and the cursor of the next page ("" on the last page).
func ListDead(ctx context.Context, rdb redis.UniversalClient, cfg Config, after string, limit int) ([]DeadLetter, string, error) {
	cfg = cfg.withDefaults()
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 1000)
	start := "-"
	if after != "" {
		if !validStreamID(after) {
			return nil, "", fmt.Errorf("list dead letters: %w %q", ErrInvalidCursor, after)
		}
		start = "(" + after
	}
	msgs, err := rdb.XRangeN(ctx, cfg.deadKey(), start, "+", int64(limit)+1).Result()
	if err != nil {
		return nil, "", fmt.Errorf("list dead letters: %w", err)
	}
	next := ""
	if len(msgs) > limit {
		msgs = msgs[:limit]
		next = msgs[limit-1].ID
	}
	out := make([]DeadLetter, len(msgs))
	for i, m := range msgs {
		out[i] = parseDead(m)
	}
	return out, next, nil
}

// ReplayDead puts the dead letter id back into the events stream, with its
// attempts reset, and removes it from the dead letters. An unknown id gives
// an error wrapping ErrNotFound.
func ReplayDead(ctx context.Context, rdb redis.UniversalClient, cfg Config, id string) error {
	cfg = cfg.withDefaults()
	if !validStreamID(id) {
		return fmt.Errorf("replay dead letter %q: %w", id, ErrNotFound)
	}
	msgs, err := rdb.XRangeN(ctx, cfg.deadKey(), id, id, 1).Result()
	if err != nil {
		return fmt.Errorf("replay dead letter %s: %w", id, err)
	}
	if len(msgs) == 0 {
		return fmt.Errorf("replay dead letter %s: %w", id, ErrNotFound)
	}
	m := msgs[0]
	str := func(k string) string { s, _ := m.Values[k].(string); return s }
	eventID, kind, payload, rt := str(fieldID), str(fieldKind), str(deadEvent), entryRT(m)
	if eventID != "" {
		// Open (it already is, while dead) with its first relay time, so the
		// relay's checkpoint stays behind it; then clear the marker that
		// made copies skip it.
		if err := rdb.ZAdd(ctx, cfg.openKey(), redis.Z{Score: float64(rt), Member: eventID}).Err(); err != nil {
			return fmt.Errorf("replay dead letter %s: %w", id, err)
		}
		if err := rdb.Del(ctx, cfg.markerKey(eventID)).Err(); err != nil {
			return fmt.Errorf("replay dead letter %s: %w", id, err)
		}
	}
	if err := rdb.XAdd(ctx, xaddArgs(cfg, eventID, kind, payload, rt)).Err(); err != nil {
		return fmt.Errorf("replay dead letter %s: %w", id, err)
	}
	if err := rdb.XDel(ctx, cfg.deadKey(), id).Err(); err != nil {
		return fmt.Errorf("replay dead letter %s: %w", id, err)
	}
	return nil
}
