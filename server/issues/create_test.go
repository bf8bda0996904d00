package issues

import (
	"context"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"

	issuev1 "hqconnect/gen/hqconnect/issue/v1"
	"hqconnect/internal/testkit"
	"hqconnect/internal/testkit/stack"
)

func TestCreateValidation(t *testing.T) {
	stack.RunDB(t, issueMount(t), func(t *testing.T, e *stack.Env) {
		ctx := context.Background()
		ie := newIssueEnv(t, e)
		ie.exec(t, `UPDATE issue_categories SET active = FALSE WHERE id = $1`, catIDHS)
		valid := func() *issuev1.CreateIssueRequest {
			return &issuev1.CreateIssueRequest{CategoryId: catIDOther, Title: "Hỏi về thủ tục",
				Body: "Xin hướng dẫn thủ tục nhập khẩu máy móc đã qua sử dụng."}
		}
		for _, tc := range []struct {
			name, field string
			edit        func(r *issuev1.CreateIssueRequest)
		}{
			{"no category", "category_id", func(r *issuev1.CreateIssueRequest) { r.CategoryId = "" }},
			{"bad category id", "category_id", func(r *issuev1.CreateIssueRequest) { r.CategoryId = "HS" }},
			{"unknown category", "category_id", func(r *issuev1.CreateIssueRequest) { r.CategoryId = "0190a000-0000-7000-8000-0000000000ff" }},
			{"inactive category", "category_id", func(r *issuev1.CreateIssueRequest) { r.CategoryId = catIDHS }},
			{"short title", "title", func(r *issuev1.CreateIssueRequest) { r.Title = "  Hỏi " }},
			{"long title", "title", func(r *issuev1.CreateIssueRequest) { r.Title = strings.Repeat("a", 201) }},
			{"title with a line break", "title", func(r *issuev1.CreateIssueRequest) { r.Title = "Hỏi về\nthủ tục" }},
			{"short body", "body", func(r *issuev1.CreateIssueRequest) { r.Body = "Xin hỏi  " }},
			{"long body", "body", func(r *issuev1.CreateIssueRequest) { r.Body = strings.Repeat("b", 10_001) }},
			{"11-digit declaration", "declaration_number", func(r *issuev1.CreateIssueRequest) { r.DeclarationNumber = "10512345678" }},
			{"declaration with letters", "declaration_number", func(r *issuev1.CreateIssueRequest) { r.DeclarationNumber = "10512345678A" }},
			{"six attachments", "attachment_ids", func(r *issuev1.CreateIssueRequest) {
				r.AttachmentIds = []string{"a", "b", "c", "d", "e", "f"}
			}},
			{"unknown attachment", "attachment_ids", func(r *issuev1.CreateIssueRequest) {
				r.AttachmentIds = []string{"0190a000-0000-7000-8000-0000000000aa"}
			}},
			{"long request id", "request_id", func(r *issuev1.CreateIssueRequest) { r.RequestId = strings.Repeat("r", 65) }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := valid()
				tc.edit(r)
				testkit.WantField(t, ieErr(ie.Staff.CreateIssue(ctx, connect.NewRequest(r))), connect.CodeInvalidArgument, tc.field)
			})
		}
		if n := e.Count(t, "issues"); n != 0 {
			t.Fatalf("%d issues after invalid requests", n)
		}
		if n := e.Count(t, "issue_counters"); n != 0 {
			t.Errorf("a refused request took a number")
		}
		// Trimmed lengths count: exactly 5 and 10 characters pass.
		r := valid()
		r.Title, r.Body, r.DeclarationNumber = "  Hỏi 1  ", " 0123456789 ", "105123456789"
		iss := testkit.Got(ie.Staff.CreateIssue(ctx, connect.NewRequest(r))).Must(t).Issue
		if iss.Title != "Hỏi 1" || iss.DeclarationNumber != "105123456789" {
			t.Errorf("created %q / %q", iss.Title, iss.DeclarationNumber)
		}
		// Officers do not raise issues.
		testkit.WantCode(t, ieErr(ie.Officer.CreateIssue(ctx, connect.NewRequest(valid()))), connect.CodePermissionDenied)
	})
}

