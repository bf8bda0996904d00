package faq

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

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
	return ftsIndex{stats: newTermStats()}
}

// ftsIndex is SQLite FTS5, ranked by BM25 computed here: a question match
// weighs ten answer matches. FTS5's own bm25() counts the entries of every
// query term on each call (its IDF), which for an everyday word ("hải quan")
// means walking most of the index however few rows are wanted; here the
// counts come from termStats, read once per term every few minutes.
type ftsIndex struct{ stats *termStats }

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
		b.WriteString(ftsTerm(t, m.Prefix && i == len(m.Terms)-1))
	}
	return b.String()
}

func ftsTerm(t string, prefix bool) string {
	q := `"` + strings.ReplaceAll(t, `"`, `""`) + `"`
	if prefix {
		q += "*"
	}
	return q
}

// maxRanked bounds the matches one query ranks. A query made only of
// everyday words ("hải quan", "hàng hóa") matches most entries, and ranking
// all of them costs a scoring pass over tens of thousands of rows; so the
// newest maxRanked matches (on SQLite; on PostgreSQL the first maxRanked the
// index yields) are ranked, and a query that matches fewer — any query with a
// distinctive word — is ranked exactly. Paging goes as deep (maxDepth).
const maxRanked = 500

// The candidates: the newest maxRanked matches with their terms; FTS5 walks
// the doclists newest first and stops there.
const (
	ftsCandidates = `SELECT rowid, question, answer FROM faq_fts
		WHERE faq_fts MATCH $1 ORDER BY rowid DESC LIMIT $2`
	ftsCandidatesCategory = `SELECT f.rowid, f.question, f.answer
		FROM faq_fts f JOIN faq_entries c ON c.doc = f.rowid
		WHERE faq_fts MATCH $1 AND c.category_id = $3 ORDER BY f.rowid DESC LIMIT $2`
)

type candidate struct {
	doc   int64
	q, a  []string
	score float64
}

func (x ftsIndex) find(ctx context.Context, q store.Queryer, m match, categoryID string, limit, offset int) ([]hit, error) {
	query, args := ftsCandidates, []any{ftsQuery(m), maxRanked}
	if categoryID != "" {
		query, args = ftsCandidatesCategory, append(args, categoryID)
	}
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("search faq entries: %w", err)
	}
	var cands []*candidate
	var sumQ, sumA int
	for rows.Next() {
		var c candidate
		var qt, at string
		if err := rows.Scan(&c.doc, &qt, &at); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read faq match: %w", err)
		}
		c.q, c.a = strings.Fields(qt), strings.Fields(at)
		sumQ, sumA = sumQ+len(c.q), sumA+len(c.a)
		cands = append(cands, &c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("search faq entries: %w", err)
	}
	if offset >= len(cands) {
		return nil, nil
	}
	n, err := x.stats.total(ctx, q)
	if err != nil {
		return nil, err
	}
	idf := make([]float64, len(m.Terms))
	for i, t := range m.Terms {
		df, err := x.stats.docs(ctx, q, ftsTerm(t, m.Prefix && i == len(m.Terms)-1))
		if err != nil {
			return nil, err
		}
		idf[i] = math.Log(1 + (float64(n)-float64(df)+0.5)/(float64(df)+0.5))
	}
	avgQ, avgA := float64(sumQ)/float64(len(cands)), float64(sumA)/float64(len(cands))
	for _, c := range cands {
		for i, t := range m.Terms {
			prefix := m.Prefix && i == len(m.Terms)-1
			c.score += idf[i] * (10*bm25TF(count(c.q, t, prefix), len(c.q), avgQ) + bm25TF(count(c.a, t, prefix), len(c.a), avgA))
		}
	}
	slices.SortFunc(cands, func(a, b *candidate) int {
		if a.score != b.score {
			return cmp.Compare(b.score, a.score)
		}
		return cmp.Compare(a.doc, b.doc)
	})
	cands = cands[offset:min(len(cands), offset+limit)]
	docs := make([]string, len(cands))
	for i, c := range cands {
		docs[i] = strconv.FormatInt(c.doc, 10)
	}
	in, inArgs := store.InList(1, docs)
	erows, err := q.QueryContext(ctx, `SELECT `+entryColumnsE+`, e.doc FROM faq_entries e WHERE e.doc IN (`+in+`)`, inArgs...)
	if err != nil {
		return nil, fmt.Errorf("read faq entries: %w", err)
	}
	defer erows.Close()
	byDoc := map[int64]*entryRow{}
	for erows.Next() {
		var doc int64
		e, err := scanEntry(erows, &doc)
		if err != nil {
			return nil, fmt.Errorf("read faq entry: %w", err)
		}
		byDoc[doc] = e
	}
	if err := erows.Err(); err != nil {
		return nil, fmt.Errorf("read faq entries: %w", err)
	}
	out := make([]hit, 0, len(cands))
	for _, c := range cands {
		if e := byDoc[c.doc]; e != nil {
			out = append(out, hit{entry: e, score: c.score})
		}
	}
	return out, nil
}

// bm25TF is BM25's term-frequency part (k1 = 1.2, b = 0.75).
func bm25TF(tf, length int, avg float64) float64 {
	if tf == 0 {
		return 0
	}
	const k1, b = 1.2, 0.75
	f := float64(tf)
	return f * (k1 + 1) / (f + k1*(1-b+b*float64(length)/max(avg, 1)))
}

func count(terms []string, t string, prefix bool) int {
	n := 0
	for _, w := range terms {
		if w == t || prefix && strings.HasPrefix(w, t) {
			n++
		}
	}
	return n
}

// termStats caches how many published entries the index holds and how many
// contain a term, for the IDF. Counts a few minutes old rank just as well;
// each instance keeps its own.
type termStats struct {
	mu    sync.Mutex
	n     int
	nAt   time.Time
	df    map[string]int
	dfAt  map[string]time.Time
	clock func() time.Time
}

const statsTTL = 5 * time.Minute

func newTermStats() *termStats {
	return &termStats{df: map[string]int{}, dfAt: map[string]time.Time{}, clock: time.Now}
}

func (s *termStats) total(ctx context.Context, q store.Queryer) (int, error) {
	s.mu.Lock()
	n, at := s.n, s.nAt
	s.mu.Unlock()
	if !at.IsZero() && s.clock().Sub(at) < statsTTL {
		return n, nil
	}
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM faq_fts`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count faq entries: %w", err)
	}
	s.mu.Lock()
	s.n, s.nAt = n, s.clock()
	s.mu.Unlock()
	return n, nil
}

func (s *termStats) docs(ctx context.Context, q store.Queryer, term string) (int, error) {
	s.mu.Lock()
	n, ok := s.df[term]
	at := s.dfAt[term]
	s.mu.Unlock()
	if ok && s.clock().Sub(at) < statsTTL {
		return n, nil
	}
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM faq_fts WHERE faq_fts MATCH $1`, term).Scan(&n); err != nil {
		return 0, fmt.Errorf("count faq term: %w", err)
	}
	s.mu.Lock()
	if len(s.df) > 50_000 { // a bound against odd queries; common terms come back at once
		clear(s.df)
		clear(s.dfAt)
	}
	s.df[term], s.dfAt[term] = n, s.clock()
	s.mu.Unlock()
	return n, nil
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
	// Planned for its query each time (an unnamed statement): a cached
	// prepared statement soon gets PostgreSQL's generic plan, which cannot
	// see how rare the words are and scans the whole table for a rare one.
	query, args := pgFind, []any{pgx.QueryExecModeCacheDescribe, tsQuery(m), limit, offset, maxRanked}
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
