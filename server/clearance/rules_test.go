package clearance

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	clearancev1 "hqconnect/gen/hqconnect/clearance/v1"
	"hqconnect/internal/auth"
)

var testTypes = map[string]declType{
	"A11": {Code: "A11", Direction: dirImport},
	"E52": {Code: "E52", Direction: dirExport},
}

func TestValidateEvent(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	good := func() *clearancev1.Event {
		return &clearancev1.Event{DeclarationNumber: "305123456789", Sequence: 1, TaxCode: "0100109106",
			TypeCode: "E52", CustomsOffice: "03CC", Direction: clearancev1.Direction_DIRECTION_EXPORT,
			Kind: clearancev1.EventKind_EVENT_KIND_CHANNEL_ASSIGNED, Channel: "2",
			EventTime: timestamppb.New(now.Add(-time.Hour)), Note: "  luồng vàng  "}
	}
	cases := []struct {
		name  string
		edit  func(*clearancev1.Event)
		field string
	}{
		{"good", func(*clearancev1.Event) {}, ""},
		{"dependent unit tax code", func(e *clearancev1.Event) { e.TaxCode = "0100109106-001" }, ""},
		{"clock skew within 5 minutes", func(e *clearancev1.Event) { e.EventTime = timestamppb.New(now.Add(4 * time.Minute)) }, ""},
		{"number too short", func(e *clearancev1.Event) { e.DeclarationNumber = "30512345678" }, "declaration_number"},
		{"number with a letter", func(e *clearancev1.Event) { e.DeclarationNumber = "30512345678X" }, "declaration_number"},
		{"sequence 0", func(e *clearancev1.Event) { e.Sequence = 0 }, "sequence"},
		{"negative sequence", func(e *clearancev1.Event) { e.Sequence = -3 }, "sequence"},
		{"tax code check digit", func(e *clearancev1.Event) { e.TaxCode = "0100109107" }, "tax_code"},
		{"no tax code", func(e *clearancev1.Event) { e.TaxCode = "" }, "tax_code"},
		{"no direction", func(e *clearancev1.Event) { e.Direction = 0 }, "direction"},
		{"unknown type", func(e *clearancev1.Event) { e.TypeCode = "e52" }, "type_code"},
		{"type of the other direction", func(e *clearancev1.Event) { e.TypeCode = "A11" }, "direction"},
		{"office lower case", func(e *clearancev1.Event) { e.CustomsOffice = "03cc" }, "customs_office"},
		{"office too long", func(e *clearancev1.Event) { e.CustomsOffice = "ABCDEFGHIJK" }, "customs_office"},
		{"no kind", func(e *clearancev1.Event) { e.Kind = 0 }, "kind"},
		{"unknown kind", func(e *clearancev1.Event) { e.Kind = 42 }, "kind"},
		{"no time", func(e *clearancev1.Event) { e.EventTime = nil }, "event_time"},
		{"future", func(e *clearancev1.Event) { e.EventTime = timestamppb.New(now.Add(6 * time.Minute)) }, "event_time"},
		{"ancient", func(e *clearancev1.Event) { e.EventTime = timestamppb.New(time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC)) }, "event_time"},
		{"channel assignment without channel", func(e *clearancev1.Event) { e.Channel = "" }, "channel"},
		{"channel not 1-3", func(e *clearancev1.Event) { e.Channel = "0" }, "channel"},
		{"long note", func(e *clearancev1.Event) { e.Note = string(make([]rune, 1001)) }, "note"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			pe := good()
			c.edit(pe)
			e, err := validateEvent(7, pe, testTypes, now)
			switch {
			case c.field == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case c.field != "" && (err == nil || err.Field != c.field):
				t.Fatalf("got %v, want an error on %s", err, c.field)
			case c.field == "" && (e.Index != 7 || e.Kind != kindChannel || e.Direction != dirExport || e.Note != "luồng vàng"):
				t.Fatalf("event %+v", e)
			}
		})
	}
}

