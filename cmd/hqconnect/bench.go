package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/emptypb"

	identityv1 "hqconnect/gen/hqconnect/identity/v1"
	"hqconnect/gen/hqconnect/identity/v1/identityv1connect"
	"hqconnect/internal/ids"
	"hqconnect/server"
	"hqconnect/server/identity"
)

// bench measures the server against a bare baseline run on the same machine
// in the same process, and writes the figures as Markdown. `make bench` runs
// it; nothing here is a pass/fail test.
func bench(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("hqconnect bench", flag.ContinueOnError)
	out := fs.String("out", "BENCHMARKS.md", "Markdown file to write")
	dur := fs.Duration("duration", 5*time.Second, "how long each load runs")
	conc := fs.Int("concurrency", 32, "concurrent callers")
	pgURL := fs.String("postgres", envOr(getenv, "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "BENCH_POSTGRES_URL"),
		"PostgreSQL server to create a scratch database on; empty to skip (env BENCH_POSTGRES_URL)")
	redisURL := fs.String("redis", envOr(getenv, "redis://127.0.0.1:6379/0", "BENCH_REDIS_URL"),
		"Redis to use under a scratch key prefix; empty to skip (env BENCH_REDIS_URL)")
	pipeRate := fs.Int("pipeline-rate", 1000, "events/s offered to the pipeline benchmark (PostgreSQL + Redis); 0 to skip")
	pipeDur := fs.Duration("pipeline-duration", 10*time.Second, "how long events are offered")
	streams := fs.Int("streams", 10_000, "idle WatchUpdates streams for the memory benchmark (needs Redis); 0 to skip")
	fanout := fs.Int("fanout", 100_000, "device tokens for the notice fan-out benchmark; 0 to skip")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	only := fs.String("only", "", "run only these parts, comma-separated: stack, pipeline, streams, fanout, issues, clearance (default all)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	want := func(part string) bool { return *only == "" || slices.Contains(strings.Split(*only, ","), part) }
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	r := &benchReport{Duration: *dur, Concurrency: *conc}

	base, err := benchBarePing(ctx, *dur, *conc)
	if err != nil {
		return fmt.Errorf("baseline: %w", err)
	}
	r.add("bare connect-go ping handler (baseline)", "-", base)
	fmt.Fprintf(stderr, "baseline: %s\n", base)

	type backend struct{ name, db, redis string }
	backends := []backend{{name: "SQLite + in-process Redis"}}
	if *pgURL != "" && *redisURL != "" {
		backends = append(backends, backend{"PostgreSQL + Redis", *pgURL, *redisURL})
	}
	for _, b := range backends {
		if !want("stack") {
			break
		}
		getMe, authPing, err := benchServer(ctx, log, b.db, b.redis, *dur, *conc)
		if err != nil {
			fmt.Fprintf(stderr, "%s: skipped: %v\n", b.name, err)
			r.Notes = append(r.Notes, fmt.Sprintf("%s skipped: %v", b.name, err))
			continue
		}
		r.add("the same ping behind the full stack, authenticated (JWT + session check, authz, logging, metrics)", b.name, authPing)
		r.add("authenticated GetMe (the above + 2 SQL reads: user with roles, unit or enterprise)", b.name, getMe)
		fmt.Fprintf(stderr, "on %s: authenticated ping %s (%.0f%%); GetMe %s (%.0f%%)\n", b.name,
			authPing, 100*authPing.RPS/base.RPS, getMe, 100*getMe.RPS/base.RPS)
	}
	if want("pipeline") && *pgURL != "" && *redisURL != "" && *pipeRate > 0 {
		rawRate, rawP99, err := benchRawStream(ctx, *redisURL, 20_000)
		if err != nil {
			return fmt.Errorf("raw stream baseline: %w", err)
		}
		pr, err := benchPipeline(ctx, log, *pgURL, *redisURL, *pipeRate, *pipeDur)
		if err != nil {
			return fmt.Errorf("pipeline: %w", err)
		}
		fmt.Fprintf(stderr, "pipeline: committing took %v; ", pr.Offering.Round(time.Millisecond))
		fmt.Fprintf(stderr, "pipeline: %d events offered at %d/s, %.0f/s delivered, commit→FCM p50 %v p99 %v max %v; raw stream %.0f/s p99 %v\n",
			pr.Events, pr.Rate, pr.throughput(), pr.P50, pr.P99, pr.Max, rawRate, rawP99)
		r.Sections = append(r.Sections, fmt.Sprintf(`## Events end to end: commit → FCM request

Target: 1,000 events/s ingested and pushed end to end with p99 < 1 s. Each event is its own SQL transaction
(outbox.Add, as a capability's change), offered at a fixed rate by 16 writers, for one of 1,000 enterprise users
with one Android device; it goes through the relay, the Redis Stream, a worker (inbox row, live publish,
push_deliveries) and the real FCM SDK to the fake FCM server. Latency is from the commit returning to the fake
receiving the request. PostgreSQL and Redis run on the same two cores.

| what | events | offered/s | committed/s | delivered/s | p50 | p99 | max |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
| raw XADD → XREADGROUP → XACK on the same Redis, 16 writers and 16 readers (baseline) | 20000 | — | — | %.0f | — | %v | — |
| hqconnect pipeline, PostgreSQL + Redis + fake FCM | %d | %d | %.0f | %.0f | %v | %v | %v |

"committed/s" is the rate the 16 writers actually achieved: when it is below the offered rate, the machine's two
cores (the writers, PostgreSQL, Redis, the pipeline, the FCM SDK and the fake FCM all share them) were saturated
before the pipeline was, and "delivered/s" can only follow it.
`, rawRate, rawP99.Round(time.Millisecond), pr.Events, pr.Rate, float64(pr.Events)/pr.Offering.Seconds(), pr.throughput(),
			pr.P50.Round(time.Millisecond), pr.P99.Round(time.Millisecond), pr.Max.Round(time.Millisecond)))
	}
	if want("streams") && *streams > 0 && *redisURL != "" {
		sr, err := benchStreams(ctx, *redisURL, *streams)
		if err != nil {
			return fmt.Errorf("streams: %w", err)
		}
		per := float64(sr.RSSAfter-sr.RSSBefore) / float64(sr.Streams)
		fmt.Fprintf(stderr, "streams: %d open in %v; RSS %d MiB → %d MiB (%.1f KiB per stream)\n",
			sr.Streams, sr.Took.Round(time.Millisecond), sr.RSSBefore>>20, sr.RSSAfter>>20, per/1024)
		r.Sections = append(r.Sections, fmt.Sprintf(`## Idle WatchUpdates streams on one instance

Target: 10,000 concurrent streams on one instance in < 1 GiB. `+"`hqconnect serve`"+` runs as a child process (SQLite,
real Redis, workers on); the benchmark opens one stream per distinct user over h2c and reads the child's
resident memory from /proc before and after. The baseline is the same process with no stream open.

| what | streams | resident memory | Go heap in use | goroutines |
| --- | ---: | ---: | ---: | ---: |
| idle server (baseline) | 0 | %d MiB | %.0f MiB | %.0f |
| with the streams open | %d | %d MiB | %.0f MiB | %.0f |

Per stream: %.1f KiB of resident memory.
`, sr.RSSBefore>>20, sr.HeapBefore/(1<<20), sr.Goroutines[0], sr.Streams, sr.RSSAfter>>20, sr.HeapAfter/(1<<20),
			sr.Goroutines[1], per/1024))
	}
	if want("fanout") && *fanout > 0 {
		sdk, raw, topicReqs, err := benchFanout(ctx, *fanout)
		if err != nil {
			return fmt.Errorf("fan-out: %w", err)
		}
		fmt.Fprintf(stderr, "fan-out to %d tokens: SDK %v (%.0f/s), plain HTTP %v (%.0f/s), topic send %d request(s)\n",
			sdk.Tokens, sdk.Took.Round(time.Millisecond), sdk.rate(), raw.Took.Round(time.Millisecond), raw.rate(), topicReqs)
		r.Sections = append(r.Sections, fmt.Sprintf(`## A notice to %d devices

Target: handed to FCM in < 10 s when sent to tokens; one request per topic when sent to topics. The fake FCM
server runs in the same process on loopback and answers at once, so both rows measure this machine's CPU: the
SDK's JSON and HTTP work on one side and the fake's on the other, sharing two cores.

| what | tokens | requests | took | tokens/s |
| --- | ---: | ---: | ---: | ---: |
| plain net/http POSTs of minimal messages, 200 at a time (baseline) | %d | %d | %v | %.0f |
| fcm.FCMSender through firebase.google.com/go/v4 (chunks of 500, 4 × 50 in flight) | %d | %d | %v | %.0f |
| the same notice to one FCM topic | — | %d | — | — |
`, *fanout, raw.Tokens, raw.Requests, raw.Took.Round(time.Millisecond), raw.rate(),
			sdk.Tokens, sdk.Requests, sdk.Took.Round(time.Millisecond), sdk.rate(), topicReqs))
	}
	be := benchEnv{Log: log, PostgresURL: *pgURL, RedisURL: *redisURL, Stderr: stderr, Duration: *dur, Concurrency: *conc}
	for _, c := range []struct {
		name string
		run  func(context.Context, benchEnv) ([]string, error)
	}{{"issues", benchIssues}, {"clearance", benchClearance}} {
		if !want(c.name) {
			continue
		}
		sections, err := c.run(ctx, be)
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		r.Sections = append(r.Sections, sections...)
	}
	if err := os.WriteFile(*out, []byte(r.markdown(base)), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", *out)
	return nil
}

// benchEnv is what a capability's benchmarks are given. PostgresURL and
// RedisURL are empty when those servers are to be skipped.
type benchEnv struct {
	Log                   *slog.Logger
	PostgresURL, RedisURL string
	Stderr                io.Writer
	Duration              time.Duration
	Concurrency           int
}

// loadResult is what one load run measured.
type loadResult struct {
	Calls, Errors int
	RPS           float64
	P50, P99      time.Duration
	FirstErr      error
}

func (l loadResult) String() string {
	return fmt.Sprintf("%.0f calls/s, p50 %v, p99 %v, %d errors", l.RPS, l.P50, l.P99, l.Errors)
}

// load runs call from conc goroutines for d and measures throughput and
// latency percentiles. Calls in flight when d ends are allowed to finish, so
// the end of a run produces no cancelled calls.
func load(ctx context.Context, conc int, d time.Duration, call func(ctx context.Context) error) loadResult {
	var stop atomic.Bool
	timer := time.AfterFunc(d, func() { stop.Store(true) })
	defer timer.Stop()
	lat := make([][]time.Duration, conc)
	errCount := make([]int, conc)
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for i := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() && ctx.Err() == nil {
				t0 := time.Now()
				err := call(ctx)
				lat[i] = append(lat[i], time.Since(t0))
				if err != nil {
					errCount[i]++
					once.Do(func() { firstErr = err })
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	res := loadResult{FirstErr: firstErr}
	for i := range conc {
		all = append(all, lat[i]...)
		res.Errors += errCount[i]
	}
	slices.Sort(all)
	res.Calls = len(all)
	res.RPS = float64(len(all)) / elapsed.Seconds()
	if len(all) > 0 {
		res.P50 = all[len(all)*50/100]
		res.P99 = all[min(len(all)-1, len(all)*99/100)]
	}
	return res
}

func benchHTTPClient(conc int) *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConns: conc * 2, MaxIdleConnsPerHost: conc * 2}}
}

const (
	pingService   = "hqbench.v1.PingService"
	pingProcedure = "/hqbench.v1.PingService/Ping"
)

func ping(context.Context, *connect.Request[emptypb.Empty]) (*connect.Response[emptypb.Empty], error) {
	return connect.NewResponse(&emptypb.Empty{}), nil
}

// registerPingService registers the descriptor of a one-method service
// (Ping: Empty → Empty) so that the real server can mount the ping handler
// behind its interceptors: the server reads procedures from descriptors.
var registerPingService = sync.OnceValue(func() error {
	fd := &descriptorpb.FileDescriptorProto{
		Name:       proto.String("hqbench/v1/ping.proto"),
		Package:    proto.String("hqbench.v1"),
		Dependency: []string{"google/protobuf/empty.proto"},
		Syntax:     proto.String("proto3"),
		Service: []*descriptorpb.ServiceDescriptorProto{{
			Name: proto.String("PingService"),
			Method: []*descriptorpb.MethodDescriptorProto{{
				Name:       proto.String("Ping"),
				InputType:  proto.String(".google.protobuf.Empty"),
				OutputType: proto.String(".google.protobuf.Empty"),
			}},
		}},
	}
	f, err := protodesc.NewFile(fd, protoregistry.GlobalFiles)
	if err != nil {
		return err
	}
	return protoregistry.GlobalFiles.RegisterFile(f)
})

// benchBarePing serves one connect-go unary handler with no interceptors and
// loads it the same way as the real server.
func benchBarePing(ctx context.Context, d time.Duration, conc int) (loadResult, error) {
	mux := http.NewServeMux()
	// As the real server: never gzip tiny messages.
	mux.Handle(pingProcedure, connect.NewUnaryHandler(pingProcedure, ping, connect.WithCompressMinBytes(1024)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return loadResult{}, err
	}
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: mux, Protocols: p, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	client := connect.NewClient[emptypb.Empty, emptypb.Empty](benchHTTPClient(conc), "http://"+ln.Addr().String()+pingProcedure)
	res := load(ctx, conc, d, func(ctx context.Context) error {
		_, err := client.CallUnary(ctx, connect.NewRequest(&emptypb.Empty{}))
		return err
	})
	if res.Errors > 0 {
		return res, fmt.Errorf("baseline failed: %w", res.FirstErr)
	}
	return res, nil
}

// benchServer starts the whole server (as `serve` does) on the given
// backends, signs in one demo account and loads (1) GetMe, an authenticated
// read with its SQL, and (2) the baseline's ping handler mounted behind the
// real middleware and interceptors with the same access token: the cost of
// the stack alone. Empty URLs mean the embedded defaults. A PostgreSQL URL is
// used only to create (and drop) a scratch database; Redis keys live under a
// scratch prefix, deleted afterwards.
func benchServer(ctx context.Context, log *slog.Logger, pgURL, redisURL string, d time.Duration, conc int) (getMe, authPing loadResult, err error) {
	tmp, err := os.MkdirTemp("", "hqbench")
	if err != nil {
		return
	}
	defer os.RemoveAll(tmp)
	prefix := "hqbench:" + ids.Secret(6) + ":"
	c, err := parseConfig("serve", nil, func(string) string { return "" }, nil)
	if err != nil {
		return
	}
	c.Addr, c.VarDir, c.RedisURL, c.RedisPrefix, c.LogLevel = "127.0.0.1:0", tmp, redisURL, prefix, "warn"
	if pgURL != "" {
		dbURL, drop, derr := scratchDatabase(ctx, pgURL)
		if derr != nil {
			return getMe, authPing, derr
		}
		defer drop()
		c.DatabaseURL = dbURL
	}
	m := &Main{Config: c, Log: log, Serve: true}
	if err = m.Open(ctx); err != nil {
		return
	}
	defer m.Close()
	if redisURL != "" {
		defer func() {
			iter := m.Redis.Scan(context.Background(), 0, prefix+"*", 1000).Iterator()
			for iter.Next(context.Background()) {
				m.Redis.Del(context.Background(), iter.Val())
			}
		}()
	}
	password := "bench-password-1"
	accounts, err := identity.SeedDemo(ctx, m.DB, password)
	if err != nil {
		return
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- m.Run(runCtx) }()
	defer func() { stop(); <-done }()

	// The ping handler behind the real stack, on a second listener.
	if err = registerPingService(); err != nil {
		return
	}
	policies := maps.Clone(server.Policies)
	policies[pingProcedure] = server.Policy{AllowUnverified: true}
	pingSrv, err := server.New(server.Config{}, server.Deps{Log: log, Auth: m.Sessions, Policies: policies,
		Services: []server.Service{{Name: pingService, Mount: func(o ...connect.HandlerOption) (string, http.Handler) {
			return "/" + pingService + "/", connect.NewUnaryHandler(pingProcedure, ping, o...)
		}}}})
	if err != nil {
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return
	}
	pingDone := make(chan error, 1)
	go func() { pingDone <- pingSrv.Serve(runCtx, ln) }()
	defer func() { stop(); <-pingDone }()

	hc := benchHTTPClient(conc)
	client := identityv1connect.NewIdentityServiceClient(hc, "http://"+m.Addr())
	lr, err := client.Login(ctx, connect.NewRequest(&identityv1.LoginRequest{Identifier: accounts[0].Login, Password: password}))
	if err != nil {
		return getMe, authPing, fmt.Errorf("login: %w", err)
	}
	bearer := "Bearer " + lr.Msg.GetTokens().GetAccessToken()
	getMe = load(ctx, conc, d, func(ctx context.Context) error {
		req := connect.NewRequest(&identityv1.GetMeRequest{})
		req.Header().Set("Authorization", bearer)
		_, err := client.GetMe(ctx, req)
		return err
	})
	if getMe.Errors > 0 {
		return getMe, authPing, fmt.Errorf("GetMe failed %d times: %w", getMe.Errors, getMe.FirstErr)
	}
	pc := connect.NewClient[emptypb.Empty, emptypb.Empty](hc, "http://"+ln.Addr().String()+pingProcedure)
	authPing = load(ctx, conc, d, func(ctx context.Context) error {
		req := connect.NewRequest(&emptypb.Empty{})
		req.Header().Set("Authorization", bearer)
		_, err := pc.CallUnary(ctx, req)
		return err
	})
	if authPing.Errors > 0 {
		return getMe, authPing, fmt.Errorf("authenticated ping failed %d times: %w", authPing.Errors, authPing.FirstErr)
	}
	return getMe, authPing, nil
}

// scratchDatabase creates an empty database on the server of adminURL and
// returns its URL and a function that drops it.
func scratchDatabase(ctx context.Context, adminURL string) (string, func(), error) {
	admin, err := sql.Open("pgx", adminURL)
	if err != nil {
		return "", nil, err
	}
	name := "hqbench_" + strings.ToLower(strings.NewReplacer("-", "", "_", "").Replace(ids.Secret(6)))
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close()
		return "", nil, fmt.Errorf("create scratch database: %w", err)
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		admin.Close()
		return "", nil, err
	}
	u.Path = "/" + name
	drop := func() {
		_, _ = admin.ExecContext(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		admin.Close()
	}
	return u.String(), drop, nil
}

type benchRow struct {
	What, Backend string
	Res           loadResult
}

type benchReport struct {
	Duration    time.Duration
	Concurrency int
	Rows        []benchRow
	Notes       []string
	// Sections are further measurements, already in Markdown.
	Sections []string
}

func (r *benchReport) add(what, backend string, res loadResult) {
	r.Rows = append(r.Rows, benchRow{what, backend, res})
}

func (r *benchReport) markdown(base loadResult) string {
	var b strings.Builder
	host, _ := os.Hostname()
	fmt.Fprintf(&b, "# Benchmarks\n\nWritten by `make bench` (`go run ./cmd/hqconnect bench`) on %s: %s, %d CPUs, %s/%s, host %s.\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), runtime.Version(), runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, host)
	fmt.Fprintf(&b, "Each load: %d concurrent callers for %v over HTTP/1.1 keep-alive on loopback, Connect protocol, binary\n"+
		"protobuf; client and server share the machine. Every figure stands beside a baseline measured in the same run.\n\n", r.Concurrency, r.Duration)
	b.WriteString("## Authenticated read RPC vs a bare connect-go handler\n\nTarget: an authenticated read at ≥ 50 % of the bare handler's throughput.\n\n")
	b.WriteString("| what | backend | calls/s | p50 | p99 | % of baseline |\n| --- | --- | ---: | ---: | ---: | ---: |\n")
	for _, row := range r.Rows {
		fmt.Fprintf(&b, "| %s | %s | %.0f | %v | %v | %.0f %% |\n", row.What, row.Backend, row.Res.RPS,
			row.Res.P50.Round(time.Microsecond), row.Res.P99.Round(time.Microsecond), 100*row.Res.RPS/base.RPS)
	}
	b.WriteString(`
How to read it: the second row is the baseline's own handler behind the real middleware and interceptors
(JWT verification, the session check with its 2 s cache, the authorization table, one log line and the
metrics), so its gap to the baseline is what the stack costs. GetMe adds its database reads; on two cores shared
by the load generator, the server and the database, those reads, not the stack, decide its throughput. The
baseline is given the same compression threshold as the server (no gzip under 1 KiB), since connect-go's
default would gzip even empty messages and flatter the comparison.
`)
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "\nNote: %s\n", n)
	}
	for _, sec := range r.Sections {
		b.WriteString("\n" + sec)
	}
	return b.String()
}
