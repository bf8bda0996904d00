package issues

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"hqconnect/internal/calendar"
	"hqconnect/internal/scheduler"
	"hqconnect/internal/store"
)

// The SLA clock. The lifecycle calls these hooks inside the transaction of
// each transition (they update the issue's sla_* and due_time columns), and
// slaAfterCommit once the transaction has committed (it (re)schedules the
// issue's next SLA job from sla_next_check).
//
// The arithmetic is in sla_clock.go; the jobs that warn and escalate, close
// answered issues and repair lost jobs are in sla_jobs.go.

// slaRow is the part of an issue row the SLA clock reads.
type slaRow struct {
	ID, Number, Title, EnterpriseID, CategoryID, AssigneeID string
	Status                                                  Status
	// UnitID is the responsible unit; ClockUnitID the unit whose calendar
	// the running clock counts on (they differ only inside a transfer).
	UnitID, ClockUnitID string
	Clock               slaClock
	Due, NextCheck      sql.NullTime
	AnswerTime          sql.NullTime
	AutoCloseTime       sql.NullTime
	Level, Round        int
	Met                 sql.NullBool
}

// working reports whether the issue is in customs' hands with its clock
// meant to run: the states an SLA level may fire in.
func (r *slaRow) working() bool {
	switch r.Status {
	case StatusOpen, StatusAssigned, StatusPendingApproval, StatusReopened:
		return true
	}
	return false
}

// stopped reports whether the round ended with an answer.
func (r *slaRow) stopped() bool { return r.Met.Valid && !r.Clock.running() }

// slaCols are the columns scanSLA reads.
const slaCols = `SELECT id, number, title, enterprise_id, category_id, COALESCE(assignee_id, ''), status,
	unit_id, COALESCE(sla_unit_id, unit_id), sla_minutes, sla_used_minutes, sla_running_since, due_time,
	sla_next_check, answer_time, auto_close_time, sla_level, sla_round, sla_met
	FROM issues WHERE id = $1`

// loadSLA reads the SLA columns of issue id through q; store.ErrNoRows when
// there is none.
func loadSLA(ctx context.Context, q store.Queryer, id string) (*slaRow, error) {
	return scanSLA(q.QueryRowContext(ctx, slaCols, id))
}

// lockSLA is loadSLA inside tx, holding the row until the transaction ends
// (PostgreSQL; SQLite transactions hold the database's write lock from
// BEGIN already).
func lockSLA(ctx context.Context, tx *sql.Tx, d store.Dialect, id string) (*slaRow, error) {
	query := slaCols
	if d == store.Postgres {
		query += ` FOR UPDATE`
	}
	return scanSLA(tx.QueryRowContext(ctx, query, id))
}

func scanSLA(row *sql.Row) (*slaRow, error) {
	var r slaRow
	var status string
	var running sql.NullTime
	err := row.Scan(
		&r.ID, &r.Number, &r.Title, &r.EnterpriseID, &r.CategoryID, &r.AssigneeID, &status,
		&r.UnitID, &r.ClockUnitID, &r.Clock.Budget, &r.Clock.Used, &running, &r.Due,
		&r.NextCheck, &r.AnswerTime, &r.AutoCloseTime, &r.Level, &r.Round, &r.Met)
	if err != nil {
		if store.IsNoRows(err) {
			return nil, err
		}
		return nil, fmt.Errorf("read issue SLA: %w", err)
	}
	r.Status = Status(status)
	if running.Valid {
		r.Clock.Running = running.Time
	}
	return &r, nil
}

// slaCategory is what a category says about the clock.
type slaCategory struct {
	SLAMinutes    int64
	AutoCloseDays int
}

// categorySLA reads a category's budget and auto-close days through q.
// (Read directly rather than through catalog.Category so the hooks work
// inside the transaction with only these two columns.)
func categorySLA(ctx context.Context, q store.Queryer, id string) (slaCategory, error) {
	var hours, days int64
	if err := q.QueryRowContext(ctx, `SELECT sla_hours, auto_close_days FROM issue_categories WHERE id = $1`, id).
		Scan(&hours, &days); err != nil {
		return slaCategory{}, fmt.Errorf("read the category's SLA: %w", err)
	}
	return slaCategory{SLAMinutes: hours * 60, AutoCloseDays: int(days)}, nil
}

// slaCalendar is the working calendar of unit.
// q is the caller's transaction, if any (see catalog.CalendarIn).
func (s *Service) slaCalendar(ctx context.Context, q store.Queryer, unitID string) (*calendar.Calendar, error) {
	if s.cat == nil {
		return calendar.Default(), nil
	}
	cal, err := s.cat.CalendarIn(ctx, q, unitID)
	if err != nil {
		return nil, fmt.Errorf("read the working calendar: %w", err)
	}
	return cal, nil
}

// nullTime is t for a nullable column, NULL for the zero time.
func nullTime(t time.Time) sql.NullTime {
	return sql.NullTime{Time: t.UTC(), Valid: !t.IsZero()}
}

