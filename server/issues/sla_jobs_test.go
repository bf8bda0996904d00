package issues

import (
	"context"
	"database/sql"
	"slices"
	"sync"
	"testing"
	"time"

	"hqconnect/internal/scheduler"
	"hqconnect/internal/testkit"
	"hqconnect/internal/testkit/stack"
)

// Monday 1 March 2027, an ordinary working week. A VNACCS issue has 8
// business hours (480 minutes): started at 07:30, 80 % (384 min) is reached
// at 15:24, 100 % at 17:00 and 150 % (720 min) on Tuesday at 11:30.
var (
	mon0730 = at(2027, 3, 1, 7, 30)
	mon1524 = at(2027, 3, 1, 15, 24)
	mon1700 = at(2027, 3, 1, 17, 0)
	tue1130 = at(2027, 3, 2, 11, 30)
)

func TestSLALevelsFireInTurnAndOnce(t *testing.T) {
	stack.RunDB(t, slaMount, func(t *testing.T, e *stack.Env) {
		f := fixOf(t, e)
		ctx := context.Background()
		officer, _ := userOf(t, e, stack.Officer)
		id := insertIssue(t, e, testIssue{Assignee: stack.Officer, Created: mon0730})
		setClock(e, mon0730)
		f.hook(t, f.svc.slaStart, id, mon0730)

		r := row(t, e, id)
		if r.Clock.Budget != 480 || r.Clock.Used != 0 || r.Level != 0 || r.Round != 1 || r.Met.Valid {
			t.Fatalf("started clock: %+v", r)
		}
		wantTime(t, "due_time", r.Due, mon1700)
		wantTime(t, "sla_next_check", r.NextCheck, mon1524)
		if j, ok, err := f.sched.Get(ctx, slaJobKey(id)); err != nil || !ok || !j.Due.Equal(mon1524) {
			t.Fatalf("SLA job = %+v, %v, %v; want due %v", j, ok, err, mon1524)
		}

		run := func(now time.Time) {
			t.Helper()
			setClock(e, now)
			if err := f.svc.runSLA(ctx, f.sched, id); err != nil {
				t.Fatal(err)
			}
		}
		run(mon1524.Add(-time.Minute))
		if n := len(eventsFor(t, e, "", id)); n != 0 {
			t.Fatalf("%d events before 80 %%", n)
		}

		run(mon1524.Add(time.Minute))
		run(mon1524.Add(2 * time.Minute)) // a replayed job changes nothing
		warn := eventsFor(t, e, EventSLAWarning, id)
		if len(warn) != 1 || !slices.Equal(warn[0].Notification.Audience.UserIDs, []string{officer}) {
			t.Fatalf("80 %% warning events %+v, want one to the assignee %s", warn, officer)
		}
		r = row(t, e, id)
		if r.Level != slaLevelWarned {
			t.Fatalf("level %d after the warning", r.Level)
		}
		wantTime(t, "sla_next_check", r.NextCheck, mon1700)
		if j, ok, _ := f.sched.Get(ctx, slaJobKey(id)); !ok || !j.Due.Equal(mon1700) {
			t.Fatalf("SLA job after the warning = %+v, %v; want due %v", j, ok, mon1700)
		}

		run(mon1700.Add(time.Minute))
		over := eventsFor(t, e, EventSLAOverdue, id)
		if len(over) != 1 {
			t.Fatalf("%d overdue events", len(over))
		}
		a := over[0].Notification.Audience
		if want := []string{e.UnitID(t, "DEMOCK1TT"), e.UnitID(t, "DEMOCK1")}; !slices.Equal(a.UnitIDs, want) ||
			!slices.Equal(a.Roles, []string{"UNIT_HEAD"}) {
			t.Fatalf("overdue audience %+v, want the unit heads of %v", a, want)
		}
		if n := over[0].Notification; n.TitleVI != "Vướng mắc "+r.Number+" đã quá hạn xử lý" || n.TitleEN != "Issue "+r.Number+" is overdue" {
			t.Fatalf("overdue titles %q / %q", n.TitleVI, n.TitleEN)
		}

		run(tue1130.Add(-time.Minute))
		if n := len(eventsFor(t, e, EventSLAEscalated, id)); n != 0 {
			t.Fatalf("director told before 150 %%")
		}
		run(tue1130)
		run(tue1130.Add(time.Hour))
		dir := eventsFor(t, e, EventSLAEscalated, id)
		if len(dir) != 1 || !slices.Equal(dir[0].Notification.Audience.UnitIDs, []string{e.UnitID(t, "DEMOHQ")}) ||
			!slices.Equal(dir[0].Notification.Audience.Roles, []string{"DIRECTOR"}) {
			t.Fatalf("director events %+v", dir)
		}
		r = row(t, e, id)
		if r.Level != slaLevelDirector || r.NextCheck.Valid {
			t.Fatalf("after 150 %%: level %d, next check %v", r.Level, r.NextCheck)
		}
		if n := e.Count(t, `audit_events WHERE target_id = $1 AND action LIKE 'issue.sla_%' AND actor_kind = 'system'`, id); n != 3 {
			t.Fatalf("%d SLA audit rows, want 3", n)
		}
	})
}

