package identity_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	auditv1 "hqconnect/gen/hqconnect/audit/v1"
	identityv1 "hqconnect/gen/hqconnect/identity/v1"
	"hqconnect/internal/testkit"
	"hqconnect/server/identity"
)

// TestAuditTrail: the actions of the identity services leave audit rows that
// an ADMIN lists with filters; nobody else may.
func TestAuditTrail(t *testing.T) {
	runDB(t, func(t *testing.T, e *env) {
		start := time.Now()
		reg := testkit.Got(e.anon().ID.RegisterEnterprise(ctx, req(registration(validTaxCode(t, "04000004"), "audit@moi.vn", "")))).Must(t)
		head := e.demo(t, headLogin)
		testkit.Got(head.Ent.VerifyEnterprise(ctx, req(&identityv1.VerifyEnterpriseRequest{EnterpriseId: reg.Enterprise.Id}))).Must(t)
		xnk := e.demo(t, xnkAdminLogin)
		inv := testkit.Got(xnk.Ent.InviteStaff(ctx, req(&identityv1.InviteStaffRequest{Email: "audited@xnk.demo.vn", FullName: "Được Ghi"}))).Must(t)
		admin := e.demo(t, adminLogin)
		testkit.Got(admin.ID.Logout(ctx, req(&identityv1.LogoutRequest{}))).Must(t)
		admin = e.demo(t, adminLogin)

		list := func(r *auditv1.ListAuditEventsRequest) []*auditv1.AuditEvent {
			t.Helper()
			return testkit.Got(admin.Audit.ListAuditEvents(ctx, req(r))).Must(t).Events
		}
		ent := list(&auditv1.ListAuditEventsRequest{TargetKind: "enterprise", TargetId: reg.Enterprise.Id})
		if len(ent) != 2 || ent[0].Action != "enterprise.verify" || ent[1].Action != "enterprise.register" {
			t.Fatalf("enterprise events = %v", ent)
		}
		if ent[0].ActorId != head.User.Id || ent[0].ActorKind != "officer" ||
			ent[1].ActorId != reg.User.Id || ent[1].ActorKind != "enterprise_user" {
			t.Fatalf("actors = %v / %v", ent[0], ent[1])
		}
		var detail map[string]any
		if err := json.Unmarshal([]byte(ent[0].DetailJson), &detail); err != nil || detail["tax_code"] != reg.Enterprise.TaxCode {
			t.Fatalf("detail = %s (%v)", ent[0].DetailJson, err)
		}

		prefixed := list(&auditv1.ListAuditEventsRequest{Action: "enterprise.", StartTime: timestamppb.New(start)})
		if len(prefixed) != 2 {
			t.Fatalf("enterprise.* since the start = %d events, want 2 (the seed's are older)", len(prefixed))
		}
		invites := list(&auditv1.ListAuditEventsRequest{Action: "invitation.create", ActorId: xnk.User.Id})
		if len(invites) != 1 || invites[0].TargetId != inv.InvitationId || strings.Contains(invites[0].DetailJson, inv.Code) {
			t.Fatalf("invitation events = %v", invites)
		}
		for _, action := range []string{"session.login", "session.logout"} {
			if evs := list(&auditv1.ListAuditEventsRequest{Action: action, ActorId: admin.User.Id}); len(evs) == 0 {
				t.Fatalf("no %s event for the admin", action)
			}
		}
		if evs := list(&auditv1.ListAuditEventsRequest{EndTime: timestamppb.New(start)}); len(evs) == 0 || evs[0].ActorKind != "system" {
			t.Fatalf("seed events before the start = %v", evs)
		}

		t.Run("paging", func(t *testing.T) {
			all := list(&auditv1.ListAuditEventsRequest{PageSize: 200})
			var paged []*auditv1.AuditEvent
			token := ""
			for {
				res := testkit.Got(admin.Audit.ListAuditEvents(ctx, req(&auditv1.ListAuditEventsRequest{PageSize: 7, PageToken: token}))).Must(t)
				paged = append(paged, res.Events...)
				if token = res.NextPageToken; token == "" {
					break
				}
			}
			if len(paged) != len(all) {
				t.Fatalf("paged %d events, listed %d", len(paged), len(all))
			}
			for i := range all {
				if paged[i].Id != all[i].Id || (i > 0 && all[i].Id > all[i-1].Id) {
					t.Fatalf("event %d: paging or order differs", i)
				}
			}
			_, err := admin.Audit.ListAuditEvents(ctx, req(&auditv1.ListAuditEventsRequest{PageToken: "!!"}))
			testkit.WantField(t, err, connect.CodeInvalidArgument, "page_token")
		})

		t.Run("only ADMIN reads the log", func(t *testing.T) {
			for _, login := range []string{headLogin, directorLogin, xnkAdminLogin} {
				_, err := e.demo(t, login).Audit.ListAuditEvents(ctx, req(&auditv1.ListAuditEventsRequest{}))
				testkit.WantCode(t, err, connect.CodePermissionDenied)
			}
			_, err := e.anon().Audit.ListAuditEvents(ctx, req(&auditv1.ListAuditEventsRequest{}))
			testkit.WantCode(t, err, connect.CodeUnauthenticated)
		})
	})
}