// writeClock stores the clock columns of r.
func writeClock(ctx context.Context, tx *sql.Tx, r *slaRow, due, next time.Time) error {
	_, err := tx.ExecContext(ctx, `UPDATE issues SET sla_minutes = $1, sla_used_minutes = $2, sla_running_since = $3,
		due_time = $4, sla_next_check = $5, sla_unit_id = $6 WHERE id = $7`,
		r.Clock.Budget, r.Clock.Used, nullTime(r.Clock.Running), nullTime(due), nullTime(next), r.ClockUnitID, r.ID)
	if err != nil {
		return fmt.Errorf("update the SLA clock: %w", err)
	}
	return nil
}

// slaStart starts a round: the category's budget, running from now on the
// calendar of the issue's unit (creation, reopening). A reopening (the issue
// was answered before) is a new round; its warnings start again from zero.
func (s *Service) slaStart(ctx context.Context, tx *sql.Tx, issueID string, now time.Time) error {
	r, err := loadSLA(ctx, tx, issueID)
	if err != nil {
		return fmt.Errorf("start SLA: %w", err)
	}
	cat, err := categorySLA(ctx, tx, r.CategoryID)
	if err != nil {
		return fmt.Errorf("start SLA: %w", err)
	}
	cal, err := s.slaCalendar(ctx, tx, r.UnitID)
	if err != nil {
		return fmt.Errorf("start SLA: %w", err)
	}
	round := r.Round
	if r.AnswerTime.Valid {
		round++
	}
	r.Clock = slaClock{Budget: cat.SLAMinutes}.resume(now)
	r.ClockUnitID = r.UnitID
	_, err = tx.ExecContext(ctx, `UPDATE issues SET sla_minutes = $1, sla_used_minutes = 0, sla_running_since = $2,
		due_time = $3, sla_level = 0, sla_next_check = $4, sla_round = $5, sla_met = NULL, sla_unit_id = $6,
		auto_close_time = NULL WHERE id = $7`,
		r.Clock.Budget, r.Clock.Running.UTC(), nullTime(r.Clock.deadline(cal)), nullTime(r.Clock.nextCheck(cal, slaLevelNone)),
		round, r.UnitID, r.ID)
	if err != nil {
		return fmt.Errorf("start SLA: %w", err)
	}
	return nil
}

// slaPause stops the clock while the issue waits for the enterprise: the
// business minutes run so far are banked and no level is pending.
func (s *Service) slaPause(ctx context.Context, tx *sql.Tx, issueID string, now time.Time) error {
	r, err := loadSLA(ctx, tx, issueID)
	if err != nil {
		return fmt.Errorf("pause SLA: %w", err)
	}
	if !r.Clock.running() {
		return nil
	}
	cal, err := s.slaCalendar(ctx, tx, r.ClockUnitID)
	if err != nil {
		return fmt.Errorf("pause SLA: %w", err)
	}
	r.Clock = r.Clock.pause(cal, now)
	if err := writeClock(ctx, tx, r, time.Time{}, time.Time{}); err != nil {
		return fmt.Errorf("pause SLA: %w", err)
	}
	return nil
}

// slaResume restarts a paused clock (the enterprise replied) on the calendar
// of the issue's unit. A level whose share of the budget was used before the
// pause is not announced again; one that was not yet is due from now on.
func (s *Service) slaResume(ctx context.Context, tx *sql.Tx, issueID string, now time.Time) error {
	r, err := loadSLA(ctx, tx, issueID)
	if err != nil {
		return fmt.Errorf("resume SLA: %w", err)
	}
	if r.Clock.running() || r.stopped() {
		return nil
	}
	cal, err := s.slaCalendar(ctx, tx, r.UnitID)
	if err != nil {
		return fmt.Errorf("resume SLA: %w", err)
	}
	r.Clock = r.Clock.resume(now)
	r.ClockUnitID = r.UnitID
	if err := writeClock(ctx, tx, r, r.Clock.deadline(cal), r.Clock.nextCheck(cal, r.Level)); err != nil {
		return fmt.Errorf("resume SLA: %w", err)
	}
	return nil
}

