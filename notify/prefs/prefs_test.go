package prefs

import (
	"context"
	"fmt"
	"testing"
	"time"

	"hqconnect/internal/errs"
	"hqconnect/internal/ids"
	"hqconnect/internal/store"
	"hqconnect/internal/store/storetest"
)

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestHeldUntilAcrossMidnight(t *testing.T) {
	hcm := mustZone(t, "Asia/Ho_Chi_Minh")
	q := QuietHours{Enabled: true, StartMinute: 22 * 60, EndMinute: 6*60 + 30, TimeZone: "Asia/Ho_Chi_Minh"}
	at := func(day, h, m int) time.Time { return time.Date(2026, 3, day, h, m, 0, 0, hcm) }
	tests := []struct {
		name  string
		now   time.Time
		held  bool
		until time.Time
	}{
		{"21:59 is before the window", at(10, 21, 59), false, time.Time{}},
		{"22:00 opens the window until tomorrow 06:30", at(10, 22, 0), true, at(11, 6, 30)},
		{"23:59 is held until tomorrow", at(10, 23, 59), true, at(11, 6, 30)},
		{"00:00 is held until this morning", at(11, 0, 0), true, at(11, 6, 30)},
		{"02:00 is held until 06:30 the same day", at(11, 2, 0), true, at(11, 6, 30)},
		{"06:29 is still held", at(11, 6, 29), true, at(11, 6, 30)},
		{"06:29:59 is still held", at(11, 6, 29).Add(59 * time.Second), true, at(11, 6, 30)},
		{"06:30 closes the window", at(11, 6, 30), false, time.Time{}},
		{"noon is free", at(11, 12, 0), false, time.Time{}},
		{"a UTC instant is read in the zone: 15:30Z is 22:30 in Hanoi", time.Date(2026, 3, 10, 15, 30, 0, 0, time.UTC), true, at(11, 6, 30)},
		{"the last day of a month rolls over", time.Date(2026, 3, 31, 23, 0, 0, 0, hcm), true, time.Date(2026, 4, 1, 6, 30, 0, 0, hcm)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			held, until := q.HeldUntil(tt.now)
			if held != tt.held || !until.Equal(tt.until) {
				t.Errorf("HeldUntil(%s) = %v, %s; want %v, %s", tt.now, held, until, tt.held, tt.until)
			}
		})
	}
}

func TestHeldUntilOtherWindows(t *testing.T) {
	hcm := mustZone(t, "Asia/Ho_Chi_Minh")
	paris := mustZone(t, "Europe/Paris")
	noon := time.Date(2026, 3, 10, 12, 15, 0, 0, hcm)
	tests := []struct {
		name  string
		q     QuietHours
		now   time.Time
		held  bool
		until time.Time
	}{
		{"disabled", QuietHours{Enabled: false, StartMinute: 12 * 60, EndMinute: 13 * 60}, noon, false, time.Time{}},
		{"start == end is no window", QuietHours{Enabled: true, StartMinute: 12 * 60, EndMinute: 12 * 60}, noon, false, time.Time{}},
		{"same-day window, inside", QuietHours{Enabled: true, StartMinute: 12 * 60, EndMinute: 13*60 + 30}, noon, true,
			time.Date(2026, 3, 10, 13, 30, 0, 0, hcm)},
		{"same-day window, before", QuietHours{Enabled: true, StartMinute: 12*60 + 30, EndMinute: 13 * 60}, noon, false, time.Time{}},
		{"same-day window, end excluded", QuietHours{Enabled: true, StartMinute: 11 * 60, EndMinute: 12*60 + 15}, noon, false, time.Time{}},
		{"empty zone is Ho Chi Minh", QuietHours{Enabled: true, StartMinute: 12 * 60, EndMinute: 13 * 60}, noon, true,
			time.Date(2026, 3, 10, 13, 0, 0, 0, hcm)},
		{"a bad zone falls back to Ho Chi Minh", QuietHours{Enabled: true, StartMinute: 12 * 60, EndMinute: 13 * 60, TimeZone: "Mars/Olympus"}, noon, true,
			time.Date(2026, 3, 10, 13, 0, 0, 0, hcm)},
		{"another zone: 12:15 in Hanoi is 06:15 in Paris", QuietHours{Enabled: true, StartMinute: 22 * 60, EndMinute: 7 * 60, TimeZone: "Europe/Paris"}, noon, true,
			time.Date(2026, 3, 10, 7, 0, 0, 0, paris)},
		{"out-of-range minutes are no window", QuietHours{Enabled: true, StartMinute: -5, EndMinute: 3000}, noon, false, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			held, until := tt.q.HeldUntil(tt.now)
			if held != tt.held || !until.Equal(tt.until) {
				t.Errorf("HeldUntil = %v, %s; want %v, %s", held, until, tt.held, tt.until)
			}
		})
	}
}

func TestPushAllowed(t *testing.T) {
	p := Prefs{Disabled: map[string]bool{"issue": true, "security": true, "clearance": true, "meeting": false}}
	tests := []struct {
		name     string
		category string
		critical bool
		want     bool
	}{
		{"switched-off category", "issue", false, false},
		{"switched-off category, critical event", "issue", true, true},
		{"explicitly on", "meeting", false, true},
		{"not listed", "notice", false, true},
		{"security is critical whatever the event says", "security", false, true},
		{"clearance is critical whatever the event says", "clearance", false, true},
		{"unknown category", "other", false, true},
	}
	for _, tt := range tests {
		if got := p.PushAllowed(tt.category, tt.critical); got != tt.want {
			t.Errorf("%s: PushAllowed(%q, %v) = %v, want %v", tt.name, tt.category, tt.critical, got, tt.want)
		}
	}
	if !(Prefs{}).PushAllowed("issue", false) {
		t.Error("the zero Prefs must push everything")
	}
}

