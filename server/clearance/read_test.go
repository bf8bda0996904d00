package clearance_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	clearancev1 "hqconnect/gen/hqconnect/clearance/v1"
	"hqconnect/gen/hqconnect/clearance/v1/clearancev1connect"
	identityv1 "hqconnect/gen/hqconnect/identity/v1"
	"hqconnect/gen/hqconnect/identity/v1/identityv1connect"
	"hqconnect/internal/taxcode"
	"hqconnect/internal/testkit"
	"hqconnect/internal/testkit/stack"
)

func numbers(ds []*clearancev1.Declaration) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Number
	}
	return out
}

func TestWhoSeesWhichDeclaration(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		const aPort, aZone, bPort = "305000000101", "105000000102", "305000000103"
		taxB := e.taxCode(stack.LogStaff)
		e.push(t,
			ev(aPort, 1, kReg, 0),
			ev(aZone, 1, kReg, time.Minute, imports("E31"), office("DEMOKCN")),
			ev(bPort, 1, kReg, 2*time.Minute, taxCode(taxB)),
		)
		get := func(c clearancev1connect.ClearanceServiceClient, num string) error {
			_, err := c.GetDeclaration(ctx, connect.NewRequest(&clearancev1.GetDeclarationRequest{Number: num}))
			return err
		}
		list := func(c clearancev1connect.ClearanceServiceClient) []string {
			t.Helper()
			return numbers(testkit.Got(c.ListDeclarations(ctx, connect.NewRequest(&clearancev1.ListDeclarationsRequest{}))).Must(t).Declarations)
		}
		cases := []struct {
			login string
			sees  []string // newest first
		}{
			{stack.XnkStaff, []string{aZone, aPort}},
			{stack.XnkAdmin, []string{aZone, aPort}},
			{stack.LogStaff, []string{bPort}},
			{stack.Officer, []string{bPort, aPort}}, // team DEMOCK1TT: branch DEMOCK1
			{stack.Head, []string{bPort, aPort}},    // branch DEMOCK1
			{stack.Director, []string{bPort, aZone, aPort}},
			{stack.Admin, []string{bPort, aZone, aPort}},
			{stack.Inspector, nil}, // department, no leadership role
		}
		for _, c := range cases {
			t.Run(c.login, func(t *testing.T) {
				r := e.reader(t, c.login)
				if got := list(r); !slices.Equal(got, c.sees) {
					t.Fatalf("lists %v, want %v", got, c.sees)
				}
				for _, num := range []string{aPort, aZone, bPort} {
					err := get(r, num)
					if slices.Contains(c.sees, num) {
						if err != nil {
							t.Fatalf("GetDeclaration(%s): %v", num, err)
						}
					} else {
						testkit.WantCode(t, err, connect.CodeNotFound)
					}
				}
			})
		}
		t.Run("an unknown number is not found", func(t *testing.T) {
			testkit.WantCode(t, get(e.reader(t, stack.Director), "305999999999"), connect.CodeNotFound)
		})
		t.Run("a bad number names the field", func(t *testing.T) {
			testkit.WantField(t, get(e.reader(t, stack.Director), "3059"), connect.CodeInvalidArgument, "number")
		})
		t.Run("an enterprise cannot ask for another's tax code", func(t *testing.T) {
			_, err := e.reader(t, stack.XnkStaff).ListDeclarations(ctx, connect.NewRequest(&clearancev1.ListDeclarationsRequest{TaxCode: taxB}))
			testkit.WantField(t, err, connect.CodeInvalidArgument, "tax_code")
		})
		t.Run("officers see the enterprise's name, enterprises do not need it", func(t *testing.T) {
			d := testkit.Got(e.reader(t, stack.Director).GetDeclaration(ctx,
				connect.NewRequest(&clearancev1.GetDeclarationRequest{Number: bPort}))).Must(t).Declaration
			if d.EnterpriseName == "" {
				t.Fatal("no enterprise name for an officer")
			}
			d = testkit.Got(e.reader(t, stack.LogStaff).GetDeclaration(ctx,
				connect.NewRequest(&clearancev1.GetDeclarationRequest{Number: bPort}))).Must(t).Declaration
			if d.EnterpriseName != "" || d.TypeName != "Xuất sản phẩm gia công cho thương nhân nước ngoài" {
				t.Fatalf("declaration %v", d)
			}
		})
	})
}

