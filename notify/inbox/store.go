package inbox

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"hqconnect/internal/errs"
	"hqconnect/internal/store"
)

// ErrNotFound is returned by Get for an item that does not exist or that the
// viewer may not see.
var ErrNotFound = errs.New(errs.NotFound, "notification not found", "không tìm thấy thông báo")

// Store reads and writes the inbox_items, broadcasts and broadcast_reads
// tables.
//
// A viewer's inbox is their personal items merged with the broadcasts of
// their audiences (Viewer.Audiences), newest first by id. Broadcasts have no
// row per user: read state is a broadcast_reads row per user who read one.
// Broadcasts published before the viewer's account existed are shown too
// (simpler, and a new user sees the notices in force).
type Store struct {
	db  *store.DB
	now func() time.Time
}

// NewStore returns a Store on db.
func NewStore(db *store.DB) *Store { return &Store{db: db, now: store.Now} }

// Limits on a page.
const (
	DefaultLimit = 50
	MaxLimit     = 1000
	// maxIn bounds the values bound in one IN list.
	maxIn = 500
)

// paramBudget is how many parameters one statement binds at most: SQLite
// (modernc) binds in time quadratic in their number, PostgreSQL takes up
// to 65,535 at no such cost.
func paramBudget(db *store.DB) int {
	if db.Dialect == store.SQLite {
		return 1000
	}
	return 20000
}

const personalColumns = `id, user_id, event_id, category, title_vi, title_en, body_vi, body_en, entity_kind, entity_id, create_time, read_time`

// AddPersonal inserts items (one per user and event; ids are the caller's)
// and returns the stored item of each (user, event) pair, in the order of
// items: an item already stored keeps its id, so re-delivering an event
// republishes the same ids.
func (s *Store) AddPersonal(ctx context.Context, q store.Queryer, items []Item) ([]Item, error) {
	if q == nil {
		q = s.db
	}
	if len(items) == 0 {
		return nil, nil
	}
	const cols = 11
	rowsPer := paramBudget(s.db) / cols
	now := s.now()
	inserted := 0
	for start := 0; start < len(items); start += rowsPer {
		chunk := items[start:min(start+rowsPer, len(items))]
		var b strings.Builder
		b.WriteString(`INSERT INTO inbox_items (id, user_id, event_id, category, title_vi, title_en, body_vi, body_en, entity_kind, entity_id, create_time) VALUES `)
		args := make([]any, 0, len(chunk)*cols)
		for i, it := range chunk {
			if it.ID == "" || it.UserID == "" || it.EventID == "" {
				return nil, fmt.Errorf("add inbox items: item %d needs an id, a user and an event", start+i)
			}
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('(')
			for c := range cols {
				if c > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(&b, "$%d", i*cols+c+1)
			}
			b.WriteByte(')')
			ct := it.CreateTime
			if ct.IsZero() {
				ct = now
			}
			args = append(args, it.ID, it.UserID, it.EventID, it.Category, it.TitleVI, it.TitleEN,
				it.BodyVI, it.BodyEN, it.EntityKind, it.EntityID, ct.UTC())
		}
		b.WriteString(` ON CONFLICT (user_id, event_id) DO NOTHING RETURNING id`)
		n, err := countRows(ctx, q, b.String(), args...)
		if err != nil {
			return nil, fmt.Errorf("add inbox items: %w", err)
		}
		inserted += n
	}
	if inserted == len(items) {
		// The common case, a first delivery: every row is new and stored as
		// given, so there is nothing to read back.
		out := make([]Item, len(items))
		for i, it := range items {
			if it.CreateTime.IsZero() {
				it.CreateTime = now
			}
			it.CreateTime = it.CreateTime.UTC().Truncate(time.Microsecond)
			out[i] = it
		}
		return out, nil
	}

	// Read back what is stored for each (user, event), new or not.
	byEvent := map[string][]string{}
	var events []string
	for _, it := range items {
		if _, ok := byEvent[it.EventID]; !ok {
			events = append(events, it.EventID)
		}
		byEvent[it.EventID] = append(byEvent[it.EventID], it.UserID)
	}
	stored := make(map[[2]string]Item, len(items))
	for _, ev := range events {
		users := byEvent[ev]
		for start := 0; start < len(users); start += maxIn {
			chunk := users[start:min(start+maxIn, len(users))]
			in, args := store.InList(2, chunk)
			got, err := s.scanPersonal(ctx, q, `SELECT `+personalColumns+` FROM inbox_items WHERE event_id = $1 AND user_id IN (`+in+`)`,
				append([]any{ev}, args...)...)
			if err != nil {
				return nil, fmt.Errorf("add inbox items: %w", err)
			}
			for _, it := range got {
				stored[[2]string{it.UserID, it.EventID}] = it
			}
		}
	}
	out := make([]Item, 0, len(items))
	for _, it := range items {
		st, ok := stored[[2]string{it.UserID, it.EventID}]
		if !ok {
			return nil, fmt.Errorf("add inbox items: item of user %s for event %s vanished", it.UserID, it.EventID)
		}
		out = append(out, st)
	}
	return out, nil
}

