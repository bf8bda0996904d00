package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// Config is every setting of hqconnect. Each is a flag with an environment
// fallback; the defaults, all here, give a working development server.
type Config struct {
	Addr        string
	DatabaseURL string
	RedisURL    string
	RedisPrefix string
	VarDir      string
	// BlobDir holds issue attachments; empty = <VarDir>/blobs.
	BlobDir string

	JWTKeyFiles []string
	JWTIssuer   string
	JWTAudience string
	AccessTTL   time.Duration
	RefreshTTL  time.Duration

	CORSOrigins       []string
	TrustProxy        bool
	MaxRequestBytes   int64
	ReadHeaderTimeout time.Duration
	ShutdownTimeout   time.Duration

	LogLevel  string
	LogFormat string

	// FCM: no credentials and no endpoint = the log-only sender.
	FCMCredentialsFile string
	FCMProjectID       string
	FCMEndpoint        string
	// Worker runs the outbox relay, the event workers and the scheduler
	// inside serve (the worker command always does).
	Worker bool
	// WorkerConcurrency is how many events one worker handles at once.
	WorkerConcurrency int

	// Demo seeds the demo accounts into an empty embedded database at start.
	Demo         bool
	DemoPassword string
}

// DefaultDemoPassword is the documented password of the demo accounts that
// `make run` creates on the embedded default.
const DefaultDemoPassword = "hqconnect-demo"

// envOr returns the first set environment variable of names, or def.
func envOr(getenv func(string) string, def string, names ...string) string {
	for _, n := range names {
		if v := getenv(n); v != "" {
			return v
		}
	}
	return def
}

