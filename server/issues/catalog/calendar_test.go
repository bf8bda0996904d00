package catalog_test

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"connectrpc.com/connect"

	issuev1 "hqconnect/gen/hqconnect/issue/v1"
	"hqconnect/internal/calendar"
	"hqconnect/internal/testkit"
	"hqconnect/internal/testkit/stack"
	"hqconnect/server/issues/catalog"
)

var vn = calendar.DefaultLocation()

func at(y int, m time.Month, d, hh, mm int) time.Time { return time.Date(y, m, d, hh, mm, 0, 0, vn) }

func sameDates(a, b map[calendar.Date]string) bool {
	return maps.EqualFunc(a, b, func(string, string) bool { return true })
}

func TestCalendarFromDatabaseEqualsDefault(t *testing.T) {
	stack.RunDB(t, mount, func(t *testing.T, e *stack.Env) {
		c := catOf(e)
		team := e.UnitID(t, "DEMOCK1TT")
		// Before seeding the built-in data is used; after, the table's.
		for _, seeded := range []bool{false, true} {
			if seeded {
				if err := catalog.SeedCalendar(ctx, e.DB); err != nil {
					t.Fatal(err)
				}
				c.Invalidate()
			}
			got, err := c.Calendar(ctx, team)
			if err != nil {
				t.Fatal(err)
			}
			want := calendar.Default()
			if got.Location.String() != want.Location.String() || !slices.Equal(got.Hours, want.Hours) ||
				!sameDates(got.Holidays, want.Holidays) || !sameDates(got.WorkingWeekends, want.WorkingWeekends) {
				t.Fatalf("seeded=%v: calendar differs from calendar.Default()", seeded)
			}
			// Deadlines around Tết 2026 (16–20 Feb off), the make-up Saturday
			// of 10 Jan 2026 and a lunch break agree.
			for _, tc := range []struct {
				start time.Time
				hours float64
			}{
				{at(2026, 2, 13, 15, 0), 8},  // Fri before Tết → Mon 23 Feb
				{at(2026, 2, 16, 9, 0), 1},   // inside Tết → Mon 23 Feb 08:30
				{at(2026, 1, 9, 16, 0), 2},   // Fri → the make-up Saturday 10 Jan
				{at(2026, 3, 2, 11, 0), 1},   // across lunch → 13:30
				{at(2026, 4, 29, 10, 0), 40}, // 30/4–1/5
			} {
				if g, w := got.AddBusinessHours(tc.start, tc.hours), want.AddBusinessHours(tc.start, tc.hours); !g.Equal(w) {
					t.Errorf("seeded=%v: %v + %vh = %v, want %v", seeded, tc.start, tc.hours, g, w)
				}
			}
			if d := got.AddBusinessHours(at(2026, 2, 13, 15, 0), 8); !d.Equal(at(2026, 2, 23, 15, 0)) {
				t.Errorf("deadline over Tết = %v, want Mon 23 Feb 15:00", d)
			}
		}
	})
}

func TestSetCalendarDayMovesTheNextDeadline(t *testing.T) {
	stack.RunDB(t, mount, func(t *testing.T, e *stack.Env) {
		a, c := admin(t, e), catOf(e)
		team := e.UnitID(t, "DEMOCK1TT")
		start := at(2026, 3, 9, 9, 0) // Monday
		deadline := func() time.Time {
			t.Helper()
			cal, err := c.Calendar(ctx, team)
			if err != nil {
				t.Fatal(err)
			}
			return cal.AddBusinessHours(start, 8)
		}
		if d := deadline(); !d.Equal(at(2026, 3, 10, 9, 0)) { // cached from here on
			t.Fatalf("deadline = %v, want Tue 10 Mar 09:00", d)
		}
		// Tuesday 10 March becomes a day off: the deadline moves to Wednesday.
		testkit.Got(a.SetCalendarDay(ctx, connect.NewRequest(&issuev1.SetCalendarDayRequest{Day: &issuev1.CalendarDay{
			Date: "2026-03-10", Kind: issuev1.DayKind_DAY_KIND_DAY_OFF, NameVi: "Nghỉ đột xuất", NameEn: "Unplanned day off"}}))).Must(t)
		if d := deadline(); !d.Equal(at(2026, 3, 11, 9, 0)) {
			t.Fatalf("after the day off, deadline = %v, want Wed 11 Mar 09:00", d)
		}
		// Deleting the day off restores the deadline; a make-up Saturday
		// pulls a Friday afternoon's deadline in.
		testkit.Got(a.DeleteCalendarDay(ctx, connect.NewRequest(&issuev1.DeleteCalendarDayRequest{Date: "2026-03-10"}))).Must(t)
		if d := deadline(); !d.Equal(at(2026, 3, 10, 9, 0)) {
			t.Fatalf("after deleting the day off, deadline = %v, want Tue 10 Mar 09:00", d)
		}
		fri := at(2026, 3, 13, 16, 0)
		testkit.Got(a.SetCalendarDay(ctx, connect.NewRequest(&issuev1.SetCalendarDayRequest{Day: &issuev1.CalendarDay{
			Date: "2026-03-14", Kind: issuev1.DayKind_DAY_KIND_MAKEUP_WORKDAY, NameVi: "Làm bù", NameEn: "Make-up day"}}))).Must(t)
		cal, err := c.Calendar(ctx, team)
		if err != nil {
			t.Fatal(err)
		}
		if d := cal.AddBusinessHours(fri, 2); !d.Equal(at(2026, 3, 14, 8, 30)) {
			t.Fatalf("with a make-up Saturday, deadline = %v, want Sat 14 Mar 08:30", d)
		}
		for _, action := range []string{"calendar_day.set", "calendar_day.delete"} {
			if n := e.Count(t, "audit_events WHERE action = $1", action); n == 0 {
				t.Errorf("no %s audit row", action)
			}
		}
	})
}