// ForEvent returns userID's item for eventID.
func (s *Store) ForEvent(ctx context.Context, userID, eventID string) (Item, error) {
	got, err := s.scanPersonal(ctx, s.db, `SELECT `+personalColumns+` FROM inbox_items WHERE user_id = $1 AND event_id = $2`, userID, eventID)
	if err != nil {
		return Item{}, fmt.Errorf("read inbox item: %w", err)
	}
	if len(got) == 0 {
		return Item{}, ErrNotFound
	}
	return got[0], nil
}

func (s *Store) scanPersonal(ctx context.Context, q store.Queryer, query string, args ...any) ([]Item, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Item
	for rows.Next() {
		var it Item
		var read sql.NullTime
		if err := rows.Scan(&it.ID, &it.UserID, &it.EventID, &it.Category, &it.TitleVI, &it.TitleEN,
			&it.BodyVI, &it.BodyEN, &it.EntityKind, &it.EntityID, &it.CreateTime, &read); err != nil {
			return nil, err
		}
		it.CreateTime = it.CreateTime.UTC()
		if read.Valid {
			it.ReadTime = read.Time.UTC()
		}
		out = append(out, it)
	}
	return out, rows.Err()
}

const broadcastColumns = `id, event_id, audience, audience_id, category, title_vi, title_en, body_vi, body_en, entity_kind, entity_id, create_time`

// AddBroadcast stores one broadcast item for it.Audience (and
// it.AudienceID), once per event: a second call for the same event returns
// the first one's item.
func (s *Store) AddBroadcast(ctx context.Context, q store.Queryer, it Item) (Item, error) {
	if q == nil {
		q = s.db
	}
	if it.ID == "" || it.EventID == "" || it.Audience == "" {
		return Item{}, fmt.Errorf("add broadcast: an id, an event and an audience are required")
	}
	ct := it.CreateTime
	if ct.IsZero() {
		ct = s.now()
	}
	if _, err := q.ExecContext(ctx, `INSERT INTO broadcasts (`+broadcastColumns+`)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
ON CONFLICT (event_id) DO NOTHING`,
		it.ID, it.EventID, it.Audience, it.AudienceID, it.Category, it.TitleVI, it.TitleEN,
		it.BodyVI, it.BodyEN, it.EntityKind, it.EntityID, ct.UTC()); err != nil {
		return Item{}, fmt.Errorf("add broadcast: %w", err)
	}
	var st Item
	err := q.QueryRowContext(ctx, `SELECT `+broadcastColumns+` FROM broadcasts WHERE event_id = $1`, it.EventID).
		Scan(&st.ID, &st.EventID, &st.Audience, &st.AudienceID, &st.Category, &st.TitleVI, &st.TitleEN,
			&st.BodyVI, &st.BodyEN, &st.EntityKind, &st.EntityID, &st.CreateTime)
	if err != nil {
		return Item{}, fmt.Errorf("add broadcast: %w", err)
	}
	st.CreateTime = st.CreateTime.UTC()
	st.Broadcast = true
	return st, nil
}

// query is one keyset read of a viewer's merged inbox.
type query struct {
	unreadOnly bool
	cursor     string // exclusive bound on id; "" for none
	ascending  bool
	limit      int
}

// List returns a page of v's inbox, newest first: items older than beforeID
// (all when empty), only unread ones when unreadOnly, at most limit
// (DefaultLimit when ≤ 0, at most MaxLimit). The next page starts before the
// last item's id.
func (s *Store) List(ctx context.Context, v Viewer, unreadOnly bool, beforeID string, limit int) ([]Item, error) {
	return s.read(ctx, v, query{unreadOnly: unreadOnly, cursor: beforeID, limit: limit})
}

// After returns v's items newer than afterID (all when empty), oldest first,
// at most limit: WatchUpdates replays them before going live.
func (s *Store) After(ctx context.Context, v Viewer, afterID string, limit int) ([]Item, error) {
	return s.read(ctx, v, query{cursor: afterID, ascending: true, limit: limit})
}

