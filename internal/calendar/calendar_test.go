package calendar

import (
	"math/rand/v2"
	"testing"
	"time"
)

var cal = Default()

// at is a local instant in the default calendar's zone.
func at(y int, m time.Month, d, hh, mm int) time.Time {
	return time.Date(y, m, d, hh, mm, 0, 0, cal.Location)
}

func TestDateString(t *testing.T) {
	if got := (Date{2026, time.February, 17}).String(); got != "2026-02-17" {
		t.Fatalf("String = %q", got)
	}
	if got := DateOf(at(2026, time.February, 17, 23, 59)); got != (Date{2026, time.February, 17}) {
		t.Fatalf("DateOf = %v", got)
	}
}

func TestNewValidates(t *testing.T) {
	loc := DefaultLocation()
	d := func(y int, m time.Month, dd int) Date { return Date{y, m, dd} }
	tests := []struct {
		name     string
		loc      *time.Location
		hours    []Span
		holidays []Holiday
		wantErr  bool
	}{
		{"default hours are valid", loc, DefaultHours(), nil, false},
		{"touching spans are valid", loc, []Span{{0, 60}, {60, 120}}, nil, false},
		{"whole day is valid", loc, []Span{{0, 1440}}, nil, false},
		{"nil location", nil, DefaultHours(), nil, true},
		{"no hours", loc, nil, nil, true},
		{"empty span", loc, []Span{{60, 60}}, nil, true},
		{"reversed span", loc, []Span{{120, 60}}, nil, true},
		{"negative start", loc, []Span{{-1, 60}}, nil, true},
		{"past midnight", loc, []Span{{60, 1441}}, nil, true},
		{"overlapping spans", loc, []Span{{60, 120}, {100, 200}}, nil, true},
		{"descending spans", loc, []Span{{300, 400}, {60, 120}}, nil, true},
		{"invalid date", loc, DefaultHours(), []Holiday{{Date: d(2026, time.February, 30)}}, true},
		{"duplicate date", loc, DefaultHours(), []Holiday{{Date: d(2026, 1, 1)}, {Date: d(2026, 1, 1)}}, true},
		{"make-up workday on a weekday", loc, DefaultHours(), []Holiday{{Date: d(2026, 1, 2), Kind: MakeUpWorkday}}, true},
		{"unknown kind", loc, DefaultHours(), []Holiday{{Date: d(2026, 1, 2), Kind: 7}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.loc, tt.hours, tt.holidays)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
		})
	}
}

func TestVietnamHolidaysData(t *testing.T) {
	perYear := map[int]int{}
	for _, h := range VietnamHolidays() {
		wd := h.Date.Weekday()
		switch h.Kind {
		case DayOff:
			if wd == time.Saturday || wd == time.Sunday {
				t.Errorf("%s %q is a day off on a %s: list the weekday given in lieu", h.Date, h.Name, wd)
			}
		case MakeUpWorkday:
			if wd != time.Saturday {
				t.Errorf("%s %q is a make-up day on a %s", h.Date, h.Name, wd)
			}
		}
		perYear[h.Date.Year]++
	}
	for _, y := range []int{2025, 2026, 2027} {
		if perYear[y] < 9 {
			t.Errorf("%d has only %d entries", y, perYear[y])
		}
	}
}

