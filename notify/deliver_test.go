package notify

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"hqconnect/internal/outbox"
	"hqconnect/notify/devices"
	"hqconnect/notify/fcmfake"
	"hqconnect/notify/inbox"
	"hqconnect/notify/prefs"
)

func TestPersonalToEnterprise(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ent, other := e.addEnterprise(t), e.addEnterprise(t)
		alice := e.addUser(t, user{enterprise: ent})
		bob := e.addUser(t, user{enterprise: ent})
		carol := e.addUser(t, user{enterprise: ent, disabled: true})
		dave := e.addUser(t, user{enterprise: ent}) // no device
		xavier := e.addUser(t, user{enterprise: other})
		e.addDevice(t, alice, "alice-vi", "s-a1", "vi")
		e.addDevice(t, alice, "alice-en", "s-a2", "en")
		e.addDevice(t, bob, "bob-vi", "s-b", "vi")
		e.addDevice(t, carol, "carol", "s-c", "vi")
		e.addDevice(t, xavier, "xavier", "s-x", "vi")

		ev := e.emit(t, outbox.Event{Kind: "issues.answered", Notification: notification(outbox.Audience{EnterpriseIDs: []string{ent}})})
		e.handle(t, ev)

		items := map[string]inbox.Item{}
		for _, u := range []string{alice, bob, dave} {
			its := e.items(t, u)
			if len(its) != 1 || its[0].EventID != ev.ID || its[0].TitleVI != "Vướng mắc đã được trả lời" {
				t.Fatalf("user %s has items %+v, want one", u, its)
			}
			items[u] = its[0]
		}
		for _, u := range []string{carol, xavier} {
			if its := e.items(t, u); len(its) != 0 {
				t.Errorf("user %s (disabled or another enterprise) got %+v", u, its)
			}
		}
		if got := e.live.forUser(alice); len(got) != 1 || got[0].ID != items[alice].ID {
			t.Errorf("live for alice = %+v", got)
		}

		// One push per device, in the device's language, with the deep link.
		vi := e.fake.MessagesTo("alice-vi")
		en := e.fake.MessagesTo("alice-en")
		if len(vi) != 1 || len(en) != 1 || len(e.fake.MessagesTo("bob-vi")) != 1 {
			t.Fatalf("messages: alice-vi %d, alice-en %d, bob %d", len(vi), len(en), len(e.fake.MessagesTo("bob-vi")))
		}
		if vi[0].Title != "Vướng mắc đã được trả lời" || vi[0].Body != "Cán bộ hải quan đã trả lời vướng mắc của bạn." {
			t.Errorf("Vietnamese device got %q / %q", vi[0].Title, vi[0].Body)
		}
		if en[0].Title != "Your issue was answered" || en[0].Body != "A customs officer answered your issue." {
			t.Errorf("English device got %q / %q", en[0].Title, en[0].Body)
		}
		wantData := map[string]string{"kind": "issue", "id": "01ISSUE", "event_id": ev.ID, "category": "issue", "inbox_id": items[alice].ID}
		for _, m := range []fcmfake.Message{vi[0], en[0]} {
			if !mapsEqual(m.Data, wantData) {
				t.Errorf("data = %v, want %v", m.Data, wantData)
			}
			if m.AndroidCollapseKey != "issue:01ISSUE" || m.AndroidPriority != "normal" {
				t.Errorf("collapse key %q priority %q", m.AndroidCollapseKey, m.AndroidPriority)
			}
		}
		if n := len(e.fake.MessagesTo("carol")) + len(e.fake.MessagesTo("xavier")); n != 0 {
			t.Errorf("%d pushes to users outside the audience", n)
		}
		for u, want := range map[string]string{alice: StatusAccepted, bob: StatusAccepted, dave: StatusNoDevice} {
			if st := e.delivery(t, ev.ID, u); st.status != want || st.attempts != 1 && want == StatusAccepted {
				t.Errorf("delivery of %s = %+v, want %s", u, st, want)
			}
		}

		t.Run("handling the event again changes nothing", func(t *testing.T) {
			count := e.fake.Count()
			e.handle(t, ev)
			for _, u := range []string{alice, bob, dave} {
				if its := e.items(t, u); len(its) != 1 || its[0].ID != items[u].ID {
					t.Errorf("user %s has %+v after a second delivery", u, its)
				}
			}
			if n := e.fake.Count(); n != count {
				t.Errorf("%d pushes after a second delivery, want %d", n, count)
			}
			// Live republishes the same item id (clients drop what they have).
			if got := e.live.forUser(alice); len(got) != 2 || got[1].ID != items[alice].ID {
				t.Errorf("live for alice after a second delivery = %+v", got)
			}
		})
	})
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestRecipientsByUnitAndRole(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		u1, u2 := e.addUnit(t), e.addUnit(t)
		ent := e.addEnterprise(t)
		officer := e.addUser(t, user{unit: u1, roles: []string{"OFFICER"}})
		head := e.addUser(t, user{unit: u1, roles: []string{"OFFICER", "UNIT_HEAD"}})
		disabledHead := e.addUser(t, user{unit: u1, roles: []string{"UNIT_HEAD"}, disabled: true})
		otherHead := e.addUser(t, user{unit: u2, roles: []string{"UNIT_HEAD"}})
		director := e.addUser(t, user{unit: u2, roles: []string{"DIRECTOR"}})
		staff := e.addUser(t, user{enterprise: ent})
		_ = disabledHead

		tests := []struct {
			name string
			a    outbox.Audience
			want []string
		}{
			{"unit heads of u1", outbox.Audience{UnitIDs: []string{u1}, Roles: []string{"UNIT_HEAD"}}, []string{head}},
			{"any active officer of u1", outbox.Audience{UnitIDs: []string{u1}}, []string{officer, head}},
			{"heads of both units", outbox.Audience{UnitIDs: []string{u1, u2}, Roles: []string{"UNIT_HEAD"}}, []string{head, otherHead}},
			{"heads or directors", outbox.Audience{UnitIDs: []string{u2}, Roles: []string{"UNIT_HEAD", "DIRECTOR"}}, []string{otherHead, director}},
			{"union with listed users and an enterprise", outbox.Audience{UserIDs: []string{director, head, disabledHead}, EnterpriseIDs: []string{ent}, UnitIDs: []string{u1}, Roles: []string{"UNIT_HEAD"}},
				[]string{head, director, staff}},
			{"nobody", outbox.Audience{}, nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				rs, err := e.d.resolve(t.Context(), "ev", tt.a)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, r := range rs {
					got = append(got, r.userID)
				}
				want := slices.Clone(tt.want)
				slices.Sort(want)
				if !slices.Equal(got, want) {
					t.Errorf("recipients = %v, want %v", got, want)
				}
			})
		}

		ev := e.emit(t, outbox.Event{Kind: "issues.escalated", Notification: notification(outbox.Audience{UnitIDs: []string{u1}, Roles: []string{"UNIT_HEAD"}})})
		e.handle(t, ev)
		if n := len(e.items(t, head)); n != 1 {
			t.Errorf("the unit head has %d items", n)
		}
		if n := len(e.items(t, officer)) + len(e.items(t, otherHead)); n != 0 {
			t.Errorf("%d items outside the audience", n)
		}
	})
}

