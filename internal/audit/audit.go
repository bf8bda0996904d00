// Package audit appends state changes to the audit log and reads them back.
// Record is called inside the transaction that makes the change, so the log
// and the data never disagree.
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"hqconnect/internal/auth"
	"hqconnect/internal/ids"
	"hqconnect/internal/store"
)

// Event is one state change.
type Event struct {
	ID         string
	Time       time.Time
	ActorID    string
	ActorKind  string
	Action     string // dotted verb: "enterprise.verify"
	TargetKind string
	TargetID   string
	// Detail is a small JSON object; never put secrets in it.
	Detail map[string]any
	// DetailJSON is Detail as stored (filled when reading).
	DetailJSON string
}

// Record appends an event made by the caller in ctx (or by the system when
// there is none). q is the transaction of the change.
func Record(ctx context.Context, q store.Queryer, action, targetKind, targetID string, detail map[string]any) error {
	p := auth.FromContext(ctx)
	e := Event{Action: action, TargetKind: targetKind, TargetID: targetID, Detail: detail, ActorKind: "system"}
	if p != nil {
		e.ActorID, e.ActorKind = p.UserID, string(p.Kind)
	}
	return Append(ctx, q, e)
}

// Append writes e as given (ID and Time are filled when empty).
func Append(ctx context.Context, q store.Queryer, e Event) error {
	if e.ID == "" {
		e.ID = ids.New()
	}
	if e.Time.IsZero() {
		e.Time = store.Now()
	}
	detail := "{}"
	if len(e.Detail) > 0 {
		b, err := json.Marshal(e.Detail)
		if err != nil {
			return fmt.Errorf("encode audit detail: %w", err)
		}
		detail = string(b)
	}
	_, err := q.ExecContext(ctx, `INSERT INTO audit_events
		(id, create_time, actor_id, actor_kind, action, target_kind, target_id, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		e.ID, e.Time.UTC(), e.ActorID, e.ActorKind, e.Action, e.TargetKind, e.TargetID, detail)
	if err != nil {
		return fmt.Errorf("insert audit event: %w", err)
	}
	return nil
}

// Filter selects events; zero fields match everything.
type Filter struct {
	ActorID    string
	Action     string // exact, or a prefix when it ends in "."
	TargetKind string
	TargetID   string
	Since      time.Time // inclusive
	Until      time.Time // exclusive
	// BeforeID continues a listing: only events with a smaller id.
	BeforeID string
	Limit    int
}

// List returns events matching f, newest first.
func List(ctx context.Context, q store.Queryer, f Filter) ([]Event, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.ActorID != "" {
		add("actor_id = $%d", f.ActorID)
	}
	if f.Action != "" {
		if strings.HasSuffix(f.Action, ".") {
			// A range instead of LIKE: index-friendly and free of wildcards.
			// "." + 1 is "/", so [prefix, prefix-with-"/") is the prefix.
			add("action >= $%d", f.Action)
			add("action < $%d", strings.TrimSuffix(f.Action, ".")+"/")
		} else {
			add("action = $%d", f.Action)
		}
	}
	if f.TargetKind != "" {
		add("target_kind = $%d", f.TargetKind)
	}
	if f.TargetID != "" {
		add("target_id = $%d", f.TargetID)
	}
	if !f.Since.IsZero() {
		add("create_time >= $%d", f.Since.UTC())
	}
	if !f.Until.IsZero() {
		add("create_time < $%d", f.Until.UTC())
	}
	if f.BeforeID != "" {
		add("id < $%d", f.BeforeID)
	}
	query := `SELECT id, create_time, actor_id, actor_kind, action, target_kind, target_id, detail FROM audit_events`
	if len(where) > 0 {
		query += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	query += fmt.Sprintf(" ORDER BY id DESC LIMIT %d", limit)
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("query audit events: %w", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		if err := rows.Scan(&e.ID, &e.Time, &e.ActorID, &e.ActorKind, &e.Action, &e.TargetKind, &e.TargetID, &e.DetailJSON); err != nil {
			return nil, fmt.Errorf("scan audit event: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}
