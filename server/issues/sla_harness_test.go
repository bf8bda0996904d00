package issues

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	"hqconnect/gen/hqconnect/issue/v1/issuev1connect"
	"hqconnect/internal/ids"
	"hqconnect/internal/outbox"
	"hqconnect/internal/scheduler"
	"hqconnect/internal/testkit/stack"
	"hqconnect/server"
	"hqconnect/server/issues/catalog"
)

// The SLA, rating and satisfaction tests run inside the package, so they can
// drive the hooks and the job handlers directly on issues inserted with SQL
// and call the RPCs through the generated clients on the real stack.

// Seeded categories (00005_issues.sql).
const (
	catVNACCS = "0190a000-0000-7000-8000-000000000001" // 8 business hours, auto-close after 5 days
	catHS     = "0190a000-0000-7000-8000-000000000002" // 40 business hours
)

// slaFix is one Env's issue service and its scheduler, on the Env's clock.
type slaFix struct {
	e     *stack.Env
	svc   *Service
	sched *scheduler.Scheduler
}

var slaFixes sync.Map // *stack.Env → *slaFix

// newSLAService builds a Service of its own on e's database, Redis and clock
// (a second instance, for races).
func newSLAService(e *stack.Env) (*Service, *scheduler.Scheduler) {
	sched := scheduler.New(e.Redis.Client, scheduler.Config{Prefix: e.Prefix, Poll: 20 * time.Millisecond, Now: e.Clock.Now, Log: e.Log})
	svc := New(Deps{DB: e.DB, Scheduler: sched, Catalog: catalog.New(e.DB, e.Clock.Now), Log: e.Log, Now: e.Clock.Now})
	return svc, sched
}

// slaMount serves IssueService from a fresh Service and remembers it.
func slaMount(e *stack.Env) []server.Service {
	svc, sched := newSLAService(e)
	slaFixes.Store(e, &slaFix{e: e, svc: svc, sched: sched})
	return []server.Service{{Name: issuev1connect.IssueServiceName, Mount: func(o ...connect.HandlerOption) (string, http.Handler) {
		return issuev1connect.NewIssueServiceHandler(svc, o...)
	}}}
}

func fixOf(t *testing.T, e *stack.Env) *slaFix {
	t.Helper()
	f, ok := slaFixes.Load(e)
	if !ok {
		t.Fatal("the Env was not built with slaMount")
	}
	t.Cleanup(func() { slaFixes.Delete(e) })
	return f.(*slaFix)
}

// setClock moves the Env's clock to about at (it keeps running from there).
func setClock(e *stack.Env, at time.Time) { e.Clock.Advance(at.Sub(e.Clock.Now())) }

// at is a wall-clock instant in Vietnam.
func at(y int, m time.Month, d, hh, mm int) time.Time {
	return time.Date(y, m, d, hh, mm, 0, 0, slaCal.Location)
}

var issueSeq atomic.Int64

// testIssue is what insertIssue writes.
type testIssue struct {
	Enterprise string // login of the creator (default stack.XnkStaff)
	Unit       string // unit code (default DEMOCK1TT)
	Category   string // default catVNACCS
	Status     Status // default ASSIGNED
	Assignee   string // login, "" for none
	Created    time.Time
}

// insertIssue writes an issue row by SQL (the lifecycle is not needed to
// test the clock) and returns its id.
func insertIssue(t *testing.T, e *stack.Env, ti testIssue) string {
	t.Helper()
	if ti.Enterprise == "" {
		ti.Enterprise = stack.XnkStaff
	}
	if ti.Unit == "" {
		ti.Unit = "DEMOCK1TT"
	}
	if ti.Category == "" {
		ti.Category = catVNACCS
	}
	if ti.Status == "" {
		ti.Status = StatusAssigned
	}
	if ti.Created.IsZero() {
		ti.Created = e.Clock.Now()
	}
	creator, ent := userOf(t, e, ti.Enterprise)
	var assignee any
	if ti.Assignee != "" {
		assignee, _ = userOf(t, e, ti.Assignee)
	}
	id := ids.New()
	n := issueSeq.Add(1)
	_, err := e.DB.ExecContext(context.Background(), `INSERT INTO issues (id, number, enterprise_id, created_by, category_id,
		unit_id, assignee_id, status, title, body, create_time, update_time, sla_minutes)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, 0)`,
		id, fmt.Sprintf("VM-2027-%06d", n), ent, creator, ti.Category, e.UnitID(t, ti.Unit), assignee, string(ti.Status),
		"Lỗi khai báo VNACCS", "Hệ thống VNACCS báo lỗi khi khai báo tờ khai nhập khẩu.", ti.Created.UTC())
	if err != nil {
		t.Fatalf("insert issue: %v", err)
	}
	return id
}

// userOf returns a login's user id and enterprise id ("" for officers).
func userOf(t *testing.T, e *stack.Env, login string) (string, string) {
	t.Helper()
	var id string
	var ent sql.NullString
	if err := e.DB.QueryRowContext(context.Background(), `SELECT id, enterprise_id FROM users WHERE email = $1`, login).
		Scan(&id, &ent); err != nil {
		t.Fatalf("user %s: %v", login, err)
	}
	return id, ent.String
}

// hook runs one SLA hook in a transaction, then slaAfterCommit.
func (f *slaFix) hook(t *testing.T, h func(context.Context, *sql.Tx, string, time.Time) error, id string, now time.Time) {
	t.Helper()
	ctx := context.Background()
	if err := f.e.DB.Tx(ctx, func(tx *sql.Tx) error { return h(ctx, tx, id, now) }); err != nil {
		t.Fatal(err)
	}
	f.svc.slaAfterCommit(ctx, id)
}

// setStatus changes an issue's status (and unit, when unitCode is set) by
// SQL, as the lifecycle would before calling a hook.
func setStatus(t *testing.T, e *stack.Env, id string, st Status) {
	t.Helper()
	if _, err := e.DB.ExecContext(context.Background(), `UPDATE issues SET status = $1 WHERE id = $2`, string(st), id); err != nil {
		t.Fatal(err)
	}
}

// row reads the issue's SLA columns.
func row(t *testing.T, e *stack.Env, id string) *slaRow {
	t.Helper()
	r, err := loadSLA(context.Background(), e.DB, id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// eventsFor returns the outbox events of kind about issue id.
func eventsFor(t *testing.T, e *stack.Env, kind, id string) []outbox.Event {
	t.Helper()
	var out []outbox.Event
	for _, ev := range e.Events(t, kind) {
		if ev.Notification != nil && ev.Notification.EntityID == id {
			out = append(out, ev)
		}
	}
	return out
}

func wantTime(t *testing.T, what string, got sql.NullTime, want time.Time) {
	t.Helper()
	if want.IsZero() {
		if got.Valid {
			t.Fatalf("%s = %v, want NULL", what, got.Time.In(slaCal.Location))
		}
		return
	}
	if !got.Valid || !got.Time.Equal(want) {
		t.Fatalf("%s = %v (valid %v), want %v", what, got.Time.In(slaCal.Location), got.Valid, want)
	}
}