func TestSLAWarningWithoutAssigneeGoesToTheUnitsOfficers(t *testing.T) {
	stack.RunDB(t, slaMount, func(t *testing.T, e *stack.Env) {
		f := fixOf(t, e)
		id := insertIssue(t, e, testIssue{Status: StatusOpen, Created: mon0730})
		f.hook(t, f.svc.slaStart, id, mon0730)
		setClock(e, mon1700.Add(time.Minute))
		// Both levels are due: one run fires them in order.
		if err := f.svc.runSLA(context.Background(), f.sched, id); err != nil {
			t.Fatal(err)
		}
		warn := eventsFor(t, e, EventSLAWarning, id)
		if len(warn) != 1 {
			t.Fatalf("%d warnings", len(warn))
		}
		if a := warn[0].Notification.Audience; len(a.UserIDs) != 0 ||
			!slices.Equal(a.UnitIDs, []string{e.UnitID(t, "DEMOCK1TT")}) || !slices.Equal(a.Roles, []string{"OFFICER"}) {
			t.Fatalf("warning audience %+v, want the officers of DEMOCK1TT", a)
		}
		if n := len(eventsFor(t, e, EventSLAOverdue, id)); n != 1 {
			t.Fatalf("%d overdue events", n)
		}
		if r := row(t, e, id); r.Level != slaLevelOverdue {
			t.Fatalf("level %d", r.Level)
		}
	})
}

func TestSLAPauseMovesTheLevels(t *testing.T) {
	stack.RunDB(t, slaMount, func(t *testing.T, e *stack.Env) {
		f := fixOf(t, e)
		ctx := context.Background()
		id := insertIssue(t, e, testIssue{Assignee: stack.Officer, Created: mon0730})
		f.hook(t, f.svc.slaStart, id, mon0730)

		// Waiting for the enterprise from Monday 10:00 (150 minutes used)
		// to Wednesday 07:30.
		setStatus(t, e, id, StatusWaiting)
		f.hook(t, f.svc.slaPause, id, at(2027, 3, 1, 10, 0))
		r := row(t, e, id)
		if r.Clock.Used != 150 || r.Clock.running() {
			t.Fatalf("paused clock %+v", r.Clock)
		}
		wantTime(t, "due_time", r.Due, time.Time{})
		wantTime(t, "sla_next_check", r.NextCheck, time.Time{})
		if _, ok, _ := f.sched.Get(ctx, slaJobKey(id)); ok {
			t.Fatal("the SLA job is still scheduled while paused")
		}

		// Nothing fires while paused, neither the job nor the sweep.
		setClock(e, at(2027, 3, 2, 16, 0))
		if err := f.svc.runSLA(ctx, f.sched, id); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.sweep(ctx, f.sched); err != nil {
			t.Fatal(err)
		}
		if n := len(eventsFor(t, e, "", id)); n != 0 {
			t.Fatalf("%d events while waiting for the enterprise", n)
		}

		setStatus(t, e, id, StatusAssigned)
		f.hook(t, f.svc.slaResume, id, at(2027, 3, 3, 7, 30))
		r = row(t, e, id)
		// 330 minutes left from Wednesday 07:30: 14:30; 80 % (384) is 234
		// minutes in: 11:24.
		wantTime(t, "due_time", r.Due, at(2027, 3, 3, 14, 30))
		wantTime(t, "sla_next_check", r.NextCheck, at(2027, 3, 3, 11, 24))
		if j, ok, _ := f.sched.Get(ctx, slaJobKey(id)); !ok || !j.Due.Equal(at(2027, 3, 3, 11, 24)) {
			t.Fatalf("SLA job after resuming = %+v, %v", j, ok)
		}
		setClock(e, at(2027, 3, 3, 11, 25))
		if err := f.svc.runSLA(ctx, f.sched, id); err != nil {
			t.Fatal(err)
		}
		if n := len(eventsFor(t, e, EventSLAWarning, id)); n != 1 {
			t.Fatalf("%d warnings after resuming", n)
		}
		if n := len(eventsFor(t, e, EventSLAOverdue, id)); n != 0 {
			t.Fatalf("overdue before the moved deadline")
		}
	})
}

