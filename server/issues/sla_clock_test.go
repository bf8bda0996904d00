package issues

import (
	"fmt"
	"testing"
	"time"

	issuev1 "hqconnect/gen/hqconnect/issue/v1"
	"hqconnect/internal/calendar"
)

var slaCal = calendar.Default()

// vn is a wall-clock instant in Asia/Ho_Chi_Minh.
func vn(y int, m time.Month, d, hh, mm int) time.Time {
	return time.Date(y, m, d, hh, mm, 0, 0, slaCal.Location)
}

// 2026-03-02 is a Monday. Tết 2026: Mon 16 – Fri 20 February off, so Fri 13
// is the last working day before it and Mon 23 the first after. 1–2 January
// 2026 (Thu, Fri) are off and Saturday 10 January is worked in exchange.

func TestLevelMinutes(t *testing.T) {
	tests := []struct {
		budget int64
		level  int
		want   int64
	}{
		{480, slaLevelWarned, 384},
		{480, slaLevelOverdue, 480},
		{480, slaLevelDirector, 720},
		{25, slaLevelWarned, 20},
		{7, slaLevelWarned, 6},    // 5.6 rounds up: never warn early
		{7, slaLevelDirector, 11}, // 10.5 rounds up
		{1, slaLevelWarned, 1},
		{1, slaLevelDirector, 2},
	}
	for _, tt := range tests {
		if got := levelMinutes(tt.budget, tt.level); got != tt.want {
			t.Errorf("levelMinutes(%d, %d) = %d, want %d", tt.budget, tt.level, got, tt.want)
		}
	}
}

