package issues

import (
	"strings"

	issuev1 "hqconnect/gen/hqconnect/issue/v1"
	"hqconnect/internal/errs"
)

// The issue state machine, as a table: pure, no I/O.

// Status is an issue's status as stored (the proto enum without its prefix).
type Status string

const (
	StatusOpen            Status = "OPEN"
	StatusAssigned        Status = "ASSIGNED"
	StatusWaiting         Status = "WAITING_ENTERPRISE"
	StatusPendingApproval Status = "PENDING_APPROVAL"
	StatusAnswered        Status = "ANSWERED"
	StatusResolved        Status = "RESOLVED"
	StatusReopened        Status = "REOPENED"
	StatusClosed          Status = "CLOSED"
)

// allStatuses in the proto's order.
var allStatuses = []Status{StatusOpen, StatusAssigned, StatusWaiting, StatusPendingApproval,
	StatusAnswered, StatusResolved, StatusReopened, StatusClosed}

// Action is what a caller does to an issue.
type Action string

const (
	ActAssign Action = "assign"
	// ActTransfer moves the issue to another unit.
	ActTransfer    Action = "transfer"
	ActRequestInfo Action = "request_info"
	// ActReply is the enterprise's message while customs waits for it.
	ActReply Action = "reply"
	// ActAnswer publishes an answer that needs no approval.
	ActAnswer Action = "answer"
	// ActSubmit gives an answer that waits for a signer.
	ActSubmit  Action = "submit"
	ActApprove Action = "approve"
	ActReject  Action = "reject"
	ActResolve Action = "resolve"
	ActReopen  Action = "reopen"
	// ActClose is an officer closing an answered issue.
	ActClose Action = "close"
	// ActWithdraw is the enterprise closing its own issue.
	ActWithdraw Action = "withdraw"
)

// back marks a transition that returns to the status stored when the issue
// left work (resume_status): ASSIGNED or REOPENED.
const back Status = "<back>"

// transitions: action → from → to.
var transitions = map[Action]map[Status]Status{
	ActAssign: {StatusOpen: StatusAssigned, StatusAssigned: StatusAssigned,
		StatusReopened: StatusReopened, StatusWaiting: StatusWaiting},
	ActTransfer:    {StatusOpen: StatusOpen, StatusAssigned: StatusOpen, StatusReopened: StatusOpen},
	ActRequestInfo: {StatusAssigned: StatusWaiting, StatusReopened: StatusWaiting},
	ActReply:       {StatusWaiting: back},
	ActAnswer:      {StatusAssigned: StatusAnswered, StatusReopened: StatusAnswered},
	ActSubmit:      {StatusAssigned: StatusPendingApproval, StatusReopened: StatusPendingApproval},
	ActApprove:     {StatusPendingApproval: StatusAnswered},
	ActReject:      {StatusPendingApproval: back},
	ActResolve:     {StatusAnswered: StatusResolved},
	ActReopen:      {StatusAnswered: StatusReopened, StatusResolved: StatusReopened},
	ActClose:       {StatusAnswered: StatusClosed, StatusResolved: StatusClosed},
	ActWithdraw: {StatusOpen: StatusClosed, StatusAssigned: StatusClosed, StatusWaiting: StatusClosed,
		StatusPendingApproval: StatusClosed, StatusAnswered: StatusClosed, StatusResolved: StatusClosed,
		StatusReopened: StatusClosed},
}

// transition returns the status after a from an issue in from, whose stored
// resume status is resume (used by the reply and reject transitions), and
// whether a is allowed at all.
func transition(from Status, a Action, resume Status) (Status, bool) {
	to, ok := transitions[a][from]
	if !ok {
		return "", false
	}
	if to == back {
		if resume != StatusAssigned && resume != StatusReopened {
			// An issue that never stored where to go back to was working.
			resume = StatusAssigned
		}
		return resume, true
	}
	return to, true
}

// leavesWork reports whether a puts the issue aside so that it must later
// come back to its working status (ASSIGNED or REOPENED).
func leavesWork(a Action) bool { return a == ActRequestInfo || a == ActSubmit }

// allowedFrom lists the statuses a is allowed from, in the proto's order.
func allowedFrom(a Action) []Status {
	var out []Status
	for _, s := range allStatuses {
		if _, ok := transitions[a][s]; ok {
			out = append(out, s)
		}
	}
	return out
}

var actionNames = map[Action][2]string{ // English, Vietnamese
	ActAssign:      {"assigned", "phân công"},
	ActTransfer:    {"transferred", "chuyển đơn vị"},
	ActRequestInfo: {"asked for information", "yêu cầu bổ sung thông tin"},
	ActReply:       {"answered by the enterprise", "nhận phản hồi của doanh nghiệp"},
	ActAnswer:      {"answered", "trả lời"},
	ActSubmit:      {"answered", "trả lời"},
	ActApprove:     {"approved", "phê duyệt"},
	ActReject:      {"sent back", "trả lại"},
	ActResolve:     {"resolved", "xác nhận đã giải quyết"},
	ActReopen:      {"reopened", "mở lại"},
	ActClose:       {"closed", "đóng"},
	ActWithdraw:    {"withdrawn", "rút"},
}

var statusNamesVI = map[Status]string{
	StatusOpen: "mới tiếp nhận", StatusAssigned: "đã phân công", StatusWaiting: "chờ doanh nghiệp bổ sung",
	StatusPendingApproval: "chờ phê duyệt", StatusAnswered: "đã trả lời", StatusResolved: "đã giải quyết",
	StatusReopened: "mở lại", StatusClosed: "đã đóng",
}

// errTransition is the FailedPrecondition for an action not allowed from
// status; shown is the status as the caller sees it.
func errTransition(shown Status, a Action) *errs.Error {
	var en, vi []string
	for _, s := range allowedFrom(a) {
		en = append(en, string(s))
		vi = append(vi, string(s)+" ("+statusNamesVI[s]+")")
	}
	names := actionNames[a]
	return &errs.Error{Code: errs.FailedPrecondition,
		EN: "the issue is " + string(shown) + " and cannot be " + names[0] + "; allowed only when it is " + strings.Join(en, ", "),
		VI: "vướng mắc đang ở trạng thái " + string(shown) + " (" + statusNamesVI[shown] + ") nên không thể " + names[1] +
			"; chỉ được khi ở trạng thái " + strings.Join(vi, ", ")}
}

// statusProto is the proto enum of s.
func statusProto(s Status) issuev1.IssueStatus {
	return issuev1.IssueStatus(issuev1.IssueStatus_value["ISSUE_STATUS_"+string(s)])
}

// statusOf is the stored status of a proto enum ("" for UNSPECIFIED or an
// unknown value).
func statusOf(v issuev1.IssueStatus) Status {
	name, ok := issuev1.IssueStatus_name[int32(v)]
	if !ok || v == issuev1.IssueStatus_ISSUE_STATUS_UNSPECIFIED {
		return ""
	}
	return Status(strings.TrimPrefix(name, "ISSUE_STATUS_"))
}

// enterpriseStatus is how an enterprise user sees s: an answer waiting for
// its signer is still work in progress to them.
func enterpriseStatus(s Status) Status {
	if s == StatusPendingApproval {
		return StatusAssigned
	}
	return s
}