func TestListFiltersAndPaging(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		var batch []*clearancev1.Event
		// Seven declarations registered a minute apart; odd ones imports (A11),
		// even ones exports (E52); the last three cleared in channel 1/2/3.
		for i := range 7 {
			num := fmt.Sprintf("30600000%04d", i)
			var edits []func(*clearancev1.Event)
			if i%2 == 1 {
				num = fmt.Sprintf("10600000%04d", i)
				edits = append(edits, imports("A11"))
			}
			batch = append(batch, ev(num, 1, kReg, time.Duration(i)*time.Minute, edits...))
			if i >= 4 {
				ch := fmt.Sprint(i - 3)
				batch = append(batch,
					ev(num, 2, kChannel, time.Duration(i)*time.Minute+time.Second, append(edits, channel(ch))...),
					ev(num, 3, kClear, time.Duration(i)*time.Minute+time.Hour, edits...))
			}
		}
		if res := e.push(t, batch...); res.Accepted != int32(len(batch)) {
			t.Fatalf("outcomes %v", outcomes(res))
		}
		staff := e.reader(t, stack.XnkStaff)
		list := func(req *clearancev1.ListDeclarationsRequest) []string {
			t.Helper()
			return numbers(testkit.Got(staff.ListDeclarations(ctx, connect.NewRequest(req))).Must(t).Declarations)
		}
		all := []string{"306000000006", "106000000005", "306000000004", "106000000003", "306000000002", "106000000001", "306000000000"}
		cases := []struct {
			name string
			req  *clearancev1.ListDeclarationsRequest
			want []string
		}{
			{"all, newest first", &clearancev1.ListDeclarationsRequest{}, all},
			{"status", &clearancev1.ListDeclarationsRequest{Statuses: []clearancev1.EventKind{kClear}}, all[:3]},
			{"statuses", &clearancev1.ListDeclarationsRequest{Statuses: []clearancev1.EventKind{kClear, kReg}}, all},
			{"channel", &clearancev1.ListDeclarationsRequest{Channel: "2"}, []string{"106000000005"}},
			{"imports", &clearancev1.ListDeclarationsRequest{Direction: clearancev1.Direction_DIRECTION_IMPORT},
				[]string{"106000000005", "106000000003", "106000000001"}},
			{"type", &clearancev1.ListDeclarationsRequest{TypeCode: "E52"},
				[]string{"306000000006", "306000000004", "306000000002", "306000000000"}},
			{"registered in a range", &clearancev1.ListDeclarationsRequest{
				RegisterAfter:  timestamppb.New(base.Add(2 * time.Minute)),
				RegisterBefore: timestamppb.New(base.Add(4 * time.Minute))}, []string{"106000000003", "306000000002"}},
			{"number prefix", &clearancev1.ListDeclarationsRequest{NumberPrefix: "1060"}, []string{"106000000005", "106000000003", "106000000001"}},
			{"full number", &clearancev1.ListDeclarationsRequest{NumberPrefix: "306000000004"}, []string{"306000000004"}},
			{"filters combine", &clearancev1.ListDeclarationsRequest{Direction: clearancev1.Direction_DIRECTION_EXPORT,
				Statuses: []clearancev1.EventKind{kClear}}, []string{"306000000006", "306000000004"}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				if got := list(c.req); !slices.Equal(got, c.want) {
					t.Fatalf("got %v, want %v", got, c.want)
				}
			})
		}
		t.Run("pages", func(t *testing.T) {
			var got []string
			token := ""
			for range 10 {
				res := testkit.Got(staff.ListDeclarations(ctx, connect.NewRequest(&clearancev1.ListDeclarationsRequest{
					PageSize: 3, PageToken: token}))).Must(t)
				got = append(got, numbers(res.Declarations)...)
				if token = res.NextPageToken; token == "" {
					break
				}
			}
			if !slices.Equal(got, all) {
				t.Fatalf("pages gave %v, want %v", got, all)
			}
		})
		bad := []struct {
			field string
			req   *clearancev1.ListDeclarationsRequest
		}{
			{"page_token", &clearancev1.ListDeclarationsRequest{PageToken: "!!"}},
			{"page_size", &clearancev1.ListDeclarationsRequest{PageSize: -1}},
			{"channel", &clearancev1.ListDeclarationsRequest{Channel: "green"}},
			{"type_code", &clearancev1.ListDeclarationsRequest{TypeCode: "Z99"}},
			{"number_prefix", &clearancev1.ListDeclarationsRequest{NumberPrefix: "30a"}},
			{"statuses", &clearancev1.ListDeclarationsRequest{Statuses: []clearancev1.EventKind{99}}},
			{"direction", &clearancev1.ListDeclarationsRequest{Direction: 7}},
			{"customs_office", &clearancev1.ListDeclarationsRequest{CustomsOffice: "DEMOCK1"}},
		}
		for _, b := range bad {
			t.Run("bad "+b.field, func(t *testing.T) {
				_, err := staff.ListDeclarations(ctx, connect.NewRequest(b.req))
				testkit.WantField(t, err, connect.CodeInvalidArgument, b.field)
			})
		}
		t.Run("types", func(t *testing.T) {
			types := testkit.Got(staff.ListDeclarationTypes(ctx, connect.NewRequest(&clearancev1.ListDeclarationTypesRequest{}))).Must(t).Types
			var codes []string
			for _, ty := range types {
				codes = append(codes, ty.Code)
			}
			for _, want := range []string{"A11", "A12", "A21", "A31", "A41", "A42", "E11", "E13", "E15", "E21", "E31", "E42", "E52", "E54", "G11", "G21", "B11"} {
				if !slices.Contains(codes, want) {
					t.Errorf("type %s missing", want)
				}
			}
		})
	})
}

