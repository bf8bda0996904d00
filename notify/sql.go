package notify

import (
	"context"
	"fmt"
	"strings"
	"time"

	"hqconnect/internal/outbox"
	"hqconnect/internal/store"
	"hqconnect/notify/inbox"
)

// recipient is a resolved user and the state of their push for the event.
type recipient struct {
	userID   string
	status   string // "" when no push was attempted yet
	attempts int
}

// userIDsPerQuery bounds the user ids bound in one query: SQLite (modernc)
// binds parameters in time quadratic in their number; PostgreSQL takes up to
// 65,535 at no such cost.
func (d *Deliverer) userIDsPerQuery() int {
	if d.db.Dialect == store.SQLite {
		return 500
	}
	return 5000
}

// resolve returns the active users of a, by id, each with their
// push_deliveries state for eventID: one query (per 5,000 listed user ids).
func (d *Deliverer) resolve(ctx context.Context, eventID string, a outbox.Audience) ([]recipient, error) {
	seen := map[string]bool{}
	var out []recipient
	userIDs := a.UserIDs
	first := true
	for first || len(userIDs) > 0 {
		chunk := userIDs[:min(len(userIDs), d.userIDsPerQuery())]
		userIDs = userIDs[len(chunk):]
		sub := outbox.Audience{UserIDs: chunk}
		if first {
			sub.EnterpriseIDs, sub.UnitIDs, sub.Roles = a.EnterpriseIDs, a.UnitIDs, a.Roles
		}
		first = false
		q, args, ok := recipientsQuery(eventID, sub)
		if !ok {
			continue
		}
		rows, err := d.db.QueryContext(ctx, q, args...)
		if err != nil {
			return nil, fmt.Errorf("resolve recipients: %w", err)
		}
		for rows.Next() {
			var r recipient
			if err := rows.Scan(&r.userID, &r.status, &r.attempts); err != nil {
				rows.Close()
				return nil, fmt.Errorf("resolve recipients: %w", err)
			}
			if !seen[r.userID] {
				seen[r.userID] = true
				out = append(out, r)
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("resolve recipients: %w", err)
		}
	}
	return out, nil
}

// recipientsQuery builds the recipients query of a: active users listed by
// id, of the enterprises, or officers of the units with one of the roles
// (any when none), joined with their push_deliveries row for eventID.
func recipientsQuery(eventID string, a outbox.Audience) (string, []any, bool) {
	args := []any{eventID}
	var conds []string
	if len(a.UserIDs) > 0 {
		in, more := store.InList(len(args)+1, a.UserIDs)
		args = append(args, more...)
		conds = append(conds, `u.id IN (`+in+`)`)
	}
	if len(a.EnterpriseIDs) > 0 {
		in, more := store.InList(len(args)+1, a.EnterpriseIDs)
		args = append(args, more...)
		conds = append(conds, `u.enterprise_id IN (`+in+`)`)
	}
	if len(a.UnitIDs) > 0 {
		in, more := store.InList(len(args)+1, a.UnitIDs)
		args = append(args, more...)
		c := `(u.kind = 'officer' AND u.unit_id IN (` + in + `)`
		if len(a.Roles) > 0 {
			in, more := store.InList(len(args)+1, a.Roles)
			args = append(args, more...)
			c += ` AND EXISTS (SELECT 1 FROM user_roles r WHERE r.user_id = u.id AND r.role IN (` + in + `))`
		}
		conds = append(conds, c+`)`)
	}
	if len(conds) == 0 {
		return "", nil, false
	}
	return `SELECT u.id, COALESCE(pd.status, ''), COALESCE(pd.attempts, 0)
FROM users u LEFT JOIN push_deliveries pd ON pd.event_id = $1 AND pd.user_id = u.id
WHERE u.status = 'ACTIVE' AND (` + strings.Join(conds, " OR ") + `)
ORDER BY u.id`, args, true
}

// viewers reads the inbox viewers (kind, enterprise, unit) of userIDs.
func (d *Deliverer) viewers(ctx context.Context, userIDs []string) (map[string]inbox.Viewer, error) {
	out := map[string]inbox.Viewer{}
	per := d.userIDsPerQuery()
	for start := 0; start < len(userIDs); start += per {
		chunk := userIDs[start:min(start+per, len(userIDs))]
		in, args := store.InList(1, chunk)
		rows, err := d.db.QueryContext(ctx, `SELECT id, kind, COALESCE(enterprise_id, ''), COALESCE(unit_id, '') FROM users WHERE id IN (`+in+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("read users: %w", err)
		}
		for rows.Next() {
			var v inbox.Viewer
			if err := rows.Scan(&v.UserID, &v.Kind, &v.EnterpriseID, &v.UnitID); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read users: %w", err)
			}
			out[v.UserID] = v
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("read users: %w", err)
		}
	}
	return out, nil
}