func TestExceptSession(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		u := e.addUser(t, user{})
		e.addDevice(t, u, "phone", "s-phone", "vi")
		e.addDevice(t, u, "tablet", "s-tablet", "en")
		n := notification(outbox.Audience{UserIDs: []string{u}})
		n.Category, n.ExceptSessionID = outbox.CategorySecurity, "s-phone"
		ev := e.emit(t, outbox.Event{Kind: "identity.login", Notification: n})
		e.handle(t, ev)
		if got := len(e.fake.MessagesTo("phone")); got != 0 {
			t.Errorf("the session that signed in got %d pushes", got)
		}
		msgs := e.fake.MessagesTo("tablet")
		if len(msgs) != 1 || msgs[0].AndroidPriority != "high" {
			t.Errorf("the other session got %+v, want one high-priority push", msgs)
		}
		if len(e.items(t, u)) != 1 {
			t.Error("no inbox item")
		}
	})
}

func TestDeadTokensAreDeleted(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		mixed, allDead := e.addUser(t, user{}), e.addUser(t, user{})
		e.addDevice(t, mixed, "good", "s1", "vi")
		e.addDevice(t, mixed, "uninstalled", "s2", "vi")
		e.addDevice(t, allDead, "mismatch", "s3", "en")
		e.fake.FailToken("uninstalled", fcmfake.Unregistered, -1, 0)
		e.fake.FailToken("mismatch", fcmfake.SenderMismatch, -1, 0)

		ev := e.emit(t, outbox.Event{Kind: "issues.answered", Notification: notification(outbox.Audience{UserIDs: []string{mixed, allDead}})})
		e.handle(t, ev)
		left, err := e.devices.ForUsers(t.Context(), []string{mixed, allDead})
		if err != nil {
			t.Fatal(err)
		}
		if len(left) != 1 || left[0].Token != "good" {
			t.Errorf("devices left = %+v, want only the good one", left)
		}
		if st := e.delivery(t, ev.ID, mixed); st.status != StatusAccepted {
			t.Errorf("mixed user's delivery = %+v", st)
		}
		if st := e.delivery(t, ev.ID, allDead); st.status != StatusGone {
			t.Errorf("all-dead user's delivery = %+v", st)
		}
	})
}

