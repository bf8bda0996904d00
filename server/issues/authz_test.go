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

// TestWrongCallersAreRefused: each rule of who may act on an issue, tried by
// someone it excludes.
func TestWrongCallersAreRefused(t *testing.T) {
	stack.RunDB(t, issueMount(t), func(t *testing.T, e *stack.Env) {
		ctx := context.Background()
		ie := newIssueEnv(t, e)
		second, _ := ie.newOfficer(t, "tt.second@demo.hqconnect.vn", "Phan Văn Hai", "DEMOCK1TT", identityv1.Role_ROLE_OFFICER)
		outsider, _ := ie.newOfficer(t, "kcn.officer@demo.hqconnect.vn", "Vũ Thị Nghiệp Vụ", "DEMOKCNNV", identityv1.Role_ROLE_OFFICER)

		iss := ie.createIssue(t, ie.Staff, catIDHS, "")
		ie.assign(t, iss.Id, ie.id(stack.Officer))
		pending := testkit.Got(ie.Officer.AnswerIssue(ctx, connect.NewRequest(&issuev1.AnswerIssueRequest{
			IssueId: iss.Id, Body: "Dự thảo trả lời về mã HS.",
		}))).Must(t).Answer
		open := ie.createIssue(t, ie.Staff, catIDOther, "")
		ie.assign(t, open.Id, ie.id(stack.Officer))

		for _, tc := range []struct {
			name string
			call func() error
			code connect.Code
		}{
			{"another officer of the unit asks for information", func() error {
				return ieErr(second.RequestInformation(ctx, connect.NewRequest(&issuev1.RequestInformationRequest{
					IssueId: open.Id, Body: "Xin bổ sung hồ sơ."})))
			}, connect.CodePermissionDenied},
			{"another officer of the unit answers", func() error {
				return ieErr(second.AnswerIssue(ctx, connect.NewRequest(&issuev1.AnswerIssueRequest{
					IssueId: open.Id, Body: "Câu trả lời không được phép."})))
			}, connect.CodePermissionDenied},
			{"an enterprise user asks for information", func() error {
				return ieErr(ie.Staff.RequestInformation(ctx, connect.NewRequest(&issuev1.RequestInformationRequest{
					IssueId: open.Id, Body: "Xin bổ sung hồ sơ."})))
			}, connect.CodePermissionDenied},
			{"an officer rejects (no signer role)", func() error {
				return ieErr(second.RejectAnswer(ctx, connect.NewRequest(&issuev1.RejectAnswerRequest{
					IssueId: iss.Id, AnswerId: pending.Id, Reason: "Không đồng ý."})))
			}, connect.CodePermissionDenied},
			{"the author rejects their own answer", func() error {
				return ieErr(ie.Officer.RejectAnswer(ctx, connect.NewRequest(&issuev1.RejectAnswerRequest{
					IssueId: iss.Id, AnswerId: pending.Id, Reason: "Tự trả lại."})))
			}, connect.CodePermissionDenied},
			{"the inspector approves (no signer role)", func() error {
				return ieErr(ie.Inspector.ApproveAnswer(ctx, connect.NewRequest(&issuev1.ApproveAnswerRequest{
					IssueId: iss.Id, AnswerId: pending.Id})))
			}, connect.CodePermissionDenied},
			{"approving an unknown answer", func() error {
				return ieErr(ie.Head.ApproveAnswer(ctx, connect.NewRequest(&issuev1.ApproveAnswerRequest{
					IssueId: iss.Id, AnswerId: open.Id})))
			}, connect.CodeNotFound},
			{"an outside officer closes", func() error {
				return ieErr(outsider.CloseIssue(ctx, connect.NewRequest(&issuev1.CloseIssueRequest{IssueId: open.Id})))
			}, connect.CodeNotFound},
			{"an outside officer transfers", func() error {
				return ieErr(outsider.TransferIssue(ctx, connect.NewRequest(&issuev1.TransferIssueRequest{
					IssueId: open.Id, UnitId: e.UnitID(t, "DEMOKCNNV"), Reason: "Chuyển về đơn vị tôi"})))
			}, connect.CodeNotFound},
			{"an officer closes an unanswered issue", func() error {
				return ieErr(ie.Officer.CloseIssue(ctx, connect.NewRequest(&issuev1.CloseIssueRequest{IssueId: open.Id})))
			}, connect.CodeFailedPrecondition},
			{"an officer reopens", func() error {
				return ieErr(ie.Officer.ReopenIssue(ctx, connect.NewRequest(&issuev1.ReopenIssueRequest{
					IssueId: open.Id, Reason: "Mở lại giúp doanh nghiệp"})))
			}, connect.CodePermissionDenied},
			{"the enterprise resolves before any answer", func() error {
				return ieErr(ie.Staff.ResolveIssue(ctx, connect.NewRequest(&issuev1.ResolveIssueRequest{IssueId: open.Id})))
			}, connect.CodeFailedPrecondition},
			{"anonymous", func() error {
				anon := stackClient(e)
				return ieErr(anon.GetIssue(ctx, connect.NewRequest(&issuev1.GetIssueRequest{IssueId: open.Id})))
			}, connect.CodeUnauthenticated},
		} {
			t.Run(tc.name, func(t *testing.T) { testkit.WantCode(t, tc.call(), tc.code) })
		}
		// Nothing changed.
		wantStatus(t, get(t, ie.Head, iss.Id).Issue, issuev1.IssueStatus_ISSUE_STATUS_PENDING_APPROVAL)
		wantStatus(t, get(t, ie.Head, open.Id).Issue, issuev1.IssueStatus_ISSUE_STATUS_ASSIGNED)
		// The enterprise may withdraw at any time before CLOSED.
		wantStatus(t, testkit.Got(ie.EntAdmin.CloseIssue(ctx, connect.NewRequest(&issuev1.CloseIssueRequest{
			IssueId: iss.Id, Reason: "Đã tự giải quyết",
		}))).Must(t).Issue, issuev1.IssueStatus_ISSUE_STATUS_CLOSED)
		if ie.auditCount(t, "issue.withdraw", iss.Id) != 1 {
			t.Error("withdrawal not audited")
		}
	})
}

