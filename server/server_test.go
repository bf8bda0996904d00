package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	auditv1connect "hqconnect/gen/hqconnect/audit/v1/auditv1connect"
	identityv1 "hqconnect/gen/hqconnect/identity/v1"
	"hqconnect/gen/hqconnect/identity/v1/identityv1connect"
	"hqconnect/gen/hqconnect/issue/v1/issuev1connect"
	"hqconnect/gen/hqconnect/notify/v1/notifyv1connect"
	"hqconnect/internal/auth"
	"hqconnect/internal/errs"
)

// --- test doubles ---------------------------------------------------------

// testAuth accepts a few fixed tokens.
type testAuth struct{}

var testPrincipals = map[string]auth.Principal{
	"good-officer": {UserID: "u-officer", SessionID: "s1", Kind: auth.KindOfficer,
		Roles: []string{auth.RoleOfficer}, UnitID: "unit-1"},
	"good-admin": {UserID: "u-admin", SessionID: "s2", Kind: auth.KindOfficer,
		Roles: []string{auth.RoleOfficer, auth.RoleAdmin}, UnitID: "unit-1"},
	"good-pending-enterprise": {UserID: "u-pending", SessionID: "s3", Kind: auth.KindEnterpriseUser,
		Roles: []string{auth.RoleEnterpriseAdmin}, EnterpriseID: "e-pending", EnterpriseVerified: false},
	"good-enterprise": {UserID: "u-enterprise", SessionID: "s4", Kind: auth.KindEnterpriseUser,
		Roles: []string{auth.RoleEnterpriseAdmin}, EnterpriseID: "e-1", EnterpriseVerified: true},
}

var errBadToken = errs.New(errs.Unauthenticated,
	"your session has expired or the access token is invalid; sign in again",
	"phiên đăng nhập đã hết hạn hoặc access token không hợp lệ; vui lòng đăng nhập lại")

func (testAuth) Authenticate(_ context.Context, token string) (*auth.Principal, error) {
	p, ok := testPrincipals[token]
	if !ok {
		return nil, errBadToken
	}
	return &p, nil
}

// testIdentity stands in for the real identity handlers.
type testIdentity struct {
	identityv1connect.UnimplementedIdentityServiceHandler
}

const sqlText = `pq: relation "users" does not exist`

func (testIdentity) GetMe(ctx context.Context, _ *connect.Request[identityv1.GetMeRequest]) (*connect.Response[identityv1.GetMeResponse], error) {
	p := auth.FromContext(ctx)
	if p == nil {
		return nil, errors.New("no principal in the context")
	}
	return connect.NewResponse(&identityv1.GetMeResponse{User: &identityv1.User{Id: p.UserID}}), nil
}

func (testIdentity) Login(_ context.Context, req *connect.Request[identityv1.LoginRequest]) (*connect.Response[identityv1.LoginResponse], error) {
	switch req.Msg.GetIdentifier() {
	case "invalid":
		return nil, errs.InvalidField("identifier",
			"enter an email address or a phone number",
			"hãy nhập địa chỉ email hoặc số điện thoại")
	case "panic":
		panic("boom")
	case "raw":
		return nil, fmt.Errorf("select user: %w", errors.New(sqlText))
	case "wrapped":
		return nil, fmt.Errorf("login: %w", errs.New(errs.ResourceExhausted, "too many attempts", "quá nhiều lần thử"))
	}
	return connect.NewResponse(&identityv1.LoginResponse{User: &identityv1.User{Id: "u-login"}}), nil
}

type testEnterprise struct {
	identityv1connect.UnimplementedEnterpriseServiceHandler
}

func (testEnterprise) ListStaff(context.Context, *connect.Request[identityv1.ListStaffRequest]) (*connect.Response[identityv1.ListStaffResponse], error) {
	return connect.NewResponse(&identityv1.ListStaffResponse{}), nil
}

func testServices() []Service {
	return []Service{
		{Name: identityv1connect.IdentityServiceName, Mount: func(o ...connect.HandlerOption) (string, http.Handler) {
			return identityv1connect.NewIdentityServiceHandler(testIdentity{}, o...)
		}},
		{Name: identityv1connect.EnterpriseServiceName, Mount: func(o ...connect.HandlerOption) (string, http.Handler) {
			return identityv1connect.NewEnterpriseServiceHandler(testEnterprise{}, o...)
		}},
		{Name: identityv1connect.OrgServiceName, Mount: func(o ...connect.HandlerOption) (string, http.Handler) {
			return identityv1connect.NewOrgServiceHandler(identityv1connect.UnimplementedOrgServiceHandler{}, o...)
		}},
	}
}

// logBuffer collects the server's JSON log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the decoded log lines whose fields include all of match.
func (b *logBuffer) lines(match map[string]string) []map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for line := range strings.SplitSeq(b.buf.String(), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			continue
		}
		ok := true
		for k, v := range match {
			if fmt.Sprint(m[k]) != v {
				ok = false
				break
			}
		}
		if ok {
			out = append(out, m)
		}
	}
	return out
}

