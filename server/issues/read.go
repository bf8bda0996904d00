package issues

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"

	issuev1 "hqconnect/gen/hqconnect/issue/v1"
	"hqconnect/internal/errs"
	"hqconnect/internal/ids"
)

func (s *Service) GetIssue(ctx context.Context, req *connect.Request[issuev1.GetIssueRequest]) (*connect.Response[issuev1.GetIssueResponse], error) {
	v, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	r, _, err := s.visibleIssue(ctx, s.db, v, req.Msg.IssueId)
	if err != nil {
		return nil, err
	}
	officer := v.officer()
	w := s.viewFor(ctx, v)
	out, err := w.issue(ctx, r)
	if err != nil {
		return nil, err
	}
	atts, err := s.attach.ForIssue(ctx, s.db, r.ID, officer)
	if err != nil {
		return nil, fmt.Errorf("read the issue's attachments: %w", err)
	}
	out.Attachments = atts[""]
	msgs, err := listMessages(ctx, s.db, r.ID, officer)
	if err != nil {
		return nil, err
	}
	answers, err := listAnswers(ctx, s.db, r.ID, officer)
	if err != nil {
		return nil, err
	}
	res := &issuev1.GetIssueResponse{Issue: out}
	for _, m := range msgs {
		res.Messages = append(res.Messages, w.message(m, atts[m.ID]))
	}
	for _, a := range answers {
		res.Answers = append(res.Answers, w.answer(a))
	}
	if res.Ratings, err = s.ratingsOf(ctx, s.db, r.ID); err != nil {
		return nil, err
	}
	return connect.NewResponse(res), nil
}

// Listing. Officers' queues are read per (unit, status) pair straight off
// the issues_queue index (unit_id, status, due_time, id) — each pair gives
// at most a page of rows in deadline order, and one outer ORDER BY merges
// them — so a page costs the same with a million issues as with a hundred.
// Beyond maxPairs pairs (the director's whole department) one plain query
// sorts instead.
const maxPairs = 64

// cursor is the sort key of the last row of a page.
type cursor struct {
	sort   issuev1.IssueSort
	hasDue bool
	due    time.Time
	id     string
}

func (c cursor) token() string {
	var s string
	if c.sort == issuev1.IssueSort_ISSUE_SORT_NEWEST {
		s = "n:" + c.id
	} else if c.hasDue {
		s = "d:" + strconv.FormatInt(c.due.UnixNano(), 10) + ":" + c.id
	} else {
		s = "d:-:" + c.id
	}
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

var errPageToken = errs.InvalidField("page_token",
	"is not valid for this listing; start again without it",
	"page_token không hợp lệ cho danh sách này; hãy bắt đầu lại mà không gửi page_token")

func parseCursor(token string, sort issuev1.IssueSort) (*cursor, error) {
	if token == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return nil, errPageToken
	}
	parts := strings.Split(string(b), ":")
	c := &cursor{sort: sort}
	switch {
	case sort == issuev1.IssueSort_ISSUE_SORT_NEWEST && len(parts) == 2 && parts[0] == "n":
		c.id = parts[1]
	case sort == issuev1.IssueSort_ISSUE_SORT_DEADLINE && len(parts) == 3 && parts[0] == "d":
		c.id = parts[2]
		if parts[1] != "-" {
			ns, err := strconv.ParseInt(parts[1], 10, 64)
			if err != nil {
				return nil, errPageToken
			}
			c.hasDue, c.due = true, time.Unix(0, ns).UTC()
		}
	default:
		return nil, errPageToken
	}
	if !ids.Valid(c.id) {
		return nil, errPageToken
	}
	return c, nil
}

// query builds SQL with numbered arguments.
type query struct {
	args []any
}

func (q *query) arg(v any) string {
	q.args = append(q.args, v)
	return "$" + strconv.Itoa(len(q.args))
}

// lit writes s, a status or an id, as a literal rather than an argument:
// PostgreSQL's generic plan for a prepared statement (used from its sixth
// run) cannot see which unit and status a part reads and scans the wrong
// index, seconds instead of milliseconds. Anything but [0-9A-Za-z_-] is
// passed as an argument instead.
func (q *query) lit(s string) string {
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-' || r == '_') {
			return q.arg(s)
		}
	}
	return "'" + s + "'"
}