// read runs a merged keyset query: the personal items and the broadcasts,
// each an indexed keyset query limited to the page size, merged by id in a
// UNION ALL whose outer ORDER BY … LIMIT keeps the page.
//
// Parameters: $1 viewer, $2 now (broadcast expiry), $3 limit, then the
// cursor if any, then the audience pairs.
func (s *Store) read(ctx context.Context, v Viewer, q query) ([]Item, error) {
	if v.UserID == "" {
		return nil, fmt.Errorf("read inbox: no viewer")
	}
	limit := q.limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)
	order, cmp := "DESC", "<"
	if q.ascending {
		order, cmp = "ASC", ">"
	}
	args := []any{v.UserID, s.now().UTC(), limit}
	if q.cursor != "" {
		args = append(args, q.cursor)
	}
	aud, args := audienceFilter("b", v, args)

	var p, bc strings.Builder
	p.WriteString(`SELECT i.id, i.user_id, i.event_id, i.category, i.title_vi, i.title_en, i.body_vi, i.body_en,
    i.entity_kind, i.entity_id, i.create_time, i.read_time, '' AS audience, '' AS audience_id
FROM inbox_items i WHERE i.user_id = $1`)
	bc.WriteString(`SELECT b.id, '' AS user_id, b.event_id, b.category, b.title_vi, b.title_en, b.body_vi, b.body_en,
    b.entity_kind, b.entity_id, b.create_time, r.read_time, b.audience, b.audience_id
FROM broadcasts b LEFT JOIN broadcast_reads r ON r.user_id = $1 AND r.broadcast_id = b.id
WHERE (` + aud + `) AND (b.expire_time IS NULL OR b.expire_time > $2)`)
	if q.unreadOnly {
		p.WriteString(` AND i.read_time IS NULL`)
		bc.WriteString(` AND r.read_time IS NULL`)
	}
	if q.cursor != "" {
		p.WriteString(` AND i.id ` + cmp + ` $4`)
		bc.WriteString(` AND b.id ` + cmp + ` $4`)
	}
	p.WriteString(` ORDER BY i.id ` + order + ` LIMIT $3`)
	bc.WriteString(` ORDER BY b.id ` + order + ` LIMIT $3`)
	sqlText := `SELECT * FROM (` + p.String() + `) p UNION ALL SELECT * FROM (` + bc.String() + `) b ORDER BY id ` + order + ` LIMIT $3`

	rows, err := s.db.QueryContext(ctx, sqlText, args...)
	if err != nil {
		return nil, fmt.Errorf("read inbox: %w", err)
	}
	defer rows.Close()
	out := make([]Item, 0, min(limit, 64))
	for rows.Next() {
		var it Item
		var read sql.NullTime
		if err := rows.Scan(&it.ID, &it.UserID, &it.EventID, &it.Category, &it.TitleVI, &it.TitleEN,
			&it.BodyVI, &it.BodyEN, &it.EntityKind, &it.EntityID, &it.CreateTime, &read,
			&it.Audience, &it.AudienceID); err != nil {
			return nil, fmt.Errorf("read inbox: %w", err)
		}
		it.CreateTime = it.CreateTime.UTC()
		if read.Valid {
			it.ReadTime = read.Time.UTC()
		}
		it.Broadcast = it.Audience != ""
		out = append(out, it)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read inbox: %w", err)
	}
	return out, nil
}

// audienceFilter returns the condition matching alias's broadcasts to v's
// audiences, with their values appended to args.
func audienceFilter(alias string, v Viewer, args []any) (string, []any) {
	var b strings.Builder
	for i, a := range v.Audiences() {
		if i > 0 {
			b.WriteString(" OR ")
		}
		fmt.Fprintf(&b, "(%s.audience = $%d AND %s.audience_id = $%d)", alias, len(args)+1, alias, len(args)+2)
		args = append(args, a[0], a[1])
	}
	return b.String(), args
}

