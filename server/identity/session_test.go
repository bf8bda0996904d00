package identity_test

import (
	"slices"
	"testing"

	"connectrpc.com/connect"

	identityv1 "hqconnect/gen/hqconnect/identity/v1"
	"hqconnect/internal/testkit"
)

func TestLoginGetMeLogout(t *testing.T) {
	runAll(t, func(t *testing.T, e *env) {
		c := e.demo(t, officerLogin)
		if c.User.GetEmail() != officerLogin || c.User.GetKind() != identityv1.UserKind_USER_KIND_OFFICER {
			t.Fatalf("login user = %v", c.User)
		}
		tp := c.Tokens()
		if tp.AccessToken == "" || len(tp.RefreshToken) < 43 || tp.SessionId == "" ||
			!tp.AccessTokenExpireTime.AsTime().After(e.Clock.Now()) {
			t.Fatalf("tokens = %v", tp)
		}

		me := c.me(t)
		if me.User.Id != c.User.Id || !slices.Equal(me.User.Roles, []identityv1.Role{identityv1.Role_ROLE_OFFICER}) {
			t.Fatalf("GetMe user = %v", me.User)
		}
		if me.Unit.GetCode() != "DEMOCK1TT" || me.Unit.Kind != identityv1.OrgUnitKind_ORG_UNIT_KIND_TEAM || me.Enterprise != nil {
			t.Fatalf("GetMe unit = %v, enterprise = %v", me.Unit, me.Enterprise)
		}

		res := testkit.Got(c.ID.Logout(ctx, req(&identityv1.LogoutRequest{}))).Must(t)
		if res.EndedSessions != 1 {
			t.Fatalf("Logout ended %d sessions, want 1", res.EndedSessions)
		}
		testkit.Eventually(t, "the logged-out token to be refused", c.unauthenticated)
		// The refresh token of the ended session is dead too.
		_, err := c.ID.Refresh(ctx, req(&identityv1.RefreshRequest{RefreshToken: tp.RefreshToken}))
		testkit.WantCode(t, err, connect.CodeUnauthenticated)

		t.Run("without a token GetMe is unauthenticated", func(t *testing.T) {
			_, err := e.anon().ID.GetMe(ctx, req(&identityv1.GetMeRequest{}))
			testkit.WantCode(t, err, connect.CodeUnauthenticated)
		})
		t.Run("logout everywhere ends every session", func(t *testing.T) {
			a, b := e.demo(t, officerLogin), e.demo(t, officerLogin)
			res := testkit.Got(a.ID.Logout(ctx, req(&identityv1.LogoutRequest{AllSessions: true}))).Must(t)
			if res.EndedSessions != 2 {
				t.Fatalf("ended %d sessions, want 2", res.EndedSessions)
			}
			testkit.Eventually(t, "both tokens to be refused", func() bool { return a.unauthenticated() && b.unauthenticated() })
		})
	})
}

func TestLoginFailuresLookAlike(t *testing.T) {
	runDB(t, func(t *testing.T, e *env) {
		_, wrong := e.tryLogin(officerLogin, "not-the-password-1")
		_, unknown := e.tryLogin("nobody@demo.hqconnect.vn", "not-the-password-1")
		_, unknownPhone := e.tryLogin("0912 000 111", "not-the-password-1")
		_, junk := e.tryLogin("not an identifier", "not-the-password-1")
		w := testkit.WantCode(t, wrong, connect.CodeUnauthenticated)
		for _, err := range []error{unknown, unknownPhone, junk} {
			u := testkit.WantCode(t, err, connect.CodeUnauthenticated)
			if u.Message() != w.Message() {
				t.Fatalf("unknown identifier says %q, wrong password says %q", u.Message(), w.Message())
			}
		}
		if w.Message() != "sai tên đăng nhập hoặc mật khẩu" {
			t.Fatalf("message = %q", w.Message())
		}
		_, err := e.tryLogin("", "x")
		testkit.WantField(t, err, connect.CodeInvalidArgument, "identifier")
		_, err = e.tryLogin(officerLogin, "")
		testkit.WantField(t, err, connect.CodeInvalidArgument, "password")
		// Case and spaces around an email do not matter.
		e.login(t, "  Officer@Demo.HQConnect.vn ", demoPassword)
	})
}

