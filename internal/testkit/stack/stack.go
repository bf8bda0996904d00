// Package stack builds the real server stack for a capability's handler
// tests: a fresh database (SQLite, and PostgreSQL with TEST_DATABASE_URL),
// Redis (miniredis, and the real server with TEST_REDIS_URL) under a key
// prefix of the test's own, real sessions with a generated signing key, the
// real server with its interceptors and authorization table, served over TLS
// with HTTP/2, seeded with the demo organisation — and clients that sign in as
// a demo account and call through the generated clients over Connect or gRPC.
//
// The identity and audit services are always mounted (sign-in needs them);
// a test adds its capability's services with a Mount.
package stack

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	"hqconnect/gen/hqconnect/audit/v1/auditv1connect"
	identityv1 "hqconnect/gen/hqconnect/identity/v1"
	"hqconnect/gen/hqconnect/identity/v1/identityv1connect"
	"hqconnect/internal/auth"
	"hqconnect/internal/outbox"
	"hqconnect/internal/redisx/redistest"
	"hqconnect/internal/scheduler"
	"hqconnect/internal/store"
	"hqconnect/internal/store/storetest"
	"hqconnect/server"
	auditsvc "hqconnect/server/audit"
	"hqconnect/server/identity"
)

// DemoPassword is every demo account's password in tests.
const DemoPassword = "demo-password-2026"

// Demo logins (see identity.SeedDemo).
const (
	Officer    = "officer@demo.hqconnect.vn"   // OFFICER, team DEMOCK1TT (branch DEMOCK1)
	Head       = "head@demo.hqconnect.vn"      // UNIT_HEAD, branch DEMOCK1
	Director   = "director@demo.hqconnect.vn"  // DIRECTOR, department DEMOHQ
	Inspector  = "inspector@demo.hqconnect.vn" // INSPECTOR, department DEMOHQ
	Admin      = "admin@demo.hqconnect.vn"     // ADMIN, department DEMOHQ
	XnkAdmin   = "admin@xnk.demo.vn"           // ENTERPRISE_ADMIN of enterprise A (0100109106)
	XnkStaff   = "staff@xnk.demo.vn"           // STAFF of enterprise A
	LogAdmin   = "admin@logistics.demo.vn"     // ENTERPRISE_ADMIN of enterprise B
	LogStaff   = "staff@logistics.demo.vn"     // STAFF of enterprise B
	demoDevice = "test device"
)

// Clock is the services' clock: the real time plus an offset tests move.
type Clock struct{ offset atomic.Int64 }

// Now is the clock's current time.
func (c *Clock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) { c.offset.Add(int64(d)) }

// Env is one test's running stack.
type Env struct {
	DB    *store.DB
	Redis redistest.Backend
	// Prefix is this Env's Redis key prefix: pass it to anything that keeps
	// keys (the scheduler here uses it).
	Prefix   string
	Sessions *auth.Sessions
	// Scheduler stores jobs under Prefix; it is not running: a test that
	// needs jobs to run starts Scheduler.Run itself.
	Scheduler *scheduler.Scheduler
	Clock     *Clock
	Log       *slog.Logger
	URL       string
	// Accounts are the demo accounts by login.
	Accounts map[string]identity.DemoAccount

	httpClient *http.Client
	opts       []connect.ClientOption
}

// Mount returns the capability services to serve beside identity and audit.
// It runs after the database is seeded and before the server starts.
type Mount func(e *Env) []server.Service

var protocols = []struct {
	name string
	opts []connect.ClientOption
}{
	{"connect", nil},
	{"grpc", []connect.ClientOption{connect.WithGRPC()}},
}

// RunDB runs fn in parallel subtests on every database with miniredis: over
// Connect on SQLite and over gRPC on PostgreSQL (without TEST_DATABASE_URL,
// SQLite runs over both). For tests about data and rules.
func RunDB(t *testing.T, mount Mount, fn func(t *testing.T, e *Env)) {
	t.Helper()
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		p := protocols[0]
		if db.Dialect == store.Postgres {
			p = protocols[1]
		}
		t.Run(p.name, func(t *testing.T) {
			fn(t, New(t, db, redistest.Mini(t), "", p.opts, mount))
		})
		if db.Dialect == store.SQLite && os.Getenv("TEST_DATABASE_URL") == "" {
			t.Run(protocols[1].name, func(t *testing.T) {
				fn(t, New(t, storetest.SQLite(t), redistest.Mini(t), "", protocols[1].opts, mount))
			})
		}
	})
}

