package issues

import (
	"context"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/durationpb"

	issuev1 "hqconnect/gen/hqconnect/issue/v1"
	"hqconnect/internal/auth"
	"hqconnect/internal/ids"
	"hqconnect/internal/store"
	"hqconnect/internal/store/storetest"
	"hqconnect/server/identity"
	"hqconnect/server/issues/catalog"
)

// BenchmarkQueue measures ListIssues (the handler, without the network)
// over a large table: HQ_BENCH_ISSUES issues (default 1,000,000), 96 % of
// them closed, spread over the demo units, the open backlog with deadlines
// from 3 days overdue to 10 days ahead. It reports p50 and p99 of each
// listing. Run it with
//
//	go test -run '^$' -bench Queue -benchtime 1x ./server/issues/
//
// (with TEST_DATABASE_URL for PostgreSQL too).
func BenchmarkQueue(b *testing.B) {
	n := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("HQ_BENCH_ISSUES")); err == nil && v > 0 {
		n = v
	}
	dbs := map[string]func() *store.DB{"sqlite": func() *store.DB { return storetest.SQLite(b) }}
	if os.Getenv("TEST_DATABASE_URL") != "" {
		dbs["postgres"] = func() *store.DB { db, _ := storetest.Postgres(b); return db }
	}
	for _, name := range []string{"sqlite", "postgres"} {
		open, ok := dbs[name]
		if !ok {
			continue
		}
		b.Run(name, func(b *testing.B) { benchQueue(b, open(), n) })
	}
}

