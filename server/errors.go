package server

import (
	"context"
	"errors"
	"time"

	"connectrpc.com/connect"

	"hqconnect/internal/errs"
	"hqconnect/internal/reqinfo"
)

// This file is the one place where errors become Connect codes and messages.

// errShuttingDown is the cancellation cause of streams ended by a graceful
// shutdown; their callers get CodeUnavailable and may reconnect elsewhere.
var errShuttingDown = errors.New("server shutting down")

// codeOf maps a domain error code onto a Connect code.
var codeOf = map[errs.Code]connect.Code{
	errs.Invalid:            connect.CodeInvalidArgument,
	errs.NotFound:           connect.CodeNotFound,
	errs.AlreadyExists:      connect.CodeAlreadyExists,
	errs.PermissionDenied:   connect.CodePermissionDenied,
	errs.Unauthenticated:    connect.CodeUnauthenticated,
	errs.FailedPrecondition: connect.CodeFailedPrecondition,
	errs.ResourceExhausted:  connect.CodeResourceExhausted,
	errs.Unavailable:        connect.CodeUnavailable,
}

// Messages the server itself shows to callers, in both languages.
var (
	msgCanceled = text{
		EN: "the request was cancelled",
		VI: "yêu cầu đã bị huỷ"}
	msgDeadline = text{
		EN: "the request took too long and was stopped; try again",
		VI: "yêu cầu xử lý quá thời gian cho phép và đã bị dừng; vui lòng thử lại"}
	msgShuttingDown = text{
		EN: "the server is restarting; reconnect and try again",
		VI: "máy chủ đang khởi động lại; vui lòng kết nối lại và thử lại"}
)

// text is a message in English and Vietnamese.
type text struct{ EN, VI string }

// Message returns the text for a locale; Vietnamese is the default.
func (t text) Message(locale string) string {
	if locale == "en" {
		return t.EN
	}
	return t.VI
}

// internalMessage is what a caller sees instead of an unexpected error. The
// time lets an operator find the logged error ("error_ref" in the RPC log
// line).
func internalMessage(locale string, at time.Time) string {
	ref := errorRef(at)
	if locale == "en" {
		return "internal error; it has been logged (request at " + ref + ")"
	}
	return "lỗi hệ thống; đã được ghi nhận (yêu cầu lúc " + ref + ")"
}

func errorRef(at time.Time) string { return at.UTC().Format("2006-01-02T15:04:05.000Z") }

// ToConnectError turns any error a handler returns into the error its caller
// sees, in the caller's locale (reqinfo.From(ctx).Locale):
//   - an *errs.Error becomes its Connect code with its localized message;
//   - a *connect.Error passes through, except CodeUnknown, CodeInternal and
//     CodeDataLoss, whose messages may carry internals: they become the
//     generic internal error;
//   - context.Canceled and context.DeadlineExceeded become CodeCanceled and
//     CodeDeadlineExceeded (CodeUnavailable when a graceful shutdown ended
//     the call);
//   - anything else becomes CodeInternal with a generic message.
//
// ok is false when err was replaced by the generic internal error: the caller
// must then log err, which the client never sees. A nil err gives (nil, true).
func ToConnectError(ctx context.Context, err error) (ce *connect.Error, ok bool) {
	return toConnectError(ctx, err, time.Now())
}

func toConnectError(ctx context.Context, err error, now time.Time) (*connect.Error, bool) {
	if err == nil {
		return nil, true
	}
	locale := reqinfo.From(ctx).Locale
	if e, isDomain := errs.As(err); isDomain {
		code, known := codeOf[e.Code]
		if known {
			return connect.NewError(code, errors.New(e.Message(locale))), true
		}
		// An Error with an unknown Code is a programming mistake.
		return connect.NewError(connect.CodeInternal, errors.New(internalMessage(locale, now))), false
	}
	shuttingDown := ctx != nil && errors.Is(context.Cause(ctx), errShuttingDown)
	var ce *connect.Error
	if errors.As(err, &ce) {
		switch ce.Code() {
		case connect.CodeUnknown, connect.CodeInternal, connect.CodeDataLoss:
			if shuttingDown {
				return connect.NewError(connect.CodeUnavailable, errors.New(msgShuttingDown.Message(locale))), true
			}
			return connect.NewError(connect.CodeInternal, errors.New(internalMessage(locale, now))), false
		case connect.CodeCanceled:
			if shuttingDown {
				return connect.NewError(connect.CodeUnavailable, errors.New(msgShuttingDown.Message(locale))), true
			}
		}
		return ce, true
	}
	switch {
	case shuttingDown:
		return connect.NewError(connect.CodeUnavailable, errors.New(msgShuttingDown.Message(locale))), true
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, errors.New(msgCanceled.Message(locale))), true
	case errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, errors.New(msgDeadline.Message(locale))), true
	}
	return connect.NewError(connect.CodeInternal, errors.New(internalMessage(locale, now))), false
}

// clientSide reports whether code is the caller's doing (logged at INFO)
// rather than the server's (logged at ERROR).
func clientSide(code connect.Code) bool {
	switch code {
	case connect.CodeInvalidArgument, connect.CodeNotFound, connect.CodeAlreadyExists,
		connect.CodePermissionDenied, connect.CodeUnauthenticated, connect.CodeFailedPrecondition,
		connect.CodeResourceExhausted, connect.CodeCanceled, connect.CodeOutOfRange, connect.CodeAborted:
		return true
	}
	return false
}