func TestFoldIsOrderFree(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC)
	mk := func(seq int64, kind string, min int, ch string) event {
		return event{Number: "305123456789", Seq: seq, TaxCode: "0100109106", TypeCode: "E52", Office: "03CC",
			Direction: dirExport, Kind: kind, Time: t0.Add(time.Duration(min) * time.Minute), Channel: ch}
	}
	events := []event{
		mk(1, kindRegistered, 0, ""),
		mk(2, kindChannel, 5, "3"),
		mk(3, "PHYSICAL_INSPECTION", 60, ""),
		mk(4, kindReleased, 90, ""),
		mk(5, kindCleared, 120, ""),
		mk(6, "AMENDED", 200, ""),
	}
	// The events of an amendment may carry a new office.
	events[5].Office = "03CE"
	want := declState{Number: "305123456789", TaxCode: "0100109106", TypeCode: "E52", Office: "03CE", Direction: dirExport,
		Status: "AMENDED", StatusSeq: 6, StatusTime: t0.Add(200 * time.Minute), Channel: "3", ChannelSeq: 2,
		RegisterTime: t0, Registered: true, ClearTime: t0.Add(90 * time.Minute)}
	r := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		order := slices.Clone(events)
		r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		var s declState
		for _, e := range order {
			s.apply(e)
		}
		if s != want {
			t.Fatalf("order %v folds to\n%+v, want\n%+v", order, s, want)
		}
	}

	t.Run("until registered, the earliest event time stands in", func(t *testing.T) {
		var s declState
		s.apply(mk(3, "DOCUMENT_CHECK", 30, ""))
		s.apply(mk(2, kindChannel, 10, "1"))
		if s.Registered || !s.RegisterTime.Equal(t0.Add(10*time.Minute)) {
			t.Fatalf("%+v", s)
		}
		s.apply(mk(1, kindRegistered, 20, "")) // later than the others, but it is the registration
		if !s.Registered || !s.RegisterTime.Equal(t0.Add(20*time.Minute)) {
			t.Fatalf("%+v", s)
		}
		s.apply(mk(4, "DOCUMENT_CHECK", 1, ""))
		if !s.RegisterTime.Equal(t0.Add(20 * time.Minute)) {
			t.Fatalf("an earlier non-registration moved the registration: %+v", s)
		}
	})
	t.Run("conflicts", func(t *testing.T) {
		var s declState
		s.apply(mk(1, kindRegistered, 0, ""))
		other := mk(2, kindChannel, 1, "1")
		other.TaxCode = "0312345674"
		if c := s.conflict(other); c == nil || c.Field != "tax_code" {
			t.Fatalf("tax code: %v", c)
		}
		other = mk(2, kindChannel, 1, "1")
		other.Direction = dirImport
		if c := s.conflict(other); c == nil || c.Field != "direction" {
			t.Fatalf("direction: %v", c)
		}
		if c := s.conflict(mk(2, kindChannel, 1, "1")); c != nil {
			t.Fatal(c)
		}
	})
}

func TestDurations(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 1, 0, 0, 0, time.UTC)
	entries := []timelineEntry{
		{Seq: 3, Time: t0.Add(2*time.Hour + 500*time.Millisecond)},
		{Seq: 1, Time: t0},
		{Seq: 2, Time: t0.Add(5 * time.Minute)},
	}
	durations(entries, t0, true)
	got := [][2]int64{}
	for _, e := range entries {
		got = append(got, [2]int64{e.SincePrevious, e.SinceRe})
	}
	if want := [][2]int64{{0, 0}, {300, 300}, {6900, 7200}}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if s, ok := clearanceSeconds(t0, true, t0.Add(90*time.Minute+999*time.Millisecond)); !ok || s != 5400 {
		t.Fatalf("clearance %d %v", s, ok)
	}
	if _, ok := clearanceSeconds(t0, false, t0.Add(time.Hour)); ok {
		t.Fatal("clearance without registration")
	}
	if _, ok := clearanceSeconds(t0, true, time.Time{}); ok {
		t.Fatal("clearance without clearance")
	}
}

