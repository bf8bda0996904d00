// Package prefs keeps each user's push preferences: which categories push
// (the inbox always fills) and a quiet-hours window during which pushes are
// held until it ends. Critical categories (security, clearance) always pass.
//
// The rules (HeldUntil, PushAllowed, ParseHHMM) are pure functions; the Store
// reads and writes the notification_prefs and quiet_hours tables.
package prefs

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"hqconnect/internal/errs"
	"hqconnect/internal/outbox"
)

// DefaultTimeZone is the zone quiet hours are read in when none (or an
// unknown one) is set.
const DefaultTimeZone = "Asia/Ho_Chi_Minh"

// MinutesPerDay bounds StartMinute and EndMinute: [0, MinutesPerDay).
const MinutesPerDay = 24 * 60

// Categories lists every notification category a preference may name.
var Categories = []string{
	outbox.CategorySecurity, outbox.CategoryAccount, outbox.CategoryIssue, outbox.CategoryClearance,
	outbox.CategoryMeeting, outbox.CategoryWorkshop, outbox.CategoryNotice, outbox.CategoryConduct,
}

// Prefs are one user's push preferences. The zero value pushes everything,
// at any time.
type Prefs struct {
	// Disabled: category → true when its pushes are off.
	Disabled map[string]bool
	Quiet    QuietHours
}

// QuietHours holds non-critical pushes back between StartMinute and
// EndMinute (minutes after local midnight) in TimeZone. The window may cross
// midnight (22:00 → 06:30); StartMinute == EndMinute means no window.
type QuietHours struct {
	Enabled     bool
	StartMinute int
	EndMinute   int
	// TimeZone is an IANA name; empty or unknown means DefaultTimeZone.
	TimeZone string
}

// IsCritical reports whether a notification always pushes: security and
// clearance changes do whatever the event says, others when flagged.
func IsCritical(category string, critical bool) bool {
	return critical || category == outbox.CategorySecurity || category == outbox.CategoryClearance
}

// PushAllowed reports whether a push of category may go out at all (quiet
// hours aside): critical ones always, others unless the category is off.
func (p Prefs) PushAllowed(category string, critical bool) bool {
	if IsCritical(category, critical) {
		return true
	}
	return !p.Disabled[category]
}

// HeldUntil reports whether now falls in the quiet window and, if so, when
// the window ends (in the window's zone). The start minute is inside the
// window, the end minute is not.
func (q QuietHours) HeldUntil(now time.Time) (held bool, until time.Time) {
	if !q.Enabled || q.StartMinute == q.EndMinute ||
		!validMinute(q.StartMinute) || !validMinute(q.EndMinute) {
		return false, time.Time{}
	}
	local := now.In(Location(q.TimeZone))
	m := local.Hour()*60 + local.Minute()
	y, mo, d := local.Date()
	endOn := func(day int) time.Time {
		return time.Date(y, mo, day, q.EndMinute/60, q.EndMinute%60, 0, 0, local.Location())
	}
	if q.StartMinute < q.EndMinute { // same day: 12:00 → 13:30
		if m >= q.StartMinute && m < q.EndMinute {
			return true, endOn(d)
		}
		return false, time.Time{}
	}
	// Across midnight: 22:00 → 06:30.
	switch {
	case m >= q.StartMinute:
		return true, endOn(d + 1)
	case m < q.EndMinute:
		return true, endOn(d)
	}
	return false, time.Time{}
}

func validMinute(m int) bool { return m >= 0 && m < MinutesPerDay }

var (
	zonesMu sync.RWMutex
	zones   = map[string]*time.Location{}
)

// Location loads the zone name, falling back to DefaultTimeZone (and to
// UTC+7 should the system have no zone database) when it is empty or
// unknown. Zones are cached: the deliverer asks for one per recipient.
func Location(name string) *time.Location {
	if name == "" {
		name = DefaultTimeZone
	}
	zonesMu.RLock()
	loc := zones[name]
	zonesMu.RUnlock()
	if loc != nil {
		return loc
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		if name != DefaultTimeZone {
			return Location(DefaultTimeZone)
		}
		loc = time.FixedZone("ICT", 7*3600)
	}
	zonesMu.Lock()
	if len(zones) < 1024 { // names come from validated input; this is only a guard
		zones[name] = loc
	}
	zonesMu.Unlock()
	return loc
}

// ParseHHMM reads "HH:MM" on a 24-hour clock (00:00 to 23:59) as minutes
// after midnight.
func ParseHHMM(s string) (int, error) {
	bad := errs.InvalidField("quiet_hours",
		fmt.Sprintf("%q is not a time of day: use HH:MM on a 24-hour clock, from 00:00 to 23:59", s),
		fmt.Sprintf("%q không phải là giờ hợp lệ: dùng định dạng HH:MM (24 giờ), từ 00:00 đến 23:59", s))
	hh, mm, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok || len(hh) < 1 || len(hh) > 2 || len(mm) != 2 || !allDigits(hh) || !allDigits(mm) {
		return 0, bad
	}
	h, _ := strconv.Atoi(hh)
	m, _ := strconv.Atoi(mm)
	if h > 23 || m > 59 {
		return 0, bad
	}
	return h*60 + m, nil
}

func allDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// FormatHHMM writes minutes after midnight as "HH:MM".
func FormatHHMM(minute int) string {
	return fmt.Sprintf("%02d:%02d", minute/60, minute%60)
}

// ValidateTimeZone checks an IANA zone name; empty is allowed (the default).
func ValidateTimeZone(name string) error {
	if name == "" {
		return nil
	}
	if _, err := time.LoadLocation(name); err != nil || strings.EqualFold(name, "local") {
		return errs.InvalidField("quiet_hours.time_zone",
			fmt.Sprintf("%q is not a known IANA time zone, such as %q", name, DefaultTimeZone),
			fmt.Sprintf("%q không phải là múi giờ IANA hợp lệ, ví dụ %q", name, DefaultTimeZone))
	}
	return nil
}

// Validate checks p as the RPC layer receives it: known categories, minutes
// within a day, a known zone.
func (p Prefs) Validate() error {
	for c := range p.Disabled {
		if !knownCategory(c) {
			return errs.InvalidField("categories",
				fmt.Sprintf("unknown category %q: use one of %s", c, strings.Join(Categories, ", ")),
				fmt.Sprintf("loại thông báo %q không tồn tại: dùng một trong %s", c, strings.Join(Categories, ", ")))
		}
	}
	q := p.Quiet
	if !validMinute(q.StartMinute) || !validMinute(q.EndMinute) {
		return errs.InvalidField("quiet_hours",
			"start and end must be times of day from 00:00 to 23:59",
			"giờ bắt đầu và kết thúc phải nằm trong khoảng 00:00 đến 23:59")
	}
	return ValidateTimeZone(q.TimeZone)
}

func knownCategory(c string) bool {
	for _, k := range Categories {
		if k == c {
			return true
		}
	}
	return false
}
