package faq_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"connectrpc.com/connect"
	"golang.org/x/text/unicode/norm"

	issuev1 "hqconnect/gen/hqconnect/issue/v1"
	"hqconnect/gen/hqconnect/issue/v1/issuev1connect"
	"hqconnect/internal/ids"
	"hqconnect/internal/testkit"
	"hqconnect/internal/testkit/stack"
	"hqconnect/server"
	"hqconnect/server/issues/faq"
)

var ctx = context.Background()

func mount(e *stack.Env) []server.Service {
	svc := faq.New(faq.Deps{DB: e.DB, Log: e.Log, Now: e.Clock.Now})
	return []server.Service{{Name: issuev1connect.FaqServiceName,
		Mount: func(o ...connect.HandlerOption) (string, http.Handler) {
			return issuev1connect.NewFaqServiceHandler(svc, o...)
		}}}
}

// Seeded category ids (00005_issues.sql).
const (
	catProcedure = "0190a000-0000-7000-8000-000000000007"
	catTax       = "0190a000-0000-7000-8000-000000000005"
	catOrigin    = "0190a000-0000-7000-8000-000000000003"
	catHS        = "0190a000-0000-7000-8000-000000000002"
)

// issueSpec is an issue written straight into the issue tables, in the state
// the lifecycle (another package) would have left it.
type issueSpec struct {
	unit        string // org unit code
	status      string
	answer      string // "PUBLISHED", "PENDING_APPROVAL" or "" for none
	declaration string
	category    string
}

// issueSeq numbers the issues of tests that run in parallel.
var issueSeq atomic.Int64

// newIssue inserts an issue of enterprise A and returns its id.
func newIssue(t *testing.T, e *stack.Env, s issueSpec) string {
	t.Helper()
	if s.category == "" {
		s.category = catProcedure
	}
	var enterpriseID, staffID, officerID string
	q := func(query string, dst *string, args ...any) {
		if err := e.DB.QueryRowContext(ctx, query, args...).Scan(dst); err != nil {
			t.Fatal(err)
		}
	}
	q(`SELECT id FROM enterprises WHERE tax_code = $1`, &enterpriseID, e.Accounts[stack.XnkStaff].TaxCode)
	q(`SELECT id FROM users WHERE email = $1`, &staffID, stack.XnkStaff)
	q(`SELECT id FROM users WHERE email = $1`, &officerID, stack.Officer)
	id := ids.New()
	now := time.Now().UTC()
	if _, err := e.DB.ExecContext(ctx, `INSERT INTO issues (id, number, enterprise_id, created_by, category_id, unit_id,
			status, title, body, declaration_number, create_time, update_time, sla_minutes)
		VALUES ($1, $2, $3, $4, $5, $6, $7, 'Vướng mắc thử', 'Nội dung vướng mắc thử nghiệm', $8, $9, $9, 2400)`,
		id, fmt.Sprintf("VM-2026-%06d", issueSeq.Add(1)), enterpriseID, staffID, s.category,
		e.UnitID(t, s.unit), s.status, s.declaration, now); err != nil {
		t.Fatal(err)
	}
	if s.answer != "" {
		if _, err := e.DB.ExecContext(ctx, `INSERT INTO issue_answers (id, issue_id, round, body, author_id, state, create_time)
			VALUES ($1, $2, 1, 'Trả lời của cơ quan hải quan', $3, $4, $5)`, ids.New(), id, officerID, s.answer, now); err != nil {
			t.Fatal(err)
		}
	}
	return id
}

func answered(t *testing.T, e *stack.Env, unit string) string {
	return newIssue(t, e, issueSpec{unit: unit, status: "ANSWERED", answer: "PUBLISHED"})
}

func faqClient(t *testing.T, e *stack.Env, login string) issuev1connect.FaqServiceClient {
	return stack.Client(e.Login(t, login), issuev1connect.NewFaqServiceClient)
}

