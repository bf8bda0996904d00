package issues

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"hqconnect/internal/audit"
	"hqconnect/internal/auth"
	"hqconnect/internal/calendar"
	"hqconnect/internal/ids"
	"hqconnect/internal/outbox"
	"hqconnect/internal/scheduler"
	"hqconnect/internal/store"
)

// The SLA and auto-close jobs. Each issue has at most one SLA job (key
// issue-sla:<id>, due at sla_next_check) and one auto-close job (key
// issue-autoclose:<id>, due at auto_close_time while ANSWERED); a recurring
// sweep runs whatever is due in the database, so a job lost between a
// commit and its scheduling (a process that died) still runs.
//
// Every job is idempotent and safe to run on several instances at once: the
// database row decides. A level is raised by a conditional UPDATE that only
// one run can win, and its notification and audit row commit with it.

// Job kinds and keys.
const (
	jobKindSLA       = "issue.sla"
	jobKindAutoClose = "issue.autoclose"
	jobKindSweep     = "issue.sla_sweep"
	sweepJobKey      = "issue-sla-sweep"
	// sweepEvery is how often the sweep looks for due work.
	sweepEvery = 5 * time.Minute
	// sweepBatch bounds the issues one sweep runs of each kind; the rest
	// wait for the next sweep (they are also in the scheduler normally).
	sweepBatch = 500
)

// Events the SLA jobs emit (through the outbox, in the transaction of the
// change).
const (
	// EventSLAWarning: 80 % of the allowed time is used. Tells the assignee
	// (or the unit's officers when nobody is assigned).
	EventSLAWarning = "issue.sla_warning"
	// EventSLAOverdue: the deadline passed. Tells the unit heads of the
	// issue's unit and the units above it up to the branch.
	EventSLAOverdue = "issue.sla_overdue"
	// EventSLAEscalated: 150 % of the allowed time is used. Tells the
	// director.
	EventSLAEscalated = "issue.sla_escalated"
	// EventAutoClosed: an answered issue closed after its working days
	// without reaction. Tells the enterprise's users.
	EventAutoClosed = "issue.auto_closed"
)

func slaJobKey(id string) string       { return "issue-sla:" + id }
func autoCloseJobKey(id string) string { return "issue-autoclose:" + id }

func slaJob(id string, due time.Time) scheduler.Job {
	return scheduler.Job{Key: slaJobKey(id), Kind: jobKindSLA, Due: due, Payload: []byte(id)}
}

func autoCloseJob(id string, due time.Time) scheduler.Job {
	return scheduler.Job{Key: autoCloseJobKey(id), Kind: jobKindAutoClose, Due: due, Payload: []byte(id)}
}

