// Package catalog owns the issue categories and the working calendar
// (holidays, make-up days, working hours per unit): the data the issue
// lifecycle routes and counts SLA time with. It serves IssueAdminService.
//
// Tables: issue_categories, calendar_days, unit_working_hours.
//
// Calendar data is seeded from calendar.VietnamHolidays by SeedCalendar:
// cmd calls it at startup, and a Catalog also calls it before its first
// calendar admin RPC. Calendar itself never writes (it may run while the
// caller holds a write transaction); until the table is seeded it uses the
// built-in data, which is exactly what seeding writes.
package catalog

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"hqconnect/gen/hqconnect/issue/v1/issuev1connect"
	"hqconnect/internal/calendar"
	"hqconnect/internal/errs"
	"hqconnect/internal/store"
)

// Category is one row of the category table.
type Category struct {
	ID, Code, NameVI, NameEN string
	// UnitID is the responsible unit; "" routes to the department.
	UnitID        string
	SLAHours      int
	NeedsApproval bool
	// SignerRole may sign on the director's behalf; SignerUnitID ("" for the
	// issue's unit or above) is where.
	SignerRole, SignerUnitID string
	AutoAssign               bool
	AutoCloseDays            int
	Active                   bool
	SortOrder                int
}

// CacheTTL is how long a unit's calendar is reused before it is read again.
// Changes made through a Catalog drop its cache at once; other instances
// see them within CacheTTL.
const CacheTTL = 30 * time.Second

// Catalog reads categories and calendars (calendars cached briefly) and
// implements IssueAdminService.
type Catalog struct {
	db  *store.DB
	now func() time.Time

	mu sync.Mutex
	// gen counts invalidations: a load that started before one does not
	// store its (possibly stale) result.
	gen      uint64
	holidays *cachedHolidays
	cals     map[string]cachedCalendar

	seedMu sync.Mutex
	seeded bool
}

type cachedHolidays struct {
	list []calendar.Holiday
	at   time.Time
}

type cachedCalendar struct {
	cal *calendar.Calendar
	at  time.Time
}

var _ issuev1connect.IssueAdminServiceHandler = (*Catalog)(nil)

// New returns the catalog.
func New(db *store.DB, now func() time.Time) *Catalog {
	return &Catalog{db: db, now: store.Clock(now), cals: map[string]cachedCalendar{}}
}

// ErrNoCategory is returned for an unknown category id.
var ErrNoCategory = errors.New("catalog: no such category")

// errNoDepartment: issues without a unit go to the department, and there is
// none.
var errNoDepartment = errs.New(errs.FailedPrecondition,
	"customs has not set up its organisation yet: there is no department to receive the issue; try again later",
	"cơ quan hải quan chưa thiết lập cơ cấu tổ chức: chưa có Cục để tiếp nhận vướng mắc; vui lòng thử lại sau")

const categoryCols = `id, code, name_vi, name_en, unit_id, sla_hours, needs_approval, signer_role,
	signer_unit_id, auto_assign, auto_close_days, active, sort_order`

type scanner interface{ Scan(dest ...any) error }

func scanCategory(r scanner) (*Category, error) {
	var c Category
	var unit, signerUnit sql.NullString
	if err := r.Scan(&c.ID, &c.Code, &c.NameVI, &c.NameEN, &unit, &c.SLAHours, &c.NeedsApproval, &c.SignerRole,
		&signerUnit, &c.AutoAssign, &c.AutoCloseDays, &c.Active, &c.SortOrder); err != nil {
		return nil, err
	}
	c.UnitID, c.SignerUnitID = unit.String, signerUnit.String
	return &c, nil
}

// Category reads one category through q (a transaction or the database).
// An unknown id gives ErrNoCategory.
func (c *Catalog) Category(ctx context.Context, q store.Queryer, id string) (*Category, error) {
	cat, err := scanCategory(q.QueryRowContext(ctx, `SELECT `+categoryCols+` FROM issue_categories WHERE id = $1`, id))
	if store.IsNoRows(err) {
		return nil, ErrNoCategory
	}
	if err != nil {
		return nil, fmt.Errorf("select category: %w", err)
	}
	return cat, nil
}

