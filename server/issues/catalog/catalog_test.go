package catalog_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	issuev1 "hqconnect/gen/hqconnect/issue/v1"
	"hqconnect/gen/hqconnect/issue/v1/issuev1connect"
	"hqconnect/internal/calendar"
	"hqconnect/internal/errs"
	"hqconnect/internal/store"
	"hqconnect/internal/store/storetest"
	"hqconnect/internal/testkit"
	"hqconnect/internal/testkit/stack"
	"hqconnect/server"
	"hqconnect/server/issues/catalog"
)

// catalogs remembers the Catalog mounted in each Env, so a test reads
// calendars through the same instance (and cache) the admin RPCs change.
var catalogs sync.Map // *stack.Env → *catalog.Catalog

func mount(e *stack.Env) []server.Service {
	cat := catalog.New(e.DB, e.Clock.Now)
	catalogs.Store(e, cat)
	return []server.Service{{Name: issuev1connect.IssueAdminServiceName,
		Mount: func(o ...connect.HandlerOption) (string, http.Handler) {
			return issuev1connect.NewIssueAdminServiceHandler(cat, o...)
		}}}
}

func catOf(e *stack.Env) *catalog.Catalog {
	c, _ := catalogs.Load(e)
	return c.(*catalog.Catalog)
}

func admin(t *testing.T, e *stack.Env) issuev1connect.IssueAdminServiceClient {
	return stack.Client(e.Login(t, stack.Admin), issuev1connect.NewIssueAdminServiceClient)
}

var ctx = context.Background()

func TestAdminRPCsRefuseEveryoneButAdmins(t *testing.T) {
	stack.RunDB(t, mount, func(t *testing.T, e *stack.Env) {
		team := e.UnitID(t, "DEMOCK1TT")
		calls := map[string]func(c issuev1connect.IssueAdminServiceClient) error{
			"ListAllCategories": func(c issuev1connect.IssueAdminServiceClient) error {
				_, err := c.ListAllCategories(ctx, connect.NewRequest(&issuev1.ListAllCategoriesRequest{}))
				return err
			},
			"CreateCategory": func(c issuev1connect.IssueAdminServiceClient) error {
				_, err := c.CreateCategory(ctx, connect.NewRequest(&issuev1.CreateCategoryRequest{Category: validCategory("NEWCAT", team)}))
				return err
			},
			"UpdateCategory": func(c issuev1connect.IssueAdminServiceClient) error {
				pc := validCategory("VNACCS", team)
				pc.Id = "0190a000-0000-7000-8000-000000000001"
				_, err := c.UpdateCategory(ctx, connect.NewRequest(&issuev1.UpdateCategoryRequest{Category: pc}))
				return err
			},
			"ListCalendarDays": func(c issuev1connect.IssueAdminServiceClient) error {
				_, err := c.ListCalendarDays(ctx, connect.NewRequest(&issuev1.ListCalendarDaysRequest{FromDate: "2026-01-01", ToDate: "2026-12-31"}))
				return err
			},
			"SetCalendarDay": func(c issuev1connect.IssueAdminServiceClient) error {
				_, err := c.SetCalendarDay(ctx, connect.NewRequest(&issuev1.SetCalendarDayRequest{Day: &issuev1.CalendarDay{
					Date: "2026-03-02", Kind: issuev1.DayKind_DAY_KIND_DAY_OFF, NameVi: "Nghỉ", NameEn: "Off"}}))
				return err
			},
			"DeleteCalendarDay": func(c issuev1connect.IssueAdminServiceClient) error {
				_, err := c.DeleteCalendarDay(ctx, connect.NewRequest(&issuev1.DeleteCalendarDayRequest{Date: "2026-02-17"}))
				return err
			},
			"GetWorkingHours": func(c issuev1connect.IssueAdminServiceClient) error {
				_, err := c.GetWorkingHours(ctx, connect.NewRequest(&issuev1.GetWorkingHoursRequest{UnitId: team}))
				return err
			},
			"SetWorkingHours": func(c issuev1connect.IssueAdminServiceClient) error {
				_, err := c.SetWorkingHours(ctx, connect.NewRequest(&issuev1.SetWorkingHoursRequest{UnitId: team,
					Spans: []*issuev1.TimeSpan{{Start: "08:00", End: "12:00"}}}))
				return err
			},
		}
		for _, login := range []string{stack.Officer, stack.Head, stack.Director, stack.Inspector, stack.XnkAdmin, stack.LogStaff} {
			c := stack.Client(e.Login(t, login), issuev1connect.NewIssueAdminServiceClient)
			for name, call := range calls {
				t.Run(login+"/"+name, func(t *testing.T) {
					testkit.WantCode(t, call(c), connect.CodePermissionDenied)
				})
			}
		}
		anon := stack.Client(e.Anon(), issuev1connect.NewIssueAdminServiceClient)
		for name, call := range calls {
			t.Run("anonymous/"+name, func(t *testing.T) {
				testkit.WantCode(t, call(anon), connect.CodeUnauthenticated)
			})
		}
		// Nothing was changed by the refused calls.
		if n := e.Count(t, "issue_categories"); n != 9 {
			t.Fatalf("%d categories, want the 9 seeded", n)
		}
		if n := e.Count(t, "unit_working_hours"); n != 0 {
			t.Fatalf("%d working hours rows after refused calls", n)
		}
		if n := e.Count(t, "calendar_days"); n != 0 {
			t.Fatalf("%d calendar days after refused calls", n)
		}
	})
}

