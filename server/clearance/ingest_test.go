package clearance_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	clearancev1 "hqconnect/gen/hqconnect/clearance/v1"
	"hqconnect/internal/outbox"
	"hqconnect/internal/testkit"
	"hqconnect/internal/testkit/stack"
)

const (
	accepted  = clearancev1.Outcome_OUTCOME_ACCEPTED
	duplicate = clearancev1.Outcome_OUTCOME_DUPLICATE
	rejected  = clearancev1.Outcome_OUTCOME_REJECTED
)

func TestPushEventsIdempotentAndOrderFree(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		const num = "305123456789"
		staff := e.reader(t, stack.XnkStaff)
		get := func() *clearancev1.GetDeclarationResponse {
			t.Helper()
			return testkit.Got(staff.GetDeclaration(ctx, connect.NewRequest(&clearancev1.GetDeclarationRequest{Number: num}))).Must(t)
		}

		// The last event first: it is the status straight away.
		res := e.push(t, ev(num, 3, kClear, 2*time.Hour))
		if !slices.Equal(outcomes(res), []clearancev1.Outcome{accepted}) || res.Accepted != 1 {
			t.Fatalf("outcomes %v", outcomes(res))
		}
		if got := get().Declaration.Status; got != kClear {
			t.Fatalf("status %v, want CLEARED", got)
		}
		if n := e.statusEvents(t, num); n != 1 {
			t.Fatalf("%d status events, want 1", n)
		}

		// Earlier events arrive late: they take their place in the timeline,
		// the status stays that of sequence 3, and nobody is told again.
		res = e.push(t, ev(num, 2, kChannel, 5*time.Minute, channel("3")), ev(num, 1, kReg, 0))
		if res.Accepted != 2 {
			t.Fatalf("outcomes %v", outcomes(res))
		}
		d := get()
		if d.Declaration.Status != kClear || d.Declaration.LastSequence != 3 || d.Declaration.Channel != "3" {
			t.Fatalf("declaration %v", d.Declaration)
		}
		if !d.Declaration.RegisterTime.AsTime().Equal(base) {
			t.Fatalf("register time %v, want %v", d.Declaration.RegisterTime.AsTime(), base)
		}
		var seqs []int64
		for _, te := range d.Timeline {
			seqs = append(seqs, te.Sequence)
		}
		if !slices.Equal(seqs, []int64{1, 2, 3}) {
			t.Fatalf("timeline %v", seqs)
		}
		if d.Timeline[1].SecondsSincePrevious != 300 || d.Timeline[2].SecondsSincePrevious != 7200-300 ||
			d.Timeline[2].SecondsSinceRegistered != 7200 {
			t.Fatalf("durations %v", d.Timeline)
		}
		if d.ClearanceSeconds == nil || *d.ClearanceSeconds != 7200 {
			t.Fatalf("clearance seconds %v", d.ClearanceSeconds)
		}
		if n := e.statusEvents(t, num); n != 1 {
			t.Fatalf("%d status events, want still 1", n)
		}

		// The same batch again: all duplicates, nothing changes.
		before := get()
		res = e.push(t, ev(num, 2, kChannel, 5*time.Minute, channel("1")), ev(num, 1, kReg, time.Minute), ev(num, 3, kCancel, 0))
		if !slices.Equal(outcomes(res), []clearancev1.Outcome{duplicate, duplicate, duplicate}) || res.Duplicates != 3 {
			t.Fatalf("outcomes %v", outcomes(res))
		}
		after := get()
		if after.Declaration.String() != before.Declaration.String() || len(after.Timeline) != 3 {
			t.Fatalf("a duplicate changed the declaration:\n%v\n%v", before.Declaration, after.Declaration)
		}
		if n := e.statusEvents(t, num); n != 1 {
			t.Fatalf("%d status events after duplicates, want 1", n)
		}

		// The same event twice in one batch: the second is a duplicate.
		res = e.push(t, ev(num, 4, kGate, 3*time.Hour), ev(num, 4, kGate, 3*time.Hour))
		if !slices.Equal(outcomes(res), []clearancev1.Outcome{accepted, duplicate}) {
			t.Fatalf("outcomes %v", outcomes(res))
		}
		if got := get().Declaration.Status; got != kGate {
			t.Fatalf("status %v, want PASSED_SUPERVISION_AREA", got)
		}
		if n := e.statusEvents(t, num); n != 2 {
			t.Fatalf("%d status events, want 2", n)
		}
	})
}