func publish(t *testing.T, c issuev1connect.FaqServiceClient, issueID, question, answer, legal string) *issuev1.FaqEntry {
	t.Helper()
	return testkit.Got(c.PublishFaq(ctx, connect.NewRequest(&issuev1.PublishFaqRequest{
		IssueId: issueID, Question: question, Answer: answer, LegalReference: legal}))).Must(t).Entry
}

// The corpus of the search table: key → question, answer.
var corpus = []struct{ key, question, answer, legal, category string }{
	{"thongquan", "Thời gian thông quan hàng hóa luồng xanh là bao lâu?",
		"Hàng hóa luồng xanh được miễn kiểm tra chi tiết hồ sơ và miễn kiểm tra thực tế; việc thông quan thực hiện ngay trên hệ thống.", "", catProcedure},
	{"dangky", "Đăng ký tờ khai hải quan điện tử ở đâu?",
		"Doanh nghiệp khai trên phần mềm khai VNACCS/VCIS, ký bằng chữ ký số.", "", catProcedure},
	{"hoanthue", "Hồ sơ hoàn thuế GTGT đối với hàng xuất khẩu gồm những gì?",
		"Hồ sơ gồm công văn đề nghị hoàn thuế và các chứng từ thanh toán qua ngân hàng.", "Thông tư 38/2015/TT-BTC", catTax},
	{"co", "Nộp C/O mẫu D khi nào để được hưởng ưu đãi?",
		"C/O mẫu D (ATIGA) nộp bản gốc khi làm thủ tục hải quan hoặc trong thời hạn 1 năm kể từ ngày đăng ký tờ khai.", "", catOrigin},
	{"hs", "Mã HS của máy tính xách tay?",
		"Máy tính xách tay thuộc phân nhóm 8471.30 của Biểu thuế xuất nhập khẩu.", "", catHS},
}

// seedCorpus publishes the corpus and returns entry ids by key.
func seedCorpus(t *testing.T, e *stack.Env, c issuev1connect.FaqServiceClient) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, d := range corpus {
		id := newIssue(t, e, issueSpec{unit: "DEMOCK1TT", status: "RESOLVED", answer: "PUBLISHED", category: d.category})
		out[d.key] = publish(t, c, id, d.question, d.answer, d.legal).Id
	}
	return out
}

func keysOf(ids map[string]string, hits []*issuev1.FaqHit) []string {
	byID := map[string]string{}
	for k, id := range ids {
		byID[id] = k
	}
	out := []string{}
	for _, h := range hits {
		out = append(out, byID[h.Entry.Id])
	}
	return out
}

func search(t *testing.T, c issuev1connect.FaqServiceClient, q string) []*issuev1.FaqHit {
	t.Helper()
	return testkit.Got(c.SearchFaq(ctx, connect.NewRequest(&issuev1.SearchFaqRequest{Query: q}))).Must(t).Hits
}

