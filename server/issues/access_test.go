package issues

import (
	"context"
	"testing"

	"connectrpc.com/connect"

	identityv1 "hqconnect/gen/hqconnect/identity/v1"
	issuev1 "hqconnect/gen/hqconnect/issue/v1"
	"hqconnect/gen/hqconnect/issue/v1/issuev1connect"
	"hqconnect/internal/testkit"
	"hqconnect/internal/testkit/stack"
)

// listed reports whether client's default listing holds issue id.
func listed(t *testing.T, client issuev1connect.IssueServiceClient, id string) bool {
	t.Helper()
	res := testkit.Got(client.ListIssues(context.Background(), connect.NewRequest(&issuev1.ListIssuesRequest{PageSize: 200}))).Must(t)
	for _, i := range res.Issues {
		if i.Id == id {
			return true
		}
	}
	return false
}

// TestOtherEnterpriseSeesNothing: enterprise B cannot read, reply to,
// resolve, reopen, close or download from enterprise A's issue; each is
// NotFound, and B's listing does not hold it.
func TestOtherEnterpriseSeesNothing(t *testing.T) {
	stack.RunDB(t, issueMount(t), func(t *testing.T, e *stack.Env) {
		ctx := context.Background()
		ie := newIssueEnv(t, e)
		iss := ie.createIssue(t, ie.Staff, catIDOther, "")
		ie.assign(t, iss.Id, ie.id(stack.Officer))
		testkit.Got(ie.Officer.AnswerIssue(ctx, connect.NewRequest(&issuev1.AnswerIssueRequest{
			IssueId: iss.Id, Body: "Câu trả lời cho doanh nghiệp A.",
		}))).Must(t)
		b := ie.OtherStaff
		for name, call := range map[string]func() error{
			"GetIssue": func() error {
				return ieErr(b.GetIssue(ctx, connect.NewRequest(&issuev1.GetIssueRequest{IssueId: iss.Id})))
			},
			"PostMessage": func() error {
				return ieErr(b.PostMessage(ctx, connect.NewRequest(&issuev1.PostMessageRequest{IssueId: iss.Id, Body: "Xin chào"})))
			},
			"ResolveIssue": func() error {
				return ieErr(b.ResolveIssue(ctx, connect.NewRequest(&issuev1.ResolveIssueRequest{IssueId: iss.Id})))
			},
			"ReopenIssue": func() error {
				return ieErr(b.ReopenIssue(ctx, connect.NewRequest(&issuev1.ReopenIssueRequest{IssueId: iss.Id, Reason: "Chưa đúng ý"})))
			},
			"CloseIssue": func() error {
				return ieErr(b.CloseIssue(ctx, connect.NewRequest(&issuev1.CloseIssueRequest{IssueId: iss.Id})))
			},
			"GetAttachment": func() error {
				return ieErr(b.GetAttachment(ctx, connect.NewRequest(&issuev1.GetAttachmentRequest{
					IssueId: iss.Id, AttachmentId: iss.Id,
				})))
			},
		} {
			t.Run(name, func(t *testing.T) { testkit.WantCode(t, call(), connect.CodeNotFound) })
		}
		if listed(t, b, iss.Id) {
			t.Error("enterprise B lists A's issue")
		}
		if !listed(t, ie.EntAdmin, iss.Id) {
			t.Error("A's administrator does not list A's issue")
		}
		wantStatus(t, get(t, ie.Staff, iss.Id).Issue, issuev1.IssueStatus_ISSUE_STATUS_ANSWERED)
		// Officers-only operations refuse enterprise users outright.
		testkit.WantCode(t, ieErr(ie.Staff.AssignIssue(ctx, connect.NewRequest(&issuev1.AssignIssueRequest{IssueId: iss.Id}))),
			connect.CodePermissionDenied)
		testkit.WantCode(t, ieErr(ie.Officer.ResolveIssue(ctx, connect.NewRequest(&issuev1.ResolveIssueRequest{IssueId: iss.Id}))),
			connect.CodePermissionDenied)
		testkit.WantField(t, ieErr(ie.Staff.PostMessage(ctx, connect.NewRequest(&issuev1.PostMessageRequest{
			IssueId: iss.Id, Body: "Ghi chú nội bộ?", Visibility: issuev1.Visibility_VISIBILITY_INTERNAL,
		}))), connect.CodeInvalidArgument, "visibility")
	})
}

