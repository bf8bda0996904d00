package issues

import (
	"context"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	identityv1 "hqconnect/gen/hqconnect/identity/v1"
	"hqconnect/gen/hqconnect/identity/v1/identityv1connect"
	issuev1 "hqconnect/gen/hqconnect/issue/v1"
	"hqconnect/gen/hqconnect/issue/v1/issuev1connect"
	"hqconnect/internal/blob"
	"hqconnect/internal/testkit"
	"hqconnect/internal/testkit/stack"
	"hqconnect/server"
	"hqconnect/server/issues/attach"
	"hqconnect/server/issues/catalog"
)

// The lifecycle test harness, shared by every test of the package:
//
//	stack.RunDB(t, issueMount(t), func(t *testing.T, e *stack.Env) {
//		ie := newIssueEnv(t, e)
//		iss := ie.createIssue(t, ie.Staff, catOther, "")
//		testkit.Got(ie.Head.AssignIssue(ctx, connect.NewRequest(&issuev1.AssignIssueRequest{…}))).Must(t)
//	})
//
// newIssueEnv routes every seeded category to team DEMOCK1TT (the demo
// officer's team, below the demo head's branch DEMOCK1), so issues land in a
// queue the demo officers work.

// Seeded categories (00005_issues.sql).
const (
	catIDVNACCS = "0190a000-0000-7000-8000-000000000001" // auto-assigned, no approval, 8 h
	catIDHS     = "0190a000-0000-7000-8000-000000000002" // approval by UNIT_HEAD, 40 h
	catIDOther  = "0190a000-0000-7000-8000-000000000009" // no approval, not auto-assigned, 40 h
)

// officerPassword is the password of the officers tests create.
const officerPassword = "officer-password-2026"

var issueServices sync.Map // *stack.Env → *Service

// issueMount serves IssueService (and the catalog's IssueAdminService) from
// a Service built like cmd builds it, on the Env's database and clock, with
// attachments in a temporary directory of t.
func issueMount(t *testing.T) stack.Mount {
	dir := t.TempDir()
	return func(e *stack.Env) []server.Service {
		sub, err := os.MkdirTemp(dir, "blobs")
		if err != nil {
			panic(err)
		}
		blobs, err := blob.NewDir(sub)
		if err != nil {
			panic(err)
		}
		cat := catalog.New(e.DB, e.Clock.Now)
		svc := New(Deps{DB: e.DB, Scheduler: e.Scheduler, Catalog: cat,
			Attachments: attach.New(e.DB, blobs, e.Clock.Now), Log: e.Log, Now: e.Clock.Now})
		issueServices.Store(e, svc)
		return []server.Service{
			{Name: issuev1connect.IssueServiceName, Mount: func(o ...connect.HandlerOption) (string, http.Handler) {
				return issuev1connect.NewIssueServiceHandler(svc, o...)
			}},
			{Name: issuev1connect.IssueAdminServiceName, Mount: func(o ...connect.HandlerOption) (string, http.Handler) {
				return issuev1connect.NewIssueAdminServiceHandler(cat, o...)
			}},
		}
	}
}

// issueEnv is one Env's issue clients, one per demo role.
type issueEnv struct {
	e   *stack.Env
	svc *Service
	// Users by demo login.
	Users map[string]*stack.User
	// Enterprise A (staff and admin) and enterprise B (staff).
	Staff, EntAdmin, OtherStaff issuev1connect.IssueServiceClient
	// Officers: OFFICER of DEMOCK1TT, UNIT_HEAD of DEMOCK1, DIRECTOR,
	// ADMIN and INSPECTOR of DEMOHQ.
	Officer, Head, Director, Admin, Inspector issuev1connect.IssueServiceClient
}

func newIssueEnv(t *testing.T, e *stack.Env) *issueEnv {
	t.Helper()
	v, ok := issueServices.Load(e)
	if !ok {
		t.Fatal("the Env was not built with issueMount")
	}
	t.Cleanup(func() { issueServices.Delete(e) })
	ie := &issueEnv{e: e, svc: v.(*Service), Users: map[string]*stack.User{}}
	for _, login := range []string{stack.XnkStaff, stack.XnkAdmin, stack.LogStaff, stack.Officer, stack.Head,
		stack.Director, stack.Admin, stack.Inspector} {
		ie.Users[login] = e.Login(t, login)
	}
	c := func(login string) issuev1connect.IssueServiceClient {
		return stack.Client(ie.Users[login], issuev1connect.NewIssueServiceClient)
	}
	ie.Staff, ie.EntAdmin, ie.OtherStaff = c(stack.XnkStaff), c(stack.XnkAdmin), c(stack.LogStaff)
	ie.Officer, ie.Head, ie.Director, ie.Admin, ie.Inspector = c(stack.Officer), c(stack.Head), c(stack.Director), c(stack.Admin), c(stack.Inspector)
	ie.exec(t, `UPDATE issue_categories SET unit_id = $1`, e.UnitID(t, "DEMOCK1TT"))
	return ie
}

