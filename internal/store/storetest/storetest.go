// Package storetest gives tests a fresh, migrated database of each backend:
// SQLite in a temporary directory, and PostgreSQL in a schema of its own on
// the server named by PAYGATE_TEST_DATABASE_URL. When that variable is unset
// PostgreSQL tests are skipped, except under CI, where they fail: CI must
// never pass without having tested PostgreSQL.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/paygate/paygate/internal/store"
)

// EnvURL names the PostgreSQL server for tests.
const EnvURL = "PAYGATE_TEST_DATABASE_URL"

// Backends lists the backends to run a test against.
func Backends(t testing.TB) []string {
	t.Helper()
	if os.Getenv(EnvURL) == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set, and CI is: PostgreSQL tests must not be skipped in CI", EnvURL)
		}
		return []string{store.SQLite}
	}
	return []string{store.SQLite, store.Postgres}
}

// ForEach runs f as a subtest for every backend.
func ForEach(t *testing.T, f func(t *testing.T, backend string)) {
	for _, b := range Backends(t) {
		t.Run(b, func(t *testing.T) { f(t, b) })
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
		rows, err := raw.Query(`SELECT * FROM ` + table + ` ORDER BY 1`)
		if err != nil {
			t.Fatalf("dump %s: %v", table, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%s:", table)
			for i, v := range vals {
				if bs, ok := v.([]byte); ok {
					v = printable(bs)
				}
				fmt.Fprintf(&b, " %s=%v", cols[i], v)
			}
			b.WriteString("\n")
		}
		rows.Close()
	}
	return b.String()
}

// printable renders text as is and binary (hashes, ciphertexts) in hex, so
// that every row stays on one line of the dump.
func printable(b []byte) string {
	if utf8.Valid(b) && !bytes.ContainsFunc(b, func(r rune) bool { return r < ' ' && r != '\t' }) {
		return string(b)
	}
	return `\x` + hex.EncodeToString(b)
}
