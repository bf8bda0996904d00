package identity

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	identityv1 "hqconnect/gen/hqconnect/identity/v1"
	"hqconnect/internal/audit"
	"hqconnect/internal/auth"
	"hqconnect/internal/errs"
	"hqconnect/internal/ids"
	"hqconnect/internal/store"
)

// OrgService: the customs organisation's units and officer accounts.

var errOfficerNotFound = &errs.Error{Code: errs.NotFound, Field: "user_id",
	EN: "no officer has this id",
	VI: "không có cán bộ nào với mã này"}

func errNoSuchUnit(field string) *errs.Error {
	return errs.InvalidField(field, "no org unit has this id", "không có đơn vị nào với mã này")
}

func unitNotInForce(field, code string) *errs.Error {
	return &errs.Error{Code: errs.FailedPrecondition, Field: field,
		EN: "org unit " + code + " is not in force (outside its effective dates)",
		VI: "đơn vị " + code + " không trong thời gian hiệu lực (chưa bắt đầu hoặc đã kết thúc)"}
}

// unitInForce loads a unit an officer is to belong to.
func unitInForce(ctx context.Context, q store.Queryer, field, id string, now time.Time) (*unitRow, error) {
	u, err := unitByID(ctx, q, id)
	if err != nil {
		if store.IsNoRows(err) {
			return nil, errNoSuchUnit(field)
		}
		return nil, err
	}
	if !u.inForce(now) {
		return nil, unitNotInForce(field, u.Code)
	}
	return u, nil
}

// day is the UTC midnight starting t's UTC day.
func day(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

func dayField(field string, t *timestamppb.Timestamp) (time.Time, error) {
	if err := t.CheckValid(); err != nil {
		return time.Time{}, errs.InvalidField(field, "is not a valid time", "không phải là thời điểm hợp lệ")
	}
	return day(t.AsTime()), nil
}

// unitCode checks a customs office code: 2 to 10 upper-case letters and
// digits. Lower case is accepted and upper-cased.
func unitCode(s string) (string, error) {
	c := strings.ToUpper(strings.TrimSpace(s))
	if len(c) < 2 || len(c) > 10 || strings.Trim(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != "" {
		return "", errs.InvalidField("code",
			"a customs office code is 2 to 10 upper-case letters and digits, e.g. 03CC",
			"mã đơn vị hải quan gồm 2 đến 10 chữ cái in hoa và chữ số, ví dụ 03CC")
	}
	return c, nil
}

// parentKind is the kind a unit's parent must have ("" for none).
var parentKind = map[string]string{unitDepartment: "", unitBranch: unitDepartment, unitTeam: unitBranch}

func (s *Service) CreateOrgUnit(ctx context.Context, req *connect.Request[identityv1.CreateOrgUnitRequest]) (*connect.Response[identityv1.CreateOrgUnitResponse], error) {
	m := req.Msg
	var kind string
	switch m.Kind {
	case identityv1.OrgUnitKind_ORG_UNIT_KIND_DEPARTMENT:
		kind = unitDepartment
	case identityv1.OrgUnitKind_ORG_UNIT_KIND_BRANCH:
		kind = unitBranch
	case identityv1.OrgUnitKind_ORG_UNIT_KIND_TEAM:
		kind = unitTeam
	default:
		return nil, errs.InvalidField("kind",
			"must be ORG_UNIT_KIND_DEPARTMENT, ORG_UNIT_KIND_BRANCH or ORG_UNIT_KIND_TEAM",
			"phải là ORG_UNIT_KIND_DEPARTMENT, ORG_UNIT_KIND_BRANCH hoặc ORG_UNIT_KIND_TEAM")
	}
	code, err := unitCode(m.Code)
	if err != nil {
		return nil, err
	}
	nameVi, err := line("name_vi", m.NameVi, 2, 200)
	if err != nil {
		return nil, err
	}
	nameEn, err := line("name_en", m.NameEn, 2, 200)
	if err != nil {
		return nil, err
	}
	now := s.now()
	from := day(now)
	if m.EffectiveFrom != nil {
		if from, err = dayField("effective_from", m.EffectiveFrom); err != nil {
			return nil, err
		}
	}
	var to *time.Time
	if m.EffectiveTo != nil {
		t, err := dayField("effective_to", m.EffectiveTo)
		if err != nil {
			return nil, err
		}
		if !t.After(from) {
			return nil, errs.InvalidField("effective_to",
				"must be a later day than effective_from",
				"phải là ngày sau effective_from")
		}
		to = &t
	}
	parentID := strings.TrimSpace(m.ParentId)
	want := parentKind[kind]
	switch {
	case want == "" && parentID != "":
		return nil, errs.InvalidField("parent_id",
			"a department is the root of the tree: leave parent_id empty",
			"cục là gốc của cây tổ chức: hãy để trống parent_id")
	case want != "":
		if parentID, err = idField("parent_id", parentID); err != nil {
			return nil, err
		}
	}
	u := &unitRow{
		ID: ids.New(), ParentID: parentID, Kind: kind, Code: code, NameVi: nameVi, NameEn: nameEn,
		EffectiveFrom: from, EffectiveTo: to, CreateTime: now,
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if parentID != "" {
			parent, err := unitByID(ctx, tx, parentID)
			if err != nil {
				if store.IsNoRows(err) {
					return errNoSuchUnit("parent_id")
				}
				return err
			}
			if parent.Kind != want {
				return errs.InvalidField("parent_id",
					parentRuleEN[kind]+"; "+parent.Code+" is a "+strings.ToLower(parent.Kind),
					parentRuleVI[kind]+"; "+parent.Code+" là "+kindVI[parent.Kind])
			}
			if parent.ended(now) {
				return unitNotInForce("parent_id", parent.Code)
			}
		}
		if _, err := unitByCode(ctx, tx, code); err == nil {
			return unitCodeTaken(code)
		} else if !store.IsNoRows(err) {
			return err
		}
		if err := insertUnit(ctx, tx, u); err != nil {
			return err
		}
		return audit.Record(ctx, tx, "org_unit.create", "org_unit", u.ID,
			map[string]any{"code": code, "kind": kind, "parent_id": parentID})
	})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&identityv1.CreateOrgUnitResponse{Unit: unitProto(u)}), nil
}

