// Package errs defines the typed errors domain code returns. The server maps
// them to Connect codes in one place (server/errors.go); anything that is not
// an *Error becomes an internal error there and is logged, never shown.
package errs

import (
	"errors"
	"fmt"
)

// Code says what kind of failure an Error is. It maps one-to-one onto a
// Connect code.
type Code int

const (
	// Invalid: the caller sent something that can never work as sent.
	Invalid Code = iota + 1
	// NotFound: the object does not exist or the caller may not know it does.
	NotFound
	// AlreadyExists: a unique thing (tax code, email…) is taken.
	AlreadyExists
	// PermissionDenied: the caller is known but may not do this.
	PermissionDenied
	// Unauthenticated: no valid credentials.
	Unauthenticated
	// FailedPrecondition: the object is not in a state that allows this.
	FailedPrecondition
	// ResourceExhausted: a rate limit or lockout.
	ResourceExhausted
	// Unavailable: a dependency is down; retrying later may work.
	Unavailable
)

// Error is a failure a person can act on. EN and VI say the same thing in
// English and Vietnamese; the server picks one from the caller's locale.
type Error struct {
	Code Code
	// Field names the request field at fault, if any.
	Field string
	EN    string
	VI    string
	// Cause is kept for logs only; it is never shown to the caller.
	Cause error
}

func (e *Error) Error() string {
	msg := e.EN
	if e.Field != "" {
		msg = e.Field + ": " + msg
	}
	if e.Cause != nil {
		return msg + ": " + e.Cause.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Cause }

// Message returns the text for a locale ("vi" or "en"); Vietnamese is the
// default.
func (e *Error) Message(locale string) string {
	msg := e.VI
	if locale == "en" || msg == "" {
		msg = e.EN
	}
	if e.Field != "" {
		return e.Field + ": " + msg
	}
	return msg
}

// New builds an Error.
func New(code Code, en, vi string) *Error { return &Error{Code: code, EN: en, VI: vi} }

// InvalidField reports a bad request field.
func InvalidField(field, en, vi string) *Error {
	return &Error{Code: Invalid, Field: field, EN: en, VI: vi}
}

// Wrap attaches a cause to a copy of e (for logs).
func (e *Error) Wrap(cause error) *Error {
	c := *e
	c.Cause = cause
	return &c
}

// Newf is New with an English format string; the Vietnamese text is given
// already formatted.
func Newf(code Code, vi string, enFormat string, args ...any) *Error {
	return &Error{Code: code, EN: fmt.Sprintf(enFormat, args...), VI: vi}
}

// As returns the *Error in err's chain, if any.
func As(err error) (*Error, bool) {
	var e *Error
	if errors.As(err, &e) {
		return e, true
	}
	return nil, false
}

// Is reports whether err is an *Error with the given code.
func Is(err error, code Code) bool {
	e, ok := As(err)
	return ok && e.Code == code
}

// Common errors shared by several packages.
var (
	ErrUnauthenticated = New(Unauthenticated,
		"sign in required: send a valid access token as \"Authorization: Bearer <token>\"",
		"cần đăng nhập: gửi access token hợp lệ trong header \"Authorization: Bearer <token>\"")
	ErrPermissionDenied = New(PermissionDenied,
		"your account is not allowed to do this",
		"tài khoản của bạn không có quyền thực hiện thao tác này")
)