// exec runs SQL on the Env's database.
func (ie *issueEnv) exec(t *testing.T, query string, args ...any) {
	t.Helper()
	if _, err := ie.e.DB.ExecContext(context.Background(), query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// id is the user id of a demo login.
func (ie *issueEnv) id(login string) string { return ie.Users[login].UserID() }

// newOfficer creates an officer in the unit with code unitCode and roles,
// signs them in and returns their client and user.
func (ie *issueEnv) newOfficer(t *testing.T, email, name, unitCode string, roles ...identityv1.Role) (issuev1connect.IssueServiceClient, *stack.User) {
	t.Helper()
	org := stack.Client(ie.e.Login(t, stack.Admin), identityv1connect.NewOrgServiceClient)
	testkit.Got(org.CreateOfficer(context.Background(), connect.NewRequest(&identityv1.CreateOfficerRequest{
		Email: email, FullName: name, UnitId: ie.e.UnitID(t, unitCode), Roles: roles, Password: officerPassword,
	}))).Must(t)
	u := ie.e.LoginWith(t, email, officerPassword)
	return stack.Client(u, issuev1connect.NewIssueServiceClient), u
}

// createIssue raises a valid issue of category as client (an enterprise
// user) with a distinct title.
func (ie *issueEnv) createIssue(t *testing.T, client issuev1connect.IssueServiceClient, category, title string) *issuev1.Issue {
	t.Helper()
	if title == "" {
		title = "Lỗi khai báo tờ khai nhập khẩu"
	}
	return testkit.Got(client.CreateIssue(context.Background(), connect.NewRequest(&issuev1.CreateIssueRequest{
		CategoryId: category, Title: title,
		Body: "Hệ thống báo lỗi khi chúng tôi khai báo tờ khai nhập khẩu, xin hướng dẫn cách xử lý.",
	}))).Must(t).Issue
}

// assign makes the demo head assign the issue to officer (a user id; "" for
// the least-loaded).
func (ie *issueEnv) assign(t *testing.T, issueID, officer string) *issuev1.Issue {
	t.Helper()
	return testkit.Got(ie.Head.AssignIssue(context.Background(), connect.NewRequest(&issuev1.AssignIssueRequest{
		IssueId: issueID, OfficerId: officer,
	}))).Must(t).Issue
}

// get reads an issue as client.
func get(t *testing.T, client issuev1connect.IssueServiceClient, issueID string) *issuev1.GetIssueResponse {
	t.Helper()
	return testkit.Got(client.GetIssue(context.Background(), connect.NewRequest(&issuev1.GetIssueRequest{IssueId: issueID}))).Must(t)
}

// wantStatus fails unless the issue has status.
func wantStatus(t *testing.T, iss *issuev1.Issue, status issuev1.IssueStatus) {
	t.Helper()
	if iss.GetStatus() != status {
		t.Fatalf("issue %s is %v, want %v", iss.GetNumber(), iss.GetStatus(), status)
	}
}

// auditCount counts audit rows of action on the issue.
func (ie *issueEnv) auditCount(t *testing.T, action, issueID string) int {
	t.Helper()
	return ie.e.Count(t, `audit_events WHERE action = $1 AND target_id = $2`, action, issueID)
}

// leaks fails t when the JSON of any message contains any of secrets.
func leaks(t *testing.T, what string, secrets []string, msgs ...proto.Message) {
	t.Helper()
	for _, m := range msgs {
		b, err := protojson.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range secrets {
			if strings.Contains(string(b), s) {
				t.Fatalf("%s leaks %q: %s", what, s, b)
			}
		}
	}
}

// inEnglish sends Accept-Language: en with a request.
func inEnglish[T any](m *T) *connect.Request[T] {
	r := connect.NewRequest(m)
	r.Header().Set("Accept-Language", "en")
	return r
}
