package issues

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"connectrpc.com/connect"

	issuev1 "hqconnect/gen/hqconnect/issue/v1"
	"hqconnect/internal/audit"
	"hqconnect/internal/auth"
	"hqconnect/internal/errs"
	"hqconnect/internal/ids"
	"hqconnect/internal/outbox"
	"hqconnect/internal/store"
)

// The transitions of IssueService. Each runs in one transaction through
// changeIssue: object check, state machine, the change, its thread entry,
// audit row, SLA hook and notifications.

// allowed checks the state machine before anything else is looked up, so an
// illegal transition is reported as such.
func (c *change) allowed(a Action) error {
	if _, ok := transition(c.from, a, c.r.Resume); !ok {
		shown := c.from
		if c.v.enterprise() {
			shown = enterpriseStatus(shown)
		}
		return errTransition(shown, a)
	}
	return nil
}

var errNotCustoms = errMay("only customs officers may do this", "chỉ cán bộ hải quan được thực hiện thao tác này")

func (s *Service) AssignIssue(ctx context.Context, req *connect.Request[issuev1.AssignIssueRequest]) (*connect.Response[issuev1.AssignIssueResponse], error) {
	v, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if !v.officer() {
		return nil, errNotCustoms
	}
	officerID := strings.TrimSpace(req.Msg.OfficerId)
	if officerID != "" {
		if officerID, err = idField("officer_id", officerID); err != nil {
			return nil, err
		}
	}
	r, err := s.changeIssue(ctx, v, req.Msg.IssueId, func(c *change) error {
		if !v.head(c.r) && !v.HasRole(auth.RoleDirector) {
			// An officer of the unit may take an unassigned issue for
			// themselves, and nothing more.
			self := v.HasRole(auth.RoleOfficer) && v.UnitID == c.r.UnitID && c.r.AssigneeID == "" &&
				(officerID == "" || officerID == v.UserID)
			if !self {
				return errMay("only the unit head assigns this issue; an officer of its unit may take it only while it is unassigned",
					"chỉ lãnh đạo đơn vị được phân công vướng mắc này; cán bộ của đơn vị chỉ được tự nhận khi chưa có người xử lý")
			}
			officerID = v.UserID
		}
		if err := c.allowed(ActAssign); err != nil {
			return err
		}
		if officerID == "" {
			id, err := leastLoaded(ctx, c.tx, c.r.UnitID)
			if err != nil {
				return err
			}
			if id == "" {
				return errs.New(errs.FailedPrecondition,
					"the issue's unit has no active officer with the OFFICER role to assign it to: name an officer_id, or transfer the issue",
					"đơn vị của vướng mắc không có cán bộ (vai trò OFFICER) đang hoạt động để phân công: hãy chỉ định officer_id hoặc chuyển vướng mắc")
			}
			officerID = id
		}
		return c.assignTo(officerID)
	})
	if err != nil {
		return nil, err
	}
	out, err := s.issueOut(ctx, v, r)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&issuev1.AssignIssueResponse{Issue: out}), nil
}

// assignTo makes officerID, who must be an active officer of the issue's
// unit, its assignee.
func (c *change) assignTo(officerID string) error {
	o, err := getOfficer(c.ctx, c.tx, officerID)
	if err != nil && !store.IsNoRows(err) {
		return err
	}
	if !officerIn(o, c.r.UnitID) {
		return errs.InvalidField("officer_id",
			"must be an active officer of the issue's unit",
			"phải là cán bộ đang hoạt động của đơn vị xử lý vướng mắc")
	}
	if o.ID == c.r.AssigneeID && c.from != StatusOpen {
		return nil // already theirs
	}
	prev := c.r.AssigneeID
	c.r.AssigneeID, c.r.AssigneeName = o.ID, o.FullName
	detail := map[string]any{"assignee_id": o.ID}
	if prev != "" {
		detail["previous_assignee_id"] = prev
	}
	if c.system {
		detail["automatic"] = true
	}
	if err := c.move(ActAssign, "assign", detail); err != nil {
		return err
	}
	if err := c.event(visPublic, "Đã phân công cán bộ "+o.FullName+" xử lý.", "Assigned to officer "+o.FullName+"."); err != nil {
		return err
	}
	return c.notify("issue.assigned", outbox.Audience{UserIDs: []string{o.ID}},
		"Bạn được phân công xử lý "+c.r.Number, "You were assigned issue "+c.r.Number,
		snippet(c.r.Title, snippetLen), snippet(c.r.Title, snippetLen))
}

