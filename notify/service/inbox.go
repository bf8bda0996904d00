package service

import (
	"context"
	"encoding/base64"
	"fmt"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	notifyv1 "hqconnect/gen/hqconnect/notify/v1"
	"hqconnect/internal/auth"
	"hqconnect/internal/errs"
	"hqconnect/internal/ids"
	"hqconnect/internal/outbox"
	"hqconnect/internal/reqinfo"
	"hqconnect/notify/inbox"
)

// Paging (AIP-158).
const (
	defaultPageSize = 50
	maxPageSize     = 200
	// maxMarkRead bounds MarkRead's ids.
	maxMarkRead = 500
)

var errPageToken = errs.InvalidField("page_token",
	"is not a token this API returned: start again without it",
	"không phải là token do API này trả về: hãy bắt đầu lại mà không gửi page_token")

// pageSize reads page_size: 0 means the default, more than the maximum is
// the maximum.
func pageSize(n int32) (int, error) {
	switch {
	case n < 0:
		return 0, errs.InvalidField("page_size",
			fmt.Sprintf("must not be negative (default %d, at most %d)", defaultPageSize, maxPageSize),
			fmt.Sprintf("không được là số âm (mặc định %d, tối đa %d)", defaultPageSize, maxPageSize))
	case n == 0:
		return defaultPageSize, nil
	}
	return min(int(n), maxPageSize), nil
}

// encodeToken and decodeToken make a cursor opaque.
func encodeToken(cursor string) string {
	if cursor == "" {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(cursor))
}

func decodeToken(tok string, valid func(string) bool) (string, error) {
	if tok == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || !valid(string(b)) {
		return "", errPageToken
	}
	return string(b), nil
}

// Categories: the proto's enum and outbox's names.
var (
	categoryNames = map[notifyv1.Category]string{
		notifyv1.Category_CATEGORY_SECURITY:  outbox.CategorySecurity,
		notifyv1.Category_CATEGORY_ACCOUNT:   outbox.CategoryAccount,
		notifyv1.Category_CATEGORY_ISSUE:     outbox.CategoryIssue,
		notifyv1.Category_CATEGORY_CLEARANCE: outbox.CategoryClearance,
		notifyv1.Category_CATEGORY_MEETING:   outbox.CategoryMeeting,
		notifyv1.Category_CATEGORY_WORKSHOP:  outbox.CategoryWorkshop,
		notifyv1.Category_CATEGORY_NOTICE:    outbox.CategoryNotice,
		notifyv1.Category_CATEGORY_CONDUCT:   outbox.CategoryConduct,
	}
	categoryEnums = func() map[string]notifyv1.Category {
		m := make(map[string]notifyv1.Category, len(categoryNames))
		for e, n := range categoryNames {
			m[n] = e
		}
		return m
	}()
)

// notificationProto shows an item in locale.
func notificationProto(it inbox.Item, locale string) *notifyv1.Notification {
	n := &notifyv1.Notification{
		Id:         it.ID,
		Category:   categoryEnums[it.Category], // UNSPECIFIED for one this build does not know
		Title:      it.Title(locale),
		Body:       it.Body(locale),
		EntityKind: it.EntityKind,
		EntityId:   it.EntityID,
		CreateTime: timestamppb.New(it.CreateTime),
		Broadcast:  it.Broadcast,
	}
	if !it.ReadTime.IsZero() {
		n.ReadTime = timestamppb.New(it.ReadTime)
	}
	return n
}

func (s *Service) ListNotifications(ctx context.Context, req *connect.Request[notifyv1.ListNotificationsRequest]) (*connect.Response[notifyv1.ListNotificationsResponse], error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	size, err := pageSize(m.PageSize)
	if err != nil {
		return nil, err
	}
	before, err := decodeToken(m.PageToken, ids.Valid)
	if err != nil {
		return nil, err
	}
	// One more than the page says whether there is a next one.
	items, err := s.inbox.List(ctx, viewerOf(p), m.UnreadOnly, before, size+1)
	if err != nil {
		return nil, err
	}
	res := &notifyv1.ListNotificationsResponse{}
	if len(items) > size {
		items = items[:size]
		res.NextPageToken = encodeToken(items[size-1].ID)
	}
	locale := reqinfo.From(ctx).Locale
	res.Notifications = make([]*notifyv1.Notification, len(items))
	for i, it := range items {
		res.Notifications[i] = notificationProto(it, locale)
	}
	return connect.NewResponse(res), nil
}

func (s *Service) MarkRead(ctx context.Context, req *connect.Request[notifyv1.MarkReadRequest]) (*connect.Response[notifyv1.MarkReadResponse], error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	var list []string
	if !m.All {
		switch {
		case len(m.Ids) == 0:
			return nil, errs.InvalidField("ids",
				"nothing to mark: list the ids of the notifications, or set all",
				"không có gì để đánh dấu: hãy liệt kê id của các thông báo, hoặc đặt all")
		case len(m.Ids) > maxMarkRead:
			return nil, errs.InvalidField("ids",
				fmt.Sprintf("at most %d ids at a time (or set all)", maxMarkRead),
				fmt.Sprintf("tối đa %d id mỗi lần (hoặc đặt all)", maxMarkRead))
		}
		for _, id := range m.Ids {
			if !ids.Valid(id) {
				return nil, errs.InvalidField("ids",
					fmt.Sprintf("%q is not a notification id", truncate(id, 40)),
					fmt.Sprintf("%q không phải là id của thông báo", truncate(id, 40)))
			}
		}
		list = m.Ids
	}
	n, err := s.inbox.MarkRead(ctx, viewerOf(p), list, m.All)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&notifyv1.MarkReadResponse{Marked: int32(n)}), nil
}

func (s *Service) UnreadCount(ctx context.Context, _ *connect.Request[notifyv1.UnreadCountRequest]) (*connect.Response[notifyv1.UnreadCountResponse], error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	n, err := s.inbox.UnreadCount(ctx, viewerOf(p))
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&notifyv1.UnreadCountResponse{Unread: int32(n)}), nil
}

// truncate shortens s to at most n bytes on a rune boundary, for messages.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }
