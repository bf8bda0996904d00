package catalog

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	issuev1 "hqconnect/gen/hqconnect/issue/v1"
	"hqconnect/internal/audit"
	"hqconnect/internal/calendar"
	"hqconnect/internal/errs"
	"hqconnect/internal/ids"
	"hqconnect/internal/store"
)

// IssueAdminService: the category table and the working calendar. The
// policy table lets only ADMIN officers in; every change is audited in its
// own transaction and drops this instance's calendar cache.

var errCategoryNotFound = &errs.Error{Code: errs.NotFound, Field: "category.id",
	EN: "no category has this id", VI: "không có lĩnh vực nào với mã này"}

func (c *Catalog) ListAllCategories(ctx context.Context, _ *connect.Request[issuev1.ListAllCategoriesRequest]) (*connect.Response[issuev1.ListAllCategoriesResponse], error) {
	cats, err := c.Categories(ctx, false)
	if err != nil {
		return nil, err
	}
	out := make([]*issuev1.Category, len(cats))
	for i := range cats {
		out[i] = ToProto(&cats[i])
	}
	return connect.NewResponse(&issuev1.ListAllCategoriesResponse{Categories: out}), nil
}

func (c *Catalog) CreateCategory(ctx context.Context, req *connect.Request[issuev1.CreateCategoryRequest]) (*connect.Response[issuev1.CreateCategoryResponse], error) {
	now := c.now()
	var cat *Category
	err := c.db.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		if cat, err = CheckCategory(ctx, tx, req.Msg.Category, now); err != nil {
			return err
		}
		cat.ID = ids.New()
		// New categories go to the end of the form.
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(sort_order), 0) + 10 FROM issue_categories`).Scan(&cat.SortOrder); err != nil {
			return fmt.Errorf("select sort order: %w", err)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO issue_categories (`+categoryCols+`, create_time, update_time)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)`,
			cat.ID, cat.Code, cat.NameVI, cat.NameEN, nullString(cat.UnitID), cat.SLAHours, cat.NeedsApproval,
			cat.SignerRole, nullString(cat.SignerUnitID), cat.AutoAssign, cat.AutoCloseDays, cat.Active, cat.SortOrder, now)
		if store.IsUniqueViolation(err) {
			return (&errs.Error{Code: errs.AlreadyExists, Field: "category.code",
				EN: "a category with code " + cat.Code + " already exists",
				VI: "đã có lĩnh vực với mã " + cat.Code}).Wrap(err)
		}
		if err != nil {
			return fmt.Errorf("insert category: %w", err)
		}
		return audit.Record(ctx, tx, "issue_category.create", "issue_category", cat.ID, categoryDetail(cat))
	})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&issuev1.CreateCategoryResponse{Category: ToProto(cat)}), nil
}