// waitLines polls until at least n lines match.
func (b *logBuffer) waitLines(t *testing.T, n int, match map[string]string) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := b.lines(match)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %d log line(s) matching %v; log:\n%s", n, match, b.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type fixture struct {
	s    *Server
	ts   *httptest.Server
	logs *logBuffer
}

func newFixture(t *testing.T, cfg Config, edit func(*Deps)) *fixture {
	t.Helper()
	logs := &logBuffer{}
	deps := Deps{
		Log:      slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Auth:     testAuth{},
		Services: testServices(),
	}
	if edit != nil {
		edit(&deps)
	}
	s, err := New(cfg, deps)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ts := httptest.NewUnstartedServer(s.Handler())
	ts.EnableHTTP2 = true
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return &fixture{s: s, ts: ts, logs: logs}
}

var protocols = []struct {
	name string
	opts []connect.ClientOption
}{
	{"connect", nil},
	{"grpc", []connect.ClientOption{connect.WithGRPC()}},
}

func (f *fixture) identity(opts []connect.ClientOption) identityv1connect.IdentityServiceClient {
	return identityv1connect.NewIdentityServiceClient(f.ts.Client(), f.ts.URL, opts...)
}

func (f *fixture) enterprise(opts []connect.ClientOption) identityv1connect.EnterpriseServiceClient {
	return identityv1connect.NewEnterpriseServiceClient(f.ts.Client(), f.ts.URL, opts...)
}

func (f *fixture) org(opts []connect.ClientOption) identityv1connect.OrgServiceClient {
	return identityv1connect.NewOrgServiceClient(f.ts.Client(), f.ts.URL, opts...)
}

func withHeaders[T any](msg *T, kv ...string) *connect.Request[T] {
	req := connect.NewRequest(msg)
	for i := 0; i+1 < len(kv); i += 2 {
		req.Header().Set(kv[i], kv[i+1])
	}
	return req
}

func bearer(token string) []string { return []string{"Authorization", "Bearer " + token} }

func wantCode(t *testing.T, err error, want connect.Code) *connect.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", want)
	}
	var ce *connect.Error
	if !errors.As(err, &ce) {
		t.Fatalf("got %T %v, want a *connect.Error", err, err)
	}
	if ce.Code() != want {
		t.Fatalf("got code %v (%q), want %v", ce.Code(), ce.Message(), want)
	}
	return ce
}

// --- authentication and authorization --------------------------------------

func TestAuth(t *testing.T) {
	f := newFixture(t, Config{}, nil)
	ctx := t.Context()
	for _, proto := range protocols {
		t.Run(proto.name, func(t *testing.T) {
			id := f.identity(proto.opts)

			t.Run("public procedure works without a token", func(t *testing.T) {
				res, err := id.Login(ctx, connect.NewRequest(&identityv1.LoginRequest{Identifier: "a@b.vn"}))
				if err != nil {
					t.Fatal(err)
				}
				if got := res.Msg.GetUser().GetId(); got != "u-login" {
					t.Fatalf("user id %q", got)
				}
			})
			t.Run("public procedure ignores a bad token", func(t *testing.T) {
				_, err := id.Login(ctx, withHeaders(&identityv1.LoginRequest{}, bearer("junk")...))
				if err != nil {
					t.Fatal(err)
				}
			})
			t.Run("signed-in procedure without a token is unauthenticated", func(t *testing.T) {
				_, err := id.GetMe(ctx, connect.NewRequest(&identityv1.GetMeRequest{}))
				ce := wantCode(t, err, connect.CodeUnauthenticated)
				if ce.Message() != errs.ErrUnauthenticated.VI {
					t.Fatalf("message %q", ce.Message())
				}
			})
			t.Run("another scheme is unauthenticated", func(t *testing.T) {
				_, err := id.GetMe(ctx, withHeaders(&identityv1.GetMeRequest{}, "Authorization", "Basic good-officer"))
				wantCode(t, err, connect.CodeUnauthenticated)
			})
			t.Run("a rejected token gets the authenticator's error", func(t *testing.T) {
				_, err := id.GetMe(ctx, withHeaders(&identityv1.GetMeRequest{}, bearer("expired")...))
				ce := wantCode(t, err, connect.CodeUnauthenticated)
				if ce.Message() != errBadToken.VI {
					t.Fatalf("message %q", ce.Message())
				}
			})
			t.Run("a valid token reaches the handler with the principal", func(t *testing.T) {
				res, err := id.GetMe(ctx, withHeaders(&identityv1.GetMeRequest{}, "Authorization", "bEaReR good-officer"))
				if err != nil {
					t.Fatal(err)
				}
				if got := res.Msg.GetUser().GetId(); got != "u-officer" {
					t.Fatalf("user id %q", got)
				}
			})
			t.Run("wrong kind is refused", func(t *testing.T) {
				_, err := f.enterprise(proto.opts).ListStaff(ctx, withHeaders(&identityv1.ListStaffRequest{}, bearer("good-officer")...))
				wantCode(t, err, connect.CodePermissionDenied)
			})
			t.Run("right kind and role is let through", func(t *testing.T) {
				_, err := f.enterprise(proto.opts).ListStaff(ctx, withHeaders(&identityv1.ListStaffRequest{}, bearer("good-enterprise")...))
				if err != nil {
					t.Fatal(err)
				}
			})
			t.Run("missing role is refused", func(t *testing.T) {
				_, err := f.org(proto.opts).CreateOrgUnit(ctx, withHeaders(&identityv1.CreateOrgUnitRequest{}, bearer("good-officer")...))
				wantCode(t, err, connect.CodePermissionDenied)
			})
			t.Run("one of the roles is enough", func(t *testing.T) {
				// Passes the policy, then reaches the unimplemented handler.
				_, err := f.org(proto.opts).CreateOrgUnit(ctx, withHeaders(&identityv1.CreateOrgUnitRequest{}, bearer("good-admin")...))
				wantCode(t, err, connect.CodeUnimplemented)
			})
			t.Run("unverified enterprise user is refused", func(t *testing.T) {
				_, err := f.enterprise(proto.opts).ListStaff(ctx, withHeaders(&identityv1.ListStaffRequest{}, bearer("good-pending-enterprise")...))
				ce := wantCode(t, err, connect.CodePermissionDenied)
				if ce.Message() != ErrEnterpriseNotVerified.VI {
					t.Fatalf("message %q", ce.Message())
				}
				_, err = f.enterprise(proto.opts).ListStaff(ctx, withHeaders(&identityv1.ListStaffRequest{},
					"Authorization", "Bearer good-pending-enterprise", "Accept-Language", "en-GB,en;q=0.9"))
				ce = wantCode(t, err, connect.CodePermissionDenied)
				if ce.Message() != ErrEnterpriseNotVerified.EN {
					t.Fatalf("message %q", ce.Message())
				}
			})
			t.Run("unverified enterprise user reaches AllowUnverified procedures", func(t *testing.T) {
				res, err := id.GetMe(ctx, withHeaders(&identityv1.GetMeRequest{}, bearer("good-pending-enterprise")...))
				if err != nil {
					t.Fatal(err)
				}
				if got := res.Msg.GetUser().GetId(); got != "u-pending" {
					t.Fatalf("user id %q", got)
				}
			})
		})
	}
	line := f.logs.waitLines(t, 1, map[string]string{
		"msg": "rpc", "procedure": identityv1connect.IdentityServiceGetMeProcedure, "user_id": "u-officer", "code": "ok",
	})[0]
	if line["level"] != "INFO" || line["client_ip"] != "127.0.0.1" {
		t.Fatalf("log line %v", line)
	}
	if got := f.logs.lines(map[string]string{"msg": "rpc", "code": "permission_denied", "level": "INFO"}); len(got) == 0 {
		t.Fatal("no INFO line for a refused call")
	}
}

