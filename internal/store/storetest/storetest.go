// Package storetest gives tests a fresh, migrated database of each backend:
// SQLite in a temporary directory, and PostgreSQL in a schema of its own on
// the server named by PAYGATE_TEST_DATABASE_URL. When that variable is unset
// PostgreSQL tests are skipped, visibly (see Backends), except under CI,
// where they fail: CI must never pass without having tested PostgreSQL.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/paygate/paygate/internal/store"
)

// EnvURL names the PostgreSQL server for tests.
const EnvURL = "PAYGATE_TEST_DATABASE_URL"

// SkipMessage says why the PostgreSQL variants of tests did not run.
const SkipMessage = "storetest: " + EnvURL + " is not set: the PostgreSQL variants of these tests are skipped"

var notice sync.Once

// Backends lists the backends to run a test against: SQLite, and
// PostgreSQL when EnvURL names a server. Without it, under CI (CI set) the
// test fails; elsewhere the first call of each test binary says, once,
// that PostgreSQL is not tested.
func Backends(t testing.TB) []string {
	t.Helper()
	if os.Getenv(EnvURL) == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set, and CI is: PostgreSQL tests must not be skipped in CI", EnvURL)
		}
		notice.Do(announceSkip)
		return []string{store.SQLite}
	}
	return []string{store.SQLite, store.Postgres}
}

// announceSkip prints SkipMessage on standard error, which `go test -v`
// shows, and so does any failure's output; every PostgreSQL subtest is
// also reported as skipped with it.
func announceSkip() {
	fmt.Fprintln(os.Stderr, SkipMessage)
}

// ForEach runs f as a subtest for every backend. The PostgreSQL subtest
// runs even without a server, to be reported as skipped with SkipMessage.
func ForEach(t *testing.T, f func(t *testing.T, backend string)) {
	t.Helper()
	backends := Backends(t)
	for _, b := range []string{store.SQLite, store.Postgres} {
		t.Run(b, func(t *testing.T) {
			if !slices.Contains(backends, b) {
				t.Skip(SkipMessage)
			}
			f(t, b)
		})
	}
}

// NewURL makes an empty database of backend and returns its URL; it is
// removed when the test ends.
func NewURL(t testing.TB, backend string) string {
	t.Helper()
	if backend == store.SQLite {
		return "sqlite:" + filepath.Join(t.TempDir(), "paygate.db")
	}
	base := os.Getenv(EnvURL)
	if base == "" {
		t.Fatalf("%s is not set", EnvURL)
	}
	schema := "test_" + strings.ToLower(rand.Text()[:12])
	cfg, err := pgx.ParseConfig(base)
	if err != nil {
		t.Fatalf("parse %s: %v", EnvURL, err)
	}
	admin := stdlib.OpenDB(*cfg)
	defer admin.Close()
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() { dropSchema(base, schema) })
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func dropSchema(base, schema string) {
	cfg, err := pgx.ParseConfig(base)
	if err != nil {
		return
	}
	db := stdlib.OpenDB(*cfg)
	defer db.Close()
	_, _ = db.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
}

// Open returns a fresh, migrated database of backend.
func Open(t testing.TB, backend string) *store.DB {
	t.Helper()
	return OpenURL(t, NewURL(t, backend))
}

// OpenURL opens and migrates the database at url, closing it at the end.
func OpenURL(t testing.TB, url string) *store.DB {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, url, store.Options{})
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return db
}

// Dump renders every row of every table as text, in a stable order, for
// tests that assert that a request changed nothing or that no secret was
// written anywhere.
func Dump(t testing.TB, db *store.DB) string {
	t.Helper()
	raw := db.SQL()
	tables, err := db.Tables(context.Background())
	if err != nil || len(tables) == 0 {
		t.Fatalf("list tables: %v %v", tables, err)
	}
	var b strings.Builder
	for _, table := range tables {
		if err := dumpTable(&b, raw, table); err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
	}
	return b.String()
}

// dumpTable writes every row of table to b, one line each. An error in
// the middle of the rows (a lost connection, a row that does not scan) is
// returned, never taken for the end of the table.
func dumpTable(b *strings.Builder, raw *sql.DB, table string) error {
	rows, err := raw.Query(`SELECT * FROM ` + table + ` ORDER BY 1`)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		fmt.Fprintf(b, "%s:", table)
		for i, v := range vals {
			if bs, ok := v.([]byte); ok {
				v = printable(bs)
			}
			fmt.Fprintf(b, " %s=%v", cols[i], v)
		}
		b.WriteString("\n")
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return rows.Close()
}

// printable renders text as is and binary (hashes, ciphertexts) in hex, so
// that every row stays on one line of the dump.
func printable(b []byte) string {
	if utf8.Valid(b) && !bytes.ContainsFunc(b, func(r rune) bool { return r < ' ' && r != '\t' }) {
		return string(b)
	}
	return `\x` + hex.EncodeToString(b)
}