// Get returns item id if v may see it: their own personal item or a
// broadcast to one of their audiences.
func (s *Store) Get(ctx context.Context, v Viewer, id string) (Item, error) {
	got, err := s.scanPersonal(ctx, s.db, `SELECT `+personalColumns+` FROM inbox_items WHERE id = $1 AND user_id = $2`, id, v.UserID)
	if err != nil {
		return Item{}, fmt.Errorf("read inbox item: %w", err)
	}
	if len(got) > 0 {
		return got[0], nil
	}
	args := []any{id, v.UserID, s.now().UTC()}
	aud, args := audienceFilter("b", v, args)
	var it Item
	var read sql.NullTime
	err = s.db.QueryRowContext(ctx, `SELECT b.id, b.event_id, b.audience, b.audience_id, b.category, b.title_vi, b.title_en,
    b.body_vi, b.body_en, b.entity_kind, b.entity_id, b.create_time, r.read_time
FROM broadcasts b LEFT JOIN broadcast_reads r ON r.user_id = $2 AND r.broadcast_id = b.id
WHERE b.id = $1 AND (`+aud+`) AND (b.expire_time IS NULL OR b.expire_time > $3)`, args...).
		Scan(&it.ID, &it.EventID, &it.Audience, &it.AudienceID, &it.Category, &it.TitleVI, &it.TitleEN,
			&it.BodyVI, &it.BodyEN, &it.EntityKind, &it.EntityID, &it.CreateTime, &read)
	if store.IsNoRows(err) {
		return Item{}, ErrNotFound
	}
	if err != nil {
		return Item{}, fmt.Errorf("read inbox item: %w", err)
	}
	it.CreateTime = it.CreateTime.UTC()
	if read.Valid {
		it.ReadTime = read.Time.UTC()
	}
	it.Broadcast = true
	return it, nil
}

// MarkRead marks v's items ids read (every item when all) and returns how
// many became read. Ids of items v may not see — another user's personal
// items, broadcasts to other audiences — are not counted and not touched.
func (s *Store) MarkRead(ctx context.Context, v Viewer, ids []string, all bool) (int, error) {
	if v.UserID == "" {
		return 0, fmt.Errorf("mark read: no viewer")
	}
	if !all {
		ids = dedupe(ids)
		if len(ids) == 0 {
			return 0, nil
		}
	}
	now := s.now().UTC()
	total := 0
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		total = 0
		mark := func(chunk []string) error {
			// Personal items: only the viewer's own rows.
			q := `UPDATE inbox_items SET read_time = $2 WHERE user_id = $1 AND read_time IS NULL`
			args := []any{v.UserID, now}
			var in string
			if chunk != nil {
				in, args = appendIn(args, chunk)
				q += ` AND id IN (` + in + `)`
			}
			n, err := affected(tx.ExecContext(ctx, q, args...))
			if err != nil {
				return err
			}
			total += n
			// Broadcasts: a read row per broadcast the viewer's audiences see.
			args = []any{v.UserID, now}
			aud, args := audienceFilter("b", v, args)
			q = `INSERT INTO broadcast_reads (broadcast_id, user_id, read_time)
SELECT b.id, $1, $2 FROM broadcasts b
WHERE (` + aud + `) AND (b.expire_time IS NULL OR b.expire_time > $2)`
			if chunk != nil {
				in, args = appendIn(args, chunk)
				q += ` AND b.id IN (` + in + `)`
			}
			q += ` ON CONFLICT (user_id, broadcast_id) DO NOTHING`
			n, err = affected(tx.ExecContext(ctx, q, args...))
			if err != nil {
				return err
			}
			total += n
			return nil
		}
		if all {
			return mark(nil)
		}
		for start := 0; start < len(ids); start += maxIn {
			if err := mark(ids[start:min(start+maxIn, len(ids))]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("mark read: %w", err)
	}
	return total, nil
}

// UnreadCount counts v's unread personal items and unread broadcasts.
func (s *Store) UnreadCount(ctx context.Context, v Viewer) (int, error) {
	args := []any{v.UserID, s.now().UTC()}
	aud, args := audienceFilter("b", v, args)
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT
    (SELECT COUNT(*) FROM inbox_items WHERE user_id = $1 AND read_time IS NULL) +
    (SELECT COUNT(*) FROM broadcasts b WHERE (`+aud+`) AND (b.expire_time IS NULL OR b.expire_time > $2)
        AND NOT EXISTS (SELECT 1 FROM broadcast_reads r WHERE r.user_id = $1 AND r.broadcast_id = b.id))`,
		args...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count unread: %w", err)
	}
	return n, nil
}

func affected(res sql.Result, err error) (int, error) {
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// appendIn appends vals to args and returns their placeholders.
func appendIn(args []any, vals []string) (string, []any) {
	in, more := store.InList(len(args)+1, vals)
	return in, append(args, more...)
}

func dedupe(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > 0 && out[0] == "" {
		out = out[1:]
	}
	return out
}

// countRows runs a statement with a RETURNING clause and counts its rows.
func countRows(ctx context.Context, q store.Queryer, query string, args ...any) (int, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		n++
	}
	return n, rows.Err()
}
