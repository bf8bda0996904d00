package clearance

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"hqconnect/internal/store"
)

// Rows per multi-row statement: well under both databases' limits on
// parameters (PostgreSQL 65,535; SQLite 32,766).
const (
	chunkRows = 100
	inChunk   = 500
)

// loadStates returns the tax code and direction of the declarations among
// numbers that exist already.
func loadStates(ctx context.Context, q store.Queryer, numbers []string) (map[string]*declState, error) {
	out := make(map[string]*declState, len(numbers))
	for start := 0; start < len(numbers); start += inChunk {
		part := numbers[start:min(start+inChunk, len(numbers))]
		in, args := store.InList(1, part)
		rows, err := q.QueryContext(ctx,
			`SELECT number, tax_code, direction FROM declarations WHERE number IN (`+in+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("read declarations: %w", err)
		}
		for rows.Next() {
			st := &declState{}
			if err := rows.Scan(&st.Number, &st.TaxCode, &st.Direction); err != nil {
				rows.Close()
				return nil, fmt.Errorf("scan declaration: %w", err)
			}
			out[st.Number] = st
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read declarations: %w", err)
		}
	}
	return out, nil
}

// values returns "($1, …, $cols), ($cols+1, …), …" for rows rows.
func values(rows, cols int) string {
	var b strings.Builder
	n := 1
	for r := range rows {
		if r > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for c := range cols {
			if c > 0 {
				b.WriteString(", ")
			}
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			n++
		}
		b.WriteByte(')')
	}
	return b.String()
}

// insertEvents inserts events, skipping those recorded before, and returns
// the keys of those it inserted.
func insertEvents(ctx context.Context, q store.Queryer, events []event, keyID string, now time.Time) (map[eventKey]bool, error) {
	const cols = 10
	inserted := make(map[eventKey]bool, len(events))
	for start := 0; start < len(events); start += chunkRows {
		part := events[start:min(start+chunkRows, len(events))]
		args := make([]any, 0, len(part)*cols)
		for _, e := range part {
			args = append(args, e.Number, e.Seq, e.Kind, e.Time, e.Channel, e.Note, e.TypeCode, e.Office, keyID, now)
		}
		rows, err := q.QueryContext(ctx, `INSERT INTO declaration_events
			(number, sequence, kind, event_time, channel, note, type_code, customs_office, api_key_id, receive_time)
			VALUES `+values(len(part), cols)+`
			ON CONFLICT (number, sequence) DO NOTHING
			RETURNING number, sequence`, args...)
		if err != nil {
			return nil, fmt.Errorf("insert declaration events: %w", err)
		}
		for rows.Next() {
			var k eventKey
			if err := rows.Scan(&k.number, &k.seq); err != nil {
				rows.Close()
				return nil, fmt.Errorf("scan inserted event: %w", err)
			}
			inserted[k] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("insert declaration events: %w", err)
		}
	}
	return inserted, nil
}

// upsertSQL merges a batch's fold of new events into each declaration with
// the same rules as declState.apply, against the row as it is at that moment
// (so concurrent batches cannot move a status backwards).
const upsertSQL = ` ON CONFLICT (number) DO UPDATE SET
	type_code = CASE WHEN excluded.status_seq > declarations.status_seq THEN excluded.type_code ELSE declarations.type_code END,
	customs_office = CASE WHEN excluded.status_seq > declarations.status_seq THEN excluded.customs_office ELSE declarations.customs_office END,
	status = CASE WHEN excluded.status_seq > declarations.status_seq THEN excluded.status ELSE declarations.status END,
	status_time = CASE WHEN excluded.status_seq > declarations.status_seq THEN excluded.status_time ELSE declarations.status_time END,
	status_seq = CASE WHEN excluded.status_seq > declarations.status_seq THEN excluded.status_seq ELSE declarations.status_seq END,
	channel = CASE WHEN excluded.channel_seq > declarations.channel_seq THEN excluded.channel ELSE declarations.channel END,
	channel_seq = CASE WHEN excluded.channel_seq > declarations.channel_seq THEN excluded.channel_seq ELSE declarations.channel_seq END,
	register_time = CASE
		WHEN declarations.registered AND NOT excluded.registered THEN declarations.register_time
		WHEN excluded.registered AND NOT declarations.registered THEN excluded.register_time
		WHEN excluded.register_time < declarations.register_time THEN excluded.register_time
		ELSE declarations.register_time END,
	registered = (declarations.registered OR excluded.registered),
	clear_time = CASE
		WHEN declarations.clear_time IS NULL THEN excluded.clear_time
		WHEN excluded.clear_time IS NULL THEN declarations.clear_time
		WHEN excluded.clear_time < declarations.clear_time THEN excluded.clear_time
		ELSE declarations.clear_time END,
	update_time = excluded.update_time
RETURNING number, status_seq`

// upsertDeclarations merges states into the declarations table and returns
// each one's status sequence afterwards.
func upsertDeclarations(ctx context.Context, q store.Queryer, states []*declState, now time.Time) (map[string]int64, error) {
	const cols = 15
	current := make(map[string]int64, len(states))
	for start := 0; start < len(states); start += chunkRows {
		part := states[start:min(start+chunkRows, len(states))]
		args := make([]any, 0, len(part)*cols)
		for _, st := range part {
			var clearTime any
			if !st.ClearTime.IsZero() {
				clearTime = st.ClearTime
			}
			args = append(args, st.Number, st.TaxCode, st.TypeCode, st.Office, st.Direction,
				st.Status, st.StatusSeq, st.StatusTime, st.Channel, st.ChannelSeq,
				st.RegisterTime, st.Registered, clearTime, now, now)
		}
		rows, err := q.QueryContext(ctx, `INSERT INTO declarations
			(number, tax_code, type_code, customs_office, direction, status, status_seq, status_time, channel,
			 channel_seq, register_time, registered, clear_time, create_time, update_time)
			VALUES `+values(len(part), cols)+upsertSQL, args...)
		if err != nil {
			return nil, fmt.Errorf("upsert declarations: %w", err)
		}
		for rows.Next() {
			var n string
			var seq int64
			if err := rows.Scan(&n, &seq); err != nil {
				rows.Close()
				return nil, fmt.Errorf("scan declaration: %w", err)
			}
			current[n] = seq
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("upsert declarations: %w", err)
		}
	}
	return current, nil
}

// verifiedEnterprises maps the tax codes among taxCodes of verified
// enterprises to their ids.
func verifiedEnterprises(ctx context.Context, q store.Queryer, taxCodes []string) (map[string]string, error) {
	out := map[string]string{}
	uniq := make([]string, 0, len(taxCodes))
	seen := map[string]bool{}
	for _, tc := range taxCodes {
		if !seen[tc] {
			seen[tc] = true
			uniq = append(uniq, tc)
		}
	}
	for start := 0; start < len(uniq); start += inChunk {
		part := uniq[start:min(start+inChunk, len(uniq))]
		in, args := store.InList(1, part)
		rows, err := q.QueryContext(ctx,
			`SELECT id, tax_code FROM enterprises WHERE status = 'VERIFIED' AND tax_code IN (`+in+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("read enterprises: %w", err)
		}
		for rows.Next() {
			var id, tc string
			if err := rows.Scan(&id, &tc); err != nil {
				rows.Close()
				return nil, fmt.Errorf("scan enterprise: %w", err)
			}
			out[tc] = id
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read enterprises: %w", err)
		}
	}
	return out, nil
}
