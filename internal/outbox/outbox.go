// Package outbox is how a capability tells the rest of the system that
// something happened: Add writes the event in the same SQL transaction as the
// domain change, so an accepted change always has its event and a rolled-back
// one never does. The notify relay moves committed events to Redis.
package outbox

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"hqconnect/internal/ids"
	"hqconnect/internal/store"
)

// Categories of notifications (the proto's Category without its prefix, in
// lower case).
const (
	CategorySecurity  = "security"
	CategoryAccount   = "account"
	CategoryIssue     = "issue"
	CategoryClearance = "clearance"
	CategoryMeeting   = "meeting"
	CategoryWorkshop  = "workshop"
	CategoryNotice    = "notice"
	CategoryConduct   = "conduct"
)

// Broadcast audiences: one inbox item shown to everyone in it, pushed to an
// FCM topic, with no row per user.
const (
	BroadcastAll             = "all"
	BroadcastEnterpriseUsers = "enterprise_users"
	BroadcastOfficers        = "officers"
)

// Event is one thing that happened.
type Event struct {
	// ID is set by Add (UUIDv7); consumers deduplicate by it.
	ID   string    `json:"id"`
	Kind string    `json:"kind"` // dotted: "identity.login", "clearance.status_changed"
	Time time.Time `json:"time"`
	// Notification, when set, is what people are told.
	Notification *Notification `json:"notification,omitempty"`
	// Data is the capability's own payload, for other consumers.
	Data json.RawMessage `json:"data,omitempty"`
}

// Notification says who is told what. Text comes in both languages; each
// recipient gets their device's or client's language.
type Notification struct {
	Audience Audience `json:"audience"`
	Category string   `json:"category"`
	TitleVI  string   `json:"title_vi"`
	TitleEN  string   `json:"title_en"`
	BodyVI   string   `json:"body_vi"`
	BodyEN   string   `json:"body_en"`
	// EntityKind and EntityID let the app open the right screen.
	EntityKind string `json:"entity_kind,omitempty"`
	EntityID   string `json:"entity_id,omitempty"`
	// CollapseKey makes a newer push replace an older one on the device
	// (one per entity). Defaults to EntityKind:EntityID.
	CollapseKey string `json:"collapse_key,omitempty"`
	// Critical pushes pass quiet hours and category switches.
	Critical bool `json:"critical,omitempty"`
	// ExceptSessionID: no push to the devices of this session (e.g. the
	// session that just signed in is not warned about itself).
	ExceptSessionID string `json:"except_session_id,omitempty"`
}

// Audience is the union of the recipients named.
type Audience struct {
	UserIDs []string `json:"user_ids,omitempty"`
	// EnterpriseIDs: every active user of these enterprises.
	EnterpriseIDs []string `json:"enterprise_ids,omitempty"`
	// UnitIDs: active officers of these units, limited to Roles when set.
	UnitIDs []string `json:"unit_ids,omitempty"`
	Roles   []string `json:"roles,omitempty"`
	// Broadcast, when set, replaces per-user fan-out by one broadcast item.
	Broadcast string `json:"broadcast,omitempty"`
}

// Add appends e to the outbox inside the caller's transaction tx and returns
// its id.
func Add(ctx context.Context, tx store.Queryer, e Event) (string, error) {
	ids, err := AddAll(ctx, tx, []Event{e})
	if err != nil {
		return "", err
	}
	return ids[0], nil
}

// addChunk is how many events one INSERT carries (4 parameters each, far
// below both databases' limits).
const addChunk = 250

// AddAll appends events to the outbox inside tx with one multi-row INSERT
// per addChunk events, in order, and returns their ids: a batch of changes
// (a thousand declaration events) costs a few round trips, not one each.
func AddAll(ctx context.Context, tx store.Queryer, events []Event) ([]string, error) {
	// Check and encode everything first: a bad event inserts nothing.
	type row struct {
		id, kind, payload string
		t                 time.Time
	}
	rows := make([]row, len(events))
	out := make([]string, len(events))
	for i, e := range events {
		id, payload, t, err := encode(e)
		if err != nil {
			return nil, err
		}
		rows[i] = row{id, e.Kind, payload, t}
		out[i] = id
	}
	var b strings.Builder
	for start := 0; start < len(rows); start += addChunk {
		chunk := rows[start:min(start+addChunk, len(rows))]
		b.Reset()
		b.WriteString(`INSERT INTO outbox_events (id, kind, payload, create_time) VALUES `)
		args := make([]any, 0, 4*len(chunk))
		for i, r := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			n := len(args)
			fmt.Fprintf(&b, "($%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4)
			args = append(args, r.id, r.kind, r.payload, r.t)
		}
		if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
			return nil, fmt.Errorf("insert outbox events: %w", err)
		}
	}
	return out, nil
}

// encode checks e, gives it its id and time, and returns the stored form.
func encode(e Event) (id, payload string, t time.Time, err error) {
	if e.Kind == "" {
		return "", "", t, fmt.Errorf("outbox event without a kind")
	}
	if n := e.Notification; n != nil {
		if n.Category == "" || n.TitleVI == "" || n.TitleEN == "" {
			return "", "", t, fmt.Errorf("outbox event %s: a notification needs a category and titles in both languages", e.Kind)
		}
		if n.CollapseKey == "" && n.EntityKind != "" {
			c := *n
			c.CollapseKey = n.EntityKind + ":" + n.EntityID
			e.Notification = &c
		}
	}
	e.ID = ids.New()
	if e.Time.IsZero() {
		e.Time = store.Now()
	}
	b, err := json.Marshal(e)
	if err != nil {
		return "", "", t, fmt.Errorf("encode outbox event: %w", err)
	}
	return e.ID, string(b), e.Time.UTC(), nil
}

// Decode parses an event as stored by Add.
func Decode(payload []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(payload, &e); err != nil {
		return e, fmt.Errorf("decode outbox event: %w", err)
	}
	return e, nil
}
