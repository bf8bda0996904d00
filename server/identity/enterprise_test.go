package identity_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	identityv1 "hqconnect/gen/hqconnect/identity/v1"
	"hqconnect/internal/taxcode"
	"hqconnect/internal/testkit"
	"hqconnect/server/identity"
)

// validTaxCode returns a valid tax code starting with the eight digits
// prefix (the ninth is searched for).
func validTaxCode(t *testing.T, prefix8 string) string {
	t.Helper()
	for d := range 10 {
		nine := fmt.Sprintf("%s%d", prefix8, d)
		if c := taxcode.CheckDigit(nine); c >= 0 {
			return fmt.Sprintf("%s%d", nine, c)
		}
	}
	t.Fatalf("no valid tax code starts with %s", prefix8)
	return ""
}

func registration(taxCode, email, phone string) *identityv1.RegisterEnterpriseRequest {
	return &identityv1.RegisterEnterpriseRequest{
		TaxCode:        taxCode,
		EnterpriseName: "Công ty TNHH Thương mại Mới",
		Address:        "12 Lê Lợi, Quận 1, TP. Hồ Chí Minh",
		AdminFullName:  "Ngô Thị Đăng Ký",
		AdminEmail:     email,
		AdminPhone:     phone,
		Password:       "new-enterprise-pw",
	}
}

// TestEnterpriseVerification follows a registration: the pending user signs
// in and sees their profile only; a plain officer cannot verify; a unit head
// verifies; after a Refresh the user can use the rest.
func TestEnterpriseVerification(t *testing.T) {
	runAll(t, func(t *testing.T, e *env) {
		tax := validTaxCode(t, "03100001")
		reg := testkit.Got(e.anon().ID.RegisterEnterprise(ctx, req(registration(tax, "Boss@Moi.VN", "+84 912 345 678")))).Must(t)
		if reg.Enterprise.Status != identityv1.EnterpriseStatus_ENTERPRISE_STATUS_PENDING || reg.Enterprise.TaxCode != tax {
			t.Fatalf("enterprise = %v", reg.Enterprise)
		}
		if reg.User.Email != "boss@moi.vn" || reg.User.Phone != "+84912345678" ||
			reg.User.Roles[0] != identityv1.Role_ROLE_ENTERPRISE_ADMIN || reg.User.EnterpriseId != reg.Enterprise.Id {
			t.Fatalf("user = %v", reg.User)
		}

		// Any spelling of the phone signs in.
		boss := e.login(t, "0912345678", "new-enterprise-pw")
		me := boss.me(t)
		if me.Enterprise.GetStatus() != identityv1.EnterpriseStatus_ENTERPRISE_STATUS_PENDING || me.User.Id != reg.User.Id {
			t.Fatalf("GetMe = %v", me)
		}
		_, err := boss.Ent.InviteStaff(ctx, req(&identityv1.InviteStaffRequest{Email: "a@moi.vn", FullName: "Nhân Viên"}))
		testkit.WantCode(t, err, connect.CodePermissionDenied)
		_, err = boss.Org.ListOrgUnits(ctx, req(&identityv1.ListOrgUnitsRequest{}))
		testkit.WantCode(t, err, connect.CodePermissionDenied)

		officer := e.demo(t, officerLogin)
		list := testkit.Got(officer.Ent.ListEnterprises(ctx, req(&identityv1.ListEnterprisesRequest{
			Status: identityv1.EnterpriseStatus_ENTERPRISE_STATUS_PENDING,
		}))).Must(t)
		if len(list.Enterprises) != 1 || list.Enterprises[0].Id != reg.Enterprise.Id {
			t.Fatalf("pending enterprises = %v", list.Enterprises)
		}
		_, err = officer.Ent.VerifyEnterprise(ctx, req(&identityv1.VerifyEnterpriseRequest{EnterpriseId: reg.Enterprise.Id}))
		testkit.WantCode(t, err, connect.CodePermissionDenied)

		head := e.demo(t, headLogin)
		ent := testkit.Got(head.Ent.VerifyEnterprise(ctx, req(&identityv1.VerifyEnterpriseRequest{EnterpriseId: reg.Enterprise.Id}))).Must(t).Enterprise
		if ent.Status != identityv1.EnterpriseStatus_ENTERPRISE_STATUS_VERIFIED || ent.DecideTime == nil {
			t.Fatalf("verified enterprise = %v", ent)
		}
		_, err = head.Ent.VerifyEnterprise(ctx, req(&identityv1.VerifyEnterpriseRequest{EnterpriseId: reg.Enterprise.Id}))
		testkit.WantCode(t, err, connect.CodeFailedPrecondition)
		_, err = head.Ent.RejectEnterprise(ctx, req(&identityv1.RejectEnterpriseRequest{EnterpriseId: reg.Enterprise.Id, Reason: "too late now"}))
		testkit.WantCode(t, err, connect.CodeFailedPrecondition)
		// The enterprise's users are told, once (the refused calls add nothing).
		decided := e.outboxEvents(t, identity.EventEnterpriseDecided)
		if len(decided) != 1 || decided[0].Notification == nil ||
			!slices.Equal(decided[0].Notification.Audience.EnterpriseIDs, []string{reg.Enterprise.Id}) ||
			decided[0].Notification.TitleVI != "Doanh nghiệp của bạn đã được xác minh" ||
			!strings.Contains(decided[0].Notification.BodyVI, tax) {
			t.Fatalf("decision events = %+v", decided)
		}

		// The old access token still says "pending"; a refresh reloads it.
		_, err = boss.Ent.InviteStaff(ctx, req(&identityv1.InviteStaffRequest{Email: "a@moi.vn", FullName: "Nhân Viên"}))
		testkit.WantCode(t, err, connect.CodePermissionDenied)
		boss.refresh(t)
		inv := testkit.Got(boss.Ent.InviteStaff(ctx, req(&identityv1.InviteStaffRequest{Email: "a@moi.vn", FullName: "Nhân Viên"}))).Must(t)
		if inv.Code == "" || inv.InvitationId == "" {
			t.Fatalf("invitation = %v", inv)
		}
		testkit.Got(boss.Org.ListOrgUnits(ctx, req(&identityv1.ListOrgUnitsRequest{}))).Must(t)
	})
}