func (s *Service) TransferIssue(ctx context.Context, req *connect.Request[issuev1.TransferIssueRequest]) (*connect.Response[issuev1.TransferIssueResponse], error) {
	v, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if !v.officer() {
		return nil, errNotCustoms
	}
	unitID, err := idField("unit_id", req.Msg.UnitId)
	if err != nil {
		return nil, err
	}
	reason, err := para("reason", req.Msg.Reason, reasonMin, reasonMax)
	if err != nil {
		return nil, err
	}
	r, err := s.changeIssue(ctx, v, req.Msg.IssueId, func(c *change) error {
		if !v.head(c.r) && !v.HasRole(auth.RoleDirector) && c.r.AssigneeID != v.UserID {
			return errMay("only the unit head or the assignee transfers this issue",
				"chỉ lãnh đạo đơn vị hoặc cán bộ được phân công mới được chuyển vướng mắc này")
		}
		if err := c.allowed(ActTransfer); err != nil {
			return err
		}
		if !v.units.inForce(unitID, c.now) {
			return errs.InvalidField("unit_id", "must be a unit in force", "phải là đơn vị đang hoạt động")
		}
		if unitID == c.r.UnitID {
			return errs.InvalidField("unit_id", "the issue is in this unit already", "vướng mắc đã thuộc đơn vị này")
		}
		fromUnit := c.r.UnitID
		c.r.UnitID, c.r.AssigneeID = unitID, ""
		if err := c.move(ActTransfer, "transfer", map[string]any{"from_unit_id": fromUnit, "to_unit_id": unitID, "reason": reason}); err != nil {
			return err
		}
		// The reason is for officers: it often says why the first unit
		// could not answer.
		oldVI, oldEN := v.units.names(fromUnit)
		newVI, newEN := v.units.names(unitID)
		if err := c.event(visInternal,
			fmt.Sprintf("Chuyển từ %s đến %s. Lý do: %s", oldVI, newVI, reason),
			fmt.Sprintf("Transferred from %s to %s. Reason: %s", oldEN, newEN, reason)); err != nil {
			return err
		}
		if err := s.slaRecalc(ctx, c.tx, c.r.ID, c.now); err != nil {
			return err
		}
		c.sla = true
		return c.notify("issue.transferred", queueAudience(unitID),
			"Vướng mắc "+c.r.Number+" được chuyển đến đơn vị", "Issue "+c.r.Number+" was transferred to your unit",
			snippet(c.r.Title, snippetLen), snippet(c.r.Title, snippetLen))
	})
	if err != nil {
		return nil, err
	}
	out, err := s.issueOut(ctx, v, r)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&issuev1.TransferIssueResponse{Issue: out}), nil
}

var errClosed = errs.New(errs.FailedPrecondition,
	"the issue is CLOSED: raise a new issue instead",
	"vướng mắc đã ở trạng thái CLOSED (đã đóng): hãy gửi vướng mắc mới")