func TestSLALevelPassedWhilePausedFiresAtResume(t *testing.T) {
	stack.RunDB(t, slaMount, func(t *testing.T, e *stack.Env) {
		f := fixOf(t, e)
		id := insertIssue(t, e, testIssue{Assignee: stack.Officer, Created: mon0730})
		f.hook(t, f.svc.slaStart, id, mon0730)
		// Paused at 16:00 with 420 minutes (87.5 %) used, before the 15:24
		// warning ran.
		setStatus(t, e, id, StatusWaiting)
		f.hook(t, f.svc.slaPause, id, at(2027, 3, 1, 16, 0))
		setStatus(t, e, id, StatusAssigned)
		resume := at(2027, 3, 4, 9, 0)
		f.hook(t, f.svc.slaResume, id, resume)
		r := row(t, e, id)
		wantTime(t, "sla_next_check", r.NextCheck, resume)
		wantTime(t, "due_time", r.Due, at(2027, 3, 4, 10, 0))
	})
}

func TestSLATransferRecomputesOnTheNewUnitsCalendar(t *testing.T) {
	stack.RunDB(t, slaMount, func(t *testing.T, e *stack.Env) {
		f := fixOf(t, e)
		ctx := context.Background()
		// The new team works 07:00–15:00 without a lunch break.
		kcn := e.UnitID(t, "DEMOKCNNV")
		if _, err := e.DB.ExecContext(ctx, `INSERT INTO unit_working_hours (unit_id, spans, update_time) VALUES ($1, $2, $3)`,
			kcn, "07:00-15:00", time.Now().UTC()); err != nil {
			t.Fatal(err)
		}
		id := insertIssue(t, e, testIssue{Assignee: stack.Officer, Created: mon0730})
		f.hook(t, f.svc.slaStart, id, mon0730)
		setClock(e, mon1524.Add(time.Minute))
		if err := f.svc.runSLA(ctx, f.sched, id); err != nil {
			t.Fatal(err)
		}

		// Transferred on Monday at 16:00: 420 minutes used on the old
		// calendar; 60 left on the new one from 16:00, i.e. Tuesday
		// 07:00–08:00. 150 % (720) is 300 minutes on: Tuesday 12:00.
		if _, err := e.DB.ExecContext(ctx, `UPDATE issues SET unit_id = $1, assignee_id = NULL, status = 'OPEN' WHERE id = $2`, kcn, id); err != nil {
			t.Fatal(err)
		}
		f.hook(t, f.svc.slaRecalc, id, at(2027, 3, 1, 16, 0))
		r := row(t, e, id)
		if r.Clock.Budget != 480 || r.Clock.Used != 420 || r.Level != slaLevelWarned || r.ClockUnitID != kcn {
			t.Fatalf("transferred clock %+v level %d unit %s", r.Clock, r.Level, r.ClockUnitID)
		}
		wantTime(t, "due_time", r.Due, at(2027, 3, 2, 8, 0))
		wantTime(t, "sla_next_check", r.NextCheck, at(2027, 3, 2, 8, 0))

		setClock(e, at(2027, 3, 2, 8, 1))
		if err := f.svc.runSLA(ctx, f.sched, id); err != nil {
			t.Fatal(err)
		}
		over := eventsFor(t, e, EventSLAOverdue, id)
		if len(over) != 1 || !slices.Equal(over[0].Notification.Audience.UnitIDs, []string{kcn, e.UnitID(t, "DEMOKCN")}) {
			t.Fatalf("overdue events %+v, want the heads of the new unit and its branch", over)
		}
		wantTime(t, "sla_next_check", row(t, e, id).NextCheck, at(2027, 3, 2, 12, 0))
		if n := len(eventsFor(t, e, EventSLAWarning, id)); n != 1 {
			t.Fatalf("the warning was repeated after the transfer: %d", n)
		}
	})
}