func TestDeclarationsWaitForTheirEnterprise(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		tax := "010203040"
		tax += fmt.Sprint(taxcode.CheckDigit(tax))
		const num = "305000000777"
		e.push(t, ev(num, 1, kReg, 0, taxCode(tax)), ev(num, 2, kClear, time.Hour, taxCode(tax)))
		if n := e.statusEvents(t, num); n != 0 {
			t.Fatalf("%d notifications for an enterprise nobody has registered", n)
		}
		d := testkit.Got(e.reader(t, stack.Director).GetDeclaration(ctx,
			connect.NewRequest(&clearancev1.GetDeclarationRequest{Number: num}))).Must(t).Declaration
		if d.EnterpriseName != "" || d.Status != kClear {
			t.Fatalf("declaration %v", d)
		}

		// The enterprise registers and customs verifies it.
		anonID := stack.Client(e.Anon(), identityv1connect.NewIdentityServiceClient)
		reg := testkit.Got(anonID.RegisterEnterprise(ctx, connect.NewRequest(&identityv1.RegisterEnterpriseRequest{
			TaxCode: tax, EnterpriseName: "Công ty TNHH Đến Sau", AdminFullName: "Ngô Văn Mới",
			AdminEmail: "moi@densau.vn", Password: "densau-password-1",
		}))).Must(t)
		head := stack.Client(e.Login(t, stack.Head), identityv1connect.NewEnterpriseServiceClient)
		testkit.Got(head.VerifyEnterprise(ctx, connect.NewRequest(&identityv1.VerifyEnterpriseRequest{
			EnterpriseId: reg.Enterprise.Id}))).Must(t)

		u := e.LoginWith(t, "moi@densau.vn", "densau-password-1")
		r := stack.Client(u, clearancev1connect.NewClearanceServiceClient)
		got := numbers(testkit.Got(r.ListDeclarations(ctx, connect.NewRequest(&clearancev1.ListDeclarationsRequest{}))).Must(t).Declarations)
		if !slices.Equal(got, []string{num}) {
			t.Fatalf("the new enterprise lists %v", got)
		}
		// From now on its users are told.
		e.push(t, ev(num, 3, kGate, 2*time.Hour, taxCode(tax)))
		evs := e.Events(t, "clearance.status_changed")
		if len(evs) != 1 || !slices.Equal(evs[0].Notification.Audience.EnterpriseIDs, []string{reg.Enterprise.Id}) {
			t.Fatalf("events %+v", evs)
		}
	})
}

