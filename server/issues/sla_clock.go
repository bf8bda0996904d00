package issues

import (
	"time"

	issuev1 "hqconnect/gen/hqconnect/issue/v1"
	"hqconnect/internal/calendar"
)

// The pure SLA arithmetic: no I/O and no clock, so it is table-tested on its
// own (sla_clock_test.go). The hooks in sla.go load a slaClock from the issue
// row, move it with these functions and write it back.

// SLA levels, as stored in issues.sla_level: how far the round has gone.
const (
	slaLevelNone     = 0 // under 80 % of the budget used
	slaLevelWarned   = 1 // 80 %: the assignee was warned
	slaLevelOverdue  = 2 // 100 %: escalated to the unit head
	slaLevelDirector = 3 // 150 %: escalated to the director
)

// slaLevelPercent is the share of the budget, in percent, at which each level
// is reached (index: the level).
var slaLevelPercent = [...]int64{slaLevelWarned: 80, slaLevelOverdue: 100, slaLevelDirector: 150}

// slaClock is one round of an issue's SLA clock, in business minutes of the
// issue's calendar.
type slaClock struct {
	// Budget is the business minutes allowed for the round (B).
	Budget int64
	// Used is the business minutes consumed before Running (U).
	Used int64
	// Running is when the clock last started (R); zero while it is paused
	// or stopped.
	Running time.Time
}

// running reports whether the clock is counting.
func (c slaClock) running() bool { return !c.Running.IsZero() }

// levelMinutes is the business minutes of used time at which level is
// reached: ceil(p·B), so a level is never announced before its share of the
// budget has really gone.
func levelMinutes(budget int64, level int) int64 {
	p := slaLevelPercent[level]
	return (p*budget + 99) / 100
}

// deadline is when the budget runs out if the clock keeps running: R plus
// B−U business minutes. Zero while the clock is not running.
func (c slaClock) deadline(cal *calendar.Calendar) time.Time {
	if !c.running() {
		return time.Time{}
	}
	return cal.AddBusinessMinutes(c.Running, c.Budget-c.Used)
}

// levelAt is when level (1–3) is reached if the clock keeps running. A level
// whose share of the budget was already used (it passed while paused, or the
// budget shrank) is reached at once: at R, or the next opening after it.
// Zero while the clock is not running or for a level past the last.
func (c slaClock) levelAt(cal *calendar.Calendar, level int) time.Time {
	if !c.running() || level < slaLevelWarned || level > slaLevelDirector {
		return time.Time{}
	}
	return cal.AddBusinessMinutes(c.Running, levelMinutes(c.Budget, level)-c.Used)
}

// nextCheck is when the level after reached is due, zero when reached is
// the last level or the clock is not running.
func (c slaClock) nextCheck(cal *calendar.Calendar, reached int) time.Time {
	return c.levelAt(cal, reached+1)
}

// usedAt is the business minutes used by now.
func (c slaClock) usedAt(cal *calendar.Calendar, now time.Time) int64 {
	if !c.running() {
		return c.Used
	}
	return c.Used + cal.BusinessMinutes(c.Running, now)
}

// fractionAt is the share of the budget used by now (1 = all of it).
func (c slaClock) fractionAt(cal *calendar.Calendar, now time.Time) float64 {
	if c.Budget <= 0 {
		return 1
	}
	return float64(c.usedAt(cal, now)) / float64(c.Budget)
}

// levelReached is the highest level whose share of the budget is used by
// now.
func (c slaClock) levelReached(cal *calendar.Calendar, now time.Time) int {
	used := c.usedAt(cal, now)
	level := slaLevelNone
	for l := slaLevelWarned; l <= slaLevelDirector; l++ {
		if used >= levelMinutes(c.Budget, l) {
			level = l
		}
	}
	return level
}

// pause stops the clock at now, banking the business minutes it ran.
// Pausing a stopped clock changes nothing.
func (c slaClock) pause(cal *calendar.Calendar, now time.Time) slaClock {
	if !c.running() {
		return c
	}
	c.Used += cal.BusinessMinutes(c.Running, now)
	c.Running = time.Time{}
	return c
}

// resume starts the clock again at now, counted from the start of now's
// minute: the clock counts whole business minutes, and a start a few seconds
// into 07:30 must not push an 8-hour deadline from 17:00 to the next
// morning. (Flooring moves the deadline earlier, never later, than the
// exact arithmetic.) Resuming a running clock changes nothing.
func (c slaClock) resume(now time.Time) slaClock {
	if c.running() {
		return c
	}
	c.Running = now.Truncate(time.Minute)
	return c
}

// rebase moves a running clock onto another calendar at now (a transfer to a
// unit with other working hours): the time used so far is counted on the old
// calendar, the rest runs on the new one.
func (c slaClock) rebase(old *calendar.Calendar, now time.Time) slaClock {
	if !c.running() {
		return c
	}
	return c.pause(old, now).resume(now)
}

// slaRoundState says how a round stands at now. status is the issue's status
// (as stored); met is the stored outcome of the last stopped round, nil
// while none was recorded.
func slaRoundState(status string, c slaClock, met *bool, cal *calendar.Calendar, now time.Time) issuev1.SlaState {
	switch status {
	case "ANSWERED", "RESOLVED", "CLOSED":
		switch {
		case met == nil:
			// Closed without an answer (withdrawn): no outcome.
			return issuev1.SlaState_SLA_STATE_UNSPECIFIED
		case *met:
			return issuev1.SlaState_SLA_STATE_MET
		default:
			return issuev1.SlaState_SLA_STATE_MISSED
		}
	}
	if !c.running() {
		return issuev1.SlaState_SLA_STATE_PAUSED
	}
	switch used := c.usedAt(cal, now); {
	case used >= c.Budget:
		return issuev1.SlaState_SLA_STATE_OVERDUE
	case used >= levelMinutes(c.Budget, slaLevelWarned):
		return issuev1.SlaState_SLA_STATE_AT_RISK
	default:
		return issuev1.SlaState_SLA_STATE_ON_TRACK
	}
}

// autoCloseAt is when an issue answered at answered closes by itself: after
// days full working days of the calendar, i.e. once days × (the calendar's
// working minutes per day) business minutes have elapsed — the same time of
// day, days working days later (an answer given out of hours counts from the
// next opening).
func autoCloseAt(cal *calendar.Calendar, answered time.Time, days int) time.Time {
	var perDay int64
	for _, s := range cal.Hours {
		perDay += int64(s.End - s.Start)
	}
	return cal.AddBusinessMinutes(answered, int64(days)*perDay)
}
