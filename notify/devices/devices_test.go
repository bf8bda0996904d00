package devices

import (
	"context"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"hqconnect/internal/errs"
	"hqconnect/internal/ids"
	"hqconnect/internal/store"
	"hqconnect/internal/store/storetest"
	"hqconnect/notify/fcm"
	"hqconnect/notify/fcmfake"
	"hqconnect/notify/inbox"
)

func addUser(t *testing.T, db *store.DB) string {
	t.Helper()
	id := ids.New()
	now := store.Now()
	if _, err := db.ExecContext(context.Background(), `INSERT INTO users (id, kind, email, full_name, password_hash, status, create_time, update_time)
VALUES ($1, 'officer', $2, 'Test User', 'x', 'ACTIVE', $3, $3)`, id, id+"@example.test", now); err != nil {
		t.Fatalf("add user: %v", err)
	}
	return id
}

func tokens(ds []Device) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Token
	}
	return out
}

func TestStore(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		s := NewStore(db)
		alice, bob := addUser(t, db), addUser(t, db)
		reg := func(token, user, session, locale string) {
			t.Helper()
			if err := s.Register(ctx, Device{Token: token, UserID: user, SessionID: session, Platform: PlatformAndroid, Locale: locale, AppVersion: "2.3.1"}); err != nil {
				t.Fatalf("Register %s: %v", token, err)
			}
		}
		reg("tok-a1", alice, "sess-a1", "vi")
		reg("tok-a2", alice, "sess-a2", "en")
		reg("tok-b1", bob, "sess-b1", "vi")

		ds, err := s.ForUsers(ctx, []string{alice, bob})
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) != 3 {
			t.Fatalf("ForUsers = %v", ds)
		}
		first, ok, err := s.Get(ctx, "tok-a2")
		if err != nil || !ok || first.UserID != alice || first.Locale != "en" || first.AppVersion != "2.3.1" || first.CreateTime.IsZero() {
			t.Fatalf("Get = %+v, %v, %v", first, ok, err)
		}

		t.Run("re-registering by the same user keeps create time", func(t *testing.T) {
			reg("tok-a2", alice, "sess-a3", "vi")
			d, _, _ := s.Get(ctx, "tok-a2")
			if d.SessionID != "sess-a3" || d.Locale != "vi" || !d.CreateTime.Equal(first.CreateTime) {
				t.Errorf("after re-register: %+v (create time was %s)", d, first.CreateTime)
			}
		})

		t.Run("a token registered by another user moves to them", func(t *testing.T) {
			reg("tok-a1", bob, "sess-b2", "en")
			a, _ := s.ForUsers(ctx, []string{alice})
			b, _ := s.ForUsers(ctx, []string{bob})
			if got := tokens(a); !slices.Equal(got, []string{"tok-a2"}) {
				t.Errorf("alice's tokens = %v", got)
			}
			if got := tokens(b); !slices.Equal(got, []string{"tok-a1", "tok-b1"}) {
				t.Errorf("bob's tokens = %v", got)
			}
			d, _, _ := s.Get(ctx, "tok-a1")
			if d.SessionID != "sess-b2" || d.Locale != "en" {
				t.Errorf("moved device = %+v", d)
			}
		})

		t.Run("unregister only the caller's token", func(t *testing.T) {
			if ok, err := s.Unregister(ctx, alice, "tok-b1"); err != nil || ok {
				t.Errorf("alice unregistering bob's token = %v, %v", ok, err)
			}
			if _, ok, _ := s.Get(ctx, "tok-b1"); !ok {
				t.Error("bob's token was removed by alice")
			}
			if ok, err := s.Unregister(ctx, bob, "tok-b1"); err != nil || !ok {
				t.Errorf("bob unregistering his token = %v, %v", ok, err)
			}
		})

		t.Run("delete by session, token and user", func(t *testing.T) {
			reg("tok-x1", alice, "sess-x", "vi")
			reg("tok-x2", alice, "sess-x", "en")
			reg("tok-y", bob, "sess-y", "vi")
			got, err := s.ForSessions(ctx, []string{"sess-x"})
			if err != nil || !slices.Equal(tokens(got), []string{"tok-x1", "tok-x2"}) {
				t.Fatalf("ForSessions = %v, %v", tokens(got), err)
			}
			if n, err := s.DeleteSessions(ctx, []string{"sess-x", "sess-none"}); err != nil || n != 2 {
				t.Errorf("DeleteSessions = %d, %v", n, err)
			}
			if n, err := s.DeleteTokens(ctx, []string{"tok-y", "tok-none"}); err != nil || n != 1 {
				t.Errorf("DeleteTokens = %d, %v", n, err)
			}
			if n, err := s.DeleteUser(ctx, alice); err != nil || n != 1 {
				t.Errorf("DeleteUser = %d, %v", n, err)
			}
			left, _ := s.ForUsers(ctx, []string{alice, bob})
			if got := tokens(left); !slices.Equal(got, []string{"tok-a1"}) {
				t.Errorf("left = %v", got)
			}
		})

		t.Run("many users in chunks", func(t *testing.T) {
			var users []string
			for i := range 3 {
				u := addUser(t, db)
				users = append(users, u)
				reg("many-"+string(rune('a'+i)), u, "s", "vi")
			}
			for range maxIn + 10 {
				users = append(users, ids.New()) // unknown users are fine
			}
			ds, err := s.ForUsers(ctx, users)
			if err != nil || len(ds) != 3 {
				t.Errorf("ForUsers over %d ids = %d devices, %v", len(users), len(ds), err)
			}
		})
	})
}