// Categories lists categories in display order, only active ones when
// activeOnly.
func (c *Catalog) Categories(ctx context.Context, activeOnly bool) ([]Category, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT `+categoryCols+` FROM issue_categories
		WHERE active OR NOT $1 ORDER BY sort_order, code`, activeOnly)
	if err != nil {
		return nil, fmt.Errorf("list categories: %w", err)
	}
	defer rows.Close()
	var out []Category
	for rows.Next() {
		cat, err := scanCategory(rows)
		if err != nil {
			return nil, fmt.Errorf("scan category: %w", err)
		}
		out = append(out, *cat)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list categories: %w", err)
	}
	return out, nil
}

// RouteUnit is the unit a new issue of cat goes to: cat.UnitID, or the
// department (the root unit) when it has none. A category whose unit has
// ceased to exist also routes to the department, so that enterprises can
// still raise issues until the ADMIN updates the category. With no
// department at all it is a FailedPrecondition *errs.Error.
func (c *Catalog) RouteUnit(ctx context.Context, q store.Queryer, cat *Category) (string, error) {
	if cat.UnitID != "" {
		ok, err := unitInForce(ctx, q, cat.UnitID, c.now())
		if err != nil {
			return "", err
		}
		if ok {
			return cat.UnitID, nil
		}
	}
	return Department(ctx, q)
}

// Department returns the root unit: the oldest unit of kind DEPARTMENT
// without a parent. With none it is a FailedPrecondition *errs.Error.
func Department(ctx context.Context, q store.Queryer) (string, error) {
	var id string
	err := q.QueryRowContext(ctx, `SELECT id FROM org_units WHERE kind = 'DEPARTMENT' AND parent_id IS NULL
		ORDER BY create_time, id LIMIT 1`).Scan(&id)
	if store.IsNoRows(err) {
		return "", errNoDepartment
	}
	if err != nil {
		return "", fmt.Errorf("select department: %w", err)
	}
	return id, nil
}

// unitInForce reports whether unit id exists and is in force at now; false
// (without error) for an unknown one.
func unitInForce(ctx context.Context, q store.Queryer, id string, now time.Time) (bool, error) {
	var from time.Time
	var to sql.NullTime
	err := q.QueryRowContext(ctx, `SELECT effective_from, effective_to FROM org_units WHERE id = $1`, id).Scan(&from, &to)
	if store.IsNoRows(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("select org unit: %w", err)
	}
	return !from.After(now) && (!to.Valid || to.Time.After(now)), nil
}

// Calendar is the working calendar of a unit: the calendar days in the
// database and the unit's working hours (its own, its nearest ancestor's or
// the default), in calendar.DefaultLocation. The result is shared (cached
// for CacheTTL): callers must not modify it. An unknown unit (or "") gets
// the default hours.
func (c *Catalog) Calendar(ctx context.Context, unitID string) (*calendar.Calendar, error) {
	return c.CalendarIn(ctx, c.db, unitID)
}

// CalendarIn is Calendar reading through q on a cache miss: inside a write
// transaction pass the transaction, so that on SQLite the read does not
// wait for a second connection from a pool the writers may have exhausted.
func (c *Catalog) CalendarIn(ctx context.Context, q store.Queryer, unitID string) (*calendar.Calendar, error) {
	c.mu.Lock()
	if e, ok := c.cals[unitID]; ok && time.Since(e.at) < CacheTTL {
		c.mu.Unlock()
		return e.cal, nil
	}
	gen := c.gen
	c.mu.Unlock()

	holidays, err := c.holidayList(ctx, q)
	if err != nil {
		return nil, err
	}
	hours, _, err := workingHours(ctx, q, unitID)
	if err != nil {
		return nil, err
	}
	cal, err := calendar.New(calendar.DefaultLocation(), hours, holidays)
	if err != nil {
		return nil, fmt.Errorf("build calendar of unit %s: %w", unitID, err)
	}
	c.mu.Lock()
	if c.gen == gen {
		c.cals[unitID] = cachedCalendar{cal: cal, at: time.Now()}
	}
	c.mu.Unlock()
	return cal, nil
}

// holidayList is the calendar data shared by every unit, cached.
func (c *Catalog) holidayList(ctx context.Context, q store.Queryer) ([]calendar.Holiday, error) {
	c.mu.Lock()
	if h := c.holidays; h != nil && time.Since(h.at) < CacheTTL {
		c.mu.Unlock()
		return h.list, nil
	}
	gen := c.gen
	c.mu.Unlock()
	list, err := loadHolidays(ctx, q)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.gen == gen {
		c.holidays = &cachedHolidays{list: list, at: time.Now()}
	}
	c.mu.Unlock()
	return list, nil
}

// Invalidate drops the cached calendars (this instance's only).
func (c *Catalog) Invalidate() {
	c.mu.Lock()
	c.gen++
	c.holidays = nil
	clear(c.cals)
	c.mu.Unlock()
}

// loadHolidays reads calendar_days; an empty table (not seeded yet) gives
// the built-in data.
func loadHolidays(ctx context.Context, q store.Queryer) ([]calendar.Holiday, error) {
	days, err := listDays(ctx, q, "", "")
	if err != nil {
		return nil, err
	}
	if len(days) == 0 {
		return calendar.VietnamHolidays(), nil
	}
	out := make([]calendar.Holiday, 0, len(days))
	for _, d := range days {
		out = append(out, d.holiday())
	}
	return out, nil
}

// workingHours returns the hours of unitID: its own, its nearest
// ancestor's (from is the unit they are set on), or the default (from "").
func workingHours(ctx context.Context, q store.Queryer, unitID string) (spans []calendar.Span, from string, err error) {
	id := unitID
	// The tree is department → branch → team; the bound only guards
	// against a cycle made by hand.
	for depth := 0; id != "" && depth < 16; depth++ {
		var parent, raw sql.NullString
		err := q.QueryRowContext(ctx, `SELECT u.parent_id, h.spans FROM org_units u
			LEFT JOIN unit_working_hours h ON h.unit_id = u.id WHERE u.id = $1`, id).Scan(&parent, &raw)
		if store.IsNoRows(err) {
			break
		}
		if err != nil {
			return nil, "", fmt.Errorf("select working hours: %w", err)
		}
		if raw.Valid {
			spans, err := ParseSpans(raw.String)
			if err != nil {
				return nil, "", fmt.Errorf("working hours of unit %s: %w", id, err)
			}
			return spans, id, nil
		}
		id = parent.String
	}
	return calendar.DefaultHours(), "", nil
}