func TestLockout(t *testing.T) {
	runAll(t, func(t *testing.T, e *env) {
		for i := range 5 {
			_, err := e.tryLogin(officerLogin, "wrong-password-x")
			if connect.CodeOf(err) != connect.CodeUnauthenticated {
				t.Fatalf("attempt %d: %v, want unauthenticated", i+1, err)
			}
		}
		// The sixth attempt is refused even with the right password.
		_, err := e.tryLogin(officerLogin, demoPassword)
		testkit.WantCode(t, err, connect.CodeResourceExhausted)
		// Another account is not affected.
		e.demo(t, headLogin)

		t.Run("unknown identifiers lock the same way", func(t *testing.T) {
			for range 5 {
				_, err := e.tryLogin("ghost@demo.hqconnect.vn", "wrong-password-x")
				testkit.WantCode(t, err, connect.CodeUnauthenticated)
			}
			_, err := e.tryLogin("ghost@demo.hqconnect.vn", "wrong-password-x")
			testkit.WantCode(t, err, connect.CodeResourceExhausted)
		})
	})
}

func TestRefresh(t *testing.T) {
	runAll(t, func(t *testing.T, e *env) {
		c := e.demo(t, inspectorLogin)
		first := c.Tokens()
		c.refresh(t)
		second := c.Tokens()
		if second.RefreshToken == first.RefreshToken || second.SessionId != first.SessionId {
			t.Fatalf("refresh did not rotate: %v → %v", first, second)
		}
		if me := c.me(t); me.User.Email != inspectorLogin {
			t.Fatalf("GetMe after refresh = %v", me.User)
		}
		_, err := c.ID.Refresh(ctx, req(&identityv1.RefreshRequest{}))
		testkit.WantField(t, err, connect.CodeInvalidArgument, "refresh_token")

		// Presenting the spent token again ends the whole session: the
		// current refresh token and the access tokens stop working.
		_, err = c.ID.Refresh(ctx, req(&identityv1.RefreshRequest{RefreshToken: first.RefreshToken}))
		testkit.WantCode(t, err, connect.CodeUnauthenticated)
		_, err = c.ID.Refresh(ctx, req(&identityv1.RefreshRequest{RefreshToken: second.RefreshToken}))
		testkit.WantCode(t, err, connect.CodeUnauthenticated)
		testkit.Eventually(t, "the reused session's access token to be refused", c.unauthenticated)
	})
}

func TestSessions(t *testing.T) {
	runAll(t, func(t *testing.T, e *env) {
		a := e.demo(t, directorLogin)
		b := e.demo(t, directorLogin)
		other := e.demo(t, inspectorLogin)

		list := testkit.Got(a.ID.ListSessions(ctx, req(&identityv1.ListSessionsRequest{}))).Must(t).Sessions
		if len(list) != 2 {
			t.Fatalf("ListSessions = %d sessions, want 2", len(list))
		}
		var current int
		for i, s := range list {
			if s.Current {
				current++
				if s.Id != a.Tokens().SessionId {
					t.Fatalf("session %s marked current, want %s", s.Id, a.Tokens().SessionId)
				}
			}
			if s.DeviceName != "test device" || s.ClientIp == "" || s.CreateTime == nil {
				t.Fatalf("session = %v", s)
			}
			if i > 0 && s.LastUsedTime.AsTime().After(list[i-1].LastUsedTime.AsTime()) {
				t.Fatalf("sessions not most recently used first")
			}
		}
		if current != 1 {
			t.Fatalf("%d sessions marked current", current)
		}

		// Another user's session is not found, and stays alive.
		_, err := a.ID.RevokeSession(ctx, req(&identityv1.RevokeSessionRequest{SessionId: other.Tokens().SessionId}))
		testkit.WantCode(t, err, connect.CodeNotFound)
		other.me(t)
		_, err = a.ID.RevokeSession(ctx, req(&identityv1.RevokeSessionRequest{SessionId: "nope"}))
		testkit.WantField(t, err, connect.CodeInvalidArgument, "session_id")

		testkit.Got(a.ID.RevokeSession(ctx, req(&identityv1.RevokeSessionRequest{SessionId: b.Tokens().SessionId}))).Must(t)
		testkit.Eventually(t, "the revoked session's token to be refused", b.unauthenticated)
		a.me(t)
		list = testkit.Got(a.ID.ListSessions(ctx, req(&identityv1.ListSessionsRequest{}))).Must(t).Sessions
		if len(list) != 1 || !list[0].Current {
			t.Fatalf("after revoke: %v", list)
		}
	})
}