func TestCategorySwitchedOff(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		u := e.addUser(t, user{})
		e.addDevice(t, u, "tok", "s", "vi")
		off := map[string]bool{outbox.CategoryIssue: true, outbox.CategoryClearance: true}
		if err := prefs.NewStore(e.db).Put(t.Context(), nil, u, prefs.Prefs{Disabled: off}); err != nil {
			t.Fatal(err)
		}
		issue := e.emit(t, outbox.Event{Kind: "issues.answered", Notification: notification(outbox.Audience{UserIDs: []string{u}})})
		e.handle(t, issue)
		if n := len(e.fake.MessagesTo("tok")); n != 0 {
			t.Errorf("%d pushes for a switched-off category", n)
		}
		if st := e.delivery(t, issue.ID, u); st.status != StatusSkipped {
			t.Errorf("delivery = %+v, want skipped", st)
		}
		if n := len(e.items(t, u)); n != 1 {
			t.Errorf("%d inbox items, want 1: the inbox always fills", n)
		}

		// Clearance is critical: switching it off does not stop it.
		cl := notification(outbox.Audience{UserIDs: []string{u}})
		cl.Category, cl.EntityKind, cl.EntityID = outbox.CategoryClearance, "declaration", "105000000001"
		clear := e.emit(t, outbox.Event{Kind: "clearance.status_changed", Notification: cl})
		e.handle(t, clear)
		if msgs := e.fake.MessagesTo("tok"); len(msgs) != 1 || msgs[0].Data["kind"] != "declaration" {
			t.Errorf("clearance pushes = %+v, want one", msgs)
		}
	})
}