func benchQueue(b *testing.B, db *store.DB, n int) {
	ctx := context.Background()
	accounts, err := identity.SeedDemo(ctx, db, "bench-password-2026")
	if err != nil {
		b.Fatal(err)
	}
	users := map[string]identity.DemoAccount{}
	for _, a := range accounts {
		users[a.Login] = a
	}
	units := map[string]string{}
	rows, err := db.QueryContext(ctx, `SELECT code, id FROM org_units`)
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		var code, id string
		if err := rows.Scan(&code, &id); err != nil {
			b.Fatal(err)
		}
		units[code] = id
	}
	rows.Close()
	userID := func(login string) string {
		var id string
		if err := db.QueryRowContext(ctx, `SELECT id FROM users WHERE email = $1`, login).Scan(&id); err != nil {
			b.Fatal(err)
		}
		return id
	}
	staff, officer := userID("staff@xnk.demo.vn"), userID("officer@demo.hqconnect.vn")
	var ent string
	if err := db.QueryRowContext(ctx, `SELECT enterprise_id FROM users WHERE id = $1`, staff).Scan(&ent); err != nil {
		b.Fatal(err)
	}
	unitList := make([]string, 0, len(units))
	for _, id := range units {
		unitList = append(unitList, id)
	}
	slices.Sort(unitList)

	start := time.Now()
	now := store.Now()
	first := now.Add(-3 * 365 * 24 * time.Hour)
	r := rand.New(rand.NewPCG(4, 4))
	// Small batches: the SQLite driver binds parameters in time quadratic in their count.
	const batch = 100
	cols := []string{"id", "number", "enterprise_id", "created_by", "category_id", "unit_id", "assignee_id", "status",
		"title", "body", "create_time", "update_time", "sla_minutes", "sla_running_since", "due_time"}
	for done := 0; done < n; {
		m := min(batch, n-done)
		var sb strings.Builder
		sb.WriteString("INSERT INTO issues (" + strings.Join(cols, ", ") + ") VALUES ")
		args := make([]any, 0, m*len(cols))
		for j := range m {
			i := done + j
			if j > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("(" + placeholders(len(args)+1, len(cols)) + ")")
			created := first.Add(time.Duration(i) * (now.Sub(first) / time.Duration(n)))
			unit := unitList[r.IntN(len(unitList))]
			var status Status
			switch p := r.IntN(1000); {
			case p < 960:
				status = StatusClosed
			case p < 980:
				status = StatusResolved
			case p < 985:
				status = StatusAnswered
			case p < 989:
				status = StatusOpen
			case p < 994:
				status = StatusAssigned
			case p < 996:
				status = StatusWaiting
			case p < 998:
				status = StatusPendingApproval
			default:
				status = StatusReopened
			}
			var assignee, running, due any
			if status != StatusOpen {
				assignee = officer
			}
			if slices.Contains(runningStatuses, status) {
				created = now.Add(-time.Duration(r.IntN(14*24)) * time.Hour)
				running = created
				due = now.Add(time.Duration(r.IntN(13*24*60)-3*24*60) * time.Minute)
			}
			args = append(args, ids.New(), "VM-B-"+strconv.Itoa(i), ent, staff, catIDOther, unit, assignee, string(status),
				"Vướng mắc thử tải", "Nội dung vướng mắc thử tải.", created, created, 2400, running, due)
		}
		if _, err := db.ExecContext(ctx, sb.String(), args...); err != nil {
			b.Fatalf("load issues: %v", err)
		}
		done += m
	}
	if db.Dialect == store.Postgres {
		_, err = db.ExecContext(ctx, `ANALYZE issues`)
	} else {
		_, err = db.ExecContext(ctx, `ANALYZE`)
	}
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%s: %d issues loaded in %v", db.Dialect, n, time.Since(start).Round(time.Second))

	svc := New(Deps{DB: db, Catalog: catalog.New(db, nil)})
	principal := func(login string) *auth.Principal {
		a := users[login]
		var unit string
		_ = db.QueryRowContext(ctx, `SELECT unit_id FROM users WHERE email = $1`, login).Scan(&unit)
		return &auth.Principal{UserID: userID(login), Kind: auth.KindOfficer, Roles: a.Roles, UnitID: unit}
	}
	open := []issuev1.IssueStatus{issuev1.IssueStatus_ISSUE_STATUS_OPEN, issuev1.IssueStatus_ISSUE_STATUS_ASSIGNED,
		issuev1.IssueStatus_ISSUE_STATUS_WAITING_ENTERPRISE, issuev1.IssueStatus_ISSUE_STATUS_PENDING_APPROVAL,
		issuev1.IssueStatus_ISSUE_STATUS_REOPENED}
	for _, c := range []struct {
		name  string
		login string
		req   *issuev1.ListIssuesRequest
	}{
		{"team officer, no filter", "officer@demo.hqconnect.vn", &issuev1.ListIssuesRequest{}},
		{"team officer, assigned to me", "officer@demo.hqconnect.vn", &issuev1.ListIssuesRequest{AssigneeId: "me"}},
		{"branch head, open statuses", "head@demo.hqconnect.vn", &issuev1.ListIssuesRequest{Statuses: open}},
		{"branch head, due within a day", "head@demo.hqconnect.vn", &issuev1.ListIssuesRequest{DueWithin: durationpb.New(24 * time.Hour)}},
		{"director, every unit, overdue", "director@demo.hqconnect.vn", &issuev1.ListIssuesRequest{Overdue: true}},
		{"director, every unit, newest", "director@demo.hqconnect.vn", &issuev1.ListIssuesRequest{Sort: issuev1.IssueSort_ISSUE_SORT_NEWEST}},
	} {
		b.Run(c.name, func(b *testing.B) {
			cctx := auth.WithPrincipal(ctx, principal(c.login))
			// The page after the first, too: the cursor must not slow down.
			first, err := svc.ListIssues(cctx, connect.NewRequest(c.req))
			if err != nil {
				b.Fatal(err)
			}
			second := &issuev1.ListIssuesRequest{Statuses: c.req.Statuses, AssigneeId: c.req.AssigneeId,
				DueWithin: c.req.DueWithin, Overdue: c.req.Overdue, Sort: c.req.Sort, PageToken: first.Msg.NextPageToken}
			var lat []time.Duration
			b.ResetTimer()
			for i := 0; i < max(b.N, 200); i++ {
				req := c.req
				if i%2 == 1 {
					req = second
				}
				t0 := time.Now()
				res, err := svc.ListIssues(cctx, connect.NewRequest(req))
				lat = append(lat, time.Since(t0))
				if err != nil {
					b.Fatal(err)
				}
				if len(res.Msg.Issues) == 0 {
					b.Fatalf("empty page")
				}
			}
			b.StopTimer()
			slices.Sort(lat)
			p := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Microseconds()) / 1000 }
			b.ReportMetric(p(0.5), "p50-ms")
			b.ReportMetric(p(0.99), "p99-ms")
			b.Logf("%s: p50 %.2f ms, p99 %.2f ms over %d calls", c.name, p(0.5), p(0.99), len(lat))
		})
	}
}