func TestValidate(t *testing.T) {
	ok := Device{Token: "t", UserID: "u", SessionID: "s", Platform: PlatformIOS, Locale: "en"}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	tests := map[string]func(d *Device){
		"fcm_token":   func(d *Device) { d.Token = "" },
		"platform":    func(d *Device) { d.Platform = "BLACKBERRY" },
		"locale":      func(d *Device) { d.Locale = "fr" },
		"app_version": func(d *Device) { d.AppVersion = strings.Repeat("9", 33) },
	}
	for field, mut := range tests {
		d := ok
		mut(&d)
		e, isErr := errs.As(d.Validate())
		if !isErr || e.Field != field || e.VI == "" {
			t.Errorf("%s: Validate = %v", field, d.Validate())
		}
	}
	long := ok
	long.Token = strings.Repeat("x", MaxTokenLen+1)
	if long.Validate() == nil {
		t.Error("a token over the limit passed")
	}
}

func TestTopics(t *testing.T) {
	topicRE := regexp.MustCompile(`^[a-zA-Z0-9\-_.~%]{1,900}$`)
	ent, unit := ids.New(), ids.New()
	tests := []struct {
		name   string
		locale string
		v      inbox.Viewer
		want   []string
	}{
		{"enterprise user, vi", "vi", inbox.Viewer{UserID: "u", Kind: "enterprise_user", EnterpriseID: ent},
			[]string{"all_vi", "enterprise_users_vi", "enterprise_" + ent + "_vi"}},
		{"officer, en", "en", inbox.Viewer{UserID: "u", Kind: "officer", UnitID: unit},
			[]string{"all_en", "officers_en", "unit_" + unit + "_en"}},
		{"officer without a unit", "vi", inbox.Viewer{UserID: "u", Kind: "officer"},
			[]string{"all_vi", "officers_vi"}},
		{"unknown locale is Vietnamese", "", inbox.Viewer{UserID: "u", Kind: "enterprise_user", EnterpriseID: "E 1/x"},
			[]string{"all_vi", "enterprise_users_vi", "enterprise_E%201%2Fx_vi"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Topics(Device{Token: "t", Locale: tt.locale}, tt.v)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Topics = %v, want %v", got, tt.want)
			}
			for _, topic := range got {
				if !topicRE.MatchString(topic) {
					t.Errorf("topic %q is not a valid FCM topic name", topic)
				}
			}
		})
	}
}

func TestSubscribe(t *testing.T) {
	fake := fcmfake.New()
	ts := httptest.NewServer(fake)
	t.Cleanup(ts.Close)
	sender, err := fcm.NewFCMSender(t.Context(), fcm.Config{ProjectID: "p", Endpoint: ts.URL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sender.Close)
	ent := ids.New()
	v := inbox.Viewer{UserID: "u", Kind: "enterprise_user", EnterpriseID: ent}
	d := Device{Token: "tok-1", Locale: "en"}
	if gone, err := Subscribe(t.Context(), sender, d, v); gone || err != nil {
		t.Fatalf("Subscribe = %v, %v", gone, err)
	}
	for _, topic := range []string{"all_en", "enterprise_users_en", "enterprise_" + ent + "_en"} {
		if subs := fake.Subscribers(topic); !slices.Equal(subs, []string{"tok-1"}) {
			t.Errorf("%s subscribers = %v", topic, subs)
		}
	}
	if gone, err := Unsubscribe(t.Context(), sender, d, v); gone || err != nil {
		t.Fatalf("Unsubscribe = %v, %v", gone, err)
	}
	if subs := fake.Subscribers("all_en"); len(subs) != 0 {
		t.Errorf("all_en subscribers after unsubscribe = %v", subs)
	}
	fake.FailToken("dead", fcmfake.Unregistered, -1, 0)
	if gone, _ := Subscribe(t.Context(), sender, Device{Token: "dead", Locale: "vi"}, v); !gone {
		t.Error("an unregistered token was not reported gone")
	}
}
