package issues

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	issuev1 "hqconnect/gen/hqconnect/issue/v1"
	"hqconnect/internal/auth"
	"hqconnect/internal/calendar"
	"hqconnect/internal/reqinfo"
)

// Rows to protos, as the caller may see them: an enterprise user never gets
// the enterprise's name, an internal note, an unpublished answer or a reject
// reason, and sees PENDING_APPROVAL as ASSIGNED.

func ts(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t) }

// view converts rows for one caller.
type view struct {
	s      *Service
	v      *viewer
	locale string
	now    time.Time
	cals   map[string]*calendar.Calendar
}

func (s *Service) viewFor(ctx context.Context, v *viewer) *view {
	return &view{s: s, v: v, locale: reqinfo.From(ctx).Locale, now: s.now(), cals: map[string]*calendar.Calendar{}}
}

func (w *view) en() bool { return w.locale == "en" }

// calendarOf is unit's calendar, read once per view.
func (w *view) calendarOf(ctx context.Context, unit string) (*calendar.Calendar, error) {
	if c := w.cals[unit]; c != nil {
		return c, nil
	}
	c, err := w.s.cat.Calendar(ctx, unit)
	if err != nil {
		return nil, err
	}
	w.cals[unit] = c
	return c, nil
}

func (w *view) issue(ctx context.Context, r *issueRow) (*issuev1.Issue, error) {
	out := &issuev1.Issue{
		Id: r.ID, Number: r.Number, EnterpriseId: r.EnterpriseID,
		CreatedBy:  &issuev1.Person{UserId: r.CreatedBy, FullName: r.CreatedByName},
		CategoryId: r.CategoryID, UnitId: r.UnitID, Status: statusProto(r.Status),
		Title: r.Title, Body: r.Body, DeclarationNumber: r.DeclarationNumber,
		CreateTime: ts(r.CreateTime), UpdateTime: ts(r.UpdateTime),
		ResolutionCount: int32(r.ResolutionCount),
	}
	if r.AssigneeID != "" {
		out.Assignee = &issuev1.Person{UserId: r.AssigneeID, FullName: r.AssigneeName, Officer: true}
	}
	if r.DueTime.Valid {
		out.DueTime = ts(r.DueTime.Time)
	}
	if r.FirstResponseMinutes.Valid {
		out.FirstResponseMinutes = r.FirstResponseMinutes.Int64
	}
	if w.v.enterprise() {
		out.Status = statusProto(enterpriseStatus(r.Status))
	} else {
		out.EnterpriseName = r.EnterpriseName
	}
	cal, err := w.calendarOf(ctx, r.UnitID)
	if err != nil {
		return nil, err
	}
	clock := slaClock{Budget: r.SLAMinutes, Used: r.SLAUsedMinutes}
	if r.SLARunningSince.Valid {
		clock.Running = r.SLARunningSince.Time
	}
	var met *bool
	if r.SLAMet.Valid {
		met = &r.SLAMet.Bool
	}
	out.SlaState = slaRoundState(string(r.Status), clock, met, cal, w.now)
	return out, nil
}

func (w *view) message(m *messageRow, atts []*issuev1.Attachment) *issuev1.Message {
	body := m.Body
	if m.Kind == kindEvent && w.en() && m.BodyEN != "" {
		body = m.BodyEN
	}
	out := &issuev1.Message{
		Id: m.ID, Visibility: issuev1.Visibility(issuev1.Visibility_value["VISIBILITY_"+m.Visibility]),
		Kind: issuev1.MessageKind(issuev1.MessageKind_value["MESSAGE_KIND_"+m.Kind]),
		Body: body, Attachments: atts, CreateTime: ts(m.CreateTime),
	}
	if m.AuthorID != "" {
		out.Author = &issuev1.Person{UserId: m.AuthorID, FullName: m.AuthorName, Officer: m.AuthorOfficer}
	}
	return out
}

func (w *view) answer(a *answerRow) *issuev1.Answer {
	out := &issuev1.Answer{
		Id: a.ID, Body: answerText(a), State: a.State, CreateTime: ts(a.CreateTime),
		Author: &issuev1.Person{UserId: a.AuthorID, FullName: a.AuthorName, Officer: true},
	}
	if a.State == answerPub {
		out.SignedBy = &issuev1.Person{UserId: a.SignerID, FullName: a.SignerName, Officer: true}
		out.SignerRole = a.SignerRole
		out.SignerUnitName = a.SignerUnitVI
		if w.en() {
			out.SignerUnitName = a.SignerUnitEN
		}
		out.OnBehalfOf = a.OnBehalfOf
		out.SignatureLine = signatureLine(w.locale, a.SignerRole, a.SignerUnitKind, a.OnBehalfOf, a.SignerName)
		if a.SignTime.Valid {
			out.SignTime = ts(a.SignTime.Time)
		}
	}
	if !w.v.enterprise() {
		out.RejectReason = a.RejectReason
	}
	return out
}

// answerText is the answer's body with its legal reference appended.
func answerText(a *answerRow) string {
	if a.LegalReference == "" {
		return a.Body
	}
	return a.Body + "\n\n" + a.LegalReference
}

// titleOf names the position a role holds in a kind of unit, upper case in
// Vietnamese as signatures are written.
func titleOf(role, unitKind string) (vi, en string) {
	switch {
	case role == auth.RoleDirector:
		return "CỤC TRƯỞNG", "Director"
	case role == auth.RoleUnitHead && unitKind == "DEPARTMENT":
		return "PHÓ CỤC TRƯỞNG", "Deputy Director"
	case role == auth.RoleUnitHead && unitKind == "BRANCH":
		return "CHI CỤC TRƯỞNG", "Head of Branch"
	case role == auth.RoleUnitHead && unitKind == "TEAM":
		return "ĐỘI TRƯỞNG", "Team Leader"
	case role == auth.RoleUnitHead:
		return "TRƯỞNG ĐƠN VỊ", "Head of Unit"
	default:
		return "CÔNG CHỨC HẢI QUAN", "Customs Officer"
	}
}

// signatureLine is how a signed answer is signed, in locale: "KT. CỤC
// TRƯỞNG / CHI CỤC TRƯỞNG / Trần Thị B" when signed on the director's
// behalf, "For the Director / Head of Branch / Trần Thị B" in English.
func signatureLine(locale, role, unitKind, onBehalfOf, name string) string {
	vi, en := titleOf(role, unitKind)
	if locale == "en" {
		if onBehalfOf == auth.RoleDirector {
			return "For the Director / " + en + " / " + name
		}
		return en + " / " + name
	}
	if onBehalfOf == auth.RoleDirector {
		return "KT. CỤC TRƯỞNG / " + vi + " / " + name
	}
	return vi + " / " + name
}
