package issues

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"hqconnect/internal/audit"
	"hqconnect/internal/ids"
	"hqconnect/internal/outbox"
	"hqconnect/server/issues/catalog"
)

// change is one transition of an issue in progress, inside its transaction:
// the domain change, its thread entry, its audit row and its notifications
// commit together or not at all.
type change struct {
	s    *Service
	ctx  context.Context
	tx   *sql.Tx
	v    *viewer
	r    *issueRow // as read, then as it is being written
	cat  *catalog.Category
	now  time.Time
	from Status
	// sla is set when an SLA hook ran: slaAfterCommit follows the commit.
	sla bool
	// system marks changes the system makes on the caller's behalf (the
	// automatic assignment of a new issue): their thread entries have no
	// author.
	system bool
}

// changeIssue reads the issue the caller may see inside a transaction and
// runs fn on it; after a commit in which an SLA hook ran it lets the SLA
// clock schedule its jobs. It returns the issue as committed.
func (s *Service) changeIssue(ctx context.Context, v *viewer, issueID string, fn func(c *change) error) (*issueRow, error) {
	var c *change
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		r, cat, err := s.visibleIssue(ctx, tx, v, issueID)
		if err != nil {
			return err
		}
		c = &change{s: s, ctx: ctx, tx: tx, v: v, r: r, cat: cat, now: s.now(), from: r.Status}
		return fn(c)
	})
	if err != nil {
		return nil, err
	}
	if c.sla {
		s.slaAfterCommit(ctx, c.r.ID)
	}
	r, err := getIssue(ctx, s.db, c.r.ID)
	if err != nil {
		return nil, fmt.Errorf("read the changed issue: %w", err)
	}
	return r, nil
}

// move applies action a to the issue's status (FailedPrecondition when the
// state machine does not allow it) and writes the lifecycle columns; detail
// goes to the audit row "issue.<verb>" with from and to.
func (c *change) move(a Action, verb string, detail map[string]any) error {
	shown := c.from
	if c.v.enterprise() {
		shown = enterpriseStatus(shown)
	}
	to, ok := transition(c.from, a, c.r.Resume)
	if !ok {
		return errTransition(shown, a)
	}
	switch {
	case leavesWork(a):
		c.r.Resume = c.from
	case a == ActAssign:
		// Re-assigning a waiting issue keeps where it goes back to.
	default:
		c.r.Resume = ""
	}
	c.r.Status = to
	won, err := setState(c.ctx, c.tx, c.r, c.from, c.now)
	if err != nil {
		return err
	}
	if !won {
		return errChanged
	}
	if detail == nil {
		detail = map[string]any{}
	}
	detail["from"], detail["to"] = string(c.from), string(to)
	return audit.Record(c.ctx, c.tx, "issue."+verb, "issue", c.r.ID, detail)
}

// event writes a system entry in the thread, in both languages, by the
// caller.
func (c *change) event(visibility, vi, en string) error {
	author := c.v.UserID
	if c.system {
		author = ""
	}
	return insertMessage(c.ctx, c.tx, &messageRow{
		ID: ids.New(), IssueID: c.r.ID, AuthorID: author, Visibility: visibility, Kind: kindEvent,
		Body: vi, BodyEN: en, CreateTime: c.now,
	})
}

// notify adds a notification about the issue to the outbox.
func (c *change) notify(kind string, aud outbox.Audience, titleVI, titleEN, bodyVI, bodyEN string) error {
	return notifyIssue(c.ctx, c.tx, c.r, kind, aud, titleVI, titleEN, bodyVI, bodyEN, c.now)
}

func notifyIssue(ctx context.Context, tx *sql.Tx, r *issueRow, kind string, aud outbox.Audience,
	titleVI, titleEN, bodyVI, bodyEN string, now time.Time) error {
	_, err := outbox.Add(ctx, tx, outbox.Event{Kind: kind, Time: now, Notification: &outbox.Notification{
		Audience: aud, Category: outbox.CategoryIssue,
		TitleVI: titleVI, TitleEN: titleEN, BodyVI: bodyVI, BodyEN: bodyEN,
		EntityKind: "issue", EntityID: r.ID,
	}})
	return err
}

// firstResponse records the first response to the enterprise (a public
// reply, an information request or a published answer) in business minutes
// since creation on the unit's calendar.
func (c *change) firstResponse() error {
	if c.r.FirstResponseTime.Valid {
		return nil
	}
	cal, err := c.s.cat.CalendarIn(c.ctx, c.tx, c.r.UnitID)
	if err != nil {
		return fmt.Errorf("read the unit's calendar: %w", err)
	}
	minutes := cal.BusinessMinutes(c.r.CreateTime, c.now)
	c.r.FirstResponseTime = sql.NullTime{Time: c.now, Valid: true}
	c.r.FirstResponseMinutes = sql.NullInt64{Int64: minutes, Valid: true}
	return setFirstResponse(c.ctx, c.tx, c.r.ID, c.now, minutes)
}

// Audiences.

func enterpriseAudience(r *issueRow) outbox.Audience {
	return outbox.Audience{EnterpriseIDs: []string{r.EnterpriseID}}
}

// assigneeAudience is the assignee, or the unit's queue when nobody is
// assigned yet.
func assigneeAudience(r *issueRow) outbox.Audience {
	if r.AssigneeID != "" {
		return outbox.Audience{UserIDs: []string{r.AssigneeID}}
	}
	return queueAudience(r.UnitID)
}

// queueAudience is the officers and the head of a unit.
func queueAudience(unit string) outbox.Audience {
	return outbox.Audience{UnitIDs: []string{unit}, Roles: []string{"OFFICER", "UNIT_HEAD"}}
}
