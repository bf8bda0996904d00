package main

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	clearancev1 "hqconnect/gen/hqconnect/clearance/v1"
	"hqconnect/gen/hqconnect/clearance/v1/clearancev1connect"
	identityv1 "hqconnect/gen/hqconnect/identity/v1"
	"hqconnect/gen/hqconnect/identity/v1/identityv1connect"
	"hqconnect/internal/auth"
	"hqconnect/internal/ids"
	"hqconnect/internal/store"
	"hqconnect/internal/taxcode"
	"hqconnect/server/clearance"
	"hqconnect/server/identity"
)

// The clearance capability's benchmarks, on PostgreSQL and real Redis:
// sustained PushEvents ingest with the pipeline delivering every status
// change to the fake FCM, and ListDeclarations over 1,000,000 declarations.

const (
	benchIngestRate     = 1000 // events/s offered
	benchIngestFor      = 10 * time.Second
	benchIngestBatch    = 100 // events per PushEvents call
	benchIngestSenders  = 8   // concurrent PushEvents calls at most
	benchIngestEnts     = 500 // enterprises, one user with one device each
	benchEventsPerDecl  = 5   // REGISTERED, CHANNEL_ASSIGNED, DOCUMENT_CHECK, RELEASED, CLEARED
	benchDeclarations   = 1_000_000
	benchListConc       = 8
	benchListDuration   = 2 * time.Second
	benchBigEnterpriseN = 50_000 // declarations of demo enterprise A among the million
)

var benchKinds = []clearancev1.EventKind{
	clearancev1.EventKind_EVENT_KIND_REGISTERED, clearancev1.EventKind_EVENT_KIND_CHANNEL_ASSIGNED,
	clearancev1.EventKind_EVENT_KIND_DOCUMENT_CHECK, clearancev1.EventKind_EVENT_KIND_RELEASED,
	clearancev1.EventKind_EVENT_KIND_CLEARED,
}

// benchClearance measures declaration ingest and listing and returns its
// BENCHMARKS.md sections.
func benchClearance(ctx context.Context, e benchEnv) ([]string, error) {
	if e.PostgresURL == "" || e.RedisURL == "" {
		fmt.Fprintln(e.Stderr, "clearance: skipped (needs PostgreSQL and Redis)")
		return nil, nil
	}
	h, err := startClearanceBench(ctx, e)
	if err != nil {
		return nil, err
	}
	defer h.close()

	// Reads first, while the pipeline is idle; the million rows stay for
	// the ingest, which then writes into a table of realistic size.
	rows, loadTook, err := h.benchList(ctx, e)
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	// Baselines: a bare connect-go PushEvents handler that only decodes the
	// same batches, and raw Redis stream latency.
	bare, err := benchBarePush(ctx, e.Duration)
	if err != nil {
		return nil, fmt.Errorf("bare handler: %w", err)
	}
	rawRate, rawP99, err := benchRawStream(ctx, e.RedisURL, 20_000)
	if err != nil {
		return nil, fmt.Errorf("raw stream baseline: %w", err)
	}
	alone, err := h.benchIngestFlat(ctx, e.Duration, false)
	if err != nil {
		return nil, fmt.Errorf("ingest alone: %w", err)
	}
	fmt.Fprintf(e.Stderr, "clearance ingest alone: %.0f events/s (%s)\n", alone.RPS*benchIngestBatch, alone)
	ir, err := h.benchIngest(ctx)
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	fmt.Fprintf(e.Stderr, "clearance ingest: %d events offered at %d/s, accepted %.0f/s, pushed %.0f/s, commit→FCM p50 %v p99 %v max %v; PushEvents p99 %v\n",
		ir.Events, benchIngestRate, ir.acceptRate(), ir.pushRate(), ir.P50, ir.P99, ir.Max, ir.CallP99)
	flat, err := h.benchIngestFlat(ctx, e.Duration, true)
	if err != nil {
		return nil, fmt.Errorf("ingest flat out: %w", err)
	}
	fmt.Fprintf(e.Stderr, "clearance ingest flat out: %.0f events/s (%s)\n", flat.RPS*benchIngestBatch, flat)

	return []string{clearanceIngestSection(bare, rawRate, rawP99, ir, alone, flat, e.Duration), clearanceListSection(rows, loadTook)}, nil
}

