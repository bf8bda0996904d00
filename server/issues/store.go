package issues

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"hqconnect/internal/errs"
	"hqconnect/internal/ids"
	"hqconnect/internal/store"
)

// The SQL of the issues, issue_messages, issue_answers and issue_counters
// tables. Every helper takes a store.Queryer so it runs inside the
// transaction of a change or on the database for a read.

// issueRow is one row of issues with the names the views need.
type issueRow struct {
	ID, Number, EnterpriseID, CreatedBy, RequestID, CategoryID, UnitID, AssigneeID string
	Status, Resume                                                                 Status
	Title, Body, DeclarationNumber                                                 string
	CreateTime, UpdateTime                                                         time.Time
	SLAMinutes, SLAUsedMinutes                                                     int64
	SLARunningSince, DueTime                                                       sql.NullTime
	SLARound                                                                       int
	SLAMet                                                                         sql.NullBool
	FirstResponseTime                                                              sql.NullTime
	FirstResponseMinutes                                                           sql.NullInt64
	ResolutionCount                                                                int
	CloseTime                                                                      sql.NullTime

	// Joined names.
	EnterpriseName, CreatedByName, AssigneeName string
}

// issueCols are the columns scanIssue reads, from issues i joined with the
// enterprise e, the creator c and the assignee a.
const issueCols = `i.id, i.number, i.enterprise_id, i.created_by, COALESCE(i.request_id, ''), i.category_id, i.unit_id,
	COALESCE(i.assignee_id, ''), i.status, COALESCE(i.resume_status, ''), i.title, i.body, i.declaration_number,
	i.create_time, i.update_time, i.sla_minutes, i.sla_used_minutes, i.sla_running_since, i.due_time, i.sla_round,
	i.sla_met, i.first_response_time, i.first_response_minutes, i.resolution_count, i.close_time,
	e.name, c.full_name, COALESCE(a.full_name, '')`

const issueFrom = ` FROM issues i
	JOIN enterprises e ON e.id = i.enterprise_id
	JOIN users c ON c.id = i.created_by
	LEFT JOIN users a ON a.id = i.assignee_id`

type scanner interface{ Scan(dest ...any) error }

func scanIssue(sc scanner) (*issueRow, error) {
	var r issueRow
	var status, resume string
	err := sc.Scan(&r.ID, &r.Number, &r.EnterpriseID, &r.CreatedBy, &r.RequestID, &r.CategoryID, &r.UnitID,
		&r.AssigneeID, &status, &resume, &r.Title, &r.Body, &r.DeclarationNumber,
		&r.CreateTime, &r.UpdateTime, &r.SLAMinutes, &r.SLAUsedMinutes, &r.SLARunningSince, &r.DueTime, &r.SLARound,
		&r.SLAMet, &r.FirstResponseTime, &r.FirstResponseMinutes, &r.ResolutionCount, &r.CloseTime,
		&r.EnterpriseName, &r.CreatedByName, &r.AssigneeName)
	if err != nil {
		return nil, err
	}
	r.Status, r.Resume = Status(status), Status(resume)
	return &r, nil
}

// getIssue reads one issue; store.ErrNoRows when there is none.
func getIssue(ctx context.Context, q store.Queryer, id string) (*issueRow, error) {
	r, err := scanIssue(q.QueryRowContext(ctx, `SELECT `+issueCols+issueFrom+` WHERE i.id = $1`, id))
	if err != nil {
		if store.IsNoRows(err) {
			return nil, err
		}
		return nil, fmt.Errorf("read issue: %w", err)
	}
	return r, nil
}

// issueByRequest finds the issue an enterprise created with request id.
func issueByRequest(ctx context.Context, q store.Queryer, enterpriseID, requestID string) (string, error) {
	var id string
	err := q.QueryRowContext(ctx, `SELECT id FROM issues WHERE enterprise_id = $1 AND request_id = $2`,
		enterpriseID, requestID).Scan(&id)
	if err != nil && !store.IsNoRows(err) {
		return "", fmt.Errorf("find issue by request id: %w", err)
	}
	return id, nil
}

