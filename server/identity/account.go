package identity

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"connectrpc.com/connect"

	identityv1 "hqconnect/gen/hqconnect/identity/v1"
	"hqconnect/internal/audit"
	"hqconnect/internal/auth"
	"hqconnect/internal/errs"
	"hqconnect/internal/ids"
	"hqconnect/internal/outbox"
	"hqconnect/internal/reqinfo"
	"hqconnect/internal/store"
	"hqconnect/internal/taxcode"
)

// IdentityService: sign-in, sessions, the caller's own account, and the two
// public ways to get an account (registration and invitations).

// errBadLogin is the one answer for a wrong password, an unknown identifier
// and a disabled account, so that nobody can tell them apart.
var errBadLogin = errs.New(errs.Unauthenticated,
	"wrong identifier or password",
	"sai tên đăng nhập hoặc mật khẩu")

const maxDeviceName = 100

func required(field string) *errs.Error {
	return errs.InvalidField(field, "is required", "là bắt buộc")
}

// recordAs appends an audit event for a public call, which has no principal:
// the actor is the account the call signed in as or created.
func recordAs(ctx context.Context, q store.Queryer, actorID, actorKind, action, targetKind, targetID string, detail map[string]any) error {
	return audit.Append(ctx, q, audit.Event{
		ActorID: actorID, ActorKind: actorKind,
		Action: action, TargetKind: targetKind, TargetID: targetID, Detail: detail,
	})
}

func tokensProto(tp auth.TokenPair) *identityv1.TokenPair {
	return &identityv1.TokenPair{
		AccessToken:            tp.AccessToken,
		AccessTokenExpireTime:  ts(tp.AccessExpires),
		RefreshToken:           tp.RefreshToken,
		RefreshTokenExpireTime: ts(tp.RefreshExpires),
		SessionId:              tp.SessionID,
	}
}

// findLogin looks up the account an identifier names: by email when it
// contains "@", else by phone (any accepted spelling). It returns the lockout
// key of the account, or of the identifier when there is no such account, so
// that unknown identifiers lock out exactly like known ones.
func (s *Service) findLogin(ctx context.Context, identifier string) (*userRow, string, error) {
	var u *userRow
	var key string
	var err error
	if strings.Contains(identifier, "@") {
		email := strings.ToLower(identifier)
		key = "i:" + email
		u, err = userByEmail(ctx, s.db, email)
	} else if phone, ok := phoneE164(identifier); ok {
		key = "i:" + phone
		u, err = userByPhone(ctx, s.db, phone)
	} else {
		return nil, "i:" + strings.ToLower(identifier), nil
	}
	if err != nil {
		if store.IsNoRows(err) {
			return nil, key, nil
		}
		return nil, "", err
	}
	return u, "u:" + u.ID, nil
}

func (s *Service) Login(ctx context.Context, req *connect.Request[identityv1.LoginRequest]) (*connect.Response[identityv1.LoginResponse], error) {
	m := req.Msg
	identifier := strings.TrimSpace(m.Identifier)
	if identifier == "" {
		return nil, required("identifier")
	}
	if len(identifier) > maxEmailLen {
		return nil, errBadLogin
	}
	if m.Password == "" {
		return nil, required("password")
	}
	if len(m.Password) > auth.MaxPasswordBytes {
		// No account has such a password; do not spend argon2 on it.
		return nil, errBadLogin
	}
	ip := reqinfo.From(ctx).ClientIP
	u, key, err := s.findLogin(ctx, identifier)
	if err != nil {
		return nil, err
	}
	if err := s.guard.Allow(ctx, key, ip); err != nil {
		return nil, err
	}
	ok := false
	if u == nil {
		auth.DummyCheck(m.Password)
	} else if ok, err = auth.CheckPassword(u.PasswordHash, m.Password); err != nil {
		return nil, fmt.Errorf("check password of user %s: %w", u.ID, err)
	}
	// A disabled account is checked after the password so that it costs the
	// same time and counts towards the lockout like a wrong password.
	if !ok || u.Status != statusActive {
		if err := s.guard.Failed(ctx, key); err != nil {
			return nil, fmt.Errorf("count failed login: %w", err)
		}
		return nil, errBadLogin
	}
	if err := s.guard.Succeeded(ctx, key); err != nil {
		return nil, fmt.Errorf("reset failed logins: %w", err)
	}
	p, err := principalOf(ctx, s.db, u)
	if err != nil {
		return nil, err
	}
	deviceName := truncateRunes(m.DeviceName, maxDeviceName)
	pair, err := s.sessions.Create(ctx, p, deviceName, ip)
	if err != nil {
		return nil, err
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := recordAs(ctx, tx, u.ID, u.Kind, "session.login", "user", u.ID,
			map[string]any{"session_id": pair.SessionID, "client_ip": ip}); err != nil {
			return err
		}
		// The user's other devices are warned of the new sign-in.
		_, err := outbox.Add(ctx, tx, loginEvent(u.ID, pair.SessionID, deviceName, s.now()))
		return err
	})
	if err != nil {
		// Not acknowledged without its audit row: undo the session.
		if rerr := s.sessions.Revoke(context.WithoutCancel(ctx), u.ID, pair.SessionID); rerr != nil {
			s.log.ErrorContext(ctx, "revoke session whose login could not be audited",
				"user_id", u.ID, "session_id", pair.SessionID, "error", rerr)
		}
		return nil, err
	}
	return connect.NewResponse(&identityv1.LoginResponse{Tokens: tokensProto(pair), User: userProto(u)}), nil
}

