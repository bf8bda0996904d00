package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/sync/errgroup"

	"hqconnect/gen/hqconnect/audit/v1/auditv1connect"
	"hqconnect/gen/hqconnect/identity/v1/identityv1connect"
	"hqconnect/gen/hqconnect/notify/v1/notifyv1connect"
	"hqconnect/internal/auth"
	"hqconnect/internal/redisx"
	"hqconnect/internal/scheduler"
	"hqconnect/internal/store"
	"hqconnect/notify"
	"hqconnect/notify/devices"
	"hqconnect/notify/fcm"
	"hqconnect/notify/inbox"
	"hqconnect/notify/live"
	"hqconnect/notify/pipeline"
	"hqconnect/notify/prefs"
	"hqconnect/notify/service"
	"hqconnect/server"
	auditsvc "hqconnect/server/audit"
	"hqconnect/server/identity"
)

// Main is the whole program, wired: what `serve` runs and what the
// end-to-end test starts on port 0.
type Main struct {
	Config Config
	Log    *slog.Logger

	DB       *store.DB
	Redis    *redisx.Client
	Sessions *auth.Sessions
	Server   *server.Server
	// Serve is false for the worker command: no listener, no API.
	Serve bool

	Sender    fcm.Sender
	Hub       *live.Hub
	Scheduler *scheduler.Scheduler
	Relay     *pipeline.Relay
	Worker    *pipeline.Worker

	// issue is the issue capability, built once (wire_issue.go).
	issue *issueParts

	ln net.Listener
	// DemoAccounts is set when Open seeded the demo data.
	DemoAccounts []identity.DemoAccount
}

// Open connects to everything, applies migrations, seeds the demo data when
// asked and allowed, and binds the listen address.
func (m *Main) Open(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			m.Close()
		}
	}()
	c := m.Config
	embeddedDB := c.DatabaseURL == ""
	dbURL := c.DatabaseURL
	if embeddedDB {
		dbURL = "sqlite:" + filepath.Join(c.VarDir, "hqconnect.db")
	}
	if m.DB, err = store.Open(ctx, dbURL); err != nil {
		return err
	}
	if embeddedDB {
		m.Log.Warn("development default: SQLite database; set DATABASE_URL for PostgreSQL", "path", dbURL)
	}
	if err = m.DB.Migrate(ctx, m.Log); err != nil {
		return err
	}
	if m.Redis, err = redisx.Open(ctx, c.RedisURL, m.Log); err != nil {
		return err
	}
	keys, err := m.loadKeys()
	if err != nil {
		return err
	}
	tokens := auth.NewTokens(keys, auth.TokenConfig{Issuer: c.JWTIssuer, Audience: c.JWTAudience, AccessTTL: c.AccessTTL})
	m.Sessions = auth.NewSessions(m.Redis, tokens, auth.SessionConfig{Prefix: c.RedisPrefix, RefreshTTL: c.RefreshTTL})
	guard := auth.NewLoginGuard(m.Redis, auth.GuardConfig{Prefix: c.RedisPrefix})

	if c.Demo {
		if err = m.seedDemo(ctx, embeddedDB); err != nil {
			return err
		}
	}

	// The event pipeline: outbox relay → Redis Stream → workers → inbox,
	// live updates and pushes; delayed jobs through the scheduler.
	if m.Sender, err = m.openSender(ctx); err != nil {
		return err
	}
	pcfg := pipeline.Config{Prefix: c.RedisPrefix, Log: m.Log, Concurrency: c.WorkerConcurrency}
	if m.Redis.Embedded {
		// The in-process Redis starts empty on every start, and the relay
		// then re-relays the events relayed within ReplayWindow (handlers
		// are idempotent); a development restart need not go back 7 days.
		pcfg.ReplayWindow = time.Hour
	}
	m.Hub = live.NewHub(m.Redis, c.RedisPrefix, m.Log)
	// Every process can schedule jobs; only those running workers run them.
	m.Scheduler = scheduler.New(m.Redis, scheduler.Config{Prefix: c.RedisPrefix, Log: m.Log})
	if c.Worker || !m.Serve {
		deliverer := notify.NewDeliverer(notify.Deps{DB: m.DB, Sender: m.Sender,
			Live: live.NewPublisher(m.Redis, c.RedisPrefix), Sched: m.Scheduler, Log: m.Log})
		deliverer.RegisterJobs()
		if err = m.registerIssueJobs(ctx); err != nil {
			return err
		}
		m.registerClearanceJobs()
		m.Relay = pipeline.NewRelay(m.DB, m.Redis, pcfg)
		m.Worker = pipeline.NewWorker(m.Redis, m.Scheduler, pcfg, deliverer.Handle)
	}
	if !m.Serve {
		return nil
	}

	idSvc := identity.New(identity.Deps{DB: m.DB, Sessions: m.Sessions, Guard: guard, Log: m.Log})
	auditSvc := auditsvc.NewHandler(m.DB)
	notifySvc := service.New(service.Deps{DB: m.DB, Inbox: inbox.NewStore(m.DB), Devices: devices.NewStore(m.DB),
		Prefs: prefs.NewStore(m.DB), Hub: m.Hub, Sender: m.Sender,
		DeadLetters: service.PipelineDeadLetters(m.Redis, pcfg), Log: m.Log})
	issueServices, err := m.issueServices(ctx)
	if err != nil {
		return err
	}
	m.Server, err = server.New(server.Config{
		Addr:              c.Addr,
		ReadHeaderTimeout: c.ReadHeaderTimeout,
		MaxRequestBytes:   c.MaxRequestBytes,
		CORSOrigins:       c.CORSOrigins,
		TrustProxy:        c.TrustProxy,
		ShutdownTimeout:   c.ShutdownTimeout,
	}, server.Deps{
		Log:  m.Log,
		Auth: m.Sessions,
		Ready: []server.ReadyCheck{
			{Name: "database", Check: m.DB.PingContext},
			{Name: "redis", Check: func(ctx context.Context) error { return m.Redis.Ping(ctx).Err() }},
		},
		Services: append(append([]server.Service{
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
				return auditv1connect.NewAuditServiceHandler(auditSvc, o...)
			}},
			{Name: notifyv1connect.NotificationServiceName, Mount: func(o ...connect.HandlerOption) (string, http.Handler) {
				return notifyv1connect.NewNotificationServiceHandler(notifySvc, o...)
			}},
			{Name: notifyv1connect.NotifyAdminServiceName, Mount: func(o ...connect.HandlerOption) (string, http.Handler) {
				return notifyv1connect.NewNotifyAdminServiceHandler(notifySvc, o...)
			}},
		}, issueServices...), m.clearanceServices()...),
		APIKeys: auth.NewAPIKeys(m.DB, auth.APIKeyConfig{}),
	})
	if err != nil {
		return err
	}
	if m.ln, err = net.Listen("tcp", c.Addr); err != nil {
		return fmt.Errorf("listen on %s: %w", c.Addr, err)
	}
	return nil
}