func (c *Catalog) UpdateCategory(ctx context.Context, req *connect.Request[issuev1.UpdateCategoryRequest]) (*connect.Response[issuev1.UpdateCategoryResponse], error) {
	pc := req.Msg.Category
	if pc == nil {
		return nil, errs.InvalidField("category", "is required", "là bắt buộc")
	}
	id := strings.TrimSpace(pc.Id)
	if !ids.Valid(id) {
		return nil, errs.InvalidField("category.id", "is required: the id of the category to change",
			"là bắt buộc: mã định danh của lĩnh vực cần sửa")
	}
	now := c.now()
	var cat *Category
	err := c.db.Tx(ctx, func(tx *sql.Tx) error {
		old, err := c.Category(ctx, tx, id)
		if err == ErrNoCategory {
			return errCategoryNotFound
		}
		if err != nil {
			return err
		}
		if code := strings.ToUpper(strings.TrimSpace(pc.Code)); code != "" && code != old.Code {
			return errs.InvalidField("category.code",
				"cannot change (it is "+old.Code+"); create a new category instead",
				"không thể thay đổi (mã hiện tại là "+old.Code+"); hãy tạo lĩnh vực mới")
		}
		in := proto.CloneOf(pc)
		in.Code = old.Code
		if cat, err = CheckCategory(ctx, tx, in, now); err != nil {
			return err
		}
		cat.ID, cat.SortOrder = old.ID, old.SortOrder
		_, err = tx.ExecContext(ctx, `UPDATE issue_categories SET name_vi = $2, name_en = $3, unit_id = $4,
			sla_hours = $5, needs_approval = $6, signer_role = $7, signer_unit_id = $8, auto_assign = $9,
			auto_close_days = $10, active = $11, update_time = $12 WHERE id = $1`,
			cat.ID, cat.NameVI, cat.NameEN, nullString(cat.UnitID), cat.SLAHours, cat.NeedsApproval, cat.SignerRole,
			nullString(cat.SignerUnitID), cat.AutoAssign, cat.AutoCloseDays, cat.Active, now)
		if err != nil {
			return fmt.Errorf("update category: %w", err)
		}
		detail := categoryDetail(cat)
		detail["before"] = categoryDetail(old)
		return audit.Record(ctx, tx, "issue_category.update", "issue_category", cat.ID, detail)
	})
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&issuev1.UpdateCategoryResponse{Category: ToProto(cat)}), nil
}

func categoryDetail(c *Category) map[string]any {
	return map[string]any{
		"code": c.Code, "name_vi": c.NameVI, "name_en": c.NameEN, "unit_id": c.UnitID, "sla_hours": c.SLAHours,
		"needs_approval": c.NeedsApproval, "signer_role": c.SignerRole, "signer_unit_id": c.SignerUnitID,
		"auto_assign": c.AutoAssign, "auto_close_days": c.AutoCloseDays, "active": c.Active,
	}
}

func (c *Catalog) ListCalendarDays(ctx context.Context, req *connect.Request[issuev1.ListCalendarDaysRequest]) (*connect.Response[issuev1.ListCalendarDaysResponse], error) {
	from, err := dateField("from_date", req.Msg.FromDate)
	if err != nil {
		return nil, err
	}
	to, err := dateField("to_date", req.Msg.ToDate)
	if err != nil {
		return nil, err
	}
	if to.Before(from) {
		return nil, errs.InvalidField("to_date", "must not be before from_date", "không được trước from_date")
	}
	limit := calendar.DateOf(time.Date(from.Year+MaxCalendarSpanYears, from.Month, from.Day, 0, 0, 0, 0, time.UTC))
	if limit.Before(to) {
		return nil, errs.InvalidField("to_date",
			fmt.Sprintf("must be at most %d years after from_date", MaxCalendarSpanYears),
			fmt.Sprintf("không được cách from_date quá %d năm", MaxCalendarSpanYears))
	}
	if err := c.ensureSeeded(ctx); err != nil {
		return nil, err
	}
	days, err := listDays(ctx, c.db, from.String(), to.String())
	if err != nil {
		return nil, err
	}
	out := make([]*issuev1.CalendarDay, len(days))
	for i, d := range days {
		out[i] = dayProto(d)
	}
	return connect.NewResponse(&issuev1.ListCalendarDaysResponse{Days: out}), nil
}