// TestOfficerOutsideTheUnit: an officer of another branch does not see a
// DEMOCK1TT issue until it is transferred to their unit; then the first
// team's officer, no longer its assignee, does not.
func TestOfficerOutsideTheUnit(t *testing.T) {
	stack.RunDB(t, issueMount(t), func(t *testing.T, e *stack.Env) {
		ctx := context.Background()
		ie := newIssueEnv(t, e)
		kcn, kcnUser := ie.newOfficer(t, "kcn.officer@demo.hqconnect.vn", "Vũ Thị Nghiệp Vụ", "DEMOKCNNV", identityv1.Role_ROLE_OFFICER)
		iss := ie.createIssue(t, ie.Staff, catIDOther, "")
		ie.assign(t, iss.Id, ie.id(stack.Officer))

		testkit.WantCode(t, ieErr(kcn.GetIssue(ctx, connect.NewRequest(&issuev1.GetIssueRequest{IssueId: iss.Id}))), connect.CodeNotFound)
		testkit.WantCode(t, ieErr(kcn.PostMessage(ctx, connect.NewRequest(&issuev1.PostMessageRequest{
			IssueId: iss.Id, Body: "Ghi chú", Visibility: issuev1.Visibility_VISIBILITY_INTERNAL,
		}))), connect.CodeNotFound)
		testkit.WantCode(t, ieErr(kcn.AssignIssue(ctx, connect.NewRequest(&issuev1.AssignIssueRequest{IssueId: iss.Id}))), connect.CodeNotFound)
		if listed(t, kcn, iss.Id) {
			t.Fatal("the outside officer lists the issue")
		}
		// Listing another branch's unit is refused.
		testkit.WantField(t, ieErr(kcn.ListIssues(ctx, connect.NewRequest(&issuev1.ListIssuesRequest{UnitId: e.UnitID(t, "DEMOCK1TT")}))),
			connect.CodeInvalidArgument, "unit_id")

		// A plain officer who is not the assignee may not transfer.
		other, _ := ie.newOfficer(t, "tt.second@demo.hqconnect.vn", "Phan Văn Hai", "DEMOCK1TT", identityv1.Role_ROLE_OFFICER)
		testkit.WantCode(t, ieErr(other.TransferIssue(ctx, connect.NewRequest(&issuev1.TransferIssueRequest{
			IssueId: iss.Id, UnitId: e.UnitID(t, "DEMOKCNNV"), Reason: "Không thuộc thẩm quyền",
		}))), connect.CodePermissionDenied)
		testkit.WantField(t, ieErr(ie.Head.TransferIssue(ctx, connect.NewRequest(&issuev1.TransferIssueRequest{
			IssueId: iss.Id, UnitId: e.UnitID(t, "DEMOCK1TT"), Reason: "Không thuộc thẩm quyền",
		}))), connect.CodeInvalidArgument, "unit_id")
		testkit.WantField(t, ieErr(ie.Head.TransferIssue(ctx, connect.NewRequest(&issuev1.TransferIssueRequest{
			IssueId: iss.Id, UnitId: e.UnitID(t, "DEMOKCNNV"), Reason: "x",
		}))), connect.CodeInvalidArgument, "reason")

		moved := testkit.Got(ie.Officer.TransferIssue(ctx, connect.NewRequest(&issuev1.TransferIssueRequest{
			IssueId: iss.Id, UnitId: e.UnitID(t, "DEMOKCNNV"), Reason: "Hàng hóa làm thủ tục tại khu công nghiệp",
		}))).Must(t).Issue
		wantStatus(t, moved, issuev1.IssueStatus_ISSUE_STATUS_OPEN)
		if moved.Assignee != nil || moved.UnitId != e.UnitID(t, "DEMOKCNNV") {
			t.Fatalf("transferred issue: unit %s, assignee %v", moved.UnitId, moved.Assignee)
		}
		if evs := e.Events(t, "issue.transferred"); len(evs) != 1 || evs[0].Notification.Audience.UnitIDs[0] != e.UnitID(t, "DEMOKCNNV") {
			t.Errorf("transfer events %+v", evs)
		}

		get(t, kcn, iss.Id)
		if !listed(t, kcn, iss.Id) {
			t.Error("the new unit's officer does not list the transferred issue")
		}
		testkit.WantCode(t, ieErr(ie.Officer.GetIssue(ctx, connect.NewRequest(&issuev1.GetIssueRequest{IssueId: iss.Id}))), connect.CodeNotFound)
		// The first branch's head no longer sees it either; the director does.
		testkit.WantCode(t, ieErr(ie.Head.GetIssue(ctx, connect.NewRequest(&issuev1.GetIssueRequest{IssueId: iss.Id}))), connect.CodeNotFound)
		get(t, ie.Director, iss.Id)

		// The new unit's officer takes it for themselves.
		mine := testkit.Got(kcn.AssignIssue(ctx, connect.NewRequest(&issuev1.AssignIssueRequest{IssueId: iss.Id}))).Must(t).Issue
		if mine.Assignee.GetUserId() != kcnUser.UserID() {
			t.Errorf("self-assignment gave %v", mine.Assignee)
		}
	})
}

