package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"

	"hqconnect/internal/auth"
	"hqconnect/internal/errs"
	"hqconnect/internal/reqinfo"
)

// The interceptors, outermost first: observe (one log line and the metrics,
// with the final code), drain (ends streams at shutdown), errors (the one
// error mapping), recover (a panic becomes an internal error), auth (who may
// call). They pass facts outwards through a callState in the context.

// callState is what the inner layers tell the outer ones about one call.
// Only the goroutine running the handler chain touches it, apart from
// closeBody, which is set before the chain starts.
type callState struct {
	seen     bool   // an interceptor ran: the call gets its log line there
	userID   string // the authenticated caller, if any
	cause    error  // the error behind the one the caller saw
	errorRef string // the time shown in a generic internal error
	// closeBody closes an HTTP/2 request body to end a stream at shutdown.
	closeBody func() error
}

type callStateKey struct{}

func withCallState(ctx context.Context, st *callState) context.Context {
	return context.WithValue(ctx, callStateKey{}, st)
}

func callStateFrom(ctx context.Context) *callState {
	st, _ := ctx.Value(callStateKey{}).(*callState)
	return st
}

// ensureCallState returns the call's state, adding one to ctx if the HTTP
// middleware did not.
func ensureCallState(ctx context.Context) (*callState, context.Context) {
	if st := callStateFrom(ctx); st != nil {
		return st, ctx
	}
	st := &callState{}
	return st, withCallState(ctx, st)
}

// observeInterceptor writes exactly one log line per RPC and records its
// metrics.
type observeInterceptor struct{ s *Server }

func (i observeInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		st, ctx := ensureCallState(ctx)
		st.seen = true
		start := time.Now()
		res, err := next(ctx, req)
		i.s.observe(ctx, st, req.Spec().Procedure, req.Peer().Protocol, start, err)
		return res, err
	}
}

func (observeInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (i observeInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		st, ctx := ensureCallState(ctx)
		st.seen = true
		start := time.Now()
		err := next(ctx, conn)
		i.s.observe(ctx, st, conn.Spec().Procedure, conn.Peer().Protocol, start, err)
		return err
	}
}

func (s *Server) observe(ctx context.Context, st *callState, procedure, protocol string, start time.Time, err error) {
	d := time.Since(start)
	code, level := "ok", slog.LevelInfo
	if err != nil {
		c := connect.CodeOf(err)
		code = c.String()
		if !clientSide(c) {
			level = slog.LevelError
		}
	}
	s.metrics.observe(s.procedureLabel(procedure), code, d)

	attrs := make([]slog.Attr, 0, 10)
	attrs = append(attrs,
		slog.String("procedure", procedure),
		slog.String("protocol", protocol),
		slog.String("code", code),
		slog.Duration("duration", d),
		slog.String("client_ip", reqinfo.From(ctx).ClientIP),
	)
	if st.userID != "" {
		attrs = append(attrs, slog.String("user_id", st.userID))
	}
	if err != nil {
		cause := st.cause
		if cause == nil {
			cause = err
		}
		attrs = append(attrs, slog.String("error", cause.Error()))
		if st.errorRef != "" {
			attrs = append(attrs, slog.String("error_ref", st.errorRef))
		}
		if pe, ok := errors.AsType[*panicError](cause); ok {
			attrs = append(attrs, slog.String("stack", string(pe.stack)))
		}
	}
	s.log.LogAttrs(ctx, level, "rpc", attrs...)
}

// drainInterceptor ends a stream when a graceful shutdown starts: its
// context is cancelled (cause errShuttingDown, which the error mapping turns
// into Unavailable) and, over HTTP/2, its request body is closed so that a
// handler blocked in Receive wakes up.
type drainInterceptor struct{ s *Server }

func (drainInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc { return next }

func (drainInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (i drainInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		ctx, cancel := context.WithCancelCause(ctx)
		defer cancel(nil)
		closeBody := callStateFrom(ctx).closeBodyFunc()
		stop := context.AfterFunc(i.s.draining, func() {
			cancel(errShuttingDown)
			if closeBody != nil {
				_ = closeBody()
			}
		})
		defer stop()
		return next(ctx, conn)
	}
}

func (st *callState) closeBodyFunc() func() error {
	if st == nil {
		return nil
	}
	return st.closeBody
}

// errorInterceptor maps every error to what the caller may see (see
// ToConnectError) and hands the original to the log line.
type errorInterceptor struct{ s *Server }

func (i errorInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		res, err := next(ctx, req)
		if err != nil {
			return nil, i.s.mapError(ctx, err)
		}
		return res, nil
	}
}

func (errorInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (i errorInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		if err := next(ctx, conn); err != nil {
			return i.s.mapError(ctx, err)
		}
		return nil
	}
}

