package service_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"

	notifyv1 "hqconnect/gen/hqconnect/notify/v1"
	"hqconnect/internal/testkit"
	"hqconnect/notify/devices"
	"hqconnect/notify/fcm"
	"hqconnect/notify/fcmfake"
)

func register(token string, p notifyv1.Platform, locale string) *connect.Request[notifyv1.RegisterDeviceRequest] {
	return req(&notifyv1.RegisterDeviceRequest{FcmToken: token, Platform: p, Locale: locale, AppVersion: "2.3.1"})
}

// device reads a token's row.
func (e *env) device(t *testing.T, token string) (devices.Device, bool) {
	t.Helper()
	d, ok, err := e.Devices.Get(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	return d, ok
}

func TestDevices(t *testing.T) {
	run(t, options{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		staffA := e.signIn(t, xnkStaffLogin)
		staffB := e.signIn(t, logStaffLogin)
		officer := e.signIn(t, officerLogin)

		t.Run("a registration is bound to the session and subscribed to the audience's topics", func(t *testing.T) {
			testkit.Got(staffA.Notify.RegisterDevice(ctx, register("tok-a", notifyv1.Platform_PLATFORM_ANDROID, "en"))).Must(t)
			d, ok := e.device(t, "tok-a")
			if !ok || d.UserID != staffA.ID || d.SessionID != staffA.SessionID || d.Platform != "ANDROID" ||
				d.Locale != "en" || d.AppVersion != "2.3.1" {
				t.Fatalf("device %+v (found %v)", d, ok)
			}
			for _, topic := range devices.Topics(d, staffA.Viewer) {
				if !slices.Contains(e.FCM.Subscribers(topic), "tok-a") {
					t.Fatalf("tok-a not subscribed to %s", topic)
				}
			}
			if !slices.Contains(e.FCM.Subscribers("enterprise_"+staffA.Viewer.EnterpriseID+"_en"), "tok-a") {
				t.Fatal("not subscribed to the enterprise's topic")
			}
			if n := e.count(t, "audit_events WHERE action = 'device.register' AND actor_id = $1 AND target_id = $2",
				staffA.ID, fcm.TokenHash("tok-a")); n != 1 {
				t.Fatalf("%d audit rows", n)
			}
			// Registering again (every app start does) is fine.
			testkit.Got(staffA.Notify.RegisterDevice(ctx, register("tok-a", notifyv1.Platform_PLATFORM_ANDROID, "en"))).Must(t)

			// An officer's device goes to the officers' topics.
			testkit.Got(officer.Notify.RegisterDevice(ctx, register("tok-o", notifyv1.Platform_PLATFORM_IOS, "vi"))).Must(t)
			if !slices.Contains(e.FCM.Subscribers("officers_vi"), "tok-o") || slices.Contains(e.FCM.Subscribers("enterprise_users_vi"), "tok-o") {
				t.Fatal("officer device topics")
			}
		})

		t.Run("the locale defaults to the request's", func(t *testing.T) {
			testkit.Got(staffA.EN.RegisterDevice(ctx, register("tok-en", notifyv1.Platform_PLATFORM_WEB, ""))).Must(t)
			testkit.Got(staffA.Notify.RegisterDevice(ctx, register("tok-vi", notifyv1.Platform_PLATFORM_WEB, ""))).Must(t)
			if d, _ := e.device(t, "tok-en"); d.Locale != "en" {
				t.Fatalf("locale %q", d.Locale)
			}
			if d, _ := e.device(t, "tok-vi"); d.Locale != "vi" {
				t.Fatalf("locale %q", d.Locale)
			}
		})

		t.Run("bad registrations name the field and change nothing", func(t *testing.T) {
			for _, tc := range []struct {
				name, field string
				r           *notifyv1.RegisterDeviceRequest
			}{
				{"no token", "fcm_token", &notifyv1.RegisterDeviceRequest{Platform: notifyv1.Platform_PLATFORM_IOS}},
				{"a token too long", "fcm_token", &notifyv1.RegisterDeviceRequest{FcmToken: strings.Repeat("x", 4097), Platform: notifyv1.Platform_PLATFORM_IOS}},
				{"a token with spaces", "fcm_token", &notifyv1.RegisterDeviceRequest{FcmToken: "a b", Platform: notifyv1.Platform_PLATFORM_IOS}},
				{"no platform", "platform", &notifyv1.RegisterDeviceRequest{FcmToken: "tok-bad"}},
				{"an unknown platform", "platform", &notifyv1.RegisterDeviceRequest{FcmToken: "tok-bad", Platform: 42}},
				{"a locale not offered", "locale", &notifyv1.RegisterDeviceRequest{FcmToken: "tok-bad", Platform: notifyv1.Platform_PLATFORM_IOS, Locale: "fr"}},
				{"an app version too long", "app_version", &notifyv1.RegisterDeviceRequest{FcmToken: "tok-bad", Platform: notifyv1.Platform_PLATFORM_IOS, AppVersion: strings.Repeat("1", 33)}},
			} {
				_, err := staffA.EN.RegisterDevice(ctx, req(tc.r))
				ce := testkit.WantField(t, err, connect.CodeInvalidArgument, tc.field)
				if strings.ContainsAny(ce.Message(), "ạảấầẩậắằẳặẹẻẽếềểễệịỉọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹđ") {
					t.Fatalf("%s: English caller got %q", tc.name, ce.Message())
				}
			}
			// Vietnamese by default.
			_, err := staffA.Notify.RegisterDevice(ctx, req(&notifyv1.RegisterDeviceRequest{FcmToken: "tok-bad"}))
			if ce := testkit.WantField(t, err, connect.CodeInvalidArgument, "platform"); !strings.Contains(ce.Message(), "bắt buộc") {
				t.Fatalf("message %q", ce.Message())
			}
			if _, ok := e.device(t, "tok-bad"); ok {
				t.Fatal("a bad registration was stored")
			}
		})

		t.Run("a token registered by another user moves to them and leaves the old topics", func(t *testing.T) {
			testkit.Got(staffA.Notify.RegisterDevice(ctx, register("tok-shared", notifyv1.Platform_PLATFORM_ANDROID, "vi"))).Must(t)
			oldTopic := "enterprise_" + staffA.Viewer.EnterpriseID + "_vi"
			if !slices.Contains(e.FCM.Subscribers(oldTopic), "tok-shared") {
				t.Fatal("not subscribed")
			}
			testkit.Got(staffB.Notify.RegisterDevice(ctx, register("tok-shared", notifyv1.Platform_PLATFORM_ANDROID, "vi"))).Must(t)
			if d, _ := e.device(t, "tok-shared"); d.UserID != staffB.ID || d.SessionID != staffB.SessionID {
				t.Fatalf("device %+v", d)
			}
			if slices.Contains(e.FCM.Subscribers(oldTopic), "tok-shared") {
				t.Fatal("still on the former owner's enterprise topic")
			}
			for _, topic := range []string{"all_vi", "enterprise_users_vi", "enterprise_" + staffB.Viewer.EnterpriseID + "_vi"} {
				if !slices.Contains(e.FCM.Subscribers(topic), "tok-shared") {
					t.Fatalf("not on %s", topic)
				}
			}
			// The former owner cannot remove it any more.
			_, err := staffA.Notify.UnregisterDevice(ctx, req(&notifyv1.UnregisterDeviceRequest{FcmToken: "tok-shared"}))
			testkit.WantCode(t, err, connect.CodeNotFound)
		})

		t.Run("unregister removes only the caller's own token", func(t *testing.T) {
			testkit.Got(staffA.Notify.RegisterDevice(ctx, register("tok-mine", notifyv1.Platform_PLATFORM_IOS, "vi"))).Must(t)
			_, err := staffB.Notify.UnregisterDevice(ctx, req(&notifyv1.UnregisterDeviceRequest{FcmToken: "tok-mine"}))
			testkit.WantCode(t, err, connect.CodeNotFound)
			if _, ok := e.device(t, "tok-mine"); !ok {
				t.Fatal("another user removed the token")
			}
			testkit.Got(staffA.Notify.UnregisterDevice(ctx, req(&notifyv1.UnregisterDeviceRequest{FcmToken: "tok-mine"}))).Must(t)
			if _, ok := e.device(t, "tok-mine"); ok {
				t.Fatal("token still registered")
			}
			if slices.Contains(e.FCM.Subscribers("all_vi"), "tok-mine") {
				t.Fatal("still subscribed to all_vi")
			}
			_, err = staffA.Notify.UnregisterDevice(ctx, req(&notifyv1.UnregisterDeviceRequest{FcmToken: "tok-mine"}))
			testkit.WantCode(t, err, connect.CodeNotFound)
			_, err = staffA.Notify.UnregisterDevice(ctx, req(&notifyv1.UnregisterDeviceRequest{}))
			testkit.WantField(t, err, connect.CodeInvalidArgument, "fcm_token")
		})

		t.Run("a token FCM calls dead is refused and not kept", func(t *testing.T) {
			e.FCM.FailToken("tok-dead", fcmfake.Unregistered, -1, 0)
			_, err := staffA.Notify.RegisterDevice(ctx, register("tok-dead", notifyv1.Platform_PLATFORM_ANDROID, "vi"))
			testkit.WantField(t, err, connect.CodeInvalidArgument, "fcm_token")
			if _, ok := e.device(t, "tok-dead"); ok {
				t.Fatal("dead token kept")
			}
		})

		t.Run("anonymous callers are refused", func(t *testing.T) {
			_, err := e.anon().RegisterDevice(ctx, register("tok-anon", notifyv1.Platform_PLATFORM_ANDROID, "vi"))
			testkit.WantCode(t, err, connect.CodeUnauthenticated)
		})
	})
}
