// Package store owns every SQL statement of paygate. It speaks to
// PostgreSQL (pgx) and SQLite (a pure-Go driver) through database/sql with
// one set of queries; the few differences between the two are confined to
// the dialect (dialect.go) and to each backend's migrations. The SQL
// plumbing without paygate's tables in it is in sqldb.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/paygate/paygate/internal/store/sqldb"
)

//go:embed migrations
var migrations embed.FS

// Backend names.
const (
	Postgres = "postgres"
	SQLite   = "sqlite"
)

// DB is a paygate database.
type DB struct {
	dialect
	// w runs every transaction that writes; r serves reads. They are one
	// pool on PostgreSQL. On SQLite, which allows one writer at a time, w
	// has a single connection so writers queue in Go instead of failing
	// with "database is locked", while readers proceed in WAL mode.
	w, r *sql.DB
	// async writes without waiting for the disk (PostgreSQL's
	// synchronous_commit off): only for idempotency-key bookkeeping whose
	// loss in a database crash costs a replay, never money (see
	// idempotency.go). It is w on SQLite.
	async *sql.DB
	// lists runs the list queries: on PostgreSQL, planned for their
	// arguments on every call (see oneShot).
	lists sqldb.Queryer
	// searchIDs, when set, replaces the constant of the same name (tests).
	searchIDs int
}

// DefaultConnectTimeout bounds a new PostgreSQL connection when the URL
// sets no connect_timeout.
const DefaultConnectTimeout = 5 * time.Second

// Options tune a DB.
type Options struct {
	MaxConns int // PostgreSQL pool size; 0 means 20
	// Tracer sees every PostgreSQL statement and its arguments: for
	// tracing, and for the tests that read the plans of the store's own
	// queries.
	Tracer pgx.QueryTracer
}

// Open connects to url: "postgres://…" (or "postgresql://…") or
// "sqlite:PATH". It does not run migrations.
func Open(ctx context.Context, rawURL string, opt Options) (*DB, error) {
	if opt.MaxConns <= 0 {
		opt.MaxConns = 20
	}
	switch {
	case strings.HasPrefix(rawURL, "postgres://"), strings.HasPrefix(rawURL, "postgresql://"):
		cfg, err := pgx.ParseConfig(rawURL)
		if err != nil {
			return nil, fmt.Errorf("parse database url: %w", redactURL(err, rawURL))
		}
		if opt.Tracer != nil {
			cfg.Tracer = opt.Tracer
		}
		// Without connect_timeout a connection to a host that never
		// answers (a dead primary's address, a dropped route) waits for
		// ever, and so does every request that needs one.
		if !strings.Contains(rawURL, "connect_timeout=") {
			cfg.ConnectTimeout = DefaultConnectTimeout
		}
		db := stdlib.OpenDB(*cfg)
		db.SetMaxOpenConns(opt.MaxConns)
		db.SetMaxIdleConns(opt.MaxConns)
		db.SetConnMaxIdleTime(5 * time.Minute)
		acfg := cfg.Copy()
		acfg.RuntimeParams["synchronous_commit"] = "off"
		async := stdlib.OpenDB(*acfg)
		async.SetMaxOpenConns(max(2, opt.MaxConns/2))
		async.SetMaxIdleConns(max(2, opt.MaxConns/2))
		async.SetConnMaxIdleTime(5 * time.Minute)
		return &DB{dialect: postgresDialect(db), w: db, r: db, async: async, lists: oneShot{db}}, nil
	case strings.HasPrefix(rawURL, "sqlite:"):
		path := strings.TrimPrefix(strings.TrimPrefix(rawURL, "sqlite:"), "//")
		if path == "" {
			return nil, errors.New("sqlite url needs a path: sqlite:PATH")
		}
		// WAL lets readers run beside the writer; FULL sync makes every
		// acknowledged commit durable; IMMEDIATE takes the write lock at
		// BEGIN so a transaction never fails half-way on lock upgrade.
		q := url.Values{}
		for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(1)"} {
			q.Add("_pragma", p)
		}
		q.Set("_txlock", "immediate")
		q.Set("_time_format", "sqlite")
		dsn := "file:" + path + "?" + q.Encode()
		w, err := sql.Open("sqlite", dsn)
		if err != nil {
			return nil, err
		}
		w.SetMaxOpenConns(1)
		r, err := sql.Open("sqlite", dsn)
		if err != nil {
			return nil, err
		}
		r.SetMaxOpenConns(8)
		return &DB{dialect: sqliteDialect(w), w: w, r: r, async: w, lists: r}, nil
	}
	return nil, errors.New(`database url must start with "postgres://" or "sqlite:"`)
}

