// Package faq serves hqconnect.issue.v1.FaqService: officers publish answered
// issues, edited and anonymised, as FAQ entries, and everyone searches them
// ignoring Vietnamese diacritics and case ("thong quan" finds "thông quan",
// "dang ky" finds "Đăng ký"). It owns faq_entries and its full-text index
// (FTS5 on SQLite, a tsvector on PostgreSQL; see search.go) and reads the
// issue tables to check what is published.
//
// The server's auth interceptor has already enforced each procedure's policy
// (officers publish, edit and withdraw; any signed-in user reads); the
// handlers check what the policy cannot: that the officer may see the issue
// (its unit is theirs or below theirs, or they are a DIRECTOR or ADMIN), that
// it has a published answer, and that the entry does not name the
// enterprise.
package faq

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	issuev1 "hqconnect/gen/hqconnect/issue/v1"
	"hqconnect/gen/hqconnect/issue/v1/issuev1connect"
	"hqconnect/internal/audit"
	"hqconnect/internal/auth"
	"hqconnect/internal/errs"
	"hqconnect/internal/ids"
	"hqconnect/internal/outbox"
	"hqconnect/internal/store"
)

// Deps is what the service needs.
type Deps struct {
	DB  *store.DB
	Log *slog.Logger
	// Now is the clock; store.Now when nil. Tests move it.
	Now func() time.Time
}

// Service implements FaqService.
type Service struct {
	db    *store.DB
	index index
	log   *slog.Logger
	now   func() time.Time
}

var _ issuev1connect.FaqServiceHandler = (*Service)(nil)