type clearanceBench struct {
	m        *Main
	hc       *http.Client
	key      string
	bearer   map[string]string
	stop     []func()
	fakeMsgs func() []benchPush
	fakeWait func(ctx context.Context, n int) error
}

// benchPush is what the fake FCM received that the benchmark needs.
type benchPush struct {
	number, title string
	at            time.Time
}

func (h *clearanceBench) close() {
	for i := len(h.stop) - 1; i >= 0; i-- {
		h.stop[i]()
	}
}

// startClearanceBench runs the whole server (serve with workers) on a
// scratch PostgreSQL database and real Redis with pushes to a fake FCM,
// seeds the demo accounts and benchIngestEnts enterprises with one device
// each, and makes an API key.
func startClearanceBench(ctx context.Context, e benchEnv) (h *clearanceBench, err error) {
	h = &clearanceBench{bearer: map[string]string{}}
	defer func() {
		if err != nil {
			h.close()
		}
	}()
	fake, fcmURL, stopFake, err := fakeFCM(0)
	if err != nil {
		return nil, err
	}
	h.stop = append(h.stop, stopFake)
	fake.SetKeepMessages(true)
	h.fakeMsgs = func() []benchPush {
		var out []benchPush
		for _, m := range fake.Messages() {
			out = append(out, benchPush{number: m.Data["id"], title: m.Title, at: m.Received})
		}
		return out
	}
	h.fakeWait = fake.WaitForCount

	tmp, err := os.MkdirTemp("", "hqbench-clearance")
	if err != nil {
		return nil, err
	}
	h.stop = append(h.stop, func() { os.RemoveAll(tmp) })
	dbURL, drop, err := scratchDatabase(ctx, e.PostgresURL)
	if err != nil {
		return nil, err
	}
	h.stop = append(h.stop, drop)
	prefix := "hqbench:" + ids.Secret(6) + ":"
	c, err := parseConfig("serve", nil, func(string) string { return "" }, nil)
	if err != nil {
		return nil, err
	}
	c.Addr, c.VarDir, c.DatabaseURL, c.RedisURL, c.RedisPrefix, c.LogLevel, c.FCMEndpoint =
		"127.0.0.1:0", tmp, dbURL, e.RedisURL, prefix, "warn", fcmURL
	m := &Main{Config: c, Log: e.Log, Serve: true}
	if err := m.Open(ctx); err != nil {
		return nil, err
	}
	h.m = m
	h.stop = append(h.stop, m.Close)
	h.stop = append(h.stop, func() { cleanupPrefix(m.Redis, prefix) })

	const password = "bench-password-1"
	if _, err := identity.SeedDemo(ctx, m.DB, password); err != nil {
		return nil, err
	}
	if err := seedBenchEnterprises(ctx, m.DB, benchIngestEnts); err != nil {
		return nil, fmt.Errorf("seed enterprises: %w", err)
	}
	_, key, err := clearance.CreateAPIKey(auth.WithPrincipal(ctx, nil), m.DB, "bench gateway")
	if err != nil {
		return nil, err
	}
	h.key = "Bearer " + key

	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- m.Run(runCtx) }()
	h.stop = append(h.stop, func() { cancel(); <-done })

	h.hc = benchHTTPClient(32)
	ic := identityv1connect.NewIdentityServiceClient(h.hc, "http://"+m.Addr())
	for _, login := range []string{"staff@xnk.demo.vn", "head@demo.hqconnect.vn", "director@demo.hqconnect.vn"} {
		res, err := ic.Login(ctx, connect.NewRequest(&identityv1.LoginRequest{Identifier: login, Password: password}))
		if err != nil {
			return nil, fmt.Errorf("login %s: %w", login, err)
		}
		h.bearer[login] = "Bearer " + res.Msg.GetTokens().GetAccessToken()
	}
	return h, nil
}

// benchTaxCode is the i-th valid tax code of a series that no demo
// enterprise uses.
func benchTaxCode(i int) string {
	for k := range 10 {
		nine := fmt.Sprintf("2%07d%d", i, k)
		if d := taxcode.CheckDigit(nine); d >= 0 {
			return nine + strconv.Itoa(d)
		}
	}
	panic("no valid tax code for " + strconv.Itoa(i))
}