func TestSLADeadline(t *testing.T) {
	tests := []struct {
		name string
		c    slaClock
		want time.Time
	}{
		{"a working day rolls into the next morning", slaClock{Budget: 480, Running: vn(2026, 3, 2, 8, 0)}, vn(2026, 3, 3, 8, 0)},
		{"lunch 11:30–13:00 does not count", slaClock{Budget: 60, Running: vn(2026, 3, 2, 11, 0)}, vn(2026, 3, 2, 13, 30)},
		{"a start inside lunch counts from 13:00", slaClock{Budget: 30, Running: vn(2026, 3, 2, 11, 45)}, vn(2026, 3, 2, 13, 30)},
		{"a deadline on closing time stays there", slaClock{Budget: 240, Running: vn(2026, 3, 2, 13, 0)}, vn(2026, 3, 2, 17, 0)},
		{"the weekend does not count", slaClock{Budget: 120, Running: vn(2026, 3, 6, 16, 0)}, vn(2026, 3, 9, 8, 30)},
		{"a start on Sunday counts from Monday", slaClock{Budget: 60, Running: vn(2026, 3, 8, 10, 0)}, vn(2026, 3, 9, 8, 30)},
		{"Tết 2026 does not count", slaClock{Budget: 120, Running: vn(2026, 2, 13, 16, 0)}, vn(2026, 2, 23, 8, 30)},
		{"New Year 2026 and its bridge day do not count", slaClock{Budget: 120, Running: vn(2025, 12, 31, 16, 0)}, vn(2026, 1, 5, 8, 30)},
		{"the make-up Saturday counts", slaClock{Budget: 120, Running: vn(2026, 1, 9, 16, 0)}, vn(2026, 1, 10, 8, 30)},
		{"used time is deducted", slaClock{Budget: 480, Used: 450, Running: vn(2026, 3, 2, 8, 0)}, vn(2026, 3, 2, 8, 30)},
		{"a used-up budget is due at once", slaClock{Budget: 60, Used: 90, Running: vn(2026, 3, 2, 9, 0)}, vn(2026, 3, 2, 9, 0)},
		{"a paused clock has no deadline", slaClock{Budget: 480, Used: 10}, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.deadline(slaCal); !got.Equal(tt.want) {
				t.Fatalf("deadline = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestSLALevelAt(t *testing.T) {
	eightHours := slaClock{Budget: 480, Running: vn(2026, 3, 2, 7, 30)}
	tests := []struct {
		name  string
		c     slaClock
		level int
		want  time.Time
	}{
		{"80 % of 8 h is 6 h 24 min of working time", eightHours, slaLevelWarned, vn(2026, 3, 2, 15, 24)},
		{"100 % is the deadline", eightHours, slaLevelOverdue, vn(2026, 3, 2, 17, 0)},
		{"150 % runs into the next day", eightHours, slaLevelDirector, vn(2026, 3, 3, 11, 30)},
		{"no level after 150 %", eightHours, slaLevelDirector + 1, time.Time{}},
		{"80 % across Tết", slaClock{Budget: 100, Running: vn(2026, 2, 13, 16, 30)}, slaLevelWarned, vn(2026, 2, 23, 8, 20)},
		{"used time is deducted", slaClock{Budget: 480, Used: 300, Running: vn(2026, 3, 4, 13, 0)}, slaLevelWarned, vn(2026, 3, 4, 14, 24)},
		{"a level passed while paused is due at the resume", slaClock{Budget: 100, Used: 90, Running: vn(2026, 3, 2, 9, 0)}, slaLevelWarned, vn(2026, 3, 2, 9, 0)},
		{"a level passed while paused, resumed on Saturday, is due on Monday's opening", slaClock{Budget: 100, Used: 90, Running: vn(2026, 3, 7, 10, 0)}, slaLevelWarned, vn(2026, 3, 9, 7, 30)},
		{"a paused clock reaches nothing", slaClock{Budget: 100, Used: 10}, slaLevelWarned, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.levelAt(slaCal, tt.level); !got.Equal(tt.want) {
				t.Fatalf("levelAt(%d) = %v, want %v", tt.level, got, tt.want)
			}
		})
	}
}

func TestSLAPauseResume(t *testing.T) {
	tests := []struct {
		name         string
		budget       int64
		start        time.Time
		pause        time.Time
		resume       time.Time
		wantUsed     int64
		wantDeadline time.Time
	}{
		{
			name: "two days paused in working hours move the deadline two days", budget: 480,
			start: vn(2026, 3, 2, 8, 0), pause: vn(2026, 3, 2, 10, 0), resume: vn(2026, 3, 4, 10, 0),
			wantUsed: 120, wantDeadline: vn(2026, 3, 5, 8, 0),
		},
		{
			name: "a pause over the weekend consumes only the working hour before it", budget: 240,
			start: vn(2026, 3, 6, 15, 0), pause: vn(2026, 3, 6, 16, 0), resume: vn(2026, 3, 9, 7, 30),
			wantUsed: 60, wantDeadline: vn(2026, 3, 9, 10, 30),
		},
		{
			name: "paused through lunch and resumed on Sunday", budget: 120,
			start: vn(2026, 3, 6, 11, 0), pause: vn(2026, 3, 6, 12, 0), resume: vn(2026, 3, 8, 9, 0),
			wantUsed: 30, wantDeadline: vn(2026, 3, 9, 9, 0),
		},
		{
			name: "paused over Tết", budget: 480,
			start: vn(2026, 2, 12, 13, 0), pause: vn(2026, 2, 13, 9, 0), resume: vn(2026, 2, 23, 13, 0),
			wantUsed: 240 + 90, wantDeadline: vn(2026, 2, 23, 15, 30),
		},
		{
			name: "paused over the make-up Saturday does not get it back", budget: 480,
			start: vn(2026, 1, 9, 13, 0), pause: vn(2026, 1, 9, 17, 0), resume: vn(2026, 1, 12, 7, 30),
			wantUsed: 240, wantDeadline: vn(2026, 1, 12, 11, 30),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := slaClock{Budget: tt.budget}.resume(tt.start)
			c = c.pause(slaCal, tt.pause)
			if c.Used != tt.wantUsed || c.running() {
				t.Fatalf("after pause: used %d running %v, want used %d, paused", c.Used, c.running(), tt.wantUsed)
			}
			if again := c.pause(slaCal, tt.resume); again != c {
				t.Fatalf("pausing a paused clock changed it: %+v", again)
			}
			c = c.resume(tt.resume)
			if got := c.deadline(slaCal); !got.Equal(tt.wantDeadline) {
				t.Fatalf("deadline after resume = %v, want %v", got, tt.wantDeadline)
			}
			if again := c.resume(tt.resume.Add(time.Hour)); again != c {
				t.Fatalf("resuming a running clock changed it: %+v", again)
			}
		})
	}
}

func TestSLAResumeCountsFromTheMinute(t *testing.T) {
	c := slaClock{Budget: 480}.resume(vn(2026, 3, 2, 7, 30).Add(6*time.Millisecond + 40*time.Second))
	if !c.Running.Equal(vn(2026, 3, 2, 7, 30)) {
		t.Fatalf("running since %v", c.Running)
	}
	if got, want := c.deadline(slaCal), vn(2026, 3, 2, 17, 0); !got.Equal(want) {
		t.Fatalf("deadline %v, want %v (not the next morning)", got, want)
	}
}

func TestSLARebase(t *testing.T) {
	// The new unit works 07:00–15:00 without lunch.
	other, err := calendar.New(slaCal.Location, []calendar.Span{{Start: 7 * 60, End: 15 * 60}}, calendar.VietnamHolidays())
	if err != nil {
		t.Fatal(err)
	}
	c := slaClock{Budget: 480, Running: vn(2026, 3, 2, 7, 30)}
	// 07:30–11:30 and 13:00–14:00 on the old calendar: 300 minutes.
	c = c.rebase(slaCal, vn(2026, 3, 2, 14, 0))
	if c.Used != 300 || !c.Running.Equal(vn(2026, 3, 2, 14, 0)) {
		t.Fatalf("rebased clock %+v", c)
	}
	// 180 left on the new calendar: 14:00–15:00, then 07:00–09:00.
	if got, want := c.deadline(other), vn(2026, 3, 3, 9, 0); !got.Equal(want) {
		t.Fatalf("deadline on the new calendar = %v, want %v", got, want)
	}
}

func TestSLAState(t *testing.T) {
	yes, no := true, false
	run := slaClock{Budget: 480, Running: vn(2026, 3, 2, 7, 30)}
	tests := []struct {
		name   string
		status string
		c      slaClock
		met    *bool
		now    time.Time
		want   issuev1.SlaState
		frac   float64
	}{
		{"just started", "OPEN", run, nil, vn(2026, 3, 2, 7, 30), issuev1.SlaState_SLA_STATE_ON_TRACK, 0},
		{"a minute before 80 %", "ASSIGNED", run, nil, vn(2026, 3, 2, 15, 23), issuev1.SlaState_SLA_STATE_ON_TRACK, 383.0 / 480},
		{"at 80 %", "ASSIGNED", run, nil, vn(2026, 3, 2, 15, 24), issuev1.SlaState_SLA_STATE_AT_RISK, 0.8},
		{"lunch does not move it", "ASSIGNED", run, nil, vn(2026, 3, 2, 12, 59), issuev1.SlaState_SLA_STATE_ON_TRACK, 0.5},
		{"at the deadline", "PENDING_APPROVAL", run, nil, vn(2026, 3, 2, 17, 0), issuev1.SlaState_SLA_STATE_OVERDUE, 1},
		{"a week later, still overdue", "REOPENED", run, nil, vn(2026, 3, 8, 12, 0), issuev1.SlaState_SLA_STATE_OVERDUE, 5},
		{"waiting for the enterprise", "WAITING_ENTERPRISE", slaClock{Budget: 480, Used: 470}, nil, vn(2026, 3, 9, 12, 0), issuev1.SlaState_SLA_STATE_PAUSED, 470.0 / 480},
		{"answered in time", "ANSWERED", slaClock{Budget: 480, Used: 200}, &yes, vn(2026, 3, 9, 12, 0), issuev1.SlaState_SLA_STATE_MET, 200.0 / 480},
		{"resolved late", "RESOLVED", slaClock{Budget: 480, Used: 500}, &no, vn(2026, 3, 9, 12, 0), issuev1.SlaState_SLA_STATE_MISSED, 500.0 / 480},
		{"withdrawn before any answer", "CLOSED", slaClock{Budget: 480}, nil, vn(2026, 3, 9, 12, 0), issuev1.SlaState_SLA_STATE_UNSPECIFIED, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := slaRoundState(tt.status, tt.c, tt.met, slaCal, tt.now); got != tt.want {
				t.Errorf("state = %v, want %v", got, tt.want)
			}
			if got := tt.c.fractionAt(slaCal, tt.now); got != tt.frac {
				t.Errorf("fraction = %v, want %v", got, tt.frac)
			}
		})
	}
}

func TestSLALevelReached(t *testing.T) {
	run := slaClock{Budget: 480, Running: vn(2026, 3, 2, 7, 30)}
	tests := []struct {
		now  time.Time
		want int
	}{
		{vn(2026, 3, 2, 15, 23), slaLevelNone},
		{vn(2026, 3, 2, 15, 24), slaLevelWarned},
		{vn(2026, 3, 2, 17, 0), slaLevelOverdue},
		{vn(2026, 3, 3, 11, 29), slaLevelOverdue},
		{vn(2026, 3, 3, 11, 30), slaLevelDirector},
		{vn(2026, 3, 20, 11, 30), slaLevelDirector},
	}
	for _, tt := range tests {
		if got := run.levelReached(slaCal, tt.now); got != tt.want {
			t.Errorf("levelReached(%v) = %d, want %d", tt.now, got, tt.want)
		}
	}
}

func TestAutoCloseAt(t *testing.T) {
	tests := []struct {
		name     string
		answered time.Time
		days     int
		want     time.Time
	}{
		{"five working days later at the same time", vn(2026, 3, 2, 10, 0), 5, vn(2026, 3, 9, 10, 0)},
		{"an answer on Saturday counts from Monday's opening", vn(2026, 3, 7, 10, 0), 5, vn(2026, 3, 13, 17, 0)},
		{"an answer in lunch counts from 13:00 (and ends on a closing time)", vn(2026, 3, 2, 12, 0), 1, vn(2026, 3, 3, 11, 30)},
		{"Tết is skipped", vn(2026, 2, 12, 10, 0), 2, vn(2026, 2, 23, 10, 0)},
		{"the make-up Saturday is a working day", vn(2026, 1, 9, 10, 0), 1, vn(2026, 1, 10, 10, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := autoCloseAt(slaCal, tt.answered, tt.days); !got.Equal(tt.want) {
				t.Fatalf("autoCloseAt = %v, want %v", got, tt.want)
			}
		})
	}
}

// The deadline and level instants are computed on every transition and job
// run; the largest budget a category allows (2,000 business hours, about a
// year of working days) walks the most days.
func BenchmarkSLADeadline(b *testing.B) {
	for _, hours := range []int64{8, 40, 2000} {
		c := slaClock{Budget: hours * 60, Used: 30, Running: vn(2026, 2, 10, 9, 17)}
		b.Run(fmt.Sprintf("%dh", hours), func(b *testing.B) {
			for b.Loop() {
				_ = c.deadline(slaCal)
				_ = c.nextCheck(slaCal, slaLevelNone)
			}
		})
	}
}
