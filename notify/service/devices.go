package service

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"

	notifyv1 "hqconnect/gen/hqconnect/notify/v1"
	"hqconnect/internal/audit"
	"hqconnect/internal/auth"
	"hqconnect/internal/errs"
	"hqconnect/internal/reqinfo"
	"hqconnect/internal/store"
	"hqconnect/notify/devices"
	"hqconnect/notify/fcm"
	"hqconnect/notify/inbox"
)

// topicTimeout bounds the FCM topic calls of one registration: the device
// is registered whatever they do.
const topicTimeout = 10 * time.Second

var (
	errDeviceNotFound = &errs.Error{Code: errs.NotFound, Field: "fcm_token",
		EN: "no device with this token is registered to your account",
		VI: "không có thiết bị nào với token này được đăng ký cho tài khoản của bạn"}
	errTokenGone = &errs.Error{Code: errs.Invalid, Field: "fcm_token",
		EN: "FCM does not accept this token (expired or not from this app): get a new one from the FCM SDK and register again",
		VI: "FCM không chấp nhận token này (đã hết hạn hoặc không thuộc ứng dụng này): hãy lấy token mới từ FCM SDK và đăng ký lại"}
)

var platforms = map[notifyv1.Platform]string{
	notifyv1.Platform_PLATFORM_ANDROID: devices.PlatformAndroid,
	notifyv1.Platform_PLATFORM_IOS:     devices.PlatformIOS,
	notifyv1.Platform_PLATFORM_WEB:     devices.PlatformWeb,
}

// deviceOf validates a registration; the device is bound to the caller's
// session.
func deviceOf(ctx context.Context, m *notifyv1.RegisterDeviceRequest, userID, sessionID string, now time.Time) (devices.Device, error) {
	token := m.FcmToken
	switch {
	case strings.TrimSpace(token) == "":
		return devices.Device{}, required("fcm_token")
	case len(token) > devices.MaxTokenLen:
		return devices.Device{}, errs.InvalidField("fcm_token",
			fmt.Sprintf("is too long: at most %d characters", devices.MaxTokenLen),
			fmt.Sprintf("quá dài: tối đa %d ký tự", devices.MaxTokenLen))
	}
	platform, ok := platforms[m.Platform]
	if !ok {
		return devices.Device{}, errs.InvalidField("platform",
			"is required: PLATFORM_ANDROID, PLATFORM_IOS or PLATFORM_WEB",
			"là bắt buộc: PLATFORM_ANDROID, PLATFORM_IOS hoặc PLATFORM_WEB")
	}
	locale := strings.ToLower(strings.TrimSpace(m.Locale))
	if locale == "" {
		locale = reqinfo.From(ctx).Locale
	}
	if !slices.Contains(devices.Locales, locale) {
		return devices.Device{}, errs.InvalidField("locale",
			`must be "vi" or "en" (or empty for the language of the request)`,
			`phải là "vi" hoặc "en" (hoặc để trống để dùng ngôn ngữ của yêu cầu)`)
	}
	version := strings.TrimSpace(m.AppVersion)
	if len(version) > devices.MaxAppVersionLen {
		return devices.Device{}, errs.InvalidField("app_version",
			fmt.Sprintf("is too long: at most %d characters, such as \"2.3.1\"", devices.MaxAppVersionLen),
			fmt.Sprintf("quá dài: tối đa %d ký tự, ví dụ \"2.3.1\"", devices.MaxAppVersionLen))
	}
	d := devices.Device{
		Token: token, UserID: userID, SessionID: sessionID, Platform: platform,
		Locale: locale, AppVersion: version, UpdateTime: now,
	}
	// The store's own rules (no spaces in a token, valid UTF-8…).
	if err := d.Validate(); err != nil {
		return devices.Device{}, err
	}
	return d, nil
}