func TestUndeclaredProcedure(t *testing.T) {
	lacking := maps.Clone(Policies)
	delete(lacking, identityv1connect.IdentityServiceGetMeProcedure)
	delete(lacking, identityv1connect.OrgServiceListOrgUnitsProcedure)

	t.Run("New fails and names the procedures", func(t *testing.T) {
		_, err := New(Config{}, Deps{Auth: testAuth{}, Services: testServices(), Policies: lacking,
			Log: slog.New(slog.DiscardHandler)})
		if err == nil {
			t.Fatal("New succeeded")
		}
		for _, p := range []string{identityv1connect.IdentityServiceGetMeProcedure, identityv1connect.OrgServiceListOrgUnitsProcedure} {
			if !strings.Contains(err.Error(), p) {
				t.Errorf("error %q does not name %s", err, p)
			}
		}
	})
	t.Run("the interceptor refuses a procedure missing from the table", func(t *testing.T) {
		policies := maps.Clone(Policies)
		f := newFixture(t, Config{}, func(d *Deps) { d.Policies = policies })
		// The table loses the entry after New, as if it had been mounted
		// without one.
		delete(policies, identityv1connect.IdentityServiceGetMeProcedure)
		for _, proto := range protocols {
			t.Run(proto.name, func(t *testing.T) {
				_, err := f.identity(proto.opts).GetMe(t.Context(), withHeaders(&identityv1.GetMeRequest{}, bearer("good-admin")...))
				ce := wantCode(t, err, connect.CodePermissionDenied)
				if ce.Message() != ErrProcedureNotDeclared.VI {
					t.Fatalf("message %q", ce.Message())
				}
			})
		}
		f.logs.waitLines(t, 1, map[string]string{"level": "ERROR",
			"procedure": identityv1connect.IdentityServiceGetMeProcedure, "msg": "procedure has no Policy; refused (declare it in server.Policies)"})
	})
}