func TestSearchIgnoresDiacriticsAndCase(t *testing.T) {
	stack.RunDB(t, mount, func(t *testing.T, e *stack.Env) {
		officer := faqClient(t, e, stack.Officer)
		ids := seedCorpus(t, e, officer)
		staff := faqClient(t, e, stack.XnkStaff)
		for _, tc := range []struct {
			query string
			want  []string // keys, best first
		}{
			{"thong quan", []string{"thongquan"}},
			{"THÔNG QUAN", []string{"thongquan"}},
			{norm.NFD.String("thông quan"), []string{"thongquan"}},
			{"Thông Quan ", []string{"thongquan"}},
			{"dang ky", []string{"dangky", "co"}}, // a question match above an answer-only one
			{"Đăng ký", []string{"dangky", "co"}},
			{"to khai", []string{"dangky", "co"}},
			{"ĐĂNG KÝ TỜ KHAI", []string{"dangky", "co"}},
			{"hoan thue", []string{"hoanthue"}},
			{"hoàn thuế gtgt", []string{"hoanthue"}},
			{"thue GTGT", []string{"hoanthue"}},
			{"thon", []string{"thongquan", "hoanthue"}}, // type-ahead: "thông quan", "Thông tư"
			{"thon ", []string{}},                       // a finished word is not a prefix
			{"c/o mau d", []string{"co"}},
			{"C/O mẫu D", []string{"co"}},
			{"8471.30", []string{"hs"}},
			{"8471 may tinh", []string{"hs"}}, // an HS heading finds its subheadings
			{"38/2015", []string{"hoanthue"}},
			{"TT-BTC", []string{"hoanthue"}},
			{"vnaccs", []string{"dangky"}},
			{"thong quan hoan thue", []string{}}, // every word must match
			{"không có từ này", []string{}},
		} {
			t.Run(tc.query, func(t *testing.T) {
				got := keysOf(ids, search(t, staff, tc.query))
				if !slices.Equal(got, tc.want) {
					t.Fatalf("SearchFaq(%q) = %v, want %v", tc.query, got, tc.want)
				}
			})
		}
		t.Run("query syntax in the input is text, never syntax", func(t *testing.T) {
			for _, q := range []string{`"thong quan`, `thong*`, `thong OR quan`, `-thong`, `thong:quan`, `(thong`,
				`quan)`, `NEAR(thong quan)`, `' OR 1=1 --`, `\'`, `thong & quan | !x`, `quan:*`, `"*:(-`, `^thong`,
				`{quan}`, `thong AND NOT quan`, `""`, `**`} {
				res, err := staff.SearchFaq(ctx, connect.NewRequest(&issuev1.SearchFaqRequest{Query: q}))
				if err != nil {
					t.Fatalf("SearchFaq(%q): %v", q, err)
				}
				if _, err := staff.SuggestFaq(ctx, connect.NewRequest(&issuev1.SuggestFaqRequest{Title: q})); err != nil {
					t.Fatalf("SuggestFaq(%q): %v", q, err)
				}
				if q == `"thong quan` || q == `thong:quan` {
					if got := keysOf(ids, res.Msg.Hits); !slices.Equal(got, []string{"thongquan"}) {
						t.Fatalf("SearchFaq(%q) = %v, want the thông quan entry", q, got)
					}
				}
			}
		})
		t.Run("scores fall and snippets show the match", func(t *testing.T) {
			hits := search(t, staff, "to khai")
			if len(hits) != 2 || !(hits[0].Score > hits[1].Score) {
				t.Fatalf("scores %v, want strictly decreasing", hits)
			}
			if !strings.Contains(hits[1].Snippet, "tờ khai") {
				t.Fatalf("snippet %q does not show the match", hits[1].Snippet)
			}
		})
		t.Run("category filter", func(t *testing.T) {
			res := testkit.Got(staff.SearchFaq(ctx, connect.NewRequest(&issuev1.SearchFaqRequest{
				Query: "dang ky", CategoryId: catOrigin}))).Must(t)
			if got := keysOf(ids, res.Hits); !slices.Equal(got, []string{"co"}) {
				t.Fatalf("SearchFaq in ORIGIN = %v, want [co]", got)
			}
		})
		t.Run("the source issue is for officers only", func(t *testing.T) {
			if h := search(t, staff, "hoan thue"); h[0].Entry.SourceIssueId != "" {
				t.Fatalf("an enterprise user sees source_issue_id %q", h[0].Entry.SourceIssueId)
			}
			if h := search(t, officer, "hoan thue"); h[0].Entry.SourceIssueId == "" {
				t.Fatal("an officer does not see source_issue_id")
			}
			got := testkit.Got(staff.GetFaq(ctx, connect.NewRequest(&issuev1.GetFaqRequest{FaqId: ids["co"]}))).Must(t)
			if got.Entry.SourceIssueId != "" || got.Entry.Question != corpus[3].question {
				t.Fatalf("GetFaq as enterprise = %v", got.Entry)
			}
		})
	})
}