func (s *Service) RegisterDevice(ctx context.Context, req *connect.Request[notifyv1.RegisterDeviceRequest]) (*connect.Response[notifyv1.RegisterDeviceResponse], error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	d, err := deviceOf(ctx, req.Msg, p.UserID, p.SessionID, s.now())
	if err != nil {
		return nil, err
	}
	v := viewerOf(p)
	prev, existed, err := s.devices.Get(ctx, d.Token)
	if err != nil {
		return nil, err
	}
	if err := s.devices.Register(ctx, d); err != nil {
		return nil, err
	}
	detail := map[string]any{"session_id": p.SessionID, "platform": d.Platform, "locale": d.Locale, "app_version": d.AppVersion}
	if existed && prev.UserID != p.UserID {
		detail["moved_from_user_id"] = prev.UserID
	}
	// The devices store writes outside our transaction; the audit row
	// follows it (a retry registers the same token again).
	if err := audit.Record(ctx, s.db, "device.register", "device", fcm.TokenHash(d.Token), detail); err != nil {
		return nil, err
	}

	// Broadcast topics, server side. The inbox works without them, so a
	// failure is logged, not returned, except a token FCM calls dead.
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), topicTimeout)
	defer cancel()
	if existed {
		s.leaveOldTopics(tctx, prev, d, v)
	}
	gone, err := devices.Subscribe(tctx, s.sender, d, v)
	if err != nil {
		s.log.WarnContext(ctx, "notify: subscribe device to broadcast topics",
			"user_id", p.UserID, "token_hash", fcm.TokenHash(d.Token), "error", err)
	}
	if gone {
		if _, err := s.devices.Unregister(tctx, p.UserID, d.Token); err != nil {
			return nil, err
		}
		return nil, errTokenGone
	}
	return connect.NewResponse(&notifyv1.RegisterDeviceResponse{}), nil
}

// leaveOldTopics unsubscribes a re-registered token from the topics it no
// longer belongs to: those of its former owner, or of its former locale.
func (s *Service) leaveOldTopics(ctx context.Context, prev, d devices.Device, v inbox.Viewer) {
	oldViewer := v
	if prev.UserID != d.UserID {
		var err error
		if oldViewer, err = s.viewerByID(ctx, prev.UserID); err != nil {
			s.log.WarnContext(ctx, "notify: read the former owner of a device", "user_id", prev.UserID, "error", err)
			return
		}
	}
	keep := devices.Topics(d, v)
	for _, t := range devices.Topics(prev, oldViewer) {
		if slices.Contains(keep, t) {
			continue
		}
		if _, err := s.sender.UnsubscribeFromTopic(ctx, []string{prev.Token}, t); err != nil {
			s.log.WarnContext(ctx, "notify: unsubscribe a moved device from a topic",
				"topic", t, "token_hash", fcm.TokenHash(prev.Token), "error", err)
		}
	}
}

// viewerByID reads whose inbox userID has (for a token's former owner).
func (s *Service) viewerByID(ctx context.Context, userID string) (inbox.Viewer, error) {
	v := inbox.Viewer{UserID: userID}
	err := s.db.QueryRowContext(ctx,
		`SELECT kind, COALESCE(enterprise_id, ''), COALESCE(unit_id, '') FROM users WHERE id = $1`, userID).
		Scan(&v.Kind, &v.EnterpriseID, &v.UnitID)
	if store.IsNoRows(err) {
		return v, nil // only the audiences everyone is in
	}
	if err != nil {
		return v, fmt.Errorf("read user: %w", err)
	}
	return v, nil
}

func (s *Service) UnregisterDevice(ctx context.Context, req *connect.Request[notifyv1.UnregisterDeviceRequest]) (*connect.Response[notifyv1.UnregisterDeviceResponse], error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	token := req.Msg.FcmToken
	if strings.TrimSpace(token) == "" {
		return nil, required("fcm_token")
	}
	if len(token) > devices.MaxTokenLen {
		return nil, errDeviceNotFound
	}
	d, found, err := s.devices.Get(ctx, token)
	if err != nil {
		return nil, err
	}
	// Another user's token is not found: nobody learns whose it is.
	if !found || d.UserID != p.UserID {
		return nil, errDeviceNotFound
	}
	ok, err := s.devices.Unregister(ctx, p.UserID, token)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errDeviceNotFound // moved or removed meanwhile
	}
	if err := audit.Record(ctx, s.db, "device.unregister", "device", fcm.TokenHash(token),
		map[string]any{"session_id": d.SessionID}); err != nil {
		return nil, err
	}
	tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), topicTimeout)
	defer cancel()
	if _, err := devices.Unsubscribe(tctx, s.sender, d, viewerOf(p)); err != nil {
		s.log.WarnContext(ctx, "notify: unsubscribe device from broadcast topics",
			"user_id", p.UserID, "token_hash", fcm.TokenHash(token), "error", err)
	}
	return connect.NewResponse(&notifyv1.UnregisterDeviceResponse{}), nil
}
