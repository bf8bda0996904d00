// Package server is hqconnect's HTTP server: the mux of Connect handlers, the
// interceptors every RPC goes through (recovery, logging and metrics, error
// mapping, authentication and authorization), health, readiness, metrics and
// gRPC reflection, and graceful shutdown.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"hqconnect/internal/auth"
)

// Defaults for the zero fields of Config.
const (
	DefaultAddr              = ":8080"
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10
	DefaultMaxRequestBytes   = 4 << 20
	DefaultShutdownTimeout   = 15 * time.Second

	// readyCheckTimeout bounds each ReadyCheck run by /readyz.
	readyCheckTimeout = 2 * time.Second
	// compressMinBytes: smaller responses are sent uncompressed.
	compressMinBytes = 1024
)

// Config is the server's HTTP configuration. Zero fields take the defaults.
type Config struct {
	Addr              string        // default ":8080"
	ReadHeaderTimeout time.Duration // default 10s
	IdleTimeout       time.Duration // default 120s
	MaxHeaderBytes    int           // default 64 KiB
	// MaxRequestBytes limits each RPC request message (connect.WithReadMaxBytes)
	// and the body of every non-RPC request (http.MaxBytesReader). Default 4 MiB.
	MaxRequestBytes int64
	// CORSOrigins are the allowed browser origins ("https://console.example");
	// "*" allows any origin; empty turns CORS off.
	CORSOrigins []string
	// TrustProxy takes the client IP from the first X-Forwarded-For hop. Set
	// it only behind a proxy that overwrites that header.
	TrustProxy      bool
	ShutdownTimeout time.Duration // default 15s
}

