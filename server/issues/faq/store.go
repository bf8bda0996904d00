package faq

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"hqconnect/internal/store"
)

// The SQL of faq_entries, and the reads of the issue tables PublishFaq needs
// (this package reads issues, issue_answers and enterprises directly rather
// than importing the issue lifecycle: the same capability, no import cycle).

const (
	statusPublished = "PUBLISHED"
	statusWithdrawn = "WITHDRAWN"
)

// entryRow is one faq_entries row.
type entryRow struct {
	ID             string
	SourceIssueID  string // "" when not from an issue
	CategoryID     string
	UnitID         string // "" when none
	Question       string
	Answer         string
	LegalReference string
	Status         string
	PublishTime    time.Time
	UpdateTime     time.Time
}

// entryColumnsE are the columns scanEntry reads, of the alias e.
const entryColumnsE = `e.id, e.source_issue_id, e.category_id, e.unit_id, e.question, e.answer,
	e.legal_reference, e.status, e.publish_time, e.update_time`

// scanEntry reads entryColumnsE and then extra.
func scanEntry(row interface{ Scan(...any) error }, extra ...any) (*entryRow, error) {
	var e entryRow
	var source, unit sql.NullString
	dst := append([]any{&e.ID, &source, &e.CategoryID, &unit, &e.Question, &e.Answer,
		&e.LegalReference, &e.Status, &e.PublishTime, &e.UpdateTime}, extra...)
	if err := row.Scan(dst...); err != nil {
		return nil, err
	}
	e.SourceIssueID, e.UnitID = source.String, unit.String
	e.PublishTime, e.UpdateTime = e.PublishTime.UTC(), e.UpdateTime.UTC()
	return &e, nil
}

func entryByID(ctx context.Context, q store.Queryer, id string) (*entryRow, error) {
	return scanEntry(q.QueryRowContext(ctx, `SELECT `+entryColumnsE+` FROM faq_entries e WHERE e.id = $1`, id))
}

func entryByIssue(ctx context.Context, q store.Queryer, issueID string) (*entryRow, error) {
	return scanEntry(q.QueryRowContext(ctx, `SELECT `+entryColumnsE+` FROM faq_entries e WHERE e.source_issue_id = $1`, issueID))
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func insertEntry(ctx context.Context, q store.Queryer, e *entryRow, by string) error {
	_, err := q.ExecContext(ctx, `INSERT INTO faq_entries
		(id, source_issue_id, category_id, unit_id, question, answer, legal_reference, status,
		 question_terms, answer_terms, published_by, publish_time, update_time)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)`,
		e.ID, nullable(e.SourceIssueID), e.CategoryID, nullable(e.UnitID), e.Question, e.Answer, e.LegalReference,
		e.Status, indexTerms(e.Question), indexTerms(e.Answer, e.LegalReference), by, e.PublishTime)
	if err != nil {
		return fmt.Errorf("insert faq entry: %w", err)
	}
	return nil
}

// updateEntry writes e's text, category and status (a republished entry
// gets a new publish_time; the index follows in the same transaction).
func updateEntry(ctx context.Context, q store.Queryer, e *entryRow, by string) error {
	var withdrawn any
	if e.Status == statusWithdrawn {
		withdrawn = e.UpdateTime
	}
	_, err := q.ExecContext(ctx, `UPDATE faq_entries SET category_id = $2, unit_id = $3, question = $4, answer = $5,
		legal_reference = $6, status = $7, question_terms = $8, answer_terms = $9, updated_by = $10,
		publish_time = $11, update_time = $12, withdraw_time = $13 WHERE id = $1`,
		e.ID, e.CategoryID, nullable(e.UnitID), e.Question, e.Answer, e.LegalReference, e.Status,
		indexTerms(e.Question), indexTerms(e.Answer, e.LegalReference), by, e.PublishTime, e.UpdateTime, withdrawn)
	if err != nil {
		return fmt.Errorf("update faq entry: %w", err)
	}
	return nil
}

// issueRow is what publishing needs of an issue.
type issueRow struct {
	ID, EnterpriseID, CategoryID, UnitID, Status, DeclarationNumber string
	EnterpriseName, TaxCode                                         string
	// PublishedAnswer: the issue has an answer in state PUBLISHED.
	PublishedAnswer bool
}

func issueByID(ctx context.Context, q store.Queryer, id string) (*issueRow, error) {
	var r issueRow
	err := q.QueryRowContext(ctx, `SELECT i.id, i.enterprise_id, i.category_id, i.unit_id, i.status,
			i.declaration_number, en.name, en.tax_code,
			EXISTS (SELECT 1 FROM issue_answers a WHERE a.issue_id = i.id AND a.state = 'PUBLISHED')
		FROM issues i JOIN enterprises en ON en.id = i.enterprise_id WHERE i.id = $1`, id).
		Scan(&r.ID, &r.EnterpriseID, &r.CategoryID, &r.UnitID, &r.Status, &r.DeclarationNumber,
			&r.EnterpriseName, &r.TaxCode, &r.PublishedAnswer)
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// unitWithin reports whether unit is scope or a unit below it, walking up
// the org tree from unit (a handful of rows: team → branch → department).
func unitWithin(ctx context.Context, q store.Queryer, unit, scope string) (bool, error) {
	if unit == "" || scope == "" {
		return false, nil
	}
	if unit == scope {
		return true, nil
	}
	var n int
	err := q.QueryRowContext(ctx, `WITH RECURSIVE up (id, parent_id, depth) AS (
			SELECT id, parent_id, 0 FROM org_units WHERE id = $1
			UNION ALL
			SELECT o.id, o.parent_id, up.depth + 1 FROM org_units o JOIN up ON o.id = up.parent_id WHERE up.depth < 16
		) SELECT count(*) FROM up WHERE id = $2`, unit, scope).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("check org unit scope: %w", err)
	}
	return n > 0, nil
}

func categoryExists(ctx context.Context, q store.Queryer, id string) (bool, error) {
	var n int
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM issue_categories WHERE id = $1`, id).Scan(&n); err != nil {
		return false, fmt.Errorf("read issue category: %w", err)
	}
	return n > 0, nil
}

// IndexTerms is the text the search index keeps for an entry's question
// (IndexTerms(question)) or for its answer (IndexTerms(answer,
// legalReference)): the question_terms and answer_terms columns. For bulk
// loaders that write faq_entries directly, such as the benchmark, so they
// index exactly what PublishFaq would.
func IndexTerms(parts ...string) string { return indexTerms(parts...) }
