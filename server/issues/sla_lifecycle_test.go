package issues

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"connectrpc.com/connect"

	identityv1 "hqconnect/gen/hqconnect/identity/v1"
	issuev1 "hqconnect/gen/hqconnect/issue/v1"
	"hqconnect/internal/testkit"
	"hqconnect/internal/testkit/stack"
)

// within fails unless got is in [want, want+slack): the lifecycle reads the
// running test clock, a few milliseconds past where the test set it.
func within(t *testing.T, what string, got sql.NullTime, want time.Time) {
	t.Helper()
	const slack = time.Minute
	if !got.Valid || got.Time.Before(want) || !got.Time.Before(want.Add(slack)) {
		t.Fatalf("%s = %v (valid %v), want %v", what, got.Time.In(slaCal.Location), got.Valid, want)
	}
}

// The SLA clock driven by the real lifecycle RPCs: created, paused while
// customs waits for the enterprise, resumed by its reply, warned,
// escalated, transferred and escalated to the director on the new unit.
func TestSLAThroughTheLifecycle(t *testing.T) {
	stack.RunDB(t, issueMount(t), func(t *testing.T, e *stack.Env) {
		ie := newIssueEnv(t, e)
		ctx := context.Background()
		runJobs := func(now time.Time) {
			t.Helper()
			setClock(e, now)
			if err := ie.svc.sweep(ctx, e.Scheduler); err != nil {
				t.Fatal(err)
			}
		}
		setClock(e, mon0730)
		created := ie.createIssue(t, ie.Staff, catIDVNACCS, "")
		id := created.Id
		if created.SlaState != issuev1.SlaState_SLA_STATE_ON_TRACK {
			t.Fatalf("new issue %v", created.SlaState)
		}
		within(t, "due_time", row(t, e, id).Due, mon1700)
		if j, ok, _ := e.Scheduler.Get(ctx, slaJobKey(id)); !ok || j.Due.Before(mon1524) || !j.Due.Before(mon1524.Add(time.Minute)) {
			t.Fatalf("SLA job %+v, %v; want due at 15:24", j, ok)
		}

		// Customs asks for information on Monday at 10:00: paused with 150
		// minutes used, and nothing fires until Wednesday.
		setClock(e, at(2027, 3, 1, 10, 0))
		testkit.Got(ie.Officer.RequestInformation(ctx, connect.NewRequest(&issuev1.RequestInformationRequest{
			IssueId: id, Body: "Đề nghị doanh nghiệp gửi ảnh chụp màn hình thông báo lỗi.",
		}))).Must(t)
		if r := row(t, e, id); r.Clock.running() || r.Due.Valid || r.NextCheck.Valid || r.Clock.Used != 150 {
			t.Fatalf("paused row %+v", r)
		}
		if st := get(t, ie.Officer, id).Issue.SlaState; st != issuev1.SlaState_SLA_STATE_PAUSED {
			t.Fatalf("waiting issue %v", st)
		}
		if _, ok, _ := e.Scheduler.Get(ctx, slaJobKey(id)); ok {
			t.Fatal("SLA job scheduled while waiting for the enterprise")
		}
		runJobs(at(2027, 3, 3, 9, 59))
		if err := ie.svc.runSLA(ctx, e.Scheduler, id); err != nil {
			t.Fatal(err)
		}
		for _, kind := range []string{EventSLAWarning, EventSLAOverdue, EventSLAEscalated} {
			if n := len(eventsFor(t, e, kind, id)); n != 0 {
				t.Fatalf("%d %s events while waiting for the enterprise", n, kind)
			}
		}

		// The enterprise replies on Wednesday at 10:00: 330 minutes left,
		// due at 17:00; 80 % is 234 minutes on, at 15:24.
		setClock(e, at(2027, 3, 3, 10, 0))
		testkit.Got(ie.Staff.PostMessage(ctx, connect.NewRequest(&issuev1.PostMessageRequest{
			IssueId: id, Body: "Chúng tôi gửi kèm mô tả chi tiết lỗi.",
		}))).Must(t)
		r := row(t, e, id)
		within(t, "due_time", r.Due, at(2027, 3, 3, 17, 0))
		within(t, "sla_next_check", r.NextCheck, at(2027, 3, 3, 15, 24))

		runJobs(at(2027, 3, 3, 15, 25))
		if n := len(eventsFor(t, e, EventSLAWarning, id)); n != 1 {
			t.Fatalf("%d warnings", n)
		}
		if st := get(t, ie.Officer, id).Issue.SlaState; st != issuev1.SlaState_SLA_STATE_AT_RISK {
			t.Fatalf("state after 80 %%: %v", st)
		}
		runJobs(at(2027, 3, 3, 17, 1))
		if n := len(eventsFor(t, e, EventSLAOverdue, id)); n != 1 {
			t.Fatalf("%d overdue events", n)
		}
		if st := get(t, ie.Staff, id).Issue.SlaState; st != issuev1.SlaState_SLA_STATE_OVERDUE {
			t.Fatalf("state after the deadline: %v", st)
		}

		// Transferred on Thursday at 08:00 (510 minutes used): 150 % (720)
		// is 210 minutes on, 11:30, on the new unit's calendar.
		setClock(e, at(2027, 3, 4, 8, 0))
		testkit.Got(ie.Head.TransferIssue(ctx, connect.NewRequest(&issuev1.TransferIssueRequest{
			IssueId: id, UnitId: e.UnitID(t, "DEMOKCNNV"), Reason: "Thuộc thẩm quyền Chi cục KCN",
		}))).Must(t)
		r = row(t, e, id)
		if r.Clock.Used != 510 || r.ClockUnitID != e.UnitID(t, "DEMOKCNNV") || r.Level != slaLevelOverdue {
			t.Fatalf("transferred row %+v", r)
		}
		within(t, "sla_next_check", r.NextCheck, at(2027, 3, 4, 11, 30))
		runJobs(at(2027, 3, 4, 11, 31))
		if n := len(eventsFor(t, e, EventSLAEscalated, id)); n != 1 {
			t.Fatalf("%d director events", n)
		}

		// An officer of the new team takes it and answers late: the outcome
		// is recorded and the closing scheduled.
		kcn, kcnUser := ie.newOfficer(t, "kcn.sla@demo.hqconnect.vn", "Đỗ Văn Hạn", "DEMOKCNNV", identityv1.Role_ROLE_OFFICER)
		setClock(e, at(2027, 3, 4, 14, 0))
		testkit.Got(kcn.AssignIssue(ctx, connect.NewRequest(&issuev1.AssignIssueRequest{IssueId: id, OfficerId: kcnUser.UserID()}))).Must(t)
		testkit.Got(kcn.AnswerIssue(ctx, connect.NewRequest(&issuev1.AnswerIssueRequest{
			IssueId: id, Body: "Doanh nghiệp thực hiện khai bổ sung theo hướng dẫn của Chi cục.",
		}))).Must(t)
		got := get(t, ie.Staff, id).Issue
		if got.SlaState != issuev1.SlaState_SLA_STATE_MISSED || got.DueTime != nil {
			t.Fatalf("answered issue: %v, due %v", got.SlaState, got.DueTime)
		}
		r = row(t, e, id)
		within(t, "auto_close_time", r.AutoCloseTime, at(2027, 3, 11, 14, 0))
		if _, ok, _ := e.Scheduler.Get(ctx, autoCloseJobKey(id)); !ok {
			t.Fatal("no auto-close job after the answer")
		}
		runJobs(at(2027, 3, 11, 14, 1))
		wantStatus(t, get(t, ie.Staff, id).Issue, issuev1.IssueStatus_ISSUE_STATUS_CLOSED)
		if n := len(eventsFor(t, e, EventAutoClosed, id)); n != 1 {
			t.Fatalf("%d auto-close events", n)
		}
	})
}
