package service_test

import (
	"context"
	"strings"
	"testing"

	"connectrpc.com/connect"

	notifyv1 "hqconnect/gen/hqconnect/notify/v1"
	"hqconnect/internal/testkit"
)

func pushOff(p *notifyv1.Preferences) []notifyv1.Category {
	var out []notifyv1.Category
	for _, c := range p.Categories {
		if !c.PushEnabled {
			out = append(out, c.Category)
		}
	}
	return out
}

func TestPreferences(t *testing.T) {
	run(t, options{}, func(t *testing.T, e *env) {
		ctx := context.Background()
		a := e.signIn(t, xnkStaffLogin)
		b := e.signIn(t, logStaffLogin)

		t.Run("by default everything pushes at any time", func(t *testing.T) {
			p := testkit.Got(a.Notify.GetPreferences(ctx, req(&notifyv1.GetPreferencesRequest{}))).Must(t).Preferences
			if len(p.Categories) != 8 || len(pushOff(p)) != 0 {
				t.Fatalf("categories %v", p.Categories)
			}
			if q := p.QuietHours; q.Enabled || q.TimeZone != "Asia/Ho_Chi_Minh" {
				t.Fatalf("quiet hours %v", q)
			}
		})

		t.Run("round trip", func(t *testing.T) {
			in := &notifyv1.Preferences{
				Categories: []*notifyv1.CategoryPreference{
					{Category: notifyv1.Category_CATEGORY_ISSUE, PushEnabled: false},
					{Category: notifyv1.Category_CATEGORY_NOTICE, PushEnabled: false},
					{Category: notifyv1.Category_CATEGORY_MEETING, PushEnabled: true},
					{Category: notifyv1.Category_CATEGORY_SECURITY, PushEnabled: true},
				},
				QuietHours: &notifyv1.QuietHours{Enabled: true, Start: "22:00", End: "6:30", TimeZone: "Asia/Bangkok"},
			}
			res := testkit.Got(a.Notify.UpdatePreferences(ctx, req(&notifyv1.UpdatePreferencesRequest{Preferences: in}))).Must(t).Preferences
			p := testkit.Got(a.Notify.GetPreferences(ctx, req(&notifyv1.GetPreferencesRequest{}))).Must(t).Preferences
			for _, p := range []*notifyv1.Preferences{res, p} {
				off := pushOff(p)
				if len(off) != 2 || off[0] != notifyv1.Category_CATEGORY_ISSUE || off[1] != notifyv1.Category_CATEGORY_NOTICE {
					t.Fatalf("off %v", off)
				}
				if q := p.QuietHours; !q.Enabled || q.Start != "22:00" || q.End != "06:30" || q.TimeZone != "Asia/Bangkok" {
					t.Fatalf("quiet hours %v", q)
				}
			}
			// Another user's are untouched.
			if p := testkit.Got(b.Notify.GetPreferences(ctx, req(&notifyv1.GetPreferencesRequest{}))).Must(t).Preferences; len(pushOff(p)) != 0 || p.QuietHours.Enabled {
				t.Fatalf("b's preferences %v", p)
			}
			if n := e.count(t, "audit_events WHERE action = 'preferences.update' AND actor_id = $1", a.ID); n != 1 {
				t.Fatalf("%d audit rows", n)
			}
			// Replaced as a whole: an empty update turns everything back on.
			res = testkit.Got(a.Notify.UpdatePreferences(ctx, req(&notifyv1.UpdatePreferencesRequest{Preferences: &notifyv1.Preferences{}}))).Must(t).Preferences
			if len(pushOff(res)) != 0 || res.QuietHours.Enabled || res.QuietHours.TimeZone != "Asia/Ho_Chi_Minh" {
				t.Fatalf("after an empty update %v", res)
			}
		})

		t.Run("bad updates name the field and change nothing", func(t *testing.T) {
			quiet := func(start, end, tz string) *notifyv1.Preferences {
				return &notifyv1.Preferences{QuietHours: &notifyv1.QuietHours{Enabled: true, Start: start, End: end, TimeZone: tz}}
			}
			off := func(c notifyv1.Category) *notifyv1.Preferences {
				return &notifyv1.Preferences{Categories: []*notifyv1.CategoryPreference{{Category: c}}}
			}
			for _, tc := range []struct {
				name, field, says string
				p                 *notifyv1.Preferences
			}{
				{"no preferences", "preferences", "", nil},
				{"security off", "preferences.categories", "always push", off(notifyv1.Category_CATEGORY_SECURITY)},
				{"clearance off", "preferences.categories", "always push", off(notifyv1.Category_CATEGORY_CLEARANCE)},
				{"an unspecified category", "preferences.categories", "", off(notifyv1.Category_CATEGORY_UNSPECIFIED)},
				{"an unknown category", "preferences.categories", "", off(99)},
				{"a category twice", "preferences.categories", "twice", &notifyv1.Preferences{Categories: []*notifyv1.CategoryPreference{
					{Category: notifyv1.Category_CATEGORY_ISSUE}, {Category: notifyv1.Category_CATEGORY_ISSUE, PushEnabled: true}}}},
				{"a bad start", "preferences.quiet_hours.start", "HH:MM", quiet("25:00", "06:00", "")},
				{"a bad end", "preferences.quiet_hours.end", "HH:MM", quiet("22:00", "6h", "")},
				{"no start", "preferences.quiet_hours.start", "required", quiet("", "06:00", "")},
				{"start equals end", "preferences.quiet_hours.end", "differ", quiet("22:00", "22:00", "")},
				{"an unknown zone", "preferences.quiet_hours.time_zone", "IANA", quiet("22:00", "06:00", "Mars/Olympus_Mons")},
				{"the local zone", "preferences.quiet_hours.time_zone", "IANA", quiet("22:00", "06:00", "Local")},
			} {
				_, err := a.EN.UpdatePreferences(ctx, req(&notifyv1.UpdatePreferencesRequest{Preferences: tc.p}))
				if err == nil {
					t.Fatalf("%s: accepted", tc.name)
				}
				ce := testkit.WantField(t, err, connect.CodeInvalidArgument, tc.field)
				if !strings.Contains(ce.Message(), tc.says) {
					t.Fatalf("%s: message %q does not say %q", tc.name, ce.Message(), tc.says)
				}
			}
			_, err := a.Notify.UpdatePreferences(ctx, req(&notifyv1.UpdatePreferencesRequest{Preferences: &notifyv1.Preferences{
				Categories: []*notifyv1.CategoryPreference{{Category: notifyv1.Category_CATEGORY_SECURITY}}}}))
			if ce := testkit.WantField(t, err, connect.CodeInvalidArgument, "preferences.categories"); !strings.Contains(ce.Message(), "không thể tắt") {
				t.Fatalf("Vietnamese message %q", ce.Message())
			}
			if n := e.count(t, "audit_events WHERE action = 'preferences.update' AND actor_id = $1", a.ID); n != 2 {
				t.Fatalf("%d audit rows: a refused update was saved", n)
			}
		})

		t.Run("anonymous callers are refused", func(t *testing.T) {
			_, err := e.anon().GetPreferences(ctx, req(&notifyv1.GetPreferencesRequest{}))
			testkit.WantCode(t, err, connect.CodeUnauthenticated)
		})
	})
}