var (
	parentRuleEN = map[string]string{
		unitBranch: "a branch must sit under a department",
		unitTeam:   "a team must sit under a branch",
	}
	parentRuleVI = map[string]string{
		unitBranch: "chi cục phải trực thuộc một cục",
		unitTeam:   "đội phải trực thuộc một chi cục",
	}
	kindVI = map[string]string{unitDepartment: "cục", unitBranch: "chi cục", unitTeam: "đội"}
)

func (s *Service) ListOrgUnits(ctx context.Context, req *connect.Request[identityv1.ListOrgUnitsRequest]) (*connect.Response[identityv1.ListOrgUnitsResponse], error) {
	units, err := allUnits(ctx, s.db)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if !req.Msg.IncludeEnded {
		units = slices.DeleteFunc(units, func(u *unitRow) bool { return u.ended(now) })
	}
	out := make([]*identityv1.OrgUnit, 0, len(units))
	for _, u := range treeOrder(units) {
		out = append(out, unitProto(u))
	}
	return connect.NewResponse(&identityv1.ListOrgUnitsResponse{Units: out}), nil
}

// treeOrder lists units depth first, siblings by code: every parent comes
// before its children, and a branch's teams follow the branch. A unit whose
// parent is not in the list (ended, say) is treated as a root.
func treeOrder(units []*unitRow) []*unitRow {
	present := make(map[string]bool, len(units))
	for _, u := range units {
		present[u.ID] = true
	}
	children := make(map[string][]*unitRow)
	for _, u := range units {
		parent := u.ParentID
		if !present[parent] {
			parent = ""
		}
		children[parent] = append(children[parent], u)
	}
	for _, cs := range children {
		slices.SortFunc(cs, func(a, b *unitRow) int { return strings.Compare(a.Code, b.Code) })
	}
	out := make([]*unitRow, 0, len(units))
	var walk func(id string)
	walk = func(id string) {
		for _, c := range children[id] {
			out = append(out, c)
			walk(c.ID)
		}
	}
	walk("")
	return out
}

func (s *Service) CreateOfficer(ctx context.Context, req *connect.Request[identityv1.CreateOfficerRequest]) (*connect.Response[identityv1.CreateOfficerResponse], error) {
	m := req.Msg
	email, phone, err := contact("email", m.Email, "phone", m.Phone)
	if err != nil {
		return nil, err
	}
	name, err := fullName("full_name", m.FullName)
	if err != nil {
		return nil, err
	}
	unitID, err := idField("unit_id", m.UnitId)
	if err != nil {
		return nil, err
	}
	roles, err := officerRoleSet("roles", m.Roles)
	if err != nil {
		return nil, err
	}
	if err := auth.ValidatePassword("password", m.Password); err != nil {
		return nil, err
	}
	now := s.now()
	check := func(q store.Queryer) error {
		if _, err := unitInForce(ctx, q, "unit_id", unitID, now); err != nil {
			return err
		}
		return contactTaken(ctx, q, "email", email, "phone", phone)
	}
	if err := check(s.db); err != nil {
		return nil, err
	}
	hash, err := auth.HashPassword(m.Password)
	if err != nil {
		return nil, err
	}
	u := &userRow{
		ID: ids.New(), Kind: string(auth.KindOfficer), Email: email, Phone: phone, FullName: name,
		PasswordHash: hash, Status: statusActive, UnitID: unitID, CreateTime: now, UpdateTime: now, Roles: roles,
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := check(tx); err != nil {
			return err
		}
		if err := insertUser(ctx, tx, u); err != nil {
			return err
		}
		return audit.Record(ctx, tx, "officer.create", "user", u.ID, map[string]any{"unit_id": unitID, "roles": roles})
	})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&identityv1.CreateOfficerResponse{User: userProto(u)}), nil
}