// New returns the service.
func New(d Deps) *Service {
	s := &Service{db: d.DB, index: indexFor(d.DB.Dialect), log: d.Log, now: store.Clock(d.Now)}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// Errors.
var (
	errIssueNotFound = &errs.Error{Code: errs.NotFound, Field: "issue_id",
		EN: "no issue with this id is visible to you",
		VI: "không có vướng mắc nào với mã này mà bạn được xem"}
	errEntryNotFound = &errs.Error{Code: errs.NotFound, Field: "faq_id",
		EN: "no FAQ entry has this id",
		VI: "không có câu hỏi thường gặp nào với mã này"}
	errNotAnswered = &errs.Error{Code: errs.FailedPrecondition, Field: "issue_id",
		EN: "only an issue with a published answer (ANSWERED, RESOLVED or CLOSED) can become an FAQ entry",
		VI: "chỉ vướng mắc đã có câu trả lời được công bố (ANSWERED, RESOLVED hoặc CLOSED) mới được đăng thành câu hỏi thường gặp"}
	errAlreadyPublished = &errs.Error{Code: errs.AlreadyExists, Field: "issue_id",
		EN: "this issue is already published as an FAQ entry: edit that entry instead",
		VI: "vướng mắc này đã được đăng thành câu hỏi thường gặp: hãy sửa câu hỏi đó"}
	errWithdrawn = &errs.Error{Code: errs.FailedPrecondition, Field: "faq_id",
		EN: "the FAQ entry is withdrawn; publish its issue again to bring it back",
		VI: "câu hỏi thường gặp đã bị gỡ; hãy đăng lại từ vướng mắc để khôi phục"}
	errNotYourEntry = &errs.Error{Code: errs.PermissionDenied, Field: "faq_id",
		EN: "only officers of the unit that published this entry (or above it), a DIRECTOR or an ADMIN may change it",
		VI: "chỉ cán bộ của đơn vị đã đăng câu hỏi này (hoặc đơn vị cấp trên), lãnh đạo Cục hoặc quản trị viên mới được sửa"}
	errNoSuchCategory = errs.InvalidField("category_id",
		"no issue category has this id", "không có lĩnh vực vướng mắc nào với mã này")
)

// officer returns the calling officer; the policy admits only officers to
// the write procedures, this is the second lock.
func officer(ctx context.Context) (*auth.Principal, error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	if p.Kind != auth.KindOfficer {
		return nil, errs.ErrPermissionDenied
	}
	return p, nil
}

// seesAll: the department's DIRECTOR and ADMIN see every unit's issues.
func seesAll(p *auth.Principal) bool { return p.HasAnyRole(auth.RoleDirector, auth.RoleAdmin) }

// inScope reports whether the officer p may act on something of unit.
func inScope(ctx context.Context, q store.Queryer, p *auth.Principal, unit string) (bool, error) {
	if seesAll(p) {
		return true, nil
	}
	return unitWithin(ctx, q, unit, p.UnitID)
}

func (s *Service) PublishFaq(ctx context.Context, req *connect.Request[issuev1.PublishFaqRequest]) (*connect.Response[issuev1.PublishFaqResponse], error) {
	p, err := officer(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	issueID, err := idField("issue_id", m.IssueId)
	if err != nil {
		return nil, err
	}
	c, err := checkContent(m.Question, m.Answer, m.LegalReference)
	if err != nil {
		return nil, err
	}
	now := s.now()
	var e *entryRow
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		is, err := issueByID(ctx, tx, issueID)
		if store.IsNoRows(err) {
			return errIssueNotFound
		}
		if err != nil {
			return fmt.Errorf("read issue: %w", err)
		}
		// An issue outside the officer's units does not exist for them.
		if ok, err := inScope(ctx, tx, p, is.UnitID); err != nil {
			return err
		} else if !ok {
			return errIssueNotFound
		}
		switch is.Status {
		case "ANSWERED", "RESOLVED", "CLOSED":
		default:
			return errNotAnswered
		}
		if !is.PublishedAnswer {
			return errNotAnswered
		}
		if err := marksOf(is.EnterpriseName, is.TaxCode, is.DeclarationNumber).check(c); err != nil {
			return err
		}
		prev, err := entryByIssue(ctx, tx, issueID)
		switch {
		case err == nil && prev.Status == statusPublished:
			return errAlreadyPublished
		case err == nil:
			// Withdrawn: publishing the issue again brings the entry back
			// under its id, with the new text.
			e = prev
			e.CategoryID, e.UnitID, e.Status, e.PublishTime, e.UpdateTime = is.CategoryID, is.UnitID, statusPublished, now, now
			e.Question, e.Answer, e.LegalReference = c.Question, c.Answer, c.LegalReference
			if err := updateEntry(ctx, tx, e, p.UserID); err != nil {
				return err
			}
		case store.IsNoRows(err):
			e = &entryRow{ID: ids.New(), SourceIssueID: issueID, CategoryID: is.CategoryID, UnitID: is.UnitID,
				Question: c.Question, Answer: c.Answer, LegalReference: c.LegalReference,
				Status: statusPublished, PublishTime: now, UpdateTime: now}
			if err := insertEntry(ctx, tx, e, p.UserID); err != nil {
				if store.IsUniqueViolation(err) { // published by someone else meanwhile
					return errAlreadyPublished
				}
				return err
			}
		default:
			return fmt.Errorf("read faq entry of issue: %w", err)
		}
		if err := audit.Record(ctx, tx, "faq.publish", "faq_entry", e.ID,
			map[string]any{"issue_id": issueID, "category_id": e.CategoryID}); err != nil {
			return err
		}
		return emit(ctx, tx, "faq.published", e)
	})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&issuev1.PublishFaqResponse{Entry: entryProto(e, true)}), nil
}

// emit adds an event without a notification: nobody is told of an FAQ
// change, but other consumers (a cache, an export) may follow the entries.
func emit(ctx context.Context, tx *sql.Tx, kind string, e *entryRow) error {
	data, err := json.Marshal(map[string]string{"faq_id": e.ID, "issue_id": e.SourceIssueID, "category_id": e.CategoryID})
	if err != nil {
		return fmt.Errorf("encode faq event: %w", err)
	}
	_, err = outbox.Add(ctx, tx, outbox.Event{Kind: kind, Data: data})
	return err
}