func TestChangePassword(t *testing.T) {
	runAll(t, func(t *testing.T, e *env) {
		a := e.demo(t, headLogin)
		b := e.demo(t, headLogin)
		const newPassword = "a-new-password-42"

		_, err := a.ID.ChangePassword(ctx, req(&identityv1.ChangePasswordRequest{CurrentPassword: "wrong-password-1", NewPassword: newPassword}))
		testkit.WantField(t, err, connect.CodeInvalidArgument, "current_password")
		_, err = a.ID.ChangePassword(ctx, req(&identityv1.ChangePasswordRequest{CurrentPassword: demoPassword, NewPassword: "short"}))
		testkit.WantField(t, err, connect.CodeInvalidArgument, "new_password")
		_, err = a.ID.ChangePassword(ctx, req(&identityv1.ChangePasswordRequest{CurrentPassword: demoPassword, NewPassword: demoPassword}))
		testkit.WantField(t, err, connect.CodeInvalidArgument, "new_password")

		res := testkit.Got(a.ID.ChangePassword(ctx, req(&identityv1.ChangePasswordRequest{CurrentPassword: demoPassword, NewPassword: newPassword}))).Must(t)
		if res.EndedSessions != 1 {
			t.Fatalf("ended %d sessions, want 1", res.EndedSessions)
		}
		testkit.Eventually(t, "the other session's token to be refused", b.unauthenticated)
		a.me(t) // the current session goes on

		_, err = e.tryLogin(headLogin, demoPassword)
		testkit.WantCode(t, err, connect.CodeUnauthenticated)
		e.login(t, headLogin, newPassword)
	})
}

// TestDisabledStaff: a disabled user cannot sign in (the answer is the one
// for a wrong password) and their tokens stop working at once.
func TestDisabledStaff(t *testing.T) {
	runAll(t, func(t *testing.T, e *env) {
		admin := e.demo(t, xnkAdminLogin)
		staff := e.demo(t, xnkStaffLogin)
		staff.me(t)

		u := testkit.Got(admin.Ent.DisableStaff(ctx, req(&identityv1.DisableStaffRequest{UserId: staff.User.Id}))).Must(t).User
		if u.Status != identityv1.UserStatus_USER_STATUS_DISABLED {
			t.Fatalf("status = %v", u.Status)
		}
		testkit.Eventually(t, "the disabled user's token to be refused", staff.unauthenticated)
		_, err := staff.ID.Refresh(ctx, req(&identityv1.RefreshRequest{RefreshToken: staff.Tokens().RefreshToken}))
		testkit.WantCode(t, err, connect.CodeUnauthenticated)

		_, disabled := e.tryLogin(xnkStaffLogin, demoPassword)
		_, wrong := e.tryLogin(xnkAdminLogin, "wrong-password-1")
		if testkit.WantCode(t, disabled, connect.CodeUnauthenticated).Message() != testkit.WantCode(t, wrong, connect.CodeUnauthenticated).Message() {
			t.Fatalf("disabled account answers %v, wrong password %v", disabled, wrong)
		}

		u = testkit.Got(admin.Ent.EnableStaff(ctx, req(&identityv1.EnableStaffRequest{UserId: staff.User.Id}))).Must(t).User
		if u.Status != identityv1.UserStatus_USER_STATUS_ACTIVE {
			t.Fatalf("status = %v", u.Status)
		}
		e.demo(t, xnkStaffLogin).me(t)

		_, err = admin.Ent.DisableStaff(ctx, req(&identityv1.DisableStaffRequest{UserId: admin.User.Id}))
		testkit.WantCode(t, err, connect.CodeFailedPrecondition)
	})
}
