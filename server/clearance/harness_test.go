package clearance_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	clearancev1 "hqconnect/gen/hqconnect/clearance/v1"
	"hqconnect/gen/hqconnect/clearance/v1/clearancev1connect"
	"hqconnect/internal/testkit/stack"
	"hqconnect/server"
	"hqconnect/server/clearance"
)

// The harness: the shared stack (stack.RunDB: SQLite, and PostgreSQL with
// TEST_DATABASE_URL, over Connect and gRPC) with the clearance services
// mounted; the system client pushes events with an API key of its own.

type env struct {
	*stack.Env
	// Sys is a system client with a valid key.
	Sys    *stack.System
	Ingest clearancev1connect.ClearanceIngestServiceClient
}

func services(e *stack.Env) []server.Service {
	svc := clearance.New(clearance.Deps{DB: e.DB, Log: e.Log, Now: e.Clock.Now})
	return []server.Service{
		{Name: clearancev1connect.ClearanceIngestServiceName, Mount: func(o ...connect.HandlerOption) (string, http.Handler) {
			return clearancev1connect.NewClearanceIngestServiceHandler(svc, o...)
		}},
		{Name: clearancev1connect.ClearanceServiceName, Mount: func(o ...connect.HandlerOption) (string, http.Handler) {
			return clearancev1connect.NewClearanceServiceHandler(svc, o...)
		}},
		{Name: clearancev1connect.SystemClientServiceName, Mount: func(o ...connect.HandlerOption) (string, http.Handler) {
			return clearancev1connect.NewSystemClientServiceHandler(svc, o...)
		}},
	}
}

func run(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Helper()
	stack.RunDB(t, services, func(t *testing.T, se *stack.Env) {
		e := &env{Env: se}
		e.Sys = se.NewSystem(t, "VNACCS test gateway")
		e.Ingest = stack.SystemClient(e.Sys, clearancev1connect.NewClearanceIngestServiceClient)
		fn(t, e)
	})
}

// reader signs in as login and returns its ClearanceService client.
func (e *env) reader(t *testing.T, login string) clearancev1connect.ClearanceServiceClient {
	t.Helper()
	return stack.Client(e.Login(t, login), clearancev1connect.NewClearanceServiceClient)
}

func (e *env) taxCode(login string) string { return e.Accounts[login].TaxCode }

// push sends events and fails the test on a request error.
func (e *env) push(t *testing.T, events ...*clearancev1.Event) *clearancev1.PushEventsResponse {
	t.Helper()
	res, err := e.Ingest.PushEvents(context.Background(), connect.NewRequest(&clearancev1.PushEventsRequest{Events: events}))
	if err != nil {
		t.Fatalf("PushEvents: %v", err)
	}
	return res.Msg
}

func (e *env) statusEvents(t *testing.T, number string) int {
	t.Helper()
	n := 0
	for _, ev := range e.Events(t, clearance.EventStatusChanged) {
		if ev.Notification != nil && ev.Notification.EntityID == number {
			n++
		}
	}
	return n
}

// base is a fixed time in the past that event times count from.
var base = time.Now().UTC().Add(-72 * time.Hour).Truncate(time.Hour)

// ev builds an export E52 event of enterprise A at DEMOCK1, at base+at.
func ev(number string, seq int64, kind clearancev1.EventKind, at time.Duration, edits ...func(*clearancev1.Event)) *clearancev1.Event {
	e := &clearancev1.Event{
		DeclarationNumber: number, Sequence: seq, TaxCode: taxA, TypeCode: "E52", CustomsOffice: "DEMOCK1",
		Direction: clearancev1.Direction_DIRECTION_EXPORT, Kind: kind, EventTime: timestamppb.New(base.Add(at)),
	}
	if kind == clearancev1.EventKind_EVENT_KIND_CHANNEL_ASSIGNED {
		e.Channel = "1"
	}
	for _, f := range edits {
		f(e)
	}
	return e
}

// taxA is demo enterprise A's tax code (stack.XnkAdmin, XnkStaff).
const taxA = "0100109106"

func taxCode(tc string) func(*clearancev1.Event) {
	return func(e *clearancev1.Event) { e.TaxCode = tc }
}

func office(o string) func(*clearancev1.Event) {
	return func(e *clearancev1.Event) { e.CustomsOffice = o }
}

func channel(c string) func(*clearancev1.Event) {
	return func(e *clearancev1.Event) { e.Channel = c }
}

func imports(typeCode string) func(*clearancev1.Event) {
	return func(e *clearancev1.Event) {
		e.TypeCode, e.Direction = typeCode, clearancev1.Direction_DIRECTION_IMPORT
	}
}

const (
	kReg     = clearancev1.EventKind_EVENT_KIND_REGISTERED
	kChannel = clearancev1.EventKind_EVENT_KIND_CHANNEL_ASSIGNED
	kDocs    = clearancev1.EventKind_EVENT_KIND_DOCUMENT_CHECK
	kRelease = clearancev1.EventKind_EVENT_KIND_RELEASED
	kClear   = clearancev1.EventKind_EVENT_KIND_CLEARED
	kGate    = clearancev1.EventKind_EVENT_KIND_PASSED_SUPERVISION_AREA
	kCancel  = clearancev1.EventKind_EVENT_KIND_CANCELLED
)

func outcomes(res *clearancev1.PushEventsResponse) []clearancev1.Outcome {
	out := make([]clearancev1.Outcome, len(res.Results))
	for i, r := range res.Results {
		out[i] = r.Outcome
	}
	return out
}
