package identity_test

import (
	"context"
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
	"hqconnect/internal/redisx/redistest"
	"hqconnect/internal/store"
	"hqconnect/internal/store/storetest"
	"hqconnect/server"
	auditsvc "hqconnect/server/audit"
	"hqconnect/server/identity"
)

// The test harness: every test gets the real stack of its own — a fresh
// database (SQLite, and PostgreSQL with TEST_DATABASE_URL), Redis (miniredis,
// and the real server with TEST_REDIS_URL), real sessions with a generated
// signing key, the real server with its interceptors, served over TLS with
// HTTP/2 — seeded with the demo data, and called through the generated
// clients over Connect or gRPC.

const demoPassword = "demo-password-2026"

// Demo logins (see identity.SeedDemo).
const (
	officerLogin   = "officer@demo.hqconnect.vn"   // OFFICER, team DEMOCK1TT
	headLogin      = "head@demo.hqconnect.vn"      // UNIT_HEAD, branch DEMOCK1
	directorLogin  = "director@demo.hqconnect.vn"  // DIRECTOR
	inspectorLogin = "inspector@demo.hqconnect.vn" // INSPECTOR
	adminLogin     = "admin@demo.hqconnect.vn"     // ADMIN
	xnkAdminLogin  = "admin@xnk.demo.vn"           // ENTERPRISE_ADMIN of enterprise A
	xnkStaffLogin  = "staff@xnk.demo.vn"           // STAFF of enterprise A
	logAdminLogin  = "admin@logistics.demo.vn"     // ENTERPRISE_ADMIN of enterprise B
	logStaffLogin  = "staff@logistics.demo.vn"     // STAFF of enterprise B
)

// clock is the identity service's clock; tests move it forward.
type clock struct{ offset atomic.Int64 }

func (c *clock) Now() time.Time                  { return time.Now().Add(time.Duration(c.offset.Load())) }
func (c *clock) Advance(d time.Duration)         { c.offset.Add(int64(d)) }
func (c *clock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }

type env struct {
	DB       *store.DB
	Redis    redistest.Backend
	Sessions *auth.Sessions
	Clock    *clock
	URL      string
	Accounts map[string]identity.DemoAccount

	httpClient *http.Client
	opts       []connect.ClientOption
}

// protocolOpts are the client protocols tests run over.
var protocols = []struct {
	name string
	opts []connect.ClientOption
}{
	{"connect", nil},
	{"grpc", []connect.ClientOption{connect.WithGRPC()}},
}

// runAll runs fn on every combination of Redis backend (miniredis, and the
// real server with TEST_REDIS_URL) and database (SQLite, and PostgreSQL with
// TEST_DATABASE_URL). The protocols alternate between the combinations;
// without the real services the one combination left runs over both. For
// tests about sessions, tokens and lockouts.
func runAll(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Helper()
	t.Parallel()
	redistest.Each(t, func(t *testing.T, b redistest.Backend) {
		storetest.Each(t, func(t *testing.T, db *store.DB) {
			p := protocols[0]
			if (b.Mini == nil) != (db.Dialect == store.Postgres) {
				p = protocols[1]
			}
			t.Run(p.name, func(t *testing.T) {
				// Each run has its own keys even when the Redis is shared.
				fn(t, newEnv(t, db, b, b.Prefix+string(db.Dialect)+":"+p.name+":", p.opts))
			})
			// Alone, (miniredis, SQLite) runs over gRPC too; with the real
			// services the other combinations cover gRPC.
			if b.Mini != nil && db.Dialect == store.SQLite && os.Getenv("TEST_DATABASE_URL") == "" && os.Getenv("TEST_REDIS_URL") == "" {
				p := protocols[1]
				t.Run(p.name, func(t *testing.T) {
					fn(t, newEnv(t, storetest.SQLite(t), b, b.Prefix+"sqlite2:"+p.name+":", p.opts))
				})
			}
		})
	})
}

// runDB runs fn on every database with miniredis, over Connect on SQLite and
// gRPC on PostgreSQL. For tests about the data rather than sessions.
func runDB(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Helper()
	t.Parallel()
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		p := protocols[0]
		if db.Dialect == store.Postgres {
			p = protocols[1]
		}
		fn(t, newEnv(t, db, redistest.Mini(t), "t:", p.opts))
	})
}

var (
	keyOnce sync.Once
	keyPEM  []byte
	keyErr  error
)