func TestClearanceStats(t *testing.T) {
	run(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		// Hand-computed groups:
		//   DEMOCK1 export channel 1: 100, 200, 400, 1000 s (one at 100.9 s,
		//   fractions dropped) → mean 425, median 300, p90 = 400 + 0.7 × 600 = 820
		//   DEMOCK1 export channel 2: released after 50 s, cleared after 500 s →
		//   counts 50
		//   DEMOKCN import channel 3: 3600, 7200 → mean 5400, median 5400,
		//   p90 = 3600 + 0.9 × 3600 = 6840
		// Not counted: not cleared, cancelled, registered outside the period,
		// no REGISTERED event.
		var batch []*clearancev1.Event
		n := 0
		decl := func(ofc, ch string, imp bool, regAt time.Duration, events ...func(num string, edits []func(*clearancev1.Event)) *clearancev1.Event) {
			n++
			num := fmt.Sprintf("30700000%04d", n)
			edits := []func(*clearancev1.Event){office(ofc), channel(ch)}
			if imp {
				num = fmt.Sprintf("10700000%04d", n)
				edits = append(edits, imports("A12"))
			}
			if regAt >= 0 {
				batch = append(batch, ev(num, 1, kReg, regAt, edits...))
			}
			for _, mk := range events {
				batch = append(batch, mk(num, edits))
			}
		}
		at := func(seq int64, kind clearancev1.EventKind, d time.Duration) func(string, []func(*clearancev1.Event)) *clearancev1.Event {
			return func(num string, edits []func(*clearancev1.Event)) *clearancev1.Event {
				return ev(num, seq, kind, d, edits...)
			}
		}
		h := time.Hour
		decl("DEMOCK1", "1", false, h, at(2, kChannel, h+10*time.Second), at(3, kClear, h+100*time.Second))
		decl("DEMOCK1", "1", false, 2*h, at(2, kClear, 2*h+200*time.Second))
		decl("DEMOCK1", "1", false, 3*h, at(2, kClear, 3*h+400*time.Second+900*time.Millisecond))
		decl("DEMOCK1", "1", false, 4*h, at(3, kClear, 4*h+1000*time.Second))
		decl("DEMOCK1", "2", false, 5*h, at(2, kRelease, 5*h+50*time.Second), at(3, kClear, 5*h+500*time.Second))
		decl("DEMOKCN", "3", true, 6*h, at(2, kClear, 6*h+3600*time.Second))
		decl("DEMOKCN", "3", true, 7*h, at(2, kClear, 7*h+7200*time.Second))
		decl("DEMOCK1", "1", false, 8*h, at(2, kDocs, 8*h+time.Minute))                                     // not cleared
		decl("DEMOCK1", "1", false, 9*h, at(2, kClear, 9*h+time.Minute), at(3, kCancel, 9*h+2*time.Minute)) // cancelled
		decl("DEMOCK1", "1", false, 40*h, at(2, kClear, 40*h+time.Minute))                                  // outside
		decl("DEMOCK1", "1", false, -1, at(2, kClear, 10*h))                                                // never registered
		if res := e.push(t, batch...); res.Accepted != int32(len(batch)) {
			t.Fatalf("outcomes %v", outcomes(res))
		}
		period := &clearancev1.ClearanceStatsRequest{StartTime: timestamppb.New(base), EndTime: timestamppb.New(base.Add(24 * h))}
		type g struct {
			office, channel          string
			dir                      clearancev1.Direction
			count, mean, median, p90 int64
		}
		ck1 := []g{
			{"DEMOCK1", "1", clearancev1.Direction_DIRECTION_EXPORT, 4, 425, 300, 820},
			{"DEMOCK1", "2", clearancev1.Direction_DIRECTION_EXPORT, 1, 50, 50, 50},
		}
		kcn := []g{{"DEMOKCN", "3", clearancev1.Direction_DIRECTION_IMPORT, 2, 5400, 5400, 6840}}
		stats := func(login string, req *clearancev1.ClearanceStatsRequest) ([]g, error) {
			res, err := e.reader(t, login).ClearanceStats(ctx, connect.NewRequest(req))
			if err != nil {
				return nil, err
			}
			var out []g
			for _, x := range res.Msg.Groups {
				out = append(out, g{x.CustomsOffice, x.Channel, x.Direction, x.Count, x.MeanSeconds, x.MedianSeconds, x.P90Seconds})
			}
			return out, nil
		}
		for _, c := range []struct {
			login string
			want  []g
		}{
			{stack.Director, append(slices.Clone(ck1), kcn...)},
			{stack.Head, ck1},
		} {
			t.Run(c.login, func(t *testing.T) {
				got, err := stats(c.login, period)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, c.want) {
					t.Fatalf("got  %v\nwant %v", got, c.want)
				}
			})
		}
		t.Run("one branch", func(t *testing.T) {
			req := &clearancev1.ClearanceStatsRequest{StartTime: period.StartTime, EndTime: period.EndTime, CustomsOffice: "DEMOKCN"}
			got, err := stats(stack.Director, req)
			if err != nil || !slices.Equal(got, kcn) {
				t.Fatalf("got %v %v", got, err)
			}
			// A branch head asking for another branch gets nothing.
			if got, err := stats(stack.Head, req); err != nil || len(got) != 0 {
				t.Fatalf("head got %v %v", got, err)
			}
		})
		t.Run("others may not", func(t *testing.T) {
			for _, login := range []string{stack.Officer, stack.Inspector, stack.XnkAdmin} {
				_, err := stats(login, period)
				testkit.WantCode(t, err, connect.CodePermissionDenied)
			}
		})
		t.Run("a period is required", func(t *testing.T) {
			_, err := stats(stack.Director, &clearancev1.ClearanceStatsRequest{EndTime: period.EndTime})
			testkit.WantField(t, err, connect.CodeInvalidArgument, "start_time")
			_, err = stats(stack.Director, &clearancev1.ClearanceStatsRequest{StartTime: period.EndTime, EndTime: period.StartTime})
			testkit.WantField(t, err, connect.CodeInvalidArgument, "end_time")
		})
	})
}