func TestRetries(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		t.Run("a 503 storm is retried by the job until accepted", func(t *testing.T) {
			u := e.addUser(t, user{})
			e.addDevice(t, u, "stormy", "s1", "vi")
			e.addDevice(t, u, "calm", "s2", "en")
			// A Retry-After beyond the SDK's 2-minute ceiling stops its own
			// retries, so each attempt consumes one failure.
			const storm = 5
			e.fake.FailToken("stormy", fcmfake.Unavailable, storm, 3*time.Minute)
			ev := e.emit(t, outbox.Event{Kind: "issues.answered", Notification: notification(outbox.Audience{UserIDs: []string{u}})})
			start := e.clock.Now()
			e.handle(t, ev)

			st := e.delivery(t, ev.ID, u)
			if st.status != StatusFailed || st.attempts != 1 {
				t.Fatalf("after the first attempt: %+v", st)
			}
			job, ok, err := e.sched.Get(t.Context(), JobKey(ev.ID, u))
			if err != nil || !ok {
				t.Fatalf("no retry job: %v", err)
			}
			if min := start.Add(3 * time.Minute).Truncate(time.Millisecond); job.Due.Before(min) {
				t.Errorf("retry due %s, before Retry-After (%s)", job.Due, min)
			}
			eventually(t, "the push to be accepted", func() bool {
				e.clock.Add(4 * time.Minute)
				return e.delivery(t, ev.ID, u).status == StatusAccepted
			})
			if n := e.fake.Attempts("stormy"); n != storm+1 {
				t.Errorf("%d attempts for the stormy token, want %d", n, storm+1)
			}
			if n := len(e.fake.MessagesTo("stormy")); n != 1 {
				t.Errorf("%d messages to the stormy token, want 1", n)
			}
			if n := len(e.fake.MessagesTo("calm")); n != 1 {
				t.Errorf("the device that took the first attempt got %d messages, want 1", n)
			}
			if st := e.delivery(t, ev.ID, u); st.attempts != storm+1 {
				t.Errorf("attempts recorded = %d, want %d", st.attempts, storm+1)
			}
		})

		t.Run("429 Retry-After is a minimum", func(t *testing.T) {
			u := e.addUser(t, user{})
			e.addDevice(t, u, "quota", "s1", "vi")
			e.fake.FailToken("quota", fcmfake.QuotaExceeded, 1, 30*time.Second)
			ev := e.emit(t, outbox.Event{Kind: "issues.answered", Notification: notification(outbox.Audience{UserIDs: []string{u}})})
			start := e.clock.Now()
			e.handle(t, ev)
			job, ok, err := e.sched.Get(t.Context(), JobKey(ev.ID, u))
			if err != nil || !ok {
				t.Fatalf("no retry job: %v", err)
			}
			if d := job.Due.Sub(start); d < 30*time.Second-time.Millisecond || d > 31*time.Second {
				t.Errorf("retry due in %s, want 30s (Retry-After above the first backoff)", d)
			}
			var payload jobPayload
			if err := json.Unmarshal(job.Payload, &payload); err != nil || payload.EventID != ev.ID || payload.Key != u {
				t.Errorf("job payload = %s", job.Payload)
			}
			e.clock.Add(31 * time.Second)
			eventually(t, "the retry", func() bool { return e.delivery(t, ev.ID, u).status == StatusAccepted })
			if n := len(e.fake.MessagesTo("quota")); n != 1 {
				t.Errorf("%d messages, want 1", n)
			}
		})

		t.Run("given up after MaxPushAttempts", func(t *testing.T) {
			u := e.addUser(t, user{})
			e.addDevice(t, u, "broken", "s1", "vi")
			e.fake.FailToken("broken", fcmfake.Internal, -1, 0)
			ev := e.emit(t, outbox.Event{Kind: "issues.answered", Notification: notification(outbox.Audience{UserIDs: []string{u}})})
			e.handle(t, ev)
			eventually(t, "the push to be given up", func() bool {
				e.clock.Add(6 * time.Minute) // beyond BackoffCap
				st := e.delivery(t, ev.ID, u)
				return st.attempts == MaxPushAttempts && strings.HasPrefix(detail(t, e, ev.ID, u), "gave up")
			})
			// The last run's job is deleted once the handler returned.
			eventually(t, "no job left after giving up", func() bool {
				_, ok, err := e.sched.Get(t.Context(), JobKey(ev.ID, u))
				return err == nil && !ok
			})
			if n := e.fake.Attempts("broken"); n != MaxPushAttempts {
				t.Errorf("%d attempts, want %d", n, MaxPushAttempts)
			}
		})
	})
}

