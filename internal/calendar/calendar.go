// Package calendar does business-time arithmetic for SLA deadlines: working
// hours per day, public holidays and make-up working days (Saturdays worked to
// swap for a bridge day), business minutes between two instants, and the
// deadline N business hours after a start.
//
// The package is pure: no I/O, no clock, no database. Holiday data for Vietnam
// is in holidays_vn.go.
//
// Working spans are counted by the wall clock of the calendar's location
// (Asia/Ho_Chi_Minh has no daylight saving time). A span is half-open: 07:30
// is inside [07:30, 11:30), 11:30 is not.
//
// Bound: every search looks at most MaxHorizonDays days (about 10 years)
// ahead of its start. AddBusinessMinutes and NextOpening return the cap
// instant (midnight starting the day MaxHorizonDays after the start's date)
// when the answer lies further away, and BusinessMinutes counts nothing after
// that same cap. None of them returns an error.
package calendar

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// MaxHorizonDays bounds how far ahead of a start any computation looks.
const MaxHorizonDays = 3660

// minutesPerDay is the number of wall-clock minutes in a day.
const minutesPerDay = 24 * 60

// Span is a working period of a day in minutes after local midnight,
// half-open [Start, End).
type Span struct{ Start, End int }

// HolidayKind says whether a Holiday is a day off or a day worked.
type HolidayKind int

const (
	// DayOff is a weekday on which offices are closed.
	DayOff HolidayKind = iota
	// MakeUpWorkday is a weekend day worked in exchange for a bridge day off.
	MakeUpWorkday
)

// String names the kind.
func (k HolidayKind) String() string {
	switch k {
	case DayOff:
		return "DayOff"
	case MakeUpWorkday:
		return "MakeUpWorkday"
	}
	return fmt.Sprintf("HolidayKind(%d)", int(k))
}

// Holiday is one day of calendar data.
type Holiday struct {
	Date Date
	Name string
	Kind HolidayKind
}

// Calendar is a working-time calendar. Build it with New or Default; a
// Calendar is safe for concurrent use as long as nobody modifies its fields.
type Calendar struct {
	// Location is the zone whose wall clock the hours are read in.
	Location *time.Location
	// Hours are the working spans of every working day, ascending and
	// non-overlapping.
	Hours []Span
	// Holidays are the weekdays off, with their names.
	Holidays map[Date]string
	// WorkingWeekends are the weekend days worked (make-up working days).
	WorkingWeekends map[Date]string
}

// DefaultHours are the office hours of Vietnamese state agencies:
// 07:30–11:30 and 13:00–17:00.
func DefaultHours() []Span {
	return []Span{{Start: 7*60 + 30, End: 11*60 + 30}, {Start: 13 * 60, End: 17 * 60}}
}

// DefaultLocation returns Asia/Ho_Chi_Minh, or a fixed UTC+7 zone named ICT
// when the time zone database is not available.
func DefaultLocation() *time.Location {
	if loc, err := time.LoadLocation("Asia/Ho_Chi_Minh"); err == nil {
		return loc
	}
	return time.FixedZone("ICT", 7*3600)
}

// Default returns the calendar of Vietnamese customs offices: DefaultLocation,
// Monday to Friday DefaultHours, and VietnamHolidays. Each call returns a new
// Calendar that the caller may modify.
func Default() *Calendar {
	c, err := New(DefaultLocation(), DefaultHours(), VietnamHolidays())
	if err != nil {
		panic("calendar: built-in data is invalid: " + err.Error())
	}
	return c
}

// New validates and builds a calendar. Hours must be non-empty, each span
// within [0, 1440] with Start < End, ascending and non-overlapping (touching
// is allowed). Holiday dates must exist, appear once, and a MakeUpWorkday must
// be a Saturday or Sunday.
func New(loc *time.Location, hours []Span, holidays []Holiday) (*Calendar, error) {
	if loc == nil {
		return nil, errors.New("calendar: nil location")
	}
	if len(hours) == 0 {
		return nil, errors.New("calendar: no working hours")
	}
	for i, s := range hours {
		if s.Start < 0 || s.End > minutesPerDay || s.Start >= s.End {
			return nil, fmt.Errorf("calendar: span %d [%d, %d) is not within a day with start before end", i, s.Start, s.End)
		}
		if i > 0 && s.Start < hours[i-1].End {
			return nil, fmt.Errorf("calendar: span %d [%d, %d) overlaps or precedes span %d", i, s.Start, s.End, i-1)
		}
	}
	c := &Calendar{
		Location:        loc,
		Hours:           append([]Span(nil), hours...),
		Holidays:        make(map[Date]string),
		WorkingWeekends: make(map[Date]string),
	}
	for _, h := range holidays {
		if !h.Date.Valid() {
			return nil, fmt.Errorf("calendar: holiday %q has an invalid date %+v", h.Name, h.Date)
		}
		_, off := c.Holidays[h.Date]
		_, work := c.WorkingWeekends[h.Date]
		if off || work {
			return nil, fmt.Errorf("calendar: %s appears twice", h.Date)
		}
		switch h.Kind {
		case DayOff:
			c.Holidays[h.Date] = h.Name
		case MakeUpWorkday:
			if wd := h.Date.Weekday(); wd != time.Saturday && wd != time.Sunday {
				return nil, fmt.Errorf("calendar: make-up workday %s (%q) is a %s, not a weekend day", h.Date, h.Name, wd)
			}
			c.WorkingWeekends[h.Date] = h.Name
		default:
			return nil, fmt.Errorf("calendar: holiday %s has unknown kind %s", h.Date, h.Kind)
		}
	}
	return c, nil
}