func TestPushNotifiesTheEnterprise(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		const num = "305000000001"
		e.push(t, ev(num, 1, kReg, 0), ev(num, 2, kChannel, time.Minute), ev(num, 3, kClear, 10*time.Minute))
		evs := e.Events(t, "clearance.status_changed")
		if len(evs) != 1 {
			t.Fatalf("%d events, want one per declaration and batch", len(evs))
		}
		n := evs[0].Notification
		entA := e.Login(t, stack.XnkStaff).EnterpriseID()
		if !slices.Equal(n.Audience.EnterpriseIDs, []string{entA}) || n.Category != outbox.CategoryClearance || !n.Critical {
			t.Fatalf("notification %+v", n)
		}
		if n.CollapseKey != "declaration:"+num || n.EntityKind != "declaration" || n.EntityID != num {
			t.Fatalf("notification keys %+v", n)
		}
		if n.TitleVI != "Tờ khai "+num+": đã thông quan" || n.TitleEN != "Declaration "+num+": cleared" {
			t.Fatalf("titles %q / %q", n.TitleVI, n.TitleEN)
		}
		if !strings.Contains(n.BodyVI, "E52") || !strings.Contains(n.BodyEN, "DEMOCK1") {
			t.Fatalf("bodies %q / %q", n.BodyVI, n.BodyEN)
		}
	})
}

func TestPushMixedBatch(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		e.push(t, ev("105000000001", 1, kReg, 0, imports("A11")))
		future := time.Since(base) + time.Hour
		batch := []*clearancev1.Event{
			ev("305000000010", 1, kReg, 0),                                                    // good
			ev("30500000001", 1, kReg, 0),                                                     // 11 digits
			ev("305000000011", 0, kReg, 0),                                                    // sequence 0
			ev("305000000012", 1, kReg, 0, taxCode("0100109107")),                             // bad check digit
			ev("305000000013", 1, kReg, 0, func(x *clearancev1.Event) { x.TypeCode = "Z99" }), // unknown type
			ev("305000000014", 1, kReg, 0, imports("E52")),                                    // E52 is an export type
			ev("305000000015", 1, kReg, 0, office("hcm 1")),                                   // bad office
			ev("305000000016", 1, clearancev1.EventKind_EVENT_KIND_UNSPECIFIED, 0),            // no kind
			ev("305000000017", 1, kReg, future),                                               // future
			ev("305000000018", 1, kChannel, 0, channel("")),                                   // channel missing
			ev("305000000019", 1, kChannel, 0, channel("4")),                                  // channel unknown
			ev("305000000020", 1, kReg, 0, func(x *clearancev1.Event) { x.EventTime = nil }),  // no time
			ev("305000000021", 1, kReg, 0, func(x *clearancev1.Event) { x.Note = strings.Repeat("ư", 1001) }),
			ev("105000000001", 2, kChannel, 0, imports("A11"), taxCode(e.taxCode(stack.LogStaff))),         // another enterprise's
			ev("305000000022", 1, kDocs, 0, func(x *clearancev1.Event) { x.Note = "Kiểm tra C/O form E" }), // good
		}
		res := e.push(t, batch...)
		wantFields := []string{"", "declaration_number", "sequence", "tax_code", "type_code", "direction", "customs_office",
			"kind", "event_time", "channel", "channel", "event_time", "note", "tax_code", ""}
		for i, r := range res.Results {
			if r.Index != int32(i) {
				t.Fatalf("result %d has index %d", i, r.Index)
			}
			want := rejected
			if wantFields[i] == "" {
				want = accepted
			}
			if r.Outcome != want || r.Field != wantFields[i] || (want == rejected) == (r.Reason == "") {
				t.Errorf("event %d: %v field %q reason %q, want %v field %q", i, r.Outcome, r.Field, r.Reason, want, wantFields[i])
			}
		}
		if res.Accepted != 2 || res.Rejected != 13 || res.Duplicates != 0 {
			t.Fatalf("counts %d/%d/%d", res.Accepted, res.Duplicates, res.Rejected)
		}
		// Nothing of the rejected events was kept.
		if n := e.Count(t, "declaration_events WHERE number <> '105000000001'"); n != 2 {
			t.Fatalf("%d events stored, want 2", n)
		}
		if n := e.Count(t, "declaration_events WHERE number = '105000000001'"); n != 1 {
			t.Fatalf("the other enterprise's event was stored")
		}

		// A malformed request fails as a whole and changes nothing.
		_, err := e.Ingest.PushEvents(ctx, connect.NewRequest(&clearancev1.PushEventsRequest{}))
		testkit.WantField(t, err, connect.CodeInvalidArgument, "events")
		many := make([]*clearancev1.Event, 1001)
		for i := range many {
			many[i] = ev("305000000099", int64(i+1), kDocs, 0)
		}
		_, err = e.Ingest.PushEvents(ctx, connect.NewRequest(&clearancev1.PushEventsRequest{Events: many}))
		testkit.WantField(t, err, connect.CodeInvalidArgument, "events")
		if n := e.Count(t, "declarations WHERE number = '305000000099'"); n != 0 {
			t.Fatal("an oversized batch was recorded")
		}
		// 1,000 is fine.
		if res := e.push(t, many[:1000]...); res.Accepted != 1000 {
			t.Fatalf("accepted %d of 1000", res.Accepted)
		}
		if n := e.Count(t, "declaration_events WHERE number = '305000000099'"); n != 1000 {
			t.Fatalf("%d events stored, want 1000", n)
		}
	})
}