func TestParseHHMM(t *testing.T) {
	good := map[string]int{"00:00": 0, "06:30": 390, "6:30": 390, "22:00": 1320, "23:59": 1439, " 07:05 ": 425}
	for s, want := range good {
		got, err := ParseHHMM(s)
		if err != nil || got != want {
			t.Errorf("ParseHHMM(%q) = %d, %v; want %d", s, got, err, want)
		}
		if s == "06:30" && FormatHHMM(got) != s {
			t.Errorf("FormatHHMM(%d) = %q", got, FormatHHMM(got))
		}
	}
	for _, s := range []string{"", "24:00", "12:60", "1230", "12:3", "+1:30", "12:-1", "ab:cd", "12:30:00", "123:00", "١٢:٣٠"} {
		_, err := ParseHHMM(s)
		e, ok := errs.As(err)
		if !ok || e.Code != errs.Invalid || e.EN == "" || e.VI == "" {
			t.Errorf("ParseHHMM(%q) = %v, want an invalid-field error in both languages", s, err)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		p     Prefs
		field string // "" when valid
	}{
		{"zero", Prefs{}, ""},
		{"valid", Prefs{Disabled: map[string]bool{"issue": true}, Quiet: QuietHours{Enabled: true, StartMinute: 1320, EndMinute: 390, TimeZone: "Asia/Bangkok"}}, ""},
		{"unknown category", Prefs{Disabled: map[string]bool{"spam": true}}, "categories"},
		{"minute out of range", Prefs{Quiet: QuietHours{StartMinute: 1440}}, "quiet_hours"},
		{"bad zone", Prefs{Quiet: QuietHours{TimeZone: "Mars/Olympus"}}, "quiet_hours.time_zone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			if tt.field == "" {
				if err != nil {
					t.Fatalf("Validate = %v", err)
				}
				return
			}
			e, ok := errs.As(err)
			if !ok || e.Field != tt.field || e.VI == "" {
				t.Fatalf("Validate = %v, want an invalid %s", err, tt.field)
			}
		})
	}
}

// addUser inserts an active enterprise-less user (the tables of
// 00001_identity.sql) and returns its id.
func addUser(t *testing.T, db *store.DB) string {
	t.Helper()
	id := ids.New()
	now := store.Now()
	if _, err := db.ExecContext(context.Background(), `INSERT INTO users (id, kind, email, full_name, password_hash, status, create_time, update_time)
VALUES ($1, 'officer', $2, 'Test User', 'x', 'ACTIVE', $3, $3)`, id, fmt.Sprintf("%s@example.test", id), now); err != nil {
		t.Fatalf("add user: %v", err)
	}
	return id
}

func TestStore(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := t.Context()
		s := NewStore(db)
		u1, u2, u3 := addUser(t, db), addUser(t, db), addUser(t, db)

		if p, err := s.Get(ctx, u1); err != nil || p.Disabled != nil || p.Quiet != (QuietHours{}) {
			t.Fatalf("Get before Put = %+v, %v; want the zero Prefs", p, err)
		}
		p1 := Prefs{
			Disabled: map[string]bool{"issue": true, "meeting": true, "notice": false},
			Quiet:    QuietHours{Enabled: true, StartMinute: 1320, EndMinute: 390, TimeZone: "Asia/Ho_Chi_Minh"},
		}
		if err := s.Put(ctx, nil, u1, p1); err != nil {
			t.Fatal(err)
		}
		if err := s.Put(ctx, db, u2, Prefs{Disabled: map[string]bool{"workshop": true}}); err != nil {
			t.Fatal(err)
		}
		got, err := s.Get(ctx, u1)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Disabled) != 2 || !got.Disabled["issue"] || !got.Disabled["meeting"] || got.Quiet != p1.Quiet {
			t.Fatalf("Get = %+v, want %+v (without the enabled notice)", got, p1)
		}

		// Put replaces.
		p1b := Prefs{Disabled: map[string]bool{"conduct": true}, Quiet: QuietHours{Enabled: false, StartMinute: 60, EndMinute: 120}}
		if err := s.Put(ctx, nil, u1, p1b); err != nil {
			t.Fatal(err)
		}
		m, err := s.ForUsers(ctx, []string{u1, u2, u3})
		if err != nil {
			t.Fatal(err)
		}
		if g := m[u1]; len(g.Disabled) != 1 || !g.Disabled["conduct"] || g.Quiet != p1b.Quiet {
			t.Errorf("u1 after replace = %+v, want %+v", g, p1b)
		}
		if g := m[u2]; len(g.Disabled) != 1 || !g.Disabled["workshop"] || g.Quiet != (QuietHours{}) {
			t.Errorf("u2 = %+v", g)
		}
		if _, ok := m[u3]; ok {
			t.Errorf("u3 has no preferences but got %+v", m[u3])
		}

		// Invalid input changes nothing.
		err = s.Put(ctx, nil, u1, Prefs{Disabled: map[string]bool{"spam": true}})
		if !errs.Is(err, errs.Invalid) {
			t.Fatalf("Put with an unknown category = %v", err)
		}
		if g, _ := s.Get(ctx, u1); !g.Disabled["conduct"] {
			t.Errorf("a refused Put changed the preferences: %+v", g)
		}
	})
}
