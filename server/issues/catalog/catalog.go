// Package catalog owns the issue categories and the working calendar
// (holidays, make-up days, working hours per unit): the data the issue
// lifecycle routes and counts SLA time with. It serves IssueAdminService.
package catalog

import (
	"context"
	"errors"
	"time"

	"hqconnect/gen/hqconnect/issue/v1/issuev1connect"
	"hqconnect/internal/calendar"
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

// Catalog reads categories and calendars (calendars cached briefly) and
// implements IssueAdminService.
type Catalog struct {
	issuev1connect.UnimplementedIssueAdminServiceHandler
	db  *store.DB
	now func() time.Time
}

// New returns the catalog.
func New(db *store.DB, now func() time.Time) *Catalog { return &Catalog{db: db, now: store.Clock(now)} }

// ErrNoCategory is returned for an unknown category id.
var ErrNoCategory = errors.New("catalog: no such category")

// Category reads one category through q (a transaction or the database).
func (c *Catalog) Category(ctx context.Context, q store.Queryer, id string) (*Category, error) {
	return nil, errors.New("catalog: not implemented yet")
}

// Categories lists categories in display order, only active ones when
// activeOnly.
func (c *Catalog) Categories(ctx context.Context, activeOnly bool) ([]Category, error) {
	return nil, errors.New("catalog: not implemented yet")
}

// RouteUnit is the unit a new issue of cat goes to: cat.UnitID, or the
// department (the root unit) when it has none.
func (c *Catalog) RouteUnit(ctx context.Context, q store.Queryer, cat *Category) (string, error) {
	return "", errors.New("catalog: not implemented yet")
}

// Calendar is the working calendar of a unit: the calendar days in the
// database and the unit's working hours (its own, its nearest ancestor's or
// the default).
func (c *Catalog) Calendar(ctx context.Context, unitID string) (*calendar.Calendar, error) {
	return calendar.Default(), nil
}
