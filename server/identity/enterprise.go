package identity

import (
	"context"
	"database/sql"
	"strings"

	"connectrpc.com/connect"

	identityv1 "hqconnect/gen/hqconnect/identity/v1"
	"hqconnect/internal/audit"
	"hqconnect/internal/auth"
	"hqconnect/internal/errs"
	"hqconnect/internal/ids"
	"hqconnect/internal/outbox"
	"hqconnect/internal/store"
)

// EnterpriseService: an enterprise's staff, managed by its ENTERPRISE_ADMIN,
// and the enterprises' verification, by customs.

// errStaffNotFound answers for a user id that is not in the caller's
// enterprise, whether or not it exists elsewhere.
var errStaffNotFound = &errs.Error{Code: errs.NotFound, Field: "user_id",
	EN: "your enterprise has no user with this id",
	VI: "doanh nghiệp của bạn không có người dùng với mã này"}

var errEnterpriseNotFound = &errs.Error{Code: errs.NotFound, Field: "enterprise_id",
	EN: "no enterprise has this id",
	VI: "không có doanh nghiệp nào với mã này"}

// enterpriseCaller returns the caller, who must be a user of an enterprise.
func enterpriseCaller(ctx context.Context) (*auth.Principal, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	if p.Kind != auth.KindEnterpriseUser || p.EnterpriseID == "" {
		return nil, errs.ErrPermissionDenied
	}
	return p, nil
}

func (s *Service) InviteStaff(ctx context.Context, req *connect.Request[identityv1.InviteStaffRequest]) (*connect.Response[identityv1.InviteStaffResponse], error) {
	p, err := enterpriseCaller(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	email, phone, err := contact("email", m.Email, "phone", m.Phone)
	if err != nil {
		return nil, err
	}
	name, err := fullName("full_name", m.FullName)
	if err != nil {
		return nil, err
	}
	var role string
	switch m.Role {
	case identityv1.Role_ROLE_UNSPECIFIED, identityv1.Role_ROLE_STAFF:
		role = auth.RoleStaff
	case identityv1.Role_ROLE_ENTERPRISE_ADMIN:
		role = auth.RoleEnterpriseAdmin
	default:
		return nil, errs.InvalidField("role",
			"an enterprise user is ROLE_STAFF (the default) or ROLE_ENTERPRISE_ADMIN",
			"người dùng doanh nghiệp chỉ có vai trò ROLE_STAFF (mặc định) hoặc ROLE_ENTERPRISE_ADMIN")
	}
	code, hash := newInvitationCode()
	now := s.now()
	inv := &invitationRow{
		ID: ids.New(), EnterpriseID: p.EnterpriseID, CodeHash: hash, Email: email, Phone: phone,
		FullName: name, Role: role, CreatedBy: p.UserID, CreateTime: now, ExpireTime: now.Add(s.invitationTTL),
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := contactTaken(ctx, tx, "email", email, "phone", phone); err != nil {
			return err
		}
		if err := insertInvitation(ctx, tx, inv); err != nil {
			return err
		}
		// Never the code: the log is read by people who must not use it.
		return audit.Record(ctx, tx, "invitation.create", "invitation", inv.ID,
			map[string]any{"enterprise_id": p.EnterpriseID, "role": role, "expire_time": inv.ExpireTime})
	})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&identityv1.InviteStaffResponse{
		InvitationId: inv.ID, Code: code, ExpireTime: ts(inv.ExpireTime),
	}), nil
}

func (s *Service) ListStaff(ctx context.Context, req *connect.Request[identityv1.ListStaffRequest]) (*connect.Response[identityv1.ListStaffResponse], error) {
	p, err := enterpriseCaller(ctx)
	if err != nil {
		return nil, err
	}
	pg, err := paging(req.Msg.PageSize, req.Msg.PageToken)
	if err != nil {
		return nil, err
	}
	// Oldest first: the first administrator heads the list.
	users, err := listUsers(ctx, s.db, userFilter{Kind: string(auth.KindEnterpriseUser), EnterpriseID: p.EnterpriseID}, pg)
	if err != nil {
		return nil, err
	}
	next := pg.next(len(users), func(i int) string { return users[i].ID })
	users = users[:min(len(users), pg.size)]
	return connect.NewResponse(&identityv1.ListStaffResponse{Users: usersProto(users), NextPageToken: next}), nil
}

