// Package store opens the SQL database (SQLite by default, PostgreSQL in
// production), applies the embedded migrations and runs transactions. The
// same query text, with $1 placeholders, runs on both.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // "pgx" driver
	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite" // "sqlite" driver
)

// Migrations common to both databases are in migrations/; the few whose SQL
// must differ (full-text search) are in migrations/sqlite/ and
// migrations/postgres/, numbered in the same sequence: each database runs the
// common ones and its own, merged by version (see MigrationsFS).
//
//go:embed migrations/*.sql migrations/sqlite/*.sql migrations/postgres/*.sql
var migrations embed.FS

// Dialect names the database engine.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is an open database.
type DB struct {
	*sql.DB
	Dialect Dialect

	// stmts caches prepared statements by query text on SQLite, where
	// parsing a statement costs more than running a point query. (pgx caches
	// prepared statements per connection by itself.)
	stmtMu sync.RWMutex
	stmts  map[string]*sql.Stmt
}

// maxCachedStmts bounds the statement cache; queries are constant strings in
// the code, so the bound is only a guard against one built from data.
const maxCachedStmts = 512

// stmt returns the cached prepared statement for query, preparing it on
// first use, or nil when statements are not cached.
func (db *DB) stmt(ctx context.Context, query string) *sql.Stmt {
	if db.Dialect != SQLite {
		return nil
	}
	db.stmtMu.RLock()
	st := db.stmts[query]
	db.stmtMu.RUnlock()
	if st != nil {
		return st
	}
	db.stmtMu.Lock()
	defer db.stmtMu.Unlock()
	if st := db.stmts[query]; st != nil {
		return st
	}
	if len(db.stmts) >= maxCachedStmts {
		return nil
	}
	st, err := db.DB.PrepareContext(ctx, query)
	if err != nil {
		// Run it unprepared: the caller gets the database's own error.
		return nil
	}
	if db.stmts == nil {
		db.stmts = make(map[string]*sql.Stmt)
	}
	db.stmts[query] = st
	return st
}

// QueryContext runs a query, through the statement cache on SQLite.
func (db *DB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := db.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return db.DB.QueryContext(ctx, query, args...)
}

// QueryRowContext runs a one-row query, through the statement cache on
// SQLite.
func (db *DB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := db.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return db.DB.QueryRowContext(ctx, query, args...)
}

// ExecContext runs a statement, through the statement cache on SQLite.
func (db *DB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := db.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return db.DB.ExecContext(ctx, query, args...)
}

// Close closes the cached statements, then the database.
func (db *DB) Close() error {
	db.stmtMu.Lock()
	for _, st := range db.stmts {
		_ = st.Close()
	}
	db.stmts = nil
	db.stmtMu.Unlock()
	return db.DB.Close()
}

// DefaultSQLitePath is where the development database lives.
const DefaultSQLitePath = "var/hqconnect.db"

// Open opens the database named by url: "postgres://…" (or "postgresql://…")
// for PostgreSQL, "sqlite:PATH" or a plain file path for SQLite, and the
// development default (SQLite at var/hqconnect.db) when url is empty.
func Open(ctx context.Context, url string) (*DB, error) {
	switch {
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		db, err := sql.Open("pgx", url)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		db.SetMaxOpenConns(32)
		db.SetMaxIdleConns(32)
		db.SetConnMaxIdleTime(5 * time.Minute)
		if err := ping(ctx, db); err != nil {
			return nil, err
		}
		return &DB{DB: db, Dialect: Postgres}, nil
	default:
		path := strings.TrimPrefix(url, "sqlite:")
		if path == "" {
			path = DefaultSQLitePath
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return nil, fmt.Errorf("create database directory: %w", err)
		}
		// WAL lets readers run beside the writer; busy_timeout makes a second
		// writer wait instead of failing; _txlock=immediate takes the write
		// lock at BEGIN so two read-then-write transactions cannot deadlock.
		dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)" +
			"&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_txlock=immediate"
		db, err := sql.Open("sqlite", dsn)
		if err != nil {
			return nil, fmt.Errorf("open sqlite: %w", err)
		}
		db.SetMaxOpenConns(8)
		db.SetMaxIdleConns(8)
		if err := ping(ctx, db); err != nil {
			return nil, err
		}
		return &DB{DB: db, Dialect: SQLite}, nil
	}
}