func (c *Catalog) SetCalendarDay(ctx context.Context, req *connect.Request[issuev1.SetCalendarDayRequest]) (*connect.Response[issuev1.SetCalendarDayResponse], error) {
	pd := req.Msg.Day
	if pd == nil {
		return nil, errs.InvalidField("day", "is required", "là bắt buộc")
	}
	d, err := dateField("day.date", pd.Date)
	if err != nil {
		return nil, err
	}
	row := dayRow{Date: d}
	weekend := d.Weekday() == time.Saturday || d.Weekday() == time.Sunday
	switch pd.Kind {
	case issuev1.DayKind_DAY_KIND_DAY_OFF:
		row.Kind = kindDayOff
		if weekend {
			return nil, errs.InvalidField("day.kind",
				fmt.Sprintf("%s is a %s, already a day off: a DAY_OFF must be a weekday (Monday to Friday); give the day in lieu instead", d, d.Weekday()),
				fmt.Sprintf("%s là %s, vốn đã là ngày nghỉ: DAY_OFF phải là ngày thường (thứ Hai đến thứ Sáu); hãy nhập ngày nghỉ bù", d, weekdayVI(d.Weekday())))
		}
	case issuev1.DayKind_DAY_KIND_MAKEUP_WORKDAY:
		row.Kind = kindMakeUp
		if !weekend {
			return nil, errs.InvalidField("day.kind",
				fmt.Sprintf("%s is a %s, already a working day: a MAKEUP_WORKDAY must be a Saturday or Sunday", d, d.Weekday()),
				fmt.Sprintf("%s là %s, vốn đã là ngày làm việc: MAKEUP_WORKDAY phải là thứ Bảy hoặc Chủ nhật", d, weekdayVI(d.Weekday())))
		}
	default:
		return nil, errs.InvalidField("day.kind", "must be DAY_KIND_DAY_OFF or DAY_KIND_MAKEUP_WORKDAY",
			"phải là DAY_KIND_DAY_OFF hoặc DAY_KIND_MAKEUP_WORKDAY")
	}
	if row.NameVI, err = line("day.name_vi", pd.NameVi, 2, 200); err != nil {
		return nil, err
	}
	if row.NameEN, err = line("day.name_en", pd.NameEn, 2, 200); err != nil {
		return nil, err
	}
	if err := c.ensureSeeded(ctx); err != nil {
		return nil, err
	}
	err = c.db.Tx(ctx, func(tx *sql.Tx) error {
		before, err := listDays(ctx, tx, d.String(), d.String())
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO calendar_days (day, kind, name_vi, name_en) VALUES ($1, $2, $3, $4)
			ON CONFLICT (day) DO UPDATE SET kind = $2, name_vi = $3, name_en = $4`,
			d.String(), row.Kind, row.NameVI, row.NameEN); err != nil {
			return fmt.Errorf("upsert calendar day: %w", err)
		}
		detail := map[string]any{"kind": row.Kind, "name_vi": row.NameVI, "name_en": row.NameEN}
		if len(before) == 1 {
			detail["before"] = map[string]any{"kind": before[0].Kind, "name_vi": before[0].NameVI, "name_en": before[0].NameEN}
		}
		return audit.Record(ctx, tx, "calendar_day.set", "calendar_day", d.String(), detail)
	})
	c.Invalidate()
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&issuev1.SetCalendarDayResponse{Day: dayProto(row)}), nil
}

func (c *Catalog) DeleteCalendarDay(ctx context.Context, req *connect.Request[issuev1.DeleteCalendarDayRequest]) (*connect.Response[issuev1.DeleteCalendarDayResponse], error) {
	d, err := dateField("date", req.Msg.Date)
	if err != nil {
		return nil, err
	}
	if err := c.ensureSeeded(ctx); err != nil {
		return nil, err
	}
	err = c.db.Tx(ctx, func(tx *sql.Tx) error {
		before, err := listDays(ctx, tx, d.String(), d.String())
		if err != nil {
			return err
		}
		if len(before) == 0 {
			return &errs.Error{Code: errs.NotFound, Field: "date",
				EN: "the calendar has no holiday or make-up working day on " + d.String(),
				VI: "lịch không có ngày nghỉ hoặc ngày làm bù nào vào " + d.String()}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM calendar_days WHERE day = $1`, d.String()); err != nil {
			return fmt.Errorf("delete calendar day: %w", err)
		}
		b := before[0]
		return audit.Record(ctx, tx, "calendar_day.delete", "calendar_day", d.String(),
			map[string]any{"kind": b.Kind, "name_vi": b.NameVI, "name_en": b.NameEN})
	})
	c.Invalidate()
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&issuev1.DeleteCalendarDayResponse{}), nil
}