func (s *Service) DisableStaff(ctx context.Context, req *connect.Request[identityv1.DisableStaffRequest]) (*connect.Response[identityv1.DisableStaffResponse], error) {
	u, err := s.setStaffStatus(ctx, req.Msg.UserId, statusDisabled)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&identityv1.DisableStaffResponse{User: userProto(u)}), nil
}

func (s *Service) EnableStaff(ctx context.Context, req *connect.Request[identityv1.EnableStaffRequest]) (*connect.Response[identityv1.EnableStaffResponse], error) {
	u, err := s.setStaffStatus(ctx, req.Msg.UserId, statusActive)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&identityv1.EnableStaffResponse{User: userProto(u)}), nil
}

// setStaffStatus disables or enables a user of the caller's enterprise. A
// disabled user's sessions end, so their access tokens stop working.
func (s *Service) setStaffStatus(ctx context.Context, rawID, status string) (*userRow, error) {
	p, err := enterpriseCaller(ctx)
	if err != nil {
		return nil, err
	}
	id, err := idField("user_id", rawID)
	if err != nil {
		return nil, err
	}
	if status == statusDisabled && id == p.UserID {
		return nil, errs.New(errs.FailedPrecondition,
			"you cannot disable your own account: ask another administrator of your enterprise",
			"bạn không thể tự vô hiệu hóa tài khoản của mình: hãy nhờ một quản trị viên khác của doanh nghiệp")
	}
	// The sessions the RevokeAll below ends, named in the event.
	var ended []string
	if status == statusDisabled {
		if ended, _, err = s.sessionsOf(ctx, id, ""); err != nil {
			return nil, err
		}
	}
	var u *userRow
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		u, err = userByID(ctx, tx, id)
		if store.IsNoRows(err) || err == nil && (u.Kind != string(auth.KindEnterpriseUser) || u.EnterpriseID != p.EnterpriseID) {
			return errStaffNotFound
		}
		if err != nil {
			return err
		}
		if err := addSessionsEnded(ctx, tx, u.ID, ended, s.now()); err != nil {
			return err
		}
		if u.Status == status {
			return nil
		}
		now := s.now()
		if err := setUserStatus(ctx, tx, u.ID, status, now); err != nil {
			return err
		}
		u.Status, u.UpdateTime = status, now
		action := "user.disable"
		if status == statusActive {
			action = "user.enable"
		}
		return audit.Record(ctx, tx, action, "user", u.ID, map[string]any{"enterprise_id": p.EnterpriseID})
	})
	if err != nil {
		return nil, err
	}
	if status == statusDisabled {
		// Also when it was disabled already: a retry after a failed revoke
		// must finish the job.
		if _, err := s.sessions.RevokeAll(ctx, u.ID, ""); err != nil {
			return nil, err
		}
	}
	return u, nil
}

func (s *Service) ListEnterprises(ctx context.Context, req *connect.Request[identityv1.ListEnterprisesRequest]) (*connect.Response[identityv1.ListEnterprisesResponse], error) {
	m := req.Msg
	if _, ok := identityv1.EnterpriseStatus_name[int32(m.Status)]; !ok {
		return nil, errs.InvalidField("status",
			"must be ENTERPRISE_STATUS_PENDING, _VERIFIED or _REJECTED, or unset for all",
			"phải là ENTERPRISE_STATUS_PENDING, _VERIFIED hoặc _REJECTED, hoặc để trống để lấy tất cả")
	}
	prefix := strings.TrimSpace(m.TaxCodePrefix)
	if len(prefix) > 14 || strings.Trim(prefix, "0123456789-") != "" {
		return nil, errs.InvalidField("tax_code_prefix",
			"must be the start of a tax code: digits, and \"-\" before a dependent-unit suffix",
			"phải là phần đầu của mã số thuế: chữ số, và dấu \"-\" trước số đơn vị phụ thuộc")
	}
	pg, err := paging(m.PageSize, m.PageToken)
	if err != nil {
		return nil, err
	}
	list, err := listEnterprises(ctx, s.db, enterpriseStatusName(m.Status), prefix, pg)
	if err != nil {
		return nil, err
	}
	next := pg.next(len(list), func(i int) string { return list[i].ID })
	list = list[:min(len(list), pg.size)]
	out := make([]*identityv1.Enterprise, len(list))
	for i, e := range list {
		out[i] = enterpriseProto(e)
	}
	return connect.NewResponse(&identityv1.ListEnterprisesResponse{Enterprises: out, NextPageToken: next}), nil
}

