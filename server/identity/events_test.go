package identity_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	identityv1 "hqconnect/gen/hqconnect/identity/v1"
	"hqconnect/internal/outbox"
	"hqconnect/internal/testkit"
	"hqconnect/server/identity"
)

// outboxEvents returns the outbox events of kind, oldest first.
func (e *env) outboxEvents(t *testing.T, kind string) []outbox.Event {
	t.Helper()
	rows, err := e.DB.QueryContext(ctx, `SELECT payload FROM outbox_events WHERE kind = $1 ORDER BY id`, kind)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []outbox.Event
	for rows.Next() {
		var payload string
		if err := rows.Scan(&payload); err != nil {
			t.Fatal(err)
		}
		ev, err := outbox.Decode([]byte(payload))
		if err != nil {
			t.Fatal(err)
		}
		if ev.Kind != kind {
			t.Fatalf("row of kind %s holds an event of kind %s", kind, ev.Kind)
		}
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// endedSessions returns the session ids of every session_ended event of
// userID, in order.
func (e *env) endedSessions(t *testing.T, userID string) [][]string {
	t.Helper()
	var out [][]string
	for _, ev := range e.outboxEvents(t, identity.EventSessionEnded) {
		if ev.Notification != nil {
			t.Fatalf("session_ended carries a notification: %+v", ev.Notification)
		}
		var d identity.SessionsEnded
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			t.Fatal(err)
		}
		if d.UserID == userID {
			out = append(out, d.SessionIDs)
		}
	}
	return out
}

// wantSecurityNotice checks a security notification about sessionID.
func wantSecurityNotice(t *testing.T, ev outbox.Event, userID, sessionID, titleEN, titleVI string, at time.Time) {
	t.Helper()
	n := ev.Notification
	if n == nil {
		t.Fatalf("%s without a notification", ev.Kind)
	}
	if !slices.Equal(n.Audience.UserIDs, []string{userID}) || n.Audience.Broadcast != "" || len(n.Audience.EnterpriseIDs) != 0 {
		t.Fatalf("audience %+v, want user %s", n.Audience, userID)
	}
	if n.Category != outbox.CategorySecurity || !n.Critical || n.ExceptSessionID != sessionID ||
		n.EntityKind != "session" || n.EntityID != sessionID {
		t.Fatalf("notification %+v", n)
	}
	if n.TitleEN != titleEN || n.TitleVI != titleVI {
		t.Fatalf("titles %q / %q", n.TitleEN, n.TitleVI)
	}
	// The time the clock said, in Vietnam, to the minute (the call may
	// straddle a minute: accept the next one).
	vn := time.FixedZone("ICT", 7*3600)
	found := false
	for _, tm := range []time.Time{at, at.Add(time.Minute)} {
		when := tm.In(vn).Format("15:04 02/01/2006")
		if strings.Contains(n.BodyEN, when) && strings.Contains(n.BodyVI, when) {
			found = true
		}
	}
	if !found {
		t.Fatalf("bodies do not show %s: %q / %q", at.In(vn).Format("15:04 02/01/2006"), n.BodyEN, n.BodyVI)
	}
	for _, want := range []string{"“test device”", "If this wasn't you, change your password."} {
		if !strings.Contains(n.BodyEN, want) {
			t.Fatalf("BodyEN %q lacks %q", n.BodyEN, want)
		}
	}
	for _, want := range []string{"“test device”", "Nếu không phải bạn, hãy đổi mật khẩu ngay."} {
		if !strings.Contains(n.BodyVI, want) {
			t.Fatalf("BodyVI %q lacks %q", n.BodyVI, want)
		}
	}
}

func TestSecurityNotifications(t *testing.T) {
	runDB(t, func(t *testing.T, e *env) {
		t.Run("a login warns the other sessions; a failed one writes nothing", func(t *testing.T) {
			before := len(e.outboxEvents(t, identity.EventLogin))
			_, err := e.tryLogin(inspectorLogin, "wrong-password-1")
			testkit.WantCode(t, err, connect.CodeUnauthenticated)
			_, err = e.tryLogin("nobody@demo.hqconnect.vn", "wrong-password-1")
			testkit.WantCode(t, err, connect.CodeUnauthenticated)
			if n := e.count(t, "outbox_events"); n != before {
				t.Fatalf("failed logins wrote %d outbox events", n-before)
			}

			// The clock is a day ahead: the body shows the clock's time.
			e.Clock.Advance(24 * time.Hour)
			at := e.Clock.Now()
			c := e.demo(t, inspectorLogin)
			evs := e.outboxEvents(t, identity.EventLogin)
			if len(evs) != before+1 {
				t.Fatalf("%d login events, want %d", len(evs), before+1)
			}
			wantSecurityNotice(t, evs[len(evs)-1], c.User.Id, c.Tokens().SessionId,
				"New sign-in to your account", "Đăng nhập mới vào tài khoản của bạn", at)
			// The audit row and the event committed together.
			if n := e.count(t, "audit_events WHERE action = 'session.login' AND actor_id = $1", c.User.Id); n != 1 {
				t.Fatalf("%d login audit rows", n)
			}
		})

		t.Run("a password change warns and ends the other sessions", func(t *testing.T) {
			a := e.demo(t, headLogin)
			b := e.demo(t, headLogin)
			c := e.demo(t, headLogin)
			at := e.Clock.Now()
			testkit.Got(a.ID.ChangePassword(ctx, req(&identityv1.ChangePasswordRequest{
				CurrentPassword: demoPassword, NewPassword: "a-new-password-42",
			}))).Must(t)
			evs := e.outboxEvents(t, identity.EventPasswordChanged)
			if len(evs) != 1 {
				t.Fatalf("%d password events", len(evs))
			}
			wantSecurityNotice(t, evs[0], a.User.Id, a.Tokens().SessionId,
				"Your password was changed", "Mật khẩu của bạn đã được thay đổi", at)
			ended := e.endedSessions(t, a.User.Id)
			want := []string{b.Tokens().SessionId, c.Tokens().SessionId}
			if len(ended) != 1 || !sameSet(ended[0], want) {
				t.Fatalf("ended sessions %v, want [%v]", ended, want)
			}
			// The warning is ahead of the ended sessions in the outbox.
			var first string
			if err := e.DB.QueryRowContext(ctx, `SELECT kind FROM outbox_events
				WHERE kind IN ($1, $2) ORDER BY id LIMIT 1`,
				identity.EventPasswordChanged, identity.EventSessionEnded).Scan(&first); err != nil {
				t.Fatal(err)
			}
			if first != identity.EventPasswordChanged {
				t.Fatalf("first event %s", first)
			}
		})

		t.Run("logout, logout everywhere and revocation name the ended sessions", func(t *testing.T) {
			a := e.demo(t, directorLogin)
			b := e.demo(t, directorLogin)
			c := e.demo(t, directorLogin)
			testkit.Got(a.ID.RevokeSession(ctx, req(&identityv1.RevokeSessionRequest{SessionId: b.Tokens().SessionId}))).Must(t)
			testkit.Got(c.ID.Logout(ctx, req(&identityv1.LogoutRequest{}))).Must(t)
			d := e.demo(t, directorLogin)
			testkit.Got(a.ID.Logout(ctx, req(&identityv1.LogoutRequest{AllSessions: true}))).Must(t)
			ended := e.endedSessions(t, a.User.Id)
			if len(ended) != 3 {
				t.Fatalf("ended %v, want three events", ended)
			}
			if !sameSet(ended[0], []string{b.Tokens().SessionId}) ||
				!sameSet(ended[1], []string{c.Tokens().SessionId}) ||
				!sameSet(ended[2], []string{a.Tokens().SessionId, d.Tokens().SessionId}) {
				t.Fatalf("ended %v", ended)
			}
			// Each with its audit row.
			if n := e.count(t, "audit_events WHERE action IN ('session.logout', 'session.revoke') AND actor_id = $1", a.User.Id); n != 3 {
				t.Fatalf("%d audit rows", n)
			}
		})

		t.Run("disabling staff and changing an officer end their sessions", func(t *testing.T) {
			admin := e.demo(t, xnkAdminLogin)
			staff := e.demo(t, xnkStaffLogin)
			testkit.Got(admin.Ent.DisableStaff(ctx, req(&identityv1.DisableStaffRequest{UserId: staff.User.Id}))).Must(t)
			if ended := e.endedSessions(t, staff.User.Id); len(ended) != 1 || !sameSet(ended[0], []string{staff.Tokens().SessionId}) {
				t.Fatalf("staff ended %v", ended)
			}

			root := e.demo(t, adminLogin)
			off := e.demo(t, officerLogin)
			testkit.Got(root.Org.UpdateOfficer(ctx, req(&identityv1.UpdateOfficerRequest{
				UserId: off.User.Id, Roles: &identityv1.RoleSet{Roles: []identityv1.Role{identityv1.Role_ROLE_OFFICER, identityv1.Role_ROLE_INSPECTOR}},
			}))).Must(t)
			ended := e.endedSessions(t, off.User.Id)
			if len(ended) != 1 || !slices.Contains(ended[0], off.Tokens().SessionId) {
				t.Fatalf("officer ended %v", ended)
			}
			testkit.Eventually(t, "the officer's token to be refused", off.unauthenticated)
		})
	})
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
