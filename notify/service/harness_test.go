package service_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	"hqconnect/gen/hqconnect/notify/v1/notifyv1connect"
	"hqconnect/internal/auth"
	"hqconnect/internal/ids"
	"hqconnect/internal/redisx/redistest"
	"hqconnect/internal/store"
	"hqconnect/internal/store/storetest"
	"hqconnect/notify/devices"
	"hqconnect/notify/fcm"
	"hqconnect/notify/fcmfake"
	"hqconnect/notify/inbox"
	"hqconnect/notify/live"
	"hqconnect/notify/pipeline"
	"hqconnect/notify/prefs"
	"hqconnect/notify/service"
	"hqconnect/server"
	"hqconnect/server/identity"
)

// The test harness: every test gets the real stack of its own — a fresh
// database (SQLite, and PostgreSQL with TEST_DATABASE_URL), Redis (miniredis,
// and the real server with TEST_REDIS_URL), real sessions, the live hub, the
// inbox, devices and preferences stores, the real FCM sender against the fake
// FCM server, the real server with its interceptors over TLS with HTTP/2 —
// seeded with the demo accounts and called through the generated clients
// over Connect or gRPC.

const demoPassword = "demo-password-2026"

// Demo logins (see identity.SeedDemo).
const (
	officerLogin  = "officer@demo.hqconnect.vn" // OFFICER, team DEMOCK1TT
	adminLogin    = "admin@demo.hqconnect.vn"   // ADMIN
	xnkAdminLogin = "admin@xnk.demo.vn"         // ENTERPRISE_ADMIN of enterprise A
	xnkStaffLogin = "staff@xnk.demo.vn"         // STAFF of enterprise A
	logStaffLogin = "staff@logistics.demo.vn"   // STAFF of enterprise B
)

const wait = 10 * time.Second

var protocols = []struct {
	name string
	opts []connect.ClientOption
}{
	{"connect", nil},
	{"grpc", []connect.ClientOption{connect.WithGRPC()}},
}

type env struct {
	DB        *store.DB
	Redis     redistest.Backend
	Prefix    string
	Sessions  *auth.Sessions
	Hub       *live.Hub
	Publisher *live.Publisher
	Inbox     *inbox.Store
	Devices   *devices.Store
	FCM       *fcmfake.Server
	Pipeline  pipeline.Config
	Gate      *gate // with options.gated

	url        string
	httpClient *http.Client
	opts       []connect.ClientOption
	stopHub    context.CancelFunc
	hubDone    chan struct{}
}

// options tune one environment.
type options struct {
	heartbeat time.Duration
	buffer    int
	// gated puts a gate (env.Gate) in front of the inbox's After.
	gated bool
}

// gate can hold the service's next inbox.After until the test releases it.
type gate struct {
	service.Inbox
	mu      sync.Mutex
	armed   bool
	entered chan struct{}
	release chan struct{}
}

// arm makes the next After wait: entered is closed when it starts waiting,
// and it goes on when release is closed.
func (g *gate) arm() (entered, release chan struct{}) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.armed, g.entered, g.release = true, make(chan struct{}), make(chan struct{})
	return g.entered, g.release
}

func (g *gate) After(ctx context.Context, v inbox.Viewer, afterID string, limit int) ([]inbox.Item, error) {
	g.mu.Lock()
	armed, entered, release := g.armed, g.entered, g.release
	g.armed = false
	g.mu.Unlock()
	if armed {
		close(entered)
		select {
		case <-release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return g.Inbox.After(ctx, v, afterID, limit)
}

// run runs fn over Connect and gRPC, each on (SQLite, miniredis) and, when
// TEST_DATABASE_URL and TEST_REDIS_URL are both set, on (PostgreSQL, Redis).
func run(t *testing.T, o options, fn func(t *testing.T, e *env)) {
	t.Helper()
	t.Parallel()
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			t.Run("sqlite+miniredis", func(t *testing.T) {
				fn(t, newEnv(t, storetest.SQLite(t), redistest.Mini(t), p.opts, o))
			})
			if os.Getenv("TEST_DATABASE_URL") != "" && os.Getenv("TEST_REDIS_URL") != "" {
				t.Run("postgres+redis", func(t *testing.T) {
					db, _ := storetest.Postgres(t)
					b, _ := redistest.Real(t)
					fn(t, newEnv(t, db, b, p.opts, o))
				})
			}
		})
	}
}