func detail(t *testing.T, e *env, eventID, key string) string {
	t.Helper()
	var s string
	if err := e.db.QueryRowContext(context.Background(), `SELECT detail FROM push_deliveries WHERE event_id = $1 AND user_id = $2`, eventID, key).Scan(&s); err != nil {
		return ""
	}
	return s
}

func TestQuietHours(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		hcm := prefs.Location("Asia/Ho_Chi_Minh")
		e.clock.Set(time.Date(2026, 3, 10, 23, 0, 0, 0, hcm))
		u := e.addUser(t, user{})
		e.addDevice(t, u, "tok", "s", "vi")
		quiet := prefs.QuietHours{Enabled: true, StartMinute: 22 * 60, EndMinute: 6*60 + 30, TimeZone: "Asia/Ho_Chi_Minh"}
		if err := prefs.NewStore(e.db).Put(t.Context(), nil, u, prefs.Prefs{Quiet: quiet}); err != nil {
			t.Fatal(err)
		}

		issue := e.emit(t, outbox.Event{Kind: "issues.answered", Notification: notification(outbox.Audience{UserIDs: []string{u}})})
		e.handle(t, issue)
		e.handle(t, issue) // still held once
		if st := e.delivery(t, issue.ID, u); st.status != StatusHeld {
			t.Fatalf("delivery = %+v, want held", st)
		}
		if n := len(e.items(t, u)); n != 1 {
			t.Errorf("%d inbox items while held, want 1", n)
		}
		job, ok, err := e.sched.Get(t.Context(), JobKey(issue.ID, u))
		if err != nil || !ok {
			t.Fatalf("no held job: %v", err)
		}
		if want := time.Date(2026, 3, 11, 6, 30, 0, 0, hcm); !job.Due.Equal(want) {
			t.Errorf("held until %s, want %s", job.Due.In(hcm), want)
		}

		// A critical push passes at once.
		cl := notification(outbox.Audience{UserIDs: []string{u}})
		cl.Category = outbox.CategoryClearance
		clear := e.emit(t, outbox.Event{Kind: "clearance.status_changed", Notification: cl})
		e.handle(t, clear)
		msgs := e.fake.MessagesTo("tok")
		if len(msgs) != 1 || msgs[0].Data["event_id"] != clear.ID {
			t.Fatalf("during quiet hours: %d messages, want only the clearance one", len(msgs))
		}

		// The window ends: the held push goes out.
		e.clock.Set(time.Date(2026, 3, 11, 6, 30, 0, 0, hcm))
		eventually(t, "the held push", func() bool { return len(e.fake.MessagesTo("tok")) == 2 })
		msgs = e.fake.MessagesTo("tok")
		if msgs[1].Data["event_id"] != issue.ID || msgs[1].Data["inbox_id"] != e.items(t, u)[1].ID {
			t.Errorf("held push data = %v", msgs[1].Data)
		}
		eventually(t, "the held delivery recorded", func() bool { return e.delivery(t, issue.ID, u).status == StatusAccepted })
	})
}