// RunAll runs fn on every combination of Redis (miniredis, and the real
// server with TEST_REDIS_URL) and database, alternating the protocols. For
// tests about Redis-backed behaviour (jobs, locks, streams).
func RunAll(t *testing.T, mount Mount, fn func(t *testing.T, e *Env)) {
	t.Helper()
	t.Parallel()
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		storetest.Each(t, func(t *testing.T, db *store.DB) {
			p := protocols[0]
			if (b.Mini == nil) != (db.Dialect == store.Postgres) {
				p = protocols[1]
			}
			t.Run(p.name, func(t *testing.T) {
				fn(t, New(t, db, b, b.Prefix+string(db.Dialect)+":"+p.name+":", p.opts, mount))
			})
		})
	})
}

var (
	keyOnce sync.Once
	keyPEM  []byte
	keyErr  error
)

// New builds an Env on db and Redis backend b with key prefix (b.Prefix
// when empty), clients using protocol options opts.
func New(t testing.TB, db *store.DB, b redistest.Backend, prefix string, opts []connect.ClientOption, mount Mount) *Env {
	t.Helper()
	if prefix == "" {
		prefix = b.Prefix
	}
	ctx, cancel := context.WithCancel(context.Background())
	keyOnce.Do(func() { keyPEM, keyErr = auth.GenerateKeyPEM() })
	if keyErr != nil {
		t.Fatal(keyErr)
	}
	keyPath := filepath.Join(t.TempDir(), "jwt.pem")
	if err := os.WriteFile(keyPath, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	kr, err := auth.LoadKeyring(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	sessions := auth.NewSessions(b.Client, auth.NewTokens(kr, auth.TokenConfig{}), auth.SessionConfig{Prefix: prefix})
	runDone := make(chan struct{})
	go func() { defer close(runDone); _ = sessions.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-runDone })

	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() && os.Getenv("TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	clk := &Clock{}
	// Every client comes from 127.0.0.1: lift the per-IP sign-in limit.
	guard := auth.NewLoginGuard(b.Client, auth.GuardConfig{Prefix: prefix, IPLimit: 1_000_000})
	idSvc := identity.New(identity.Deps{DB: db, Sessions: sessions, Guard: guard, Log: log, Now: clk.Now})
	accounts, err := identity.SeedDemo(ctx, db, DemoPassword)
	if err != nil {
		t.Fatal(err)
	}
	e := &Env{
		DB: db, Redis: b, Prefix: prefix, Sessions: sessions, Clock: clk, Log: log,
		Scheduler: scheduler.New(b.Client, scheduler.Config{Prefix: prefix, Log: log}),
		Accounts:  map[string]identity.DemoAccount{}, opts: opts,
	}
	for _, a := range accounts {
		e.Accounts[a.Login] = a
	}
	services := []server.Service{
		{Name: identityv1connect.IdentityServiceName, Mount: func(o ...connect.HandlerOption) (string, http.Handler) {
			return identityv1connect.NewIdentityServiceHandler(idSvc, o...)
		}},
		{Name: identityv1connect.EnterpriseServiceName, Mount: func(o ...connect.HandlerOption) (string, http.Handler) {
			return identityv1connect.NewEnterpriseServiceHandler(idSvc, o...)
		}},
		{Name: identityv1connect.OrgServiceName, Mount: func(o ...connect.HandlerOption) (string, http.Handler) {
			return identityv1connect.NewOrgServiceHandler(idSvc, o...)
		}},
		{Name: auditv1connect.AuditServiceName, Mount: func(o ...connect.HandlerOption) (string, http.Handler) {
			return auditv1connect.NewAuditServiceHandler(auditsvc.NewHandler(db), o...)
		}},
	}
	if mount != nil {
		services = append(services, mount(e)...)
	}
	// API keys are read without a cache, so a revoked key is refused at once.
	srv, err := server.New(server.Config{}, server.Deps{Log: log, Auth: sessions,
		APIKeys: auth.NewAPIKeys(db, auth.APIKeyConfig{CacheTTL: -1}), Services: services})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(srv.Handler())
	hs.EnableHTTP2 = true
	hs.StartTLS()
	t.Cleanup(hs.Close)
	e.URL = hs.URL
	e.httpClient = hs.Client()
	return e
}

// User is a signed-in caller (or an anonymous one, with no token).
type User struct {
	// Login is the account's login ("" for anonymous).
	Login string
	// Me is the account as GetMe returns it (nil for anonymous).
	Me     *identityv1.User
	Tokens *identityv1.TokenPair

	env *Env
}

// UserID is the signed-in user's id.
func (u *User) UserID() string { return u.Me.GetId() }

// EnterpriseID is the enterprise user's enterprise id.
func (u *User) EnterpriseID() string { return u.Me.GetEnterpriseId() }

// UnitID is the officer's unit id.
func (u *User) UnitID() string { return u.Me.GetUnitId() }

// Options are the client options that send u's token over the Env's
// protocol.
func (u *User) Options() []connect.ClientOption {
	bearer := connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			if u.Tokens != nil {
				req.Header().Set("Authorization", "Bearer "+u.Tokens.AccessToken)
			}
			return next(ctx, req)
		}
	})
	opts := []connect.ClientOption{connect.WithInterceptors(bearer, streamBearer{u})}
	return append(opts, u.env.opts...)
}