func (s *Service) PostMessage(ctx context.Context, req *connect.Request[issuev1.PostMessageRequest]) (*connect.Response[issuev1.PostMessageResponse], error) {
	v, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	vis := visPublic
	switch m.Visibility {
	case issuev1.Visibility_VISIBILITY_UNSPECIFIED, issuev1.Visibility_VISIBILITY_PUBLIC:
	case issuev1.Visibility_VISIBILITY_INTERNAL:
		if v.enterprise() {
			return nil, errs.InvalidField("visibility",
				"enterprise users post VISIBILITY_PUBLIC messages only",
				"người dùng doanh nghiệp chỉ gửi tin nhắn VISIBILITY_PUBLIC")
		}
		vis = visInternal
	default:
		return nil, errs.InvalidField("visibility", "must be VISIBILITY_PUBLIC or VISIBILITY_INTERNAL",
			"phải là VISIBILITY_PUBLIC hoặc VISIBILITY_INTERNAL")
	}
	body, err := para("body", m.Body, messageMin, messageMax)
	if err != nil {
		return nil, err
	}
	attIDs, err := attachmentIDs("attachment_ids", m.AttachmentIds)
	if err != nil {
		return nil, err
	}
	msg := &messageRow{ID: ids.New(), AuthorID: v.UserID, Visibility: vis, Kind: kindMessage, Body: body}
	r, err := s.changeIssue(ctx, v, m.IssueId, func(c *change) error {
		if c.from == StatusClosed {
			return errClosed
		}
		msg.IssueID, msg.CreateTime = c.r.ID, c.now
		if err := insertMessage(ctx, c.tx, msg); err != nil {
			return err
		}
		if len(attIDs) > 0 {
			if _, err := s.attach.Claim(ctx, c.tx, "attachment_ids", v.UserID, attIDs, c.r.ID, msg.ID, vis); err != nil {
				return err
			}
		}
		if err := audit.Record(ctx, c.tx, "issue.message", "issue", c.r.ID,
			map[string]any{"message_id": msg.ID, "visibility": vis, "attachments": len(attIDs)}); err != nil {
			return err
		}
		switch {
		case v.enterprise() && c.from == StatusWaiting:
			// The information asked for: the clock runs again.
			if err := c.move(ActReply, "reply", map[string]any{"message_id": msg.ID}); err != nil {
				return err
			}
			if err := s.slaResume(ctx, c.tx, c.r.ID, c.now); err != nil {
				return err
			}
			c.sla = true
			return c.notify("issue.enterprise_replied", assigneeAudience(c.r),
				"Doanh nghiệp đã bổ sung thông tin cho "+c.r.Number, "The enterprise replied on "+c.r.Number,
				snippet(body, snippetLen), snippet(body, snippetLen))
		case v.enterprise():
			if err := touch(ctx, c.tx, c.r.ID, c.now); err != nil {
				return err
			}
			return c.notify("issue.enterprise_message", assigneeAudience(c.r),
				"Tin nhắn mới của doanh nghiệp về "+c.r.Number, "New message from the enterprise on "+c.r.Number,
				snippet(body, snippetLen), snippet(body, snippetLen))
		case vis == visPublic:
			if err := touch(ctx, c.tx, c.r.ID, c.now); err != nil {
				return err
			}
			if err := c.firstResponse(); err != nil {
				return err
			}
			return c.notify("issue.replied", enterpriseAudience(c.r),
				"Hải quan trả lời tin nhắn về "+c.r.Number, "Customs replied on "+c.r.Number,
				snippet(body, snippetLen), snippet(body, snippetLen))
		default:
			return touch(ctx, c.tx, c.r.ID, c.now)
		}
	})
	if err != nil {
		return nil, err
	}
	out, err := s.issueOut(ctx, v, r)
	if err != nil {
		return nil, err
	}
	atts, err := s.attach.ForIssue(ctx, s.db, r.ID, v.officer())
	if err != nil {
		return nil, fmt.Errorf("read the message's attachments: %w", err)
	}
	msg.AuthorName, msg.AuthorOfficer = "", v.officer()
	if err := s.db.QueryRowContext(ctx, `SELECT full_name FROM users WHERE id = $1`, v.UserID).Scan(&msg.AuthorName); err != nil {
		return nil, fmt.Errorf("read the author's name: %w", err)
	}
	w := s.viewFor(ctx, v)
	return connect.NewResponse(&issuev1.PostMessageResponse{Message: w.message(msg, atts[msg.ID]), Issue: out}), nil
}

// mayWork: the assignee, or a UNIT_HEAD with access, answers and asks.
func (c *change) mayWork() error {
	if c.r.AssigneeID == c.v.UserID || c.v.head(c.r) {
		return nil
	}
	return errMay("only the assignee or the unit head may do this",
		"chỉ cán bộ được phân công hoặc lãnh đạo đơn vị được thực hiện thao tác này")
}

