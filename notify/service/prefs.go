package service

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"connectrpc.com/connect"

	notifyv1 "hqconnect/gen/hqconnect/notify/v1"
	"hqconnect/internal/audit"
	"hqconnect/internal/auth"
	"hqconnect/internal/errs"
	"hqconnect/notify/prefs"
)

// categoryOrder is the order GetPreferences lists categories in (the
// enum's).
var categoryOrder = []notifyv1.Category{
	notifyv1.Category_CATEGORY_SECURITY, notifyv1.Category_CATEGORY_ACCOUNT, notifyv1.Category_CATEGORY_ISSUE,
	notifyv1.Category_CATEGORY_CLEARANCE, notifyv1.Category_CATEGORY_MEETING, notifyv1.Category_CATEGORY_WORKSHOP,
	notifyv1.Category_CATEGORY_NOTICE, notifyv1.Category_CATEGORY_CONDUCT,
}

// preferencesProto lists every category (critical ones always on) and the
// quiet hours.
func preferencesProto(p prefs.Prefs) *notifyv1.Preferences {
	out := &notifyv1.Preferences{}
	for _, c := range categoryOrder {
		name := categoryNames[c]
		out.Categories = append(out.Categories, &notifyv1.CategoryPreference{
			Category: c, PushEnabled: prefs.IsCritical(name, false) || !p.Disabled[name],
		})
	}
	tz := p.Quiet.TimeZone
	if tz == "" {
		tz = prefs.DefaultTimeZone
	}
	out.QuietHours = &notifyv1.QuietHours{
		Enabled:  p.Quiet.Enabled,
		Start:    prefs.FormatHHMM(p.Quiet.StartMinute),
		End:      prefs.FormatHHMM(p.Quiet.EndMinute),
		TimeZone: tz,
	}
	return out
}

// prefsOf validates what UpdatePreferences received.
func prefsOf(m *notifyv1.Preferences) (prefs.Prefs, error) {
	if m == nil {
		return prefs.Prefs{}, required("preferences")
	}
	var p prefs.Prefs
	seen := map[notifyv1.Category]bool{}
	for _, cp := range m.Categories {
		const field = "preferences.categories"
		name, ok := categoryNames[cp.GetCategory()]
		if !ok {
			return prefs.Prefs{}, errs.InvalidField(field,
				fmt.Sprintf("unknown category %v: use one of CATEGORY_SECURITY … CATEGORY_CONDUCT", cp.GetCategory()),
				fmt.Sprintf("loại thông báo %v không tồn tại: dùng một trong CATEGORY_SECURITY … CATEGORY_CONDUCT", cp.GetCategory()))
		}
		if seen[cp.Category] {
			return prefs.Prefs{}, errs.InvalidField(field,
				fmt.Sprintf("%v is listed twice: list each category once", cp.Category),
				fmt.Sprintf("%v được liệt kê hai lần: mỗi loại chỉ liệt kê một lần", cp.Category))
		}
		seen[cp.Category] = true
		if cp.PushEnabled {
			continue
		}
		if prefs.IsCritical(name, false) {
			return prefs.Prefs{}, errs.InvalidField(field,
				fmt.Sprintf("%v cannot be turned off: %s notifications always push, as they may need you to act at once", cp.Category, name),
				fmt.Sprintf("không thể tắt %v: thông báo loại này luôn được gửi vì có thể cần bạn xử lý ngay", cp.Category))
		}
		if p.Disabled == nil {
			p.Disabled = map[string]bool{}
		}
		p.Disabled[name] = true
	}

	q := m.GetQuietHours()
	p.Quiet.Enabled = q.GetEnabled()
	var err error
	if p.Quiet.StartMinute, err = clockTime("preferences.quiet_hours.start", q.GetStart(), p.Quiet.Enabled); err != nil {
		return prefs.Prefs{}, err
	}
	if p.Quiet.EndMinute, err = clockTime("preferences.quiet_hours.end", q.GetEnd(), p.Quiet.Enabled); err != nil {
		return prefs.Prefs{}, err
	}
	if p.Quiet.Enabled && p.Quiet.StartMinute == p.Quiet.EndMinute {
		return prefs.Prefs{}, errs.InvalidField("preferences.quiet_hours.end",
			"must differ from start (the window may cross midnight, e.g. 22:00 to 06:30)",
			"phải khác giờ bắt đầu (khoảng thời gian có thể qua nửa đêm, ví dụ 22:00 đến 06:30)")
	}
	tz := strings.TrimSpace(q.GetTimeZone())
	if tz == "" {
		tz = prefs.DefaultTimeZone
	}
	if err := validZone(tz); err != nil {
		return prefs.Prefs{}, err
	}
	p.Quiet.TimeZone = tz
	return p, nil
}

// clockTime reads "HH:MM"; empty is midnight unless the window is enabled.
func clockTime(field, s string, needed bool) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		if needed {
			return 0, errs.InvalidField(field,
				`is required when quiet hours are enabled: "HH:MM" on a 24-hour clock, e.g. "22:00"`,
				`là bắt buộc khi bật giờ yên lặng: định dạng "HH:MM" (24 giờ), ví dụ "22:00"`)
		}
		return 0, nil
	}
	m, err := prefs.ParseHHMM(s)
	if err != nil {
		return 0, errs.InvalidField(field,
			fmt.Sprintf(`%q is not a time of day: use "HH:MM" on a 24-hour clock, from 00:00 to 23:59`, truncate(s, 20)),
			fmt.Sprintf(`%q không phải là giờ hợp lệ: dùng định dạng "HH:MM" (24 giờ), từ 00:00 đến 23:59`, truncate(s, 20)))
	}
	return m, nil
}

// validZone checks an IANA zone name. The default is always accepted, even
// on a host without a zone database (prefs falls back to UTC+7 for it).
func validZone(tz string) error {
	if tz == prefs.DefaultTimeZone {
		return nil
	}
	if _, err := time.LoadLocation(tz); err != nil || strings.EqualFold(tz, "local") || len(tz) > 64 {
		return errs.InvalidField("preferences.quiet_hours.time_zone",
			fmt.Sprintf("%q is not an IANA time zone such as %q", truncate(tz, 64), prefs.DefaultTimeZone),
			fmt.Sprintf("%q không phải là múi giờ IANA, ví dụ %q", truncate(tz, 64), prefs.DefaultTimeZone))
	}
	return nil
}

func (s *Service) GetPreferences(ctx context.Context, _ *connect.Request[notifyv1.GetPreferencesRequest]) (*connect.Response[notifyv1.GetPreferencesResponse], error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	got, err := s.prefs.Get(ctx, p.UserID)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&notifyv1.GetPreferencesResponse{Preferences: preferencesProto(got)}), nil
}

func (s *Service) UpdatePreferences(ctx context.Context, req *connect.Request[notifyv1.UpdatePreferencesRequest]) (*connect.Response[notifyv1.UpdatePreferencesResponse], error) {
	p, err := auth.Caller(ctx)
	if err != nil {
		return nil, err
	}
	np, err := prefsOf(req.Msg.Preferences)
	if err != nil {
		return nil, err
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := s.prefs.Put(ctx, tx, p.UserID, np); err != nil {
			return err
		}
		var off []string
		for _, c := range prefs.Categories {
			if np.Disabled[c] {
				off = append(off, c)
			}
		}
		return audit.Record(ctx, tx, "preferences.update", "user", p.UserID, map[string]any{
			"push_off": off, "quiet_hours": np.Quiet.Enabled,
		})
	})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&notifyv1.UpdatePreferencesResponse{Preferences: preferencesProto(np)}), nil
}