// editable loads an entry the officer p may change.
func editable(ctx context.Context, q store.Queryer, p *auth.Principal, id string) (*entryRow, error) {
	e, err := entryByID(ctx, q, id)
	if store.IsNoRows(err) {
		return nil, errEntryNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read faq entry: %w", err)
	}
	// Published entries are public, so a refusal tells nothing new:
	// PermissionDenied rather than NotFound.
	if ok, err := inScope(ctx, q, p, e.UnitID); err != nil {
		return nil, err
	} else if !ok {
		return nil, errNotYourEntry
	}
	if e.Status == statusWithdrawn {
		return nil, errWithdrawn
	}
	return e, nil
}

func (s *Service) UpdateFaq(ctx context.Context, req *connect.Request[issuev1.UpdateFaqRequest]) (*connect.Response[issuev1.UpdateFaqResponse], error) {
	p, err := officer(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	id, err := idField("faq_id", m.FaqId)
	if err != nil {
		return nil, err
	}
	c, err := checkContent(m.Question, m.Answer, m.LegalReference)
	if err != nil {
		return nil, err
	}
	categoryID, err := optionalID("category_id", m.CategoryId)
	if err != nil {
		return nil, err
	}
	var e *entryRow
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if e, err = editable(ctx, tx, p, id); err != nil {
			return err
		}
		if e.SourceIssueID != "" {
			is, err := issueByID(ctx, tx, e.SourceIssueID)
			if err != nil {
				return fmt.Errorf("read the entry's issue: %w", err)
			}
			if err := marksOf(is.EnterpriseName, is.TaxCode, is.DeclarationNumber).check(c); err != nil {
				return err
			}
		}
		changed := map[string]any{}
		if categoryID != "" && categoryID != e.CategoryID {
			if ok, err := categoryExists(ctx, tx, categoryID); err != nil {
				return err
			} else if !ok {
				return errNoSuchCategory
			}
			changed["category_id"] = categoryID
			e.CategoryID = categoryID
		}
		for field, v := range map[string][2]string{
			"question": {e.Question, c.Question}, "answer": {e.Answer, c.Answer},
			"legal_reference": {e.LegalReference, c.LegalReference},
		} {
			if v[0] != v[1] {
				changed[field] = true
			}
		}
		if len(changed) == 0 {
			return nil // nothing to write or audit
		}
		e.Question, e.Answer, e.LegalReference, e.UpdateTime = c.Question, c.Answer, c.LegalReference, s.now()
		if err := updateEntry(ctx, tx, e, p.UserID); err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, "faq.update", "faq_entry", e.ID, changed); err != nil {
			return err
		}
		return emit(ctx, tx, "faq.updated", e)
	})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&issuev1.UpdateFaqResponse{Entry: entryProto(e, true)}), nil
}

func (s *Service) WithdrawFaq(ctx context.Context, req *connect.Request[issuev1.WithdrawFaqRequest]) (*connect.Response[issuev1.WithdrawFaqResponse], error) {
	p, err := officer(ctx)
	if err != nil {
		return nil, err
	}
	id, err := idField("faq_id", req.Msg.FaqId)
	if err != nil {
		return nil, err
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		e, err := editable(ctx, tx, p, id)
		if err != nil {
			return err
		}
		e.Status, e.UpdateTime = statusWithdrawn, s.now()
		if err := updateEntry(ctx, tx, e, p.UserID); err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, "faq.withdraw", "faq_entry", e.ID,
			map[string]any{"issue_id": e.SourceIssueID}); err != nil {
			return err
		}
		return emit(ctx, tx, "faq.withdrawn", e)
	})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&issuev1.WithdrawFaqResponse{}), nil
}