func TestCreateIsIdempotent(t *testing.T) {
	stack.RunDB(t, issueMount(t), func(t *testing.T, e *stack.Env) {
		ctx := context.Background()
		ie := newIssueEnv(t, e)
		req := func() *connect.Request[issuev1.CreateIssueRequest] {
			return connect.NewRequest(&issuev1.CreateIssueRequest{CategoryId: catIDOther, Title: "Hỏi về thủ tục",
				Body: "Xin hướng dẫn thủ tục nhập khẩu.", RequestId: "draft-42"})
		}
		first := testkit.Got(ie.Staff.CreateIssue(ctx, req())).Must(t).Issue
		// The same enterprise (another of its users) repeating the key gets
		// the same issue.
		again := testkit.Got(ie.EntAdmin.CreateIssue(ctx, req())).Must(t).Issue
		if again.Id != first.Id || again.Number != first.Number {
			t.Fatalf("retry created %s, want %s", again.Number, first.Number)
		}
		// Another enterprise's key is its own.
		other := testkit.Got(ie.OtherStaff.CreateIssue(ctx, req())).Must(t).Issue
		if other.Id == first.Id {
			t.Fatal("enterprise B got A's issue back")
		}
		if n := e.Count(t, "issues"); n != 2 {
			t.Errorf("%d issues, want 2", n)
		}
		if n := ie.auditCount(t, "issue.create", first.Id); n != 1 {
			t.Errorf("%d create audits", n)
		}
		// Numbers count up per year.
		third := ie.createIssue(t, ie.Staff, catIDOther, "")
		if third.Number <= other.Number || other.Number <= first.Number {
			t.Errorf("numbers %s, %s, %s do not count up", first.Number, other.Number, third.Number)
		}
	})
}