func TestSLAStopRecordsTheOutcomeAndReopenStartsARound(t *testing.T) {
	stack.RunDB(t, slaMount, func(t *testing.T, e *stack.Env) {
		f := fixOf(t, e)
		ctx := context.Background()
		id := insertIssue(t, e, testIssue{Assignee: stack.Officer, Created: mon0730})
		f.hook(t, f.svc.slaStart, id, mon0730)

		answered := at(2027, 3, 1, 14, 0)
		setStatus(t, e, id, StatusAnswered)
		f.hook(t, f.svc.slaStop, id, answered)
		r := row(t, e, id)
		if !r.Met.Valid || !r.Met.Bool || r.Clock.running() || r.NextCheck.Valid || r.Due.Valid {
			t.Fatalf("stopped round %+v", r)
		}
		var minutes int64
		if err := e.DB.QueryRowContext(ctx, `SELECT answer_minutes FROM issues WHERE id = $1`, id).Scan(&minutes); err != nil || minutes != 300 {
			t.Fatalf("answer_minutes %d, %v; want 300", minutes, err)
		}
		wantTime(t, "answer_time", r.AnswerTime, answered)
		// Five working days later, same time.
		wantTime(t, "auto_close_time", r.AutoCloseTime, at(2027, 3, 8, 14, 0))
		if _, ok, _ := f.sched.Get(ctx, slaJobKey(id)); ok {
			t.Fatal("SLA job still scheduled after the answer")
		}
		if j, ok, _ := f.sched.Get(ctx, autoCloseJobKey(id)); !ok || !j.Due.Equal(at(2027, 3, 8, 14, 0)) {
			t.Fatalf("auto-close job %+v, %v", j, ok)
		}

		// Reopened on Tuesday at 08:00: a new round, from zero.
		setStatus(t, e, id, StatusReopened)
		f.hook(t, f.svc.slaStart, id, at(2027, 3, 2, 8, 0))
		r = row(t, e, id)
		if r.Round != 2 || r.Level != 0 || r.Met.Valid || r.Clock.Used != 0 || r.AutoCloseTime.Valid {
			t.Fatalf("reopened round %+v", r)
		}
		wantTime(t, "due_time", r.Due, at(2027, 3, 3, 8, 0))
		if _, ok, _ := f.sched.Get(ctx, autoCloseJobKey(id)); ok {
			t.Fatal("auto-close job still scheduled after reopening")
		}

		// Answered late this time.
		setStatus(t, e, id, StatusAnswered)
		f.hook(t, f.svc.slaStop, id, at(2027, 3, 3, 9, 0))
		if r = row(t, e, id); !r.Met.Valid || r.Met.Bool {
			t.Fatalf("late answer recorded as %+v", r.Met)
		}
	})
}