// TestSeedDemoTwice: a second seed changes nothing and reports the same
// accounts.
func TestSeedDemoTwice(t *testing.T) {
	runDB(t, func(t *testing.T, e *env) {
		tables := []string{"org_units", "enterprises", "users", "user_roles", "audit_events"}
		before := map[string]int{}
		for _, tb := range tables {
			before[tb] = e.count(t, tb)
		}
		var hash string
		if err := e.DB.QueryRowContext(ctx, `SELECT password_hash FROM users WHERE email = $1`, adminLogin).Scan(&hash); err != nil {
			t.Fatal(err)
		}
		// A different password: existing accounts keep theirs.
		again, err := identity.SeedDemo(context.Background(), e.DB, "another-password-1")
		if err != nil {
			t.Fatal(err)
		}
		for _, tb := range tables {
			if n := e.count(t, tb); n != before[tb] {
				t.Fatalf("%s: %d rows after the second seed, %d before", tb, n, before[tb])
			}
		}
		var hash2 string
		if err := e.DB.QueryRowContext(ctx, `SELECT password_hash FROM users WHERE email = $1`, adminLogin).Scan(&hash2); err != nil {
			t.Fatal(err)
		}
		if hash2 != hash {
			t.Fatal("the second seed changed a password")
		}
		if len(again) != len(e.Accounts) {
			t.Fatalf("second seed reports %d accounts, first %d", len(again), len(e.Accounts))
		}
		for _, a := range again {
			if !reflect.DeepEqual(a, e.Accounts[a.Login]) {
				t.Fatalf("account %v differs from %v", a, e.Accounts[a.Login])
			}
		}
		if len(again) != 9 || before["enterprises"] != 2 || before["org_units"] != 6 {
			t.Fatalf("seeded %d accounts, %d enterprises, %d units", len(again), before["enterprises"], before["org_units"])
		}

		b, err := json.Marshal(e.Accounts[officerLogin])
		if err != nil || string(b) != `{"login":"officer@demo.hqconnect.vn","kind":"officer","roles":["OFFICER"],"unit":"DEMOCK1TT"}` {
			t.Fatalf("officer JSON = %s (%v)", b, err)
		}
		b, _ = json.Marshal(e.Accounts[xnkStaffLogin])
		if string(b) != `{"login":"staff@xnk.demo.vn","kind":"enterprise_user","roles":["STAFF"],"tax_code":"0100109106"}` {
			t.Fatalf("staff JSON = %s", b)
		}
		// Every role has its officer, every enterprise an admin and a staff.
		roles := map[string]bool{}
		for _, a := range again {
			roles[a.Roles[0]] = true
		}
		for _, r := range []string{"OFFICER", "UNIT_HEAD", "DIRECTOR", "INSPECTOR", "ADMIN", "ENTERPRISE_ADMIN", "STAFF"} {
			if !roles[r] {
				t.Fatalf("no demo account with role %s", r)
			}
		}
	})
}