// seedBenchEnterprises adds n verified enterprises (tax codes
// benchTaxCode(0…n-1)) with one enterprise user and one Android device each.
func seedBenchEnterprises(ctx context.Context, db *store.DB, n int) error {
	now := store.Now()
	return db.Tx(ctx, func(tx *sql.Tx) error {
		for i := range n {
			entID, userID := ids.New(), ids.New()
			if _, err := tx.ExecContext(ctx, `INSERT INTO enterprises (id, tax_code, name, status, create_time)
				VALUES ($1, $2, $3, 'VERIFIED', $4)`, entID, benchTaxCode(i), "Bench "+strconv.Itoa(i), now); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO users (id, kind, email, full_name, password_hash, status,
				enterprise_id, create_time, update_time) VALUES ($1, 'enterprise_user', $2, 'Bench', 'x', 'ACTIVE', $3, $4, $4)`,
				userID, "c"+strconv.Itoa(i)+"@bench.vn", entID, now); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO devices (fcm_token, user_id, session_id, platform, locale,
				create_time, update_time) VALUES ($1, $2, 'bench', 'ANDROID', 'vi', $3, $3)`,
				"ctok-"+strconv.Itoa(i), userID, now); err != nil {
				return err
			}
		}
		return nil
	})
}

// benchEvent is event seq (1…benchEventsPerDecl) of declaration d of the
// ingest benchmark, for enterprise d % benchIngestEnts.
func benchEvent(d, seq int, at time.Time) *clearancev1.Event {
	ev := &clearancev1.Event{
		DeclarationNumber: fmt.Sprintf("30%010d", d), Sequence: int64(seq), TaxCode: benchTaxCode(d % benchIngestEnts),
		TypeCode: "E52", CustomsOffice: "DEMOCK1", Direction: clearancev1.Direction_DIRECTION_EXPORT,
		Kind: benchKinds[seq-1], EventTime: timestamppb.New(at),
	}
	if ev.Kind == clearancev1.EventKind_EVENT_KIND_CHANNEL_ASSIGNED {
		ev.Channel = strconv.Itoa(1 + d%3)
	}
	return ev
}

// ingestBatch is batch k of the schedule: one event of each of
// benchIngestBatch declarations, every declaration's events in order over
// benchEventsPerDecl consecutive batches. Every event changes its
// declaration's status, so every event is one push.
func ingestBatch(k int, at time.Time) *clearancev1.PushEventsRequest {
	block, seq := k/benchEventsPerDecl, k%benchEventsPerDecl+1
	req := &clearancev1.PushEventsRequest{Events: make([]*clearancev1.Event, benchIngestBatch)}
	for i := range benchIngestBatch {
		req.Events[i] = benchEvent(block*benchIngestBatch+i, seq, at)
	}
	return req
}

type ingestResult struct {
	Events, Accepted, Pushed int
	Offering, Took           time.Duration
	P50, P99, Max            time.Duration
	CallP50, CallP99         time.Duration
}

// missing says how many pushes had not arrived 15 s after the last
// commit, if any.
func (r ingestResult) missing() string {
	if r.Pushed >= r.Accepted {
		return ""
	}
	return fmt.Sprintf(" **%d of the %d pushes had not reached the fake FCM 15 s after the last commit**; the "+
		"latencies are those of the pushes that had.", r.Accepted-r.Pushed, r.Accepted)
}

func (r ingestResult) acceptRate() float64 { return float64(r.Accepted) / r.Offering.Seconds() }
func (r ingestResult) pushRate() float64   { return float64(r.Pushed) / r.Took.Seconds() }

