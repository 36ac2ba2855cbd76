package pgcluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paygate/paygate/internal/testutil/pgcluster"
)

// TestFailover: a row committed on the primary is on its synchronous
// replica, which after the primary's crash and its promotion accepts
// writes; a client given both hosts with target_session_attrs=read-write
// finds it. Restart keeps the data.
func TestFailover(t *testing.T) {
	primary := pgcluster.Start(t)
	replica := primary.Replica()
	url := "postgres://postgres@" + primary.Host() + "," + replica.Host() + "/postgres?sslmode=disable&target_session_attrs=read-write&connect_timeout=5"
	mustExec(t, url, `CREATE TABLE t (n int)`, `INSERT INTO t VALUES (1)`)
	primary.Stop(pgcluster.Immediate)
	replica.Promote()
	mustExec(t, url, `INSERT INTO t VALUES (2)`)
	if n := count(t, url); n != 2 {
		t.Errorf("%d rows on the promoted replica, want 2", n)
	}
	replica.Restart(pgcluster.Fast)
	if n := count(t, replica.URL()); n != 2 {
		t.Errorf("%d rows after a restart, want 2", n)
	}
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func mustExec(t *testing.T, url string, sqls ...string) {
	t.Helper()
	conn := connect(t, url)
	for _, q := range sqls {
		if _, err := conn.Exec(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func count(t *testing.T, url string) int {
	t.Helper()
	var n int
	if err := connect(t, url).QueryRow(context.Background(), `SELECT count(*) FROM t`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