func (c *Config) setDefaults() {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.ReadHeaderTimeout <= 0 {
		c.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if c.MaxRequestBytes <= 0 {
		c.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
}

// Authenticator turns an access token into the caller. It returns an
// *errs.Error (Unauthenticated) for a bad, expired or revoked token.
// *auth.Sessions implements it.
type Authenticator interface {
	Authenticate(ctx context.Context, accessToken string) (*auth.Principal, error)
}

// ReadyCheck is one dependency /readyz checks (database, Redis…).
type ReadyCheck struct {
	Name  string
	Check func(ctx context.Context) error
}

// Service is a Connect service to mount.
type Service struct {
	// Name is the fully qualified service name, e.g.
	// identityv1connect.IdentityServiceName. Its descriptor must be in the
	// global protobuf registry (it is once the generated package is linked).
	Name string
	// Mount builds the service's handler with the server's options, e.g.
	//	func(o ...connect.HandlerOption) (string, http.Handler) {
	//		return identityv1connect.NewIdentityServiceHandler(h, o...)
	//	}
	Mount func(opts ...connect.HandlerOption) (string, http.Handler)
}

// Deps are what the server is built from.
type Deps struct {
	Log      *slog.Logger // slog.Default() when nil
	Auth     Authenticator
	Ready    []ReadyCheck // /readyz runs them all (timeout 2s each)
	Services []Service
	// Registry receives the RPC metrics and is served on /metrics. When nil,
	// a new one with the Go and process collectors is used.
	Registry *prometheus.Registry
	// Policies maps each procedure to who may call it; server.Policies when
	// nil.
	Policies map[string]Policy
	// APIKeys, when set, authenticates system clients: a bearer token that
	// starts with auth.APIKeyPrefix goes to it instead of Auth. Without it,
	// keys are refused.
	APIKeys Authenticator
}

// Procedures of the infrastructure services the server always mounts.
var infraProcedures = []string{
	"/grpc.health.v1.Health/Check",
	"/grpc.health.v1.Health/Watch",
	"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
	"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
}

// Server is hqconnect's HTTP server. Build it with New.
type Server struct {
	cfg      Config
	log      *slog.Logger
	auth     Authenticator
	apiKeys  Authenticator
	policies map[string]Policy
	ready    []ReadyCheck
	registry *prometheus.Registry
	metrics  *rpcMetrics
	health   *grpchealth.StaticChecker
	services []string // mounted service names

	// procedures are the mounted procedures (the only metric labels used).
	procedures map[string]bool
	// rpcPrefixes are the mounted services' paths ("/pkg.Service/").
	rpcPrefixes map[string]bool

	handler http.Handler
	httpSrv *http.Server

	// draining is cancelled (cause errShuttingDown) when a graceful shutdown
	// starts: open streams end and /readyz reports 503.
	draining context.Context
	drain    context.CancelCauseFunc
	// base is every request's root context (http.Server.BaseContext); it is
	// cancelled when a shutdown gives up waiting, so nothing outlives Serve.
	base       context.Context
	cancelBase context.CancelCauseFunc

	addr atomic.Pointer[string]
}

// New builds a Server. It fails if a mounted procedure has no Policy: every
// procedure must say who may call it.
func New(cfg Config, deps Deps) (*Server, error) {
	cfg.setDefaults()
	if cfg.MaxRequestBytes > int64(^uint(0)>>1) {
		return nil, fmt.Errorf("server: MaxRequestBytes %d is too large", cfg.MaxRequestBytes)
	}
	if deps.Auth == nil {
		return nil, errors.New("server: Deps.Auth is required")
	}
	s := &Server{
		cfg:         cfg,
		log:         deps.Log,
		auth:        deps.Auth,
		apiKeys:     deps.APIKeys,
		policies:    deps.Policies,
		ready:       deps.Ready,
		registry:    deps.Registry,
		procedures:  make(map[string]bool),
		rpcPrefixes: make(map[string]bool),
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.policies == nil {
		s.policies = Policies
	}
	for _, rc := range s.ready {
		if rc.Name == "" || rc.Check == nil {
			return nil, errors.New("server: a ReadyCheck needs a Name and a Check")
		}
	}

	// Every mounted procedure must be declared.
	for _, svc := range deps.Services {
		if svc.Mount == nil {
			return nil, fmt.Errorf("server: service %q has no Mount func", svc.Name)
		}
		if slices.Contains(s.services, svc.Name) {
			return nil, fmt.Errorf("server: service %q is mounted twice", svc.Name)
		}
		procs, err := serviceProcedures(svc.Name)
		if err != nil {
			return nil, err
		}
		s.services = append(s.services, svc.Name)
		for _, p := range procs {
			s.procedures[p] = true
		}
	}
	for _, p := range infraProcedures {
		s.procedures[p] = true
	}
	var undeclared []string
	for p := range s.procedures {
		if _, ok := s.policies[p]; !ok {
			undeclared = append(undeclared, p)
		}
	}
	if len(undeclared) > 0 {
		slices.Sort(undeclared)
		return nil, fmt.Errorf("server: %d mounted procedure(s) have no Policy (declare them in server.Policies): %s",
			len(undeclared), strings.Join(undeclared, ", "))
	}

	// Metrics.
	if s.registry == nil {
		s.registry = prometheus.NewRegistry()
		s.registry.MustRegister(
			collectors.NewGoCollector(),
			collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		)
	}
	m, err := newRPCMetrics(s.registry)
	if err != nil {
		return nil, err
	}
	s.metrics = m

	s.draining, s.drain = context.WithCancelCause(context.Background())
	s.base, s.cancelBase = context.WithCancelCause(context.Background())

	// Handlers. The first interceptor is the outermost: the logging and
	// metrics layer sees the final code, after errors are mapped.
	opts := []connect.HandlerOption{
		connect.WithInterceptors(
			observeInterceptor{s},
			drainInterceptor{s},
			errorInterceptor{s},
			recoverInterceptor{},
			authInterceptor{s},
		),
		connect.WithReadMaxBytes(int(cfg.MaxRequestBytes)),
		connect.WithCompressMinBytes(compressMinBytes),
	}
	mux := http.NewServeMux()
	mount := func(path string, h http.Handler) error {
		if s.rpcPrefixes[path] {
			return fmt.Errorf("server: %s is mounted twice", path)
		}
		s.rpcPrefixes[path] = true
		mux.Handle(path, h)
		return nil
	}
	for _, svc := range deps.Services {
		path, h := svc.Mount(opts...)
		if want := "/" + svc.Name + "/"; path != want {
			return nil, fmt.Errorf("server: service %q mounts on %q, want %q (wrong Name?)", svc.Name, path, want)
		}
		if err := mount(path, h); err != nil {
			return nil, err
		}
	}
	s.health = grpchealth.NewStaticChecker(s.services...)
	reflector := grpcreflect.NewStaticReflector(append(slices.Clone(s.services), grpchealth.HealthV1ServiceName)...)
	for _, build := range []func() (string, http.Handler){
		func() (string, http.Handler) { return grpchealth.NewHandler(s.health, opts...) },
		func() (string, http.Handler) { return grpcreflect.NewHandlerV1(reflector, opts...) },
		func() (string, http.Handler) { return grpcreflect.NewHandlerV1Alpha(reflector, opts...) },
	} {
		if err := mount(build()); err != nil {
			return nil, err
		}
	}
	mux.HandleFunc("GET /healthz", serveHealthz)
	mux.HandleFunc("GET /readyz", s.serveReadyz)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelError),
	}))

	s.handler = s.middleware(mux)

	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	protocols.SetHTTP2(true) // when served with TLS
	s.httpSrv = &http.Server{
		Addr:              cfg.Addr,
		Handler:           s.handler,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		Protocols:         protocols,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return s.base },
	}
	// Shutdown closes the listeners, then runs this: open streams are told
	// to end (they would otherwise hold Shutdown until its timeout).
	s.httpSrv.RegisterOnShutdown(s.startDraining)
	return s, nil
}

// serviceProcedures lists the procedures of a service from its descriptor.
func serviceProcedures(name string) ([]string, error) {
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(name))
	if err != nil {
		return nil, fmt.Errorf("server: service %q: %w", name, err)
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	if !ok {
		return nil, fmt.Errorf("server: %q is not a service", name)
	}
	methods := sd.Methods()
	procs := make([]string, methods.Len())
	for i := range methods.Len() {
		procs[i] = "/" + name + "/" + string(methods.Get(i).Name())
	}
	return procs, nil
}

// Handler returns the complete handler: HTTP middleware around the mux.
func (s *Server) Handler() http.Handler { return s.handler }

// HTTPServer returns the *http.Server that Serve uses: HTTP/1.1 and h2c,
// with the configured timeouts and limits.
func (s *Server) HTTPServer() *http.Server { return s.httpSrv }

// Addr returns the address the server listens on once Serve has started
// (the real port when Config.Addr ends in ":0"), "" before.
func (s *Server) Addr() string {
	if a := s.addr.Load(); a != nil {
		return *a
	}
	return ""
}

// ListenAndServe listens on Config.Addr and serves until ctx is done.
func (s *Server) ListenAndServe(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.cfg.Addr, err)
	}
	s.log.InfoContext(ctx, "server listening", "addr", ln.Addr().String())
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx is done, then shuts down gracefully: it stops
// accepting, ends open streams (their callers get Unavailable), and waits
// for in-flight requests up to Config.ShutdownTimeout. It returns nil on a
// clean stop.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	addr := ln.Addr().String()
	s.addr.Store(&addr)
	errc := make(chan error, 1)
	go func() { errc <- s.httpSrv.Serve(ln) }()

	select {
	case err := <-errc:
		s.startDraining()
		s.cancelBase(errShuttingDown)
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}

	s.log.Info("server shutting down", "addr", addr, "timeout", s.cfg.ShutdownTimeout)
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	err := s.httpSrv.Shutdown(shutdownCtx)
	// Whatever is still running is told to stop now.
	s.cancelBase(errShuttingDown)
	if err != nil {
		closeErr := s.httpSrv.Close()
		<-errc
		return fmt.Errorf("graceful shutdown: %w", errors.Join(err, closeErr))
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	s.log.Info("server stopped", "addr", addr)
	return nil
}

// startDraining marks the server as shutting down: health says NOT_SERVING,
// /readyz answers 503 and open streams end.
func (s *Server) startDraining() {
	if s.draining.Err() != nil {
		return
	}
	s.health.SetStatus("", grpchealth.StatusNotServing)
	for _, name := range s.services {
		s.health.SetStatus(name, grpchealth.StatusNotServing)
	}
	s.drain(errShuttingDown)
}
