package store_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/store"
	"github.com/paygate/paygate/internal/testutil/pgcluster"
)

// TestUnavailableWhenCut: a connection that dies under a statement (its
// server process killed, as in a crash or a failover) ends in an unexpected
// EOF, with no error message from the server. That is an unreachable
// database (503), not an internal error (500).
func TestUnavailableWhenCut(t *testing.T) {
	pg := pgcluster.Start(t)
	ctx := context.Background()
	db, err := store.Open(ctx, pg.URL(), store.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.SQL().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var pid int
	if err := conn.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	// Killed under the statement, once the server runs it.
	go func() {
		for {
			var n int
			_ = db.SQL().QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND query LIKE '%pg_sleep%'`, pid).Scan(&n)
			if n > 0 {
				break
			}
			time.Sleep(10 * time.Millisecond)
		}
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}()
	// Read from the rows, where database/sql does not turn the error into
	// its ErrBadConn.
	err = conn.QueryRowContext(ctx, `SELECT 1 FROM pg_sleep(30)`).Scan(new(int))
	if err == nil || !store.IsUnavailable(err) {
		t.Errorf("a statement on a killed server process: %v, unavailable=%v", err, store.IsUnavailable(err))
	}
	// As the store's pipelined writes wrap it.
	if err := fmt.Errorf("pipelined write 5: %w", io.ErrUnexpectedEOF); !store.IsUnavailable(err) {
		t.Errorf("%v: not unavailable", err)
	}
}

// TestConnectTimeout: a server that accepts the connection and never
// answers (a dead host's address, a dropped route) fails a connection
// after DefaultConnectTimeout, as an unavailable database, when the URL
// sets no connect_timeout: without it the request waited for ever.
func TestConnectTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	db, err := store.Open(context.Background(), "postgres://u@"+ln.Addr().String()+"/x?sslmode=disable", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	done := make(chan error, 1)
	go func() { done <- db.Ping(context.Background()) }()
	select {
	case err := <-done:
		if err == nil || !store.IsUnavailable(err) {
			t.Errorf("ping of a server that never answers: %v, unavailable=%v", err, store.IsUnavailable(err))
		}
	case <-time.After(4 * store.DefaultConnectTimeout):
		t.Fatal("ping of a server that never answers did not end")
	}
}