func (s *Service) RequestInformation(ctx context.Context, req *connect.Request[issuev1.RequestInformationRequest]) (*connect.Response[issuev1.RequestInformationResponse], error) {
	v, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if !v.officer() {
		return nil, errNotCustoms
	}
	body, err := para("body", req.Msg.Body, infoMin, infoMax)
	if err != nil {
		return nil, err
	}
	r, err := s.changeIssue(ctx, v, req.Msg.IssueId, func(c *change) error {
		if err := c.mayWork(); err != nil {
			return err
		}
		msg := &messageRow{ID: ids.New(), IssueID: c.r.ID, AuthorID: v.UserID, Visibility: visPublic,
			Kind: kindInfoReq, Body: body, CreateTime: c.now}
		if err := c.move(ActRequestInfo, "request_info", map[string]any{"message_id": msg.ID}); err != nil {
			return err
		}
		if err := insertMessage(ctx, c.tx, msg); err != nil {
			return err
		}
		if err := c.firstResponse(); err != nil {
			return err
		}
		if err := s.slaPause(ctx, c.tx, c.r.ID, c.now); err != nil {
			return err
		}
		c.sla = true
		return c.notify("issue.information_requested", enterpriseAudience(c.r),
			"Hải quan đề nghị bổ sung thông tin cho "+c.r.Number, "Customs asks for more information on "+c.r.Number,
			snippet(body, snippetLen), snippet(body, snippetLen))
	})
	if err != nil {
		return nil, err
	}
	out, err := s.issueOut(ctx, v, r)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&issuev1.RequestInformationResponse{Issue: out}), nil
}

func (s *Service) AnswerIssue(ctx context.Context, req *connect.Request[issuev1.AnswerIssueRequest]) (*connect.Response[issuev1.AnswerIssueResponse], error) {
	v, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if !v.officer() {
		return nil, errNotCustoms
	}
	body, err := para("body", req.Msg.Body, answerMin, answerMax)
	if err != nil {
		return nil, err
	}
	legal, err := para("legal_reference", req.Msg.LegalReference, 0, legalRefMax)
	if err != nil {
		return nil, err
	}
	a := &answerRow{ID: ids.New(), Body: body, LegalReference: legal, AuthorID: v.UserID}
	r, err := s.changeIssue(ctx, v, req.Msg.IssueId, func(c *change) error {
		if err := c.mayWork(); err != nil {
			return err
		}
		a.IssueID, a.CreateTime = c.r.ID, c.now
		if err := c.roundOf(a); err != nil {
			return err
		}
		if c.cat.NeedsApproval {
			if err := c.move(ActSubmit, "answer", map[string]any{"answer_id": a.ID, "needs_approval": true}); err != nil {
				return err
			}
			a.State = answerPend
			if err := insertAnswer(ctx, c.tx, a); err != nil {
				return err
			}
			if err := c.event(visInternal, "Dự thảo trả lời chờ phê duyệt.", "Draft answer waiting for approval."); err != nil {
				return err
			}
			return c.notify("issue.approval_requested", c.signerAudience(),
				"Trả lời vướng mắc "+c.r.Number+" chờ phê duyệt", "Answer to issue "+c.r.Number+" waits for approval",
				snippet(c.r.Title, snippetLen), snippet(c.r.Title, snippetLen))
		}
		if err := c.move(ActAnswer, "answer", map[string]any{"answer_id": a.ID, "needs_approval": false}); err != nil {
			return err
		}
		// Signed by its author: no approval was needed.
		a.State, a.SignerID, a.SignerUnitID = answerPub, v.UserID, v.UnitID
		a.SignerRole = auth.RoleOfficer
		if v.head(c.r) {
			a.SignerRole = auth.RoleUnitHead
		}
		a.SignTime = sql.NullTime{Time: c.now, Valid: true}
		if err := insertAnswer(ctx, c.tx, a); err != nil {
			return err
		}
		return c.published(a)
	})
	if err != nil {
		return nil, err
	}
	return answerResponse(ctx, s, v, r, a.ID, func(i *issuev1.Issue, an *issuev1.Answer) *issuev1.AnswerIssueResponse {
		return &issuev1.AnswerIssueResponse{Issue: i, Answer: an}
	})
}

// roundOf sets the answer's SLA round: the issue's current one.
func (c *change) roundOf(a *answerRow) error {
	return c.tx.QueryRowContext(c.ctx, `SELECT sla_round FROM issues WHERE id = $1`, c.r.ID).Scan(&a.Round)
}