// redactURL keeps a password in the URL out of an error message.
func redactURL(err error, raw string) error {
	u, perr := url.Parse(raw)
	if perr != nil || u.User == nil {
		return err
	}
	if p, ok := u.User.Password(); ok && p != "" {
		return errors.New(strings.ReplaceAll(err.Error(), p, "xxxxx"))
	}
	return err
}

// Backend is Postgres or SQLite.
func (db *DB) Backend() string { return db.name }

// Close closes the pools.
func (db *DB) Close() error {
	err := db.w.Close()
	if db.r != db.w {
		err = errors.Join(err, db.r.Close())
	}
	if db.async != db.w {
		err = errors.Join(err, db.async.Close())
	}
	return err
}

// Ping checks that the database answers, for /readyz.
func (db *DB) Ping(ctx context.Context) error {
	return db.r.PingContext(ctx)
}

// Migrate applies every pending migration; safe to run from several
// processes at once on PostgreSQL (an advisory lock serializes them).
func (db *DB) Migrate(ctx context.Context) (applied int, err error) {
	p, err := db.migrations()
	if err != nil {
		return 0, err
	}
	res, err := p.Up(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	return len(res), nil
}

// migrations is the goose provider of the backend's embedded migrations.
func (db *DB) migrations() (*goose.Provider, error) {
	sub, err := fs.Sub(migrations, "migrations/"+db.name)
	if err != nil {
		return nil, err
	}
	var opts []goose.ProviderOption
	if db.goose == goose.DialectPostgres {
		// Instances starting together migrate one after the other.
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	return goose.NewProvider(db.goose, db.w, sub, opts...)
}

// tx runs fn in a write transaction, committing when fn returns nil and
// rolling back when it fails or panics.
func (db *DB) tx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return sqldb.Tx(ctx, db.w, fn)
}

// nullTime maps a nil time to SQL NULL.
func nullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return *t
}

func timePtr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}

// Pools names the connection pools, for their metrics: one on PostgreSQL,
// a writer and a reader on SQLite.
func (db *DB) Pools() map[string]*sql.DB {
	if db.w == db.r {
		return map[string]*sql.DB{"paygate": db.w, "paygate_async": db.async}
	}
	return map[string]*sql.DB{"paygate_write": db.w, "paygate_read": db.r}
}

// SQL exposes the reading pool, for tests that inspect raw rows.
func (db *DB) SQL() *sql.DB { return db.r }

// Tables lists the application's tables (not the migration bookkeeping).
func (db *DB) Tables(ctx context.Context) ([]string, error) {
	names, err := sqldb.QueryAll(ctx, db.r, scanString, db.tables+` ORDER BY 1`)
	return slices.DeleteFunc(names, func(n string) bool { return n == "goose_db_version" }), err
}

// scanString scans a row of one text column.
func scanString(row sqldb.Scanner) (string, error) {
	var s string
	err := row.Scan(&s)
	return s, err
}

// oneShot runs statements unprepared (an unnamed statement), so that
// PostgreSQL plans each for its arguments. A list's best index depends on
// them: a merchant with ten payments beside one with a million, a status
// that two in a hundred payments have. A prepared statement soon settles
// on a generic plan, made for no value in particular, which can walk the
// id index of the whole table looking for the rare rows.
type oneShot struct{ *sql.DB }

func (o oneShot) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return o.DB.QueryContext(ctx, query, append([]any{pgx.QueryExecModeExec}, args...)...)
}

func (o oneShot) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	return o.DB.QueryRowContext(ctx, query, append([]any{pgx.QueryExecModeExec}, args...)...)
}
