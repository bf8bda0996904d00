package issues

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"connectrpc.com/connect"

	issuev1 "hqconnect/gen/hqconnect/issue/v1"
	"hqconnect/internal/audit"
	"hqconnect/internal/calendar"
	"hqconnect/internal/errs"
	"hqconnect/internal/ids"
	"hqconnect/internal/outbox"
	"hqconnect/internal/store"
	"hqconnect/server/issues/catalog"
)

var errNoCategory = errs.InvalidField("category_id",
	"is not an active category: pick one from ListCategories",
	"không phải là lĩnh vực đang áp dụng: hãy chọn một lĩnh vực trong ListCategories")

func (s *Service) CreateIssue(ctx context.Context, req *connect.Request[issuev1.CreateIssueRequest]) (*connect.Response[issuev1.CreateIssueResponse], error) {
	v, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	if !v.enterprise() {
		return nil, errMay("only enterprise users raise issues", "chỉ người dùng doanh nghiệp được gửi vướng mắc")
	}
	m := req.Msg
	catID, err := idField("category_id", m.CategoryId)
	if err != nil {
		return nil, err
	}
	title, err := line("title", m.Title, titleMin, titleMax)
	if err != nil {
		return nil, err
	}
	body, err := para("body", m.Body, bodyMin, bodyMax)
	if err != nil {
		return nil, err
	}
	decl, err := declarationNumber("declaration_number", m.DeclarationNumber)
	if err != nil {
		return nil, err
	}
	attIDs, err := attachmentIDs("attachment_ids", m.AttachmentIds)
	if err != nil {
		return nil, err
	}
	rid, err := requestID("request_id", m.RequestId)
	if err != nil {
		return nil, err
	}
	if rid != "" {
		if id, err := issueByRequest(ctx, s.db, v.EnterpriseID, rid); err != nil {
			return nil, err
		} else if id != "" {
			return s.createdResponse(ctx, v, id)
		}
	}
	now := s.now()
	r := &issueRow{
		ID: ids.New(), EnterpriseID: v.EnterpriseID, CreatedBy: v.UserID, RequestID: rid, CategoryID: catID,
		Status: StatusOpen, Title: title, Body: body, DeclarationNumber: decl, CreateTime: now, UpdateTime: now,
	}
	var c *change
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		cat, err := s.cat.Category(ctx, tx, catID)
		if errors.Is(err, catalog.ErrNoCategory) || err == nil && !cat.Active {
			return errNoCategory
		}
		if err != nil {
			return fmt.Errorf("read category: %w", err)
		}
		if r.UnitID, err = s.cat.RouteUnit(ctx, tx, cat); err != nil {
			return fmt.Errorf("route issue: %w", err)
		}
		if r.Number, err = nextNumber(ctx, tx, now.In(calendar.DefaultLocation()).Year()); err != nil {
			return err
		}
		r.SLAMinutes = int64(cat.SLAHours) * 60
		if err := insertIssueRow(ctx, tx, r); err != nil {
			return err
		}
		if len(attIDs) > 0 {
			if _, err := s.attach.Claim(ctx, tx, "attachment_ids", v.UserID, attIDs, r.ID, "", visPublic); err != nil {
				return err
			}
		}
		if err := audit.Record(ctx, tx, "issue.create", "issue", r.ID, map[string]any{
			"number": r.Number, "enterprise_id": r.EnterpriseID, "category_id": r.CategoryID, "unit_id": r.UnitID,
			"attachments": len(attIDs),
		}); err != nil {
			return err
		}
		if err := s.slaStart(ctx, tx, r.ID, now); err != nil {
			return err
		}
		c = &change{s: s, ctx: ctx, tx: tx, v: v, r: r, cat: cat, now: now, from: r.Status, sla: true, system: true}
		if err := c.notifyNew(); err != nil {
			return err
		}
		if !cat.AutoAssign {
			return nil
		}
		officer, err := leastLoaded(ctx, tx, r.UnitID)
		if err != nil || officer == "" {
			// Nobody to take it: it waits in the unit's queue for the head.
			if officer == "" {
				s.log.WarnContext(ctx, "issues: auto-assignment found no officer; the issue stays OPEN", "issue", r.ID, "unit", r.UnitID)
			}
			return err
		}
		return c.assignTo(officer)
	})
	if err != nil {
		if rid != "" && store.IsUniqueViolation(err) {
			// A concurrent retry with the same request id won.
			if id, ierr := issueByRequest(ctx, s.db, v.EnterpriseID, rid); ierr == nil && id != "" {
				return s.createdResponse(ctx, v, id)
			}
		}
		return nil, err
	}
	s.slaAfterCommit(ctx, r.ID)
	return s.createdResponse(ctx, v, r.ID)
}

func (s *Service) createdResponse(ctx context.Context, v *viewer, id string) (*connect.Response[issuev1.CreateIssueResponse], error) {
	r, err := getIssue(ctx, s.db, id)
	if err != nil {
		return nil, fmt.Errorf("read the new issue: %w", err)
	}
	out, err := s.issueOut(ctx, v, r)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&issuev1.CreateIssueResponse{Issue: out}), nil
}

// notifyNew tells the unit's queue holders about a new issue and, when it
// went to a team, the head of the team's branch.
func (c *change) notifyNew() error {
	units, err := loadUnits(c.ctx, c.tx)
	if err != nil {
		return err
	}
	r := c.r
	titleVI, titleEN := "Vướng mắc mới "+r.Number, "New issue "+r.Number
	bodyVI, bodyEN := snippet(r.Title, snippetLen), snippet(r.Title, snippetLen)
	if err := c.notify("issue.created", queueAudience(r.UnitID), titleVI, titleEN, bodyVI, bodyEN); err != nil {
		return err
	}
	if branch := units.parentBranch(r.UnitID); branch != "" {
		aud := outbox.Audience{UnitIDs: []string{branch}, Roles: []string{"UNIT_HEAD"}}
		return c.notify("issue.created", aud, titleVI, titleEN, bodyVI, bodyEN)
	}
	return nil
}

func (s *Service) ListCategories(ctx context.Context, req *connect.Request[issuev1.ListCategoriesRequest]) (*connect.Response[issuev1.ListCategoriesResponse], error) {
	if _, err := s.caller(ctx); err != nil {
		return nil, err
	}
	cats, err := s.cat.Categories(ctx, true)
	if err != nil {
		return nil, fmt.Errorf("list categories: %w", err)
	}
	out := make([]*issuev1.Category, len(cats))
	for i := range cats {
		out[i] = catalog.ToProto(&cats[i])
	}
	return connect.NewResponse(&issuev1.ListCategoriesResponse{Categories: out}), nil
}

// issueOut is r as v may see it, with its own attachments.
func (s *Service) issueOut(ctx context.Context, v *viewer, r *issueRow) (*issuev1.Issue, error) {
	out, err := s.viewFor(ctx, v).issue(ctx, r)
	if err != nil {
		return nil, err
	}
	atts, err := s.attach.ForIssue(ctx, s.db, r.ID, v.officer())
	if err != nil {
		return nil, fmt.Errorf("read the issue's attachments: %w", err)
	}
	out.Attachments = atts[""]
	return out, nil
}
