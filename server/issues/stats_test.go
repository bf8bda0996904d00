package issues

import (
	"context"
	"slices"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	identityv1 "hqconnect/gen/hqconnect/identity/v1"
	issuev1 "hqconnect/gen/hqconnect/issue/v1"
	"hqconnect/internal/testkit"
	"hqconnect/internal/testkit/stack"
)

// March 2027 in Vietnam.
var (
	marchStart = at(2027, 3, 1, 0, 0)
	marchEnd   = at(2027, 4, 1, 0, 0)
)

func satisfaction(start, end time.Time, unit string) *issuev1.GetSatisfactionRequest {
	return &issuev1.GetSatisfactionRequest{StartTime: timestamppb.New(start), EndTime: timestamppb.New(end), UnitId: unit}
}

// wantRow checks one row: ratings, average and counts per score.
func wantRow(t *testing.T, what string, r *issuev1.SatisfactionRow, ratings int64, avg float64, counts ...int64) {
	t.Helper()
	if r == nil {
		t.Fatalf("%s: no row", what)
	}
	if r.Ratings != ratings || r.Average != avg || !slices.Equal(r.ScoreCounts, counts) {
		t.Fatalf("%s: %d ratings, average %v, counts %v; want %d, %v, %v", what, r.Ratings, r.Average, r.ScoreCounts, ratings, avg, counts)
	}
}

func rowsBy(rows []*issuev1.SatisfactionRow, key func(*issuev1.SatisfactionRow) string) map[string]*issuev1.SatisfactionRow {
	m := map[string]*issuev1.SatisfactionRow{}
	for _, r := range rows {
		m[key(r)] = r
	}
	return m
}