func ping(ctx context.Context, db *sql.DB) error {
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		_ = db.Close()
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

// Migrate applies every embedded migration not applied yet.
func (db *DB) Migrate(ctx context.Context, log *slog.Logger) error {
	sub, err := MigrationsFS(db.Dialect)
	if err != nil {
		return err
	}
	d := goose.DialectSQLite3
	if db.Dialect == Postgres {
		d = goose.DialectPostgres
	}
	p, err := goose.NewProvider(d, db.DB, sub)
	if err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	for _, r := range res {
		if log != nil {
			log.Info("migration applied", "version", r.Source.Version, "file", filepath.Base(r.Source.Path), "took", r.Duration)
		}
	}
	return nil
}

// MigrationsFS returns the migrations dialect runs, as one flat directory:
// the common files and the dialect's own. A file name in both is an error,
// and goose refuses two files with one version, so a dialect-specific
// migration takes a version of its own in the common sequence.
func MigrationsFS(dialect Dialect) (fs.FS, error) {
	return mergeFS(migrations, "migrations", "migrations/"+string(dialect))
}

// mergeFS flattens the files of dirs of fsys into one directory.
func mergeFS(fsys fs.FS, dirs ...string) (fs.FS, error) {
	m := flatFS{fsys: fsys, paths: map[string]string{}}
	for _, dir := range dirs {
		entries, err := fs.ReadDir(fsys, dir)
		if err != nil {
			return nil, fmt.Errorf("read migrations in %s: %w", dir, err)
		}
		for _, e := range entries {
			if e.IsDir() {
				continue
			}
			if prev, dup := m.paths[e.Name()]; dup {
				return nil, fmt.Errorf("migration %s is both %s and %s", e.Name(), prev, dir+"/"+e.Name())
			}
			m.paths[e.Name()] = dir + "/" + e.Name()
			m.entries = append(m.entries, e)
		}
	}
	slices.SortFunc(m.entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return m, nil
}

// flatFS serves files from several directories of fsys as one directory.
type flatFS struct {
	fsys    fs.FS
	paths   map[string]string // name → path in fsys
	entries []fs.DirEntry
}

func (f flatFS) Open(name string) (fs.File, error) {
	p, ok := f.paths[name]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return f.fsys.Open(p)
}

func (f flatFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if name != "." {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	return slices.Clone(f.entries), nil
}

// Queryer is what both *sql.DB and *sql.Tx offer, so read helpers work inside
// and outside a transaction.
type Queryer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Tx runs fn in a transaction, committing when fn returns nil and rolling
// back otherwise.
func (db *DB) Tx(ctx context.Context, fn func(tx *sql.Tx) error) (err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// IsUniqueViolation reports whether err is a unique-constraint failure on
// either database.
func IsUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	// PostgreSQL SQLSTATE 23505; SQLite "UNIQUE constraint failed" (2067).
	return strings.Contains(msg, "SQLSTATE 23505") || strings.Contains(msg, "UNIQUE constraint failed")
}

// ErrNoRows is sql.ErrNoRows, re-exported for callers that only import store.
var ErrNoRows = sql.ErrNoRows

// IsNoRows reports whether err is sql.ErrNoRows.
func IsNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// Now returns the current time in UTC truncated to microseconds, the
// precision both databases keep.
func Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// InList returns the placeholders "$first, $first+1, …" for vals and the
// values as query arguments, for an IN (…) list that runs on both databases.
func InList(first int, vals []string) (string, []any) {
	var b strings.Builder
	args := make([]any, len(vals))
	for i, v := range vals {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("$")
		b.WriteString(strconv.Itoa(first + i))
		args[i] = v
	}
	return b.String(), args
}

// Clock returns now as a clock in UTC truncated to microseconds like Now,
// or Now itself when now is nil (tests inject a clock).
func Clock(now func() time.Time) func() time.Time {
	if now == nil {
		return Now
	}
	return func() time.Time { return now().UTC().Truncate(time.Microsecond) }
}