// streamBearer adds the token to streaming calls.
type streamBearer struct{ u *User }

func (streamBearer) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc { return next }

func (b streamBearer) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		if b.u.Tokens != nil {
			conn.RequestHeader().Set("Authorization", "Bearer "+b.u.Tokens.AccessToken)
		}
		return conn
	}
}

func (streamBearer) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// Client builds a generated client for u, e.g.
//
//	issues := stack.Client(u, issuev1connect.NewIssueServiceClient)
func Client[C any](u *User, newClient func(connect.HTTPClient, string, ...connect.ClientOption) C) C {
	return newClient(u.env.httpClient, u.env.URL, u.Options()...)
}

// Anon is a caller without a token.
func (e *Env) Anon() *User { return &User{env: e} }

// Login signs in as a demo account.
func (e *Env) Login(t testing.TB, login string) *User {
	t.Helper()
	if _, ok := e.Accounts[login]; !ok {
		t.Fatalf("%s is not a demo account", login)
	}
	return e.LoginWith(t, login, DemoPassword)
}

// LoginWith signs in with any identifier and password.
func (e *Env) LoginWith(t testing.TB, identifier, password string) *User {
	t.Helper()
	ids := Client(e.Anon(), identityv1connect.NewIdentityServiceClient)
	res, err := ids.Login(context.Background(), connect.NewRequest(&identityv1.LoginRequest{
		Identifier: identifier, Password: password, DeviceName: demoDevice,
	}))
	if err != nil {
		t.Fatalf("Login(%s): %v", identifier, err)
	}
	return &User{Login: identifier, Me: res.Msg.User, Tokens: res.Msg.Tokens, env: e}
}

// Count returns SELECT count(*) FROM fromWhere.
func (e *Env) Count(t testing.TB, fromWhere string, args ...any) int {
	t.Helper()
	var n int
	if err := e.DB.QueryRowContext(context.Background(), "SELECT count(*) FROM "+fromWhere, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Events returns the outbox events of kind (all kinds when empty), oldest
// first: what the pipeline would deliver.
func (e *Env) Events(t testing.TB, kind string) []outbox.Event {
	t.Helper()
	rows, err := e.DB.QueryContext(context.Background(),
		`SELECT payload FROM outbox_events WHERE $1 = '' OR kind = $1 ORDER BY id`, kind)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []outbox.Event
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			t.Fatal(err)
		}
		var ev outbox.Event
		if err := json.Unmarshal([]byte(p), &ev); err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// UnitID returns the id of the org unit with code.
func (e *Env) UnitID(t testing.TB, code string) string {
	t.Helper()
	var id string
	if err := e.DB.QueryRowContext(context.Background(), `SELECT id FROM org_units WHERE code = $1`, code).Scan(&id); err != nil {
		t.Fatalf("unit %s: %v", code, err)
	}
	return id
}