// TestAttachmentsAreClaimedWithTheIssue: an upload named in CreateIssue
// belongs to the issue, is readable by its readers, and cannot be claimed
// twice.
func TestAttachmentsAreClaimedWithTheIssue(t *testing.T) {
	stack.RunDB(t, issueMount(t), func(t *testing.T, e *stack.Env) {
		ctx := context.Background()
		ie := newIssueEnv(t, e)
		up := testkit.Got(ie.Staff.UploadAttachment(ctx, connect.NewRequest(&issuev1.UploadAttachmentRequest{
			FileName: "to-khai.txt", ContentType: "text/plain", TotalBytes: 5, Data: []byte("12345"),
		}))).Must(t).Attachment
		iss := testkit.Got(ie.Staff.CreateIssue(ctx, connect.NewRequest(&issuev1.CreateIssueRequest{
			CategoryId: catIDOther, Title: "Tờ khai bị từ chối", Body: "Tờ khai đính kèm bị hệ thống từ chối.",
			AttachmentIds: []string{up.Id},
		}))).Must(t).Issue
		if len(iss.Attachments) != 1 || iss.Attachments[0].Id != up.Id {
			t.Fatalf("attachments %+v", iss.Attachments)
		}
		data := testkit.Got(ie.Officer.GetAttachment(ctx, connect.NewRequest(&issuev1.GetAttachmentRequest{
			IssueId: iss.Id, AttachmentId: up.Id,
		}))).Must(t).Data
		if string(data) != "12345" {
			t.Errorf("officer reads %q", data)
		}
		testkit.WantField(t, ieErr(ie.Staff.CreateIssue(ctx, connect.NewRequest(&issuev1.CreateIssueRequest{
			CategoryId: catIDOther, Title: "Tờ khai bị từ chối", Body: "Tờ khai đính kèm bị hệ thống từ chối.",
			AttachmentIds: []string{up.Id},
		}))), connect.CodeInvalidArgument, "attachment_ids")
		if n := e.Count(t, "issues"); n != 1 {
			t.Errorf("%d issues", n)
		}
	})
}

// stackClient is an IssueService client without a token.
func stackClient(e *stack.Env) issuev1connect.IssueServiceClient {
	return stack.Client(e.Anon(), issuev1connect.NewIssueServiceClient)
}