func (s *Server) mapError(ctx context.Context, err error) error {
	now := time.Now()
	ce, expected := toConnectError(ctx, err, now)
	st := callStateFrom(ctx)
	switch {
	case st != nil:
		st.cause = err
		if !expected {
			st.errorRef = errorRef(now)
		}
	case !expected:
		s.log.ErrorContext(ctx, "unexpected error", "error", err, "error_ref", errorRef(now))
	}
	return ce
}

// recoverInterceptor turns a handler's panic into an error; the error
// mapping makes it an internal error and the log line carries the stack.
type recoverInterceptor struct{}

// panicError is a recovered panic.
type panicError struct {
	value any
	stack []byte
}

func (e *panicError) Error() string { return fmt.Sprintf("panic: %v", e.value) }

func recovered(v any) error {
	if v == http.ErrAbortHandler { //nolint:errorlint // net/http's own sentinel: let it abort
		panic(v)
	}
	return &panicError{value: v, stack: debug.Stack()}
}

func (recoverInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (res connect.AnyResponse, err error) {
		defer func() {
			if v := recover(); v != nil {
				res, err = nil, recovered(v)
			}
		}()
		return next(ctx, req)
	}
}

func (recoverInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (recoverInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) (err error) {
		defer func() {
			if v := recover(); v != nil {
				err = recovered(v)
			}
		}()
		return next(ctx, conn)
	}
}

// Errors of the authorization layer.
var (
	// ErrProcedureNotDeclared refuses a procedure missing from the Policy
	// table: nobody may call it.
	ErrProcedureNotDeclared = errs.New(errs.PermissionDenied,
		"procedure not declared: this operation is not open to anyone until its access policy is declared",
		"thao tác chưa được khai báo quyền truy cập nên chưa ai được phép gọi")
	// ErrEnterpriseNotVerified refuses the users of a pending or rejected
	// enterprise everything but what their policy allows (AllowUnverified).
	ErrEnterpriseNotVerified = errs.New(errs.PermissionDenied,
		"your enterprise's registration has not been verified by customs yet; you can only view your profile and registration status",
		"đăng ký của doanh nghiệp bạn chưa được cơ quan hải quan xác minh; hiện bạn chỉ có thể xem hồ sơ cá nhân và trạng thái đăng ký")
)

// authInterceptor enforces the Policy of each procedure and puts the caller
// in the context.
type authInterceptor struct{ s *Server }

func (i authInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		ctx, err := i.s.authorize(ctx, req.Spec().Procedure, req.Header())
		if err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

func (authInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (i authInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		ctx, err := i.s.authorize(ctx, conn.Spec().Procedure, conn.RequestHeader())
		if err != nil {
			return err
		}
		return next(ctx, conn)
	}
}

// authorize checks the caller against the procedure's Policy and returns
// ctx carrying the caller (none for a public procedure).
func (s *Server) authorize(ctx context.Context, procedure string, header http.Header) (context.Context, error) {
	policy, ok := s.policies[procedure]
	if !ok {
		s.log.ErrorContext(ctx, "procedure has no Policy; refused (declare it in server.Policies)",
			"procedure", procedure)
		return ctx, ErrProcedureNotDeclared
	}
	if policy.Public {
		return ctx, nil
	}
	token, ok := bearerToken(header.Get("Authorization"))
	if !ok {
		return ctx, errs.ErrUnauthenticated
	}
	// An API key (recognised by its prefix) names a system client; anything
	// else is a user's access token, which never names one.
	authn := s.auth
	if auth.IsAPIKey(token) {
		if s.apiKeys == nil {
			return ctx, errs.ErrUnauthenticated
		}
		authn = s.apiKeys
	}
	p, err := authn.Authenticate(ctx, token)
	if err != nil {
		return ctx, err
	}
	if p == nil || (p.Kind == auth.KindSystem) != auth.IsAPIKey(token) {
		return ctx, errs.ErrUnauthenticated
	}
	if st := callStateFrom(ctx); st != nil {
		st.userID = p.UserID
	}
	// Empty Kinds means any user kind: a system client may call only what
	// names it.
	if (len(policy.Kinds) > 0 || p.Kind == auth.KindSystem) && !slices.Contains(policy.Kinds, p.Kind) {
		return ctx, errs.ErrPermissionDenied
	}
	if len(policy.Roles) > 0 && !p.HasAnyRole(policy.Roles...) {
		return ctx, errs.ErrPermissionDenied
	}
	if p.Kind == auth.KindEnterpriseUser && !p.EnterpriseVerified && !policy.AllowUnverified {
		return ctx, ErrEnterpriseNotVerified
	}
	return auth.WithPrincipal(ctx, p), nil
}

// bearerToken extracts the token of an "Authorization: Bearer <token>"
// header; the scheme is case-insensitive.
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