func TestEnterpriseRejection(t *testing.T) {
	runDB(t, func(t *testing.T, e *env) {
		tax := validTaxCode(t, "01099999")
		reg := testkit.Got(e.anon().ID.RegisterEnterprise(ctx, req(registration(tax, "owner@bi-tu-choi.vn", "")))).Must(t)
		director := e.demo(t, directorLogin)
		_, err := director.Ent.RejectEnterprise(ctx, req(&identityv1.RejectEnterpriseRequest{EnterpriseId: reg.Enterprise.Id, Reason: "no"}))
		testkit.WantField(t, err, connect.CodeInvalidArgument, "reason")
		_, err = director.Ent.RejectEnterprise(ctx, req(&identityv1.RejectEnterpriseRequest{EnterpriseId: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", Reason: "không rõ"}))
		testkit.WantCode(t, err, connect.CodeNotFound)

		const reason = "Giấy chứng nhận đăng ký doanh nghiệp không khớp với mã số thuế"
		ent := testkit.Got(director.Ent.RejectEnterprise(ctx, req(&identityv1.RejectEnterpriseRequest{EnterpriseId: reg.Enterprise.Id, Reason: reason}))).Must(t).Enterprise
		if ent.Status != identityv1.EnterpriseStatus_ENTERPRISE_STATUS_REJECTED || ent.RejectReason != reason {
			t.Fatalf("rejected = %v", ent)
		}
		decided := e.outboxEvents(t, identity.EventEnterpriseDecided)
		if len(decided) != 1 || decided[0].Notification == nil ||
			decided[0].Notification.TitleEN != "Your registration was rejected" ||
			!strings.Contains(decided[0].Notification.BodyVI, reason) || !strings.Contains(decided[0].Notification.BodyEN, reason) {
			t.Fatalf("decision events = %+v", decided)
		}
		me := e.login(t, "owner@bi-tu-choi.vn", "new-enterprise-pw").me(t)
		if me.Enterprise.Status != identityv1.EnterpriseStatus_ENTERPRISE_STATUS_REJECTED || me.Enterprise.RejectReason != reason {
			t.Fatalf("GetMe enterprise = %v", me.Enterprise)
		}
		_, err = director.Ent.VerifyEnterprise(ctx, req(&identityv1.VerifyEnterpriseRequest{EnterpriseId: reg.Enterprise.Id}))
		testkit.WantCode(t, err, connect.CodeFailedPrecondition)

		got1 := testkit.Got(director.Ent.GetEnterprise(ctx, req(&identityv1.GetEnterpriseRequest{EnterpriseId: reg.Enterprise.Id}))).Must(t)
		if got1.Enterprise.RejectReason != reason {
			t.Fatalf("GetEnterprise = %v", got1.Enterprise)
		}
	})
}

func TestRegisterEnterpriseValidation(t *testing.T) {
	runDB(t, func(t *testing.T, e *env) {
		anon := e.anon()
		tax := validTaxCode(t, "02000002")
		bad := tax[:9] + fmt.Sprint((int(tax[9]-'0')+1)%10)
		for _, tc := range []struct {
			name  string
			edit  func(r *identityv1.RegisterEnterpriseRequest)
			code  connect.Code
			field string
		}{
			{"wrong check digit", func(r *identityv1.RegisterEnterpriseRequest) { r.TaxCode = bad }, connect.CodeInvalidArgument, "tax_code"},
			{"nine digits", func(r *identityv1.RegisterEnterpriseRequest) { r.TaxCode = tax[:9] }, connect.CodeInvalidArgument, "tax_code"},
			{"bad dependent suffix", func(r *identityv1.RegisterEnterpriseRequest) { r.TaxCode = tax + "-01" }, connect.CodeInvalidArgument, "tax_code"},
			{"empty tax code", func(r *identityv1.RegisterEnterpriseRequest) { r.TaxCode = "" }, connect.CodeInvalidArgument, "tax_code"},
			{"seeded tax code", func(r *identityv1.RegisterEnterpriseRequest) { r.TaxCode = "0100109106" }, connect.CodeAlreadyExists, "tax_code"},
			{"name too short", func(r *identityv1.RegisterEnterpriseRequest) { r.EnterpriseName = "A" }, connect.CodeInvalidArgument, "enterprise_name"},
			{"name too long", func(r *identityv1.RegisterEnterpriseRequest) { r.EnterpriseName = strings.Repeat("ệ", 301) }, connect.CodeInvalidArgument, "enterprise_name"},
			{"address too long", func(r *identityv1.RegisterEnterpriseRequest) { r.Address = strings.Repeat("a", 501) }, connect.CodeInvalidArgument, "address"},
			{"admin name missing", func(r *identityv1.RegisterEnterpriseRequest) { r.AdminFullName = " " }, connect.CodeInvalidArgument, "admin_full_name"},
			{"no email nor phone", func(r *identityv1.RegisterEnterpriseRequest) { r.AdminEmail = "" }, connect.CodeInvalidArgument, "admin_email"},
			{"bad email", func(r *identityv1.RegisterEnterpriseRequest) { r.AdminEmail = "boss@" }, connect.CodeInvalidArgument, "admin_email"},
			{"bad phone", func(r *identityv1.RegisterEnterpriseRequest) { r.AdminPhone = "12345" }, connect.CodeInvalidArgument, "admin_phone"},
			{"short password", func(r *identityv1.RegisterEnterpriseRequest) { r.Password = "short" }, connect.CodeInvalidArgument, "password"},
			{"email taken", func(r *identityv1.RegisterEnterpriseRequest) { r.AdminEmail = xnkStaffLogin }, connect.CodeAlreadyExists, "admin_email"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				r := registration(tax, "valid@moi.vn", "")
				tc.edit(r)
				_, err := anon.ID.RegisterEnterprise(ctx, req(r))
				testkit.WantField(t, err, tc.code, tc.field)
			})
		}
		if n := e.count(t, "enterprises"); n != 2 {
			t.Fatalf("%d enterprises after refused registrations, want the 2 seeded", n)
		}
		t.Run("a dependent unit registers with its suffix", func(t *testing.T) {
			testkit.Got(anon.ID.RegisterEnterprise(ctx, req(registration("0100109106-001", "", "0987654321")))).Must(t)
			_, err := anon.ID.RegisterEnterprise(ctx, req(registration("0100109106-001", "", "0987654322")))
			testkit.WantField(t, err, connect.CodeAlreadyExists, "tax_code")
			_, err = anon.ID.RegisterEnterprise(ctx, req(registration(tax, "", "84987654321")))
			testkit.WantField(t, err, connect.CodeAlreadyExists, "admin_phone")
		})
	})
}

func TestInvitations(t *testing.T) {
	runDB(t, func(t *testing.T, e *env) {
		admin := e.demo(t, xnkAdminLogin)
		inv := testkit.Got(admin.Ent.InviteStaff(ctx, req(&identityv1.InviteStaffRequest{
			Email: "New.Staff@XNK.demo.vn", FullName: "Nhân Viên Mới",
		}))).Must(t)
		if len(inv.Code) != 19 || strings.Count(inv.Code, "-") != 3 {
			t.Fatalf("code %q is not XXXX-XXXX-XXXX-XXXX", inv.Code)
		}
		if d := inv.ExpireTime.AsTime().Sub(e.Clock.Now()); d < 6*24*time.Hour || d > 7*24*time.Hour {
			t.Fatalf("invitation expires in %v, want 7 days", d)
		}
		if n := e.count(t, "invitations WHERE code_hash = $1 OR code_hash = $2", inv.Code, strings.ReplaceAll(inv.Code, "-", "")); n != 0 {
			t.Fatal("the code is stored in clear")
		}

		// Typed sloppily: lower case, spaces instead of dashes.
		typed := strings.ToLower(strings.ReplaceAll(inv.Code, "-", " "))
		anon := e.anon()
		u := testkit.Got(anon.ID.AcceptInvitation(ctx, req(&identityv1.AcceptInvitationRequest{Code: typed, Password: "staff-password-1"}))).Must(t).User
		if u.Email != "new.staff@xnk.demo.vn" || u.FullName != "Nhân Viên Mới" || u.Roles[0] != identityv1.Role_ROLE_STAFF ||
			u.EnterpriseId != admin.User.EnterpriseId {
			t.Fatalf("accepted user = %v", u)
		}
		_, err := anon.ID.AcceptInvitation(ctx, req(&identityv1.AcceptInvitationRequest{Code: inv.Code, Password: "staff-password-2"}))
		testkit.WantCode(t, err, connect.CodeFailedPrecondition)
		_, err = anon.ID.AcceptInvitation(ctx, req(&identityv1.AcceptInvitationRequest{Code: "AAAA-BBBB-CCCC-DDDD", Password: "staff-password-2"}))
		testkit.WantField(t, err, connect.CodeNotFound, "code")
		_, err = anon.ID.AcceptInvitation(ctx, req(&identityv1.AcceptInvitationRequest{Code: "AAAA", Password: "staff-password-2"}))
		testkit.WantField(t, err, connect.CodeInvalidArgument, "code")
		staff := e.login(t, "new.staff@xnk.demo.vn", "staff-password-1")
		if me := staff.me(t); me.Enterprise.GetTaxCode() != e.Accounts[xnkAdminLogin].TaxCode {
			t.Fatalf("new staff's enterprise = %v", me.Enterprise)
		}

		t.Run("refusals", func(t *testing.T) {
			_, err := admin.Ent.InviteStaff(ctx, req(&identityv1.InviteStaffRequest{Email: logStaffLogin, FullName: "Ai Đó"}))
			testkit.WantField(t, err, connect.CodeAlreadyExists, "email")
			_, err = admin.Ent.InviteStaff(ctx, req(&identityv1.InviteStaffRequest{Email: "x@xnk.demo.vn", FullName: "Ai Đó", Role: identityv1.Role_ROLE_OFFICER}))
			testkit.WantField(t, err, connect.CodeInvalidArgument, "role")
			_, err = admin.Ent.InviteStaff(ctx, req(&identityv1.InviteStaffRequest{FullName: "Ai Đó"}))
			testkit.WantField(t, err, connect.CodeInvalidArgument, "email")
			_, err = staff.Ent.InviteStaff(ctx, req(&identityv1.InviteStaffRequest{Email: "y@xnk.demo.vn", FullName: "Ai Đó"}))
			testkit.WantCode(t, err, connect.CodePermissionDenied)
			_, err = e.demo(t, adminLogin).Ent.InviteStaff(ctx, req(&identityv1.InviteStaffRequest{Email: "y@xnk.demo.vn", FullName: "Ai Đó"}))
			testkit.WantCode(t, err, connect.CodePermissionDenied)
		})

		t.Run("an admin invitation with a name override", func(t *testing.T) {
			inv := testkit.Got(admin.Ent.InviteStaff(ctx, req(&identityv1.InviteStaffRequest{
				Phone: "0901 234 567", FullName: "Tên Tạm", Role: identityv1.Role_ROLE_ENTERPRISE_ADMIN,
			}))).Must(t)
			u := testkit.Got(anon.ID.AcceptInvitation(ctx, req(&identityv1.AcceptInvitationRequest{
				Code: inv.Code, Password: "second-admin-pw", FullName: "Tên Thật",
			}))).Must(t).User
			if u.Phone != "+84901234567" || u.FullName != "Tên Thật" || u.Roles[0] != identityv1.Role_ROLE_ENTERPRISE_ADMIN {
				t.Fatalf("accepted user = %v", u)
			}
		})

		t.Run("an expired invitation", func(t *testing.T) {
			inv := testkit.Got(admin.Ent.InviteStaff(ctx, req(&identityv1.InviteStaffRequest{Email: "late@xnk.demo.vn", FullName: "Đến Muộn"}))).Must(t)
			e.Clock.Advance(7*24*time.Hour + time.Minute)
			_, err := anon.ID.AcceptInvitation(ctx, req(&identityv1.AcceptInvitationRequest{Code: inv.Code, Password: "late-password-1"}))
			ce := testkit.WantCode(t, err, connect.CodeFailedPrecondition)
			if !strings.Contains(ce.Message(), "hết hạn") {
				t.Fatalf("message %q does not say the invitation expired", ce.Message())
			}
			if n := e.count(t, "users WHERE email = $1", "late@xnk.demo.vn"); n != 0 {
				t.Fatalf("expired invitation made %d accounts", n)
			}
		})
	})
}

// TestInvitationAcceptedOnce races ten acceptances of one code.
func TestInvitationAcceptedOnce(t *testing.T) {
	runDB(t, func(t *testing.T, e *env) {
		admin := e.demo(t, logAdminLogin)
		inv := testkit.Got(admin.Ent.InviteStaff(ctx, req(&identityv1.InviteStaffRequest{Email: "race@logistics.demo.vn", FullName: "Chạy Đua"}))).Must(t)
		anon := e.anon()
		var wg sync.WaitGroup
		errs := make([]error, 10)
		for i := range errs {
			wg.Go(func() {
				_, errs[i] = anon.ID.AcceptInvitation(ctx, req(&identityv1.AcceptInvitationRequest{
					Code: inv.Code, Password: fmt.Sprintf("race-password-%d", i),
				}))
			})
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch connect.CodeOf(err) {
			case connect.CodeFailedPrecondition, connect.CodeAlreadyExists:
			default:
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				ok++
			}
		}
		if ok != 1 {
			t.Fatalf("%d acceptances succeeded, want 1", ok)
		}
		if n := e.count(t, "users WHERE email = $1", "race@logistics.demo.vn"); n != 1 {
			t.Fatalf("%d accounts, want 1", n)
		}
		if n := e.count(t, "audit_events WHERE action = 'invitation.accept' AND target_id = $1", inv.InvitationId); n != 1 {
			t.Fatalf("%d invitation.accept audit rows, want 1", n)
		}
	})
}

// TestStaffOfAnotherEnterprise: an enterprise's admin never reaches another
// enterprise's users, and cannot even tell they exist.
func TestStaffOfAnotherEnterprise(t *testing.T) {
	runDB(t, func(t *testing.T, e *env) {
		a := e.demo(t, xnkAdminLogin)
		b := e.demo(t, logAdminLogin)
		bStaff := testkit.Got(b.Ent.ListStaff(ctx, req(&identityv1.ListStaffRequest{}))).Must(t).Users
		aStaff := testkit.Got(a.Ent.ListStaff(ctx, req(&identityv1.ListStaffRequest{}))).Must(t).Users
		if len(aStaff) != 2 || len(bStaff) != 2 {
			t.Fatalf("staff lists: A %d, B %d, want 2 each", len(aStaff), len(bStaff))
		}
		for _, u := range aStaff {
			if u.EnterpriseId != a.User.EnterpriseId {
				t.Fatalf("A's list shows %v", u)
			}
		}
		var victim string
		for _, u := range bStaff {
			if u.Email == logStaffLogin {
				victim = u.Id
			}
		}
		_, errDisable := a.Ent.DisableStaff(ctx, req(&identityv1.DisableStaffRequest{UserId: victim}))
		_, errMissing := a.Ent.DisableStaff(ctx, req(&identityv1.DisableStaffRequest{UserId: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"}))
		if testkit.WantCode(t, errDisable, connect.CodeNotFound).Message() != testkit.WantCode(t, errMissing, connect.CodeNotFound).Message() {
			t.Fatal("another enterprise's user and a missing one answer differently")
		}
		_, err := a.Ent.EnableStaff(ctx, req(&identityv1.EnableStaffRequest{UserId: victim}))
		testkit.WantCode(t, err, connect.CodeNotFound)
		// An officer's id is not staff either.
		_, err = a.Ent.DisableStaff(ctx, req(&identityv1.DisableStaffRequest{UserId: e.demo(t, officerLogin).User.Id}))
		testkit.WantCode(t, err, connect.CodeNotFound)
		e.demo(t, logStaffLogin).me(t) // still active

		staff := e.demo(t, xnkStaffLogin)
		_, err = staff.Ent.ListStaff(ctx, req(&identityv1.ListStaffRequest{}))
		testkit.WantCode(t, err, connect.CodePermissionDenied)
		_, err = staff.Ent.DisableStaff(ctx, req(&identityv1.DisableStaffRequest{UserId: a.User.Id}))
		testkit.WantCode(t, err, connect.CodePermissionDenied)
		_, err = a.Ent.ListEnterprises(ctx, req(&identityv1.ListEnterprisesRequest{}))
		testkit.WantCode(t, err, connect.CodePermissionDenied)
		_, err = a.Ent.VerifyEnterprise(ctx, req(&identityv1.VerifyEnterpriseRequest{EnterpriseId: a.User.EnterpriseId}))
		testkit.WantCode(t, err, connect.CodePermissionDenied)

		t.Run("paging", func(t *testing.T) {
			p1 := testkit.Got(a.Ent.ListStaff(ctx, req(&identityv1.ListStaffRequest{PageSize: 1}))).Must(t)
			if len(p1.Users) != 1 || p1.NextPageToken == "" {
				t.Fatalf("page 1 = %v", p1)
			}
			p2 := testkit.Got(a.Ent.ListStaff(ctx, req(&identityv1.ListStaffRequest{PageSize: 1, PageToken: p1.NextPageToken}))).Must(t)
			if len(p2.Users) != 1 || p2.NextPageToken != "" || p2.Users[0].Id <= p1.Users[0].Id {
				t.Fatalf("page 2 = %v", p2)
			}
			_, err := a.Ent.ListStaff(ctx, req(&identityv1.ListStaffRequest{PageToken: "not a token"}))
			testkit.WantField(t, err, connect.CodeInvalidArgument, "page_token")
			_, err = a.Ent.ListStaff(ctx, req(&identityv1.ListStaffRequest{PageSize: -1}))
			testkit.WantField(t, err, connect.CodeInvalidArgument, "page_size")
			all := testkit.Got(a.Ent.ListStaff(ctx, req(&identityv1.ListStaffRequest{PageSize: 100000}))).Must(t)
			if len(all.Users) != 2 {
				t.Fatalf("a huge page_size is clamped, not refused: %v", all)
			}
		})
	})
}

func TestListEnterprises(t *testing.T) {
	runDB(t, func(t *testing.T, e *env) {
		o := e.demo(t, officerLogin)
		all := testkit.Got(o.Ent.ListEnterprises(ctx, req(&identityv1.ListEnterprisesRequest{}))).Must(t).Enterprises
		if len(all) != 2 || all[0].Id < all[1].Id {
			t.Fatalf("enterprises not newest first: %v", all)
		}
		byPrefix := testkit.Got(o.Ent.ListEnterprises(ctx, req(&identityv1.ListEnterprisesRequest{TaxCodePrefix: "0100"}))).Must(t).Enterprises
		if len(byPrefix) != 1 || byPrefix[0].TaxCode != "0100109106" {
			t.Fatalf("prefix 0100 = %v", byPrefix)
		}
		_, err := o.Ent.ListEnterprises(ctx, req(&identityv1.ListEnterprisesRequest{TaxCodePrefix: "01%"}))
		testkit.WantField(t, err, connect.CodeInvalidArgument, "tax_code_prefix")
		verified := testkit.Got(o.Ent.ListEnterprises(ctx, req(&identityv1.ListEnterprisesRequest{
			Status: identityv1.EnterpriseStatus_ENTERPRISE_STATUS_VERIFIED, PageSize: 1,
		}))).Must(t)
		if len(verified.Enterprises) != 1 || verified.NextPageToken == "" {
			t.Fatalf("page 1 = %v", verified)
		}
		next := testkit.Got(o.Ent.ListEnterprises(ctx, req(&identityv1.ListEnterprisesRequest{
			Status: identityv1.EnterpriseStatus_ENTERPRISE_STATUS_VERIFIED, PageSize: 1, PageToken: verified.NextPageToken,
		}))).Must(t)
		if len(next.Enterprises) != 1 || next.Enterprises[0].Id != all[1].Id || next.NextPageToken != "" {
			t.Fatalf("page 2 = %v", next)
		}
		_, err = o.Ent.GetEnterprise(ctx, req(&identityv1.GetEnterpriseRequest{EnterpriseId: "x"}))
		testkit.WantField(t, err, connect.CodeInvalidArgument, "enterprise_id")
	})
}