func (s *Service) GetEnterprise(ctx context.Context, req *connect.Request[identityv1.GetEnterpriseRequest]) (*connect.Response[identityv1.GetEnterpriseResponse], error) {
	id, err := idField("enterprise_id", req.Msg.EnterpriseId)
	if err != nil {
		return nil, err
	}
	e, err := enterpriseByID(ctx, s.db, id)
	if err != nil {
		if store.IsNoRows(err) {
			return nil, errEnterpriseNotFound
		}
		return nil, err
	}
	return connect.NewResponse(&identityv1.GetEnterpriseResponse{Enterprise: enterpriseProto(e)}), nil
}

// VerifyEnterprise lets the enterprise's users use the whole API. Their
// current access tokens still say "not verified" (they were issued before);
// their sessions are deliberately left alone: the next Refresh reloads the
// principal from the database and the new token carries the verification, so
// nobody is signed out by good news.
func (s *Service) VerifyEnterprise(ctx context.Context, req *connect.Request[identityv1.VerifyEnterpriseRequest]) (*connect.Response[identityv1.VerifyEnterpriseResponse], error) {
	e, err := s.decide(ctx, req.Msg.EnterpriseId, entVerified, "")
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&identityv1.VerifyEnterpriseResponse{Enterprise: enterpriseProto(e)}), nil
}

// RejectEnterprise records why; the enterprise's users read it in GetMe.
func (s *Service) RejectEnterprise(ctx context.Context, req *connect.Request[identityv1.RejectEnterpriseRequest]) (*connect.Response[identityv1.RejectEnterpriseResponse], error) {
	reason, err := para("reason", req.Msg.Reason, 5, 1000)
	if err != nil {
		return nil, err
	}
	e, err := s.decide(ctx, req.Msg.EnterpriseId, entRejected, reason)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&identityv1.RejectEnterpriseResponse{Enterprise: enterpriseProto(e)}), nil
}

// decide moves a PENDING enterprise to VERIFIED or REJECTED.
func (s *Service) decide(ctx context.Context, rawID, status, reason string) (*enterpriseRow, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	id, err := idField("enterprise_id", rawID)
	if err != nil {
		return nil, err
	}
	var e *enterpriseRow
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		if e, err = enterpriseByID(ctx, tx, id); err != nil {
			if store.IsNoRows(err) {
				return errEnterpriseNotFound
			}
			return err
		}
		notPending := errs.Newf(errs.FailedPrecondition,
			"doanh nghiệp đang ở trạng thái "+e.Status+": chỉ hồ sơ đăng ký đang chờ (PENDING) mới được xác minh hoặc từ chối",
			"the enterprise is %s: only a PENDING registration can be verified or rejected", e.Status)
		if e.Status != entPending {
			return notPending
		}
		now := s.now()
		ok, err := decideEnterprise(ctx, tx, id, status, reason, p.UserID, now)
		if err != nil {
			return err
		}
		if !ok {
			return notPending
		}
		e.Status, e.RejectReason, e.DecidedBy, e.DecideTime = status, reason, p.UserID, &now
		action, detail := "enterprise.verify", map[string]any{"tax_code": e.TaxCode}
		if status == entRejected {
			action, detail["reason"] = "enterprise.reject", reason
		}
		if err := audit.Record(ctx, tx, action, "enterprise", e.ID, detail); err != nil {
			return err
		}
		_, err = outbox.Add(ctx, tx, registrationDecided(e, now))
		return err
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}
