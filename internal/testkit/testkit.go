// Package testkit holds the small assertions the handler tests of every
// capability share: checking a Connect call's result or error in one line,
// and polling for asynchronous work with a deadline instead of sleeping.
package testkit

import (
	"errors"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
)

// WaitLimit is how long Eventually polls before failing the test.
const WaitLimit = 10 * time.Second

// WantCode fails t unless err is a Connect error with code, and returns it.
func WantCode(t testing.TB, err error, code connect.Code) *connect.Error {
	t.Helper()
	if err == nil {
		t.Fatalf("got success, want %v", code)
	}
	var ce *connect.Error
	if !errors.As(err, &ce) {
		t.Fatalf("got %v, want a Connect error %v", err, code)
	}
	if ce.Code() != code {
		t.Fatalf("got %v (%s), want %v", ce.Code(), ce.Message(), code)
	}
	return ce
}

// WantField fails t unless err has code and its message names field (the
// server writes field errors as "field: message").
func WantField(t testing.TB, err error, code connect.Code, field string) *connect.Error {
	t.Helper()
	ce := WantCode(t, err, code)
	if !strings.HasPrefix(ce.Message(), field+": ") {
		t.Fatalf("message %q does not name field %s", ce.Message(), field)
	}
	return ce
}

// Result holds a call's two results so they are checked in one expression:
// testkit.Got(client.GetMe(ctx, req)).Must(t).
type Result[T any] struct {
	res *connect.Response[T]
	err error
}

// Got captures a generated client call's results.
func Got[T any](res *connect.Response[T], err error) Result[T] { return Result[T]{res, err} }

// Must fails t on an error and returns the response message.
func (r Result[T]) Must(t testing.TB) *T {
	t.Helper()
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.res.Msg
}

// Eventually polls cond until it holds, failing t after WaitLimit.
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(WaitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
