package auditsvc_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	auditv1 "hqconnect/gen/hqconnect/audit/v1"
	"hqconnect/internal/audit"
	"hqconnect/internal/errs"
	"hqconnect/internal/store"
	"hqconnect/internal/store/storetest"
	auditsvc "hqconnect/server/audit"
)

// The handler on its own; the identity tests cover it behind the server
// (ADMIN only, over Connect and gRPC).
func TestListAuditEvents(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		base := time.Date(2026, 2, 1, 8, 0, 0, 0, time.UTC)
		actions := []string{"enterprise.register", "enterprise.verify", "enterprise_x.odd", "user.disable", "session.login"}
		for i := range 25 {
			e := audit.Event{
				Time:       base.Add(time.Duration(i) * time.Minute),
				ActorID:    fmt.Sprintf("actor-%d", i%3),
				ActorKind:  "officer",
				Action:     actions[i%len(actions)],
				TargetKind: "enterprise",
				TargetID:   fmt.Sprintf("target-%d", i%4),
				Detail:     map[string]any{"i": i},
			}
			if err := audit.Append(ctx, db, e); err != nil {
				t.Fatal(err)
			}
		}
		h := auditsvc.NewHandler(db)
		list := func(t *testing.T, r *auditv1.ListAuditEventsRequest) *auditv1.ListAuditEventsResponse {
			t.Helper()
			res, err := h.ListAuditEvents(ctx, connect.NewRequest(r))
			if err != nil {
				t.Fatal(err)
			}
			return res.Msg
		}

		t.Run("newest first, 50 by default", func(t *testing.T) {
			res := list(t, &auditv1.ListAuditEventsRequest{})
			if len(res.Events) != 25 || res.NextPageToken != "" {
				t.Fatalf("%d events, token %q", len(res.Events), res.NextPageToken)
			}
			for i := 1; i < len(res.Events); i++ {
				if res.Events[i].Id > res.Events[i-1].Id {
					t.Fatal("not newest first")
				}
			}
			if e := res.Events[0]; e.DetailJson != `{"i":24}` || !e.CreateTime.AsTime().Equal(base.Add(24*time.Minute)) {
				t.Fatalf("newest = %v", e)
			}
		})
		t.Run("filters", func(t *testing.T) {
			for _, tc := range []struct {
				name string
				r    *auditv1.ListAuditEventsRequest
				want int
			}{
				{"exact action", &auditv1.ListAuditEventsRequest{Action: "enterprise.verify"}, 5},
				// The prefix does not catch "enterprise_x.".
				{"action prefix", &auditv1.ListAuditEventsRequest{Action: "enterprise."}, 10},
				{"actor", &auditv1.ListAuditEventsRequest{ActorId: "actor-0"}, 9},
				{"target", &auditv1.ListAuditEventsRequest{TargetKind: "enterprise", TargetId: "target-1"}, 6},
				{"since", &auditv1.ListAuditEventsRequest{StartTime: timestamppb.New(base.Add(20 * time.Minute))}, 5},
				{"until", &auditv1.ListAuditEventsRequest{EndTime: timestamppb.New(base.Add(20 * time.Minute))}, 20},
				{"between", &auditv1.ListAuditEventsRequest{
					StartTime: timestamppb.New(base.Add(5 * time.Minute)), EndTime: timestamppb.New(base.Add(10 * time.Minute)),
				}, 5},
				{"all together", &auditv1.ListAuditEventsRequest{Action: "enterprise.", ActorId: "actor-0", TargetKind: "enterprise"}, 4},
				{"nothing", &auditv1.ListAuditEventsRequest{TargetKind: "org_unit"}, 0},
			} {
				t.Run(tc.name, func(t *testing.T) {
					if n := len(list(t, tc.r).Events); n != tc.want {
						t.Fatalf("%d events, want %d", n, tc.want)
					}
				})
			}
		})
		t.Run("paging", func(t *testing.T) {
			var seen []string
			token := ""
			for range 10 {
				res := list(t, &auditv1.ListAuditEventsRequest{PageSize: 10, PageToken: token, Action: "enterprise."})
				for _, e := range res.Events {
					seen = append(seen, e.Id)
				}
				if token = res.NextPageToken; token == "" {
					break
				}
			}
			if len(seen) != 10 {
				t.Fatalf("paged %d events, want 10", len(seen))
			}
			p := list(t, &auditv1.ListAuditEventsRequest{PageSize: 7})
			q := list(t, &auditv1.ListAuditEventsRequest{PageSize: 7, PageToken: p.NextPageToken})
			if len(p.Events) != 7 || len(q.Events) != 7 || q.Events[0].Id >= p.Events[6].Id {
				t.Fatal("second page does not continue the first")
			}
		})
		t.Run("bad input", func(t *testing.T) {
			for _, tc := range []struct {
				name, field string
				r           *auditv1.ListAuditEventsRequest
			}{
				{"negative page size", "page_size", &auditv1.ListAuditEventsRequest{PageSize: -1}},
				{"garbage token", "page_token", &auditv1.ListAuditEventsRequest{PageToken: "%%%"}},
				{"token of no id", "page_token", &auditv1.ListAuditEventsRequest{PageToken: "aGVsbG8"}},
				{"end before start", "end_time", &auditv1.ListAuditEventsRequest{
					StartTime: timestamppb.New(base), EndTime: timestamppb.New(base.Add(-time.Hour)),
				}},
				{"bad time", "start_time", &auditv1.ListAuditEventsRequest{StartTime: &timestamppb.Timestamp{Seconds: 1, Nanos: -5}}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					_, err := h.ListAuditEvents(ctx, connect.NewRequest(tc.r))
					e, ok := errs.As(err)
					if !ok || e.Code != errs.Invalid || e.Field != tc.field {
						t.Fatalf("got %v, want invalid %s", err, tc.field)
					}
				})
			}
		})
	})
}