func (s *Service) ListOfficers(ctx context.Context, req *connect.Request[identityv1.ListOfficersRequest]) (*connect.Response[identityv1.ListOfficersResponse], error) {
	m := req.Msg
	f := userFilter{Kind: string(auth.KindOfficer)}
	if strings.TrimSpace(m.UnitId) != "" {
		id, err := idField("unit_id", m.UnitId)
		if err != nil {
			return nil, err
		}
		f.UnitID = id
	}
	if m.Role != identityv1.Role_ROLE_UNSPECIFIED {
		rs, err := officerRoleSet("role", []identityv1.Role{m.Role})
		if err != nil {
			return nil, err
		}
		f.Role = rs[0]
	}
	pg, err := paging(m.PageSize, m.PageToken)
	if err != nil {
		return nil, err
	}
	users, err := listUsers(ctx, s.db, f, pg)
	if err != nil {
		return nil, err
	}
	next := pg.next(len(users), func(i int) string { return users[i].ID })
	users = users[:min(len(users), pg.size)]
	return connect.NewResponse(&identityv1.ListOfficersResponse{Users: usersProto(users), NextPageToken: next}), nil
}

// UpdateOfficer applies the changes that differ from the stored account and,
// when there was any, ends all of the officer's sessions so that no access
// token with the old roles or unit stays usable. That includes the caller's
// own sessions when they update themselves.
func (s *Service) UpdateOfficer(ctx context.Context, req *connect.Request[identityv1.UpdateOfficerRequest]) (*connect.Response[identityv1.UpdateOfficerResponse], error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	id, err := idField("user_id", m.UserId)
	if err != nil {
		return nil, err
	}
	var unitID, status string
	var roles []string
	if strings.TrimSpace(m.UnitId) != "" {
		if unitID, err = idField("unit_id", m.UnitId); err != nil {
			return nil, err
		}
	}
	if m.Roles != nil {
		if roles, err = officerRoleSet("roles", m.Roles.Roles); err != nil {
			return nil, err
		}
	}
	switch m.Status {
	case identityv1.UserStatus_USER_STATUS_UNSPECIFIED:
	case identityv1.UserStatus_USER_STATUS_ACTIVE:
		status = statusActive
	case identityv1.UserStatus_USER_STATUS_DISABLED:
		status = statusDisabled
	default:
		return nil, errs.InvalidField("status",
			"must be USER_STATUS_ACTIVE or USER_STATUS_DISABLED",
			"phải là USER_STATUS_ACTIVE hoặc USER_STATUS_DISABLED")
	}
	if unitID == "" && m.Roles == nil && status == "" {
		return nil, errs.New(errs.Invalid,
			"nothing to change: set unit_id, roles or status",
			"không có gì để thay đổi: hãy đặt unit_id, roles hoặc status")
	}
	if id == p.UserID {
		if m.Roles != nil && !slices.Contains(roles, auth.RoleAdmin) {
			return nil, &errs.Error{Code: errs.FailedPrecondition, Field: "roles",
				EN: "you cannot remove your own ADMIN role: ask another administrator",
				VI: "bạn không thể tự bỏ vai trò ADMIN của mình: hãy nhờ một quản trị viên khác"}
		}
		if status == statusDisabled {
			return nil, &errs.Error{Code: errs.FailedPrecondition, Field: "status",
				EN: "you cannot disable your own account: ask another administrator",
				VI: "bạn không thể tự vô hiệu hóa tài khoản của mình: hãy nhờ một quản trị viên khác"}
		}
	}
	// The sessions the RevokeAll below ends if anything changes.
	ended, _, err := s.sessionsOf(ctx, id, "")
	if err != nil {
		return nil, err
	}
	var u *userRow
	changes := map[string]any{}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		u, err = userByID(ctx, tx, id)
		if store.IsNoRows(err) || err == nil && u.Kind != string(auth.KindOfficer) {
			return errOfficerNotFound
		}
		if err != nil {
			return err
		}
		now := s.now()
		if unitID != "" && unitID != u.UnitID {
			if _, err := unitInForce(ctx, tx, "unit_id", unitID, now); err != nil {
				return err
			}
			if err := setUserUnit(ctx, tx, u.ID, unitID, now); err != nil {
				return err
			}
			changes["unit_id"] = unitID
			u.UnitID = unitID
		}
		if m.Roles != nil && !slices.Equal(roles, u.Roles) {
			if err := replaceRoles(ctx, tx, u.ID, roles, now); err != nil {
				return err
			}
			changes["roles"] = roles
			u.Roles = roles
		}
		if status != "" && status != u.Status {
			if err := setUserStatus(ctx, tx, u.ID, status, now); err != nil {
				return err
			}
			changes["status"] = status
			u.Status = status
		}
		if len(changes) == 0 {
			return nil
		}
		u.UpdateTime = now
		if err := addSessionsEnded(ctx, tx, u.ID, ended, now); err != nil {
			return err
		}
		return audit.Record(ctx, tx, "officer.update", "user", u.ID, changes)
	})
	if err != nil {
		return nil, err
	}
	if len(changes) > 0 {
		if _, err := s.sessions.RevokeAll(ctx, u.ID, ""); err != nil {
			return nil, err
		}
	}
	return connect.NewResponse(&identityv1.UpdateOfficerResponse{User: userProto(u)}), nil
}
