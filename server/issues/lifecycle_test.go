package issues

import (
	"context"
	"strings"
	"testing"

	"connectrpc.com/connect"

	identityv1 "hqconnect/gen/hqconnect/identity/v1"
	issuev1 "hqconnect/gen/hqconnect/issue/v1"
	"hqconnect/internal/testkit"
	"hqconnect/internal/testkit/stack"
)

func TestLifecycleWithoutApproval(t *testing.T) {
	stack.RunDB(t, issueMount(t), func(t *testing.T, e *stack.Env) {
		ctx := context.Background()
		ie := newIssueEnv(t, e)
		iss := ie.createIssue(t, ie.Staff, catIDOther, "")
		wantStatus(t, iss, issuev1.IssueStatus_ISSUE_STATUS_OPEN)
		if !strings.HasPrefix(iss.Number, "VM-") || len(iss.Number) != len("VM-2026-000001") {
			t.Errorf("number %q, want VM-<year>-<6 digits>", iss.Number)
		}
		if iss.UnitId != e.UnitID(t, "DEMOCK1TT") || iss.EnterpriseName != "" || iss.Assignee != nil {
			t.Errorf("new issue: unit %s, enterprise name %q, assignee %v", iss.UnitId, iss.EnterpriseName, iss.Assignee)
		}
		if len(e.Events(t, "issue.created")) != 2 {
			t.Errorf("want the team's queue and the branch head told about the new issue")
		}

		iss = ie.assign(t, iss.Id, ie.id(stack.Officer))
		wantStatus(t, iss, issuev1.IssueStatus_ISSUE_STATUS_ASSIGNED)
		if iss.Assignee.GetUserId() != ie.id(stack.Officer) {
			t.Fatalf("assignee %v", iss.Assignee)
		}
		if evs := e.Events(t, "issue.assigned"); len(evs) != 1 || evs[0].Notification.Audience.UserIDs[0] != ie.id(stack.Officer) {
			t.Errorf("assignment events %+v", evs)
		}

		iss = testkit.Got(ie.Officer.RequestInformation(ctx, connect.NewRequest(&issuev1.RequestInformationRequest{
			IssueId: iss.Id, Body: "Xin gửi bản chụp màn hình thông báo lỗi.",
		}))).Must(t).Issue
		wantStatus(t, iss, issuev1.IssueStatus_ISSUE_STATUS_WAITING_ENTERPRISE)
		if iss.SlaState != issuev1.SlaState_SLA_STATE_PAUSED {
			t.Errorf("waiting issue SLA %v, want PAUSED", iss.SlaState)
		}
		if iss.FirstResponseMinutes < 0 || len(e.Events(t, "issue.information_requested")) != 1 {
			t.Errorf("first response %d, events %d", iss.FirstResponseMinutes, len(e.Events(t, "issue.information_requested")))
		}
		// Only the assignee or a unit head asks or answers.
		testkit.WantCode(t, ieErr(ie.Inspector.AnswerIssue(ctx, connect.NewRequest(&issuev1.AnswerIssueRequest{
			IssueId: iss.Id, Body: "Đây là câu trả lời của thanh tra.",
		}))), connect.CodePermissionDenied)

		reply := testkit.Got(ie.Staff.PostMessage(ctx, connect.NewRequest(&issuev1.PostMessageRequest{
			IssueId: iss.Id, Body: "Chúng tôi gửi kèm mô tả lỗi: mã lỗi E1234.",
		}))).Must(t)
		wantStatus(t, reply.Issue, issuev1.IssueStatus_ISSUE_STATUS_ASSIGNED)
		if reply.Message.Visibility != issuev1.Visibility_VISIBILITY_PUBLIC || reply.Message.Author.GetOfficer() {
			t.Errorf("reply %+v", reply.Message)
		}

		ans := testkit.Got(ie.Officer.AnswerIssue(ctx, connect.NewRequest(&issuev1.AnswerIssueRequest{
			IssueId: iss.Id, Body: "Doanh nghiệp khai lại theo hướng dẫn tại mục 3.", LegalReference: "Thông tư 38/2015/TT-BTC",
		}))).Must(t)
		wantStatus(t, ans.Issue, issuev1.IssueStatus_ISSUE_STATUS_ANSWERED)
		if ans.Answer.State != "PUBLISHED" || ans.Answer.SignedBy.GetUserId() != ie.id(stack.Officer) ||
			ans.Answer.OnBehalfOf != "" || !strings.Contains(ans.Answer.Body, "Thông tư 38/2015") ||
			!strings.HasSuffix(ans.Answer.SignatureLine, "Nguyễn Văn Cán Bộ") {
			t.Errorf("answer without approval: %+v", ans.Answer)
		}
		if len(e.Events(t, "issue.answered")) != 1 {
			t.Error("the enterprise was not told of the answer")
		}

		iss = testkit.Got(ie.Staff.ResolveIssue(ctx, connect.NewRequest(&issuev1.ResolveIssueRequest{IssueId: iss.Id}))).Must(t).Issue
		wantStatus(t, iss, issuev1.IssueStatus_ISSUE_STATUS_RESOLVED)
		if iss.ResolutionCount != 1 {
			t.Errorf("resolution count %d", iss.ResolutionCount)
		}
		iss = testkit.Got(ie.Staff.ReopenIssue(ctx, connect.NewRequest(&issuev1.ReopenIssueRequest{
			IssueId: iss.Id, Reason: "Khai lại vẫn báo lỗi E1234.",
		}))).Must(t).Issue
		wantStatus(t, iss, issuev1.IssueStatus_ISSUE_STATUS_REOPENED)
		if iss.Assignee.GetUserId() != ie.id(stack.Officer) {
			t.Error("reopening lost the assignee")
		}
		// A reopened issue that waits comes back REOPENED.
		iss = testkit.Got(ie.Officer.RequestInformation(ctx, connect.NewRequest(&issuev1.RequestInformationRequest{
			IssueId: iss.Id, Body: "Xin gửi số tờ khai mới.",
		}))).Must(t).Issue
		reply = testkit.Got(ie.EntAdmin.PostMessage(ctx, connect.NewRequest(&issuev1.PostMessageRequest{
			IssueId: iss.Id, Body: "Số tờ khai mới là 105123456789.",
		}))).Must(t)
		wantStatus(t, reply.Issue, issuev1.IssueStatus_ISSUE_STATUS_REOPENED)

		testkit.Got(ie.Head.AnswerIssue(ctx, connect.NewRequest(&issuev1.AnswerIssueRequest{
			IssueId: iss.Id, Body: "Lãnh đạo chi cục trả lời: khai bổ sung theo mẫu.",
		}))).Must(t)
		// Enterprise users cannot close through the officers' path, and
		// officers close only answered issues.
		iss = testkit.Got(ie.Officer.CloseIssue(ctx, connect.NewRequest(&issuev1.CloseIssueRequest{IssueId: iss.Id}))).Must(t).Issue
		wantStatus(t, iss, issuev1.IssueStatus_ISSUE_STATUS_CLOSED)
		testkit.WantCode(t, ieErr(ie.Staff.PostMessage(ctx, connect.NewRequest(&issuev1.PostMessageRequest{
			IssueId: iss.Id, Body: "Còn một câu hỏi nữa.",
		}))), connect.CodeFailedPrecondition)
		testkit.WantCode(t, ieErr(ie.Staff.ReopenIssue(ctx, connect.NewRequest(&issuev1.ReopenIssueRequest{
			IssueId: iss.Id, Reason: "Vẫn chưa được.",
		}))), connect.CodeFailedPrecondition)

		full := get(t, ie.Staff, iss.Id)
		if len(full.Answers) != 2 || full.Issue.ResolutionCount != 1 {
			t.Errorf("answers %d, resolutions %d", len(full.Answers), full.Issue.ResolutionCount)
		}
		for action, n := range map[string]int{"issue.create": 1, "issue.assign": 1, "issue.request_info": 2, "issue.reply": 2,
			"issue.answer": 2, "issue.resolve": 1, "issue.reopen": 1, "issue.close": 1} {
			if got := ie.auditCount(t, action, iss.Id); got != n {
				t.Errorf("audit %s: %d rows, want %d", action, got, n)
			}
		}
	})
}