func validCategory(code, unit string) *issuev1.Category {
	return &issuev1.Category{
		Code: code, NameVi: "Lĩnh vực thử nghiệm", NameEn: "Test category", UnitId: unit, SlaHours: 16,
		NeedsApproval: true, SignerRole: "UNIT_HEAD", AutoAssign: true, AutoCloseDays: 5, Active: true,
	}
}

func TestCategories(t *testing.T) {
	stack.RunDB(t, mount, func(t *testing.T, e *stack.Env) {
		a := admin(t, e)
		team, branch := e.UnitID(t, "DEMOCK1TT"), e.UnitID(t, "DEMOCK1")
		all := testkit.Got(a.ListAllCategories(ctx, connect.NewRequest(&issuev1.ListAllCategoriesRequest{}))).Must(t)
		if len(all.Categories) != 9 || all.Categories[0].Code != "VNACCS" || all.Categories[8].Code != "OTHER" {
			t.Fatalf("seeded categories = %v", all.Categories)
		}

		t.Run("create", func(t *testing.T) {
			in := validCategory("bonded_goods", team)
			in.SignerUnitId = branch
			got := testkit.Got(a.CreateCategory(ctx, connect.NewRequest(&issuev1.CreateCategoryRequest{Category: in}))).Must(t).Category
			if got.Id == "" || got.Code != "BONDED_GOODS" || got.UnitId != team || got.SignerUnitId != branch || got.SlaHours != 16 || !got.Active {
				t.Fatalf("created %v", got)
			}
			cats, err := catOf(e).Categories(ctx, true)
			if err != nil {
				t.Fatal(err)
			}
			if last := cats[len(cats)-1]; last.Code != "BONDED_GOODS" {
				t.Fatalf("new category is not last in display order: %v", last)
			}
			if n := e.Count(t, "audit_events WHERE action = 'issue_category.create' AND target_id = $1", got.Id); n != 1 {
				t.Fatalf("%d audit rows for the creation", n)
			}
			_, err = a.CreateCategory(ctx, connect.NewRequest(&issuev1.CreateCategoryRequest{Category: validCategory("BONDED_GOODS", "")}))
			testkit.WantField(t, err, connect.CodeAlreadyExists, "category.code")
		})

		t.Run("update", func(t *testing.T) {
			in := validCategory("", "")
			in.Id = "0190a000-0000-7000-8000-000000000009" // OTHER
			in.Active = false
			in.SignerRole = "DIRECTOR"
			got := testkit.Got(a.UpdateCategory(ctx, connect.NewRequest(&issuev1.UpdateCategoryRequest{Category: in}))).Must(t).Category
			if got.Code != "OTHER" || got.UnitId != "" || got.Active || got.SignerRole != "DIRECTOR" || got.NameEn != "Test category" {
				t.Fatalf("updated %v", got)
			}
			cat, err := catOf(e).Category(ctx, e.DB, in.Id)
			if err != nil || cat.Active || cat.SortOrder != 90 {
				t.Fatalf("stored %+v, %v", cat, err)
			}
			active, err := catOf(e).Categories(ctx, true)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range active {
				if c.Code == "OTHER" {
					t.Fatal("an inactive category is listed as active")
				}
			}
			if n := e.Count(t, "audit_events WHERE action = 'issue_category.update' AND target_id = $1", in.Id); n != 1 {
				t.Fatalf("%d audit rows for the update", n)
			}

			in.Code = "OTHERS"
			_, err = a.UpdateCategory(ctx, connect.NewRequest(&issuev1.UpdateCategoryRequest{Category: in}))
			testkit.WantField(t, err, connect.CodeInvalidArgument, "category.code")
			in.Code, in.Id = "", "0190a000-0000-7000-8000-0000000000ff"
			_, err = a.UpdateCategory(ctx, connect.NewRequest(&issuev1.UpdateCategoryRequest{Category: in}))
			testkit.WantField(t, err, connect.CodeNotFound, "category.id")
			in.Id = "nope"
			_, err = a.UpdateCategory(ctx, connect.NewRequest(&issuev1.UpdateCategoryRequest{Category: in}))
			testkit.WantField(t, err, connect.CodeInvalidArgument, "category.id")
		})

		t.Run("unknown id", func(t *testing.T) {
			if _, err := catOf(e).Category(ctx, e.DB, "0190a000-0000-7000-8000-0000000000ff"); err != catalog.ErrNoCategory {
				t.Fatalf("Category(unknown) = %v, want ErrNoCategory", err)
			}
		})
	})
}

