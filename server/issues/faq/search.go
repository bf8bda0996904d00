package faq

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"hqconnect/internal/store"
)

// index finds published entries for a match, best first. The SQL differs per
// database (FTS5 on SQLite, a tsvector on PostgreSQL); both index the same
// terms (indexTerms) and get the same match, quoted term by term so that no
// user input is ever read as query syntax.
type index interface {
	// find returns up to limit hits after skipping offset, optionally of one
	// category. Scores are higher for better hits.
	find(ctx context.Context, q store.Queryer, m match, categoryID string, limit, offset int) ([]hit, error)
}

type hit struct {
	entry *entryRow
	score float64
}

func indexFor(d store.Dialect) index {
	if d == store.Postgres {
		return pgIndex{}
	}
	return ftsIndex{}
}

// ftsIndex is SQLite FTS5 with bm25 ranking; a question match weighs ten
// answer matches. bm25 is lower for better hits, so it is negated.
type ftsIndex struct{}

// ftsQuery writes m in FTS5 query syntax: every term a string in double
// quotes (terms are letters and digits, but quotes are doubled all the same),
// the last one a prefix "term"* when typed so; terms joined by spaces (AND)
// or OR.
func ftsQuery(m match) string {
	var b strings.Builder
	for i, t := range m.Terms {
		if i > 0 {
			if m.Any {
				b.WriteString(" OR ")
			} else {
				b.WriteString(" ")
			}
		}
		b.WriteString(`"` + strings.ReplaceAll(t, `"`, `""`) + `"`)
		if m.Prefix && i == len(m.Terms)-1 {
			b.WriteString("*")
		}
	}
	return b.String()
}

// maxRanked bounds the matches one query ranks. A query made only of
// everyday words ("hải quan", "hàng hóa") matches most entries, and ranking
// all of them costs the database a scoring pass over tens of thousands of
// rows; so the newest maxRanked matches (on SQLite; on PostgreSQL the first
// maxRanked the index yields) are ranked, and a query that matches fewer —
// any query with a distinctive word — is ranked exactly. Deep paging
// (maxDepth) stays within it.
const maxRanked = 500

// The ranking runs on the FTS table alone and keeps only (doc, score) in
// its sorter; the entries' text is read for the page's rows only. The
// innermost query walks the matches newest first and stops at maxRanked,
// and bm25 is computed only for the rows it yields.
const (
	ftsFind = `SELECT ` + entryColumnsE + `, r.score FROM (
		SELECT doc, score FROM (
			SELECT rowid AS doc, -bm25(faq_fts, 10.0, 1.0) AS score FROM faq_fts
			WHERE faq_fts MATCH $1 ORDER BY rowid DESC LIMIT $4
		) ORDER BY score DESC, doc LIMIT $2 OFFSET $3
	) r JOIN faq_entries e ON e.doc = r.doc ORDER BY r.score DESC, r.doc`
	ftsFindCategory = `SELECT ` + entryColumnsE + `, r.score FROM (
		SELECT doc, score FROM (
			SELECT f.rowid AS doc, -bm25(faq_fts, 10.0, 1.0) AS score
			FROM faq_fts f JOIN faq_entries c ON c.doc = f.rowid
			WHERE faq_fts MATCH $1 AND c.category_id = $5 ORDER BY f.rowid DESC LIMIT $4
		) ORDER BY score DESC, doc LIMIT $2 OFFSET $3
	) r JOIN faq_entries e ON e.doc = r.doc ORDER BY r.score DESC, r.doc`
)

func (ftsIndex) find(ctx context.Context, q store.Queryer, m match, categoryID string, limit, offset int) ([]hit, error) {
	query, args := ftsFind, []any{ftsQuery(m), limit, offset, maxRanked}
	if categoryID != "" {
		query, args = ftsFindCategory, append(args, categoryID)
	}
	return scanHits(q.QueryContext(ctx, query, args...))
}

// pgIndex is a tsvector ('simple' configuration over the folded terms,
// question weighted A and answer B) with a GIN index, ranked by ts_rank with
// the weights {D, C, B, A} = {0.1, 0.1, 0.1, 1.0}: a question match weighs
// ten answer matches, as on SQLite.
type pgIndex struct{}

// tsQuery writes m in tsquery syntax: every term a quoted lexeme (” for a
// quote, \\ for a backslash), the last one a prefix 'term':* when typed so;
// joined by & (AND) or | (OR).
func tsQuery(m match) string {
	var b strings.Builder
	for i, t := range m.Terms {
		if i > 0 {
			if m.Any {
				b.WriteString(" | ")
			} else {
				b.WriteString(" & ")
			}
		}
		b.WriteString("'" + strings.NewReplacer(`\`, `\\`, `'`, `''`).Replace(t) + "'")
		if m.Prefix && i == len(m.Terms)-1 {
			b.WriteString(":*")
		}
	}
	return b.String()
}

// As on SQLite, ts_rank runs on at most maxRanked matches: the LIMIT
// without ORDER BY stops the bitmap heap scan early, and the target list
// (ts_rank) is evaluated only for the rows it yields.
const (
	pgFind = `SELECT ` + entryColumnsE + `, r.score FROM (
		SELECT id, score FROM (
			SELECT f.id, ts_rank('{0.1, 0.1, 0.1, 1.0}', f.search, q) AS score
			FROM faq_entries f, to_tsquery('simple', $1) q
			WHERE f.status = 'PUBLISHED' AND f.search @@ q LIMIT $4
		) c ORDER BY score DESC, id LIMIT $2 OFFSET $3
	) r JOIN faq_entries e ON e.id = r.id ORDER BY r.score DESC, r.id`
	pgFindCategory = `SELECT ` + entryColumnsE + `, r.score FROM (
		SELECT id, score FROM (
			SELECT f.id, ts_rank('{0.1, 0.1, 0.1, 1.0}', f.search, q) AS score
			FROM faq_entries f, to_tsquery('simple', $1) q
			WHERE f.status = 'PUBLISHED' AND f.search @@ q AND f.category_id = $5 LIMIT $4
		) c ORDER BY score DESC, id LIMIT $2 OFFSET $3
	) r JOIN faq_entries e ON e.id = r.id ORDER BY r.score DESC, r.id`
)

func (pgIndex) find(ctx context.Context, q store.Queryer, m match, categoryID string, limit, offset int) ([]hit, error) {
	query, args := pgFind, []any{tsQuery(m), limit, offset, maxRanked}
	if categoryID != "" {
		query, args = pgFindCategory, append(args, categoryID)
	}
	return scanHits(q.QueryContext(ctx, query, args...))
}

func scanHits(rows *sql.Rows, err error) ([]hit, error) {
	if err != nil {
		return nil, fmt.Errorf("search faq entries: %w", err)
	}
	defer rows.Close()
	var out []hit
	for rows.Next() {
		var h hit
		e, err := scanEntry(rows, &h.score)
		if err != nil {
			return nil, fmt.Errorf("read faq hit: %w", err)
		}
		h.entry = e
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("search faq entries: %w", err)
	}
	return out, nil
}