func TestSuggestMatchesAnyWord(t *testing.T) {
	stack.RunDB(t, mount, func(t *testing.T, e *stack.Env) {
		ids := seedCorpus(t, e, faqClient(t, e, stack.Officer))
		staff := faqClient(t, e, stack.XnkStaff)
		suggest := func(title string, limit int32) []string {
			t.Helper()
			res := testkit.Got(staff.SuggestFaq(ctx, connect.NewRequest(&issuev1.SuggestFaqRequest{Title: title, Limit: limit}))).Must(t)
			return keysOf(ids, res.Hits)
		}
		if got := suggest("Làm thế nào để được hoàn thuế nhanh?", 0); len(got) == 0 || got[0] != "hoanthue" {
			t.Fatalf("suggestions %v, want the refund entry first", got)
		}
		// Any word matches ("quan" of "hải quan", "thuế" of "Biểu thuế"), the
		// entries with more of them first.
		got := suggest("thong quan va hoan thue", 10)
		if len(got) < 2 {
			t.Fatalf("suggestions %v", got)
		}
		top := slices.Sorted(slices.Values(got[:2]))
		if !slices.Equal(top, []string{"hoanthue", "thongquan"}) {
			t.Fatalf("suggestions %v, want the clearance and the refund entries first", got)
		}
		if got := suggest("hai quan thong quan to khai thue", 2); len(got) != 2 {
			t.Fatalf("limit 2 gave %v", got)
		}
		if got := suggest("!!", 0); len(got) != 0 {
			t.Fatalf("punctuation suggested %v", got)
		}
		_, err := staff.SuggestFaq(ctx, connect.NewRequest(&issuev1.SuggestFaqRequest{Title: "x"}))
		testkit.WantField(t, err, connect.CodeInvalidArgument, "title")
		_, err = staff.SuggestFaq(ctx, connect.NewRequest(&issuev1.SuggestFaqRequest{Title: "thuế", Limit: -1}))
		testkit.WantField(t, err, connect.CodeInvalidArgument, "limit")
	})
}

func TestSearchPages(t *testing.T) {
	stack.RunDB(t, mount, func(t *testing.T, e *stack.Env) {
		officer := faqClient(t, e, stack.Officer)
		want := map[string]bool{}
		for i := range 7 {
			id := answered(t, e, "DEMOCK1TT")
			ent := publish(t, officer, id, fmt.Sprintf("Câu hỏi số %d về khai hải quan", i),
				strings.Repeat("Nội dung trả lời về thủ tục hải quan. ", i+1), "")
			want[ent.Id] = true
		}
		seen := map[string]bool{}
		token, pages := "", 0
		for {
			res := testkit.Got(officer.SearchFaq(ctx, connect.NewRequest(&issuev1.SearchFaqRequest{
				Query: "hai quan", PageSize: 3, PageToken: token}))).Must(t)
			pages++
			for _, h := range res.Hits {
				if seen[h.Entry.Id] {
					t.Fatalf("entry %s on two pages", h.Entry.Id)
				}
				seen[h.Entry.Id] = true
			}
			if token = res.NextPageToken; token == "" {
				break
			}
			if pages > 5 {
				t.Fatal("paging does not end")
			}
			// A token belongs to its query.
			_, err := officer.SearchFaq(ctx, connect.NewRequest(&issuev1.SearchFaqRequest{Query: "thu tuc", PageToken: token}))
			testkit.WantField(t, err, connect.CodeInvalidArgument, "page_token")
		}
		if pages != 3 || len(seen) != len(want) {
			t.Fatalf("%d pages with %d entries, want 3 pages with %d", pages, len(seen), len(want))
		}
		for _, tc := range []struct {
			req   *issuev1.SearchFaqRequest
			field string
		}{
			{&issuev1.SearchFaqRequest{Query: "x"}, "query"},
			{&issuev1.SearchFaqRequest{Query: strings.Repeat("thuế ", 41)}, "query"},
			{&issuev1.SearchFaqRequest{Query: "thuế", PageSize: -1}, "page_size"},
			{&issuev1.SearchFaqRequest{Query: "thuế", PageToken: "not-a-token"}, "page_token"},
			{&issuev1.SearchFaqRequest{Query: "thuế", CategoryId: "HS"}, "category_id"},
		} {
			_, err := officer.SearchFaq(ctx, connect.NewRequest(tc.req))
			testkit.WantField(t, err, connect.CodeInvalidArgument, tc.field)
		}
	})
}