func TestIsWorkday(t *testing.T) {
	tests := []struct {
		name string
		d    Date
		want bool
	}{
		{"ordinary Monday", Date{2026, time.March, 2}, true},
		{"ordinary Friday", Date{2026, time.March, 6}, true},
		{"ordinary Saturday", Date{2026, time.March, 7}, false},
		{"ordinary Sunday", Date{2026, time.March, 8}, false},
		{"New Year 2025", Date{2025, time.January, 1}, false},
		{"Tết 2026 first day", Date{2026, time.February, 17}, false},
		{"Tết 2026 last day before the new year", Date{2026, time.February, 16}, false},
		{"Friday before Tết 2026", Date{2026, time.February, 13}, true},
		{"Monday after Tết 2026", Date{2026, time.February, 23}, true},
		{"Hùng Kings 2025", Date{2025, time.April, 7}, false},
		{"Hùng Kings 2026 in lieu Monday", Date{2026, time.April, 27}, false},
		{"30 April 2025", Date{2025, time.April, 30}, false},
		{"bridge day 2 May 2025", Date{2025, time.May, 2}, false},
		{"make-up Saturday 26 April 2025", Date{2025, time.April, 26}, true},
		{"make-up Saturday 10 January 2026", Date{2026, time.January, 10}, true},
		{"make-up Saturday 22 August 2026", Date{2026, time.August, 22}, true},
		{"National Day 2026 extra day", Date{2026, time.September, 1}, false},
		{"Tết 2027 in lieu day", Date{2027, time.February, 11}, false},
		{"Friday after Tết 2027", Date{2027, time.February, 12}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cal.IsWorkday(tt.d); got != tt.want {
				t.Fatalf("IsWorkday(%s) = %v, want %v", tt.d, got, tt.want)
			}
		})
	}
}

func TestBusinessMinutes(t *testing.T) {
	tests := []struct {
		name     string
		from, to time.Time
		want     int64
	}{
		{"within one span", at(2026, 3, 2, 8, 0), at(2026, 3, 2, 9, 15), 75},
		{"around lunch", at(2026, 3, 2, 11, 0), at(2026, 3, 2, 13, 30), 60},
		{"inside lunch counts nothing", at(2026, 3, 2, 11, 40), at(2026, 3, 2, 12, 50), 0},
		{"whole working day", at(2026, 3, 2, 0, 0), at(2026, 3, 3, 0, 0), 480},
		{"across a weekend", at(2026, 3, 6, 16, 0), at(2026, 3, 9, 8, 30), 120},
		{"weekend only", at(2026, 3, 7, 8, 0), at(2026, 3, 8, 16, 0), 0},
		{"across Tết 2026", at(2026, 2, 13, 16, 0), at(2026, 2, 23, 8, 30), 120},
		{"Tết 2026 days count nothing", at(2026, 2, 14, 0, 0), at(2026, 2, 23, 0, 0), 0},
		{"across make-up Saturday 26 April 2025", at(2025, 4, 25, 16, 0), at(2025, 4, 28, 8, 30), 60 + 480 + 60},
		{"across 30 April–4 May 2025", at(2025, 4, 29, 16, 0), at(2025, 5, 5, 8, 30), 120},
		{"reversed interval", at(2026, 3, 2, 15, 0), at(2026, 3, 2, 9, 0), 0},
		{"empty interval", at(2026, 3, 2, 9, 0), at(2026, 3, 2, 9, 0), 0},
		{"partial minutes round down", at(2026, 3, 2, 8, 0), at(2026, 3, 2, 8, 0).Add(90 * time.Second), 1},
		{"other zone converted", at(2026, 3, 2, 8, 0).UTC(), at(2026, 3, 2, 9, 0).In(time.FixedZone("X", -5*3600)), 60},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cal.BusinessMinutes(tt.from, tt.to); got != tt.want {
				t.Fatalf("BusinessMinutes(%v, %v) = %d, want %d", tt.from, tt.to, got, tt.want)
			}
		})
	}
}