// registerFlags declares the settings shared by serve, migrate and seed on fs,
// with environment fallbacks read through getenv.
func registerFlags(fs *flag.FlagSet, c *Config, getenv func(string) string) (finish func() error) {
	var keyFiles, cors string
	var errs []string
	dur := func(p *time.Duration, name, env, def, usage string) {
		v := envOr(getenv, def, env)
		d, err := time.ParseDuration(v)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s=%q: %v", env, v, err))
		}
		fs.DurationVar(p, name, d, usage+" (env "+env+")")
	}
	boolean := func(p *bool, name, env string, usage string) {
		v := envOr(getenv, "false", env)
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s=%q: want true or false", env, v))
		}
		fs.BoolVar(p, name, b, usage+" (env "+env+")")
	}

	fs.StringVar(&c.Addr, "addr", envOr(getenv, ":8080", "HQ_ADDR"), "listen address (env HQ_ADDR)")
	fs.StringVar(&c.DatabaseURL, "database-url", envOr(getenv, "", "DATABASE_URL"),
		"postgres://… for PostgreSQL; empty = SQLite under --var-dir (env DATABASE_URL)")
	fs.StringVar(&c.RedisURL, "redis-url", envOr(getenv, "", "REDIS_URL"),
		"redis://host:6379/0, or with ?addr=… for a cluster; empty = in-process Redis (env REDIS_URL)")
	fs.StringVar(&c.RedisPrefix, "redis-prefix", envOr(getenv, "hq:", "HQ_REDIS_PREFIX"), "prefix of every Redis key and channel (env HQ_REDIS_PREFIX)")
	fs.StringVar(&c.VarDir, "var-dir", envOr(getenv, "var", "HQ_VAR_DIR"), "directory for development data: SQLite file, generated key (env HQ_VAR_DIR)")
	fs.StringVar(&c.BlobDir, "blob-dir", envOr(getenv, "", "HQ_BLOB_DIR"),
		"directory for attachments, shared by every instance (a network volume); empty = <var-dir>/blobs (env HQ_BLOB_DIR)")
	fs.StringVar(&keyFiles, "jwt-key-file", envOr(getenv, "", "JWT_KEY_FILE"),
		"PEM file(s) with Ed25519 or P-256 private keys, comma-separated; the last key signs, all verify; empty = generated under --var-dir (env JWT_KEY_FILE)")
	fs.StringVar(&c.JWTIssuer, "jwt-issuer", envOr(getenv, "hqconnect", "HQ_JWT_ISSUER"), "access token issuer (env HQ_JWT_ISSUER)")
	fs.StringVar(&c.JWTAudience, "jwt-audience", envOr(getenv, "hqconnect-api", "HQ_JWT_AUDIENCE"), "access token audience (env HQ_JWT_AUDIENCE)")
	dur(&c.AccessTTL, "access-ttl", "HQ_ACCESS_TTL", "15m", "access token lifetime")
	dur(&c.RefreshTTL, "refresh-ttl", "HQ_REFRESH_TTL", "720h", "idle session lifetime (each refresh extends it)")
	fs.StringVar(&cors, "cors-origins", envOr(getenv, "", "HQ_CORS_ORIGINS"), "browser origins allowed by CORS, comma-separated, * for any (env HQ_CORS_ORIGINS)")
	boolean(&c.TrustProxy, "trust-proxy", "HQ_TRUST_PROXY", "take the client IP from X-Forwarded-For")
	fs.Int64Var(&c.MaxRequestBytes, "max-request-bytes", 4<<20, "largest accepted request body")
	dur(&c.ReadHeaderTimeout, "read-header-timeout", "HQ_READ_HEADER_TIMEOUT", "10s", "time allowed to read request headers")
	dur(&c.ShutdownTimeout, "shutdown-timeout", "HQ_SHUTDOWN_TIMEOUT", "15s", "graceful shutdown limit")
	fs.StringVar(&c.LogLevel, "log-level", envOr(getenv, "info", "HQ_LOG_LEVEL"), "debug, info, warn or error (env HQ_LOG_LEVEL)")
	fs.StringVar(&c.LogFormat, "log-format", envOr(getenv, "text", "HQ_LOG_FORMAT"), "text or json (env HQ_LOG_FORMAT)")
	fs.StringVar(&c.FCMCredentialsFile, "fcm-credentials-file", envOr(getenv, "", "FCM_CREDENTIALS_FILE"),
		"Firebase service-account JSON; empty (and no --fcm-endpoint) = log-only pushes (env FCM_CREDENTIALS_FILE)")
	fs.StringVar(&c.FCMProjectID, "fcm-project-id", envOr(getenv, "", "FCM_PROJECT_ID"),
		"Firebase project id; default: the one in the credentials file (env FCM_PROJECT_ID)")
	fs.StringVar(&c.FCMEndpoint, "fcm-endpoint", envOr(getenv, "", "FCM_ENDPOINT"),
		"base URL of an FCM-compatible server, e.g. a fake for staging (env FCM_ENDPOINT)")
	worker := envOr(getenv, "true", "HQ_WORKER")
	wb, werr := strconv.ParseBool(worker)
	if werr != nil {
		errs = append(errs, fmt.Sprintf("HQ_WORKER=%q: want true or false", worker))
	}
	fs.BoolVar(&c.Worker, "worker", wb, "serve: also run the outbox relay, event workers and scheduler (env HQ_WORKER)")
	fs.IntVar(&c.WorkerConcurrency, "worker-concurrency", 64, "events one worker handles at once (HQ_WORKER_CONCURRENCY)")
	boolean(&c.Demo, "demo", "HQ_DEMO", "on the embedded SQLite default only: seed demo accounts into an empty database")
	fs.StringVar(&c.DemoPassword, "demo-password", envOr(getenv, DefaultDemoPassword, "HQ_DEMO_PASSWORD"), "password of the demo accounts (env HQ_DEMO_PASSWORD)")

	if v := getenv("HQ_WORKER_CONCURRENCY"); v != "" {
		if n, err := strconv.Atoi(v); err != nil || n <= 0 || n > 1024 {
			errs = append(errs, fmt.Sprintf("HQ_WORKER_CONCURRENCY=%q: want 1 to 1024", v))
		} else {
			_ = fs.Set("worker-concurrency", v)
		}
	}
	if v := getenv("HQ_MAX_REQUEST_BYTES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			errs = append(errs, fmt.Sprintf("HQ_MAX_REQUEST_BYTES=%q: want a positive integer", v))
		} else {
			_ = fs.Set("max-request-bytes", v)
		}
	}
	return func() error {
		if len(errs) > 0 {
			return fmt.Errorf("bad environment: %s", strings.Join(errs, "; "))
		}
		c.JWTKeyFiles = splitList(keyFiles)
		c.CORSOrigins = splitList(cors)
		if c.AccessTTL < time.Minute || c.AccessTTL > time.Hour {
			return fmt.Errorf("--access-ttl %v: keep it between 1m and 1h", c.AccessTTL)
		}
		if c.RefreshTTL < c.AccessTTL {
			return fmt.Errorf("--refresh-ttl %v must be longer than --access-ttl %v", c.RefreshTTL, c.AccessTTL)
		}
		if c.MaxRequestBytes <= 0 {
			return fmt.Errorf("--max-request-bytes must be positive")
		}
		return nil
	}
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// parseConfig parses args (without the subcommand) for a subcommand.
func parseConfig(name string, args []string, getenv func(string) string, extra func(fs *flag.FlagSet)) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("hqconnect "+name, flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	finish := registerFlags(fs, &c, getenv)
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return c, finish()
}
