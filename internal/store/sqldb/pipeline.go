package sqldb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// PipelineWriter runs write transactions on PostgreSQL in at most two
// round trips: BEGIN and the reads (one batch), then every write and the
// COMMIT (one batch, or one implicit transaction when there was nothing to
// read). The hot paths (creating a payment, recording a processor's answer,
// a refund) write many small rows; sent one statement at a time, most of
// the database's work per payment was round trips, not writing.
//
// It goes through database/sql (Conn.Raw) rather than a pool of pgx's own,
// so that the statements and helpers stay those of every other query.
type PipelineWriter struct{ DB *sql.DB }

// Write implements Writer. On any error the transaction is rolled back; a
// connection whose rollback fails is discarded.
func (w PipelineWriter) Write(ctx context.Context, reads []Read, writes func(q Execer) error) error {
	conn, err := w.DB.Conn(ctx)
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
		if len(reads) > 0 {
			b := &pgx.Batch{}
			b.Queue("BEGIN")
			for _, r := range reads {
				b.Queue(r.Query, r.Args...)
			}
			br := c.SendBatch(ctx, b)
			open = true
			_, err := br.Exec()
			for _, r := range reads {
				if err != nil {
					break
				}
				err = r.Scan(noRows{br.QueryRow()})
			}
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

// noRows makes a pipelined read's missing row sql.ErrNoRows, as on every
// other path.
type noRows struct{ row pgx.Row }

func (r noRows) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return sql.ErrNoRows
	}
	return err
}

// pipeline queues the writes of a transaction.
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

var errQueued = errors.New("sqldb: a pipelined write has no result until it runs")

func (queuedResult) LastInsertId() (int64, error) { return 0, errQueued }
func (queuedResult) RowsAffected() (int64, error) { return 0, errQueued }
