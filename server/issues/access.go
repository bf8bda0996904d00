package issues

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"hqconnect/internal/auth"
	"hqconnect/internal/errs"
	"hqconnect/internal/store"
	"hqconnect/server/issues/catalog"
)

// Who may see and do what to an issue. The policy table has already let the
// caller's kind through; these are the object checks.

// errIssueNotFound answers for an issue the caller may not see as for one
// that does not exist, so its existence does not leak.
var errIssueNotFound = &errs.Error{Code: errs.NotFound, Field: "issue_id",
	EN: "no issue with this id is visible to you",
	VI: "không có vướng mắc nào với mã này mà bạn được xem"}

// unitNode is one org unit.
type unitNode struct {
	ID, ParentID, Kind, NameVI, NameEN string
	EffectiveFrom                      time.Time
	EffectiveTo                        sql.NullTime
}

// unitTree is the organisation, read once per request: a few hundred rows
// at most, and reading it whole keeps ancestor and descendant questions in Go.
type unitTree struct {
	byID     map[string]*unitNode
	children map[string][]string
}

func loadUnits(ctx context.Context, q store.Queryer) (*unitTree, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, COALESCE(parent_id, ''), kind, name_vi, name_en, effective_from, effective_to
		FROM org_units ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("read org units: %w", err)
	}
	defer rows.Close()
	t := &unitTree{byID: map[string]*unitNode{}, children: map[string][]string{}}
	for rows.Next() {
		var u unitNode
		if err := rows.Scan(&u.ID, &u.ParentID, &u.Kind, &u.NameVI, &u.NameEN, &u.EffectiveFrom, &u.EffectiveTo); err != nil {
			return nil, fmt.Errorf("read org unit: %w", err)
		}
		t.byID[u.ID] = &u
		if u.ParentID != "" {
			t.children[u.ParentID] = append(t.children[u.ParentID], u.ID)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read org units: %w", err)
	}
	return t, nil
}

// within reports whether unit is top or below it.
func (t *unitTree) within(unit, top string) bool {
	for seen := 0; unit != "" && seen <= len(t.byID); seen++ {
		if unit == top {
			return true
		}
		n := t.byID[unit]
		if n == nil {
			return false
		}
		unit = n.ParentID
	}
	return false
}

// subtree is top and every unit below it, top first.
func (t *unitTree) subtree(top string) []string {
	if t.byID[top] == nil {
		return nil
	}
	out := []string{top}
	for i := 0; i < len(out); i++ {
		out = append(out, t.children[out[i]]...)
	}
	return out
}

// ancestors is unit and the units above it, unit first.
func (t *unitTree) ancestors(unit string) []string {
	var out []string
	for unit != "" && len(out) <= len(t.byID) {
		n := t.byID[unit]
		if n == nil {
			break
		}
		out = append(out, unit)
		unit = n.ParentID
	}
	return out
}

// headUnits is unit and the units above it up to its branch (the unit alone
// when it is a branch or the department): whose UNIT_HEADs hear of an
// overdue issue.
func (t *unitTree) headUnits(unit string) ([]string, error) {
	out := []string{unit}
	for id := unit; len(out) < 16; {
		n := t.byID[id]
		if n == nil {
			return nil, fmt.Errorf("read org unit %s: no such unit", id)
		}
		if n.Kind == "BRANCH" || n.Kind == "DEPARTMENT" || n.ParentID == "" {
			return out, nil
		}
		p := t.byID[n.ParentID]
		if p == nil {
			return nil, fmt.Errorf("read org unit %s: no such unit", n.ParentID)
		}
		if p.Kind == "DEPARTMENT" {
			return out, nil
		}
		out = append(out, n.ParentID)
		id = n.ParentID
	}
	return out, nil
}

// department is the department (the root) above unit.
func (t *unitTree) department(unit string) (string, error) {
	up := t.ancestors(unit)
	if len(up) == 0 {
		return "", fmt.Errorf("read org unit %s: no such unit", unit)
	}
	return up[len(up)-1], nil
}

// parentBranch is the parent of a TEAM unit ("" for other units).
func (t *unitTree) parentBranch(unit string) string {
	n := t.byID[unit]
	if n == nil || n.Kind != "TEAM" {
		return ""
	}
	return n.ParentID
}

// names are a unit's Vietnamese and English names (its id when unknown).
func (t *unitTree) names(unit string) (vi, en string) {
	if n := t.byID[unit]; n != nil {
		return n.NameVI, n.NameEN
	}
	return unit, unit
}