func (q *query) in(vals []string) string {
	ph := make([]string, len(vals))
	for i, v := range vals {
		ph[i] = q.arg(v)
	}
	return strings.Join(ph, ", ")
}

// listFilter is a validated ListIssues request.
type listFilter struct {
	enterpriseID string   // enterprise callers
	units        []string // officers; nil: every unit
	statuses     []Status
	assigneeID   string
	categoryID   string
	overdue      bool
	dueWithin    time.Duration
	sort         issuev1.IssueSort
	size         int
	after        *cursor
	now          time.Time
}

func (s *Service) ListIssues(ctx context.Context, req *connect.Request[issuev1.ListIssuesRequest]) (*connect.Response[issuev1.ListIssuesResponse], error) {
	v, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	f, empty, err := s.listFilter(v, req.Msg)
	if err != nil {
		return nil, err
	}
	res := &issuev1.ListIssuesResponse{}
	if empty {
		return connect.NewResponse(res), nil
	}
	rows, err := s.listIssues(ctx, f)
	if err != nil {
		return nil, err
	}
	if len(rows) > f.size {
		last := rows[f.size-1]
		c := cursor{sort: f.sort, id: last.ID, hasDue: last.DueTime.Valid}
		if c.hasDue {
			c.due = last.DueTime.Time
		}
		res.NextPageToken = c.token()
		rows = rows[:f.size]
	}
	w := s.viewFor(ctx, v)
	for _, r := range rows {
		out, err := w.issue(ctx, r)
		if err != nil {
			return nil, err
		}
		res.Issues = append(res.Issues, out)
	}
	return connect.NewResponse(res), nil
}

// listFilter validates a request; empty reports a filter nothing can match.
func (s *Service) listFilter(v *viewer, m *issuev1.ListIssuesRequest) (*listFilter, bool, error) {
	f := &listFilter{sort: m.Sort, now: s.now()}
	var err error
	if f.size, err = pageSize(m.PageSize); err != nil {
		return nil, false, err
	}
	switch f.sort {
	case issuev1.IssueSort_ISSUE_SORT_UNSPECIFIED:
		f.sort = issuev1.IssueSort_ISSUE_SORT_DEADLINE
		if v.enterprise() {
			f.sort = issuev1.IssueSort_ISSUE_SORT_NEWEST
		}
	case issuev1.IssueSort_ISSUE_SORT_NEWEST, issuev1.IssueSort_ISSUE_SORT_DEADLINE:
	default:
		return nil, false, errs.InvalidField("sort", "must be ISSUE_SORT_NEWEST or ISSUE_SORT_DEADLINE",
			"phải là ISSUE_SORT_NEWEST hoặc ISSUE_SORT_DEADLINE")
	}
	if f.after, err = parseCursor(m.PageToken, f.sort); err != nil {
		return nil, false, err
	}
	seen := map[Status]bool{}
	for _, st := range m.Statuses {
		s := statusOf(st)
		if s == "" {
			return nil, false, errs.InvalidField("statuses", "holds an unknown status", "chứa trạng thái không hợp lệ")
		}
		if v.enterprise() {
			// PENDING_APPROVAL does not exist for enterprise users: it is
			// part of what they see as ASSIGNED.
			if s == StatusPendingApproval {
				continue
			}
			if s == StatusAssigned && !seen[StatusPendingApproval] {
				seen[StatusPendingApproval] = true
				f.statuses = append(f.statuses, StatusPendingApproval)
			}
		}
		if !seen[s] {
			seen[s] = true
			f.statuses = append(f.statuses, s)
		}
	}
	if len(m.Statuses) > 0 && len(f.statuses) == 0 {
		return f, true, nil
	}
	if m.CategoryId != "" {
		if f.categoryID, err = idField("category_id", m.CategoryId); err != nil {
			return nil, false, err
		}
	}
	f.overdue = m.Overdue
	if d := m.DueWithin; d != nil {
		if err := d.CheckValid(); err != nil || d.AsDuration() <= 0 {
			return nil, false, errs.InvalidField("due_within", "must be a positive duration", "phải là khoảng thời gian dương")
		}
		f.dueWithin = d.AsDuration()
	}
	if v.enterprise() {
		if m.AssigneeId != "" {
			return nil, false, errs.InvalidField("assignee_id", "is for officers only", "chỉ dành cho cán bộ hải quan")
		}
		if m.UnitId != "" {
			return nil, false, errs.InvalidField("unit_id", "is for officers only", "chỉ dành cho cán bộ hải quan")
		}
		f.enterpriseID = v.EnterpriseID
		return f, false, nil
	}
	switch a := strings.TrimSpace(m.AssigneeId); a {
	case "":
	case "me":
		f.assigneeID = v.UserID
	default:
		if f.assigneeID, err = idField("assignee_id", a); err != nil {
			return nil, false, err
		}
	}
	switch {
	case m.UnitId != "":
		unit, err := idField("unit_id", m.UnitId)
		if err != nil {
			return nil, false, err
		}
		if v.units.byID[unit] == nil || !v.seesAll() && !v.units.within(unit, v.UnitID) {
			return nil, false, errs.InvalidField("unit_id", "must be your unit or a unit below it",
				"phải là đơn vị của bạn hoặc đơn vị cấp dưới")
		}
		f.units = []string{unit}
	case v.seesAll():
		// Every unit: no unit filter.
	case v.UnitID == "":
		return f, true, nil
	default:
		f.units = v.units.subtree(v.UnitID)
	}
	return f, false, nil
}