func TestAddBusinessHours(t *testing.T) {
	tests := []struct {
		name  string
		start time.Time
		hours float64
		want  time.Time
	}{
		{"8 hours from Monday opening ends Monday closing", at(2026, 3, 2, 7, 30), 8, at(2026, 3, 2, 17, 0)},
		{"4 hours from 13:00 stays at closing", at(2026, 3, 2, 13, 0), 4, at(2026, 3, 2, 17, 0)},
		{"Friday 16:00 plus 2 hours is Monday 08:30", at(2026, 3, 6, 16, 0), 2, at(2026, 3, 9, 8, 30)},
		{"11:00 plus 1 hour skips lunch", at(2026, 3, 2, 11, 0), 1, at(2026, 3, 2, 13, 30)},
		{"morning span ends at 11:30 exactly", at(2026, 3, 2, 7, 30), 4, at(2026, 3, 2, 11, 30)},
		{"evening start counts from next morning", at(2026, 3, 2, 20, 0), 1, at(2026, 3, 3, 8, 30)},
		{"lunch start counts from 13:00", at(2026, 3, 2, 12, 0), 0.5, at(2026, 3, 2, 13, 30)},
		{"weekend start counts from Monday", at(2026, 3, 7, 10, 0), 1, at(2026, 3, 9, 8, 30)},
		{"16 hours from the working day before Tết 2026 end after Tết", at(2026, 2, 13, 7, 30), 16, at(2026, 2, 23, 17, 0)},
		{"2 hours from Friday 16:00 before Tết 2026 land after it", at(2026, 2, 13, 16, 0), 2, at(2026, 2, 23, 8, 30)},
		{"make-up Saturday 10 January 2026 is worked", at(2026, 1, 9, 16, 0), 2, at(2026, 1, 10, 8, 30)},
		{"New Year bridge 2026 is skipped", at(2025, 12, 31, 16, 0), 2, at(2026, 1, 5, 8, 30)},
		{"zero hours inside hours is the start", at(2026, 3, 2, 9, 10), 0, at(2026, 3, 2, 9, 10)},
		{"zero hours at closing is next opening", at(2026, 3, 2, 17, 0), 0, at(2026, 3, 3, 7, 30)},
		{"negative hours count as zero", at(2026, 3, 2, 9, 10), -3, at(2026, 3, 2, 9, 10)},
		{"fractional hours round to the minute", at(2026, 3, 2, 7, 30), 0.25, at(2026, 3, 2, 7, 45)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cal.AddBusinessHours(tt.start, tt.hours); !got.Equal(tt.want) {
				t.Fatalf("AddBusinessHours(%v, %v) = %v, want %v", tt.start, tt.hours, got, tt.want)
			}
		})
	}
}

