package issues

import (
	"strings"
	"testing"

	"hqconnect/internal/errs"
)

// TestTransitions checks every (status, action) pair against the table of
// the allowed ones: whatever is not listed is refused.
func TestTransitions(t *testing.T) {
	type key struct {
		from Status
		a    Action
	}
	// The allowed transitions; resume is the stored status to come back to.
	allowed := []struct {
		from   Status
		a      Action
		resume Status
		to     Status
	}{
		{StatusOpen, ActAssign, "", StatusAssigned},
		{StatusAssigned, ActAssign, "", StatusAssigned},
		{StatusReopened, ActAssign, "", StatusReopened},
		{StatusWaiting, ActAssign, StatusReopened, StatusWaiting},

		{StatusOpen, ActTransfer, "", StatusOpen},
		{StatusAssigned, ActTransfer, "", StatusOpen},
		{StatusReopened, ActTransfer, "", StatusOpen},

		{StatusAssigned, ActRequestInfo, "", StatusWaiting},
		{StatusReopened, ActRequestInfo, "", StatusWaiting},
		{StatusWaiting, ActReply, StatusAssigned, StatusAssigned},

		{StatusAssigned, ActAnswer, "", StatusAnswered},
		{StatusReopened, ActAnswer, "", StatusAnswered},
		{StatusAssigned, ActSubmit, "", StatusPendingApproval},
		{StatusReopened, ActSubmit, "", StatusPendingApproval},
		{StatusPendingApproval, ActApprove, StatusReopened, StatusAnswered},
		{StatusPendingApproval, ActReject, StatusAssigned, StatusAssigned},

		{StatusAnswered, ActResolve, "", StatusResolved},
		{StatusAnswered, ActReopen, "", StatusReopened},
		{StatusResolved, ActReopen, "", StatusReopened},
		{StatusAnswered, ActClose, "", StatusClosed},
		{StatusResolved, ActClose, "", StatusClosed},

		{StatusOpen, ActWithdraw, "", StatusClosed},
		{StatusAssigned, ActWithdraw, "", StatusClosed},
		{StatusWaiting, ActWithdraw, StatusAssigned, StatusClosed},
		{StatusPendingApproval, ActWithdraw, StatusAssigned, StatusClosed},
		{StatusAnswered, ActWithdraw, "", StatusClosed},
		{StatusResolved, ActWithdraw, "", StatusClosed},
		{StatusReopened, ActWithdraw, "", StatusClosed},
	}
	want := map[key]Status{}
	for _, c := range allowed {
		got, ok := transition(c.from, c.a, c.resume)
		if !ok || got != c.to {
			t.Errorf("%s -%s-> = %s, %v; want %s", c.from, c.a, got, ok, c.to)
		}
		want[key{c.from, c.a}] = c.to
	}
	actions := []Action{ActAssign, ActTransfer, ActRequestInfo, ActReply, ActAnswer, ActSubmit, ActApprove,
		ActReject, ActResolve, ActReopen, ActClose, ActWithdraw}
	for _, from := range allStatuses {
		for _, a := range actions {
			if _, listed := want[key{from, a}]; listed {
				continue
			}
			if to, ok := transition(from, a, StatusAssigned); ok {
				t.Errorf("%s -%s-> %s is allowed; want refused", from, a, to)
			}
		}
	}
}

// TestReturnToWork: a reply or a rejection goes back to where the issue
// was: REOPENED stays REOPENED.
func TestReturnToWork(t *testing.T) {
	for _, tc := range []struct {
		a      Action
		resume Status
		want   Status
	}{
		{ActReply, StatusAssigned, StatusAssigned},
		{ActReply, StatusReopened, StatusReopened},
		{ActReply, "", StatusAssigned},
		{ActReject, StatusReopened, StatusReopened},
		{ActReject, StatusAssigned, StatusAssigned},
	} {
		from := StatusWaiting
		if tc.a == ActReject {
			from = StatusPendingApproval
		}
		if got, ok := transition(from, tc.a, tc.resume); !ok || got != tc.want {
			t.Errorf("%s -%s-> with resume %q = %s, %v; want %s", from, tc.a, tc.resume, got, ok, tc.want)
		}
	}
}