func TestAutoCloseAfterWorkingDays(t *testing.T) {
	stack.RunDB(t, slaMount, func(t *testing.T, e *stack.Env) {
		f := fixOf(t, e)
		ctx := context.Background()
		_, ent := userOf(t, e, stack.XnkStaff)
		id := insertIssue(t, e, testIssue{Assignee: stack.Officer, Created: mon0730})
		f.hook(t, f.svc.slaStart, id, mon0730)
		// Answered on Friday 5 March at 16:00: five working days are up on
		// Friday 12 March at 16:00.
		setStatus(t, e, id, StatusAnswered)
		f.hook(t, f.svc.slaStop, id, at(2027, 3, 5, 16, 0))
		closeAt := at(2027, 3, 12, 16, 0)
		wantTime(t, "auto_close_time", row(t, e, id).AutoCloseTime, closeAt)

		setClock(e, closeAt.Add(-time.Minute))
		if err := f.svc.runAutoClose(ctx, f.sched, id); err != nil {
			t.Fatal(err)
		}
		if r := row(t, e, id); r.Status != StatusAnswered {
			t.Fatalf("closed early: %s", r.Status)
		}
		setClock(e, closeAt.Add(time.Minute))
		for range 2 { // a replayed job closes it once
			if err := f.svc.runAutoClose(ctx, f.sched, id); err != nil {
				t.Fatal(err)
			}
		}
		if r := row(t, e, id); r.Status != StatusClosed {
			t.Fatalf("status %s after the auto-close time", r.Status)
		}
		evs := eventsFor(t, e, EventAutoClosed, id)
		if len(evs) != 1 || !slices.Equal(evs[0].Notification.Audience.EnterpriseIDs, []string{ent}) {
			t.Fatalf("auto-close events %+v", evs)
		}
		if n := e.Count(t, `audit_events WHERE target_id = $1 AND action = 'issue.auto_close' AND actor_kind = 'system'`, id); n != 1 {
			t.Fatalf("%d auto-close audit rows", n)
		}
		if n := e.Count(t, `issue_messages WHERE issue_id = $1 AND kind = 'EVENT' AND visibility = 'PUBLIC' AND author_id IS NULL`, id); n != 1 {
			t.Fatalf("%d EVENT messages", n)
		}
	})
}

func TestAutoCloseSkipsAnIssueThatMovedOn(t *testing.T) {
	stack.RunDB(t, slaMount, func(t *testing.T, e *stack.Env) {
		f := fixOf(t, e)
		ctx := context.Background()
		id := insertIssue(t, e, testIssue{Assignee: stack.Officer, Created: mon0730})
		f.hook(t, f.svc.slaStart, id, mon0730)
		setStatus(t, e, id, StatusAnswered)
		f.hook(t, f.svc.slaStop, id, at(2027, 3, 1, 9, 0))
		// Resolved in time: no closing, and the job is gone.
		setStatus(t, e, id, StatusResolved)
		f.svc.slaAfterCommit(ctx, id)
		if _, ok, _ := f.sched.Get(ctx, autoCloseJobKey(id)); ok {
			t.Fatal("auto-close job still scheduled after resolving")
		}
		setClock(e, at(2027, 3, 20, 9, 0))
		if err := f.svc.runAutoClose(ctx, f.sched, id); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.sweep(ctx, f.sched); err != nil {
			t.Fatal(err)
		}
		if r := row(t, e, id); r.Status != StatusResolved {
			t.Fatalf("status %s", r.Status)
		}
		if n := len(eventsFor(t, e, EventAutoClosed, id)); n != 0 {
			t.Fatalf("%d auto-close events", n)
		}
	})
}

