package issues

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	issuev1 "hqconnect/gen/hqconnect/issue/v1"
	"hqconnect/internal/testkit"
	"hqconnect/internal/testkit/stack"
)

// TestInternalNotesNeverLeak walks an issue through its whole life with
// internal notes, an internal attachment, transfer and reject reasons and
// an unpublished draft, and checks that no enterprise-facing response and no
// notification addressed to the enterprise carries any of them (nor the
// enterprise's name, nor the PENDING_APPROVAL status).
func TestInternalNotesNeverLeak(t *testing.T) {
	stack.RunDB(t, issueMount(t), func(t *testing.T, e *stack.Env) {
		ctx := context.Background()
		ie := newIssueEnv(t, e)
		var entName string
		if err := e.DB.QueryRowContext(ctx, `SELECT name FROM enterprises WHERE id = $1`,
			ie.Users[stack.XnkStaff].EnterpriseID()).Scan(&entName); err != nil {
			t.Fatal(err)
		}
		secrets := []string{"SECRET-NOTE", "SECRET-TRANSFER", "SECRET-REJECT", "SECRET-DRAFT", "SECRET-FILE",
			"SECRET-SECOND-NOTE", entName, "PENDING_APPROVAL"}
		// check reads everything the enterprise can read and checks it,
		// with what a mutation just returned.
		check := func(step string, issueID string, extra ...proto.Message) {
			t.Helper()
			full := get(t, ie.Staff, issueID)
			list := testkit.Got(ie.Staff.ListIssues(ctx, connect.NewRequest(&issuev1.ListIssuesRequest{}))).Must(t)
			leaks(t, step, secrets, append(extra, full, list)...)
			for _, m := range full.Messages {
				if m.Visibility != issuev1.Visibility_VISIBILITY_PUBLIC {
					t.Fatalf("%s: the enterprise sees a %v message", step, m.Visibility)
				}
			}
		}

		iss := ie.createIssue(t, ie.Staff, catIDHS, "Phân loại mã HS cho linh kiện")
		ie.assign(t, iss.Id, ie.id(stack.Officer))
		check("assigned", iss.Id)

		// An internal note with an internal attachment.
		up := testkit.Got(ie.Officer.UploadAttachment(ctx, connect.NewRequest(&issuev1.UploadAttachmentRequest{
			FileName: "SECRET-FILE.txt", ContentType: "text/plain", TotalBytes: 11, Data: []byte("hello world"),
		}))).Must(t)
		if up.Attachment == nil {
			t.Fatalf("upload not finished: %+v", up)
		}
		note := testkit.Got(ie.Officer.PostMessage(ctx, connect.NewRequest(&issuev1.PostMessageRequest{
			IssueId: iss.Id, Visibility: issuev1.Visibility_VISIBILITY_INTERNAL, Body: "SECRET-NOTE: hỏi ý kiến phòng thuế",
			AttachmentIds: []string{up.Attachment.Id},
		}))).Must(t)
		if len(note.Message.Attachments) != 1 {
			t.Errorf("the note's attachment is missing for its author: %+v", note.Message)
		}
		testkit.WantCode(t, ieErr(ie.Staff.GetAttachment(ctx, connect.NewRequest(&issuev1.GetAttachmentRequest{
			IssueId: iss.Id, AttachmentId: up.Attachment.Id,
		}))), connect.CodeNotFound)
		got := testkit.Got(ie.Head.GetAttachment(ctx, connect.NewRequest(&issuev1.GetAttachmentRequest{
			IssueId: iss.Id, AttachmentId: up.Attachment.Id,
		}))).Must(t)
		if string(got.Data) != "hello world" {
			t.Errorf("officer reads %q", got.Data)
		}
		check("internal note", iss.Id)

		pub := testkit.Got(ie.Officer.PostMessage(ctx, connect.NewRequest(&issuev1.PostMessageRequest{
			IssueId: iss.Id, Body: "Chúng tôi đang xem xét hồ sơ.",
		}))).Must(t)
		if pub.Issue.FirstResponseMinutes < 0 || pub.Issue.SlaState == issuev1.SlaState_SLA_STATE_UNSPECIFIED {
			t.Errorf("after the first public reply: %+v", pub.Issue)
		}
		check("public reply", iss.Id)

		// Two transfers with reasons, and back to work.
		for _, unit := range []string{"DEMOCK1KS", "DEMOCK1TT"} {
			testkit.Got(ie.Head.TransferIssue(ctx, connect.NewRequest(&issuev1.TransferIssueRequest{
				IssueId: iss.Id, UnitId: e.UnitID(t, unit), Reason: "SECRET-TRANSFER sang " + unit,
			}))).Must(t)
			check("transfer to "+unit, iss.Id)
		}
		ie.assign(t, iss.Id, ie.id(stack.Officer))

		testkit.Got(ie.Officer.RequestInformation(ctx, connect.NewRequest(&issuev1.RequestInformationRequest{
			IssueId: iss.Id, Body: "Xin gửi catalogue linh kiện.",
		}))).Must(t)
		reply := testkit.Got(ie.Staff.PostMessage(ctx, connect.NewRequest(&issuev1.PostMessageRequest{
			IssueId: iss.Id, Body: "Catalogue đính kèm trong email.",
		}))).Must(t)
		check("enterprise reply", iss.Id, reply)

		// A draft that is rejected, then one that is approved.
		draft := testkit.Got(ie.Officer.AnswerIssue(ctx, connect.NewRequest(&issuev1.AnswerIssueRequest{
			IssueId: iss.Id, Body: "SECRET-DRAFT: linh kiện thuộc nhóm 8536.",
		}))).Must(t)
		check("pending draft", iss.Id)
		testkit.Got(ie.Head.RejectAnswer(ctx, connect.NewRequest(&issuev1.RejectAnswerRequest{
			IssueId: iss.Id, AnswerId: draft.Answer.Id, Reason: "SECRET-REJECT: sai nhóm",
		}))).Must(t)
		check("rejected draft", iss.Id)
		final := testkit.Got(ie.Officer.AnswerIssue(ctx, connect.NewRequest(&issuev1.AnswerIssueRequest{
			IssueId: iss.Id, Body: "Linh kiện thuộc nhóm 8538 theo chú giải chương 85.",
		}))).Must(t)
		testkit.Got(ie.Head.ApproveAnswer(ctx, connect.NewRequest(&issuev1.ApproveAnswerRequest{
			IssueId: iss.Id, AnswerId: final.Answer.Id,
		}))).Must(t)
		check("approved answer", iss.Id)
		if answers := get(t, ie.Staff, iss.Id).Answers; len(answers) != 1 || answers[0].Id != final.Answer.Id {
			t.Errorf("the enterprise sees answers %+v", answers)
		}

		resolved := testkit.Got(ie.Staff.ResolveIssue(ctx, connect.NewRequest(&issuev1.ResolveIssueRequest{IssueId: iss.Id}))).Must(t)
		reopened := testkit.Got(ie.Staff.ReopenIssue(ctx, connect.NewRequest(&issuev1.ReopenIssueRequest{
			IssueId: iss.Id, Reason: "Cần hướng dẫn thêm về C/O.",
		}))).Must(t)
		testkit.Got(ie.Officer.PostMessage(ctx, connect.NewRequest(&issuev1.PostMessageRequest{
			IssueId: iss.Id, Visibility: issuev1.Visibility_VISIBILITY_INTERNAL, Body: "SECRET-SECOND-NOTE",
		}))).Must(t)
		second := testkit.Got(ie.Officer.AnswerIssue(ctx, connect.NewRequest(&issuev1.AnswerIssueRequest{
			IssueId: iss.Id, Body: "C/O mẫu D được chấp nhận theo Thông tư 33/2023.",
		}))).Must(t)
		check("second draft", iss.Id, resolved, reopened)
		testkit.Got(ie.Director.ApproveAnswer(ctx, connect.NewRequest(&issuev1.ApproveAnswerRequest{
			IssueId: iss.Id, AnswerId: second.Answer.Id,
		}))).Must(t)
		closed := testkit.Got(ie.Staff.CloseIssue(ctx, connect.NewRequest(&issuev1.CloseIssueRequest{IssueId: iss.Id}))).Must(t)
		check("closed", iss.Id, closed)

		// Officers do see it all.
		officerView := get(t, ie.Officer, iss.Id)
		var all strings.Builder
		for _, m := range officerView.Messages {
			all.WriteString(m.Body + "\n")
		}
		for _, a := range officerView.Answers {
			all.WriteString(a.Body + a.RejectReason + "\n")
		}
		for _, s := range []string{"SECRET-NOTE", "SECRET-TRANSFER", "SECRET-REJECT", "SECRET-DRAFT", "SECRET-SECOND-NOTE"} {
			if !strings.Contains(all.String(), s) {
				t.Errorf("officers do not see %s", s)
			}
		}
		if officerView.Issue.EnterpriseName != entName {
			t.Errorf("officers see enterprise name %q", officerView.Issue.EnterpriseName)
		}

		// Every notification addressed to the enterprise or its users.
		entUsers := []string{ie.id(stack.XnkStaff), ie.id(stack.XnkAdmin)}
		told := 0
		for _, ev := range e.Events(t, "") {
			n := ev.Notification
			if n == nil {
				continue
			}
			toEnterprise := slices.Contains(n.Audience.EnterpriseIDs, ie.Users[stack.XnkStaff].EnterpriseID())
			for _, u := range n.Audience.UserIDs {
				toEnterprise = toEnterprise || slices.Contains(entUsers, u)
			}
			if !toEnterprise {
				continue
			}
			told++
			b, _ := json.Marshal(n)
			for _, s := range secrets {
				if strings.Contains(string(b), s) {
					t.Errorf("notification %s leaks %q: %s", ev.Kind, s, b)
				}
			}
		}
		if told < 5 {
			t.Errorf("only %d notifications to the enterprise", told)
		}
	})
}