// published finishes the publication of an answer: the round's clock stops,
// the first response is recorded and the enterprise is told.
func (c *change) published(a *answerRow) error {
	if err := c.firstResponse(); err != nil {
		return err
	}
	if err := c.s.slaStop(c.ctx, c.tx, c.r.ID, c.now); err != nil {
		return err
	}
	c.sla = true
	if err := c.event(visPublic, "Hải quan đã trả lời vướng mắc.", "Customs answered the issue."); err != nil {
		return err
	}
	return c.notify("issue.answered", enterpriseAudience(c.r),
		"Đã có trả lời cho vướng mắc "+c.r.Number, "Your issue "+c.r.Number+" has been answered",
		snippet(c.r.Title, snippetLen), snippet(c.r.Title, snippetLen))
}

// signerAudience is who may sign the issue's answers: the category's signer
// role in its signing unit, or in the issue's unit and the units above it.
func (c *change) signerAudience() outbox.Audience {
	role := c.cat.SignerRole
	if role == "" {
		role = auth.RoleDirector
	}
	if c.cat.SignerUnitID != "" {
		return outbox.Audience{UnitIDs: []string{c.cat.SignerUnitID}, Roles: []string{role}}
	}
	units := c.v.units
	if units == nil {
		return outbox.Audience{UnitIDs: []string{c.r.UnitID}, Roles: []string{role}}
	}
	return outbox.Audience{UnitIDs: units.ancestors(c.r.UnitID), Roles: []string{role}}
}

// answerResponse reads the committed issue and answer for v.
func answerResponse[T any](ctx context.Context, s *Service, v *viewer, r *issueRow, answerID string,
	build func(*issuev1.Issue, *issuev1.Answer) *T) (*connect.Response[T], error) {
	out, err := s.issueOut(ctx, v, r)
	if err != nil {
		return nil, err
	}
	a, err := getAnswer(ctx, s.db, r.ID, answerID)
	if err != nil {
		return nil, fmt.Errorf("read the answer: %w", err)
	}
	return connect.NewResponse(build(out, s.viewFor(ctx, v).answer(a))), nil
}

var errAnswerNotFound = &errs.Error{Code: errs.NotFound, Field: "answer_id",
	EN: "the issue has no answer with this id", VI: "vướng mắc không có bản trả lời với mã này"}

// pendingFor checks that the caller may sign the issue's answers and that
// answerID is its pending answer, written by someone else.
func (c *change) pendingFor(answerID string) (*answerRow, error) {
	if !c.v.signerFor(c.r, c.cat) {
		return nil, errMay("only a delegated signer of the category or the director may approve or reject its answers",
			"chỉ người được ủy quyền ký của lĩnh vực hoặc Cục trưởng được phê duyệt hoặc trả lại bản trả lời")
	}
	a, err := getAnswer(c.ctx, c.tx, c.r.ID, answerID)
	if store.IsNoRows(err) {
		return nil, errAnswerNotFound
	}
	if err != nil {
		return nil, err
	}
	if a.State != answerPend {
		return nil, errs.Newf(errs.FailedPrecondition,
			"bản trả lời không chờ phê duyệt (trạng thái "+a.State+")",
			"the answer is %s, not PENDING_APPROVAL", a.State)
	}
	if a.AuthorID == c.v.UserID {
		return nil, errMay("you wrote this answer: another signer must approve or reject it",
			"bạn là người soạn bản trả lời này: người ký khác phải phê duyệt hoặc trả lại")
	}
	return a, nil
}

func (s *Service) ApproveAnswer(ctx context.Context, req *connect.Request[issuev1.ApproveAnswerRequest]) (*connect.Response[issuev1.ApproveAnswerResponse], error) {
	v, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if !v.officer() {
		return nil, errNotCustoms
	}
	answerID, err := idField("answer_id", req.Msg.AnswerId)
	if err != nil {
		return nil, err
	}
	r, err := s.changeIssue(ctx, v, req.Msg.IssueId, func(c *change) error {
		if err := c.allowed(ActApprove); err != nil {
			return err
		}
		a, err := c.pendingFor(answerID)
		if err != nil {
			return err
		}
		if err := c.move(ActApprove, "approve", map[string]any{"answer_id": a.ID}); err != nil {
			return err
		}
		a.State, a.SignerID, a.SignerUnitID = answerPub, v.UserID, v.UnitID
		a.SignTime = sql.NullTime{Time: c.now, Valid: true}
		if v.HasRole(auth.RoleDirector) {
			a.SignerRole, a.OnBehalfOf = auth.RoleDirector, ""
		} else {
			a.SignerRole, a.OnBehalfOf = c.cat.SignerRole, auth.RoleDirector
		}
		if err := signAnswer(ctx, c.tx, a); err != nil {
			return err
		}
		return c.published(a)
	})
	if err != nil {
		return nil, err
	}
	return answerResponse(ctx, s, v, r, answerID, func(i *issuev1.Issue, an *issuev1.Answer) *issuev1.ApproveAnswerResponse {
		return &issuev1.ApproveAnswerResponse{Issue: i, Answer: an}
	})
}