// reload re-reads a user for Refresh, so that a refreshed access token
// carries current roles, unit and enterprise verification. This is how an
// enterprise's users see its verification: their next Refresh.
func (s *Service) reload(ctx context.Context, userID string) (auth.Principal, error) {
	u, err := userByID(ctx, s.db, userID)
	if err != nil {
		if store.IsNoRows(err) {
			return auth.Principal{}, errGone
		}
		return auth.Principal{}, err
	}
	if u.Status != statusActive {
		return auth.Principal{}, errGone
	}
	return principalOf(ctx, s.db, u)
}

func (s *Service) Refresh(ctx context.Context, req *connect.Request[identityv1.RefreshRequest]) (*connect.Response[identityv1.RefreshResponse], error) {
	tok := strings.TrimSpace(req.Msg.RefreshToken)
	if tok == "" {
		return nil, required("refresh_token")
	}
	pair, err := s.sessions.Refresh(ctx, tok, s.reload)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&identityv1.RefreshResponse{Tokens: tokensProto(pair)}), nil
}

func (s *Service) Logout(ctx context.Context, req *connect.Request[identityv1.LogoutRequest]) (*connect.Response[identityv1.LogoutResponse], error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	var n int
	ended := []string{p.SessionID}
	if req.Msg.AllSessions {
		others, _, lerr := s.sessionsOf(ctx, p.UserID, p.SessionID)
		if lerr != nil {
			return nil, lerr
		}
		ended = append(ended, others...)
		if n, err = s.sessions.RevokeAll(ctx, p.UserID, ""); err != nil {
			return nil, err
		}
	} else {
		switch err := s.sessions.Revoke(ctx, p.UserID, p.SessionID); {
		case err == nil:
			n = 1
		case errs.Is(err, errs.NotFound):
			// Already ended (a retry, or ended elsewhere a moment ago).
		default:
			return nil, err
		}
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := audit.Record(ctx, tx, "session.logout", "user", p.UserID,
			map[string]any{"session_id": p.SessionID, "all_sessions": req.Msg.AllSessions, "ended_sessions": n}); err != nil {
			return err
		}
		return addSessionsEnded(ctx, tx, p.UserID, ended, s.now())
	})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&identityv1.LogoutResponse{EndedSessions: int32(n)}), nil
}

func (s *Service) ListSessions(ctx context.Context, _ *connect.Request[identityv1.ListSessionsRequest]) (*connect.Response[identityv1.ListSessionsResponse], error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	list, err := s.sessions.List(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	// Most recently used first (Sessions.List does too; the contract is ours).
	slices.SortStableFunc(list, func(a, b auth.SessionInfo) int { return b.LastUsed.Compare(a.LastUsed) })
	out := make([]*identityv1.Session, len(list))
	for i, si := range list {
		out[i] = &identityv1.Session{
			Id:           si.ID,
			DeviceName:   si.DeviceName,
			ClientIp:     si.ClientIP,
			CreateTime:   ts(si.Created),
			LastUsedTime: ts(si.LastUsed),
			Current:      si.ID == p.SessionID,
		}
	}
	return connect.NewResponse(&identityv1.ListSessionsResponse{Sessions: out}), nil
}

func (s *Service) RevokeSession(ctx context.Context, req *connect.Request[identityv1.RevokeSessionRequest]) (*connect.Response[identityv1.RevokeSessionResponse], error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	sid, err := idField("session_id", req.Msg.SessionId)
	if err != nil {
		return nil, err
	}
	// Sessions.Revoke answers NotFound for a session of someone else.
	if err := s.sessions.Revoke(ctx, p.UserID, sid); err != nil {
		return nil, err
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := audit.Record(ctx, tx, "session.revoke", "session", sid, nil); err != nil {
			return err
		}
		return addSessionsEnded(ctx, tx, p.UserID, []string{sid}, s.now())
	})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&identityv1.RevokeSessionResponse{}), nil
}