func TestPublishRules(t *testing.T) {
	stack.RunDB(t, mount, func(t *testing.T, e *stack.Env) {
		officer := faqClient(t, e, stack.Officer)
		const q, a = "Khai bổ sung tờ khai sau thông quan thế nào?", "Doanh nghiệp khai bổ sung trên hệ thống trong thời hạn quy định."
		req := func(issueID string) *connect.Request[issuev1.PublishFaqRequest] {
			return connect.NewRequest(&issuev1.PublishFaqRequest{IssueId: issueID, Question: q, Answer: a})
		}
		t.Run("enterprise users cannot publish, edit or withdraw", func(t *testing.T) {
			id := answered(t, e, "DEMOCK1TT")
			ent := publish(t, officer, id+"", q, a, "")
			for _, login := range []string{stack.XnkAdmin, stack.XnkStaff, stack.LogStaff} {
				c := faqClient(t, e, login)
				_, err := c.PublishFaq(ctx, req(answered(t, e, "DEMOCK1TT")))
				testkit.WantCode(t, err, connect.CodePermissionDenied)
				_, err = c.UpdateFaq(ctx, connect.NewRequest(&issuev1.UpdateFaqRequest{FaqId: ent.Id, Question: q, Answer: a}))
				testkit.WantCode(t, err, connect.CodePermissionDenied)
				_, err = c.WithdrawFaq(ctx, connect.NewRequest(&issuev1.WithdrawFaqRequest{FaqId: ent.Id}))
				testkit.WantCode(t, err, connect.CodePermissionDenied)
			}
			_, err := stack.Client(e.Anon(), issuev1connect.NewFaqServiceClient).SearchFaq(ctx,
				connect.NewRequest(&issuev1.SearchFaqRequest{Query: "thong quan"}))
			testkit.WantCode(t, err, connect.CodeUnauthenticated)
		})
		t.Run("an officer outside the issue's unit does not find it", func(t *testing.T) {
			other := answered(t, e, "DEMOKCNNV")
			_, err := officer.PublishFaq(ctx, req(other))
			testkit.WantField(t, err, connect.CodeNotFound, "issue_id")
			// The head of branch DEMOCK1 sees neither the other branch's issue…
			head := faqClient(t, e, stack.Head)
			_, err = head.PublishFaq(ctx, req(other))
			testkit.WantCode(t, err, connect.CodeNotFound)
			// …but does see their own team's, and the director sees all.
			publish(t, head, answered(t, e, "DEMOCK1TT"), q, a, "")
			ent := publish(t, faqClient(t, e, stack.Director), other, q, a, "")
			// Officers outside the entry's unit may read it but not change it.
			_, err = officer.UpdateFaq(ctx, connect.NewRequest(&issuev1.UpdateFaqRequest{FaqId: ent.Id, Question: q, Answer: a + " Sửa."}))
			testkit.WantCode(t, err, connect.CodePermissionDenied)
			_, err = officer.WithdrawFaq(ctx, connect.NewRequest(&issuev1.WithdrawFaqRequest{FaqId: ent.Id}))
			testkit.WantCode(t, err, connect.CodePermissionDenied)
			testkit.Got(officer.GetFaq(ctx, connect.NewRequest(&issuev1.GetFaqRequest{FaqId: ent.Id}))).Must(t)
		})
		t.Run("only an issue with a published answer", func(t *testing.T) {
			for _, s := range []issueSpec{
				{unit: "DEMOCK1TT", status: "OPEN"},
				{unit: "DEMOCK1TT", status: "ASSIGNED"},
				{unit: "DEMOCK1TT", status: "PENDING_APPROVAL", answer: "PENDING_APPROVAL"},
				{unit: "DEMOCK1TT", status: "REOPENED", answer: "PUBLISHED"},
				{unit: "DEMOCK1TT", status: "ANSWERED", answer: "PENDING_APPROVAL"}, // no published answer
				{unit: "DEMOCK1TT", status: "CLOSED"},                               // closed unanswered
			} {
				_, err := officer.PublishFaq(ctx, req(newIssue(t, e, s)))
				testkit.WantField(t, err, connect.CodeFailedPrecondition, "issue_id")
			}
			for _, st := range []string{"ANSWERED", "RESOLVED", "CLOSED"} {
				publish(t, officer, newIssue(t, e, issueSpec{unit: "DEMOCK1TT", status: st, answer: "PUBLISHED"}), q, a, "")
			}
			_, err := officer.PublishFaq(ctx, req(ids.New()))
			testkit.WantField(t, err, connect.CodeNotFound, "issue_id")
		})
		t.Run("one entry per issue", func(t *testing.T) {
			id := answered(t, e, "DEMOCK1TT")
			publish(t, officer, id, q, a, "")
			_, err := officer.PublishFaq(ctx, req(id))
			testkit.WantField(t, err, connect.CodeAlreadyExists, "issue_id")
			if n := e.Count(t, "faq_entries WHERE source_issue_id = $1", id); n != 1 {
				t.Fatalf("%d entries for one issue", n)
			}
		})
		t.Run("bad input names the field and changes nothing", func(t *testing.T) {
			id := answered(t, e, "DEMOCK1TT")
			for _, tc := range []struct {
				req   *issuev1.PublishFaqRequest
				field string
			}{
				{&issuev1.PublishFaqRequest{IssueId: "", Question: q, Answer: a}, "issue_id"},
				{&issuev1.PublishFaqRequest{IssueId: "VM-1", Question: q, Answer: a}, "issue_id"},
				{&issuev1.PublishFaqRequest{IssueId: id, Question: "Hỏi", Answer: a}, "question"},
				{&issuev1.PublishFaqRequest{IssueId: id, Question: strings.Repeat("á", 301), Answer: a}, "question"},
				{&issuev1.PublishFaqRequest{IssueId: id, Question: "Hai\ndòng?", Answer: a}, "question"},
				{&issuev1.PublishFaqRequest{IssueId: id, Question: q, Answer: "Ngắn"}, "answer"},
				{&issuev1.PublishFaqRequest{IssueId: id, Question: q, Answer: strings.Repeat("ế", 20_001)}, "answer"},
				{&issuev1.PublishFaqRequest{IssueId: id, Question: q, Answer: a, LegalReference: strings.Repeat("x", 301)}, "legal_reference"},
			} {
				_, err := officer.PublishFaq(ctx, connect.NewRequest(tc.req))
				testkit.WantField(t, err, connect.CodeInvalidArgument, tc.field)
			}
			if n := e.Count(t, "faq_entries WHERE source_issue_id = $1", id); n != 0 {
				t.Fatal("a refused publish wrote an entry")
			}
		})
		t.Run("the entry must not name the enterprise", func(t *testing.T) {
			const decl = "103456789012"
			id := newIssue(t, e, issueSpec{unit: "DEMOCK1TT", status: "ANSWERED", answer: "PUBLISHED", declaration: decl})
			tax := e.Accounts[stack.XnkStaff].TaxCode
			spaced := tax[:4] + " " + tax[4:7] + " " + tax[7:]
			for _, tc := range []struct{ question, answer, legal, field string }{
				{"Công ty Cổ phần Xuất nhập khẩu Demo hỏi về thủ tục?", a, "", "question"},
				{q, "Trả lời CÔNG TY CỔ PHẦN XUẤT NHẬP KHẨU DEMO: khai bổ sung trên hệ thống.", "", "answer"},
				{q, "Trả lời cong ty co phan xuat nhap khau demo: khai bổ sung.", "", "answer"},
				{q, "Doanh nghiệp Xuất nhập khẩu Demo khai bổ sung trên hệ thống.", "", "answer"},
				{"Mã số thuế " + tax + " khai bổ sung thế nào?", a, "", "question"},
				{q, "Doanh nghiệp (MST " + spaced + ") khai bổ sung trên hệ thống.", "", "answer"},
				{q, "Tờ khai số " + decl + " được khai bổ sung trên hệ thống.", "", "answer"},
				{q, "Tờ khai số " + decl[:3] + "." + decl[3:] + " được khai bổ sung.", "", "answer"},
				{q, a, "Công văn trả lời " + tax, "legal_reference"},
			} {
				_, err := officer.PublishFaq(ctx, connect.NewRequest(&issuev1.PublishFaqRequest{
					IssueId: id, Question: tc.question, Answer: tc.answer, LegalReference: tc.legal}))
				testkit.WantField(t, err, connect.CodeInvalidArgument, tc.field)
			}
			if n := e.Count(t, "faq_entries WHERE source_issue_id = $1", id); n != 0 {
				t.Fatal("a refused publish wrote an entry")
			}
			// Another enterprise's name is not this issue's business, and the
			// edited text goes through.
			ent := publish(t, officer, id, q, "Công ty TNHH Logistics Demo không liên quan; doanh nghiệp khai bổ sung trên hệ thống.", "")
			_, err := officer.UpdateFaq(ctx, connect.NewRequest(&issuev1.UpdateFaqRequest{FaqId: ent.Id,
				Question: q, Answer: "Tờ khai " + decl + " đã khai bổ sung."}))
			testkit.WantField(t, err, connect.CodeInvalidArgument, "answer")
		})
		t.Run("every change is audited and emitted without a notification", func(t *testing.T) {
			before := e.Count(t, "audit_events WHERE action LIKE 'faq.%'")
			id := answered(t, e, "DEMOCK1TT")
			ent := publish(t, officer, id, q, a, "")
			testkit.Got(officer.UpdateFaq(ctx, connect.NewRequest(&issuev1.UpdateFaqRequest{FaqId: ent.Id, Question: q, Answer: a + " Đã sửa."}))).Must(t)
			testkit.Got(officer.WithdrawFaq(ctx, connect.NewRequest(&issuev1.WithdrawFaqRequest{FaqId: ent.Id}))).Must(t)
			for _, action := range []string{"faq.publish", "faq.update", "faq.withdraw"} {
				if n := e.Count(t, "audit_events WHERE action = $1 AND target_id = $2", action, ent.Id); n != 1 {
					t.Fatalf("%d %s audit events", n, action)
				}
			}
			if n := e.Count(t, "audit_events WHERE action LIKE 'faq.%'") - before; n != 3 {
				t.Fatalf("%d audit events, want 3", n)
			}
			for _, kind := range []string{"faq.published", "faq.updated", "faq.withdrawn"} {
				evs := e.Events(t, kind)
				if len(evs) == 0 || evs[len(evs)-1].Notification != nil || !strings.Contains(string(evs[len(evs)-1].Data), ent.Id) {
					t.Fatalf("%s events %+v", kind, evs)
				}
			}
		})
	})
}