// slaStop ends the round when an answer is published: records the outcome
// (met when published by the deadline), the business minutes used, the
// answer time and when the issue will close by itself. Stopping a stopped
// round changes nothing.
func (s *Service) slaStop(ctx context.Context, tx *sql.Tx, issueID string, now time.Time) error {
	r, err := loadSLA(ctx, tx, issueID)
	if err != nil {
		return fmt.Errorf("stop SLA: %w", err)
	}
	if r.stopped() {
		return nil
	}
	cal, err := s.slaCalendar(ctx, tx, r.ClockUnitID)
	if err != nil {
		return fmt.Errorf("stop SLA: %w", err)
	}
	used := r.Clock.usedAt(cal, now)
	met := used <= r.Clock.Budget
	if r.Clock.running() && r.Due.Valid {
		met = !now.After(r.Due.Time)
	}
	cat, err := categorySLA(ctx, tx, r.CategoryID)
	if err != nil {
		return fmt.Errorf("stop SLA: %w", err)
	}
	unitCal := cal
	if r.UnitID != r.ClockUnitID {
		if unitCal, err = s.slaCalendar(ctx, tx, r.UnitID); err != nil {
			return fmt.Errorf("stop SLA: %w", err)
		}
	}
	_, err = tx.ExecContext(ctx, `UPDATE issues SET sla_used_minutes = $1, sla_running_since = NULL, due_time = NULL,
		sla_next_check = NULL, sla_met = $2, answer_time = $3, answer_minutes = $4, auto_close_time = $5
		WHERE id = $6`,
		used, met, now.UTC(), used, autoCloseAt(unitCal, now, cat.AutoCloseDays).UTC(), r.ID)
	if err != nil {
		return fmt.Errorf("stop SLA: %w", err)
	}
	return nil
}

// slaCancel stops the clock without an outcome: the issue was closed (or
// withdrawn) before any answer. No level is pending afterwards.
func (s *Service) slaCancel(ctx context.Context, tx *sql.Tx, issueID string, now time.Time) error {
	r, err := loadSLA(ctx, tx, issueID)
	if err != nil {
		return fmt.Errorf("cancel SLA: %w", err)
	}
	if !r.Clock.running() && !r.NextCheck.Valid {
		return nil
	}
	cal, err := s.slaCalendar(ctx, tx, r.ClockUnitID)
	if err != nil {
		return fmt.Errorf("cancel SLA: %w", err)
	}
	r.Clock = r.Clock.pause(cal, now)
	if err := writeClock(ctx, tx, r, time.Time{}, time.Time{}); err != nil {
		return fmt.Errorf("cancel SLA: %w", err)
	}
	return nil
}

// slaRecalc recomputes the deadline after the unit changed (transfer): the
// same budget and the time used so far (counted on the old unit's calendar)
// carry over; the rest runs on the new unit's calendar. The levels already
// announced stay announced.
func (s *Service) slaRecalc(ctx context.Context, tx *sql.Tx, issueID string, now time.Time) error {
	r, err := loadSLA(ctx, tx, issueID)
	if err != nil {
		return fmt.Errorf("recompute SLA: %w", err)
	}
	if !r.Clock.running() {
		// Paused or stopped: the next resume or round uses the new unit.
		if r.ClockUnitID != r.UnitID {
			r.ClockUnitID = r.UnitID
			if err := writeClock(ctx, tx, r, nullableTime(r.Due), nullableTime(r.NextCheck)); err != nil {
				return fmt.Errorf("recompute SLA: %w", err)
			}
		}
		return nil
	}
	oldCal, err := s.slaCalendar(ctx, tx, r.ClockUnitID)
	if err != nil {
		return fmt.Errorf("recompute SLA: %w", err)
	}
	newCal, err := s.slaCalendar(ctx, tx, r.UnitID)
	if err != nil {
		return fmt.Errorf("recompute SLA: %w", err)
	}
	r.Clock = r.Clock.rebase(oldCal, now)
	r.ClockUnitID = r.UnitID
	if err := writeClock(ctx, tx, r, r.Clock.deadline(newCal), r.Clock.nextCheck(newCal, r.Level)); err != nil {
		return fmt.Errorf("recompute SLA: %w", err)
	}
	return nil
}

// nullableTime is the time of a nullable column, zero for NULL.
func nullableTime(t sql.NullTime) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time
}

// slaAfterCommit (re)schedules the issue's jobs after a committed
// transition: the SLA job at sla_next_check (cancelled when there is none
// or the issue is out of customs' hands), and the auto-close job while the
// issue is ANSWERED. A failure is logged: the periodic sweep repairs it.
func (s *Service) slaAfterCommit(ctx context.Context, issueID string) {
	if s.sched == nil {
		return
	}
	// The transition is committed: finish scheduling even if the caller
	// has gone.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.scheduleSLA(ctx, s.sched, issueID); err != nil {
		s.log.WarnContext(ctx, "issues: schedule SLA jobs failed; the sweep will repair them", "issue", issueID, "err", err)
	}
}

// scheduleSLA makes the issue's scheduled jobs match its row.
func (s *Service) scheduleSLA(ctx context.Context, sched *scheduler.Scheduler, issueID string) error {
	r, err := loadSLA(ctx, s.db, issueID)
	if store.IsNoRows(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if r.NextCheck.Valid && r.working() {
		if err := sched.Schedule(ctx, slaJob(r.ID, r.NextCheck.Time)); err != nil {
			return err
		}
	} else if _, err := sched.Cancel(ctx, slaJobKey(r.ID)); err != nil {
		return err
	}
	if r.Status == StatusAnswered && r.AutoCloseTime.Valid {
		return sched.Schedule(ctx, autoCloseJob(r.ID, r.AutoCloseTime.Time))
	}
	_, err = sched.Cancel(ctx, autoCloseJobKey(r.ID))
	return err
}
