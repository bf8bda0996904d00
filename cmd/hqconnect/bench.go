package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/emptypb"

	identityv1 "hqconnect/gen/hqconnect/identity/v1"
	"hqconnect/gen/hqconnect/identity/v1/identityv1connect"
	"hqconnect/internal/ids"
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
	if err := fs.Parse(args); err != nil {
		return err
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
		res, err := benchGetMe(ctx, log, b.db, b.redis, *dur, *conc)
		if err != nil {
			fmt.Fprintf(stderr, "%s: skipped: %v\n", b.name, err)
			r.Notes = append(r.Notes, fmt.Sprintf("%s skipped: %v", b.name, err))
			continue
		}
		r.add("authenticated GetMe (JWT + session check + SQL read)", b.name, res)
		fmt.Fprintf(stderr, "GetMe on %s: %s (%.0f%% of baseline)\n", b.name, res, 100*res.RPS/base.RPS)
	}
	if err := os.WriteFile(*out, []byte(r.markdown(base)), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", *out)
	return nil
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
// latency percentiles.
func load(ctx context.Context, conc int, d time.Duration, call func(ctx context.Context) error) loadResult {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
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
			for ctx.Err() == nil {
				t0 := time.Now()
				err := call(ctx)
				if ctx.Err() != nil {
					return
				}
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

// benchBarePing serves one connect-go unary handler with no interceptors and
// loads it the same way as the real server.
func benchBarePing(ctx context.Context, d time.Duration, conc int) (loadResult, error) {
	mux := http.NewServeMux()
	mux.Handle("/hqbench.v1.PingService/Ping", connect.NewUnaryHandler("/hqbench.v1.PingService/Ping",
		func(ctx context.Context, req *connect.Request[emptypb.Empty]) (*connect.Response[emptypb.Empty], error) {
			return connect.NewResponse(&emptypb.Empty{}), nil
		}))
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
	client := connect.NewClient[emptypb.Empty, emptypb.Empty](benchHTTPClient(conc), "http://"+ln.Addr().String()+"/hqbench.v1.PingService/Ping")
	res := load(ctx, conc, d, func(ctx context.Context) error {
		_, err := client.CallUnary(ctx, connect.NewRequest(&emptypb.Empty{}))
		return err
	})
	if res.Errors > 0 {
		return res, fmt.Errorf("baseline failed: %w", res.FirstErr)
	}
	return res, nil
}

// benchGetMe starts the whole server (as `serve` does) on the given backends,
// signs in one demo account and loads GetMe. Empty URLs mean the embedded
// defaults. A PostgreSQL URL is used only to create (and drop) a scratch
// database; Redis keys live under a scratch prefix, deleted afterwards.
func benchGetMe(ctx context.Context, log *slog.Logger, pgURL, redisURL string, d time.Duration, conc int) (loadResult, error) {
	tmp, err := os.MkdirTemp("", "hqbench")
	if err != nil {
		return loadResult{}, err
	}
	defer os.RemoveAll(tmp)
	prefix := "hqbench:" + ids.Secret(6) + ":"
	c, err := parseConfig("serve", nil, func(string) string { return "" }, nil)
	if err != nil {
		return loadResult{}, err
	}
	c.Addr, c.VarDir, c.RedisURL, c.RedisPrefix, c.LogLevel = "127.0.0.1:0", tmp, redisURL, prefix, "warn"
	if pgURL != "" {
		dbURL, drop, err := scratchDatabase(ctx, pgURL)
		if err != nil {
			return loadResult{}, err
		}
		defer drop()
		c.DatabaseURL = dbURL
	}
	m := &Main{Config: c, Log: log}
	if err := m.Open(ctx); err != nil {
		return loadResult{}, err
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
		return loadResult{}, err
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- m.Run(runCtx) }()
	defer func() { stop(); <-done }()

	base := "http://" + m.Addr()
	client := identityv1connect.NewIdentityServiceClient(benchHTTPClient(conc), base)
	lr, err := client.Login(ctx, connect.NewRequest(&identityv1.LoginRequest{Identifier: accounts[0].Login, Password: password}))
	if err != nil {
		return loadResult{}, fmt.Errorf("login: %w", err)
	}
	bearer := "Bearer " + lr.Msg.GetTokens().GetAccessToken()
	res := load(ctx, conc, d, func(ctx context.Context) error {
		req := connect.NewRequest(&identityv1.GetMeRequest{})
		req.Header().Set("Authorization", bearer)
		_, err := client.GetMe(ctx, req)
		return err
	})
	if res.Errors > 0 {
		return res, fmt.Errorf("GetMe failed %d times: %w", res.Errors, res.FirstErr)
	}
	return res, nil
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
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "\nNote: %s\n", n)
	}
	return b.String()
}