func TestLifecycleWithApproval(t *testing.T) {
	stack.RunDB(t, issueMount(t), func(t *testing.T, e *stack.Env) {
		ctx := context.Background()
		ie := newIssueEnv(t, e)
		iss := ie.createIssue(t, ie.Staff, catIDHS, "Phân loại mã HS cho máy bơm")
		ie.assign(t, iss.Id, ie.id(stack.Officer))
		ans := testkit.Got(ie.Officer.AnswerIssue(ctx, connect.NewRequest(&issuev1.AnswerIssueRequest{
			IssueId: iss.Id, Body: "Máy bơm thuộc nhóm 8413, phân nhóm 8413.70.",
		}))).Must(t)
		wantStatus(t, ans.Issue, issuev1.IssueStatus_ISSUE_STATUS_PENDING_APPROVAL)
		if ans.Answer.State != "PENDING_APPROVAL" || ans.Answer.SignedBy != nil {
			t.Errorf("pending answer %+v", ans.Answer)
		}
		if evs := e.Events(t, "issue.approval_requested"); len(evs) != 1 || evs[0].Notification.Audience.Roles[0] != "UNIT_HEAD" {
			t.Errorf("approval request events %+v", evs)
		}
		// The enterprise sees work in progress and no answer.
		seen := get(t, ie.Staff, iss.Id)
		wantStatus(t, seen.Issue, issuev1.IssueStatus_ISSUE_STATUS_ASSIGNED)
		if len(seen.Answers) != 0 {
			t.Errorf("the enterprise sees %d unpublished answers", len(seen.Answers))
		}
		approve := func(c interface {
			ApproveAnswer(context.Context, *connect.Request[issuev1.ApproveAnswerRequest]) (*connect.Response[issuev1.ApproveAnswerResponse], error)
		}, issueID, answerID string) error {
			_, err := c.ApproveAnswer(ctx, connect.NewRequest(&issuev1.ApproveAnswerRequest{IssueId: issueID, AnswerId: answerID}))
			return err
		}
		// The author and a plain officer may not sign; an outsider does not
		// even see the issue.
		testkit.WantCode(t, approve(ie.Officer, iss.Id, ans.Answer.Id), connect.CodePermissionDenied)
		testkit.WantCode(t, approve(ie.Staff, iss.Id, ans.Answer.Id), connect.CodePermissionDenied)
		outsider, _ := ie.newOfficer(t, "kcn.head@demo.hqconnect.vn", "Đỗ Văn Trưởng", "DEMOKCN", identityv1.Role_ROLE_UNIT_HEAD)
		testkit.WantCode(t, approve(outsider, iss.Id, ans.Answer.Id), connect.CodeNotFound)

		// The head sends it back: the reason is for the author only.
		rej := testkit.Got(ie.Head.RejectAnswer(ctx, connect.NewRequest(&issuev1.RejectAnswerRequest{
			IssueId: iss.Id, AnswerId: ans.Answer.Id, Reason: "Cần dẫn chiếu chú giải chương 84.",
		}))).Must(t)
		wantStatus(t, rej.Issue, issuev1.IssueStatus_ISSUE_STATUS_ASSIGNED)
		if evs := e.Events(t, "issue.answer_rejected"); len(evs) != 1 || evs[0].Notification.Audience.UserIDs[0] != ie.id(stack.Officer) {
			t.Errorf("rejection events %+v", evs)
		}
		officerView := get(t, ie.Officer, iss.Id)
		if len(officerView.Answers) != 1 || officerView.Answers[0].State != "REJECTED" ||
			officerView.Answers[0].RejectReason != "Cần dẫn chiếu chú giải chương 84." {
			t.Errorf("officer's view of the rejected answer %+v", officerView.Answers)
		}

		// The head answers themselves: four eyes, so the head cannot sign
		// it; the director can.
		ans2 := testkit.Got(ie.Head.AnswerIssue(ctx, connect.NewRequest(&issuev1.AnswerIssueRequest{
			IssueId: iss.Id, Body: "Máy bơm thuộc phân nhóm 8413.70 theo chú giải chương 84.",
		}))).Must(t)
		testkit.WantCode(t, approve(ie.Head, iss.Id, ans2.Answer.Id), connect.CodePermissionDenied)
		signed := testkit.Got(ie.Director.ApproveAnswer(ctx, connect.NewRequest(&issuev1.ApproveAnswerRequest{
			IssueId: iss.Id, AnswerId: ans2.Answer.Id,
		}))).Must(t)
		wantStatus(t, signed.Issue, issuev1.IssueStatus_ISSUE_STATUS_ANSWERED)
		if a := signed.Answer; a.State != "PUBLISHED" || a.SignedBy.GetUserId() != ie.id(stack.Director) ||
			a.SignerRole != "DIRECTOR" || a.OnBehalfOf != "" || a.SignatureLine != "CỤC TRƯỞNG / Lê Văn Cục Trưởng" {
			t.Errorf("director's signature %+v", a)
		}
		if ie.auditCount(t, "issue.approve", iss.Id) != 1 || ie.auditCount(t, "issue.reject", iss.Id) != 1 {
			t.Error("approval and rejection not audited")
		}

		// A second issue signed by the head on the director's behalf.
		iss2 := ie.createIssue(t, ie.Staff, catIDHS, "Phân loại mã HS cho van")
		ie.assign(t, iss2.Id, ie.id(stack.Officer))
		ans3 := testkit.Got(ie.Officer.AnswerIssue(ctx, connect.NewRequest(&issuev1.AnswerIssueRequest{
			IssueId: iss2.Id, Body: "Van thuộc nhóm 8481 theo chú giải chương 84.",
		}))).Must(t)
		byHead := testkit.Got(ie.Head.ApproveAnswer(ctx, inEnglish(&issuev1.ApproveAnswerRequest{
			IssueId: iss2.Id, AnswerId: ans3.Answer.Id,
		}))).Must(t)
		if a := byHead.Answer; a.SignerRole != "UNIT_HEAD" || a.OnBehalfOf != "DIRECTOR" ||
			a.SignatureLine != "For the Director / Head of Branch / Trần Thị Chi Cục Trưởng" || a.Author.GetUserId() != ie.id(stack.Officer) {
			t.Errorf("head's signature %+v", a)
		}
		vi := get(t, ie.Staff, iss2.Id).Answers
		if len(vi) != 1 || vi[0].SignatureLine != "KT. CỤC TRƯỞNG / CHI CỤC TRƯỞNG / Trần Thị Chi Cục Trưởng" {
			t.Errorf("enterprise's view of the signature %+v", vi)
		}
		// Approving twice is an illegal transition.
		testkit.WantCode(t, approve(ie.Head, iss2.Id, ans3.Answer.Id), connect.CodeFailedPrecondition)
	})
}

// ieErr keeps the error of a call.
func ieErr[T any](_ *connect.Response[T], err error) error { return err }