// runningStatuses are those with a running deadline (due_time is set only
// while the clock runs).
var runningStatuses = []Status{StatusOpen, StatusAssigned, StatusPendingApproval, StatusReopened}

// listIssues returns up to f.size+1 issues in the listing's order.
func (s *Service) listIssues(ctx context.Context, f *listFilter) ([]*issueRow, error) {
	statuses := f.statuses
	if len(statuses) == 0 {
		statuses = allStatuses
	}
	if f.overdue || f.dueWithin > 0 {
		statuses = slices.DeleteFunc(slices.Clone(statuses), func(st Status) bool { return !slices.Contains(runningStatuses, st) })
		if len(statuses) == 0 {
			return nil, nil
		}
	}
	q := &query{}
	var sql string
	scopes := len(f.units)
	if f.units == nil {
		scopes = 1 // every unit: the issues_status_due index
	}
	switch {
	case f.enterpriseID == "" && f.sort == issuev1.IssueSort_ISSUE_SORT_DEADLINE && scopes*len(statuses) <= maxPairs:
		sql = f.deadlinePairs(q, statuses)
	case f.enterpriseID == "" && f.units != nil && f.sort == issuev1.IssueSort_ISSUE_SORT_NEWEST && len(f.units) <= maxPairs:
		sql = f.newestUnits(q)
	default:
		sql = f.plain(q)
	}
	// Past the store's statement cache (s.db.DB, not s.db): the text varies
	// with the caller's units and filters, and the cache is bounded and
	// shared.
	rows, err := s.db.DB.QueryContext(ctx, sql, q.args...)
	if err != nil {
		return nil, fmt.Errorf("list issues: %w", err)
	}
	defer rows.Close()
	var out []*issueRow
	for rows.Next() {
		r, err := scanIssue(rows)
		if err != nil {
			return nil, fmt.Errorf("read issue: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list issues: %w", err)
	}
	return out, nil
}

// extra is the filters that are not part of the index.
func (f *listFilter) extra(q *query) string {
	var b strings.Builder
	if f.assigneeID != "" {
		b.WriteString(" AND i.assignee_id = " + q.arg(f.assigneeID))
	}
	if f.categoryID != "" {
		b.WriteString(" AND i.category_id = " + q.arg(f.categoryID))
	}
	if f.overdue {
		b.WriteString(" AND i.due_time <= " + q.arg(f.now))
	}
	if f.dueWithin > 0 {
		b.WriteString(" AND i.due_time > " + q.arg(f.now) + " AND i.due_time <= " + q.arg(f.now.Add(f.dueWithin)))
	}
	return b.String()
}

// deadlineOrder puts issues without a running deadline last on both
// databases (SQLite sorts NULLs first, PostgreSQL last).
const deadlineOrder = ` ORDER BY CASE WHEN i.due_time IS NULL THEN 1 ELSE 0 END, i.due_time, i.id`

func (f *listFilter) deadlinePairs(q *query, statuses []Status) string {
	limit := strconv.Itoa(f.size + 1)
	dueOnly := f.overdue || f.dueWithin > 0
	var parts []string
	units := f.units
	if units == nil {
		units = []string{""} // every unit
	}
	for _, u := range units {
		for _, st := range statuses {
			base := "SELECT i.id, i.due_time FROM issues i WHERE i.status = " + q.lit(string(st))
			if u != "" {
				base += " AND i.unit_id = " + q.lit(u)
			}
			extra := f.extra(q)
			// Rows with a deadline, in index order after the cursor.
			if f.after == nil || f.after.hasDue {
				p := base + " AND i.due_time IS NOT NULL"
				if f.after != nil {
					p += " AND (i.due_time, i.id) > (" + q.arg(f.after.due) + ", " + q.arg(f.after.id) + ")"
				}
				parts = append(parts, p+extra+" ORDER BY i.due_time, i.id LIMIT "+limit)
			}
			// Then those without one, by id (ordered as the index is, so
			// the primary key is not scanned instead).
			if !dueOnly {
				p := base + " AND i.due_time IS NULL"
				if f.after != nil && !f.after.hasDue {
					p += " AND i.id > " + q.arg(f.after.id)
				}
				parts = append(parts, p+extra+" ORDER BY i.due_time, i.id LIMIT "+limit)
			}
		}
	}
	return f.merge(parts, "id, due_time", ` ORDER BY CASE WHEN due_time IS NULL THEN 1 ELSE 0 END, due_time, id`) +
		deadlineOrder + " LIMIT " + limit
}

func (f *listFilter) newestUnits(q *query) string {
	limit := strconv.Itoa(f.size + 1)
	var parts []string
	for _, u := range f.units {
		p := "SELECT i.id FROM issues i WHERE i.unit_id = " + q.lit(u)
		if len(f.statuses) > 0 {
			p += " AND i.status IN (" + q.in(statusStrings(f.statuses)) + ")"
		}
		if f.after != nil {
			p += " AND i.id < " + q.arg(f.after.id)
		}
		parts = append(parts, p+f.extra(q)+" ORDER BY i.id DESC LIMIT "+limit)
	}
	return f.merge(parts, "id", " ORDER BY id DESC") + " ORDER BY i.id DESC LIMIT " + limit
}

// merge takes the first page of the union of the per-pair parts on the
// index columns alone (cols, in order), then reads the full rows of that
// page only: a page costs one primary-key lookup per row shown, not per row
// each part offered.
func (f *listFilter) merge(parts []string, cols, order string) string {
	for i, p := range parts {
		parts[i] = "SELECT " + cols + " FROM (" + p + ") AS p" + strconv.Itoa(i)
	}
	page := "SELECT " + cols + " FROM (" + strings.Join(parts, " UNION ALL ") + ") AS u" + order +
		" LIMIT " + strconv.Itoa(f.size+1)
	return "SELECT " + issueCols + " FROM (" + page + ") AS q" +
		strings.Replace(issueFrom, " FROM issues i", " JOIN issues i ON i.id = q.id", 1)
}

// plain is one query for the enterprise's listing and for wide scopes.
func (f *listFilter) plain(q *query) string {
	w := " WHERE 1 = 1"
	if f.enterpriseID != "" {
		w += " AND i.enterprise_id = " + q.arg(f.enterpriseID)
	}
	if f.units != nil {
		w += " AND i.unit_id IN (" + q.in(f.units) + ")"
	}
	if len(f.statuses) > 0 {
		w += " AND i.status IN (" + q.in(statusStrings(f.statuses)) + ")"
	}
	w += f.extra(q)
	limit := " LIMIT " + strconv.Itoa(f.size+1)
	if f.sort == issuev1.IssueSort_ISSUE_SORT_NEWEST {
		if f.after != nil {
			w += " AND i.id < " + q.arg(f.after.id)
		}
		return "SELECT " + issueCols + issueFrom + w + " ORDER BY i.id DESC" + limit
	}
	if c := f.after; c != nil {
		if c.hasDue {
			d := q.arg(c.due)
			w += " AND (i.due_time IS NULL OR i.due_time > " + d + " OR (i.due_time = " + d + " AND i.id > " + q.arg(c.id) + "))"
		} else {
			w += " AND i.due_time IS NULL AND i.id > " + q.arg(c.id)
		}
	}
	return "SELECT " + issueCols + issueFrom + w + deadlineOrder + limit
}

func statusStrings(ss []Status) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = string(s)
	}
	return out
}