// benchIngest offers benchIngestRate events/s for benchIngestFor in batches
// of benchIngestBatch and measures, per event, the time from its PushEvents
// call returning (its transaction has committed) to the fake FCM receiving
// its push.
func (h *clearanceBench) benchIngest(ctx context.Context) (res ingestResult, err error) {
	ingest := clearancev1connect.NewClearanceIngestServiceClient(h.hc, "http://"+h.m.Addr())
	batches := benchIngestRate * int(benchIngestFor/time.Second) / benchIngestBatch
	batches -= batches % benchEventsPerDecl
	type key struct{ number, status string }
	committed := map[key]time.Time{}
	var calls []time.Duration
	var mu sync.Mutex
	var firstErr error
	jobs := make(chan int)
	var wg sync.WaitGroup
	evAt := time.Now().Add(-time.Hour)
	for range benchIngestSenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range jobs {
				req := connect.NewRequest(ingestBatch(k, evAt.Add(time.Duration(k)*time.Millisecond)))
				req.Header().Set("Authorization", h.key)
				t0 := time.Now()
				r, err := ingest.PushEvents(ctx, req)
				done := time.Now()
				mu.Lock()
				calls = append(calls, done.Sub(t0))
				switch {
				case err != nil:
					if firstErr == nil {
						firstErr = err
					}
				case r.Msg.Accepted != benchIngestBatch:
					if firstErr == nil {
						firstErr = fmt.Errorf("batch %d: %d of %d accepted: %v", k, r.Msg.Accepted, benchIngestBatch, r.Msg.Results[0])
					}
				default:
					res.Accepted += int(r.Msg.Accepted)
					for _, ev := range req.Msg.Events {
						committed[key{ev.DeclarationNumber, benchTitle(ev)}] = done
					}
				}
				mu.Unlock()
			}
		}()
	}
	start := time.Now()
	every := time.Second * benchIngestBatch / benchIngestRate
	for k := range batches {
		if wait := time.Until(start.Add(time.Duration(k) * every)); wait > 0 {
			time.Sleep(wait)
		}
		jobs <- k
	}
	close(jobs)
	wg.Wait()
	res.Offering = time.Since(start)
	res.Events = batches * benchIngestBatch
	if firstErr != nil {
		return res, firstErr
	}
	// Pushes still missing 15 s after the last commit are reported as such
	// rather than waited for.
	wctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	_ = h.fakeWait(wctx, len(committed))
	var lat []time.Duration
	var last time.Time
	for _, p := range h.fakeMsgs() {
		if t, ok := committed[key{p.number, p.title}]; ok {
			lat = append(lat, p.at.Sub(t))
			if p.at.After(last) {
				last = p.at
			}
		}
	}
	slices.Sort(lat)
	slices.Sort(calls)
	res.Pushed, res.Took = len(lat), last.Sub(start)
	if len(lat) > 0 {
		res.P50, res.P99, res.Max = lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*99/100)], lat[len(lat)-1]
	}
	if len(calls) > 0 {
		res.CallP50, res.CallP99 = calls[len(calls)/2], calls[min(len(calls)-1, len(calls)*99/100)]
	}
	return res, nil
}

// benchTitle is the Vietnamese push title of ev, as the service words it.
func benchTitle(ev *clearancev1.Event) string {
	vi := map[clearancev1.EventKind]string{
		clearancev1.EventKind_EVENT_KIND_REGISTERED:     "đã đăng ký",
		clearancev1.EventKind_EVENT_KIND_DOCUMENT_CHECK: "đang kiểm tra hồ sơ",
		clearancev1.EventKind_EVENT_KIND_RELEASED:       "đã giải phóng hàng",
		clearancev1.EventKind_EVENT_KIND_CLEARED:        "đã thông quan",
	}[ev.Kind]
	if ev.Kind == clearancev1.EventKind_EVENT_KIND_CHANNEL_ASSIGNED {
		vi = map[string]string{"1": "được phân luồng xanh", "2": "được phân luồng vàng", "3": "được phân luồng đỏ"}[ev.Channel]
	}
	return "Tờ khai " + ev.DeclarationNumber + ": " + vi
}

// benchIngestFlat pushes batches of new declarations as fast as 8 callers
// can for d, the pipeline running beside: the ingest's capacity.
//
// With registered false the declarations are of tax codes no enterprise has
// registered: no outbox rows, no pushes — the ingest alone.
func (h *clearanceBench) benchIngestFlat(ctx context.Context, d time.Duration, registered bool) (loadResult, error) {
	ingest := clearancev1connect.NewClearanceIngestServiceClient(h.hc, "http://"+h.m.Addr())
	var next atomicCounter
	at := time.Now().Add(-time.Hour)
	offset := 5_000_000 // declaration numbers the paced run did not use
	if !registered {
		offset = 7_000_000
	}
	res := load(ctx, benchIngestSenders, d, func(ctx context.Context) error {
		k := next.add()
		req := &clearancev1.PushEventsRequest{Events: make([]*clearancev1.Event, benchIngestBatch)}
		for i := range benchIngestBatch {
			req.Events[i] = benchEvent(offset+k*benchIngestBatch+i, 1, at)
			if !registered {
				req.Events[i].TaxCode = benchTaxCode(100_000 + i)
			}
		}
		r := connect.NewRequest(req)
		r.Header().Set("Authorization", h.key)
		out, err := ingest.PushEvents(ctx, r)
		if err == nil && out.Msg.Accepted != benchIngestBatch {
			err = fmt.Errorf("%d accepted", out.Msg.Accepted)
		}
		return err
	})
	if res.Errors > 0 {
		return res, fmt.Errorf("%d errors: %w", res.Errors, res.FirstErr)
	}
	return res, nil
}