// inForce reports whether the unit exists and is in force at now.
func (t *unitTree) inForce(unit string, now time.Time) bool {
	n := t.byID[unit]
	return n != nil && !n.EffectiveFrom.After(now) && (!n.EffectiveTo.Valid || n.EffectiveTo.Time.After(now))
}

// viewer is the caller with what they may see.
type viewer struct {
	*auth.Principal
	units *unitTree // officers only
}

func (v *viewer) enterprise() bool { return v.Kind == auth.KindEnterpriseUser }
func (v *viewer) officer() bool    { return v.Kind == auth.KindOfficer }

// seesAll: the director and the administrators see every issue.
func (v *viewer) seesAll() bool {
	return v.officer() && v.HasAnyRole(auth.RoleDirector, auth.RoleAdmin)
}

// unitAccess reports whether the officer's unit is the issue's unit or above
// it (or they see everything).
func (v *viewer) unitAccess(r *issueRow) bool {
	return v.officer() && (v.seesAll() || v.UnitID != "" && v.units.within(r.UnitID, v.UnitID))
}

// head reports whether the caller is a UNIT_HEAD with unit access.
func (v *viewer) head(r *issueRow) bool {
	return v.officer() && v.HasRole(auth.RoleUnitHead) && v.UnitID != "" && v.units.within(r.UnitID, v.UnitID)
}

// signerFor reports whether the caller may sign an answer of category cat on
// an issue: a DIRECTOR, or a holder of the category's signer role in its
// signing unit (by default the issue's unit or one above it).
func (v *viewer) signerFor(r *issueRow, cat *catalog.Category) bool {
	if !v.officer() {
		return false
	}
	if v.HasRole(auth.RoleDirector) {
		return true
	}
	role := cat.SignerRole
	if role == "" || role == auth.RoleDirector || !v.HasRole(role) || v.UnitID == "" {
		return false
	}
	if cat.SignerUnitID != "" {
		return v.UnitID == cat.SignerUnitID
	}
	return v.units.within(r.UnitID, v.UnitID)
}

// caller loads the viewer of ctx.
func (s *Service) caller(ctx context.Context) (*viewer, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	v := &viewer{Principal: p}
	switch p.Kind {
	case auth.KindEnterpriseUser:
		if p.EnterpriseID == "" {
			return nil, errs.ErrPermissionDenied
		}
	case auth.KindOfficer:
		if v.units, err = loadUnits(ctx, s.db); err != nil {
			return nil, err
		}
	default:
		return nil, errs.ErrPermissionDenied
	}
	return v, nil
}

// canSee reports whether v may read the issue. A pending answer's signers
// see it wherever they sit; cat is needed only for that and may be nil.
func (v *viewer) canSee(r *issueRow, cat *catalog.Category) bool {
	switch {
	case v.enterprise():
		return r.EnterpriseID == v.EnterpriseID
	case !v.officer():
		return false
	case v.unitAccess(r), r.AssigneeID == v.UserID:
		return true
	case r.Status == StatusPendingApproval && cat != nil:
		return v.signerFor(r, cat)
	}
	return false
}

// visibleIssue reads an issue the caller may see, through q, with its
// category; errIssueNotFound otherwise.
func (s *Service) visibleIssue(ctx context.Context, q store.Queryer, v *viewer, rawID string) (*issueRow, *catalog.Category, error) {
	id, err := idField("issue_id", rawID)
	if err != nil {
		return nil, nil, err
	}
	r, err := getIssue(ctx, q, id)
	if store.IsNoRows(err) {
		return nil, nil, errIssueNotFound
	}
	if err != nil {
		return nil, nil, err
	}
	// Enterprise users are decided without the category.
	if v.enterprise() {
		if !v.canSee(r, nil) {
			return nil, nil, errIssueNotFound
		}
	}
	cat, err := s.cat.Category(ctx, q, r.CategoryID)
	if err != nil {
		return nil, nil, fmt.Errorf("read the issue's category: %w", err)
	}
	if !v.canSee(r, cat) {
		return nil, nil, errIssueNotFound
	}
	return r, cat, nil
}

// errMay is a PermissionDenied for someone who sees the issue but may not
// do this to it.
func errMay(en, vi string) *errs.Error { return errs.New(errs.PermissionDenied, en, vi) }

// officerIn reports whether o is an ACTIVE officer of unit.
func officerIn(o *officerRow, unit string) bool {
	return o != nil && o.Status == "ACTIVE" && o.UnitID == unit
}