// openSender returns the real FCM sender when credentials or an endpoint
// are configured, else the log-only development default.
func (m *Main) openSender(ctx context.Context) (fcm.Sender, error) {
	c := m.Config
	if c.FCMCredentialsFile == "" && c.FCMEndpoint == "" {
		m.Log.Warn("development default: pushes are only logged; set FCM_CREDENTIALS_FILE (or FCM_ENDPOINT) to send them")
		return fcm.NewLogSender(m.Log), nil
	}
	project := c.FCMProjectID
	if project == "" && c.FCMCredentialsFile == "" {
		project = "hqconnect-dev"
	}
	s, err := fcm.NewFCMSender(ctx, fcm.Config{ProjectID: project, CredentialsFile: c.FCMCredentialsFile, Endpoint: c.FCMEndpoint})
	if err != nil {
		return nil, fmt.Errorf("FCM sender: %w", err)
	}
	m.Log.Info("pushes go to FCM", "endpoint", c.FCMEndpoint, "project", project)
	return s, nil
}

func (m *Main) loadKeys() (*auth.Keyring, error) {
	if len(m.Config.JWTKeyFiles) > 0 {
		kr, err := auth.LoadKeyring(m.Config.JWTKeyFiles...)
		if err != nil {
			return nil, fmt.Errorf("load JWT_KEY_FILE: %w", err)
		}
		return kr, nil
	}
	path := filepath.Join(m.Config.VarDir, "jwt-ed25519.pem")
	kr, created, err := auth.LoadOrCreateDevKeyring(path)
	if err != nil {
		return nil, fmt.Errorf("development signing key: %w", err)
	}
	m.Log.Warn("development default: JWT signing key generated under var/; set JWT_KEY_FILE in production",
		"path", path, "created", created, "kids", kr.KIDs())
	return kr, nil
}

// seedDemo seeds the demo accounts into an empty embedded database. It never
// touches a database named by DATABASE_URL.
func (m *Main) seedDemo(ctx context.Context, embeddedDB bool) error {
	if !embeddedDB {
		m.Log.Warn("--demo ignored: demo data is only seeded into the embedded SQLite default, never into DATABASE_URL")
		return nil
	}
	var users int
	if err := m.DB.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&users); err != nil {
		return fmt.Errorf("count users: %w", err)
	}
	if users > 0 {
		m.Log.Info("demo data not seeded: the database already has users")
		return nil
	}
	accounts, err := identity.SeedDemo(ctx, m.DB, m.Config.DemoPassword)
	if err != nil {
		return fmt.Errorf("seed demo data: %w", err)
	}
	if err := seedCapabilitiesDemo(ctx, m.DB); err != nil {
		return err
	}
	m.DemoAccounts = accounts
	return nil
}

// Addr is the bound listen address.
func (m *Main) Addr() string { return m.ln.Addr().String() }

// Run serves until ctx is done, then shuts down gracefully.
func (m *Main) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return m.Sessions.Run(gctx) })
	if m.Worker != nil {
		g.Go(func() error { return m.Scheduler.Run(gctx) })
		g.Go(func() error { return m.Relay.Run(gctx) })
		g.Go(func() error { return m.Worker.Run(gctx) })
	}
	if m.Serve {
		g.Go(func() error { return m.Hub.Run(gctx) })
		g.Go(func() error {
			m.Log.Info("serving", "addr", m.Addr())
			return m.Server.Serve(gctx, m.ln)
		})
	}
	err := g.Wait()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// Close releases what Open acquired; the database closes last.
func (m *Main) Close() {
	if m.ln != nil {
		_ = m.ln.Close()
	}
	if m.Redis != nil {
		_ = m.Redis.Close()
	}
	if m.DB != nil {
		_ = m.DB.Close()
	}
}