// IsWorkday reports whether d is a working day: a make-up workday, or Monday
// to Friday and not a day off.
func (c *Calendar) IsWorkday(d Date) bool {
	if _, ok := c.WorkingWeekends[d]; ok {
		return true
	}
	if _, ok := c.Holidays[d]; ok {
		return false
	}
	wd := d.Weekday()
	return wd != time.Saturday && wd != time.Sunday
}

// horizon is the cap instant for a computation starting at t (in c.Location).
func (c *Calendar) horizon(t time.Time) time.Time {
	return DateOf(t).AddDays(MaxHorizonDays).At(0, c.Location)
}

// BusinessMinutes returns the working minutes in [from, to), rounded down to
// whole minutes; 0 if to is not after from. Time after the horizon cap of
// from (see the package comment) is not counted.
func (c *Calendar) BusinessMinutes(from, to time.Time) int64 {
	if !to.After(from) {
		return 0
	}
	from, to = from.In(c.Location), to.In(c.Location)
	if h := c.horizon(from); to.After(h) {
		to = h
	}
	var total time.Duration
	last := DateOf(to)
	for d := DateOf(from); !last.Before(d); d = d.AddDays(1) {
		if !c.IsWorkday(d) {
			continue
		}
		for _, s := range c.Hours {
			start, end := d.At(s.Start, c.Location), d.At(s.End, c.Location)
			if start.Before(from) {
				start = from
			}
			if end.After(to) {
				end = to
			}
			if end.After(start) {
				total += end.Sub(start)
			}
		}
	}
	return int64(total / time.Minute)
}

// AddBusinessMinutes returns the instant at which minutes working minutes have
// elapsed from start. A start outside working hours counts from the next
// opening; a result that falls exactly on a closing time stays there (4 hours
// from 13:00 is 17:00 the same day, not the next morning). Zero or negative
// minutes give NextOpening(start). Beyond the horizon the cap instant is
// returned (see the package comment).
func (c *Calendar) AddBusinessMinutes(start time.Time, minutes int64) time.Time {
	cur := start.In(c.Location)
	remaining := time.Duration(max(minutes, 0)) * time.Minute
	if minutes > int64(MaxHorizonDays)*minutesPerDay {
		remaining = time.Duration(MaxHorizonDays) * minutesPerDay * time.Minute
	}
	capAt := c.horizon(cur)
	for d := DateOf(cur); d.Before(DateOf(capAt)); d = d.AddDays(1) {
		if !c.IsWorkday(d) {
			continue
		}
		for _, s := range c.Hours {
			open, closing := d.At(s.Start, c.Location), d.At(s.End, c.Location)
			if !closing.After(cur) {
				continue
			}
			if open.Before(cur) {
				open = cur
			}
			avail := closing.Sub(open)
			if remaining <= avail {
				return open.Add(remaining)
			}
			remaining -= avail
		}
	}
	return capAt
}

// AddBusinessHours is AddBusinessMinutes with hours rounded to the nearest
// minute; NaN or negative hours count as 0.
func (c *Calendar) AddBusinessHours(start time.Time, hours float64) time.Time {
	m := math.Round(hours * 60)
	switch {
	case math.IsNaN(m) || m < 0:
		m = 0
	case m > float64(MaxHorizonDays)*minutesPerDay:
		m = float64(MaxHorizonDays) * minutesPerDay
	}
	return c.AddBusinessMinutes(start, int64(m))
}

// NextOpening returns t itself when t is within working hours, otherwise the
// start of the next working span (the horizon cap when there is none).
func (c *Calendar) NextOpening(t time.Time) time.Time {
	return c.AddBusinessMinutes(t, 0)
}