func TestGetSatisfaction(t *testing.T) {
	stack.RunDB(t, issueMount(t), func(t *testing.T, e *stack.Env) {
		ie := newIssueEnv(t, e)
		ctx := context.Background()
		_, ks := ie.newOfficer(t, "ks.officer@demo.hqconnect.vn", "Lê Văn Kiểm", "DEMOCK1KS", identityv1.Role_ROLE_OFFICER)
		_, kcn := ie.newOfficer(t, "kcn.officer@demo.hqconnect.vn", "Phạm Thị Nghiệp", "DEMOKCNNV", identityv1.Role_ROLE_OFFICER)
		tt := ie.id(stack.Officer)

		// Ratings in March unless said otherwise. By hand:
		//   DEMOCK1TT (tt):   5, 4, 4        → 3 ratings, 13/3 = 4.33
		//   DEMOCK1KS (ks):   2, 3           → 2 ratings, 2.5
		//   DEMOCK1 (both):   5, 4, 4, 2, 3  → 5 ratings, 18/5 = 3.6
		//   DEMOKCNNV (kcn):  1              → 1 rating
		//   DEMOHQ (all):     19/6 = 3.1666… → 3.17
		// Not counted: a rating on 1 April (the end is excluded), one in
		// February, and a resolution not rated.
		type rated struct {
			unit, officer string
			score         any
			when          time.Time
		}
		data := []rated{
			{"DEMOCK1TT", tt, 5, at(2027, 3, 2, 9, 0)},
			{"DEMOCK1TT", tt, 4, at(2027, 3, 10, 9, 0)},
			{"DEMOCK1TT", tt, 4, marchStart},
			{"DEMOCK1KS", ks.UserID(), 2, at(2027, 3, 5, 9, 0)},
			{"DEMOCK1KS", ks.UserID(), 3, marchEnd.Add(-time.Microsecond)},
			{"DEMOKCNNV", kcn.UserID(), 1, at(2027, 3, 20, 9, 0)},
			{"DEMOCK1TT", tt, 1, marchEnd},
			{"DEMOCK1TT", tt, 1, at(2027, 2, 27, 9, 0)},
			{"DEMOCK1TT", tt, nil, at(2027, 3, 3, 9, 0)},
		}
		staff, _ := userOf(t, e, stack.XnkStaff)
		for _, d := range data {
			id := insertIssue(t, e, testIssue{Unit: d.unit, Status: StatusResolved, Created: d.when.Add(-time.Hour)})
			var rateTime any
			if d.score != nil {
				rateTime = d.when.UTC()
			}
			ie.exec(t, `INSERT INTO issue_resolutions (issue_id, resolution, resolve_time, resolved_by, unit_id, officer_id, score, rate_time)
				VALUES ($1, 1, $2, $3, $4, $5, $6, $7)`, id, d.when.Add(-time.Minute).UTC(), staff, e.UnitID(t, d.unit), d.officer, d.score, rateTime)
		}

		t.Run("a unit head reads their branch and the teams below it", func(t *testing.T) {
			res := testkit.Got(ie.Head.GetSatisfaction(ctx, connect.NewRequest(satisfaction(marchStart, marchEnd, "")))).Must(t)
			if len(res.Units) != 3 || res.Units[0].UnitId != e.UnitID(t, "DEMOCK1") {
				t.Fatalf("unit rows %v, want DEMOCK1 first and its two teams", res.Units)
			}
			units := rowsBy(res.Units, (*issuev1.SatisfactionRow).GetUnitId)
			wantRow(t, "DEMOCK1", units[e.UnitID(t, "DEMOCK1")], 5, 3.6, 0, 1, 1, 2, 1)
			wantRow(t, "DEMOCK1TT", units[e.UnitID(t, "DEMOCK1TT")], 3, 4.33, 0, 0, 0, 2, 1)
			wantRow(t, "DEMOCK1KS", units[e.UnitID(t, "DEMOCK1KS")], 2, 2.5, 0, 1, 1, 0, 0)
			if units[e.UnitID(t, "DEMOCK1")].Name == "" {
				t.Fatal("unit row without a name")
			}
			if len(res.Officers) != 2 {
				t.Fatalf("officer rows %v", res.Officers)
			}
			officers := rowsBy(res.Officers, (*issuev1.SatisfactionRow).GetOfficerId)
			wantRow(t, "the demo officer", officers[tt], 3, 4.33, 0, 0, 0, 2, 1)
			wantRow(t, "the KS officer", officers[ks.UserID()], 2, 2.5, 0, 1, 1, 0, 0)
			if o := officers[ks.UserID()]; o.Name != "Lê Văn Kiểm" || o.UnitId != e.UnitID(t, "DEMOCK1KS") {
				t.Fatalf("officer row %+v", o)
			}
		})

		t.Run("a unit head may ask for a team below them", func(t *testing.T) {
			res := testkit.Got(ie.Head.GetSatisfaction(ctx, connect.NewRequest(satisfaction(marchStart, marchEnd, e.UnitID(t, "DEMOCK1KS"))))).Must(t)
			if len(res.Units) != 1 || len(res.Officers) != 1 {
				t.Fatalf("rows %v / %v", res.Units, res.Officers)
			}
			wantRow(t, "DEMOCK1KS", res.Units[0], 2, 2.5, 0, 1, 1, 0, 0)
		})

		t.Run("a unit head cannot read another branch", func(t *testing.T) {
			for _, code := range []string{"DEMOKCN", "DEMOKCNNV", "DEMOHQ"} {
				_, err := ie.Head.GetSatisfaction(ctx, connect.NewRequest(satisfaction(marchStart, marchEnd, e.UnitID(t, code))))
				testkit.WantCode(t, err, connect.CodePermissionDenied)
			}
		})

		t.Run("the director reads the whole department", func(t *testing.T) {
			res := testkit.Got(ie.Director.GetSatisfaction(ctx, inEnglish(satisfaction(marchStart, marchEnd, "")))).Must(t)
			units := rowsBy(res.Units, (*issuev1.SatisfactionRow).GetUnitId)
			if len(units) != 6 || res.Units[0].UnitId != e.UnitID(t, "DEMOHQ") {
				t.Fatalf("unit rows %v", res.Units)
			}
			wantRow(t, "DEMOHQ", units[e.UnitID(t, "DEMOHQ")], 6, 3.17, 1, 1, 1, 2, 1)
			wantRow(t, "DEMOKCN", units[e.UnitID(t, "DEMOKCN")], 1, 1, 1, 0, 0, 0, 0)
			wantRow(t, "DEMOCK1", units[e.UnitID(t, "DEMOCK1")], 5, 3.6, 0, 1, 1, 2, 1)
			if len(res.Officers) != 3 {
				t.Fatalf("officer rows %v", res.Officers)
			}
			var nameEN string
			if err := e.DB.QueryRowContext(ctx, `SELECT name_en FROM org_units WHERE code = 'DEMOHQ'`).Scan(&nameEN); err != nil {
				t.Fatal(err)
			}
			if res.Units[0].Name != nameEN {
				t.Fatalf("unit name %q, want the English %q", res.Units[0].Name, nameEN)
			}
			// Any unit, including another branch.
			res = testkit.Got(ie.Director.GetSatisfaction(ctx, connect.NewRequest(satisfaction(marchStart, marchEnd, e.UnitID(t, "DEMOKCNNV"))))).Must(t)
			wantRow(t, "DEMOKCNNV", res.Units[0], 1, 1, 1, 0, 0, 0, 0)
		})

		t.Run("a unit without ratings has one empty row", func(t *testing.T) {
			res := testkit.Got(ie.Director.GetSatisfaction(ctx, connect.NewRequest(satisfaction(at(2026, 1, 1, 0, 0), at(2026, 2, 1, 0, 0), "")))).Must(t)
			if len(res.Units) != 1 || len(res.Officers) != 0 {
				t.Fatalf("rows %v / %v", res.Units, res.Officers)
			}
			wantRow(t, "DEMOHQ", res.Units[0], 0, 0, 0, 0, 0, 0, 0)
		})

		t.Run("the period is checked", func(t *testing.T) {
			for _, tc := range []struct {
				req   *issuev1.GetSatisfactionRequest
				field string
			}{
				{&issuev1.GetSatisfactionRequest{EndTime: timestamppb.New(marchEnd)}, "start_time"},
				{&issuev1.GetSatisfactionRequest{StartTime: timestamppb.New(marchStart)}, "end_time"},
				{satisfaction(marchEnd, marchStart, ""), "end_time"},
				{satisfaction(marchStart, marchStart, ""), "end_time"},
				{satisfaction(marchStart, marchStart.AddDate(3, 0, 1), ""), "end_time"},
				{satisfaction(marchStart, marchEnd, "not-a-unit"), "unit_id"},
			} {
				_, err := ie.Director.GetSatisfaction(ctx, connect.NewRequest(tc.req))
				testkit.WantField(t, err, connect.CodeInvalidArgument, tc.field)
			}
			// Exactly three years is allowed.
			testkit.Got(ie.Director.GetSatisfaction(ctx, connect.NewRequest(satisfaction(marchStart, marchStart.AddDate(3, 0, 0), "")))).Must(t)
		})

		t.Run("officers without a head role and enterprise users are refused", func(t *testing.T) {
			for _, c := range []interface {
				GetSatisfaction(context.Context, *connect.Request[issuev1.GetSatisfactionRequest]) (*connect.Response[issuev1.GetSatisfactionResponse], error)
			}{ie.Officer, ie.Admin, ie.Inspector, ie.Staff, ie.EntAdmin} {
				_, err := c.GetSatisfaction(ctx, connect.NewRequest(satisfaction(marchStart, marchEnd, "")))
				testkit.WantCode(t, err, connect.CodePermissionDenied)
			}
		})
	})
}