func (s *Service) ChangePassword(ctx context.Context, req *connect.Request[identityv1.ChangePasswordRequest]) (*connect.Response[identityv1.ChangePasswordResponse], error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	if m.CurrentPassword == "" {
		return nil, required("current_password")
	}
	if err := auth.ValidatePassword("new_password", m.NewPassword); err != nil {
		return nil, err
	}
	if m.NewPassword == m.CurrentPassword {
		return nil, errs.InvalidField("new_password",
			"must differ from the current password",
			"phải khác mật khẩu hiện tại")
	}
	u, err := userByID(ctx, s.db, p.UserID)
	if err != nil {
		if store.IsNoRows(err) {
			return nil, errGone
		}
		return nil, err
	}
	// Guessing the current password with a stolen access token counts
	// towards the same lockout as guessing it at Login.
	key := "u:" + u.ID
	if err := s.guard.Allow(ctx, key, reqinfo.From(ctx).ClientIP); err != nil {
		return nil, err
	}
	ok, err := auth.CheckPassword(u.PasswordHash, m.CurrentPassword)
	if err != nil {
		return nil, fmt.Errorf("check password of user %s: %w", u.ID, err)
	}
	if !ok {
		if err := s.guard.Failed(ctx, key); err != nil {
			return nil, fmt.Errorf("count failed password check: %w", err)
		}
		return nil, errs.InvalidField("current_password", "current password is wrong", "mật khẩu hiện tại không đúng")
	}
	hash, err := auth.HashPassword(m.NewPassword)
	if err != nil {
		return nil, err
	}
	// The sessions the RevokeAll below ends, named in the event.
	others, current, err := s.sessionsOf(ctx, u.ID, p.SessionID)
	if err != nil {
		return nil, err
	}
	var deviceName string
	if current != nil {
		deviceName = current.DeviceName
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		now := s.now()
		if err := setUserPassword(ctx, tx, u.ID, hash, now); err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, "user.change_password", "user", u.ID, nil); err != nil {
			return err
		}
		// The warning goes first: the devices of the ended sessions are
		// removed when the second event is processed.
		if _, err := outbox.Add(ctx, tx, passwordChangedEvent(u.ID, p.SessionID, deviceName, now)); err != nil {
			return err
		}
		return addSessionsEnded(ctx, tx, u.ID, others, now)
	})
	if err != nil {
		return nil, err
	}
	n, err := s.sessions.RevokeAll(ctx, u.ID, p.SessionID)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&identityv1.ChangePasswordResponse{EndedSessions: int32(n)}), nil
}

func (s *Service) GetMe(ctx context.Context, _ *connect.Request[identityv1.GetMeRequest]) (*connect.Response[identityv1.GetMeResponse], error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	u, err := userByID(ctx, s.db, p.UserID)
	if err != nil {
		if store.IsNoRows(err) {
			return nil, errGone
		}
		return nil, err
	}
	res := &identityv1.GetMeResponse{User: userProto(u)}
	if u.EnterpriseID != "" {
		e, err := enterpriseByID(ctx, s.db, u.EnterpriseID)
		if err != nil {
			return nil, fmt.Errorf("load enterprise of user: %w", err)
		}
		res.Enterprise = enterpriseProto(e)
	}
	if u.UnitID != "" {
		unit, err := unitByID(ctx, s.db, u.UnitID)
		if err != nil {
			return nil, fmt.Errorf("load unit of user: %w", err)
		}
		res.Unit = unitProto(unit)
	}
	return connect.NewResponse(res), nil
}