func TestCalendarDays(t *testing.T) {
	stack.RunDB(t, mount, func(t *testing.T, e *stack.Env) {
		a := admin(t, e)
		list := func(from, to string) []*issuev1.CalendarDay {
			t.Helper()
			return testkit.Got(a.ListCalendarDays(ctx, connect.NewRequest(&issuev1.ListCalendarDaysRequest{FromDate: from, ToDate: to}))).Must(t).Days
		}
		// The first admin call seeds the table.
		feb := list("2026-02-01", "2026-02-28")
		var dates []string
		for _, d := range feb {
			dates = append(dates, d.Date)
			if d.Kind != issuev1.DayKind_DAY_KIND_DAY_OFF || d.NameVi != "Tết Nguyên đán" || d.NameEn != "Lunar New Year" {
				t.Errorf("Tết day %v", d)
			}
		}
		if want := []string{"2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19", "2026-02-20"}; !slices.Equal(dates, want) {
			t.Fatalf("February 2026 = %v, want %v", dates, want)
		}
		if jan := list("2026-01-10", "2026-01-10"); len(jan) != 1 || jan[0].Kind != issuev1.DayKind_DAY_KIND_MAKEUP_WORKDAY {
			t.Fatalf("10 Jan 2026 = %v, want a make-up workday", jan)
		}
		if all := list("2025-01-01", "2027-12-31"); len(all) != len(calendar.VietnamHolidays()) {
			t.Fatalf("%d days listed, want %d", len(all), len(calendar.VietnamHolidays()))
		}

		// Replacing a day.
		got := testkit.Got(a.SetCalendarDay(ctx, connect.NewRequest(&issuev1.SetCalendarDayRequest{Day: &issuev1.CalendarDay{
			Date: "2026-02-20", Kind: issuev1.DayKind_DAY_KIND_DAY_OFF, NameVi: "Mùng 4 Tết", NameEn: "Fourth day of Tết"}}))).Must(t).Day
		if got.Date != "2026-02-20" || got.NameEn != "Fourth day of Tết" {
			t.Fatalf("set %v", got)
		}
		if d := list("2026-02-20", "2026-02-20"); len(d) != 1 || d[0].NameVi != "Mùng 4 Tết" {
			t.Fatalf("after replace %v", d)
		}

		day := func(date string, kind issuev1.DayKind) *issuev1.SetCalendarDayRequest {
			return &issuev1.SetCalendarDayRequest{Day: &issuev1.CalendarDay{Date: date, Kind: kind, NameVi: "Ngày thử", NameEn: "Test day"}}
		}
		bad := []struct {
			name  string
			req   *issuev1.SetCalendarDayRequest
			field string
		}{
			{"no day", &issuev1.SetCalendarDayRequest{}, "day"},
			{"bad date", day("2026-2-3", issuev1.DayKind_DAY_KIND_DAY_OFF), "day.date"},
			{"no such date", day("2026-02-30", issuev1.DayKind_DAY_KIND_DAY_OFF), "day.date"},
			{"no kind", day("2026-03-02", issuev1.DayKind_DAY_KIND_UNSPECIFIED), "day.kind"},
			{"day off on a Saturday", day("2026-03-07", issuev1.DayKind_DAY_KIND_DAY_OFF), "day.kind"},
			{"day off on a Sunday", day("2026-03-08", issuev1.DayKind_DAY_KIND_DAY_OFF), "day.kind"},
			{"make-up on a Monday", day("2026-03-09", issuev1.DayKind_DAY_KIND_MAKEUP_WORKDAY), "day.kind"},
			{"no Vietnamese name", &issuev1.SetCalendarDayRequest{Day: &issuev1.CalendarDay{Date: "2026-03-09", Kind: issuev1.DayKind_DAY_KIND_DAY_OFF, NameEn: "Test"}}, "day.name_vi"},
			{"no English name", &issuev1.SetCalendarDayRequest{Day: &issuev1.CalendarDay{Date: "2026-03-09", Kind: issuev1.DayKind_DAY_KIND_DAY_OFF, NameVi: "Thử"}}, "day.name_en"},
		}
		for _, tc := range bad {
			t.Run(tc.name, func(t *testing.T) {
				_, err := a.SetCalendarDay(ctx, connect.NewRequest(tc.req))
				testkit.WantField(t, err, connect.CodeInvalidArgument, tc.field)
			})
		}
		if n := e.Count(t, "calendar_days"); n != len(calendar.VietnamHolidays()) {
			t.Fatalf("%d days after refused changes", n)
		}

		for _, tc := range []struct{ from, to, field string }{
			{"", "2026-01-01", "from_date"},
			{"2026-01-01", "2026/12/31", "to_date"},
			{"2026-02-01", "2026-01-31", "to_date"},
			{"2026-01-01", "2036-01-02", "to_date"},
		} {
			_, err := a.ListCalendarDays(ctx, connect.NewRequest(&issuev1.ListCalendarDaysRequest{FromDate: tc.from, ToDate: tc.to}))
			testkit.WantField(t, err, connect.CodeInvalidArgument, tc.field)
		}
		if d := list("2026-01-01", "2036-01-01"); len(d) == 0 {
			t.Fatal("a ten-year range is allowed")
		}

		_, err := a.DeleteCalendarDay(ctx, connect.NewRequest(&issuev1.DeleteCalendarDayRequest{Date: "2026-03-03"}))
		testkit.WantField(t, err, connect.CodeNotFound, "date")
		_, err = a.DeleteCalendarDay(ctx, connect.NewRequest(&issuev1.DeleteCalendarDayRequest{Date: "yesterday"}))
		testkit.WantField(t, err, connect.CodeInvalidArgument, "date")
		testkit.Got(a.DeleteCalendarDay(ctx, connect.NewRequest(&issuev1.DeleteCalendarDayRequest{Date: "2026-02-20"}))).Must(t)
		if d := list("2026-02-20", "2026-02-20"); len(d) != 0 {
			t.Fatalf("deleted day still listed: %v", d)
		}
		if n := e.Count(t, "audit_events WHERE action = 'calendar_day.delete' AND target_id = '2026-02-20'"); n != 1 {
			t.Fatalf("%d audit rows for the deletion", n)
		}
	})
}

