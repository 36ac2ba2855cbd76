package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// execer is what the write helpers need: a pool, a transaction, or a
// pipeline.
type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// pipeline queues the writes of a PostgreSQL transaction so that they go
// to the server together, with the COMMIT, in one round trip. The hot
// paths (creating a payment, recording a processor's answer) write many
// small rows; sent one statement at a time, most of the database's work
// per payment was round trips, not writing.
type pipeline struct {
	batch *pgx.Batch
}

// ExecContext queues a write. Its result is known only when the batch
// runs: callers of a pipeline must not need rows-affected counts.
func (p *pipeline) ExecContext(_ context.Context, query string, args ...any) (sql.Result, error) {
	p.batch.Queue(query, args...)
	return queuedResult{}, nil
}

type queuedResult struct{}

var errQueued = errors.New("store: a pipelined write has no result until it runs")

func (queuedResult) LastInsertId() (int64, error) { return 0, errQueued }
func (queuedResult) RowsAffected() (int64, error) { return 0, errQueued }

// pgPipelined runs a write transaction on PostgreSQL in at most two round
// trips: read (optional: BEGIN and the reads of first, one batch), then
// every queued write and COMMIT (one batch, or one implicit transaction
// when there was nothing to read). On any error the transaction is rolled
// back; a connection whose rollback fails is discarded.
func (db *DB) pgPipelined(ctx context.Context, first func(br pgx.BatchResults) error, firstQueries func(b *pgx.Batch),
	writes func(q execer) error) error {
	conn, err := db.w.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		c := dc.(*stdlib.Conn).Conn()
		open := false
		fail := func(err error) error {
			if open {
				if _, rerr := c.Exec(context.WithoutCancel(ctx), "ROLLBACK"); rerr != nil {
					return errors.Join(err, driver.ErrBadConn)
				}
			}
			return err
		}
		if first != nil {
			b := &pgx.Batch{}
			b.Queue("BEGIN")
			firstQueries(b)
			br := c.SendBatch(ctx, b)
			open = true
			if _, err := br.Exec(); err != nil {
				br.Close()
				return fail(err)
			}
			err := first(br)
			if cerr := br.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fail(err)
			}
		}
		p := &pipeline{batch: &pgx.Batch{}}
		if err := writes(p); err != nil {
			return fail(err)
		}
		n := p.batch.Len()
		if open {
			p.batch.Queue("COMMIT")
		}
		br := c.SendBatch(ctx, p.batch)
		for i := 0; i < n; i++ {
			if _, err := br.Exec(); err != nil {
				br.Close()
				// The server skipped the rest of the batch, COMMIT included.
				return fail(fmt.Errorf("pipelined write %d: %w", i+1, err))
			}
		}
		if open {
			if _, err := br.Exec(); err != nil {
				br.Close()
				return fail(err)
			}
		}
		return br.Close()
	})
}