func (s *Service) RejectAnswer(ctx context.Context, req *connect.Request[issuev1.RejectAnswerRequest]) (*connect.Response[issuev1.RejectAnswerResponse], error) {
	v, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if !v.officer() {
		return nil, errNotCustoms
	}
	answerID, err := idField("answer_id", req.Msg.AnswerId)
	if err != nil {
		return nil, err
	}
	reason, err := para("reason", req.Msg.Reason, reasonMin, reasonMax)
	if err != nil {
		return nil, err
	}
	r, err := s.changeIssue(ctx, v, req.Msg.IssueId, func(c *change) error {
		if err := c.allowed(ActReject); err != nil {
			return err
		}
		a, err := c.pendingFor(answerID)
		if err != nil {
			return err
		}
		if err := c.move(ActReject, "reject", map[string]any{"answer_id": a.ID, "reason": reason}); err != nil {
			return err
		}
		if err := rejectAnswer(ctx, c.tx, a.ID, reason); err != nil {
			return err
		}
		if err := c.event(visInternal, "Dự thảo trả lời bị trả lại. Lý do: "+reason,
			"The draft answer was sent back. Reason: "+reason); err != nil {
			return err
		}
		return c.notify("issue.answer_rejected", outbox.Audience{UserIDs: []string{a.AuthorID}},
			"Trả lời vướng mắc "+c.r.Number+" bị trả lại", "Your answer to issue "+c.r.Number+" was sent back",
			snippet(reason, snippetLen), snippet(reason, snippetLen))
	})
	if err != nil {
		return nil, err
	}
	out, err := s.issueOut(ctx, v, r)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&issuev1.RejectAnswerResponse{Issue: out}), nil
}

var errNotEnterprise = errMay("only the enterprise that raised the issue may do this",
	"chỉ doanh nghiệp gửi vướng mắc được thực hiện thao tác này")

func (s *Service) ResolveIssue(ctx context.Context, req *connect.Request[issuev1.ResolveIssueRequest]) (*connect.Response[issuev1.ResolveIssueResponse], error) {
	v, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if !v.enterprise() {
		return nil, errNotEnterprise
	}
	r, err := s.changeIssue(ctx, v, req.Msg.IssueId, func(c *change) error {
		if err := c.allowed(ActResolve); err != nil {
			return err
		}
		n := c.r.ResolutionCount + 1
		if err := c.move(ActResolve, "resolve", map[string]any{"resolution": n}); err != nil {
			return err
		}
		if err := insertResolution(ctx, c.tx, c.r, n, v.UserID, c.now); err != nil {
			return err
		}
		if err := c.event(visPublic, "Doanh nghiệp xác nhận vướng mắc đã được giải quyết.",
			"The enterprise confirmed the issue is resolved."); err != nil {
			return err
		}
		c.sla = true // the automatic closing is no longer due
		return c.notify("issue.resolved", assigneeAudience(c.r),
			"Doanh nghiệp xác nhận đã giải quyết "+c.r.Number, "The enterprise resolved "+c.r.Number,
			snippet(c.r.Title, snippetLen), snippet(c.r.Title, snippetLen))
	})
	if err != nil {
		return nil, err
	}
	out, err := s.issueOut(ctx, v, r)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&issuev1.ResolveIssueResponse{Issue: out}), nil
}

