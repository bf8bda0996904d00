// Command hqconnect is the customs–enterprise interaction backend.
//
//	hqconnect serve     serve the API (migrations are applied at start)
//	hqconnect worker    run the outbox relay, event workers and scheduler only
//	hqconnect migrate   apply database migrations and exit
//	hqconnect seed      create data; --demo creates the demo organisation and accounts
//	hqconnect keygen    print a new Ed25519 signing key (PEM) for JWT_KEY_FILE
//	hqconnect apikey    create --name NAME: a system client's API key (printed once)
//	hqconnect bench     measure the server beside a bare baseline (make bench)
//	hqconnect fakefcm   a fake FCM server for staging (FCM_ENDPOINT=http://host:port)
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"hqconnect/internal/auth"
	"hqconnect/internal/store"
	"hqconnect/notify/fcmfake"
	"hqconnect/server/identity"
)

const usage = `usage: hqconnect <command> [flags]

commands:
  serve     serve the API over HTTP/1.1 and h2c (applies migrations first)
  worker    run the outbox relay, event workers and scheduler only (no API)
  migrate   apply the embedded database migrations and exit
  seed      --demo --password P: create the demo organisation and accounts
  keygen    print a new Ed25519 private key (PEM) for JWT_KEY_FILE
  apikey    create --name NAME: print a new API key for a system client (shown once)
  bench     measure the server beside a bare baseline; writes BENCHMARKS.md
  fakefcm   serve a fake FCM HTTP API for staging (point FCM_ENDPOINT at it)

Run "hqconnect <command> -h" for its flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "hqconnect:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return serve(ctx, rest, getenv, stdout, stderr)
	case "worker":
		return worker(ctx, rest, getenv, stderr)
	case "migrate":
		return migrate(ctx, rest, getenv, stderr)
	case "seed":
		return seed(ctx, rest, getenv, stdout, stderr)
	case "apikey":
		return apikey(ctx, rest, getenv, stdout, stderr)
	case "fakefcm":
		return fakeFCMCommand(ctx, rest, stderr)
	case "bench":
		return bench(ctx, rest, getenv, stdout, stderr)
	case "keygen":
		pem, err := auth.GenerateKeyPEM()
		if err != nil {
			return err
		}
		_, err = stdout.Write(pem)
		return err
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}

// configure parses a subcommand's settings and builds its logger.
func configure(name string, args []string, getenv func(string) string, stderr io.Writer) (Config, *slog.Logger, error) {
	c, err := parseConfig(name, args, getenv, nil)
	if err != nil {
		return c, nil, err
	}
	log, err := newLogger(c, stderr)
	return c, log, err
}

func newLogger(c Config, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", c.LogLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.LogFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("--log-format %q: want text or json", c.LogFormat)
	}
}

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, log, err := configure("serve", args, getenv, stderr)
	if err != nil {
		return err
	}
	m := &Main{Config: c, Log: log, Serve: true}
	if err := m.Open(ctx); err != nil {
		return err
	}
	defer m.Close()
	if len(m.DemoAccounts) > 0 {
		printDemoHelp(stdout, m.Addr(), c.DemoPassword, m.DemoAccounts)
	}
	return m.Run(ctx)
}

// worker runs the event pipeline without the API: any number of worker
// processes share the work through the Redis consumer group.
func worker(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	c, log, err := configure("worker", args, getenv, stderr)
	if err != nil {
		return err
	}
	m := &Main{Config: c, Log: log}
	if err := m.Open(ctx); err != nil {
		return err
	}
	defer m.Close()
	log.Info("worker running")
	return m.Run(ctx)
}

func openDB(ctx context.Context, c Config, log *slog.Logger) (*store.DB, error) {
	url := c.DatabaseURL
	if url == "" {
		url = "sqlite:" + filepath.Join(c.VarDir, "hqconnect.db")
		log.Warn("development default: SQLite database; set DATABASE_URL for PostgreSQL", "path", url)
	}
	db, err := store.Open(ctx, url)
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx, log); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func migrate(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	c, log, err := configure("migrate", args, getenv, stderr)
	if err != nil {
		return err
	}
	db, err := openDB(ctx, c, log)
	if err != nil {
		return err
	}
	defer db.Close()
	log.Info("database is up to date")
	return nil
}

func seed(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var password string
	c, err := parseConfig("seed", args, getenv, func(fs *flag.FlagSet) {
		fs.StringVar(&password, "password", "", "password of the demo accounts (at least 10 characters)")
	})
	if err != nil {
		return err
	}
	if !c.Demo {
		return errors.New("nothing to seed: pass --demo to create the demo organisation and accounts")
	}
	if password == "" {
		return errors.New("--password is required with --demo")
	}
	if err := auth.ValidatePassword("password", password); err != nil {
		return err
	}
	log, err := newLogger(c, stderr)
	if err != nil {
		return err
	}
	db, err := openDB(ctx, c, log)
	if err != nil {
		return err
	}
	defer db.Close()
	accounts, err := identity.SeedDemo(ctx, db, password)
	if err != nil {
		return err
	}
	if err := seedCapabilitiesDemo(ctx, db); err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	for _, a := range accounts {
		if err := enc.Encode(a); err != nil {
			return err
		}
	}
	return nil
}

func printDemoHelp(w io.Writer, addr, password string, accounts []identity.DemoAccount) {
	host := addr
	if strings.HasPrefix(host, "[::]:") || strings.HasPrefix(host, "0.0.0.0:") || strings.HasPrefix(host, ":") {
		host = "localhost:" + host[strings.LastIndex(host, ":")+1:]
	}
	fmt.Fprintf(w, "\nDemo data seeded. Every demo account's password is %q.\n\n", password)
	for _, a := range accounts {
		where := a.Unit
		if a.TaxCode != "" {
			where = "tax code " + a.TaxCode
		}
		fmt.Fprintf(w, "  %-36s %-16s %-28s %s\n", a.Login, a.Kind, strings.Join(a.Roles, ","), where)
	}
	login := "officer@demo.hqconnect.vn"
	if len(accounts) > 0 {
		login = accounts[0].Login
	}
	fmt.Fprintf(w, `
Sign in:
  curl -s -H 'Content-Type: application/json' \
    -d '{"identifier":"%s","password":"%s"}' \
    http://%s/hqconnect.identity.v1.IdentityService/Login

Then call GetMe with the access token:
  curl -s -H 'Content-Type: application/json' -H "Authorization: Bearer $TOKEN" -d '{}' \
    http://%s/hqconnect.identity.v1.IdentityService/GetMe

`, login, password, host, host)
}

// fakeFCMCommand serves notify/fcmfake on its own, for staging: point a
// server's FCM_ENDPOINT at it and every push is accepted and logged.
func fakeFCMCommand(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("hqconnect fakefcm", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:9099", "listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "fake FCM listening on %s: set FCM_ENDPOINT=http://%s\n", *addr, *addr)
	return fcmfake.New().ListenAndServe(ctx, *addr)
}
