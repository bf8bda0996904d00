package identity

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	identityv1 "hqconnect/gen/hqconnect/identity/v1"
	"hqconnect/internal/auth"
	"hqconnect/internal/errs"
	"hqconnect/internal/store"
)

// Conversions between rows, proto messages and principals.

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func tsPtr(t *time.Time) *timestamppb.Timestamp {
	if t == nil {
		return nil
	}
	return timestamppb.New(*t)
}

// roleName is the stored name of a proto role ("ROLE_STAFF" → "STAFF"), or
// "" for an unknown value.
func roleName(r identityv1.Role) string {
	n, ok := identityv1.Role_name[int32(r)]
	if !ok || r == identityv1.Role_ROLE_UNSPECIFIED {
		return ""
	}
	return strings.TrimPrefix(n, "ROLE_")
}

func roleEnum(name string) identityv1.Role {
	return identityv1.Role(identityv1.Role_value["ROLE_"+name])
}

var officerRoles = []string{auth.RoleOfficer, auth.RoleUnitHead, auth.RoleDirector, auth.RoleInspector, auth.RoleAdmin}

// officerRoleSet validates the roles of an officer: one or more of
// OFFICER, UNIT_HEAD, DIRECTOR, INSPECTOR, ADMIN; duplicates are dropped.
func officerRoleSet(field string, rs []identityv1.Role) ([]string, error) {
	if len(rs) == 0 {
		return nil, errs.InvalidField(field,
			"at least one role is required: OFFICER, UNIT_HEAD, DIRECTOR, INSPECTOR or ADMIN",
			"cần ít nhất một vai trò: OFFICER, UNIT_HEAD, DIRECTOR, INSPECTOR hoặc ADMIN")
	}
	var out []string
	for _, r := range rs {
		n := roleName(r)
		if !slices.Contains(officerRoles, n) {
			return nil, errs.InvalidField(field,
				fmt.Sprintf("%s is not an officer role: use OFFICER, UNIT_HEAD, DIRECTOR, INSPECTOR or ADMIN", r),
				fmt.Sprintf("%s không phải là vai trò của cán bộ: dùng OFFICER, UNIT_HEAD, DIRECTOR, INSPECTOR hoặc ADMIN", r))
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}

func userProto(u *userRow) *identityv1.User {
	pb := &identityv1.User{
		Id:           u.ID,
		Email:        u.Email,
		Phone:        u.Phone,
		FullName:     u.FullName,
		EnterpriseId: u.EnterpriseID,
		UnitId:       u.UnitID,
		CreateTime:   ts(u.CreateTime),
	}
	switch auth.Kind(u.Kind) {
	case auth.KindOfficer:
		pb.Kind = identityv1.UserKind_USER_KIND_OFFICER
	case auth.KindEnterpriseUser:
		pb.Kind = identityv1.UserKind_USER_KIND_ENTERPRISE_USER
	}
	switch u.Status {
	case statusActive:
		pb.Status = identityv1.UserStatus_USER_STATUS_ACTIVE
	case statusDisabled:
		pb.Status = identityv1.UserStatus_USER_STATUS_DISABLED
	}
	for _, r := range u.Roles {
		pb.Roles = append(pb.Roles, roleEnum(r))
	}
	return pb
}

func usersProto(us []*userRow) []*identityv1.User {
	out := make([]*identityv1.User, len(us))
	for i, u := range us {
		out[i] = userProto(u)
	}
	return out
}

func enterpriseStatusEnum(s string) identityv1.EnterpriseStatus {
	return identityv1.EnterpriseStatus(identityv1.EnterpriseStatus_value["ENTERPRISE_STATUS_"+s])
}

func enterpriseStatusName(s identityv1.EnterpriseStatus) string {
	if s == identityv1.EnterpriseStatus_ENTERPRISE_STATUS_UNSPECIFIED {
		return ""
	}
	return strings.TrimPrefix(s.String(), "ENTERPRISE_STATUS_")
}

func enterpriseProto(e *enterpriseRow) *identityv1.Enterprise {
	return &identityv1.Enterprise{
		Id:           e.ID,
		TaxCode:      e.TaxCode,
		Name:         e.Name,
		Address:      e.Address,
		Status:       enterpriseStatusEnum(e.Status),
		RejectReason: e.RejectReason,
		CreateTime:   ts(e.CreateTime),
		DecideTime:   tsPtr(e.DecideTime),
	}
}

func unitKindEnum(k string) identityv1.OrgUnitKind {
	return identityv1.OrgUnitKind(identityv1.OrgUnitKind_value["ORG_UNIT_KIND_"+k])
}

func unitProto(u *unitRow) *identityv1.OrgUnit {
	return &identityv1.OrgUnit{
		Id:            u.ID,
		ParentId:      u.ParentID,
		Kind:          unitKindEnum(u.Kind),
		Code:          u.Code,
		NameVi:        u.NameVi,
		NameEn:        u.NameEn,
		EffectiveFrom: ts(u.EffectiveFrom),
		EffectiveTo:   tsPtr(u.EffectiveTo),
	}
}

// errGone is what a refresh or a reload answers for an account that was
// disabled or deleted since the session began.
var errGone = errs.New(errs.Unauthenticated,
	"this account can no longer sign in: sign in again or contact your administrator",
	"tài khoản này không thể đăng nhập nữa: hãy đăng nhập lại hoặc liên hệ quản trị viên")

// principalOf builds the principal of u from the database: kind, roles, the
// enterprise and whether it is verified, the unit.
func principalOf(ctx context.Context, q store.Queryer, u *userRow) (auth.Principal, error) {
	p := auth.Principal{
		UserID:       u.ID,
		Kind:         auth.Kind(u.Kind),
		Roles:        slices.Clone(u.Roles),
		EnterpriseID: u.EnterpriseID,
		UnitID:       u.UnitID,
	}
	if u.EnterpriseID != "" {
		e, err := enterpriseByID(ctx, q, u.EnterpriseID)
		if err != nil {
			return auth.Principal{}, fmt.Errorf("load enterprise of user: %w", err)
		}
		p.EnterpriseVerified = e.Status == entVerified
	}
	return p, nil
}