func TestWorkingHoursInheritance(t *testing.T) {
	stack.RunDB(t, mount, func(t *testing.T, e *stack.Env) {
		a, c := admin(t, e), catOf(e)
		team, branch := e.UnitID(t, "DEMOCK1TT"), e.UnitID(t, "DEMOCK1")
		other := e.UnitID(t, "DEMOKCNNV")
		spans := func(ss ...string) []*issuev1.TimeSpan {
			var out []*issuev1.TimeSpan
			for i := 0; i+1 < len(ss); i += 2 {
				out = append(out, &issuev1.TimeSpan{Start: ss[i], End: ss[i+1]})
			}
			return out
		}
		format := func(ts []*issuev1.TimeSpan) string {
			var s string
			for _, x := range ts {
				s += x.Start + "-" + x.End + " "
			}
			return s
		}
		get := func(unit string) (string, string) {
			t.Helper()
			r := testkit.Got(a.GetWorkingHours(ctx, connect.NewRequest(&issuev1.GetWorkingHoursRequest{UnitId: unit}))).Must(t)
			return format(r.Spans), r.FromUnitId
		}
		calHours := func(unit string) string {
			t.Helper()
			cal, err := c.Calendar(ctx, unit)
			if err != nil {
				t.Fatal(err)
			}
			return catalog.FormatSpans(cal.Hours)
		}
		want := func(unit, hours, from, cal string) {
			t.Helper()
			if h, f := get(unit); h != hours || f != from {
				t.Fatalf("GetWorkingHours = %q from %q, want %q from %q", h, f, hours, from)
			}
			if h := calHours(unit); h != cal {
				t.Fatalf("Calendar hours = %s, want %s", h, cal)
			}
		}
		const def, defCal = "07:30-11:30 13:00-17:00 ", "07:30-11:30,13:00-17:00"
		want(team, def, "", defCal)

		r := testkit.Got(a.SetWorkingHours(ctx, connect.NewRequest(&issuev1.SetWorkingHoursRequest{UnitId: branch,
			Spans: spans("07:00", "11:00", "13:30", "17:30")}))).Must(t)
		if format(r.Spans) != "07:00-11:00 13:30-17:30 " || r.FromUnitId != branch {
			t.Fatalf("SetWorkingHours = %v", r)
		}
		want(team, "07:00-11:00 13:30-17:30 ", branch, "07:00-11:00,13:30-17:30")
		want(other, def, "", defCal) // another branch's team

		testkit.Got(a.SetWorkingHours(ctx, connect.NewRequest(&issuev1.SetWorkingHoursRequest{UnitId: team,
			Spans: spans("00:00", "12:00", "12:00", "24:00")}))).Must(t)
		want(team, "00:00-12:00 12:00-24:00 ", team, "00:00-12:00,12:00-24:00")

		// Clearing the team's own hours falls back to the branch's, then to
		// the default.
		r = testkit.Got(a.SetWorkingHours(ctx, connect.NewRequest(&issuev1.SetWorkingHoursRequest{UnitId: team}))).Must(t)
		if r.FromUnitId != branch {
			t.Fatalf("after clearing, hours from %q, want the branch", r.FromUnitId)
		}
		want(team, "07:00-11:00 13:30-17:30 ", branch, "07:00-11:00,13:30-17:30")
		testkit.Got(a.SetWorkingHours(ctx, connect.NewRequest(&issuev1.SetWorkingHoursRequest{UnitId: branch}))).Must(t)
		want(team, def, "", defCal)
		if n := e.Count(t, "audit_events WHERE action LIKE 'unit_working_hours.%'"); n != 4 {
			t.Fatalf("%d working-hours audit rows, want 4", n)
		}

		seven := spans("01:00", "02:00", "03:00", "04:00", "05:00", "06:00", "07:00", "08:00", "09:00", "10:00", "11:00", "12:00", "13:00", "14:00")
		for _, tc := range []struct {
			name  string
			unit  string
			spans []*issuev1.TimeSpan
			code  connect.Code
			field string
		}{
			{"no unit", "", spans("08:00", "12:00"), connect.CodeInvalidArgument, "unit_id"},
			{"unknown unit", "0190a000-0000-7000-8000-0000000000aa", spans("08:00", "12:00"), connect.CodeNotFound, "unit_id"},
			{"seven spans", team, seven, connect.CodeInvalidArgument, "spans"},
			{"not HH:MM", team, spans("8:00", "12:00"), connect.CodeInvalidArgument, "spans[0].start"},
			{"minutes 60", team, spans("08:00", "12:60"), connect.CodeInvalidArgument, "spans[0].end"},
			{"after midnight", team, spans("08:00", "24:30"), connect.CodeInvalidArgument, "spans[0].end"},
			{"end before start", team, spans("12:00", "08:00"), connect.CodeInvalidArgument, "spans[0].end"},
			{"empty span", team, spans("08:00", "08:00"), connect.CodeInvalidArgument, "spans[0].end"},
			{"overlap", team, spans("08:00", "12:00", "11:00", "15:00"), connect.CodeInvalidArgument, "spans[1].start"},
			{"descending", team, spans("13:00", "17:00", "08:00", "12:00"), connect.CodeInvalidArgument, "spans[1].start"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := a.SetWorkingHours(ctx, connect.NewRequest(&issuev1.SetWorkingHoursRequest{UnitId: tc.unit, Spans: tc.spans}))
				testkit.WantField(t, err, tc.code, tc.field)
			})
		}
		_, err := a.GetWorkingHours(ctx, connect.NewRequest(&issuev1.GetWorkingHoursRequest{UnitId: "0190a000-0000-7000-8000-0000000000aa"}))
		testkit.WantField(t, err, connect.CodeNotFound, "unit_id")
		if n := e.Count(t, "unit_working_hours"); n != 0 {
			t.Fatalf("%d working hours rows after refused changes", n)
		}
	})
}

func TestParseSpans(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // "" for an error
	}{
		{"07:30-11:30,13:00-17:00", "07:30-11:30,13:00-17:00"},
		{"00:00-24:00", "00:00-24:00"},
		{" 08:00-12:00 , 12:00-16:00", "08:00-12:00,12:00-16:00"},
		{"", ""},
		{"08:00", ""},
		{"08:00-07:00", ""},
		{"13:00-17:00,07:30-11:30", ""},
		{"24:00-24:30", ""},
		{"+8:00-12:00", ""},
		{"01:00-02:00,03:00-04:00,05:00-06:00,07:00-08:00,09:00-10:00,11:00-12:00,13:00-14:00", ""},
	} {
		t.Run(fmt.Sprintf("%q", tc.in), func(t *testing.T) {
			got, err := catalog.ParseSpans(tc.in)
			switch {
			case tc.want == "" && err == nil:
				t.Fatalf("ParseSpans = %v, want an error", got)
			case tc.want != "" && err != nil:
				t.Fatal(err)
			case tc.want != "" && catalog.FormatSpans(got) != tc.want:
				t.Fatalf("ParseSpans = %s, want %s", catalog.FormatSpans(got), tc.want)
			}
		})
	}
}