func TestCategoryValidation(t *testing.T) {
	stack.RunDB(t, mount, func(t *testing.T, e *stack.Env) {
		a := admin(t, e)
		team := e.UnitID(t, "DEMOCK1TT")
		// A unit that ended yesterday.
		ended := "0190a000-0000-7000-8000-0000000000e1"
		if _, err := e.DB.ExecContext(ctx, `INSERT INTO org_units (id, parent_id, kind, code, name_vi, name_en, effective_from, effective_to, create_time)
			VALUES ($1, NULL, 'TEAM', 'ENDED1', 'Đội cũ', 'Old team', $2, $3, $2)`,
			ended, time.Now().Add(-48*time.Hour).UTC(), time.Now().Add(-24*time.Hour).UTC()); err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name  string
			edit  func(c *issuev1.Category)
			code  connect.Code
			field string
		}{
			{"no category", nil, connect.CodeInvalidArgument, "category"},
			{"code too short", func(c *issuev1.Category) { c.Code = "A" }, connect.CodeInvalidArgument, "category.code"},
			{"code too long", func(c *issuev1.Category) { c.Code = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456" }, connect.CodeInvalidArgument, "category.code"},
			{"code with a dash", func(c *issuev1.Category) { c.Code = "HS-CODE" }, connect.CodeInvalidArgument, "category.code"},
			{"code with a letter outside A-Z", func(c *issuev1.Category) { c.Code = "THUẾ" }, connect.CodeInvalidArgument, "category.code"},
			{"name_vi missing", func(c *issuev1.Category) { c.NameVi = "  " }, connect.CodeInvalidArgument, "category.name_vi"},
			{"name_vi too short", func(c *issuev1.Category) { c.NameVi = "Â" }, connect.CodeInvalidArgument, "category.name_vi"},
			{"name_en too long", func(c *issuev1.Category) { c.NameEn = strings.Repeat("a", 201) }, connect.CodeInvalidArgument, "category.name_en"},
			{"name_en with a line break", func(c *issuev1.Category) { c.NameEn = "Two\nlines" }, connect.CodeInvalidArgument, "category.name_en"},
			{"sla 0", func(c *issuev1.Category) { c.SlaHours = 0 }, connect.CodeInvalidArgument, "category.sla_hours"},
			{"sla 2001", func(c *issuev1.Category) { c.SlaHours = 2001 }, connect.CodeInvalidArgument, "category.sla_hours"},
			{"auto close 0", func(c *issuev1.Category) { c.AutoCloseDays = 0 }, connect.CodeInvalidArgument, "category.auto_close_days"},
			{"auto close 61", func(c *issuev1.Category) { c.AutoCloseDays = 61 }, connect.CodeInvalidArgument, "category.auto_close_days"},
			{"signer role ADMIN", func(c *issuev1.Category) { c.SignerRole = "ADMIN" }, connect.CodeInvalidArgument, "category.signer_role"},
			{"signer role unknown", func(c *issuev1.Category) { c.SignerRole = "BOSS" }, connect.CodeInvalidArgument, "category.signer_role"},
			{"unit not an id", func(c *issuev1.Category) { c.UnitId = "DEMOCK1TT" }, connect.CodeInvalidArgument, "category.unit_id"},
			{"unit unknown", func(c *issuev1.Category) { c.UnitId = "0190a000-0000-7000-8000-0000000000aa" }, connect.CodeInvalidArgument, "category.unit_id"},
			{"unit ended", func(c *issuev1.Category) { c.UnitId = ended }, connect.CodeFailedPrecondition, "category.unit_id"},
			{"signer unit unknown", func(c *issuev1.Category) { c.SignerUnitId = "0190a000-0000-7000-8000-0000000000aa" }, connect.CodeInvalidArgument, "category.signer_unit_id"},
			{"signer unit ended", func(c *issuev1.Category) { c.SignerUnitId = ended }, connect.CodeFailedPrecondition, "category.signer_unit_id"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				var in *issuev1.Category
				if tc.edit != nil {
					in = validCategory("VALID_CODE", team)
					tc.edit(in)
				}
				_, err := a.CreateCategory(ctx, connect.NewRequest(&issuev1.CreateCategoryRequest{Category: in}))
				testkit.WantField(t, err, tc.code, tc.field)
				// The same rules apply to an update, which changes nothing either.
				if in != nil && tc.field != "category.code" {
					up := proto.CloneOf(in)
					up.Id, up.Code = "0190a000-0000-7000-8000-000000000001", ""
					_, err := a.UpdateCategory(ctx, connect.NewRequest(&issuev1.UpdateCategoryRequest{Category: up}))
					testkit.WantField(t, err, tc.code, tc.field)
				}
			})
		}
		if n := e.Count(t, "issue_categories"); n != 9 {
			t.Fatalf("%d categories after refused creations", n)
		}
		if n := e.Count(t, "audit_events WHERE action LIKE 'issue_category.%'"); n != 0 {
			t.Fatalf("%d audit rows after refused changes", n)
		}
		vn, err := catOf(e).Category(ctx, e.DB, "0190a000-0000-7000-8000-000000000001")
		if err != nil || vn.NameEN != "VNACCS/VCIS technical errors" || vn.SLAHours != 8 {
			t.Fatalf("VNACCS changed by refused updates: %+v %v", vn, err)
		}
	})
}

