package issues

import (
	"context"

	"connectrpc.com/connect"

	issuev1 "hqconnect/gen/hqconnect/issue/v1"
)

// Attachments: thin wrappers on attach.Store. Uploads belong to their
// uploader until claimed by CreateIssue or PostMessage; reading one needs
// access to its issue, and officers alone read internal notes' files.

func (s *Service) UploadAttachment(ctx context.Context, req *connect.Request[issuev1.UploadAttachmentRequest]) (*connect.Response[issuev1.UploadAttachmentResponse], error) {
	v, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	res, err := s.attach.Upload(ctx, v.UserID, req.Msg)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(res), nil
}

func (s *Service) GetAttachment(ctx context.Context, req *connect.Request[issuev1.GetAttachmentRequest]) (*connect.Response[issuev1.GetAttachmentResponse], error) {
	v, err := s.caller(ctx)
	if err != nil {
		return nil, err
	}
	r, _, err := s.visibleIssue(ctx, s.db, v, req.Msg.IssueId)
	if err != nil {
		return nil, err
	}
	id, err := idField("attachment_id", req.Msg.AttachmentId)
	if err != nil {
		return nil, err
	}
	att, data, err := s.attach.Open(ctx, r.ID, id, v.officer())
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&issuev1.GetAttachmentResponse{Attachment: att, Data: data}), nil
}
