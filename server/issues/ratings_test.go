package issues

import (
	"context"
	"strings"
	"testing"

	"connectrpc.com/connect"

	issuev1 "hqconnect/gen/hqconnect/issue/v1"
	"hqconnect/internal/testkit"
	"hqconnect/internal/testkit/stack"
)

// answerAndResolve has the demo officer answer the issue (assigned to them)
// and the enterprise's staff resolve it.
func (ie *issueEnv) answerAndResolve(t *testing.T, issueID string) {
	t.Helper()
	ctx := context.Background()
	testkit.Got(ie.Officer.AnswerIssue(ctx, connect.NewRequest(&issuev1.AnswerIssueRequest{
		IssueId: issueID, Body: "Doanh nghiệp khai lại tờ khai theo hướng dẫn tại Thông tư 38/2015/TT-BTC.",
	}))).Must(t)
	testkit.Got(ie.Staff.ResolveIssue(ctx, connect.NewRequest(&issuev1.ResolveIssueRequest{IssueId: issueID}))).Must(t)
}

// rater is the part of the client the rating tests call.
type rater interface {
	RateIssue(context.Context, *connect.Request[issuev1.RateIssueRequest]) (*connect.Response[issuev1.RateIssueResponse], error)
}

func rate(client rater, issueID string, score int32, comment string) (*connect.Response[issuev1.RateIssueResponse], error) {
	return client.RateIssue(context.Background(), connect.NewRequest(&issuev1.RateIssueRequest{IssueId: issueID, Score: score, Comment: comment}))
}

func wantRatings(t *testing.T, got []*issuev1.Rating, want ...[2]int32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("ratings %v, want %v", got, want)
	}
	for i, w := range want {
		if got[i].Resolution != w[0] || got[i].Score != w[1] {
			t.Fatalf("rating %d = resolution %d score %d, want %v", i, got[i].Resolution, got[i].Score, w)
		}
	}
}

func TestRateIssue(t *testing.T) {
	stack.RunDB(t, issueMount(t), func(t *testing.T, e *stack.Env) {
		ie := newIssueEnv(t, e)
		ctx := context.Background()
		iss := ie.createIssue(t, ie.Staff, catIDOther, "")
		ie.assign(t, iss.Id, ie.id(stack.Officer))

		t.Run("an answered issue that is not resolved cannot be rated", func(t *testing.T) {
			testkit.Got(ie.Officer.AnswerIssue(ctx, connect.NewRequest(&issuev1.AnswerIssueRequest{
				IssueId: iss.Id, Body: "Doanh nghiệp khai lại tờ khai theo hướng dẫn.",
			}))).Must(t)
			_, err := rate(ie.Staff, iss.Id, 4, "")
			testkit.WantCode(t, err, connect.CodeFailedPrecondition)
			testkit.Got(ie.Staff.ResolveIssue(ctx, connect.NewRequest(&issuev1.ResolveIssueRequest{IssueId: iss.Id}))).Must(t)
		})

		t.Run("the enterprise rates the resolution", func(t *testing.T) {
			res := testkit.Got(rate(ie.Staff, iss.Id, 4, "  Trả lời rõ ràng  ")).Must(t)
			if r := res.Rating; r.Resolution != 1 || r.Score != 4 || r.Comment != "Trả lời rõ ràng" || r.CreateTime == nil {
				t.Fatalf("rating %+v", r)
			}
			evs := e.Events(t, EventRated)
			if len(evs) != 1 || evs[0].Notification.Audience.UserIDs[0] != ie.id(stack.Officer) {
				t.Fatalf("rated events %+v, want one to the answering officer", evs)
			}
		})

		t.Run("rating again replaces the rating", func(t *testing.T) {
			testkit.Got(rate(ie.EntAdmin, iss.Id, 5, "")).Must(t)
			wantRatings(t, get(t, ie.Staff, iss.Id).Ratings, [2]int32{1, 5})
			wantRatings(t, get(t, ie.Officer, iss.Id).Ratings, [2]int32{1, 5})
			if n := ie.auditCount(t, "issue.rate", iss.Id); n != 2 {
				t.Fatalf("%d issue.rate audit rows", n)
			}
		})

		t.Run("bad input names the field and changes nothing", func(t *testing.T) {
			for _, score := range []int32{0, 6, -1} {
				_, err := rate(ie.Staff, iss.Id, score, "")
				testkit.WantField(t, err, connect.CodeInvalidArgument, "score")
			}
			_, err := rate(ie.Staff, iss.Id, 3, strings.Repeat("ă", 2001))
			testkit.WantField(t, err, connect.CodeInvalidArgument, "comment")
			_, err = rate(ie.Staff, "not-an-id", 3, "")
			testkit.WantField(t, err, connect.CodeInvalidArgument, "issue_id")
			testkit.Got(rate(ie.Staff, iss.Id, 5, strings.Repeat("ă", 2000))).Must(t) // the limit itself is fine
			wantRatings(t, get(t, ie.Staff, iss.Id).Ratings, [2]int32{1, 5})
		})

		t.Run("another enterprise is told the issue does not exist", func(t *testing.T) {
			_, err := rate(ie.OtherStaff, iss.Id, 1, "")
			testkit.WantCode(t, err, connect.CodeNotFound)
		})

		t.Run("officers cannot rate", func(t *testing.T) {
			for _, c := range []rater{ie.Officer, ie.Head, ie.Director} {
				_, err := rate(c, iss.Id, 5, "")
				testkit.WantCode(t, err, connect.CodePermissionDenied)
			}
		})

		t.Run("each resolution is rated on its own", func(t *testing.T) {
			testkit.Got(ie.Staff.ReopenIssue(ctx, connect.NewRequest(&issuev1.ReopenIssueRequest{
				IssueId: iss.Id, Reason: "Hướng dẫn chưa giải quyết được lỗi",
			}))).Must(t)
			_, err := rate(ie.Staff, iss.Id, 2, "")
			testkit.WantCode(t, err, connect.CodeFailedPrecondition)
			ie.answerAndResolve(t, iss.Id)
			testkit.Got(rate(ie.Staff, iss.Id, 2, "Lần hai chậm")).Must(t)
			wantRatings(t, get(t, ie.Staff, iss.Id).Ratings, [2]int32{1, 5}, [2]int32{2, 2})
		})

		t.Run("a closed issue that was resolved can still be rated", func(t *testing.T) {
			testkit.Got(ie.Officer.CloseIssue(ctx, connect.NewRequest(&issuev1.CloseIssueRequest{IssueId: iss.Id}))).Must(t)
			testkit.Got(rate(ie.Staff, iss.Id, 3, "")).Must(t)
			wantRatings(t, get(t, ie.Staff, iss.Id).Ratings, [2]int32{1, 5}, [2]int32{2, 3})
		})

		t.Run("a withdrawn issue that was never resolved cannot be rated", func(t *testing.T) {
			other := ie.createIssue(t, ie.Staff, catIDOther, "Hỏi về thủ tục hoàn thuế")
			testkit.Got(ie.Staff.CloseIssue(ctx, connect.NewRequest(&issuev1.CloseIssueRequest{IssueId: other.Id}))).Must(t)
			_, err := rate(ie.Staff, other.Id, 5, "")
			testkit.WantCode(t, err, connect.CodeFailedPrecondition)
		})
	})
}