// nextNumber takes the next issue number of year: VM-2026-000042.
func nextNumber(ctx context.Context, tx *sql.Tx, year int) (string, error) {
	var n int64
	err := tx.QueryRowContext(ctx, `INSERT INTO issue_counters (year, last) VALUES ($1, 1)
		ON CONFLICT (year) DO UPDATE SET last = issue_counters.last + 1
		RETURNING last`, year).Scan(&n)
	if err != nil {
		return "", fmt.Errorf("take issue number: %w", err)
	}
	return fmt.Sprintf("VM-%d-%06d", year, n), nil
}

func insertIssueRow(ctx context.Context, tx *sql.Tx, r *issueRow) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO issues (id, number, enterprise_id, created_by, request_id, category_id,
		unit_id, status, title, body, declaration_number, create_time, update_time, sla_minutes)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		r.ID, r.Number, r.EnterpriseID, r.CreatedBy, nullStr(r.RequestID), r.CategoryID,
		r.UnitID, string(r.Status), r.Title, r.Body, r.DeclarationNumber, r.CreateTime, r.UpdateTime, r.SLAMinutes)
	if err != nil {
		return fmt.Errorf("insert issue: %w", err)
	}
	return nil
}

// setState writes the lifecycle columns a transition changes: status, the
// status to come back to, unit and assignee. ok is false when the issue was
// no longer in from (a concurrent change won): the caller reports it.
func setState(ctx context.Context, tx *sql.Tx, r *issueRow, from Status, now time.Time) (bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE issues SET status = $1, resume_status = $2, unit_id = $3, assignee_id = $4,
		update_time = $5 WHERE id = $6 AND status = $7`,
		string(r.Status), nullStr(string(r.Resume)), r.UnitID, nullStr(r.AssigneeID), now, r.ID, string(from))
	if err != nil {
		return false, fmt.Errorf("update issue: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("update issue: %w", err)
	}
	r.UpdateTime = now
	return n == 1, nil
}

// errChanged answers a transition that lost a race with another one.
var errChanged = errs.New(errs.FailedPrecondition,
	"the issue changed while you were acting on it; read it again and retry",
	"vướng mắc vừa được thay đổi; hãy tải lại và thử lại")

// touch updates update_time for changes that keep the status (messages).
func touch(ctx context.Context, tx *sql.Tx, id string, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `UPDATE issues SET update_time = $1 WHERE id = $2`, now, id); err != nil {
		return fmt.Errorf("touch issue: %w", err)
	}
	return nil
}

// setFirstResponse records the first response to the enterprise, once.
func setFirstResponse(ctx context.Context, tx *sql.Tx, id string, at time.Time, minutes int64) error {
	if _, err := tx.ExecContext(ctx, `UPDATE issues SET first_response_time = $1, first_response_minutes = $2
		WHERE id = $3 AND first_response_time IS NULL`, at, minutes, id); err != nil {
		return fmt.Errorf("record first response: %w", err)
	}
	return nil
}

// messageRow is one thread entry.
type messageRow struct {
	ID, IssueID, AuthorID string
	Visibility            string // PUBLIC | INTERNAL
	Kind                  string // MESSAGE | INFORMATION_REQUEST | EVENT
	Body, BodyEN          string
	CreateTime            time.Time
	AuthorName            string
	AuthorOfficer         bool
}

const (
	visPublic   = "PUBLIC"
	visInternal = "INTERNAL"

	kindMessage  = "MESSAGE"
	kindInfoReq  = "INFORMATION_REQUEST"
	kindEvent    = "EVENT"
	answerPend   = "PENDING_APPROVAL"
	answerPub    = "PUBLISHED"
	answerReject = "REJECTED"
)

func insertMessage(ctx context.Context, tx *sql.Tx, m *messageRow) error {
	if m.ID == "" {
		m.ID = ids.New()
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO issue_messages (id, issue_id, author_id, visibility, kind, body, body_en, create_time)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		m.ID, m.IssueID, nullStr(m.AuthorID), m.Visibility, m.Kind, m.Body, m.BodyEN, m.CreateTime)
	if err != nil {
		return fmt.Errorf("insert issue message: %w", err)
	}
	return nil
}

// listMessages returns the thread oldest first, without INTERNAL entries
// unless internal.
func listMessages(ctx context.Context, q store.Queryer, issueID string, internal bool) ([]*messageRow, error) {
	query := `SELECT m.id, m.issue_id, COALESCE(m.author_id, ''), m.visibility, m.kind, m.body, m.body_en, m.create_time,
		COALESCE(u.full_name, ''), COALESCE(u.kind, '') FROM issue_messages m LEFT JOIN users u ON u.id = m.author_id
		WHERE m.issue_id = $1`
	if !internal {
		query += ` AND m.visibility = 'PUBLIC'`
	}
	rows, err := q.QueryContext(ctx, query+` ORDER BY m.id`, issueID)
	if err != nil {
		return nil, fmt.Errorf("list issue messages: %w", err)
	}
	defer rows.Close()
	var out []*messageRow
	for rows.Next() {
		var m messageRow
		var kind string
		if err := rows.Scan(&m.ID, &m.IssueID, &m.AuthorID, &m.Visibility, &m.Kind, &m.Body, &m.BodyEN, &m.CreateTime,
			&m.AuthorName, &kind); err != nil {
			return nil, fmt.Errorf("read issue message: %w", err)
		}
		m.AuthorOfficer = kind == "officer"
		out = append(out, &m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list issue messages: %w", err)
	}
	return out, nil
}

// answerRow is one answer.
type answerRow struct {
	ID, IssueID                string
	Round                      int
	Body, LegalReference       string
	AuthorID                   string
	State                      string
	SignerID, SignerRole       string
	SignerUnitID               string
	OnBehalfOf                 string
	SignTime                   sql.NullTime
	RejectReason               string
	CreateTime                 time.Time
	AuthorName, SignerName     string
	SignerUnitVI, SignerUnitEN string
	SignerUnitKind             string
}

func insertAnswer(ctx context.Context, tx *sql.Tx, a *answerRow) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO issue_answers (id, issue_id, round, body, legal_reference, author_id, state,
		signer_id, signer_role, signer_unit_id, on_behalf_of, sign_time, create_time)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		a.ID, a.IssueID, a.Round, a.Body, a.LegalReference, a.AuthorID, a.State,
		nullStr(a.SignerID), a.SignerRole, nullStr(a.SignerUnitID), a.OnBehalfOf, a.SignTime, a.CreateTime)
	if err != nil {
		return fmt.Errorf("insert answer: %w", err)
	}
	return nil
}

// signAnswer publishes a pending answer with its signature.
func signAnswer(ctx context.Context, tx *sql.Tx, a *answerRow) error {
	_, err := tx.ExecContext(ctx, `UPDATE issue_answers SET state = $1, signer_id = $2, signer_role = $3,
		signer_unit_id = $4, on_behalf_of = $5, sign_time = $6 WHERE id = $7`,
		a.State, a.SignerID, a.SignerRole, nullStr(a.SignerUnitID), a.OnBehalfOf, a.SignTime, a.ID)
	if err != nil {
		return fmt.Errorf("sign answer: %w", err)
	}
	return nil
}

func rejectAnswer(ctx context.Context, tx *sql.Tx, id, reason string) error {
	_, err := tx.ExecContext(ctx, `UPDATE issue_answers SET state = $1, reject_reason = $2 WHERE id = $3`,
		answerReject, reason, id)
	if err != nil {
		return fmt.Errorf("reject answer: %w", err)
	}
	return nil
}

const answerCols = `a.id, a.issue_id, a.round, a.body, a.legal_reference, a.author_id, a.state,
	COALESCE(a.signer_id, ''), a.signer_role, COALESCE(a.signer_unit_id, ''), a.on_behalf_of, a.sign_time,
	a.reject_reason, a.create_time, au.full_name, COALESCE(su.full_name, ''),
	COALESCE(ou.name_vi, ''), COALESCE(ou.name_en, ''), COALESCE(ou.kind, '')
	FROM issue_answers a JOIN users au ON au.id = a.author_id
	LEFT JOIN users su ON su.id = a.signer_id
	LEFT JOIN org_units ou ON ou.id = a.signer_unit_id`

func scanAnswer(sc scanner) (*answerRow, error) {
	var a answerRow
	err := sc.Scan(&a.ID, &a.IssueID, &a.Round, &a.Body, &a.LegalReference, &a.AuthorID, &a.State,
		&a.SignerID, &a.SignerRole, &a.SignerUnitID, &a.OnBehalfOf, &a.SignTime,
		&a.RejectReason, &a.CreateTime, &a.AuthorName, &a.SignerName, &a.SignerUnitVI, &a.SignerUnitEN, &a.SignerUnitKind)
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// getAnswer reads answer id of issueID; store.ErrNoRows when none.
func getAnswer(ctx context.Context, q store.Queryer, issueID, id string) (*answerRow, error) {
	a, err := scanAnswer(q.QueryRowContext(ctx, `SELECT `+answerCols+` WHERE a.id = $1 AND a.issue_id = $2`, id, issueID))
	if err != nil && !store.IsNoRows(err) {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	return a, err
}

// listAnswers returns an issue's answers oldest first, only the published
// ones unless all.
func listAnswers(ctx context.Context, q store.Queryer, issueID string, all bool) ([]*answerRow, error) {
	query := `SELECT ` + answerCols + ` WHERE a.issue_id = $1`
	if !all {
		query += ` AND a.state = 'PUBLISHED'`
	}
	rows, err := q.QueryContext(ctx, query+` ORDER BY a.id`, issueID)
	if err != nil {
		return nil, fmt.Errorf("list answers: %w", err)
	}
	defer rows.Close()
	var out []*answerRow
	for rows.Next() {
		a, err := scanAnswer(rows)
		if err != nil {
			return nil, fmt.Errorf("read answer: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list answers: %w", err)
	}
	return out, nil
}

// officerRow is an officer as the lifecycle needs them.
type officerRow struct {
	ID, UnitID, FullName, Status string
	Roles                        []string
}

// getOfficer reads an officer; store.ErrNoRows when id is not an officer.
func getOfficer(ctx context.Context, q store.Queryer, id string) (*officerRow, error) {
	var o officerRow
	err := q.QueryRowContext(ctx, `SELECT id, COALESCE(unit_id, ''), full_name, status FROM users
		WHERE id = $1 AND kind = 'officer'`, id).Scan(&o.ID, &o.UnitID, &o.FullName, &o.Status)
	if err != nil {
		if store.IsNoRows(err) {
			return nil, err
		}
		return nil, fmt.Errorf("read officer: %w", err)
	}
	rows, err := q.QueryContext(ctx, `SELECT role FROM user_roles WHERE user_id = $1 ORDER BY role`, id)
	if err != nil {
		return nil, fmt.Errorf("read officer roles: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			return nil, fmt.Errorf("read officer roles: %w", err)
		}
		o.Roles = append(o.Roles, r)
	}
	return &o, rows.Err()
}

// leastLoaded picks the ACTIVE officer with role OFFICER of unitID with the
// fewest issues in work (ASSIGNED, WAITING_ENTERPRISE, PENDING_APPROVAL,
// REOPENED); ties go to the fewest issues in total, then the smallest id.
// "" when the unit has no such officer.
func leastLoaded(ctx context.Context, q store.Queryer, unitID string) (string, error) {
	var id string
	err := q.QueryRowContext(ctx, `SELECT u.id FROM users u
		JOIN user_roles r ON r.user_id = u.id AND r.role = 'OFFICER'
		LEFT JOIN issues i ON i.assignee_id = u.id
		WHERE u.unit_id = $1 AND u.kind = 'officer' AND u.status = 'ACTIVE'
		GROUP BY u.id
		ORDER BY SUM(CASE WHEN i.status IN ('ASSIGNED', 'WAITING_ENTERPRISE', 'PENDING_APPROVAL', 'REOPENED') THEN 1 ELSE 0 END),
			COUNT(i.id), u.id
		LIMIT 1`, unitID).Scan(&id)
	if store.IsNoRows(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("find the least-loaded officer: %w", err)
	}
	return id, nil
}

func nullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// placeholders returns "$first, …" for n values.
func placeholders(first, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "$%d", first+i)
	}
	return b.String()
}