func (s *Service) RegisterEnterprise(ctx context.Context, req *connect.Request[identityv1.RegisterEnterpriseRequest]) (*connect.Response[identityv1.RegisterEnterpriseResponse], error) {
	m := req.Msg
	taxCode := taxcode.Normalize(m.TaxCode)
	if err := taxcode.Validate(taxCode); err != nil {
		return nil, err
	}
	name, err := line("enterprise_name", m.EnterpriseName, 2, 300)
	if err != nil {
		return nil, err
	}
	address, err := para("address", m.Address, 0, 500)
	if err != nil {
		return nil, err
	}
	adminName, err := fullName("admin_full_name", m.AdminFullName)
	if err != nil {
		return nil, err
	}
	email, phone, err := contact("admin_email", m.AdminEmail, "admin_phone", m.AdminPhone)
	if err != nil {
		return nil, err
	}
	if err := auth.ValidatePassword("password", m.Password); err != nil {
		return nil, err
	}
	// The cheap checks before the slow hash; they run again in the
	// transaction, and the unique indexes settle races.
	check := func(q store.Queryer) error {
		if _, err := enterpriseByTaxCode(ctx, q, taxCode); err == nil {
			return taxCodeTaken(taxCode)
		} else if !store.IsNoRows(err) {
			return err
		}
		return contactTaken(ctx, q, "admin_email", email, "admin_phone", phone)
	}
	if err := check(s.db); err != nil {
		return nil, err
	}
	hash, err := auth.HashPassword(m.Password)
	if err != nil {
		return nil, err
	}
	now := s.now()
	e := &enterpriseRow{ID: ids.New(), TaxCode: taxCode, Name: name, Address: address, Status: entPending, CreateTime: now}
	u := &userRow{
		ID: ids.New(), Kind: string(auth.KindEnterpriseUser), Email: email, Phone: phone, FullName: adminName,
		PasswordHash: hash, Status: statusActive, EnterpriseID: e.ID, CreateTime: now, UpdateTime: now,
		Roles: []string{auth.RoleEnterpriseAdmin},
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := check(tx); err != nil {
			return err
		}
		if err := insertEnterprise(ctx, tx, e); err != nil {
			return err
		}
		if err := insertUser(ctx, tx, u); err != nil {
			return err
		}
		return recordAs(ctx, tx, u.ID, u.Kind, "enterprise.register", "enterprise", e.ID,
			map[string]any{"tax_code": taxCode, "admin_user_id": u.ID})
	})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&identityv1.RegisterEnterpriseResponse{Enterprise: enterpriseProto(e), User: userProto(u)}), nil
}

var (
	errInvitationNotFound = &errs.Error{Code: errs.NotFound, Field: "code",
		EN: "no invitation has this code: check it, or ask your enterprise administrator for a new one",
		VI: "không có lời mời nào với mã này: hãy kiểm tra lại, hoặc đề nghị quản trị viên doanh nghiệp cấp mã mới"}
	errInvitationUsed = errs.New(errs.FailedPrecondition,
		"this invitation code has already been used: sign in with the account it created, or ask your enterprise administrator for a new one",
		"mã mời này đã được sử dụng: hãy đăng nhập bằng tài khoản đã tạo, hoặc đề nghị quản trị viên doanh nghiệp cấp mã mới")
	errInvitationExpired = errs.New(errs.FailedPrecondition,
		"invitation expired: ask your enterprise administrator for a new one",
		"mã mời đã hết hạn: hãy đề nghị quản trị viên doanh nghiệp cấp mã mới")
)

func (s *Service) AcceptInvitation(ctx context.Context, req *connect.Request[identityv1.AcceptInvitationRequest]) (*connect.Response[identityv1.AcceptInvitationResponse], error) {
	m := req.Msg
	code, err := normalizeCode(m.Code)
	if err != nil {
		return nil, err
	}
	if err := auth.ValidatePassword("password", m.Password); err != nil {
		return nil, err
	}
	var name string
	if strings.TrimSpace(m.FullName) != "" {
		if name, err = fullName("full_name", m.FullName); err != nil {
			return nil, err
		}
	}
	inv, err := invitationByHash(ctx, s.db, hashCode(code))
	if err != nil {
		if store.IsNoRows(err) {
			return nil, errInvitationNotFound
		}
		return nil, err
	}
	now := s.now()
	switch {
	case inv.AcceptTime != nil:
		return nil, errInvitationUsed
	case !now.Before(inv.ExpireTime):
		return nil, errInvitationExpired
	}
	if name == "" {
		name = inv.FullName
	}
	if err := contactTaken(ctx, s.db, "email", inv.Email, "phone", inv.Phone); err != nil {
		return nil, err
	}
	hash, err := auth.HashPassword(m.Password)
	if err != nil {
		return nil, err
	}
	u := &userRow{
		ID: ids.New(), Kind: string(auth.KindEnterpriseUser), Email: inv.Email, Phone: inv.Phone, FullName: name,
		PasswordHash: hash, Status: statusActive, EnterpriseID: inv.EnterpriseID, CreateTime: now, UpdateTime: now,
		Roles: []string{inv.Role},
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		// Claim first: of concurrent acceptances exactly one gets here with
		// a row; the others fail without creating anything.
		claimed, err := claimInvitation(ctx, tx, inv.ID, now)
		if err != nil {
			return err
		}
		if !claimed {
			return errInvitationUsed
		}
		if err := insertUser(ctx, tx, u); err != nil {
			return err
		}
		if err := setInvitationUser(ctx, tx, inv.ID, u.ID); err != nil {
			return err
		}
		return recordAs(ctx, tx, u.ID, u.Kind, "invitation.accept", "invitation", inv.ID,
			map[string]any{"user_id": u.ID, "enterprise_id": inv.EnterpriseID, "role": inv.Role})
	})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&identityv1.AcceptInvitationResponse{User: userProto(u)}), nil
}
