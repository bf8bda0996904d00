package issues

import (
	"context"
	"database/sql"
	"time"

	"hqconnect/internal/scheduler"
)

// The SLA clock. The lifecycle calls these hooks inside the transaction of
// each transition (they update the issue's sla_* and due_time columns), and
// slaAfterCommit once the transaction has committed (it (re)schedules the
// issue's next SLA job from sla_next_check).

// slaStart starts a round: the category's budget, running from now on the
// calendar of the issue's unit (creation, reopening).
func (s *Service) slaStart(ctx context.Context, tx *sql.Tx, issueID string, now time.Time) error {
	return nil
}

// slaPause stops the clock while the issue waits for the enterprise.
func (s *Service) slaPause(ctx context.Context, tx *sql.Tx, issueID string, now time.Time) error {
	return nil
}

// slaResume restarts a paused clock (the enterprise replied).
func (s *Service) slaResume(ctx context.Context, tx *sql.Tx, issueID string, now time.Time) error {
	return nil
}

// slaStop ends the round when an answer is published: records the outcome
// and the business minutes used, and schedules the automatic closing.
func (s *Service) slaStop(ctx context.Context, tx *sql.Tx, issueID string, now time.Time) error {
	return nil
}

// slaRecalc recomputes the deadline after the unit changed (transfer).
func (s *Service) slaRecalc(ctx context.Context, tx *sql.Tx, issueID string, now time.Time) error {
	return nil
}

// slaAfterCommit (re)schedules the issue's jobs after a committed
// transition. A failure is logged: the periodic sweep repairs it.
func (s *Service) slaAfterCommit(ctx context.Context, issueID string) {}

// RegisterJobs registers the SLA, auto-close and sweep job handlers on sched
// (worker processes only).
func (s *Service) RegisterJobs(sched *scheduler.Scheduler) {}