func TestSweepRepairsLostJobs(t *testing.T) {
	stack.RunDB(t, slaMount, func(t *testing.T, e *stack.Env) {
		f := fixOf(t, e)
		ctx := context.Background()
		// Hooks committed, but the process died before slaAfterCommit.
		warn := insertIssue(t, e, testIssue{Assignee: stack.Officer, Created: mon0730})
		answered := insertIssue(t, e, testIssue{Assignee: stack.Officer, Created: mon0730})
		for _, id := range []string{warn, answered} {
			if err := e.DB.Tx(ctx, func(tx *sql.Tx) error { return f.svc.slaStart(ctx, tx, id, mon0730) }); err != nil {
				t.Fatal(err)
			}
		}
		setStatus(t, e, answered, StatusAnswered)
		if err := e.DB.Tx(ctx, func(tx *sql.Tx) error { return f.svc.slaStop(ctx, tx, answered, at(2027, 3, 1, 9, 0)) }); err != nil {
			t.Fatal(err)
		}
		setStatus(t, e, answered, StatusAnswered)

		setClock(e, at(2027, 3, 9, 9, 30))
		if err := f.svc.sweep(ctx, f.sched); err != nil {
			t.Fatal(err)
		}
		for _, kind := range []string{EventSLAWarning, EventSLAOverdue, EventSLAEscalated} {
			if n := len(eventsFor(t, e, kind, warn)); n != 1 {
				t.Fatalf("%d %s events after the sweep", n, kind)
			}
		}
		if r := row(t, e, answered); r.Status != StatusClosed {
			t.Fatalf("answered issue not closed by the sweep: %s", r.Status)
		}
		j, ok, err := f.sched.Get(ctx, sweepJobKey)
		if err != nil || !ok || j.Due.Sub(e.Clock.Now()) < 4*time.Minute {
			t.Fatalf("next sweep %+v, %v, %v", j, ok, err)
		}
	})
}

// Two instances (two services and two schedulers on one database and one
// Redis) run the jobs at the same time: every level is notified once.
func TestSLAJobsFireOnceWithTwoInstances(t *testing.T) {
	stack.RunAll(t, slaMount, func(t *testing.T, e *stack.Env) {
		f := fixOf(t, e)
		svc2, sched2 := newSLAService(e)
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		t.Cleanup(func() { cancel(); wg.Wait() })
		f.svc.RegisterJobs(f.sched)
		svc2.RegisterJobs(sched2)
		setClock(e, mon0730)
		const n = 4
		issues := make([]string, n)
		for i := range issues {
			issues[i] = insertIssue(t, e, testIssue{Assignee: stack.Officer, Created: mon0730})
			f.hook(t, f.svc.slaStart, issues[i], mon0730)
		}
		for _, s := range []*scheduler.Scheduler{f.sched, sched2} {
			wg.Add(1)
			go func() { defer wg.Done(); _ = s.Run(ctx) }()
		}
		// The first two issues are left to the schedulers. On the others,
		// both services also race on the handler directly, as a replayed
		// job or a sweep would.
		race := func() {
			var rw sync.WaitGroup
			for i := range 8 {
				rw.Add(1)
				go func() {
					defer rw.Done()
					svc, sched := f.svc, f.sched
					if i%2 == 1 {
						svc, sched = svc2, sched2
					}
					if err := svc.runSLA(ctx, sched, issues[2+i%(n-2)]); err != nil {
						t.Error(err)
					}
				}()
			}
			rw.Wait()
		}
		for _, step := range []struct {
			at   time.Time
			kind string
		}{{mon1524.Add(time.Minute), EventSLAWarning}, {mon1700.Add(time.Minute), EventSLAOverdue}, {tue1130.Add(time.Minute), EventSLAEscalated}} {
			setClock(e, step.at)
			race()
			testkit.Eventually(t, step.kind+" for every issue", func() bool {
				for _, id := range issues {
					if len(eventsFor(t, e, step.kind, id)) == 0 {
						return false
					}
				}
				return true
			})
		}
		// Let both schedulers finish whatever they claimed, then count.
		testkit.Eventually(t, "no SLA job pending", func() bool {
			for _, id := range issues {
				if _, ok, _ := f.sched.Get(ctx, slaJobKey(id)); ok {
					return false
				}
			}
			return true
		})
		cancel()
		wg.Wait()
		for _, id := range issues {
			for _, kind := range []string{EventSLAWarning, EventSLAOverdue, EventSLAEscalated} {
				if got := len(eventsFor(t, e, kind, id)); got != 1 {
					t.Errorf("issue %s: %d %s events, want 1", id, got, kind)
				}
			}
			if got := e.Count(t, `audit_events WHERE target_id = $1 AND action LIKE 'issue.sla_%'`, id); got != 3 {
				t.Errorf("issue %s: %d SLA audit rows, want 3", id, got)
			}
		}
	})
}