func TestUpdateAndWithdraw(t *testing.T) {
	stack.RunDB(t, mount, func(t *testing.T, e *stack.Env) {
		officer := faqClient(t, e, stack.Officer)
		staff := faqClient(t, e, stack.XnkStaff)
		ids := seedCorpus(t, e, officer)
		id := ids["thongquan"]
		t.Run("an edit is searched at once", func(t *testing.T) {
			up := testkit.Got(officer.UpdateFaq(ctx, connect.NewRequest(&issuev1.UpdateFaqRequest{FaqId: id,
				Question: "Thời gian giải phóng hàng luồng xanh?", Answer: "Hàng luồng xanh được giải phóng ngay.", CategoryId: catTax}))).Must(t)
			if up.Entry.CategoryId != catTax || !up.Entry.UpdateTime.AsTime().After(up.Entry.PublishTime.AsTime().Add(-time.Second)) {
				t.Fatalf("updated entry %v", up.Entry)
			}
			if got := keysOf(ids, search(t, staff, "thong quan")); len(got) != 0 {
				t.Fatalf("the old text is still found: %v", got)
			}
			if got := keysOf(ids, search(t, staff, "giai phong hang")); !slices.Equal(got, []string{"thongquan"}) {
				t.Fatalf("the new text is not found: %v", got)
			}
			_, err := officer.UpdateFaq(ctx, connect.NewRequest(&issuev1.UpdateFaqRequest{FaqId: id,
				Question: "Thời gian giải phóng hàng?", Answer: "Hàng luồng xanh được giải phóng ngay.", CategoryId: ids["co"]}))
			testkit.WantField(t, err, connect.CodeInvalidArgument, "category_id")
			_, err = officer.UpdateFaq(ctx, connect.NewRequest(&issuev1.UpdateFaqRequest{FaqId: faqMissing,
				Question: "Thời gian giải phóng hàng?", Answer: "Hàng luồng xanh được giải phóng ngay."}))
			testkit.WantField(t, err, connect.CodeNotFound, "faq_id")
		})
		t.Run("a withdrawn entry leaves search", func(t *testing.T) {
			testkit.Got(officer.WithdrawFaq(ctx, connect.NewRequest(&issuev1.WithdrawFaqRequest{FaqId: ids["dangky"]}))).Must(t)
			if got := keysOf(ids, search(t, staff, "dang ky")); !slices.Equal(got, []string{"co"}) {
				t.Fatalf("SearchFaq after withdrawal = %v, want [co]", got)
			}
			res := testkit.Got(staff.SuggestFaq(ctx, connect.NewRequest(&issuev1.SuggestFaqRequest{Title: "đăng ký tờ khai điện tử"}))).Must(t)
			if slices.Contains(keysOf(ids, res.Hits), "dangky") {
				t.Fatal("SuggestFaq offers a withdrawn entry")
			}
			_, err := staff.GetFaq(ctx, connect.NewRequest(&issuev1.GetFaqRequest{FaqId: ids["dangky"]}))
			testkit.WantField(t, err, connect.CodeNotFound, "faq_id")
			testkit.Got(officer.GetFaq(ctx, connect.NewRequest(&issuev1.GetFaqRequest{FaqId: ids["dangky"]}))).Must(t)
			_, err = officer.WithdrawFaq(ctx, connect.NewRequest(&issuev1.WithdrawFaqRequest{FaqId: ids["dangky"]}))
			testkit.WantCode(t, err, connect.CodeFailedPrecondition)
			_, err = officer.UpdateFaq(ctx, connect.NewRequest(&issuev1.UpdateFaqRequest{FaqId: ids["dangky"],
				Question: corpus[1].question, Answer: corpus[1].answer}))
			testkit.WantCode(t, err, connect.CodeFailedPrecondition)
		})
		t.Run("publishing the issue again brings the entry back", func(t *testing.T) {
			src := testkit.Got(officer.GetFaq(ctx, connect.NewRequest(&issuev1.GetFaqRequest{FaqId: ids["dangky"]}))).Must(t).Entry.SourceIssueId
			back := publish(t, officer, src, corpus[1].question, corpus[1].answer, "")
			if back.Id != ids["dangky"] {
				t.Fatalf("republished as %s, want the same entry %s", back.Id, ids["dangky"])
			}
			if got := keysOf(ids, search(t, staff, "dang ky")); !slices.Equal(got, []string{"dangky", "co"}) {
				t.Fatalf("SearchFaq after republishing = %v", got)
			}
		})
		t.Run("snippets are short and around the match", func(t *testing.T) {
			long := strings.Repeat("Nội dung giải thích chung về quy trình. ", 20) + "Doanh nghiệp cần nộp chứng từ vận tải gốc. " +
				strings.Repeat("Phần còn lại của câu trả lời. ", 20)
			publish(t, officer, answered(t, e, "DEMOCK1TT"), "Chứng từ cần nộp khi nhập khẩu?", long, "")
			hits := search(t, staff, "van tai goc")
			if len(hits) != 1 {
				t.Fatalf("%d hits", len(hits))
			}
			sn := hits[0].Snippet
			if utf8.RuneCountInString(sn) > 200 || !strings.Contains(sn, "vận tải gốc") || !strings.HasPrefix(sn, "…") || !strings.HasSuffix(sn, "…") {
				t.Fatalf("snippet %q (%d characters)", sn, utf8.RuneCountInString(sn))
			}
		})
	})
}

const faqMissing = "0190ffff-0000-7000-8000-000000000000"