func TestNextOpening(t *testing.T) {
	tests := []struct {
		name    string
		t, want time.Time
	}{
		{"inside hours is itself", at(2026, 3, 2, 10, 0), at(2026, 3, 2, 10, 0)},
		{"at opening is itself", at(2026, 3, 2, 7, 30), at(2026, 3, 2, 7, 30)},
		{"at 11:30 is 13:00", at(2026, 3, 2, 11, 30), at(2026, 3, 2, 13, 0)},
		{"before dawn is 07:30", at(2026, 3, 2, 5, 0), at(2026, 3, 2, 7, 30)},
		{"Friday evening is Monday", at(2026, 3, 6, 18, 0), at(2026, 3, 9, 7, 30)},
		{"Tết 2026 eve is after Tết", at(2026, 2, 13, 17, 0), at(2026, 2, 23, 7, 30)},
		{"Friday before make-up Saturday 2025", at(2025, 4, 25, 17, 0), at(2025, 4, 26, 7, 30)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := cal.NextOpening(tt.t); !got.Equal(tt.want) {
				t.Fatalf("NextOpening(%v) = %v, want %v", tt.t, got, tt.want)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	starts := []time.Time{
		at(2026, 3, 2, 7, 30), at(2026, 3, 2, 11, 0), at(2026, 3, 2, 12, 0), at(2026, 3, 2, 17, 0),
		at(2026, 3, 6, 16, 0), at(2026, 3, 7, 9, 0), at(2026, 2, 13, 15, 59), at(2025, 4, 25, 16, 30),
		at(2025, 12, 31, 23, 59), at(2026, 3, 2, 9, 0).Add(17 * time.Second),
	}
	ns := []int64{0, 1, 29, 60, 240, 480, 481, 960, 2400, 60 * 24 * 5, 250 * 480}
	for _, s := range starts {
		for _, n := range ns {
			end := cal.AddBusinessMinutes(s, n)
			if got := cal.BusinessMinutes(s, end); got != n {
				t.Errorf("start %v n %d: end %v, BusinessMinutes = %d", s, n, end, got)
			}
		}
	}
}

func TestRandomStartsRoundTripAndMonotonic(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 2))
	lo := at(2025, 1, 1, 0, 0)
	span := at(2028, 1, 1, 0, 0).Sub(lo)
	for i := range 500 {
		start := lo.Add(time.Duration(rng.Int64N(int64(span/time.Minute))) * time.Minute)
		n := rng.Int64N(20 * 480)
		end := cal.AddBusinessMinutes(start, n)
		if got := cal.BusinessMinutes(start, end); got != n {
			t.Fatalf("#%d start %v n %d: end %v, BusinessMinutes = %d", i, start, n, end, got)
		}
		if end.Before(start) {
			t.Fatalf("#%d end %v before start %v", i, end, start)
		}
		if more := cal.AddBusinessMinutes(start, n+1); !more.After(end) {
			t.Fatalf("#%d not increasing in n: %v then %v", i, end, more)
		}
		later := start.Add(time.Duration(rng.Int64N(3*24*60)) * time.Minute)
		if e2 := cal.AddBusinessMinutes(later, n); e2.Before(end) {
			t.Fatalf("#%d not monotone in start: %v→%v, %v→%v", i, start, end, later, e2)
		}
		if !cal.IsWorkday(DateOf(end)) && n > 0 {
			t.Fatalf("#%d end %v is not on a workday", i, end)
		}
	}
}

func TestBounded(t *testing.T) {
	start := at(2026, 3, 2, 9, 0)
	capAt := DateOf(start).AddDays(MaxHorizonDays).At(0, cal.Location)
	t.Run("huge addition returns the cap", func(t *testing.T) {
		if got := cal.AddBusinessMinutes(start, 1<<62); !got.Equal(capAt) {
			t.Fatalf("got %v, want %v", got, capAt)
		}
	})
	t.Run("huge hours return the cap", func(t *testing.T) {
		if got := cal.AddBusinessHours(start, 1e300); !got.Equal(capAt) {
			t.Fatalf("got %v, want %v", got, capAt)
		}
	})
	t.Run("no working day returns the cap", func(t *testing.T) {
		never, err := New(time.UTC, DefaultHours(), nil)
		if err != nil {
			t.Fatal(err)
		}
		for d := DateOf(start); d.Before(DateOf(start).AddDays(MaxHorizonDays + 1)); d = d.AddDays(1) {
			if wd := d.Weekday(); wd != time.Saturday && wd != time.Sunday {
				never.Holidays[d] = "closed"
			}
		}
		s := start.In(time.UTC)
		want := DateOf(s).AddDays(MaxHorizonDays).At(0, time.UTC)
		if got := never.NextOpening(s); !got.Equal(want) {
			t.Fatalf("got %v, want %v", got, want)
		}
	})
	t.Run("counting stops at the cap", func(t *testing.T) {
		far := capAt.AddDate(50, 0, 0)
		if a, b := cal.BusinessMinutes(start, far), cal.BusinessMinutes(start, capAt); a != b {
			t.Fatalf("%d != %d", a, b)
		}
	})
	t.Run("one year takes one pass per day", func(t *testing.T) {
		end := cal.AddBusinessHours(start, 8*250)
		if end.Year() != 2027 {
			t.Fatalf("250 working days from March 2026 end %v", end)
		}
	})
}

func BenchmarkAddBusinessHoursOneYear(b *testing.B) {
	start := at(2026, 3, 2, 9, 0)
	for b.Loop() {
		cal.AddBusinessHours(start, 8*250)
	}
}