func TestSummarize(t *testing.T) {
	cases := []struct {
		vals []int64
		want summary
	}{
		{nil, summary{}},
		{[]int64{42}, summary{1, 42, 42, 42}},
		{[]int64{1000, 100, 400, 200}, summary{4, 425, 300, 820}},
		{[]int64{3600, 7200}, summary{2, 5400, 5400, 6840}},
		// 1..10: mean 5.5 → 6 (half away from zero), median 5.5 → 6, p90 at rank 8.1 → 9.1 → 9
		{[]int64{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}, summary{10, 6, 6, 9}},
		{[]int64{1, 2, 3}, summary{3, 2, 2, 3}}, // p90: 2 + 0.8 → 2.8 → 3
	}
	for _, c := range cases {
		if got := summarize(slices.Clone(c.vals)); got != c.want {
			t.Errorf("summarize(%v) = %+v, want %+v", c.vals, got, c.want)
		}
	}
}

func TestOfficerScope(t *testing.T) {
	p := func(roles ...string) *auth.Principal { return &auth.Principal{Kind: auth.KindOfficer, Roles: roles} }
	cases := []struct {
		name                 string
		kind, code, parent   string
		p                    *auth.Principal
		all                  bool
		offices              []string
		allows, deniesOffice string
	}{
		{"team officer sees the branch", unitTeam, "DEMOCK1TT", "DEMOCK1", p(auth.RoleOfficer), false, []string{"DEMOCK1"}, "DEMOCK1", "DEMOKCN"},
		{"branch head", unitBranch, "DEMOCK1", "DEMOHQ", p(auth.RoleUnitHead), false, []string{"DEMOCK1"}, "DEMOCK1", "DEMOCK1TT"},
		{"director", unitDepartment, "DEMOHQ", "", p(auth.RoleDirector), true, nil, "ANY", ""},
		{"admin", unitDepartment, "DEMOHQ", "", p(auth.RoleAdmin), true, nil, "ANY", ""},
		{"department inspector", unitDepartment, "DEMOHQ", "", p(auth.RoleInspector), false, []string{}, "", "DEMOCK1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sc := officerScope(c.kind, c.code, c.parent, c.p)
			if sc.all != c.all || !slices.Equal(sc.offices, c.offices) {
				t.Fatalf("scope %+v", sc)
			}
			if c.allows != "" && !sc.allows("0100109106", c.allows) {
				t.Fatalf("does not allow %s", c.allows)
			}
			if c.deniesOffice != "" && sc.allows("0100109106", c.deniesOffice) {
				t.Fatalf("allows %s", c.deniesOffice)
			}
		})
	}
}

func TestCursor(t *testing.T) {
	c := cursor{time: time.Date(2026, 12, 1, 1, 2, 3, 456789000, time.UTC), number: "305123456789"}
	got, err := decodeCursor(encodeCursor(c))
	if err != nil || !got.time.Equal(c.time) || got.number != c.number {
		t.Fatalf("round trip %+v %v", got, err)
	}
	for _, bad := range []string{"", "!!", "MTIz", encodeCursor(cursor{c.time, "12"})} {
		if _, err := decodeCursor(bad); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
}

func TestStatusTexts(t *testing.T) {
	vi, en := statusText(kindCleared, "")
	if vi != "đã thông quan" || en != "cleared" {
		t.Fatal(vi, en)
	}
	for name := range clearancev1.EventKind_value {
		k := name[len(kindPrefix):]
		if k == "UNSPECIFIED" {
			continue
		}
		vi, en := statusText(k, "2")
		if vi == "" || en == "" || vi == en {
			t.Errorf("%s has no texts: %q %q", k, vi, en)
		}
	}
}