// unitExists checks the unit_id of a working-hours RPC.
func unitExists(ctx context.Context, q store.Queryer, raw string) (string, error) {
	id := strings.TrimSpace(raw)
	notFound := &errs.Error{Code: errs.NotFound, Field: "unit_id",
		EN: "no org unit has this id", VI: "không có đơn vị nào với mã này"}
	if id == "" {
		return "", errs.InvalidField("unit_id", "is required", "là bắt buộc")
	}
	if !ids.Valid(id) {
		return "", notFound
	}
	var exists bool
	if err := q.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM org_units WHERE id = $1)`, id).Scan(&exists); err != nil {
		return "", fmt.Errorf("check org unit: %w", err)
	}
	if !exists {
		return "", notFound
	}
	return id, nil
}

// WorkingHours returns the working hours of unitID and the unit they are set
// on ("" for the default).
func (c *Catalog) WorkingHours(ctx context.Context, q store.Queryer, unitID string) ([]calendar.Span, string, error) {
	return workingHours(ctx, q, unitID)
}

func (c *Catalog) GetWorkingHours(ctx context.Context, req *connect.Request[issuev1.GetWorkingHoursRequest]) (*connect.Response[issuev1.GetWorkingHoursResponse], error) {
	id, err := unitExists(ctx, c.db, req.Msg.UnitId)
	if err != nil {
		return nil, err
	}
	spans, from, err := workingHours(ctx, c.db, id)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&issuev1.GetWorkingHoursResponse{Spans: spansProto(spans), FromUnitId: from}), nil
}

func (c *Catalog) SetWorkingHours(ctx context.Context, req *connect.Request[issuev1.SetWorkingHoursRequest]) (*connect.Response[issuev1.SetWorkingHoursResponse], error) {
	spans, err := spansField(req.Msg.Spans)
	if err != nil {
		return nil, err
	}
	now := c.now()
	var eff []calendar.Span
	var from string
	err = c.db.Tx(ctx, func(tx *sql.Tx) error {
		id, err := unitExists(ctx, tx, req.Msg.UnitId)
		if err != nil {
			return err
		}
		var before sql.NullString
		if err := tx.QueryRowContext(ctx, `SELECT spans FROM unit_working_hours WHERE unit_id = $1`, id).Scan(&before); err != nil && !store.IsNoRows(err) {
			return fmt.Errorf("select working hours: %w", err)
		}
		action, detail := "unit_working_hours.set", map[string]any{"spans": FormatSpans(spans)}
		if len(spans) == 0 {
			action, detail = "unit_working_hours.clear", map[string]any{}
			if _, err := tx.ExecContext(ctx, `DELETE FROM unit_working_hours WHERE unit_id = $1`, id); err != nil {
				return fmt.Errorf("delete working hours: %w", err)
			}
		} else if _, err := tx.ExecContext(ctx, `INSERT INTO unit_working_hours (unit_id, spans, update_time) VALUES ($1, $2, $3)
			ON CONFLICT (unit_id) DO UPDATE SET spans = $2, update_time = $3`, id, FormatSpans(spans), now); err != nil {
			return fmt.Errorf("upsert working hours: %w", err)
		}
		if before.Valid {
			detail["before"] = before.String
		}
		if eff, from, err = workingHours(ctx, tx, id); err != nil {
			return err
		}
		return audit.Record(ctx, tx, action, "org_unit", id, detail)
	})
	c.Invalidate()
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&issuev1.SetWorkingHoursResponse{Spans: spansProto(eff), FromUnitId: from}), nil
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func weekdayVI(d time.Weekday) string {
	return [...]string{"Chủ nhật", "thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy"}[d]
}