// TestPoliciesCoverEveryProcedure mounts the real generated services: New
// succeeding with server.Policies proves every procedure is declared.
func TestPoliciesCoverEveryProcedure(t *testing.T) {
	services := []Service{
		{Name: identityv1connect.IdentityServiceName, Mount: func(o ...connect.HandlerOption) (string, http.Handler) {
			return identityv1connect.NewIdentityServiceHandler(identityv1connect.UnimplementedIdentityServiceHandler{}, o...)
		}},
		{Name: identityv1connect.EnterpriseServiceName, Mount: func(o ...connect.HandlerOption) (string, http.Handler) {
			return identityv1connect.NewEnterpriseServiceHandler(identityv1connect.UnimplementedEnterpriseServiceHandler{}, o...)
		}},
		{Name: identityv1connect.OrgServiceName, Mount: func(o ...connect.HandlerOption) (string, http.Handler) {
			return identityv1connect.NewOrgServiceHandler(identityv1connect.UnimplementedOrgServiceHandler{}, o...)
		}},
		{Name: auditv1connect.AuditServiceName, Mount: func(o ...connect.HandlerOption) (string, http.Handler) {
			return auditv1connect.NewAuditServiceHandler(auditv1connect.UnimplementedAuditServiceHandler{}, o...)
		}},
		{Name: notifyv1connect.NotificationServiceName, Mount: func(o ...connect.HandlerOption) (string, http.Handler) {
			return notifyv1connect.NewNotificationServiceHandler(notifyv1connect.UnimplementedNotificationServiceHandler{}, o...)
		}},
		{Name: notifyv1connect.NotifyAdminServiceName, Mount: func(o ...connect.HandlerOption) (string, http.Handler) {
			return notifyv1connect.NewNotifyAdminServiceHandler(notifyv1connect.UnimplementedNotifyAdminServiceHandler{}, o...)
		}},
		{Name: issuev1connect.IssueServiceName, Mount: func(o ...connect.HandlerOption) (string, http.Handler) {
			return issuev1connect.NewIssueServiceHandler(issuev1connect.UnimplementedIssueServiceHandler{}, o...)
		}},
		{Name: issuev1connect.FaqServiceName, Mount: func(o ...connect.HandlerOption) (string, http.Handler) {
			return issuev1connect.NewFaqServiceHandler(issuev1connect.UnimplementedFaqServiceHandler{}, o...)
		}},
		{Name: issuev1connect.IssueAdminServiceName, Mount: func(o ...connect.HandlerOption) (string, http.Handler) {
			return issuev1connect.NewIssueAdminServiceHandler(issuev1connect.UnimplementedIssueAdminServiceHandler{}, o...)
		}},
	}
	services = append(services, clearanceTestServices()...)
	s, err := New(Config{}, Deps{Auth: testAuth{}, Services: services, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("New with server.Policies: %v", err)
	}
	// And the other way: every declared procedure exists.
	for p := range Policies {
		if !s.procedures[p] {
			t.Errorf("server.Policies declares %s, which no mounted service has", p)
		}
	}
}

func TestNewRejectsBadServices(t *testing.T) {
	mount := func(o ...connect.HandlerOption) (string, http.Handler) {
		return identityv1connect.NewIdentityServiceHandler(testIdentity{}, o...)
	}
	for name, deps := range map[string]Deps{
		"no authenticator": {Services: testServices()},
		"unknown service":  {Auth: testAuth{}, Services: []Service{{Name: "nope.v1.NopeService", Mount: mount}}},
		"wrong name":       {Auth: testAuth{}, Services: []Service{{Name: identityv1connect.OrgServiceName, Mount: mount}}},
		"mounted twice":    {Auth: testAuth{}, Services: append(testServices(), testServices()[0])},
		"no mount func":    {Auth: testAuth{}, Services: []Service{{Name: identityv1connect.IdentityServiceName}}},
	} {
		t.Run(name, func(t *testing.T) {
			deps.Log = slog.New(slog.DiscardHandler)
			if _, err := New(Config{}, deps); err == nil {
				t.Fatal("New succeeded")
			}
		})
	}
}

// --- errors -----------------------------------------------------------------

func TestErrorMapping(t *testing.T) {
	f := newFixture(t, Config{}, nil)
	ctx := t.Context()
	for _, proto := range protocols {
		t.Run(proto.name, func(t *testing.T) {
			id := f.identity(proto.opts)
			login := func(identifier string, kv ...string) error {
				_, err := id.Login(ctx, withHeaders(&identityv1.LoginRequest{Identifier: identifier}, kv...))
				return err
			}
			t.Run("domain error in Vietnamese by default", func(t *testing.T) {
				ce := wantCode(t, login("invalid"), connect.CodeInvalidArgument)
				if want := "identifier: hãy nhập địa chỉ email hoặc số điện thoại"; ce.Message() != want {
					t.Fatalf("message %q, want %q", ce.Message(), want)
				}
				ce = wantCode(t, login("invalid", "Accept-Language", "vi-VN,vi;q=0.9,en;q=0.8"), connect.CodeInvalidArgument)
				if !strings.Contains(ce.Message(), "số điện thoại") {
					t.Fatalf("message %q", ce.Message())
				}
			})
			t.Run("domain error in English on request", func(t *testing.T) {
				ce := wantCode(t, login("invalid", "Accept-Language", "en"), connect.CodeInvalidArgument)
				if want := "identifier: enter an email address or a phone number"; ce.Message() != want {
					t.Fatalf("message %q, want %q", ce.Message(), want)
				}
			})
			t.Run("wrapped domain error keeps its code", func(t *testing.T) {
				ce := wantCode(t, login("wrapped", "Accept-Language", "en-US"), connect.CodeResourceExhausted)
				if ce.Message() != "too many attempts" {
					t.Fatalf("message %q", ce.Message())
				}
			})
			t.Run("raw error is internal and does not leak", func(t *testing.T) {
				ce := wantCode(t, login("raw"), connect.CodeInternal)
				if strings.Contains(ce.Error(), "relation") || strings.Contains(ce.Error(), "pq:") || strings.Contains(ce.Error(), "select") {
					t.Fatalf("internal detail leaked: %q", ce.Error())
				}
				if !strings.HasPrefix(ce.Message(), "lỗi hệ thống; đã được ghi nhận") {
					t.Fatalf("message %q", ce.Message())
				}
				ce = wantCode(t, login("raw", "Accept-Language", "en"), connect.CodeInternal)
				if !strings.HasPrefix(ce.Message(), "internal error; it has been logged (request at ") {
					t.Fatalf("message %q", ce.Message())
				}
			})
			t.Run("panic is internal and the server keeps serving", func(t *testing.T) {
				ce := wantCode(t, login("panic"), connect.CodeInternal)
				if strings.Contains(ce.Message(), "boom") {
					t.Fatalf("panic value leaked: %q", ce.Message())
				}
				if err := login("fine"); err != nil {
					t.Fatalf("after a panic: %v", err)
				}
			})
		})
	}

	raw := f.logs.waitLines(t, 1, map[string]string{"msg": "rpc", "code": "internal", "level": "ERROR"})
	var sawSQL, sawStack bool
	for _, l := range raw {
		e, _ := l["error"].(string)
		if strings.Contains(e, sqlText) && l["error_ref"] != nil {
			sawSQL = true
		}
		if st, _ := l["stack"].(string); strings.Contains(e, "panic: boom") && strings.Contains(st, "Login") {
			sawStack = true
		}
	}
	if !sawSQL || !sawStack {
		t.Fatalf("ERROR lines lack the real error (%v) or the panic stack (%v): %v", sawSQL, sawStack, raw)
	}
	if got := f.logs.lines(map[string]string{"msg": "rpc", "code": "invalid_argument", "level": "INFO"}); len(got) == 0 {
		t.Fatal("client-side error not logged at INFO")
	}
}

func TestToConnectError(t *testing.T) {
	ctx := context.Background()
	shutdownCtx, cancel := context.WithCancelCause(ctx)
	cancel(errShuttingDown)
	for _, tc := range []struct {
		name     string
		ctx      context.Context
		err      error
		code     connect.Code
		expected bool
	}{
		{"not found", ctx, errs.New(errs.NotFound, "no such issue", "không tìm thấy vướng mắc"), connect.CodeNotFound, true},
		{"already exists", ctx, errs.New(errs.AlreadyExists, "taken", "đã tồn tại"), connect.CodeAlreadyExists, true},
		{"permission", ctx, errs.ErrPermissionDenied, connect.CodePermissionDenied, true},
		{"unauthenticated", ctx, errs.ErrUnauthenticated, connect.CodeUnauthenticated, true},
		{"failed precondition", ctx, errs.New(errs.FailedPrecondition, "closed", "đã đóng"), connect.CodeFailedPrecondition, true},
		{"unavailable", ctx, errs.New(errs.Unavailable, "down", "mất kết nối").Wrap(errors.New("dial tcp")), connect.CodeUnavailable, true},
		{"domain error with a bad code", ctx, &errs.Error{Code: 99, EN: "x", VI: "x"}, connect.CodeInternal, false},
		{"connect error passes", ctx, connect.NewError(connect.CodeAborted, errors.New("retry")), connect.CodeAborted, true},
		{"connect unknown becomes internal", ctx, connect.NewError(connect.CodeUnknown, errors.New("sql: no rows")), connect.CodeInternal, false},
		{"canceled", ctx, fmt.Errorf("query: %w", context.Canceled), connect.CodeCanceled, true},
		{"deadline", ctx, context.DeadlineExceeded, connect.CodeDeadlineExceeded, true},
		{"shutdown ends a stream as unavailable", shutdownCtx, context.Canceled, connect.CodeUnavailable, true},
		{"raw", ctx, errors.New("boom"), connect.CodeInternal, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ce, expected := ToConnectError(tc.ctx, tc.err)
			if ce.Code() != tc.code || expected != tc.expected {
				t.Fatalf("got %v, %v; want %v, %v", ce.Code(), expected, tc.code, tc.expected)
			}
			if strings.Contains(ce.Message(), "sql") || strings.Contains(ce.Message(), "boom") {
				t.Fatalf("leaked: %q", ce.Message())
			}
		})
	}
	if ce, ok := ToConnectError(ctx, nil); ce != nil || !ok {
		t.Fatal("nil error not nil")
	}
}

