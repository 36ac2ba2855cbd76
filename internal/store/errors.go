package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// IsUnavailable reports whether err means the database could not be
// reached (as opposed to a bad query): the API answers 503 then.
func IsUnavailable(err error) bool {
	var connErr *pgconn.ConnectError
	var netErr *net.OpError
	switch {
	case err == nil:
		return false
	case errors.As(err, &connErr), errors.As(err, &netErr), errors.Is(err, driver.ErrBadConn),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, context.DeadlineExceeded),
		// The server went away mid-statement (a crash, an immediate stop,
		// a failover): the connection ends without an error message.
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF),
		// A later statement on a connection that such a fault (or a fatal
		// error from a server shutting down) closed, in the same
		// transaction or pipeline.
		errors.Is(err, pgconn.ErrConnClosed):
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// Class 08: connection exception; 57P0x: the server is shutting down.
		return pgErr.Code[:2] == "08" || pgErr.Code == "57P01" || pgErr.Code == "57P02" || pgErr.Code == "57P03"
	}
	return false
}