// insertResolution records resolution n of the issue, for the rating: the
// answer it accepted, the unit and the officer who answered.
func insertResolution(ctx context.Context, tx *sql.Tx, r *issueRow, n int, by string, now time.Time) error {
	var answerID, officerID sql.NullString
	err := tx.QueryRowContext(ctx, `SELECT id, author_id FROM issue_answers WHERE issue_id = $1 AND state = 'PUBLISHED'
		ORDER BY id DESC LIMIT 1`, r.ID).Scan(&answerID, &officerID)
	if err != nil && !store.IsNoRows(err) {
		return fmt.Errorf("read the answer resolved: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO issue_resolutions (issue_id, resolution, resolve_time, resolved_by,
		answer_id, unit_id, officer_id) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		r.ID, n, now, by, answerID, r.UnitID, officerID); err != nil {
		return fmt.Errorf("insert resolution: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE issues SET resolution_count = $1 WHERE id = $2`, n, r.ID); err != nil {
		return fmt.Errorf("count resolution: %w", err)
	}
	return nil
}

func (s *Service) ReopenIssue(ctx context.Context, req *connect.Request[issuev1.ReopenIssueRequest]) (*connect.Response[issuev1.ReopenIssueResponse], error) {
	v, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if !v.enterprise() {
		return nil, errNotEnterprise
	}
	reason, err := para("reason", req.Msg.Reason, reopenMin, reopenMax)
	if err != nil {
		return nil, err
	}
	r, err := s.changeIssue(ctx, v, req.Msg.IssueId, func(c *change) error {
		if err := c.move(ActReopen, "reopen", map[string]any{"reason": reason}); err != nil {
			return err
		}
		if err := c.event(visPublic, "Doanh nghiệp mở lại vướng mắc. Lý do: "+reason,
			"The enterprise reopened the issue. Reason: "+reason); err != nil {
			return err
		}
		// A new round: a new deadline for the new answer.
		if err := s.slaStart(ctx, c.tx, c.r.ID, c.now); err != nil {
			return err
		}
		c.sla = true
		return c.notify("issue.reopened", assigneeAudience(c.r),
			"Doanh nghiệp mở lại vướng mắc "+c.r.Number, "The enterprise reopened issue "+c.r.Number,
			snippet(reason, snippetLen), snippet(reason, snippetLen))
	})
	if err != nil {
		return nil, err
	}
	out, err := s.issueOut(ctx, v, r)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&issuev1.ReopenIssueResponse{Issue: out}), nil
}

func (s *Service) CloseIssue(ctx context.Context, req *connect.Request[issuev1.CloseIssueRequest]) (*connect.Response[issuev1.CloseIssueResponse], error) {
	v, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	reason, err := para("reason", req.Msg.Reason, 0, closeReasonMax)
	if err != nil {
		return nil, err
	}
	r, err := s.changeIssue(ctx, v, req.Msg.IssueId, func(c *change) error {
		a, verb := ActClose, "close"
		if v.enterprise() {
			a, verb = ActWithdraw, "withdraw"
		}
		detail := map[string]any{}
		if reason != "" {
			detail["reason"] = reason
		}
		if err := c.move(a, verb, detail); err != nil {
			return err
		}
		if _, err := c.tx.ExecContext(ctx, `UPDATE issues SET close_time = $1 WHERE id = $2`, c.now, c.r.ID); err != nil {
			return fmt.Errorf("close issue: %w", err)
		}
		if err := s.slaCancel(ctx, c.tx, c.r.ID, c.now); err != nil {
			return err
		}
		c.sla = true
		vi, en := "Hải quan đã đóng vướng mắc.", "Customs closed the issue."
		if v.enterprise() {
			vi, en = "Doanh nghiệp đã rút vướng mắc.", "The enterprise withdrew the issue."
		}
		if reason != "" {
			vi, en = vi+" Ghi chú: "+reason, en+" Note: "+reason
		}
		if err := c.event(visPublic, vi, en); err != nil {
			return err
		}
		if v.enterprise() {
			return c.notify("issue.withdrawn", assigneeAudience(c.r),
				"Doanh nghiệp đã rút vướng mắc "+c.r.Number, "The enterprise withdrew issue "+c.r.Number,
				snippet(c.r.Title, snippetLen), snippet(c.r.Title, snippetLen))
		}
		return c.notify("issue.closed", enterpriseAudience(c.r),
			"Vướng mắc "+c.r.Number+" đã đóng", "Issue "+c.r.Number+" was closed",
			snippet(c.r.Title, snippetLen), snippet(c.r.Title, snippetLen))
	})
	if err != nil {
		return nil, err
	}
	out, err := s.issueOut(ctx, v, r)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&issuev1.CloseIssueResponse{Issue: out}), nil
}