func TestSessionEnded(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ent := e.addEnterprise(t)
		u := e.addUser(t, user{enterprise: ent})
		v := inbox.Viewer{UserID: u, Kind: "enterprise_user", EnterpriseID: ent}
		ended := e.addDevice(t, u, "old-phone", "s-old", "vi")
		e.addDevice(t, u, "old-web", "s-old", "en")
		kept := e.addDevice(t, u, "new-phone", "s-new", "vi")
		for _, d := range []devices.Device{ended, kept} {
			if gone, err := devices.Subscribe(t.Context(), e.sender, d, v); gone || err != nil {
				t.Fatalf("subscribe: %v %v", gone, err)
			}
		}
		n := notification(outbox.Audience{UserIDs: []string{u}})
		n.Category = outbox.CategorySecurity
		ev := e.emit(t, outbox.Event{Kind: EventSessionEnded, Data: json.RawMessage(`{"session_ids":["s-old"]}`), Notification: n})
		e.handle(t, ev)

		left, err := e.devices.ForUsers(t.Context(), []string{u})
		if err != nil || len(left) != 1 || left[0].Token != "new-phone" {
			t.Fatalf("devices left = %+v, %v", left, err)
		}
		if subs := e.fake.Subscribers("enterprise_" + ent + "_vi"); !slices.Equal(subs, []string{"new-phone"}) {
			t.Errorf("topic subscribers after the session ended = %v", subs)
		}
		if n := len(e.fake.MessagesTo("old-phone")) + len(e.fake.MessagesTo("old-web")); n != 0 {
			t.Errorf("%d pushes to the ended session", n)
		}
		if n := len(e.fake.MessagesTo("new-phone")); n != 1 {
			t.Errorf("%d pushes to the remaining session, want 1", n)
		}

		// Without a notification, only the devices go.
		e.addDevice(t, u, "another", "s-3", "vi")
		e.handle(t, outbox.Event{ID: "ev-x", Kind: EventSessionEnded, Data: json.RawMessage(`{"session_ids":["s-3"]}`)})
		if _, ok, _ := e.devices.Get(t.Context(), "another"); ok {
			t.Error("the device of the ended session is still registered")
		}
	})
}