func TestRouteUnit(t *testing.T) {
	stack.RunDB(t, mount, func(t *testing.T, e *stack.Env) {
		c := catOf(e)
		hq, team := e.UnitID(t, "DEMOHQ"), e.UnitID(t, "DEMOCK1TT")
		if got, err := c.RouteUnit(ctx, e.DB, &catalog.Category{}); err != nil || got != hq {
			t.Fatalf("RouteUnit(no unit) = %s, %v; want the department %s", got, err, hq)
		}
		if got, err := c.RouteUnit(ctx, e.DB, &catalog.Category{UnitID: team}); err != nil || got != team {
			t.Fatalf("RouteUnit(team) = %s, %v", got, err)
		}
		// A category whose unit ended goes to the department.
		if _, err := e.DB.ExecContext(ctx, `UPDATE org_units SET effective_to = $2 WHERE id = $1`, team, time.Now().Add(-time.Hour).UTC()); err != nil {
			t.Fatal(err)
		}
		if got, err := c.RouteUnit(ctx, e.DB, &catalog.Category{UnitID: team}); err != nil || got != hq {
			t.Fatalf("RouteUnit(ended unit) = %s, %v; want the department", got, err)
		}
	})
	t.Run("no department", func(t *testing.T) {
		storetest.Each(t, func(t *testing.T, db *store.DB) {
			_, err := catalog.New(db, nil).RouteUnit(ctx, db, &catalog.Category{})
			if !errs.Is(err, errs.FailedPrecondition) {
				t.Fatalf("RouteUnit without a department = %v, want FailedPrecondition", err)
			}
		})
	})
}