func (s *Service) GetFaq(ctx context.Context, req *connect.Request[issuev1.GetFaqRequest]) (*connect.Response[issuev1.GetFaqResponse], error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	id, err := idField("faq_id", req.Msg.FaqId)
	if err != nil {
		return nil, err
	}
	e, err := entryByID(ctx, s.db, id)
	if store.IsNoRows(err) {
		return nil, errEntryNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read faq entry: %w", err)
	}
	isOfficer := p.Kind == auth.KindOfficer
	// A withdrawn entry is gone for enterprise users; officers still open it
	// (from an audit entry, say).
	if e.Status != statusPublished && !isOfficer {
		return nil, errEntryNotFound
	}
	return connect.NewResponse(&issuev1.GetFaqResponse{Entry: entryProto(e, isOfficer)}), nil
}

func (s *Service) SearchFaq(ctx context.Context, req *connect.Request[issuev1.SearchFaqRequest]) (*connect.Response[issuev1.SearchFaqResponse], error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	if _, err := line("query", m.Query, minQuery, maxQuery); err != nil {
		return nil, err
	}
	categoryID, err := optionalID("category_id", m.CategoryId)
	if err != nil {
		return nil, err
	}
	size, err := pageSize(m.PageSize)
	if err != nil {
		return nil, err
	}
	// Untrimmed: a trailing space says the last word is finished.
	mt := parseQuery(m.Query, false)
	hash := queryHash(mt, categoryID)
	offset, err := parsePageToken(m.PageToken, hash)
	if err != nil {
		return nil, err
	}
	size = min(size, maxDepth-offset)
	res := &issuev1.SearchFaqResponse{}
	if len(mt.Terms) == 0 {
		return connect.NewResponse(res), nil // nothing searchable: punctuation only
	}
	hits, err := s.index.find(ctx, s.db, mt, categoryID, size+1, offset)
	if err != nil {
		return nil, err
	}
	if len(hits) > size {
		hits = hits[:size]
		if next := offset + size; next < maxDepth {
			res.NextPageToken = pageToken(next, hash)
		}
	}
	res.Hits = hitProtos(hits, mt, p.Kind == auth.KindOfficer)
	return connect.NewResponse(res), nil
}

func (s *Service) SuggestFaq(ctx context.Context, req *connect.Request[issuev1.SuggestFaqRequest]) (*connect.Response[issuev1.SuggestFaqResponse], error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	if _, err := line("title", m.Title, minQuery, maxQuery); err != nil {
		return nil, err
	}
	categoryID, err := optionalID("category_id", m.CategoryId)
	if err != nil {
		return nil, err
	}
	limit, err := bounded("limit", m.Limit, defaultLimit, maxLimit)
	if err != nil {
		return nil, err
	}
	mt := parseQuery(m.Title, true)
	res := &issuev1.SuggestFaqResponse{}
	if len(mt.Terms) == 0 {
		return connect.NewResponse(res), nil
	}
	hits, err := s.index.find(ctx, s.db, mt, categoryID, limit, 0)
	if err != nil {
		return nil, err
	}
	res.Hits = hitProtos(hits, mt, p.Kind == auth.KindOfficer)
	return connect.NewResponse(res), nil
}

func hitProtos(hits []hit, m match, officer bool) []*issuev1.FaqHit {
	out := make([]*issuev1.FaqHit, len(hits))
	for i, h := range hits {
		out[i] = &issuev1.FaqHit{Entry: entryProto(h.entry, officer), Score: h.score, Snippet: snippet(h.entry.Answer, m)}
	}
	return out
}

// entryProto converts e; source_issue_id is for officers only (it leads to
// the enterprise).
func entryProto(e *entryRow, officer bool) *issuev1.FaqEntry {
	pe := &issuev1.FaqEntry{
		Id: e.ID, CategoryId: e.CategoryID, Question: e.Question, Answer: e.Answer,
		LegalReference: e.LegalReference,
		PublishTime:    timestamppb.New(e.PublishTime), UpdateTime: timestamppb.New(e.UpdateTime),
	}
	if officer {
		pe.SourceIssueId = e.SourceIssueID
	}
	return pe
}
