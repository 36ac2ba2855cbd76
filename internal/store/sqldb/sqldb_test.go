package sqldb_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/paygate/paygate/internal/store/sqldb"
)

// writers returns the write transaction of each backend at hand, over a
// fresh table t(id text primary key, n integer).
func writers(t *testing.T) map[string]struct {
	db *sql.DB
	w  sqldb.Writer
} {
	t.Helper()
	out := map[string]struct {
		db *sql.DB
		w  sqldb.Writer
	}{}
	lite, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "t.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lite.Close() })
	out["sqlite"] = struct {
		db *sql.DB
		w  sqldb.Writer
	}{lite, sqldb.TxWriter{DB: lite}}
	if url := os.Getenv("PAYGATE_TEST_DATABASE_URL"); url != "" {
		cfg, err := pgx.ParseConfig(url)
		if err != nil {
			t.Fatal(err)
		}
		pg := stdlib.OpenDB(*cfg)
		t.Cleanup(func() { pg.Close() })
		if _, err := pg.Exec(`CREATE TEMPORARY TABLE IF NOT EXISTS t (id text PRIMARY KEY, n integer)`); err != nil {
			t.Fatal(err)
		}
		// A temporary table lives in one connection: keep to one.
		pg.SetMaxOpenConns(1)
		out["postgres"] = struct {
			db *sql.DB
			w  sqldb.Writer
		}{pg, sqldb.PipelineWriter{DB: pg}}
	}
	if _, err := lite.Exec(`CREATE TABLE t (id text PRIMARY KEY, n integer)`); err != nil {
		t.Fatal(err)
	}
	return out
}

func count(t *testing.T, db *sql.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM t`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A transaction whose function panics is rolled back, and the panic goes on.
func TestTxRollsBackOnPanic(t *testing.T) {
	for name, b := range writers(t) {
		t.Run(name, func(t *testing.T) {
			func() {
				defer func() {
					if recover() == nil {
						t.Error("the panic was swallowed")
					}
				}()
				_ = sqldb.Tx(context.Background(), b.db, func(tx *sql.Tx) error {
					if _, err := tx.Exec(`INSERT INTO t (id, n) VALUES ('a', 1)`); err != nil {
						t.Fatal(err)
					}
					panic("boom")
				})
			}()
			if n := count(t, b.db); n != 0 {
				t.Fatalf("%d rows after a panic", n)
			}
			// The pool is usable again: the connection was not left in a
			// transaction.
			if err := sqldb.Tx(context.Background(), b.db, func(tx *sql.Tx) error {
				_, err := tx.Exec(`INSERT INTO t (id, n) VALUES ('b', 2)`)
				return err
			}); err != nil || count(t, b.db) != 1 {
				t.Fatalf("after the panic: %v, %d rows", err, count(t, b.db))
			}
		})
	}
}

// Every writer reads, in order, then writes; a missing row is
// sql.ErrNoRows on both backends, and a failed write rolls everything back.
func TestWriters(t *testing.T) {
	ctx := context.Background()
	for name, b := range writers(t) {
		t.Run(name, func(t *testing.T) {
			if _, err := b.db.Exec(`INSERT INTO t (id, n) VALUES ('x', 1)`); err != nil {
				t.Fatal(err)
			}
			var n1, n2 int
			reads := []sqldb.Read{
				{Query: `SELECT n FROM t WHERE id = $1`, Args: []any{"x"}, Scan: func(r sqldb.Scanner) error { return r.Scan(&n1) }},
				{Query: `SELECT n + 1 FROM t WHERE id = $1`, Args: []any{"x"}, Scan: func(r sqldb.Scanner) error { return r.Scan(&n2) }},
			}
			if err := b.w.Write(ctx, reads, func(q sqldb.Execer) error {
				_, err := q.ExecContext(ctx, `UPDATE t SET n = $1 WHERE id = 'x'`, n1+n2)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			var n int
			if err := b.db.QueryRow(`SELECT n FROM t WHERE id = 'x'`).Scan(&n); err != nil || n != 3 {
				t.Fatalf("n = %d (%v), want 3", n, err)
			}
			missing := []sqldb.Read{{Query: `SELECT n FROM t WHERE id = $1`, Args: []any{"nope"}, Scan: func(r sqldb.Scanner) error { return r.Scan(&n1) }}}
			if err := b.w.Write(ctx, missing, func(sqldb.Execer) error { return nil }); !errors.Is(err, sql.ErrNoRows) {
				t.Errorf("missing row: %v, want sql.ErrNoRows", err)
			}
			err := b.w.Write(ctx, nil, func(q sqldb.Execer) error {
				if _, err := q.ExecContext(ctx, `INSERT INTO t (id, n) VALUES ('y', 1)`); err != nil {
					return err
				}
				_, err := q.ExecContext(ctx, `INSERT INTO t (id, n) VALUES ('x', 1)`) // duplicate
				return err
			})
			if err == nil || count(t, b.db) != 1 {
				t.Fatalf("a failed write: %v, %d rows (want the first write rolled back)", err, count(t, b.db))
			}
		})
	}
}

func TestList(t *testing.T) {
	db := writers(t)["sqlite"].db
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		if _, err := db.Exec(`INSERT INTO t (id, n) VALUES ($1, 0)`, id); err != nil {
			t.Fatal(err)
		}
	}
	scan := func(r sqldb.Scanner) (string, error) {
		var id string
		return id, r.Scan(&id)
	}
	page := func(p sqldb.Page) ([]string, bool) {
		var f sqldb.Filter
		f.Add("n = $%d", 0)
		f.Eq("id", "") // not asked for: no condition
		ids, more, err := sqldb.List(context.Background(), db, `SELECT id FROM t`, "id", f, p, scan)
		if err != nil {
			t.Fatal(err)
		}
		return ids, more
	}
	for _, c := range []struct {
		p    sqldb.Page
		want string
		more bool
	}{
		{sqldb.Page{Limit: 2}, "[e d]", true},
		{sqldb.Page{Limit: 2, After: "d"}, "[c b]", true},
		{sqldb.Page{Limit: 2, After: "b"}, "[a]", false},
		{sqldb.Page{Limit: 2, Before: "b"}, "[d c]", true},
		{sqldb.Page{Limit: 10, Before: "c"}, "[e d]", false},
	} {
		ids, more := page(c.p)
		if got := fmtList(ids); got != c.want || more != c.more {
			t.Errorf("%+v: %s more=%v, want %s more=%v", c.p, got, more, c.want, c.more)
		}
	}
}

func fmtList(ids []string) string {
	s := "["
	for i, id := range ids {
		if i > 0 {
			s += " "
		}
		s += id
	}
	return s + "]"
}