func TestBroadcast(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		ent := e.addEnterprise(t)
		unit := e.addUnit(t)
		staff1 := inbox.Viewer{UserID: e.addUser(t, user{enterprise: ent}), Kind: "enterprise_user", EnterpriseID: ent}
		staff2 := inbox.Viewer{UserID: e.addUser(t, user{enterprise: ent}), Kind: "enterprise_user", EnterpriseID: ent}
		officer := inbox.Viewer{UserID: e.addUser(t, user{unit: unit}), Kind: "officer", UnitID: unit}

		n := &outbox.Notification{
			Audience: outbox.Audience{Broadcast: outbox.BroadcastEnterpriseUsers}, Category: outbox.CategoryNotice,
			TitleVI: "Thông tư mới về thủ tục hải quan", TitleEN: "New circular on customs procedures",
			BodyVI: "Thông tư 39/2018/TT-BTC sửa đổi", BodyEN: "Circular 39/2018/TT-BTC amended",
			EntityKind: "notice", EntityID: "01NOTICE",
		}
		ev := e.emit(t, outbox.Event{Kind: "notices.published", Notification: n})
		e.handle(t, ev)
		e.handle(t, ev) // idempotent

		var rows int
		_ = e.db.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM broadcasts`).Scan(&rows)
		if rows != 1 {
			t.Fatalf("%d broadcasts rows, want 1", rows)
		}
		_ = e.db.QueryRowContext(t.Context(), `SELECT COUNT(*) FROM inbox_items`).Scan(&rows)
		if rows != 0 {
			t.Errorf("%d personal rows for a broadcast, want 0", rows)
		}
		lb := e.live.allBroadcasts()
		if len(lb) != 2 || lb[0].ID != lb[1].ID || !lb[0].Broadcast {
			t.Errorf("live broadcasts = %+v", lb)
		}

		for _, v := range []inbox.Viewer{staff1, staff2} {
			its, err := e.inbox.List(t.Context(), v, false, "", 10)
			if err != nil || len(its) != 1 || its[0].ID != lb[0].ID || its[0].Title("en") != n.TitleEN {
				t.Errorf("inbox of %s = %+v, %v", v.UserID, its, err)
			}
			if c, _ := e.inbox.UnreadCount(t.Context(), v); c != 1 {
				t.Errorf("unread of %s = %d", v.UserID, c)
			}
		}
		if its, _ := e.inbox.List(t.Context(), officer, false, "", 10); len(its) != 0 {
			t.Errorf("an officer sees %+v", its)
		}
		if c, _ := e.inbox.MarkRead(t.Context(), officer, []string{lb[0].ID}, false); c != 0 {
			t.Errorf("an officer marked %d", c)
		}
		if c, _ := e.inbox.MarkRead(t.Context(), staff1, []string{lb[0].ID}, false); c != 1 {
			t.Errorf("staff1 marked %d, want 1", c)
		}
		if c, _ := e.inbox.UnreadCount(t.Context(), staff1); c != 0 {
			t.Errorf("staff1 unread = %d", c)
		}
		if c, _ := e.inbox.UnreadCount(t.Context(), staff2); c != 1 {
			t.Errorf("staff2 unread = %d, want 1 (reads are per viewer)", c)
		}

		// One request per topic, one topic per language.
		for topic, title := range map[string]string{"enterprise_users_vi": n.TitleVI, "enterprise_users_en": n.TitleEN} {
			if a := e.fake.TopicAttempts(topic); a != 1 {
				t.Errorf("%d requests to %s, want 1", a, topic)
			}
			if st := e.delivery(t, ev.ID, "topic:"+topic); st.status != StatusAccepted {
				t.Errorf("delivery to %s = %+v", topic, st)
			}
			var found bool
			for _, m := range e.fake.Messages() {
				if m.Topic == topic {
					found = true
					if m.Title != title || m.Data["inbox_id"] != lb[0].ID || m.Data["kind"] != "notice" {
						t.Errorf("%s message: %q %v", topic, m.Title, m.Data)
					}
				}
			}
			if !found {
				t.Errorf("no message to %s", topic)
			}
		}
		if e.fake.Count() != 2 {
			t.Errorf("%d messages in all, want 2", e.fake.Count())
		}

		t.Run("to one enterprise, with a topic retry", func(t *testing.T) {
			topicVI := "enterprise_" + ent + "_vi"
			e.fake.FailTopic(topicVI, fcmfake.QuotaExceeded, 1, 10*time.Second)
			n2 := *n
			n2.Audience = outbox.Audience{Broadcast: "enterprise:" + ent}
			ev2 := e.emit(t, outbox.Event{Kind: "notices.published", Notification: &n2})
			e.handle(t, ev2)
			if st := e.delivery(t, ev2.ID, "topic:"+topicVI); st.status != StatusFailed {
				t.Fatalf("topic delivery = %+v, want failed (retrying)", st)
			}
			e.clock.Add(11 * time.Second)
			eventually(t, "the topic retry", func() bool { return e.delivery(t, ev2.ID, "topic:"+topicVI).status == StatusAccepted })
			if a := e.fake.TopicAttempts(topicVI); a != 2 {
				t.Errorf("%d requests to %s, want 2", a, topicVI)
			}
			if a := e.fake.TopicAttempts("enterprise_" + ent + "_en"); a != 1 {
				t.Errorf("%d requests to the English topic, want 1", a)
			}
			if its, _ := e.inbox.List(t.Context(), staff2, false, "", 10); len(its) != 2 {
				t.Errorf("staff2 sees %d items, want 2", len(its))
			}
			if its, _ := e.inbox.List(t.Context(), inbox.Viewer{UserID: "x", Kind: "enterprise_user", EnterpriseID: "other"}, false, "", 10); len(its) != 1 {
				t.Errorf("a user of another enterprise sees %d items, want 1", len(its))
			}
		})
	})
}

func TestParseBroadcast(t *testing.T) {
	tests := []struct {
		in       string
		aud, id  string
		ok       bool
		wantTopi string
	}{
		{"all", "all", "", true, "all_vi"},
		{"enterprise_users", "enterprise_users", "", true, "enterprise_users_vi"},
		{"officers", "officers", "", true, "officers_vi"},
		{"enterprise:E1", "enterprise", "E1", true, "enterprise_E1_vi"},
		{"unit:U1", "unit", "U1", true, "unit_U1_vi"},
		{"unit:", "", "", false, ""},
		{"planet:x", "", "", false, ""},
		{"everyone", "", "", false, ""},
	}
	for _, tt := range tests {
		aud, id, ok := ParseBroadcast(tt.in)
		if aud != tt.aud || id != tt.id || ok != tt.ok {
			t.Errorf("ParseBroadcast(%q) = %q, %q, %v", tt.in, aud, id, ok)
		}
		if ok && devices.TopicName(aud, id, "vi") != tt.wantTopi {
			t.Errorf("topic of %q = %q", tt.in, devices.TopicName(aud, id, "vi"))
		}
	}
}

func TestBuildPush(t *testing.T) {
	base := outbox.Event{ID: "ev-1", Notification: &outbox.Notification{
		Category: outbox.CategoryMeeting, TitleVI: "Lịch hẹn đã xác nhận", TitleEN: "Meeting confirmed",
		BodyVI: "Chi cục đã xác nhận lịch hẹn", BodyEN: "The branch confirmed your meeting",
		EntityKind: "meeting", EntityID: "M1",
	}}
	withN := func(f func(n *outbox.Notification)) outbox.Event {
		n := *base.Notification
		f(&n)
		return outbox.Event{ID: base.ID, Notification: &n}
	}
	tests := []struct {
		name      string
		ev        outbox.Event
		locale    string
		title     string
		collapse  string
		critical  bool
		dataKeys  []string
		maxLength int
	}{
		{"vi", base, "vi", "Lịch hẹn đã xác nhận", "meeting:M1", false, []string{"category", "event_id", "id", "inbox_id", "kind"}, 0},
		{"en", base, "en", "Meeting confirmed", "meeting:M1", false, nil, 0},
		{"unknown locale is Vietnamese", base, "fr", "Lịch hẹn đã xác nhận", "meeting:M1", false, nil, 0},
		{"en falls back to vi when missing", withN(func(n *outbox.Notification) { n.TitleEN = "" }), "en", "Lịch hẹn đã xác nhận", "meeting:M1", false, nil, 0},
		{"explicit collapse key", withN(func(n *outbox.Notification) { n.CollapseKey = "k" }), "vi", "Lịch hẹn đã xác nhận", "k", false, nil, 0},
		{"no entity: no deep link keys", withN(func(n *outbox.Notification) { n.EntityKind, n.EntityID = "", "" }), "vi", "Lịch hẹn đã xác nhận", "", false,
			[]string{"category", "event_id", "inbox_id"}, 0},
		{"clearance is critical", withN(func(n *outbox.Notification) { n.Category = outbox.CategoryClearance }), "vi", "Lịch hẹn đã xác nhận", "meeting:M1", true, nil, 0},
		{"flagged critical", withN(func(n *outbox.Notification) { n.Critical = true }), "vi", "Lịch hẹn đã xác nhận", "meeting:M1", true, nil, 0},
		{"long body is cut to fit", withN(func(n *outbox.Notification) { n.BodyVI = strings.Repeat("thông quan ", 1000) }), "vi", "Lịch hẹn đã xác nhận", "meeting:M1", false, nil, 4000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := BuildPush(tt.ev, "IN1", tt.locale, []string{"tok"}, "")
			if p.Title != tt.title || p.CollapseKey != tt.collapse || p.Critical != tt.critical {
				t.Errorf("push = title %q collapse %q critical %v", p.Title, p.CollapseKey, p.Critical)
			}
			if tt.dataKeys != nil {
				var keys []string
				for k := range p.Data {
					keys = append(keys, k)
				}
				slices.Sort(keys)
				if !slices.Equal(keys, tt.dataKeys) {
					t.Errorf("data keys = %v, want %v", keys, tt.dataKeys)
				}
			}
			if p.Data["event_id"] != "ev-1" || p.Data["inbox_id"] != "IN1" {
				t.Errorf("data = %v", p.Data)
			}
			if err := p.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
			if tt.maxLength > 0 && (!strings.HasSuffix(p.Body, "…") || len(p.Body) > tt.maxLength) {
				t.Errorf("body of %d bytes not cut", len(p.Body))
			}
		})
	}
	if p := BuildPush(base, "B1", "en", nil, "all_en"); p.Topic != "all_en" || len(p.Tokens) != 0 {
		t.Errorf("topic push = %+v", p)
	}
}