func TestRequestTooLarge(t *testing.T) {
	f := newFixture(t, Config{MaxRequestBytes: 16 << 10}, nil)
	big := strings.Repeat("x", 64<<10)
	for _, proto := range protocols {
		t.Run(proto.name, func(t *testing.T) {
			_, err := f.identity(proto.opts).Login(t.Context(), connect.NewRequest(&identityv1.LoginRequest{Password: big}))
			wantCode(t, err, connect.CodeResourceExhausted)
			// Refused while decoding, before any interceptor: still one log line.
			f.logs.waitLines(t, 1, map[string]string{"msg": "rpc", "code": "resource_exhausted",
				"procedure": identityv1connect.IdentityServiceLoginProcedure, "protocol": proto.name})
		})
	}
	t.Run("plain HTTP body is limited too", func(t *testing.T) {
		h := newFixture(t, Config{MaxRequestBytes: 16}, nil).s.rpcOrLimit(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if _, err := io.ReadAll(r.Body); err == nil {
				t.Error("read an oversized body")
			}
		}))
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/upload", strings.NewReader(strings.Repeat("x", 100))))
	})
}

// --- HTTP endpoints ------------------------------------------------------------

func TestHealthReadyMetrics(t *testing.T) {
	var failing sync.Map
	f := newFixture(t, Config{}, func(d *Deps) {
		d.Ready = []ReadyCheck{
			{Name: "database", Check: func(context.Context) error { return nil }},
			{Name: "redis", Check: func(context.Context) error {
				if _, bad := failing.Load("redis"); bad {
					return errors.New("dial tcp 127.0.0.1:6379: connection refused")
				}
				return nil
			}},
		}
	})
	get := func(path string) (int, string) {
		t.Helper()
		res, err := f.ts.Client().Get(f.ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}

	t.Run("healthz", func(t *testing.T) {
		if code, body := get("/healthz"); code != 200 || body != "ok" {
			t.Fatalf("%d %q", code, body)
		}
	})
	t.Run("readyz when all checks pass", func(t *testing.T) {
		if code, body := get("/readyz"); code != 200 || !strings.Contains(body, `"ready"`) {
			t.Fatalf("%d %q", code, body)
		}
	})
	t.Run("readyz names the failing check", func(t *testing.T) {
		failing.Store("redis", true)
		defer failing.Delete("redis")
		code, body := get("/readyz")
		if code != http.StatusServiceUnavailable {
			t.Fatalf("%d %q", code, body)
		}
		var rep readyReport
		if err := json.Unmarshal([]byte(body), &rep); err != nil {
			t.Fatal(err)
		}
		for _, c := range rep.Checks {
			switch c.Name {
			case "redis":
				if c.OK || !strings.Contains(c.Error, "connection refused") {
					t.Fatalf("redis: %+v", c)
				}
			case "database":
				if !c.OK {
					t.Fatalf("database: %+v", c)
				}
			}
		}
	})
	t.Run("metrics count RPCs by procedure and code", func(t *testing.T) {
		for _, proto := range protocols {
			_, _ = f.identity(proto.opts).Login(t.Context(), connect.NewRequest(&identityv1.LoginRequest{}))
			_, _ = f.identity(proto.opts).GetMe(t.Context(), connect.NewRequest(&identityv1.GetMeRequest{}))
		}
		code, body := get("/metrics")
		if code != 200 {
			t.Fatalf("%d", code)
		}
		for _, want := range []string{
			`hqconnect_rpc_requests_total{code="ok",procedure="/hqconnect.identity.v1.IdentityService/Login"} 2`,
			`hqconnect_rpc_requests_total{code="unauthenticated",procedure="/hqconnect.identity.v1.IdentityService/GetMe"} 2`,
			`hqconnect_rpc_duration_seconds_bucket{procedure="/hqconnect.identity.v1.IdentityService/Login",le="0.0005"}`,
			`go_goroutines`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
	})
	t.Run("a shared registry is reused", func(t *testing.T) {
		reg := prometheus.NewRegistry()
		for range 2 {
			if _, err := New(Config{}, Deps{Auth: testAuth{}, Registry: reg, Services: testServices()}); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestCORS(t *testing.T) {
	f := newFixture(t, Config{CORSOrigins: []string{"https://console.hq.example"}}, nil)
	preflight := func(origin string) *http.Response {
		req, _ := http.NewRequest(http.MethodOptions, f.ts.URL+identityv1connect.IdentityServiceLoginProcedure, nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type,connect-protocol-version,authorization")
		res, err := f.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	t.Run("preflight from an allowed origin", func(t *testing.T) {
		res := preflight("https://console.hq.example")
		h := res.Header
		if res.StatusCode != http.StatusNoContent ||
			h.Get("Access-Control-Allow-Origin") != "https://console.hq.example" ||
			h.Get("Access-Control-Allow-Methods") != "GET, POST" ||
			h.Get("Access-Control-Max-Age") != "7200" ||
			!slices.Contains(h.Values("Vary"), "Origin") {
			t.Fatalf("%d %v", res.StatusCode, h)
		}
		for _, want := range []string{"Content-Type", "Connect-Protocol-Version", "Authorization", "X-Grpc-Web", "Connect-Timeout-Ms"} {
			if !strings.Contains(h.Get("Access-Control-Allow-Headers"), want) {
				t.Errorf("allow headers lack %s", want)
			}
		}
	})
	t.Run("preflight from another origin gets no grant", func(t *testing.T) {
		res := preflight("https://evil.example")
		if res.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("granted: %v", res.Header)
		}
	})
	t.Run("actual request exposes the gRPC headers", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, f.ts.URL+identityv1connect.IdentityServiceLoginProcedure, strings.NewReader(`{}`))
		req.Header.Set("Origin", "https://console.hq.example")
		req.Header.Set("Content-Type", "application/json")
		res, err := f.ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 || res.Header.Get("Access-Control-Allow-Origin") != "https://console.hq.example" ||
			!strings.Contains(res.Header.Get("Access-Control-Expose-Headers"), "Grpc-Status-Details-Bin") {
			t.Fatalf("%d %v", res.StatusCode, res.Header)
		}
	})
	t.Run("star allows any origin", func(t *testing.T) {
		c := newCORS([]string{"*"})
		if !c.allowed("https://anything.example") || c.allowed("") {
			t.Fatal("star")
		}
	})
}

// --- gRPC reflection and health -----------------------------------------------

func TestReflectionAndHealth(t *testing.T) {
	f := newFixture(t, Config{}, nil)
	t.Run("reflection lists the services", func(t *testing.T) {
		for _, proto := range protocols {
			t.Run(proto.name, func(t *testing.T) {
				stream := grpcreflect.NewClient(f.ts.Client(), f.ts.URL, proto.opts...).NewStream(t.Context())
				defer stream.Close()
				names, err := stream.ListServices()
				if err != nil {
					t.Fatal(err)
				}
				for _, want := range []protoreflect.FullName{
					identityv1connect.IdentityServiceName, identityv1connect.EnterpriseServiceName,
					identityv1connect.OrgServiceName, grpchealth.HealthV1ServiceName,
				} {
					if !slices.Contains(names, want) {
						t.Errorf("ListServices %v lacks %s", names, want)
					}
				}
				if _, err := stream.FileContainingSymbol(identityv1connect.IdentityServiceName); err != nil {
					t.Fatal(err)
				}
			})
		}
	})
	t.Run("reflection v1alpha answers too", func(t *testing.T) {
		// Ask v1alpha directly with a raw request to the path.
		res, err := f.ts.Client().Post(f.ts.URL+"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
			"application/connect+json", bytes.NewReader(envelope(`{"listServices":""}`)))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 || !bytes.Contains(b, []byte(identityv1connect.IdentityServiceName)) {
			t.Fatalf("%d %q", res.StatusCode, b)
		}
	})
	t.Run("health check says SERVING", func(t *testing.T) {
		for _, proto := range protocols {
			t.Run(proto.name, func(t *testing.T) {
				status := healthCheck(t, f.ts.Client(), f.ts.URL, identityv1connect.IdentityServiceName, proto.opts...)
				if status != grpchealth.StatusServing {
					t.Fatalf("status %s", status)
				}
			})
		}
	})
	t.Run("health watch is a stream through the interceptors", func(t *testing.T) {
		client := connect.NewClient[dynamicpb.Message, dynamicpb.Message](f.ts.Client(), f.ts.URL+"/grpc.health.v1.Health/Watch",
			connect.WithGRPC(), connect.WithResponseInitializer(initOutput(healthMethod(t, "Watch"))))
		stream, err := client.CallServerStream(t.Context(), connect.NewRequest(dynamicpb.NewMessage(healthMethod(t, "Watch").Input())))
		if err != nil {
			t.Fatal(err)
		}
		for stream.Receive() {
		}
		wantCode(t, stream.Err(), connect.CodeUnimplemented)
		f.logs.waitLines(t, 1, map[string]string{"msg": "rpc", "procedure": "/grpc.health.v1.Health/Watch",
			"code": "unimplemented", "level": "ERROR"})
	})
}

// envelope frames one Connect streaming message.
func envelope(msg string) []byte {
	b := []byte{0, 0, 0, 0, 0}
	n := len(msg)
	b[1], b[2], b[3], b[4] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	return append(b, msg...)
}

func healthMethod(t *testing.T, name string) protoreflect.MethodDescriptor {
	t.Helper()
	// grpchealth registers the (wire-identical) health protos under a
	// "connectext." prefix.
	d, err := protoregistry.GlobalFiles.FindDescriptorByName("connectext.grpc.health.v1.Health." + protoreflect.FullName(name))
	if err != nil {
		t.Fatal(err)
	}
	return d.(protoreflect.MethodDescriptor)
}

func initOutput(md protoreflect.MethodDescriptor) func(connect.Spec, any) error {
	return func(_ connect.Spec, msg any) error {
		m, ok := msg.(*dynamicpb.Message)
		if !ok {
			return fmt.Errorf("unexpected %T", msg)
		}
		*m = *dynamicpb.NewMessage(md.Output())
		return nil
	}
}

// healthCheck calls grpc.health.v1.Health/Check (its Go types are internal
// to grpchealth, hence dynamic messages) and returns the status.
func healthCheck(t *testing.T, hc connect.HTTPClient, baseURL, service string, opts ...connect.ClientOption) grpchealth.Status {
	t.Helper()
	md := healthMethod(t, "Check")
	client := connect.NewClient[dynamicpb.Message, dynamicpb.Message](hc, baseURL+"/grpc.health.v1.Health/Check",
		append([]connect.ClientOption{connect.WithSchema(md), connect.WithResponseInitializer(initOutput(md))}, opts...)...)
	req := dynamicpb.NewMessage(md.Input())
	req.Set(md.Input().Fields().ByName("service"), protoreflect.ValueOfString(service))
	res, err := client.CallUnary(t.Context(), connect.NewRequest(req))
	if err != nil {
		t.Fatal(err)
	}
	return grpchealth.Status(res.Msg.Get(md.Output().Fields().ByName("status")).Enum())
}

// --- h2c, long streams and graceful shutdown -----------------------------------

// TestStreamOutlivesReadHeaderTimeout serves for real over h2c: a
// bidirectional stream stays usable well past ReadHeaderTimeout, and a
// shutdown ends it and returns nil promptly.
func TestStreamOutlivesReadHeaderTimeout(t *testing.T) {
	const readHeaderTimeout = 200 * time.Millisecond
	logs := &logBuffer{}
	s, err := New(Config{Addr: "127.0.0.1:0", ReadHeaderTimeout: readHeaderTimeout, ShutdownTimeout: 10 * time.Second},
		Deps{Auth: testAuth{}, Services: testServices(), Log: slog.New(slog.NewJSONHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()
	if s.Addr() != ln.Addr().String() {
		// Addr is set before Serve starts accepting; poll briefly.
		deadline := time.Now().Add(5 * time.Second)
		for s.Addr() != ln.Addr().String() && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if s.Addr() != ln.Addr().String() {
			t.Fatalf("Addr %q, want %q", s.Addr(), ln.Addr())
		}
	}

	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	transport := &http.Transport{Protocols: p}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport}
	baseURL := "http://" + ln.Addr().String()

	if status := healthCheck(t, client, baseURL, "", connect.WithGRPC()); status != grpchealth.StatusServing {
		t.Fatalf("health %s", status)
	}

	stream := grpcreflect.NewClient(client, baseURL, connect.WithGRPC()).NewStream(context.Background())
	defer stream.Close()
	if _, err := stream.ListServices(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * readHeaderTimeout) // the point of the test: hold the stream open
	names, err := stream.ListServices()
	if err != nil {
		t.Fatalf("stream broken after %s: %v", 3*readHeaderTimeout, err)
	}
	if !slices.Contains(names, identityv1connect.IdentityServiceName) {
		t.Fatalf("names %v", names)
	}

	// Graceful shutdown with the stream still open.
	stop()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(8 * time.Second): // well under ShutdownTimeout
		t.Fatal("Serve did not return after its context was cancelled")
	}
	_, err = stream.ListServices()
	if err == nil {
		t.Fatal("stream still works after shutdown")
	}
	// One stream, one log line: it was ended by the shutdown.
	lines := logs.waitLines(t, 1, map[string]string{"msg": "rpc",
		"procedure": "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"})
	if len(lines) != 1 || lines[0]["code"] != "unavailable" || lines[0]["protocol"] != "grpc" {
		t.Fatalf("stream log lines %v", lines)
	}
}

// --- small pure helpers ------------------------------------------------------

func TestLocaleOf(t *testing.T) {
	for in, want := range map[string]string{
		"":                              "vi",
		"en":                            "en",
		"EN-us":                         "en",
		"en-GB,en;q=0.9":                "en",
		"vi-VN,vi;q=0.9,en;q=0.8":       "vi",
		"fr-FR,en;q=0.9":                "vi",
		"vi;q=0.5,en;q=0.8":             "en",
		"en;q=0,vi":                     "vi",
		"eng":                           "vi",
		"*":                             "vi",
		" en-US ; q=1 , vi ; q=0.9":     "en",
		"garbage;;;,,,q=":               "vi",
		"zh-CN,zh;q=0.9,en-US;q=0.8,en": "vi",
	} {
		if got := localeOf(in); got != want {
			t.Errorf("localeOf(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestClientIP(t *testing.T) {
	req := func(remote, xff string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = remote
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		return r
	}
	for _, tc := range []struct {
		remote, xff string
		trust       bool
		want        string
	}{
		{"10.0.0.1:5555", "", false, "10.0.0.1"},
		{"10.0.0.1:5555", "203.0.113.7", false, "10.0.0.1"},
		{"10.0.0.1:5555", "203.0.113.7, 10.0.0.2", true, "203.0.113.7"},
		{"10.0.0.1:5555", "[2001:db8::1]:443", true, "2001:db8::1"},
		{"10.0.0.1:5555", "not-an-ip", true, "10.0.0.1"},
		{"[::1]:5555", "", true, "::1"},
	} {
		if got := clientIP(req(tc.remote, tc.xff), tc.trust); got != tc.want {
			t.Errorf("clientIP(%q, %q, %v) = %q, want %q", tc.remote, tc.xff, tc.trust, got, tc.want)
		}
	}
}

func TestBearerToken(t *testing.T) {
	for in, want := range map[string]string{
		"Bearer abc": "abc", "bearer abc": "abc", "BEARER  abc ": "abc",
		"Basic abc": "", "Bearer": "", "Bearer ": "", "": "", "abc": "",
	} {
		got, ok := bearerToken(in)
		if got != want || ok != (want != "") {
			t.Errorf("bearerToken(%q) = %q, %v", in, got, ok)
		}
	}
}