// TestTransitionError names the current status and what is allowed, in both
// languages.
func TestTransitionError(t *testing.T) {
	e := errTransition(StatusClosed, ActResolve)
	if e.Code != errs.FailedPrecondition {
		t.Fatalf("code %v, want FailedPrecondition", e.Code)
	}
	if !strings.Contains(e.EN, "CLOSED") || !strings.Contains(e.EN, "ANSWERED") {
		t.Errorf("EN %q must name CLOSED and ANSWERED", e.EN)
	}
	if !strings.Contains(e.VI, "CLOSED") || !strings.Contains(e.VI, "ANSWERED") || !strings.Contains(e.VI, "đã trả lời") {
		t.Errorf("VI %q must name CLOSED and ANSWERED (đã trả lời)", e.VI)
	}
}

func TestEnterpriseStatus(t *testing.T) {
	for _, s := range allStatuses {
		got := enterpriseStatus(s)
		want := s
		if s == StatusPendingApproval {
			want = StatusAssigned
		}
		if got != want {
			t.Errorf("enterpriseStatus(%s) = %s, want %s", s, got, want)
		}
	}
}

func TestSignatureLine(t *testing.T) {
	for _, tc := range []struct {
		locale, role, unitKind, onBehalf, want string
	}{
		{"vi", "UNIT_HEAD", "BRANCH", "DIRECTOR", "KT. CỤC TRƯỞNG / CHI CỤC TRƯỞNG / Trần Thị B"},
		{"en", "UNIT_HEAD", "BRANCH", "DIRECTOR", "For the Director / Head of Branch / Trần Thị B"},
		{"vi", "DIRECTOR", "DEPARTMENT", "", "CỤC TRƯỞNG / Trần Thị B"},
		{"en", "DIRECTOR", "DEPARTMENT", "", "Director / Trần Thị B"},
		{"vi", "UNIT_HEAD", "TEAM", "DIRECTOR", "KT. CỤC TRƯỞNG / ĐỘI TRƯỞNG / Trần Thị B"},
		{"vi", "OFFICER", "TEAM", "", "CÔNG CHỨC HẢI QUAN / Trần Thị B"},
	} {
		if got := signatureLine(tc.locale, tc.role, tc.unitKind, tc.onBehalf, "Trần Thị B"); got != tc.want {
			t.Errorf("signatureLine(%s, %s, %s, %q) = %q, want %q", tc.locale, tc.role, tc.unitKind, tc.onBehalf, got, tc.want)
		}
	}
}

func TestValidators(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"", true}, {"105123456789", true}, {" 105123456789 ", true},
		{"10512345678", false}, {"1051234567890", false}, {"10512345678a", false}, {"105-23456789", false},
	} {
		_, err := declarationNumber("declaration_number", tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("declarationNumber(%q) error %v, want ok=%v", tc.in, err, tc.ok)
		}
	}
	for _, tc := range []struct {
		in       string
		min, max int
		ok       bool
	}{
		{"abcd", 5, 200, false}, {"abcde", 5, 200, true}, {"  abcde  ", 5, 200, true},
		{"Hải quan", 5, 8, true}, {"Hải quan!", 5, 8, false}, {"a\x00bcdef", 5, 200, false},
	} {
		_, err := line("title", tc.in, tc.min, tc.max)
		if (err == nil) != tc.ok {
			t.Errorf("line(%q, %d, %d) error %v, want ok=%v", tc.in, tc.min, tc.max, err, tc.ok)
		}
	}
}

func TestCursorToken(t *testing.T) {
	c := cursor{sort: 2, hasDue: true, id: "0190a000-0000-7000-8000-000000000001"}
	got, err := parseCursor(c.token(), 2)
	if err != nil || got.id != c.id || !got.hasDue {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	if _, err := parseCursor(c.token(), 1); err == nil {
		t.Error("a deadline token accepted for the newest-first sort")
	}
	if _, err := parseCursor("not a token", 2); err == nil {
		t.Error("garbage accepted")
	}
}