// TestAssignRules: who may assign, to whom, and the least-loaded choice.
func TestAssignRules(t *testing.T) {
	stack.RunDB(t, issueMount(t), func(t *testing.T, e *stack.Env) {
		ctx := context.Background()
		ie := newIssueEnv(t, e)
		second, secondUser := ie.newOfficer(t, "tt.second@demo.hqconnect.vn", "Phan Văn Hai", "DEMOCK1TT", identityv1.Role_ROLE_OFFICER)
		assignAs := func(c issuev1connect.IssueServiceClient, issueID, officer string) error {
			return ieErr(c.AssignIssue(ctx, connect.NewRequest(&issuev1.AssignIssueRequest{IssueId: issueID, OfficerId: officer})))
		}

		iss := ie.createIssue(t, ie.Staff, catIDOther, "")
		// An officer may not give it to someone else…
		testkit.WantCode(t, assignAs(ie.Officer, iss.Id, secondUser.UserID()), connect.CodePermissionDenied)
		// …but may take it.
		testkit.Got(ie.Officer.AssignIssue(ctx, connect.NewRequest(&issuev1.AssignIssueRequest{IssueId: iss.Id}))).Must(t)
		// Once taken, another officer may not take it over.
		testkit.WantCode(t, assignAs(second, iss.Id, secondUser.UserID()), connect.CodePermissionDenied)
		// The head may re-assign it, only to an active officer of its unit.
		testkit.WantField(t, assignAs(ie.Head, iss.Id, ie.id(stack.Director)), connect.CodeInvalidArgument, "officer_id")
		testkit.WantField(t, assignAs(ie.Head, iss.Id, "not-an-id"), connect.CodeInvalidArgument, "officer_id")
		if a := ie.assign(t, iss.Id, secondUser.UserID()).Assignee; a.GetUserId() != secondUser.UserID() {
			t.Errorf("re-assigned to %v", a)
		}

		// The least-loaded officer: the demo officer has nothing in work now.
		iss2 := ie.createIssue(t, ie.Staff, catIDOther, "")
		if a := ie.assign(t, iss2.Id, "").Assignee; a.GetUserId() != ie.id(stack.Officer) {
			t.Errorf("least-loaded gave %v, want the demo officer", a)
		}
		// Now both have one; the tie goes to the fewest in total, then id.
		iss3 := ie.createIssue(t, ie.Staff, catIDOther, "")
		first := ie.assign(t, iss3.Id, "").Assignee.GetUserId()
		iss4 := ie.createIssue(t, ie.Staff, catIDOther, "")
		if next := ie.assign(t, iss4.Id, "").Assignee.GetUserId(); next == first {
			t.Errorf("both ties went to %s", first)
		}

		// Auto-assigning categories assign at creation, in the same change.
		auto := ie.createIssue(t, ie.Staff, catIDVNACCS, "Lỗi VNACCS khi truyền tờ khai")
		wantStatus(t, auto, issuev1.IssueStatus_ISSUE_STATUS_ASSIGNED)
		if auto.Assignee == nil || ie.auditCount(t, "issue.assign", auto.Id) != 1 {
			t.Errorf("auto-assigned issue %v", auto.Assignee)
		}

		// A unit without officers: the head of the branch's other team must
		// name someone.
		ks := ie.createIssue(t, ie.Staff, catIDOther, "")
		testkit.Got(ie.Head.TransferIssue(ctx, connect.NewRequest(&issuev1.TransferIssueRequest{
			IssueId: ks.Id, UnitId: e.UnitID(t, "DEMOCK1KS"), Reason: "Thuộc lĩnh vực kiểm soát",
		}))).Must(t)
		testkit.WantCode(t, assignAs(ie.Head, ks.Id, ""), connect.CodeFailedPrecondition)

		// Illegal transitions.
		testkit.Got(ie.Officer.AnswerIssue(ctx, connect.NewRequest(&issuev1.AnswerIssueRequest{
			IssueId: iss2.Id, Body: "Câu trả lời đầy đủ cho doanh nghiệp.",
		}))).Must(t)
		testkit.WantCode(t, assignAs(ie.Head, iss2.Id, ""), connect.CodeFailedPrecondition)
		testkit.WantCode(t, ieErr(ie.Staff.ReopenIssue(ctx, connect.NewRequest(&issuev1.ReopenIssueRequest{
			IssueId: ks.Id, Reason: "Mở lại vướng mắc",
		}))), connect.CodeFailedPrecondition)
	})
}