// TestListing pages through an officer's queue in deadline order with
// filters, and an enterprise's newest first.
func TestListing(t *testing.T) {
	stack.RunDB(t, issueMount(t), func(t *testing.T, e *stack.Env) {
		ctx := context.Background()
		ie := newIssueEnv(t, e)
		ie.exec(t, `UPDATE issue_categories SET auto_assign = FALSE`)
		var created []string
		for i := range 12 {
			cat := catIDOther
			if i%3 == 0 {
				cat = catIDVNACCS // 8 hours: earlier deadlines
			}
			created = append(created, ie.createIssue(t, ie.Staff, cat, "").Id)
			e.Clock.Advance(time.Minute)
		}
		ie.createIssue(t, ie.OtherStaff, catIDOther, "")
		for _, id := range created[:4] {
			ie.assign(t, id, ie.id(stack.Officer))
		}
		testkit.Got(ie.Officer.RequestInformation(ctx, connect.NewRequest(&issuev1.RequestInformationRequest{
			IssueId: created[1], Body: "Xin bổ sung hợp đồng.",
		}))).Must(t)

		pageAll := func(c interface {
			ListIssues(context.Context, *connect.Request[issuev1.ListIssuesRequest]) (*connect.Response[issuev1.ListIssuesResponse], error)
		}, base *issuev1.ListIssuesRequest) []*issuev1.Issue {
			t.Helper()
			var all []*issuev1.Issue
			token := ""
			for pages := 0; ; pages++ {
				if pages > 20 {
					t.Fatal("paging does not end")
				}
				req := &issuev1.ListIssuesRequest{Statuses: base.Statuses, AssigneeId: base.AssigneeId, CategoryId: base.CategoryId,
					UnitId: base.UnitId, Overdue: base.Overdue, DueWithin: base.DueWithin, Sort: base.Sort, PageSize: 5, PageToken: token}
				res := testkit.Got(c.ListIssues(ctx, connect.NewRequest(req))).Must(t)
				if len(res.Issues) > 5 {
					t.Fatalf("page of %d", len(res.Issues))
				}
				all = append(all, res.Issues...)
				if token = res.NextPageToken; token == "" {
					return all
				}
			}
		}
		// The head's queue: the branch and its teams, by deadline, the
		// waiting one (no running deadline) last.
		queue := pageAll(ie.Head, &issuev1.ListIssuesRequest{})
		if len(queue) != 13 {
			t.Fatalf("head's queue holds %d, want 13", len(queue))
		}
		seen := map[string]bool{}
		for i, iss := range queue {
			if seen[iss.Id] {
				t.Fatalf("%s listed twice", iss.Number)
			}
			seen[iss.Id] = true
			if i > 0 {
				prev := queue[i-1]
				switch {
				case prev.DueTime == nil && iss.DueTime != nil:
					t.Fatalf("%s without a deadline before %s with one", prev.Number, iss.Number)
				case prev.DueTime != nil && iss.DueTime != nil && prev.DueTime.AsTime().After(iss.DueTime.AsTime()):
					t.Fatalf("%s due %v before %s due %v", prev.Number, prev.DueTime.AsTime(), iss.Number, iss.DueTime.AsTime())
				}
			}
			if iss.EnterpriseName == "" {
				t.Errorf("officers see the enterprise's name")
			}
		}
		if last := queue[len(queue)-1]; last.Id != created[1] {
			t.Errorf("the waiting issue is not last: %s", last.Number)
		}

		mine := pageAll(ie.Officer, &issuev1.ListIssuesRequest{AssigneeId: "me"})
		if len(mine) != 4 {
			t.Errorf("assignee me: %d, want 4", len(mine))
		}
		assigned := pageAll(ie.Officer, &issuev1.ListIssuesRequest{Statuses: []issuev1.IssueStatus{issuev1.IssueStatus_ISSUE_STATUS_ASSIGNED}})
		if len(assigned) != 3 {
			t.Errorf("ASSIGNED: %d, want 3", len(assigned))
		}
		vnaccs := pageAll(ie.Director, &issuev1.ListIssuesRequest{CategoryId: catIDVNACCS})
		if len(vnaccs) != 4 {
			t.Errorf("VNACCS: %d, want 4", len(vnaccs))
		}
		newest := pageAll(ie.Inspector, &issuev1.ListIssuesRequest{Sort: issuev1.IssueSort_ISSUE_SORT_NEWEST})
		if len(newest) != 13 || newest[0].CreateTime.AsTime().Before(newest[12].CreateTime.AsTime()) {
			t.Errorf("newest first: %d issues", len(newest))
		}
		if n := len(pageAll(ie.Head, &issuev1.ListIssuesRequest{UnitId: e.UnitID(t, "DEMOCK1KS")})); n != 0 {
			t.Errorf("the empty team lists %d", n)
		}

		// Deadlines: 8 business hours for VNACCS issues, 40 for the others.
		if n := len(pageAll(ie.Head, &issuev1.ListIssuesRequest{Overdue: true})); n != 0 {
			t.Errorf("%d overdue at once", n)
		}
		now := e.Clock.Now()
		soon := pageAll(ie.Head, &issuev1.ListIssuesRequest{DueWithin: durationpb.New(3 * 24 * time.Hour)})
		for _, iss := range soon {
			// 40 business hours never fit in 3 days.
			if due := iss.DueTime.AsTime(); iss.CategoryId != catIDVNACCS || due.Before(now) || due.After(now.Add(72*time.Hour)) {
				t.Errorf("%s due within 3 days: category %s, due %v", iss.Number, iss.CategoryId, due)
			}
		}
		e.Clock.Advance(40 * 24 * time.Hour)
		overdue := pageAll(ie.Head, &issuev1.ListIssuesRequest{Overdue: true})
		if len(overdue) != 12 {
			t.Errorf("%d overdue after 40 days, want every running one (12)", len(overdue))
		}
		for _, iss := range overdue {
			if iss.SlaState != issuev1.SlaState_SLA_STATE_OVERDUE {
				t.Errorf("%s is %v", iss.Number, iss.SlaState)
			}
		}

		// The enterprise: its own, newest first.
		own := pageAll(ie.Staff, &issuev1.ListIssuesRequest{})
		if len(own) != 12 || own[0].Id != created[11] || own[11].Id != created[0] {
			t.Errorf("enterprise listing: %d issues", len(own))
		}
		waiting := pageAll(ie.Staff, &issuev1.ListIssuesRequest{Statuses: []issuev1.IssueStatus{issuev1.IssueStatus_ISSUE_STATUS_WAITING_ENTERPRISE}})
		if len(waiting) != 1 || waiting[0].Id != created[1] {
			t.Errorf("waiting for the enterprise: %d", len(waiting))
		}
		testkit.WantField(t, ieErr(ie.Staff.ListIssues(ctx, connect.NewRequest(&issuev1.ListIssuesRequest{AssigneeId: "me"}))),
			connect.CodeInvalidArgument, "assignee_id")
		testkit.WantField(t, ieErr(ie.Head.ListIssues(ctx, connect.NewRequest(&issuev1.ListIssuesRequest{PageToken: "bogus"}))),
			connect.CodeInvalidArgument, "page_token")
	})
}
