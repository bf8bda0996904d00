package identity_test

import (
	"slices"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	identityv1 "hqconnect/gen/hqconnect/identity/v1"
	"hqconnect/internal/testkit"
)

// unitIDs maps unit codes to ids.
func unitIDs(t *testing.T, c *client) map[string]*identityv1.OrgUnit {
	t.Helper()
	units := testkit.Got(c.Org.ListOrgUnits(ctx, req(&identityv1.ListOrgUnitsRequest{IncludeEnded: true}))).Must(t).Units
	m := map[string]*identityv1.OrgUnit{}
	for _, u := range units {
		m[u.Code] = u
	}
	return m
}

func TestOrgUnits(t *testing.T) {
	runDB(t, func(t *testing.T, e *env) {
		admin := e.demo(t, adminLogin)
		units := unitIDs(t, admin)
		hq, branch, team := units["DEMOHQ"], units["DEMOCK1"], units["DEMOCK1TT"]
		if hq == nil || branch == nil || team == nil || branch.ParentId != hq.Id || team.ParentId != branch.Id {
			t.Fatalf("seeded tree = %v", units)
		}
		unit := func(parent string, kind identityv1.OrgUnitKind, code string) *identityv1.CreateOrgUnitRequest {
			return &identityv1.CreateOrgUnitRequest{ParentId: parent, Kind: kind, Code: code, NameVi: "Đơn vị " + code, NameEn: "Unit " + code}
		}
		for _, tc := range []struct {
			name  string
			r     *identityv1.CreateOrgUnitRequest
			code  connect.Code
			field string
		}{
			{"team under a department", unit(hq.Id, identityv1.OrgUnitKind_ORG_UNIT_KIND_TEAM, "TEAMX"), connect.CodeInvalidArgument, "parent_id"},
			{"branch under a branch", unit(branch.Id, identityv1.OrgUnitKind_ORG_UNIT_KIND_BRANCH, "BRX"), connect.CodeInvalidArgument, "parent_id"},
			{"department with a parent", unit(hq.Id, identityv1.OrgUnitKind_ORG_UNIT_KIND_DEPARTMENT, "DEPX"), connect.CodeInvalidArgument, "parent_id"},
			{"branch without a parent", unit("", identityv1.OrgUnitKind_ORG_UNIT_KIND_BRANCH, "BRX"), connect.CodeInvalidArgument, "parent_id"},
			{"missing parent", unit("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", identityv1.OrgUnitKind_ORG_UNIT_KIND_BRANCH, "BRX"), connect.CodeInvalidArgument, "parent_id"},
			{"no kind", unit("", identityv1.OrgUnitKind_ORG_UNIT_KIND_UNSPECIFIED, "DEPX"), connect.CodeInvalidArgument, "kind"},
			{"code with a dash", unit(hq.Id, identityv1.OrgUnitKind_ORG_UNIT_KIND_BRANCH, "03-CC"), connect.CodeInvalidArgument, "code"},
			{"code too long", unit(hq.Id, identityv1.OrgUnitKind_ORG_UNIT_KIND_BRANCH, "ABCDEFGHIJK"), connect.CodeInvalidArgument, "code"},
			{"code taken", unit(hq.Id, identityv1.OrgUnitKind_ORG_UNIT_KIND_BRANCH, "DEMOKCN"), connect.CodeAlreadyExists, "code"},
			{"no Vietnamese name", func() *identityv1.CreateOrgUnitRequest {
				r := unit(hq.Id, identityv1.OrgUnitKind_ORG_UNIT_KIND_BRANCH, "BRX")
				r.NameVi = ""
				return r
			}(), connect.CodeInvalidArgument, "name_vi"},
			{"ends before it starts", func() *identityv1.CreateOrgUnitRequest {
				r := unit(hq.Id, identityv1.OrgUnitKind_ORG_UNIT_KIND_BRANCH, "BRX")
				r.EffectiveFrom = timestamppb.New(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
				r.EffectiveTo = timestamppb.New(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
				return r
			}(), connect.CodeInvalidArgument, "effective_to"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := admin.Org.CreateOrgUnit(ctx, req(tc.r))
				testkit.WantField(t, err, tc.code, tc.field)
			})
		}

		br := testkit.Got(admin.Org.CreateOrgUnit(ctx, req(unit(hq.Id, identityv1.OrgUnitKind_ORG_UNIT_KIND_BRANCH, "03cc")))).Must(t).Unit
		if br.Code != "03CC" || br.ParentId != hq.Id || br.EffectiveFrom == nil || br.EffectiveTo != nil {
			t.Fatalf("branch = %v", br)
		}
		from := br.EffectiveFrom.AsTime()
		if from.Hour() != 0 || from.Minute() != 0 || e.Clock.Since(from) > 24*time.Hour {
			t.Fatalf("effective_from = %v, want today's UTC midnight", from)
		}
		tm := testkit.Got(admin.Org.CreateOrgUnit(ctx, req(unit(br.Id, identityv1.OrgUnitKind_ORG_UNIT_KIND_TEAM, "03CCA1")))).Must(t).Unit
		ended := unit(br.Id, identityv1.OrgUnitKind_ORG_UNIT_KIND_TEAM, "03CCOLD")
		ended.EffectiveFrom = timestamppb.New(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
		ended.EffectiveTo = timestamppb.New(time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC))
		old := testkit.Got(admin.Org.CreateOrgUnit(ctx, req(ended))).Must(t).Unit

		// An enterprise user of a verified enterprise reads the tree too.
		list := testkit.Got(e.demo(t, xnkStaffLogin).Org.ListOrgUnits(ctx, req(&identityv1.ListOrgUnitsRequest{}))).Must(t).Units
		pos := map[string]int{}
		for i, u := range list {
			pos[u.Id] = i
			if u.ParentId != "" {
				if p, ok := pos[u.ParentId]; !ok || p > i {
					t.Fatalf("%s listed before its parent", u.Code)
				}
			}
		}
		if _, ok := pos[old.Id]; ok {
			t.Fatal("an ended unit is listed without include_ended")
		}
		if _, ok := pos[tm.Id]; !ok || len(list) != 8 {
			t.Fatalf("list has %d units, want 6 seeded + 2 new", len(list))
		}
		if _, ok := unitIDs(t, admin)["03CCOLD"]; !ok {
			t.Fatal("include_ended does not list the ended unit")
		}

		t.Run("only ADMIN creates units", func(t *testing.T) {
			_, err := e.demo(t, directorLogin).Org.CreateOrgUnit(ctx, req(unit(hq.Id, identityv1.OrgUnitKind_ORG_UNIT_KIND_BRANCH, "BRY")))
			testkit.WantCode(t, err, connect.CodePermissionDenied)
		})
		t.Run("no officer joins an ended unit", func(t *testing.T) {
			_, err := admin.Org.CreateOfficer(ctx, req(&identityv1.CreateOfficerRequest{
				Email: "late@demo.hqconnect.vn", FullName: "Cán Bộ Muộn", UnitId: old.Id,
				Roles: []identityv1.Role{identityv1.Role_ROLE_OFFICER}, Password: "officer-pw-123",
			}))
			testkit.WantField(t, err, connect.CodeFailedPrecondition, "unit_id")
		})
	})
}

func TestOfficers(t *testing.T) {
	runDB(t, func(t *testing.T, e *env) {
		admin := e.demo(t, adminLogin)
		units := unitIDs(t, admin)
		officer := func(email string, roles ...identityv1.Role) *identityv1.CreateOfficerRequest {
			return &identityv1.CreateOfficerRequest{Email: email, FullName: "Cán Bộ Mới", UnitId: units["DEMOKCNNV"].Id,
				Roles: roles, Password: "officer-pw-123"}
		}
		for _, tc := range []struct {
			name  string
			r     *identityv1.CreateOfficerRequest
			code  connect.Code
			field string
		}{
			{"no roles", officer("a@demo.hqconnect.vn"), connect.CodeInvalidArgument, "roles"},
			{"an enterprise role", officer("a@demo.hqconnect.vn", identityv1.Role_ROLE_STAFF), connect.CodeInvalidArgument, "roles"},
			{"email taken", officer(headLogin, identityv1.Role_ROLE_OFFICER), connect.CodeAlreadyExists, "email"},
			{"no unit", func() *identityv1.CreateOfficerRequest {
				r := officer("a@demo.hqconnect.vn", identityv1.Role_ROLE_OFFICER)
				r.UnitId = ""
				return r
			}(), connect.CodeInvalidArgument, "unit_id"},
			{"weak password", func() *identityv1.CreateOfficerRequest {
				r := officer("a@demo.hqconnect.vn", identityv1.Role_ROLE_OFFICER)
				r.Password = "aaaaaaaaaaaa"
				return r
			}(), connect.CodeInvalidArgument, "password"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := admin.Org.CreateOfficer(ctx, req(tc.r))
				testkit.WantField(t, err, tc.code, tc.field)
			})
		}
		_, err := e.demo(t, headLogin).Org.CreateOfficer(ctx, req(officer("b@demo.hqconnect.vn", identityv1.Role_ROLE_OFFICER)))
		testkit.WantCode(t, err, connect.CodePermissionDenied)

		u := testkit.Got(admin.Org.CreateOfficer(ctx, req(officer("New.Officer@demo.hqconnect.vn",
			identityv1.Role_ROLE_OFFICER, identityv1.Role_ROLE_INSPECTOR, identityv1.Role_ROLE_OFFICER)))).Must(t).User
		if u.Email != "new.officer@demo.hqconnect.vn" || len(u.Roles) != 2 || u.UnitId != units["DEMOKCNNV"].Id {
			t.Fatalf("officer = %v", u)
		}

		t.Run("list by unit and role", func(t *testing.T) {
			o := e.demo(t, officerLogin)
			inUnit := testkit.Got(o.Org.ListOfficers(ctx, req(&identityv1.ListOfficersRequest{UnitId: units["DEMOKCNNV"].Id}))).Must(t).Users
			if len(inUnit) != 1 || inUnit[0].Id != u.Id {
				t.Fatalf("officers of DEMOKCNNV = %v", inUnit)
			}
			inspectors := testkit.Got(o.Org.ListOfficers(ctx, req(&identityv1.ListOfficersRequest{Role: identityv1.Role_ROLE_INSPECTOR}))).Must(t).Users
			if len(inspectors) != 2 {
				t.Fatalf("inspectors = %v", inspectors)
			}
			var ids []string
			token := ""
			for range 10 {
				page := testkit.Got(o.Org.ListOfficers(ctx, req(&identityv1.ListOfficersRequest{PageSize: 2, PageToken: token}))).Must(t)
				for _, u := range page.Users {
					ids = append(ids, u.Id)
				}
				if token = page.NextPageToken; token == "" {
					break
				}
			}
			if len(ids) != 6 || !slices.IsSorted(ids) {
				t.Fatalf("paged officers = %v, want the 6 in id order", ids)
			}
			_, err := o.Org.ListOfficers(ctx, req(&identityv1.ListOfficersRequest{Role: identityv1.Role_ROLE_STAFF}))
			testkit.WantField(t, err, connect.CodeInvalidArgument, "role")
			_, err = e.demo(t, xnkAdminLogin).Org.ListOfficers(ctx, req(&identityv1.ListOfficersRequest{}))
			testkit.WantCode(t, err, connect.CodePermissionDenied)
		})

		t.Run("update ends the officer's sessions", func(t *testing.T) {
			o := e.login(t, "new.officer@demo.hqconnect.vn", "officer-pw-123")
			res := testkit.Got(admin.Org.UpdateOfficer(ctx, req(&identityv1.UpdateOfficerRequest{
				UserId: u.Id, UnitId: units["DEMOCK1"].Id,
				Roles: &identityv1.RoleSet{Roles: []identityv1.Role{identityv1.Role_ROLE_UNIT_HEAD}},
			}))).Must(t).User
			if res.UnitId != units["DEMOCK1"].Id || !slices.Equal(res.Roles, []identityv1.Role{identityv1.Role_ROLE_UNIT_HEAD}) {
				t.Fatalf("updated = %v", res)
			}
			testkit.Eventually(t, "the updated officer's token to be refused", o.unauthenticated)
			again := e.login(t, "new.officer@demo.hqconnect.vn", "officer-pw-123")
			if me := again.me(t); me.Unit.Code != "DEMOCK1" || me.User.Roles[0] != identityv1.Role_ROLE_UNIT_HEAD {
				t.Fatalf("after update GetMe = %v", me)
			}

			testkit.Got(admin.Org.UpdateOfficer(ctx, req(&identityv1.UpdateOfficerRequest{UserId: u.Id, Status: identityv1.UserStatus_USER_STATUS_DISABLED}))).Must(t)
			testkit.Eventually(t, "the disabled officer's token to be refused", again.unauthenticated)
			_, err := e.tryLogin("new.officer@demo.hqconnect.vn", "officer-pw-123")
			testkit.WantCode(t, err, connect.CodeUnauthenticated)
		})

		t.Run("refusals", func(t *testing.T) {
			_, err := admin.Org.UpdateOfficer(ctx, req(&identityv1.UpdateOfficerRequest{
				UserId: admin.User.Id, Roles: &identityv1.RoleSet{Roles: []identityv1.Role{identityv1.Role_ROLE_OFFICER}},
			}))
			testkit.WantField(t, err, connect.CodeFailedPrecondition, "roles")
			_, err = admin.Org.UpdateOfficer(ctx, req(&identityv1.UpdateOfficerRequest{UserId: admin.User.Id, Status: identityv1.UserStatus_USER_STATUS_DISABLED}))
			testkit.WantField(t, err, connect.CodeFailedPrecondition, "status")
			_, err = admin.Org.UpdateOfficer(ctx, req(&identityv1.UpdateOfficerRequest{UserId: u.Id, Roles: &identityv1.RoleSet{}}))
			testkit.WantField(t, err, connect.CodeInvalidArgument, "roles")
			_, err = admin.Org.UpdateOfficer(ctx, req(&identityv1.UpdateOfficerRequest{UserId: u.Id}))
			testkit.WantCode(t, err, connect.CodeInvalidArgument)
			_, err = admin.Org.UpdateOfficer(ctx, req(&identityv1.UpdateOfficerRequest{
				UserId: e.demo(t, xnkStaffLogin).User.Id, Status: identityv1.UserStatus_USER_STATUS_DISABLED,
			}))
			testkit.WantCode(t, err, connect.CodeNotFound)
			admin.me(t) // refusals changed nothing
		})
	})
}
