// Package auditsvc serves hqconnect.audit.v1.AuditService: reading the audit
// log every capability appends to (internal/audit). Who may read it (ADMIN)
// is the server's policy table's business.
package auditsvc

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	auditv1 "hqconnect/gen/hqconnect/audit/v1"
	"hqconnect/gen/hqconnect/audit/v1/auditv1connect"
	"hqconnect/internal/audit"
	"hqconnect/internal/errs"
	"hqconnect/internal/ids"
	"hqconnect/internal/store"
)

const (
	defaultPageSize = 50
	maxPageSize     = 200
	// maxFilterLen bounds the text filters; ids are 36 characters.
	maxFilterLen = 200
)

// Handler implements auditv1connect.AuditServiceHandler. Mount it in cmd
// with auditv1connect.NewAuditServiceHandler(auditsvc.NewHandler(db), opts...).
type Handler struct {
	db *store.DB
}

var _ auditv1connect.AuditServiceHandler = (*Handler)(nil)

// NewHandler returns the handler reading db.
func NewHandler(db *store.DB) *Handler { return &Handler{db: db} }

// ListAuditEvents lists events newest first. The page token is the base64url
// of the last id of the previous page (ids are time-ordered), so paging is
// stable while new events are appended.
func (h *Handler) ListAuditEvents(ctx context.Context, req *connect.Request[auditv1.ListAuditEventsRequest]) (*connect.Response[auditv1.ListAuditEventsResponse], error) {
	m := req.Msg
	f := audit.Filter{
		ActorID:    strings.TrimSpace(m.ActorId),
		Action:     strings.TrimSpace(m.Action),
		TargetKind: strings.TrimSpace(m.TargetKind),
		TargetID:   strings.TrimSpace(m.TargetId),
	}
	for _, v := range []struct{ field, val string }{
		{"actor_id", f.ActorID}, {"action", f.Action}, {"target_kind", f.TargetKind}, {"target_id", f.TargetID},
	} {
		if len(v.val) > maxFilterLen {
			return nil, errs.InvalidField(v.field,
				fmt.Sprintf("must be at most %d characters", maxFilterLen),
				fmt.Sprintf("không được dài quá %d ký tự", maxFilterLen))
		}
	}
	if f.Action == "." {
		return nil, errs.InvalidField("action",
			"give an action (\"enterprise.verify\") or a prefix ending in \".\" (\"enterprise.\")",
			"hãy nhập một hành động (\"enterprise.verify\") hoặc tiền tố kết thúc bằng \".\" (\"enterprise.\")")
	}
	if m.StartTime != nil {
		if err := m.StartTime.CheckValid(); err != nil {
			return nil, errs.InvalidField("start_time", "is not a valid time", "không phải là thời điểm hợp lệ")
		}
		f.Since = m.StartTime.AsTime()
	}
	if m.EndTime != nil {
		if err := m.EndTime.CheckValid(); err != nil {
			return nil, errs.InvalidField("end_time", "is not a valid time", "không phải là thời điểm hợp lệ")
		}
		f.Until = m.EndTime.AsTime()
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		return nil, errs.InvalidField("end_time", "must be after start_time", "phải sau start_time")
	}
	if m.PageSize < 0 {
		return nil, errs.InvalidField("page_size",
			fmt.Sprintf("must not be negative (default %d, at most %d)", defaultPageSize, maxPageSize),
			fmt.Sprintf("không được là số âm (mặc định %d, tối đa %d)", defaultPageSize, maxPageSize))
	}
	size := int(m.PageSize)
	if size == 0 {
		size = defaultPageSize
	}
	size = min(size, maxPageSize)
	if m.PageToken != "" {
		b, err := base64.RawURLEncoding.DecodeString(m.PageToken)
		if err != nil || !ids.Valid(string(b)) {
			return nil, errs.InvalidField("page_token",
				"page_token is not valid; start again without it",
				"page_token không hợp lệ; hãy bắt đầu lại mà không gửi page_token")
		}
		f.BeforeID = string(b)
	}
	f.Limit = size + 1 // one more tells whether there is a next page
	events, err := audit.List(ctx, h.db, f)
	if err != nil {
		return nil, err
	}
	res := &auditv1.ListAuditEventsResponse{}
	if len(events) > size {
		events = events[:size]
		res.NextPageToken = base64.RawURLEncoding.EncodeToString([]byte(events[size-1].ID))
	}
	res.Events = make([]*auditv1.AuditEvent, len(events))
	for i, e := range events {
		res.Events[i] = &auditv1.AuditEvent{
			Id:         e.ID,
			CreateTime: timestamppb.New(e.Time),
			ActorId:    e.ActorID,
			ActorKind:  e.ActorKind,
			Action:     e.Action,
			TargetKind: e.TargetKind,
			TargetId:   e.TargetID,
			DetailJson: e.DetailJSON,
		}
	}
	return connect.NewResponse(res), nil
}