func TestSeedDemo(t *testing.T) {
	stack.RunDB(t, mount, func(t *testing.T, e *stack.Env) {
		team, branch := e.UnitID(t, "DEMOCK1TT"), e.UnitID(t, "DEMOCK1")
		for range 2 {
			if err := catalog.SeedDemo(ctx, e.DB); err != nil {
				t.Fatal(err)
			}
		}
		cats, err := catOf(e).Categories(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		signed := map[string]bool{"HS": true, "ORIGIN": true, "VALUATION": true, "TAX": true}
		for _, c := range cats {
			if c.UnitID != team {
				t.Errorf("%s routed to %q, want the team", c.Code, c.UnitID)
			}
			if signed[c.Code] && (c.SignerUnitID != branch || c.SignerRole != "UNIT_HEAD") {
				t.Errorf("%s signed by %s of %q, want UNIT_HEAD of the branch", c.Code, c.SignerRole, c.SignerUnitID)
			}
			if !signed[c.Code] && c.SignerUnitID != "" {
				t.Errorf("%s has signer unit %q", c.Code, c.SignerUnitID)
			}
		}
		// The second run changed (and audited) nothing.
		if n := e.Count(t, "audit_events WHERE action = 'issue_category.update'"); n != 9 {
			t.Fatalf("%d audit rows after seeding twice, want 9", n)
		}
	})
	t.Run("without the demo units", func(t *testing.T) {
		storetest.Each(t, func(t *testing.T, db *store.DB) {
			if err := catalog.SeedDemo(ctx, db); err != nil {
				t.Fatal(err)
			}
			var n int
			if err := db.QueryRowContext(ctx, `SELECT count(*) FROM issue_categories WHERE unit_id IS NOT NULL`).Scan(&n); err != nil || n != 0 {
				t.Fatalf("%d categories routed without demo units (%v)", n, err)
			}
		})
	})
}

func TestSeedCalendarIsIdempotentAndRaceSafe(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				if err := catalog.SeedCalendar(ctx, db); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if err := catalog.SeedCalendar(ctx, db); err != nil {
			t.Fatal(err)
		}
		count := func(q string) int {
			var n int
			if err := db.QueryRowContext(ctx, q).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n, want := count(`SELECT count(*) FROM calendar_days`), len(calendar.VietnamHolidays()); n != want {
			t.Fatalf("%d calendar days, want %d", n, want)
		}
		if n := count(`SELECT count(*) FROM audit_events WHERE action = 'calendar.seed'`); n != 1 {
			t.Fatalf("%d seed audit rows, want 1", n)
		}
		// A year an ADMIN emptied is seeded again; one with data is left alone.
		if _, err := db.ExecContext(ctx, `DELETE FROM calendar_days WHERE day LIKE '2027-%' OR day = '2026-02-16'`); err != nil {
			t.Fatal(err)
		}
		if err := catalog.SeedCalendar(ctx, db); err != nil {
			t.Fatal(err)
		}
		if n := count(`SELECT count(*) FROM calendar_days WHERE day = '2026-02-16'`); n != 0 {
			t.Fatal("a day deleted from a year with data came back")
		}
		if n := count(`SELECT count(*) FROM calendar_days WHERE day LIKE '2027-%'`); n == 0 {
			t.Fatal("an empty year was not seeded")
		}
	})
}