// barePush only decodes the request and answers.
type barePush struct {
	clearancev1connect.UnimplementedClearanceIngestServiceHandler
}

func (barePush) PushEvents(_ context.Context, req *connect.Request[clearancev1.PushEventsRequest]) (*connect.Response[clearancev1.PushEventsResponse], error) {
	res := &clearancev1.PushEventsResponse{Results: make([]*clearancev1.EventResult, len(req.Msg.Events))}
	for i := range res.Results {
		res.Results[i] = &clearancev1.EventResult{Index: int32(i), Outcome: clearancev1.Outcome_OUTCOME_ACCEPTED}
	}
	res.Accepted = int32(len(res.Results))
	return connect.NewResponse(res), nil
}

// benchBarePush serves the bare handler with no interceptors and loads it
// with the same batches and callers as benchIngestFlat.
func benchBarePush(ctx context.Context, d time.Duration) (loadResult, error) {
	mux := http.NewServeMux()
	mux.Handle(clearancev1connect.NewClearanceIngestServiceHandler(barePush{}, connect.WithCompressMinBytes(1024)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return loadResult{}, err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	c := clearancev1connect.NewClearanceIngestServiceClient(benchHTTPClient(benchIngestSenders), "http://"+ln.Addr().String())
	var next atomicCounter
	at := time.Now().Add(-time.Hour)
	res := load(ctx, benchIngestSenders, d, func(ctx context.Context) error {
		k := next.add()
		req := &clearancev1.PushEventsRequest{Events: make([]*clearancev1.Event, benchIngestBatch)}
		for i := range benchIngestBatch {
			req.Events[i] = benchEvent(k*benchIngestBatch+i, 1, at)
		}
		_, err := c.PushEvents(ctx, connect.NewRequest(req))
		return err
	})
	if res.Errors > 0 {
		return res, res.FirstErr
	}
	return res, nil
}

func clearanceIngestSection(bare loadResult, rawRate float64, rawP99 time.Duration, ir ingestResult, alone, flat loadResult, d time.Duration) string {
	return fmt.Sprintf(`## Declaration events: PushEvents → FCM

Target: 1,000 declaration events/s ingested and pushed end to end with p99 < 1 s. `+"`hqconnect serve`"+` (workers on)
runs on a scratch PostgreSQL database and the real Redis, with pushes to an in-process fake FCM. A system client
sends batches of %d events (one event each of %d declarations of %d enterprises; every event moves its
declaration's status on, so every event is one push to the one device of its enterprise's user) at a fixed rate
from up to %d concurrent calls, into the declarations table that already holds the million rows of the listing
benchmark below. Each batch is one transaction: the events, the declarations they change and one
outbox event per change. Latency is from the PushEvents call returning (its transaction committed) to the fake
FCM receiving that event's push, through relay, Redis Stream, worker (inbox row, live publish, push record) and
the real FCM SDK.

| what | events | offered/s | accepted/s | pushed/s | p50 | p99 | max |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
| raw XADD → XREADGROUP → XACK on the same Redis (latency baseline) | 20000 | — | — | %.0f | — | %v | — |
| PushEvents, PostgreSQL + Redis + fake FCM | %d | %d | %.0f | %.0f | %v | %v | %v |

PushEvents calls of that run took p50 %v, p99 %v (%d events each).%s

Ingest capacity, %d callers sending batches of %d new declarations as fast as they can for %v each:

| what | calls/s | events/s | p50 | p99 |
| --- | ---: | ---: | ---: | ---: |
| bare connect-go PushEvents handler that only decodes the batch (baseline) | %.0f | %.0f | %v | %v |
| PushEvents, full stack, PostgreSQL: unregistered tax codes (no outbox rows, pipeline idle; before the run above) | %.0f | %.0f | %v | %v |
| PushEvents, full stack, PostgreSQL: registered enterprises (an outbox row per event; the pipeline delivering beside, after the run above) | %.0f | %.0f | %v | %v |
`, benchIngestBatch, benchIngestBatch, benchIngestEnts, benchIngestSenders,
		rawRate, rawP99.Round(time.Millisecond),
		ir.Events, benchIngestRate, ir.acceptRate(), ir.pushRate(), ir.P50.Round(time.Millisecond), ir.P99.Round(time.Millisecond), ir.Max.Round(time.Millisecond),
		ir.CallP50.Round(time.Millisecond), ir.CallP99.Round(time.Millisecond), benchIngestBatch, ir.missing(),
		benchIngestSenders, benchIngestBatch, d,
		bare.RPS, bare.RPS*benchIngestBatch, bare.P50.Round(time.Microsecond), bare.P99.Round(time.Microsecond),
		alone.RPS, alone.RPS*benchIngestBatch, alone.P50.Round(time.Microsecond), alone.P99.Round(time.Microsecond),
		flat.RPS, flat.RPS*benchIngestBatch, flat.P50.Round(time.Microsecond), flat.P99.Round(time.Microsecond))
}

type listBenchRow struct {
	what string
	res  loadResult
}

// benchList bulk-loads benchDeclarations declarations (COPY) into the
// bench database and loads ListDeclarations for several callers and filters,
// beside ListDeclarationTypes (the same stack and caller, no SQL) as the
// baseline.
func (h *clearanceBench) benchList(ctx context.Context, e benchEnv) ([]listBenchRow, time.Duration, error) {
	db := h.m.DB
	t0 := time.Now()
	r := rand.New(rand.NewPCG(5, 38))
	start := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)
	span := int64(3 * 365 * 24 * time.Hour / time.Second)
	statuses := []string{"REGISTERED", "CHANNEL_ASSIGNED", "DOCUMENT_CHECK", "PHYSICAL_INSPECTION", "RELEASED", "CLEARED",
		"CLEARED", "CLEARED", "CLEARED", "PASSED_SUPERVISION_AREA"}
	now := store.Now()
	// COPY into the bare table, then build its indexes as the migration
	// declares them: much faster than maintaining them row by row.
	indexDefs, err := columnStrings(ctx, db, `SELECT indexdef FROM pg_indexes
		WHERE tablename = 'declarations' AND schemaname = current_schema() AND indexname <> 'declarations_pkey'`)
	if err != nil {
		return nil, 0, err
	}
	for _, def := range indexDefs {
		name := strings.Fields(def)[2] // CREATE INDEX <name> ON …
		if _, err := db.ExecContext(ctx, "DROP INDEX "+name); err != nil {
			return nil, 0, fmt.Errorf("drop index %s: %w", name, err)
		}
	}
	cols := []string{"number", "tax_code", "type_code", "customs_office", "direction", "status", "status_seq", "status_time",
		"channel", "channel_seq", "register_time", "registered", "clear_time", "create_time", "update_time"}
	err = bulkInsert(ctx, db, "declarations", cols, benchDeclarations, func(i int) []any {
		tax := benchTaxCode(10_000 + r.IntN(20_000)) // unregistered enterprises mostly
		if i%(benchDeclarations/benchBigEnterpriseN) == 0 {
			tax = "0100109106" // demo enterprise A: 5 % of the rows
		}
		office := "DEMOCK1"
		if r.IntN(2) == 0 {
			office = "DEMOKCN"
		}
		typ, dir, num := "E52", "EXPORT", fmt.Sprintf("39%010d", i) // the ingest run used 30…
		if i%2 == 1 {
			typ, dir, num = "A11", "IMPORT", fmt.Sprintf("1%011d", i)
		}
		reg := start.Add(time.Duration(r.Int64N(span)) * time.Second)
		st := statuses[r.IntN(len(statuses))]
		var clearAt any
		if st == "CLEARED" || st == "PASSED_SUPERVISION_AREA" || st == "RELEASED" {
			clearAt = reg.Add(time.Duration(600+r.IntN(86_400)) * time.Second)
		}
		return []any{num, tax, typ, office, dir, st, 5, reg.Add(time.Hour), strconv.Itoa(1 + r.IntN(3)), 2,
			reg, true, clearAt, now, now}
	})
	if err != nil {
		return nil, 0, fmt.Errorf("bulk load: %w", err)
	}
	for _, def := range indexDefs {
		if _, err := db.ExecContext(ctx, def); err != nil {
			return nil, 0, fmt.Errorf("rebuild index: %w", err)
		}
	}
	if err := analyze(ctx, db, "declarations"); err != nil {
		return nil, 0, err
	}
	loadTook := time.Since(t0)
	fmt.Fprintf(e.Stderr, "clearance: %d declarations loaded in %v\n", benchDeclarations, loadTook.Round(time.Millisecond))

	c := clearancev1connect.NewClearanceServiceClient(h.hc, "http://"+h.m.Addr())
	staff, head, director := h.bearer["staff@xnk.demo.vn"], h.bearer["head@demo.hqconnect.vn"], h.bearer["director@demo.hqconnect.vn"]
	// A token from deep in the enterprise's list: the 21st page.
	deep := ""
	for range 20 {
		res, err := c.ListDeclarations(ctx, authed(staff, &clearancev1.ListDeclarationsRequest{PageToken: deep}))
		if err != nil {
			return nil, 0, err
		}
		deep = res.Msg.NextPageToken
	}
	year := timestamppb.New(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	yearEnd := timestamppb.New(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	cases := []struct {
		what   string
		bearer string
		req    *clearancev1.ListDeclarationsRequest
	}{
		{"ListDeclarationTypes: same stack and caller, no SQL (baseline)", staff, nil},
		{"enterprise (50,000 of its own): first page of 50", staff, &clearancev1.ListDeclarationsRequest{}},
		{"enterprise: page 21 (page_token)", staff, &clearancev1.ListDeclarationsRequest{PageToken: deep}},
		{"enterprise: CLEARED in 2024, red channel", staff, &clearancev1.ListDeclarationsRequest{
			Statuses: []clearancev1.EventKind{clearancev1.EventKind_EVENT_KIND_CLEARED}, Channel: "3",
			RegisterAfter: year, RegisterBefore: yearEnd}},
		{"branch head (≈500,000 in the branch): first page", head, &clearancev1.ListDeclarationsRequest{}},
		{"branch head: imports, type A11, RELEASED", head, &clearancev1.ListDeclarationsRequest{
			Direction: clearancev1.Direction_DIRECTION_IMPORT, TypeCode: "A11",
			Statuses: []clearancev1.EventKind{clearancev1.EventKind_EVENT_KIND_RELEASED}}},
		{"director (all 1,000,000): number prefix 10000012", director, &clearancev1.ListDeclarationsRequest{NumberPrefix: "10000012"}},
		{"director: first page of 200", director, &clearancev1.ListDeclarationsRequest{PageSize: 200}},
	}
	var rows []listBenchRow
	for _, cs := range cases {
		res := load(ctx, benchListConc, benchListDuration, func(ctx context.Context) error {
			if cs.req == nil {
				_, err := c.ListDeclarationTypes(ctx, authed(cs.bearer, &clearancev1.ListDeclarationTypesRequest{}))
				return err
			}
			out, err := c.ListDeclarations(ctx, authed(cs.bearer, cs.req))
			if err == nil && len(out.Msg.Declarations) == 0 {
				err = fmt.Errorf("%s: empty page", cs.what)
			}
			return err
		})
		if res.Errors > 0 {
			return nil, 0, fmt.Errorf("%s: %d errors: %w", cs.what, res.Errors, res.FirstErr)
		}
		fmt.Fprintf(e.Stderr, "clearance list: %s: %s\n", cs.what, res)
		rows = append(rows, listBenchRow{cs.what, res})
	}
	return rows, loadTook, nil
}

func clearanceListSection(rows []listBenchRow, loadTook time.Duration) string {
	var b []byte
	b = fmt.Appendf(b, `## ListDeclarations over 1,000,000 declarations

Target: p99 < 50 ms. %d declarations bulk-loaded with COPY into the scratch PostgreSQL database (%v with the
indexes and VACUUM ANALYZE), over three years and two branches, 5 %% of them of demo enterprise A; %d callers
for %v per row through the full server (JWT, session check, authorization, the caller's scope read, the query
joining declaration types and enterprises), newest registration first, before the ingest benchmark above (the
pipeline idle).

| what | calls/s | p50 | p99 |
| --- | ---: | ---: | ---: |
`, benchDeclarations, loadTook.Round(time.Second), benchListConc, benchListDuration)
	for _, r := range rows {
		b = fmt.Appendf(b, "| %s | %.0f | %v | %v |\n", r.what, r.res.RPS, r.res.P50.Round(time.Microsecond), r.res.P99.Round(time.Microsecond))
	}
	return string(b)
}
