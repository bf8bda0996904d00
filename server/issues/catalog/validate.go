package catalog

import (
	"context"
	"fmt"
	"strings"
	"time"

	issuev1 "hqconnect/gen/hqconnect/issue/v1"
	"hqconnect/internal/auth"
	"hqconnect/internal/calendar"
	"hqconnect/internal/errs"
	"hqconnect/internal/ids"
	"hqconnect/internal/store"
	"hqconnect/internal/textcheck"
)

// Limits of a category's settings.
const (
	MinSLAHours, MaxSLAHours           = 1, 2000
	MinAutoCloseDays, MaxAutoCloseDays = 1, 60
	// MaxCalendarSpanYears bounds a ListCalendarDays range.
	MaxCalendarSpanYears = 10
)

// SignerRoles are the roles that may sign an answer: a unit's officers, its
// head, or the director himself.
var SignerRoles = []string{auth.RoleOfficer, auth.RoleUnitHead, auth.RoleDirector}

// ValidSignerRole reports whether role may be a category's signer role.
func ValidSignerRole(role string) bool {
	for _, r := range SignerRoles {
		if r == role {
			return true
		}
	}
	return false
}

// NormalizeCode upper-cases and checks a category code: 2–32 upper-case
// letters, digits and "_".
func NormalizeCode(field, s string) (string, error) {
	c := strings.ToUpper(strings.TrimSpace(s))
	if len(c) < 2 || len(c) > 32 || strings.Trim(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != "" {
		return "", errs.InvalidField(field,
			"a category code is 2 to 32 upper-case letters, digits and underscores, e.g. VNACCS or HS_CODE",
			"mã lĩnh vực gồm 2 đến 32 chữ cái in hoa, chữ số và dấu gạch dưới, ví dụ VNACCS hoặc HS_CODE")
	}
	return c, nil
}

// line checks a required one-line text (see textcheck).
func line(field, s string, minLen, maxLen int) (string, error) {
	return textcheck.Line(field, s, max(minLen, 1), maxLen)
}

func intRange(field string, v int32, lo, hi int, unitEN, unitVI string) (int, error) {
	if int(v) < lo || int(v) > hi {
		return 0, errs.InvalidField(field,
			fmt.Sprintf("must be %d to %d %s", lo, hi, unitEN),
			fmt.Sprintf("phải từ %d đến %d %s", lo, hi, unitVI))
	}
	return int(v), nil
}

// unitField checks an optional unit id: "" or a unit that exists and is in
// force at now.
func unitField(ctx context.Context, q store.Queryer, field, id string, now time.Time) (string, error) {
	id = strings.TrimSpace(id)
	if id == "" {
		return "", nil
	}
	if !ids.Valid(id) {
		return "", errs.InvalidField(field, "is not a valid id", "không phải là mã định danh hợp lệ")
	}
	var exists bool
	if err := q.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM org_units WHERE id = $1)`, id).Scan(&exists); err != nil {
		return "", fmt.Errorf("check org unit: %w", err)
	}
	if !exists {
		return "", errs.InvalidField(field, "no org unit has this id", "không có đơn vị nào với mã này")
	}
	ok, err := unitInForce(ctx, q, id, now)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", &errs.Error{Code: errs.FailedPrecondition, Field: field,
			EN: "this org unit is not in force (outside its effective dates)",
			VI: "đơn vị này không trong thời gian hiệu lực (chưa bắt đầu hoặc đã kết thúc)"}
	}
	return id, nil
}

// CheckCategory validates a category as sent to CreateCategory or
// UpdateCategory (fields named "category.<name>") and returns it as
// stored. The code is checked here; UpdateCategory keeps the stored one.
func CheckCategory(ctx context.Context, q store.Queryer, pc *issuev1.Category, now time.Time) (*Category, error) {
	if pc == nil {
		return nil, errs.InvalidField("category", "is required", "là bắt buộc")
	}
	var c Category
	var err error
	if c.Code, err = NormalizeCode("category.code", pc.Code); err != nil {
		return nil, err
	}
	if c.NameVI, err = line("category.name_vi", pc.NameVi, 2, 200); err != nil {
		return nil, err
	}
	if c.NameEN, err = line("category.name_en", pc.NameEn, 2, 200); err != nil {
		return nil, err
	}
	if c.SLAHours, err = intRange("category.sla_hours", pc.SlaHours, MinSLAHours, MaxSLAHours, "business hours", "giờ làm việc"); err != nil {
		return nil, err
	}
	if c.AutoCloseDays, err = intRange("category.auto_close_days", pc.AutoCloseDays, MinAutoCloseDays, MaxAutoCloseDays, "working days", "ngày làm việc"); err != nil {
		return nil, err
	}
	c.SignerRole = strings.ToUpper(strings.TrimSpace(pc.SignerRole))
	if c.SignerRole == "" {
		c.SignerRole = auth.RoleUnitHead
	}
	if !ValidSignerRole(c.SignerRole) {
		return nil, errs.InvalidField("category.signer_role",
			"must be OFFICER, UNIT_HEAD or DIRECTOR (DIRECTOR: only the director signs)",
			"phải là OFFICER, UNIT_HEAD hoặc DIRECTOR (DIRECTOR: chỉ Cục trưởng ký)")
	}
	if c.UnitID, err = unitField(ctx, q, "category.unit_id", pc.UnitId, now); err != nil {
		return nil, err
	}
	if c.SignerUnitID, err = unitField(ctx, q, "category.signer_unit_id", pc.SignerUnitId, now); err != nil {
		return nil, err
	}
	c.NeedsApproval, c.AutoAssign, c.Active = pc.NeedsApproval, pc.AutoAssign, pc.Active
	return &c, nil
}

// dateField reads a required "YYYY-MM-DD" field.
func dateField(field, s string) (calendar.Date, error) {
	d, ok := ParseDate(strings.TrimSpace(s))
	if !ok {
		return calendar.Date{}, errs.InvalidField(field,
			"must be a date written YYYY-MM-DD, e.g. 2026-02-17",
			"phải là ngày theo dạng YYYY-MM-DD, ví dụ 2026-02-17")
	}
	return d, nil
}

// spansField checks working hours as sent: "HH:MM" spans, ascending,
// non-overlapping, at most 6 (none clears).
func spansField(in []*issuev1.TimeSpan) ([]calendar.Span, error) {
	if len(in) > maxSpans {
		return nil, errs.InvalidField("spans",
			fmt.Sprintf("at most %d working periods a day", maxSpans),
			fmt.Sprintf("tối đa %d khoảng thời gian làm việc mỗi ngày", maxSpans))
	}
	out := make([]calendar.Span, 0, len(in))
	for i, s := range in {
		f := fmt.Sprintf("spans[%d]", i)
		start, ok := parseClock(strings.TrimSpace(s.GetStart()))
		if !ok {
			return nil, badClock(f + ".start")
		}
		end, ok := parseClock(strings.TrimSpace(s.GetEnd()))
		if !ok {
			return nil, badClock(f + ".end")
		}
		if end <= start {
			return nil, errs.InvalidField(f+".end", "must be after start", "phải sau giờ bắt đầu")
		}
		if i > 0 && start < out[i-1].End {
			return nil, errs.InvalidField(f+".start",
				"periods must be in ascending order and must not overlap",
				"các khoảng thời gian phải theo thứ tự tăng dần và không chồng lên nhau")
		}
		out = append(out, calendar.Span{Start: start, End: end})
	}
	return out, nil
}

func badClock(field string) *errs.Error {
	return errs.InvalidField(field,
		"must be a time of day written HH:MM between 00:00 and 24:00, e.g. 07:30",
		"phải là giờ trong ngày theo dạng HH:MM từ 00:00 đến 24:00, ví dụ 07:30")
}

// ToProto converts a category for the API.
func ToProto(c *Category) *issuev1.Category {
	return &issuev1.Category{
		Id: c.ID, Code: c.Code, NameVi: c.NameVI, NameEn: c.NameEN, UnitId: c.UnitID,
		SlaHours: int32(c.SLAHours), NeedsApproval: c.NeedsApproval, SignerRole: c.SignerRole,
		SignerUnitId: c.SignerUnitID, AutoAssign: c.AutoAssign, AutoCloseDays: int32(c.AutoCloseDays),
		Active: c.Active,
	}
}

func spansProto(spans []calendar.Span) []*issuev1.TimeSpan {
	out := make([]*issuev1.TimeSpan, len(spans))
	for i, s := range spans {
		out[i] = &issuev1.TimeSpan{Start: FormatClock(s.Start), End: FormatClock(s.End)}
	}
	return out
}

func dayProto(d dayRow) *issuev1.CalendarDay {
	k := issuev1.DayKind_DAY_KIND_DAY_OFF
	if d.Kind == kindMakeUp {
		k = issuev1.DayKind_DAY_KIND_MAKEUP_WORKDAY
	}
	return &issuev1.CalendarDay{Date: d.Date.String(), Kind: k, NameVi: d.NameVI, NameEn: d.NameEN}
}
