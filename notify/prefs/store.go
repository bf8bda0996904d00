package prefs

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"hqconnect/internal/store"
)

// Store reads and writes preferences (tables notification_prefs and
// quiet_hours).
type Store struct {
	db *store.DB
}

// NewStore returns a Store on db.
func NewStore(db *store.DB) *Store { return &Store{db: db} }

// maxIn bounds the ids bound in one IN list.
const maxIn = 500

// Get returns userID's preferences (the zero Prefs when none were saved).
func (s *Store) Get(ctx context.Context, userID string) (Prefs, error) {
	m, err := s.ForUsers(ctx, []string{userID})
	if err != nil {
		return Prefs{}, err
	}
	return m[userID], nil
}

// ForUsers returns the saved preferences of userIDs, in one query per 500
// users; users without any are absent from the map (their zero Prefs push
// everything).
func (s *Store) ForUsers(ctx context.Context, userIDs []string) (map[string]Prefs, error) {
	out := make(map[string]Prefs)
	for start := 0; start < len(userIDs); start += maxIn {
		chunk := userIDs[start:min(start+maxIn, len(userIDs))]
		if err := s.forUsers(ctx, chunk, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (s *Store) forUsers(ctx context.Context, userIDs []string, out map[string]Prefs) error {
	in, args := store.InList(1, userIDs)
	// One round trip for both tables: category rows (kind 'c') and the
	// quiet-hours row (kind 'q') in a common shape.
	q := `SELECT user_id, 'c', category, push_enabled, 0, 0, '' FROM notification_prefs WHERE user_id IN (` + in + `)
UNION ALL
SELECT user_id, 'q', '', enabled, start_minute, end_minute, time_zone FROM quiet_hours WHERE user_id IN (` + in + `)`
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("read notification preferences: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			userID, kind, category, zone string
			flag                         bool
			start, end                   int
		)
		if err := rows.Scan(&userID, &kind, &category, &flag, &start, &end, &zone); err != nil {
			return fmt.Errorf("read notification preferences: %w", err)
		}
		p := out[userID]
		if kind == "c" {
			if !flag {
				if p.Disabled == nil {
					p.Disabled = map[string]bool{}
				}
				p.Disabled[category] = true
			}
		} else {
			p.Quiet = QuietHours{Enabled: flag, StartMinute: start, EndMinute: end, TimeZone: zone}
		}
		out[userID] = p
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read notification preferences: %w", err)
	}
	return nil
}

// Put replaces userID's preferences after validating them. q should be a
// transaction so that the replacement is atomic; with nil, Put runs its own.
func (s *Store) Put(ctx context.Context, q store.Queryer, userID string, p Prefs) error {
	if err := p.Validate(); err != nil {
		return err
	}
	if q == nil {
		return s.db.Tx(ctx, func(tx *sql.Tx) error { return s.put(ctx, tx, userID, p) })
	}
	return s.put(ctx, q, userID, p)
}

func (s *Store) put(ctx context.Context, q store.Queryer, userID string, p Prefs) error {
	if _, err := q.ExecContext(ctx, `DELETE FROM notification_prefs WHERE user_id = $1`, userID); err != nil {
		return fmt.Errorf("replace notification preferences: %w", err)
	}
	var vals []string
	args := []any{userID}
	for _, c := range Categories { // a stable order; only switched-off categories are stored
		if p.Disabled[c] {
			args = append(args, c)
			vals = append(vals, fmt.Sprintf("($1, $%d, $%d)", len(args), len(args)+1))
			args = append(args, false)
		}
	}
	if len(vals) > 0 {
		if _, err := q.ExecContext(ctx,
			`INSERT INTO notification_prefs (user_id, category, push_enabled) VALUES `+strings.Join(vals, ", "),
			args...); err != nil {
			return fmt.Errorf("replace notification preferences: %w", err)
		}
	}
	qh := p.Quiet
	if _, err := q.ExecContext(ctx, `INSERT INTO quiet_hours (user_id, enabled, start_minute, end_minute, time_zone)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (user_id) DO UPDATE SET enabled = excluded.enabled, start_minute = excluded.start_minute,
    end_minute = excluded.end_minute, time_zone = excluded.time_zone`,
		userID, qh.Enabled, qh.StartMinute, qh.EndMinute, qh.TimeZone); err != nil {
		return fmt.Errorf("save quiet hours: %w", err)
	}
	return nil
}
