// Package outbox is how a capability tells the rest of the system that
// something happened: Add writes the event in the same SQL transaction as the
// domain change, so an accepted change always has its event and a rolled-back
// one never does. The notify relay moves committed events to Redis.
package outbox

import (
	"context"
	"encoding/json"
	"fmt"
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
	if e.Kind == "" {
		return "", fmt.Errorf("outbox event without a kind")
	}
	if n := e.Notification; n != nil {
		if n.Category == "" || n.TitleVI == "" || n.TitleEN == "" {
			return "", fmt.Errorf("outbox event %s: a notification needs a category and titles in both languages", e.Kind)
		}
		if n.CollapseKey == "" && n.EntityKind != "" {
			n.CollapseKey = n.EntityKind + ":" + n.EntityID
		}
	}
	e.ID = ids.New()
	if e.Time.IsZero() {
		e.Time = store.Now()
	}
	payload, err := json.Marshal(e)
	if err != nil {
		return "", fmt.Errorf("encode outbox event: %w", err)
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO outbox_events (id, kind, payload, create_time) VALUES ($1, $2, $3, $4)`,
		e.ID, e.Kind, string(payload), e.Time.UTC()); err != nil {
		return "", fmt.Errorf("insert outbox event: %w", err)
	}
	return e.ID, nil
}

// Decode parses an event as stored by Add.
func Decode(payload []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(payload, &e); err != nil {
		return e, fmt.Errorf("decode outbox event: %w", err)
	}
	return e, nil
}
