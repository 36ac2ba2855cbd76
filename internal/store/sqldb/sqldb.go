// Package sqldb holds the SQL plumbing the store builds on, with no table
// or column of paygate's in it: transactions that roll back on panic, the
// write transaction of each backend (pipelined on PostgreSQL), one-row and
// many-row queries, and cursor-paginated lists. Package store owns the
// statements; this package only runs them.
package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Execer runs a write: a pool, a transaction, or a pipeline.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Queryer runs reads and writes: a pool or a transaction.
type Queryer interface {
	Execer
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Scanner is a row to scan: *sql.Row, *sql.Rows, or a pipelined read's row.
type Scanner interface{ Scan(dest ...any) error }

// Tx runs fn in a transaction of db, committing when fn returns nil and
// rolling back when it fails or panics.
func Tx(ctx context.Context, db *sql.DB, fn func(tx *sql.Tx) error) (err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
	}()
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// Read is a query of a write transaction that runs before its writes:
// typically the row lock of the object the writes change. Scan gets the
// query's single row; a missing row is sql.ErrNoRows, on every backend.
type Read struct {
	Query string
	Args  []any
	Scan  func(row Scanner) error
}

// Writer runs write transactions: the reads, in order, then what writes
// queues. The writes may not depend on the results of their own statements
// (rows affected, returned rows): on PostgreSQL they are pipelined, sent
// with the COMMIT in one round trip. A transaction that needs such results
// uses Tx instead.
type Writer interface {
	Write(ctx context.Context, reads []Read, writes func(q Execer) error) error
}

// TxWriter runs write transactions as plain transactions of DB.
type TxWriter struct{ DB *sql.DB }

// Write implements Writer.
func (w TxWriter) Write(ctx context.Context, reads []Read, writes func(q Execer) error) error {
	return Tx(ctx, w.DB, func(tx *sql.Tx) error {
		for _, r := range reads {
			if err := r.Scan(tx.QueryRowContext(ctx, r.Query, r.Args...)); err != nil {
				return err
			}
		}
		return writes(tx)
	})
}

// QueryOne runs a query for one row; no row is notFound.
func QueryOne[T any](ctx context.Context, q Queryer, scan func(Scanner) (T, error), notFound error, query string, args ...any) (T, error) {
	v, err := scan(q.QueryRowContext(ctx, query, args...))
	if errors.Is(err, sql.ErrNoRows) {
		var zero T
		return zero, notFound
	}
	return v, err
}

// QueryAll runs a query and scans every row.
func QueryAll[T any](ctx context.Context, q Queryer, scan func(Scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Filter builds a WHERE clause: conditions joined by AND, with their
// numbered parameters.
type Filter struct {
	Where []string
	Args  []any
}

// Add appends a condition whose one parameter is written $%d.
func (f *Filter) Add(cond string, v any) {
	f.Args = append(f.Args, v)
	f.Where = append(f.Where, fmt.Sprintf(cond, len(f.Args)))
}

// Eq appends col = v, unless v is empty (a filter not asked for).
func (f *Filter) Eq(col, v string) {
	if v != "" {
		f.Add(col+" = $%d", v)
	}
}

// Const appends a condition without a parameter.
func (f *Filter) Const(cond string) { f.Where = append(f.Where, cond) }

// Page is a page of a list: at most Limit rows after the cursor After or
// before the cursor Before (ids), newest first.
type Page struct {
	Limit         int
	After, Before string
}

// List runs a list query, newest first by idCol, with cursor pagination by
// id: it fetches one row more than the limit to learn whether more lie
// beyond in the direction of travel.
func List[T any](ctx context.Context, q Queryer, selectFrom, idCol string, f Filter, p Page, scan func(Scanner) (T, error)) ([]T, bool, error) {
	order := "DESC"
	switch {
	case p.After != "":
		f.Add(idCol+" < $%d", p.After)
	case p.Before != "":
		// Walk towards newer rows, then flip the page back.
		f.Add(idCol+" > $%d", p.Before)
		order = "ASC"
	}
	args := append(f.Args, p.Limit+1)
	out, err := QueryAll(ctx, q, scan, selectFrom+` WHERE `+strings.Join(f.Where, " AND ")+
		` ORDER BY `+idCol+` `+order+fmt.Sprintf(` LIMIT $%d`, len(args)), args...)
	if err != nil {
		return nil, false, err
	}
	more := len(out) > p.Limit
	if more {
		out = out[:p.Limit]
	}
	if order == "ASC" {
		slices.Reverse(out)
	}
	return out, more, nil
}
