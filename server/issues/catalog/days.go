package catalog

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"hqconnect/internal/audit"
	"hqconnect/internal/auth"
	"hqconnect/internal/calendar"
	"hqconnect/internal/store"
)

// Calendar days and working hours as stored.

// Stored day kinds.
const (
	kindDayOff  = "DAY_OFF"
	kindMakeUp  = "MAKEUP_WORKDAY"
	dateLayout  = "2006-01-02"
	clockLayout = "15:04"
)

type dayRow struct {
	Date           calendar.Date
	Kind           string
	NameVI, NameEN string
}

func (d dayRow) holiday() calendar.Holiday {
	k := calendar.DayOff
	if d.Kind == kindMakeUp {
		k = calendar.MakeUpWorkday
	}
	name := d.NameVI
	if d.NameEN != "" && d.NameEN != d.NameVI {
		name += " (" + d.NameEN + ")"
	}
	return calendar.Holiday{Date: d.Date, Name: name, Kind: k}
}

// ParseDate reads "YYYY-MM-DD" strictly.
func ParseDate(s string) (calendar.Date, bool) {
	if len(s) != len(dateLayout) {
		return calendar.Date{}, false
	}
	t, err := time.Parse(dateLayout, s)
	if err != nil {
		return calendar.Date{}, false
	}
	return calendar.DateOf(t), true
}

// listDays reads the calendar days in [from, to] ("" for no bound), by date.
func listDays(ctx context.Context, q store.Queryer, from, to string) ([]dayRow, error) {
	rows, err := q.QueryContext(ctx, `SELECT day, kind, name_vi, name_en FROM calendar_days
		WHERE ($1 = '' OR day >= $1) AND ($2 = '' OR day <= $2) ORDER BY day`, from, to)
	if err != nil {
		return nil, fmt.Errorf("list calendar days: %w", err)
	}
	defer rows.Close()
	var out []dayRow
	for rows.Next() {
		var raw string
		var d dayRow
		if err := rows.Scan(&raw, &d.Kind, &d.NameVI, &d.NameEN); err != nil {
			return nil, fmt.Errorf("scan calendar day: %w", err)
		}
		date, ok := ParseDate(raw)
		if !ok {
			return nil, fmt.Errorf("calendar day %q is not a YYYY-MM-DD date", raw)
		}
		d.Date = date
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list calendar days: %w", err)
	}
	return out, nil
}

// splitName turns the built-in "Tết Nguyên đán (Lunar New Year)" into its
// Vietnamese and English halves.
func splitName(name string) (vi, en string) {
	if i := strings.LastIndex(name, " ("); i > 0 && strings.HasSuffix(name, ")") {
		return name[:i], name[i+2 : len(name)-1]
	}
	return name, name
}

// SeedCalendar writes calendar.VietnamHolidays into calendar_days for each
// year that has no day there yet: an empty table gets everything, a year of
// data added to the code later is added, and a year an ADMIN has started
// editing is left alone. It is idempotent and safe to run from several
// instances at once (INSERT … ON CONFLICT DO NOTHING).
func SeedCalendar(ctx context.Context, db *store.DB) error {
	ctx = auth.WithPrincipal(ctx, nil) // the system seeds
	return db.Tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT DISTINCT substr(day, 1, 4) FROM calendar_days`)
		if err != nil {
			return fmt.Errorf("list calendar years: %w", err)
		}
		have := map[string]bool{}
		for rows.Next() {
			var y string
			if err := rows.Scan(&y); err != nil {
				rows.Close()
				return fmt.Errorf("scan calendar year: %w", err)
			}
			have[y] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("list calendar years: %w", err)
		}
		var added []string
		for _, h := range calendar.VietnamHolidays() {
			if have[strconv.Itoa(h.Date.Year)] {
				continue
			}
			kind := kindDayOff
			if h.Kind == calendar.MakeUpWorkday {
				kind = kindMakeUp
			}
			vi, en := splitName(h.Name)
			res, err := tx.ExecContext(ctx, `INSERT INTO calendar_days (day, kind, name_vi, name_en)
				VALUES ($1, $2, $3, $4) ON CONFLICT (day) DO NOTHING`, h.Date.String(), kind, vi, en)
			if err != nil {
				return fmt.Errorf("insert calendar day: %w", err)
			}
			if n, _ := res.RowsAffected(); n > 0 {
				added = append(added, h.Date.String())
			}
		}
		if len(added) == 0 {
			return nil
		}
		return audit.Record(ctx, tx, "calendar.seed", "calendar", "vn", map[string]any{
			"days": len(added), "first": added[0], "last": added[len(added)-1]})
	})
}

// ensureSeeded runs SeedCalendar once per Catalog (again after a failure),
// before the calendar admin RPCs, so that an ADMIN's first edit of a year
// does not keep that year from being seeded.
func (c *Catalog) ensureSeeded(ctx context.Context) error {
	c.seedMu.Lock()
	defer c.seedMu.Unlock()
	if c.seeded {
		return nil
	}
	if err := SeedCalendar(ctx, c.db); err != nil {
		return err
	}
	c.seeded = true
	c.Invalidate()
	return nil
}

// ParseSpans reads stored working hours, "07:30-11:30,13:00-17:00", and
// checks them as calendar.New would.
func ParseSpans(s string) ([]calendar.Span, error) {
	var out []calendar.Span
	for part := range strings.SplitSeq(s, ",") {
		a, b, ok := strings.Cut(strings.TrimSpace(part), "-")
		if !ok {
			return nil, fmt.Errorf("span %q is not HH:MM-HH:MM", part)
		}
		start, ok1 := parseClock(a)
		end, ok2 := parseClock(b)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("span %q is not HH:MM-HH:MM", part)
		}
		out = append(out, calendar.Span{Start: start, End: end})
	}
	if err := checkSpans(out); err != nil {
		return nil, err
	}
	return out, nil
}

// FormatSpans writes spans as ParseSpans reads them.
func FormatSpans(spans []calendar.Span) string {
	parts := make([]string, len(spans))
	for i, s := range spans {
		parts[i] = FormatClock(s.Start) + "-" + FormatClock(s.End)
	}
	return strings.Join(parts, ",")
}

// FormatClock writes minutes after midnight as "HH:MM" (1440 is "24:00").
func FormatClock(m int) string { return fmt.Sprintf("%02d:%02d", m/60, m%60) }

// parseClock reads "HH:MM" between 00:00 and 24:00 as minutes after
// midnight.
func parseClock(s string) (int, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	h, err1 := strconv.Atoi(s[:2])
	m, err2 := strconv.Atoi(s[3:])
	if err1 != nil || err2 != nil || s[0] == '+' || s[3] == '+' || h < 0 || m < 0 || m > 59 || h > 24 || (h == 24 && m != 0) {
		return 0, false
	}
	return h*60 + m, true
}

// checkSpans: 1–6 spans, each within the day with start before end,
// ascending and not overlapping (touching is allowed).
func checkSpans(spans []calendar.Span) error {
	if len(spans) == 0 || len(spans) > maxSpans {
		return fmt.Errorf("%d spans, want 1 to %d", len(spans), maxSpans)
	}
	for i, s := range spans {
		if s.Start < 0 || s.End > 24*60 || s.Start >= s.End {
			return fmt.Errorf("span %d ends before it starts", i)
		}
		if i > 0 && s.Start < spans[i-1].End {
			return fmt.Errorf("span %d overlaps or precedes span %d", i, i-1)
		}
	}
	return nil
}

const maxSpans = 6