func newEnv(t *testing.T, db *store.DB, b redistest.Backend, prefix string, opts []connect.ClientOption) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	// One signing key per test binary: generating is cheap, but a fresh file
	// per test shows LoadKeyring works from disk.
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

	// Every client comes from 127.0.0.1: the per-IP limit would trip on a
	// busy test; the per-account lockout keeps its defaults.
	guard := auth.NewLoginGuard(b.Client, auth.GuardConfig{Prefix: prefix, IPLimit: 1_000_000})
	clk := &clock{}
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() && os.Getenv("TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	svc := identity.New(identity.Deps{DB: db, Sessions: sessions, Guard: guard, Log: log, Now: clk.Now})
	srv, err := server.New(server.Config{}, server.Deps{
		Log:  log,
		Auth: sessions,
		Services: []server.Service{
			{Name: identityv1connect.IdentityServiceName, Mount: func(o ...connect.HandlerOption) (string, http.Handler) {
				return identityv1connect.NewIdentityServiceHandler(svc, o...)
			}},
			{Name: identityv1connect.EnterpriseServiceName, Mount: func(o ...connect.HandlerOption) (string, http.Handler) {
				return identityv1connect.NewEnterpriseServiceHandler(svc, o...)
			}},
			{Name: identityv1connect.OrgServiceName, Mount: func(o ...connect.HandlerOption) (string, http.Handler) {
				return identityv1connect.NewOrgServiceHandler(svc, o...)
			}},
			{Name: auditv1connect.AuditServiceName, Mount: func(o ...connect.HandlerOption) (string, http.Handler) {
				return auditv1connect.NewAuditServiceHandler(auditsvc.NewHandler(db), o...)
			}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(srv.Handler())
	hs.EnableHTTP2 = true
	hs.StartTLS()
	t.Cleanup(hs.Close)

	accounts, err := identity.SeedDemo(ctx, db, demoPassword)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{
		DB: db, Redis: b, Sessions: sessions, Clock: clk, URL: hs.URL,
		Accounts:   map[string]identity.DemoAccount{},
		httpClient: hs.Client(), opts: opts,
	}
	for _, a := range accounts {
		e.Accounts[a.Login] = a
	}
	return e
}

// client is a set of generated clients sending one access token (none for an
// anonymous client).
type client struct {
	ID    identityv1connect.IdentityServiceClient
	Ent   identityv1connect.EnterpriseServiceClient
	Org   identityv1connect.OrgServiceClient
	Audit auditv1connect.AuditServiceClient

	mu     sync.Mutex
	tokens *identityv1.TokenPair
	User   *identityv1.User
}

func (c *client) Tokens() *identityv1.TokenPair {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tokens
}

func (c *client) setTokens(tp *identityv1.TokenPair) {
	c.mu.Lock()
	c.tokens = tp
	c.mu.Unlock()
}

func (e *env) newClient(tp *identityv1.TokenPair) *client {
	c := &client{tokens: tp}
	bearer := connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			if tp := c.Tokens(); tp != nil {
				req.Header().Set("Authorization", "Bearer "+tp.AccessToken)
			}
			return next(ctx, req)
		}
	})
	opts := append([]connect.ClientOption{connect.WithInterceptors(bearer)}, e.opts...)
	c.ID = identityv1connect.NewIdentityServiceClient(e.httpClient, e.URL, opts...)
	c.Ent = identityv1connect.NewEnterpriseServiceClient(e.httpClient, e.URL, opts...)
	c.Org = identityv1connect.NewOrgServiceClient(e.httpClient, e.URL, opts...)
	c.Audit = auditv1connect.NewAuditServiceClient(e.httpClient, e.URL, opts...)
	return c
}

// anon is a client without a token.
func (e *env) anon() *client { return e.newClient(nil) }

// login signs in and returns a client with the new tokens.
func (e *env) login(t *testing.T, identifier, password string) *client {
	t.Helper()
	res, err := e.tryLogin(identifier, password)
	if err != nil {
		t.Fatalf("Login(%s): %v", identifier, err)
	}
	c := e.newClient(res.Tokens)
	c.User = res.User
	return c
}

func (e *env) tryLogin(identifier, password string) (*identityv1.LoginResponse, error) {
	res, err := e.anon().ID.Login(context.Background(), connect.NewRequest(&identityv1.LoginRequest{
		Identifier: identifier, Password: password, DeviceName: "test device",
	}))
	if err != nil {
		return nil, err
	}
	return res.Msg, nil
}

// demo signs in as a demo account.
func (e *env) demo(t *testing.T, login string) *client {
	t.Helper()
	if _, ok := e.Accounts[login]; !ok {
		t.Fatalf("%s is not a demo account", login)
	}
	return e.login(t, login, demoPassword)
}

// refresh rotates c's tokens.
func (c *client) refresh(t *testing.T) {
	t.Helper()
	res, err := c.ID.Refresh(context.Background(), connect.NewRequest(&identityv1.RefreshRequest{RefreshToken: c.Tokens().RefreshToken}))
	if err != nil {
		t.Fatalf("Refresh: %v", err)
	}
	c.setTokens(res.Msg.Tokens)
}

func (c *client) me(t *testing.T) *identityv1.GetMeResponse {
	t.Helper()
	res, err := c.ID.GetMe(context.Background(), connect.NewRequest(&identityv1.GetMeRequest{}))
	if err != nil {
		t.Fatalf("GetMe: %v", err)
	}
	return res.Msg
}

// unauthenticated reports whether c's access token is refused.
func (c *client) unauthenticated() bool {
	_, err := c.ID.GetMe(context.Background(), connect.NewRequest(&identityv1.GetMeRequest{}))
	return connect.CodeOf(err) == connect.CodeUnauthenticated
}

// count returns SELECT count(*) FROM the query's rest.
func (e *env) count(t *testing.T, fromWhere string, args ...any) int {
	t.Helper()
	var n int
	if err := e.DB.QueryRowContext(context.Background(), "SELECT count(*) FROM "+fromWhere, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// ctx is a background context for calls.
var ctx = context.Background()

func req[T any](m *T) *connect.Request[T] { return connect.NewRequest(m) }
