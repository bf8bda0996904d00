package attach

import (
	"context"
	"fmt"
	"time"

	"hqconnect/internal/scheduler"
)

// JobSweep is the scheduler job kind of the sweep of unclaimed uploads.
const JobSweep = "attach-sweep"

// SweepKey is the sweep job's one key: every instance schedules the same
// job, so there is one schedule however many run.
const SweepKey = "attach-sweep"

// SweepEvery is how often unclaimed uploads are swept.
const SweepEvery = time.Hour

// sweepBatch is how many uploads one query of the sweep takes.
const sweepBatch = 200

// Sweep deletes the uploads never attached to an issue that were started
// before now - UnclaimedTTL, finished or not: their rows, chunks and files.
// It returns how many it deleted.
func (s *Store) Sweep(ctx context.Context, now time.Time) (int, error) {
	cutoff := now.UTC().Add(-UnclaimedTTL)
	total := 0
	for {
		rows, err := s.db.QueryContext(ctx, `SELECT id FROM issue_attachments
			WHERE issue_id IS NULL AND create_time < $1 ORDER BY create_time LIMIT $2`, cutoff, sweepBatch)
		if err != nil {
			return total, fmt.Errorf("list unclaimed uploads: %w", err)
		}
		var batch []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return total, fmt.Errorf("scan unclaimed upload: %w", err)
			}
			batch = append(batch, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return total, fmt.Errorf("list unclaimed uploads: %w", err)
		}
		for _, id := range batch {
			if err := s.discard(ctx, id); err != nil {
				return total, err
			}
			total++
		}
		if len(batch) < sweepBatch {
			return total, nil
		}
	}
}

// RegisterJobs registers the sweep on sched (worker processes) and makes
// sure it is scheduled: at once when no instance has scheduled it yet; each
// run schedules the next one SweepEvery later. The schedule is kept in the
// scheduler's (real) time; the cutoff of each sweep comes from the Store's
// clock.
func (s *Store) RegisterJobs(sched *scheduler.Scheduler) {
	sched.Handle(JobSweep, func(ctx context.Context, j scheduler.Job) error {
		// The next run first: a failing sweep must not end the schedule
		// (this run's retry is dropped, the next hour's run retries).
		if err := sched.Schedule(ctx, scheduler.Job{Key: SweepKey, Kind: JobSweep, Due: time.Now().Add(SweepEvery)}); err != nil {
			return fmt.Errorf("reschedule upload sweep: %w", err)
		}
		n, err := s.Sweep(ctx, s.now())
		if n > 0 {
			s.log.Info("attach: swept unclaimed uploads", "count", n)
		}
		return err
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.ensureScheduled(ctx, sched); err != nil {
		s.log.Error("attach: schedule upload sweep", "err", err)
	}
}

// ensureScheduled schedules the sweep to run now unless it is scheduled.
func (s *Store) ensureScheduled(ctx context.Context, sched *scheduler.Scheduler) error {
	_, ok, err := sched.Get(ctx, SweepKey)
	if err != nil || ok {
		return err
	}
	return sched.Schedule(ctx, scheduler.Job{Key: SweepKey, Kind: JobSweep})
}