// RegisterJobs registers the SLA, auto-close and sweep job handlers on sched
// (worker processes only) and makes sure the sweep is scheduled.
func (s *Service) RegisterJobs(sched *scheduler.Scheduler) {
	sched.Handle(jobKindSLA, func(ctx context.Context, j scheduler.Job) error {
		return s.runSLA(ctx, sched, string(j.Payload))
	})
	sched.Handle(jobKindAutoClose, func(ctx context.Context, j scheduler.Job) error {
		return s.runAutoClose(ctx, sched, string(j.Payload))
	})
	sched.Handle(jobKindSweep, func(ctx context.Context, j scheduler.Job) error {
		return s.sweep(ctx, sched)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, ok, err := sched.Get(ctx, sweepJobKey); err != nil || !ok {
		// Several workers starting at once may all schedule it: the key is
		// one job, the last write wins.
		if err := sched.Schedule(ctx, scheduler.Job{Key: sweepJobKey, Kind: jobKindSweep, Due: s.now()}); err != nil {
			s.log.Warn("issues: schedule the SLA sweep failed", "err", err)
		}
	}
}

// runSLA raises the issue's SLA level for every level that is due, one
// committed level at a time, and schedules the next one.
func (s *Service) runSLA(ctx context.Context, sched *scheduler.Scheduler, issueID string) error {
	for range slaLevelDirector + 1 {
		next, err := s.raiseSLALevel(ctx, issueID)
		if err != nil {
			return err
		}
		if next.IsZero() {
			return nil
		}
		if next.After(s.now()) {
			if sched != nil {
				if err := sched.Schedule(ctx, slaJob(issueID, next)); err != nil {
					return fmt.Errorf("reschedule SLA job: %w", err)
				}
			}
			return nil
		}
	}
	return nil
}

// raiseSLALevel fires the issue's next SLA level if it is due, and returns
// when the level after it is due (zero when nothing is pending). The row is
// read locked in the transaction that raises the level, and the raise is
// conditional on the level read, so of two runs at once (two instances, a
// replayed job, the sweep) exactly one fires it. A run that finds the issue
// paused, answered, closed or already raised changes nothing.
func (s *Service) raiseSLALevel(ctx context.Context, issueID string) (time.Time, error) {
	// The calendar is read before the transaction: reading it inside would
	// hold one pooled connection while waiting for another.
	pre, err := loadSLA(ctx, s.db, issueID)
	if store.IsNoRows(err) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("run SLA job: %w", err)
	}
	if !pre.NextCheck.Valid {
		return time.Time{}, nil
	}
	cal, err := s.slaCalendar(ctx, s.db, pre.ClockUnitID)
	if err != nil {
		return time.Time{}, fmt.Errorf("run SLA job: %w", err)
	}
	var next time.Time
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		r, err := lockSLA(ctx, tx, s.db.Dialect, issueID)
		if store.IsNoRows(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if !r.NextCheck.Valid {
			return nil
		}
		if r.ClockUnitID != pre.ClockUnitID {
			// Transferred meanwhile: run again with the new unit's calendar.
			next = s.now()
			return nil
		}
		if !r.working() || !r.Clock.running() || r.Level >= slaLevelDirector {
			// Nothing can fire: forget the stale check so the sweep stops
			// finding it.
			if _, err := tx.ExecContext(ctx, `UPDATE issues SET sla_next_check = NULL WHERE id = $1`, r.ID); err != nil {
				return fmt.Errorf("clear a stale SLA check: %w", err)
			}
			return nil
		}
		now := s.now()
		if now.Before(r.NextCheck.Time) {
			next = r.NextCheck.Time
			return nil
		}
		level := r.Level + 1
		after := r.Clock.nextCheck(cal, level)
		res, err := tx.ExecContext(ctx, `UPDATE issues SET sla_level = $1, sla_next_check = $2
			WHERE id = $3 AND sla_level = $4 AND sla_round = $5 AND sla_running_since IS NOT NULL
			AND status IN ('OPEN', 'ASSIGNED', 'PENDING_APPROVAL', 'REOPENED')`,
			level, nullTime(after), r.ID, r.Level, r.Round)
		if err != nil {
			return fmt.Errorf("raise SLA level: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("raise SLA level: %w", err)
		} else if n != 1 {
			return nil // another run raised it first
		}
		ev, err := s.slaLevelEvent(ctx, tx, r, level, cal, now)
		if err != nil {
			return err
		}
		if _, err := outbox.Add(ctx, tx, ev); err != nil {
			return fmt.Errorf("raise SLA level: %w", err)
		}
		if err := audit.Record(ctx, tx, ev.Kind, "issue", r.ID, map[string]any{
			"level": level, "percent": slaLevelPercent[level], "round": r.Round, "unit_id": r.UnitID,
		}); err != nil {
			return err
		}
		next = after
		return nil
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("run SLA job: %w", err)
	}
	return next, nil
}

// slaLevelEvent is the notification of level to the people it goes to.
func (s *Service) slaLevelEvent(ctx context.Context, q store.Queryer, r *slaRow, level int, cal *calendar.Calendar, now time.Time) (outbox.Event, error) {
	due := r.Clock.deadline(cal)
	when := due.In(vietnamZone).Format(noticeTimeFormat)
	n := &outbox.Notification{Category: outbox.CategoryIssue, EntityKind: "issue", EntityID: r.ID}
	ev := outbox.Event{Time: now, Notification: n}
	switch level {
	case slaLevelWarned:
		ev.Kind = EventSLAWarning
		if r.AssigneeID != "" {
			n.Audience = outbox.Audience{UserIDs: []string{r.AssigneeID}}
		} else {
			n.Audience = outbox.Audience{UnitIDs: []string{r.UnitID}, Roles: []string{auth.RoleOfficer}}
		}
		n.TitleVI = fmt.Sprintf("Vướng mắc %s sắp đến hạn xử lý", r.Number)
		n.TitleEN = fmt.Sprintf("Issue %s is nearly due", r.Number)
		n.BodyVI = fmt.Sprintf("Đã dùng 80%% thời gian xử lý vướng mắc “%s”; hạn trả lời: %s.", r.Title, when)
		n.BodyEN = fmt.Sprintf("80%% of the time allowed for “%s” is used; answer by %s.", r.Title, when)
	case slaLevelOverdue:
		ev.Kind = EventSLAOverdue
		tree, err := loadUnits(ctx, q)
		if err != nil {
			return ev, err
		}
		units, err := tree.headUnits(r.UnitID)
		if err != nil {
			return ev, err
		}
		n.Audience = outbox.Audience{UnitIDs: units, Roles: []string{auth.RoleUnitHead}}
		n.TitleVI = fmt.Sprintf("Vướng mắc %s đã quá hạn xử lý", r.Number)
		n.TitleEN = fmt.Sprintf("Issue %s is overdue", r.Number)
		n.BodyVI = fmt.Sprintf("Vướng mắc “%s” chưa được trả lời trước hạn %s.", r.Title, when)
		n.BodyEN = fmt.Sprintf("“%s” was not answered by its deadline, %s.", r.Title, when)
		n.Critical = true
	case slaLevelDirector:
		ev.Kind = EventSLAEscalated
		tree, err := loadUnits(ctx, q)
		if err != nil {
			return ev, err
		}
		dept, err := tree.department(r.UnitID)
		if err != nil {
			return ev, err
		}
		n.Audience = outbox.Audience{UnitIDs: []string{dept}, Roles: []string{auth.RoleDirector}}
		n.TitleVI = fmt.Sprintf("Vướng mắc %s quá hạn nghiêm trọng", r.Number)
		n.TitleEN = fmt.Sprintf("Issue %s is seriously overdue", r.Number)
		n.BodyVI = fmt.Sprintf("Vướng mắc “%s” đã dùng 150%% thời gian xử lý cho phép (hạn %s) mà chưa được trả lời.", r.Title, when)
		n.BodyEN = fmt.Sprintf("“%s” has used 150%% of its allowed time (due %s) without an answer.", r.Title, when)
		n.Critical = true
	default:
		return ev, fmt.Errorf("no SLA level %d", level)
	}
	return ev, nil
}

// runAutoClose closes the issue if it is still ANSWERED with the answer the
// closing was computed for and its time has come; otherwise it reschedules
// itself or does nothing.
func (s *Service) runAutoClose(ctx context.Context, sched *scheduler.Scheduler, issueID string) error {
	r, err := loadSLA(ctx, s.db, issueID)
	if store.IsNoRows(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("run auto-close job: %w", err)
	}
	if r.Status != StatusAnswered || !r.AutoCloseTime.Valid || !r.AnswerTime.Valid {
		return nil
	}
	now := s.now()
	if now.Before(r.AutoCloseTime.Time) {
		if sched != nil {
			if err := sched.Schedule(ctx, autoCloseJob(r.ID, r.AutoCloseTime.Time)); err != nil {
				return fmt.Errorf("reschedule auto-close job: %w", err)
			}
		}
		return nil
	}
	cat, err := categorySLA(ctx, s.db, r.CategoryID)
	if err != nil {
		return fmt.Errorf("run auto-close job: %w", err)
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		// The round identifies the answer: a new answer needs a reopening,
		// which starts a new round.
		res, err := tx.ExecContext(ctx, `UPDATE issues SET status = 'CLOSED', close_time = $1, update_time = $1
			WHERE id = $2 AND status = 'ANSWERED' AND sla_round = $3 AND answer_time IS NOT NULL`,
			now, r.ID, r.Round)
		if err != nil {
			return fmt.Errorf("close answered issue: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return err // reacted to, closed or reopened meanwhile
		}
		days := cat.AutoCloseDays
		if err := insertMessage(ctx, tx, &messageRow{
			ID: ids.New(), IssueID: r.ID, Visibility: visPublic, Kind: kindEvent, CreateTime: now,
			Body:   fmt.Sprintf("Vướng mắc được tự động đóng sau %d ngày làm việc kể từ khi trả lời mà không có phản hồi.", days),
			BodyEN: fmt.Sprintf("Closed automatically %d working days after the answer without a reaction.", days),
		}); err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, "issue.auto_close", "issue", r.ID, map[string]any{
			"answer_time": r.AnswerTime.Time.UTC().Format(time.RFC3339Nano), "round": r.Round,
		}); err != nil {
			return err
		}
		_, err = outbox.Add(ctx, tx, outbox.Event{Kind: EventAutoClosed, Time: now, Notification: &outbox.Notification{
			Audience: outbox.Audience{EnterpriseIDs: []string{r.EnterpriseID}},
			Category: outbox.CategoryIssue, EntityKind: "issue", EntityID: r.ID,
			TitleVI: fmt.Sprintf("Vướng mắc %s đã được đóng", r.Number),
			TitleEN: fmt.Sprintf("Issue %s was closed", r.Number),
			BodyVI: fmt.Sprintf("“%s” được tự động đóng vì không có phản hồi trong %d ngày làm việc sau khi trả lời. Nếu vẫn còn vướng mắc, hãy gửi một vướng mắc mới.",
				r.Title, days),
			BodyEN: fmt.Sprintf("“%s” closed automatically: there was no reaction within %d working days of the answer. Raise a new issue if the problem remains.",
				r.Title, days),
		}})
		if err != nil {
			return fmt.Errorf("close answered issue: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("run auto-close job: %w", err)
	}
	return nil
}

// sweep schedules itself again first (so a failure below does not stop the
// recurrence), then runs every SLA level and auto-close that is due in the
// database.
func (s *Service) sweep(ctx context.Context, sched *scheduler.Scheduler) error {
	now := s.now()
	if err := sched.Schedule(ctx, scheduler.Job{Key: sweepJobKey, Kind: jobKindSweep, Due: now.Add(sweepEvery)}); err != nil {
		return fmt.Errorf("reschedule the SLA sweep: %w", err)
	}
	due, err := s.dueIDs(ctx, `SELECT id FROM issues WHERE sla_next_check IS NOT NULL AND sla_next_check <= $1
		ORDER BY sla_next_check LIMIT $2`, now)
	if err != nil {
		return err
	}
	for _, id := range due {
		if err := s.runSLA(ctx, sched, id); err != nil {
			s.log.WarnContext(ctx, "issues: SLA sweep: run SLA job failed", "issue", id, "err", err)
		}
	}
	closing, err := s.dueIDs(ctx, `SELECT id FROM issues WHERE status = 'ANSWERED' AND auto_close_time <= $1
		ORDER BY auto_close_time LIMIT $2`, now)
	if err != nil {
		return err
	}
	for _, id := range closing {
		if err := s.runAutoClose(ctx, sched, id); err != nil {
			s.log.WarnContext(ctx, "issues: SLA sweep: run auto-close job failed", "issue", id, "err", err)
		}
	}
	return nil
}

func (s *Service) dueIDs(ctx context.Context, query string, now time.Time) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, query, now.UTC(), sweepBatch)
	if err != nil {
		return nil, fmt.Errorf("find due issues: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("find due issues: %w", err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find due issues: %w", err)
	}
	return out, nil
}

// vietnamZone is Asia/Ho_Chi_Minh (UTC+7 all year), fixed so that wording a
// notification needs no tzdata.
var vietnamZone = time.FixedZone("ICT", 7*60*60)

// noticeTimeFormat is how notification bodies show a time.
const noticeTimeFormat = "15:04 02/01/2006"
