package store_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/store"
	"github.com/paygate/paygate/internal/store/sqldb"
	"github.com/paygate/paygate/internal/store/storetest"
	"github.com/paygate/paygate/internal/testutil/faults"
)

// A connection lost in the middle of a query (the network, a proxy, a
// server gone) is the database unavailable, which the API answers 503,
// not an internal error: pgx reports it as an unexpected EOF.
func TestUnavailableMidQuery(t *testing.T) {
	if os.Getenv(storetest.EnvURL) == "" {
		storetest.Backends(t) // fails under CI
		t.Skip("needs PostgreSQL")
	}
	dbURL, p := faults.InFront(t, storetest.NewURL(t, store.Postgres))
	ctx := context.Background()
	db, err := store.Open(ctx, dbURL, store.Options{MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The pipelined writes of the hot paths meet pgx's own errors, not
	// database/sql's; an implicit transaction has no rollback to fail.
	cut := time.AfterFunc(300*time.Millisecond, p.Down)
	defer cut.Stop()
	err = sqldb.PipelineWriter{DB: db.SQL()}.Write(ctx, nil, func(q sqldb.Execer) error {
		_, err := q.ExecContext(ctx, `SELECT pg_sleep(3)`)
		return err
	})
	if err == nil || !store.IsUnavailable(err) {
		t.Fatalf("a query whose connection was cut: %v, unavailable=%v", err, store.IsUnavailable(err))
	}
}