func newEnv(t *testing.T, db *store.DB, b redistest.Backend, opts []connect.ClientOption, o options) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	prefix := b.Prefix + ids.Secret(6) + ":"
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() && os.Getenv("TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}

	kr, _, err := auth.LoadOrCreateDevKeyring(filepath.Join(t.TempDir(), "jwt.pem"))
	if err != nil {
		t.Fatal(err)
	}
	sessions := auth.NewSessions(b.Client, auth.NewTokens(kr, auth.TokenConfig{}), auth.SessionConfig{Prefix: prefix})
	var wg sync.WaitGroup
	wg.Go(func() { _ = sessions.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })

	var hubOpts []live.Option
	if o.buffer > 0 {
		hubOpts = append(hubOpts, live.WithBuffer(o.buffer))
	}
	hub := live.NewHub(b.Client, prefix, log, hubOpts...)
	hubCtx, stopHub := context.WithCancel(ctx)
	hubDone := make(chan struct{})
	go func() { defer close(hubDone); _ = hub.Run(hubCtx) }()
	t.Cleanup(func() { stopHub(); <-hubDone })

	fake := fcmfake.New()
	fakeSrv := httptest.NewServer(fake)
	t.Cleanup(fakeSrv.Close)
	sender, err := fcm.NewFCMSender(ctx, fcm.Config{ProjectID: "hq-test", Endpoint: fakeSrv.URL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sender.Close)

	inboxStore := inbox.NewStore(db)
	var ib service.Inbox = inboxStore
	var g *gate
	if o.gated {
		g = &gate{Inbox: inboxStore}
		ib = g
	}
	devStore := devices.NewStore(db)
	pcfg := pipeline.Config{Prefix: prefix}
	svc := service.New(service.Deps{
		DB: db, Inbox: ib, Devices: devStore, Prefs: prefs.NewStore(db), Hub: hub,
		Sender: sender, DeadLetters: service.PipelineDeadLetters(b.Client, pcfg), Log: log,
		Heartbeat: o.heartbeat,
	})
	srv, err := server.New(server.Config{}, server.Deps{
		Log:  log,
		Auth: sessions,
		Services: []server.Service{
			{Name: notifyv1connect.NotificationServiceName, Mount: func(o ...connect.HandlerOption) (string, http.Handler) {
				return notifyv1connect.NewNotificationServiceHandler(svc, o...)
			}},
			{Name: notifyv1connect.NotifyAdminServiceName, Mount: func(o ...connect.HandlerOption) (string, http.Handler) {
				return notifyv1connect.NewNotifyAdminServiceHandler(svc, o...)
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

	if _, err := identity.SeedDemo(ctx, db, demoPassword); err != nil {
		t.Fatal(err)
	}
	return &env{
		DB: db, Redis: b, Prefix: prefix, Sessions: sessions, Hub: hub,
		Publisher: live.NewPublisher(b.Client, prefix), Inbox: inboxStore, Devices: devStore,
		FCM: fake, Pipeline: pcfg, Gate: g,
		url: hs.URL, httpClient: hs.Client(), opts: opts, stopHub: stopHub, hubDone: hubDone,
	}
}

// user is a signed-in demo account with its clients.
type user struct {
	ID        string
	SessionID string
	Viewer    inbox.Viewer
	Notify    notifyv1connect.NotificationServiceClient
	Admin     notifyv1connect.NotifyAdminServiceClient
	// EN speaks English (Accept-Language: en).
	EN notifyv1connect.NotificationServiceClient
}

// headers sets request headers on every call, unary and streaming.
type headers map[string]string

func (h headers) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		for k, v := range h {
			req.Header().Set(k, v)
		}
		return next(ctx, req)
	}
}

func (h headers) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		for k, v := range h {
			conn.RequestHeader().Set(k, v)
		}
		return conn
	}
}

func (h headers) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

func (e *env) clients(h headers) (notifyv1connect.NotificationServiceClient, notifyv1connect.NotifyAdminServiceClient) {
	opts := append([]connect.ClientOption{connect.WithInterceptors(h)}, e.opts...)
	return notifyv1connect.NewNotificationServiceClient(e.httpClient, e.url, opts...),
		notifyv1connect.NewNotifyAdminServiceClient(e.httpClient, e.url, opts...)
}

// anon is a client without a token.
func (e *env) anon() notifyv1connect.NotificationServiceClient {
	c, _ := e.clients(headers{})
	return c
}

// signIn starts a session for a demo account, as Login would.
func (e *env) signIn(t *testing.T, login string) *user {
	t.Helper()
	var p auth.Principal
	var ent, unit *string
	err := e.DB.QueryRowContext(context.Background(),
		`SELECT id, kind, enterprise_id, unit_id FROM users WHERE email = $1`, login).
		Scan(&p.UserID, &p.Kind, &ent, &unit)
	if err != nil {
		t.Fatalf("user %s: %v", login, err)
	}
	if ent != nil {
		p.EnterpriseID, p.EnterpriseVerified = *ent, true
	}
	if unit != nil {
		p.UnitID = *unit
	}
	rows, err := e.DB.QueryContext(context.Background(), `SELECT role FROM user_roles WHERE user_id = $1`, p.UserID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			t.Fatal(err)
		}
		p.Roles = append(p.Roles, r)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	pair, err := e.Sessions.Create(context.Background(), p, "test device", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	u := &user{
		ID: p.UserID, SessionID: pair.SessionID,
		Viewer: inbox.Viewer{UserID: p.UserID, Kind: string(p.Kind), EnterpriseID: p.EnterpriseID, UnitID: p.UnitID},
	}
	u.Notify, u.Admin = e.clients(headers{"Authorization": "Bearer " + pair.AccessToken})
	u.EN, _ = e.clients(headers{"Authorization": "Bearer " + pair.AccessToken, "Accept-Language": "en"})
	return u
}

// personal stores a personal item for u (not published).
func (e *env) personal(t *testing.T, u *user, title string) inbox.Item {
	t.Helper()
	got, err := e.Inbox.AddPersonal(context.Background(), nil, []inbox.Item{{
		ID: ids.New(), UserID: u.ID, EventID: ids.New(), Category: "issue",
		TitleVI: title + " (vi)", TitleEN: title, BodyVI: "nội dung " + title, BodyEN: "body " + title,
		EntityKind: "issue", EntityID: ids.New(),
	}})
	if err != nil {
		t.Fatal(err)
	}
	return got[0]
}

// deliver stores a personal item for u and publishes it live, as the
// notify worker does.
func (e *env) deliver(t *testing.T, u *user, title string) inbox.Item {
	t.Helper()
	it := e.personal(t, u, title)
	if err := e.Publisher.PublishUser(context.Background(), u.ID, it); err != nil {
		t.Fatal(err)
	}
	return it
}

// broadcast stores a broadcast and publishes it live.
func (e *env) broadcast(t *testing.T, audience, audienceID, title string) inbox.Item {
	t.Helper()
	it, err := e.Inbox.AddBroadcast(context.Background(), nil, broadcastItem(audience, audienceID, title))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Publisher.PublishBroadcast(context.Background(), it); err != nil {
		t.Fatal(err)
	}
	return it
}

func broadcastItem(audience, audienceID, title string) inbox.Item {
	return inbox.Item{
		ID: ids.New(), EventID: ids.New(), Category: "notice", Audience: audience, AudienceID: audienceID,
		TitleVI: title + " (vi)", TitleEN: title, BodyVI: "thông báo", BodyEN: "notice",
	}
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

func req[T any](m *T) *connect.Request[T] { return connect.NewRequest(m) }