// deliveryState is a push_deliveries row.
type deliveryState struct {
	status   string
	attempts int
}

// deliveryStates reads the push_deliveries rows of eventID for keys (user
// ids or "topic:<name>").
func (d *Deliverer) deliveryStates(ctx context.Context, eventID string, keys []string) (map[string]deliveryState, error) {
	out := map[string]deliveryState{}
	in, args := store.InList(2, keys)
	rows, err := d.db.QueryContext(ctx, `SELECT user_id, status, attempts FROM push_deliveries WHERE event_id = $1 AND user_id IN (`+in+`)`,
		append([]any{eventID}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("read push deliveries: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var s deliveryState
		if err := rows.Scan(&k, &s.status, &s.attempts); err != nil {
			return nil, fmt.Errorf("read push deliveries: %w", err)
		}
		out[k] = s
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read push deliveries: %w", err)
	}
	return out, nil
}

// delivery is one push_deliveries row to write.
type delivery struct {
	key      string // user id or "topic:<name>"
	status   string
	attempts int
	detail   string
}

// maxDetail bounds push_deliveries.detail, in bytes.
const maxDetail = 500

// record upserts the outcomes of eventID's pushes, in one statement unless
// there are hundreds.
func (d *Deliverer) record(ctx context.Context, eventID string, ds []delivery, now time.Time) error {
	const cols = 6
	now = now.UTC().Truncate(time.Microsecond)
	rowsPer := 2 * d.userIDsPerQuery() / cols
	for start := 0; start < len(ds); start += rowsPer {
		chunk := ds[start:min(start+rowsPer, len(ds))]
		var b strings.Builder
		b.WriteString(`INSERT INTO push_deliveries (event_id, user_id, status, attempts, detail, update_time) VALUES `)
		args := make([]any, 0, len(chunk)*cols)
		for i, r := range chunk {
			if i > 0 {
				b.WriteString(", ")
			}
			n := i * cols
			fmt.Fprintf(&b, "($%d, $%d, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4, n+5, n+6)
			args = append(args, eventID, r.key, r.status, r.attempts, truncate(r.detail, maxDetail), now)
		}
		// Attempts only grow: a retry job may run (and record) before the
		// attempt that scheduled it has recorded its own outcome.
		b.WriteString(` ON CONFLICT (event_id, user_id) DO UPDATE SET status = excluded.status,
    attempts = excluded.attempts, detail = excluded.detail, update_time = excluded.update_time
WHERE push_deliveries.attempts <= excluded.attempts`)
		if _, err := d.db.ExecContext(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("record push deliveries: %w", err)
		}
	}
	return nil
}

// loadEvent reads an event back from the outbox.
func (d *Deliverer) loadEvent(ctx context.Context, id string) (outbox.Event, bool, error) {
	var payload string
	err := d.db.QueryRowContext(ctx, `SELECT payload FROM outbox_events WHERE id = $1`, id).Scan(&payload)
	if err != nil {
		if isNoRows(err) {
			return outbox.Event{}, false, nil
		}
		return outbox.Event{}, false, fmt.Errorf("read outbox event %s: %w", id, err)
	}
	e, err := outbox.Decode([]byte(payload))
	if err != nil {
		return outbox.Event{}, false, err
	}
	return e, true, nil
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
