package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/paygate/paygate/internal/events"
	"github.com/paygate/paygate/internal/idempotency"
	"github.com/paygate/paygate/internal/ledger"
	"github.com/paygate/paygate/internal/payments"
	"github.com/paygate/paygate/internal/refunds"
)

const refundColumns = `r.id, r.merchant_id, r.payment_id, r.amount, r.currency, r.status, r.reason, r.metadata,
	r.failure_reason, r.processor_id, r.livemode, r.created_at, r.updated_at`

func scanRefund(row scanner) (*refunds.Refund, error) {
	var r refunds.Refund
	var md string
	if err := row.Scan(&r.ID, &r.MerchantID, &r.PaymentID, &r.Amount, &r.Currency, &r.Status, &r.Reason, &md,
		&r.FailureReason, &r.ProcessorID, &r.Livemode, &r.CreatedAt, &r.UpdatedAt); err != nil {
		return nil, err
	}
	r.Object = "refund"
	r.CreatedAt, r.UpdatedAt = r.CreatedAt.UTC(), r.UpdatedAt.UTC()
	if err := json.Unmarshal([]byte(md), &r.Metadata); err != nil {
		return nil, fmt.Errorf("refund %s metadata: %w", r.ID, err)
	}
	if r.Metadata == nil {
		r.Metadata = map[string]string{}
	}
	return &r, nil
}

// lockPayment reads a payment for update inside tx (sql.ErrNoRows when
// missing). It locks the payment row only: the method row never changes
// with a payment. Every change of a payment or of its refunds takes this
// lock first, so they are serialized per payment.
func (db *DB) lockPayment(ctx context.Context, tx *sql.Tx, merchantID, id string) (*payments.Payment, error) {
	return scanPayment(tx.QueryRowContext(ctx, `SELECT `+paymentColumns+paymentFrom+
		` WHERE p.merchant_id = $1 AND p.id = $2`+db.lockOf("p"), merchantID, id))
}

// lockRefundPayment is lockPayment for the refund store's callers.
func (db *DB) lockRefundPayment(ctx context.Context, tx *sql.Tx, merchantID, id string) (*payments.Payment, error) {
	p, err := db.lockPayment(ctx, tx, merchantID, id)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, refunds.ErrNotFound
	}
	return p, err
}

// writeRefundAmounts stores the refund figures of a payment.
func writeRefundAmounts(ctx context.Context, tx *sql.Tx, p *payments.Payment) error {
	_, err := tx.ExecContext(ctx, `UPDATE payments SET amount_refunded = $3, amount_refund_pending = $4, updated_at = $5
		WHERE merchant_id = $1 AND id = $2`, p.MerchantID, p.ID, p.AmountRefunded, p.AmountRefundPending, p.UpdatedAt)
	if err != nil {
		return fmt.Errorf("update payment refund amounts: %w", err)
	}
	return nil
}

// BeginRefund implements refunds.Store.
func (db *DB) BeginRefund(ctx context.Context, merchantID, paymentID string, fn func(p *payments.Payment) (*refunds.Refund, refunds.Writes, error)) (*refunds.Refund, error) {
	var out *refunds.Refund
	var rec *idempotency.Record
	err := db.tx(ctx, func(tx *sql.Tx) error {
		p, err := db.lockRefundPayment(ctx, tx, merchantID, paymentID)
		if err != nil {
			return err
		}
		r, w, err := fn(p)
		if err != nil {
			return err
		}
		md, err := metadataJSON(r.Metadata)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO refunds (id, merchant_id, payment_id, amount, currency, status, reason,
			metadata, failure_reason, processor_id, livemode, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			r.ID, r.MerchantID, r.PaymentID, r.Amount, r.Currency, r.Status, r.Reason, md, r.FailureReason, r.ProcessorID,
			r.Livemode, r.CreatedAt, r.UpdatedAt); err != nil {
			return fmt.Errorf("insert refund: %w", err)
		}
		rec = r.Idempotency
		if err := linkIdempotencyKey(ctx, tx, r.Idempotency, r.ID); err != nil {
			return err
		}
		if err := writeRefundAmounts(ctx, tx, p); err != nil {
			return err
		}
		out = r
		return db.insertWrites(ctx, tx, w.Events, w.Ledger)
	})
	if err = keyResult(ctx, rec, err); err != nil {
		return nil, err
	}
	return out, nil
}

// FinishRefund implements refunds.Store.
func (db *DB) FinishRefund(ctx context.Context, merchantID, refundID string, fn func(r *refunds.Refund, p *payments.Payment) (refunds.Writes, error)) (*refunds.Refund, error) {
	var out *refunds.Refund
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var paymentID string
		err := tx.QueryRowContext(ctx, `SELECT payment_id FROM refunds WHERE merchant_id = $1 AND id = $2`, merchantID, refundID).Scan(&paymentID)
		if errors.Is(err, sql.ErrNoRows) {
			return refunds.ErrNotFound
		}
		if err != nil {
			return err
		}
		// Lock order: payment, then its refund — as BeginRefund.
		p, err := db.lockRefundPayment(ctx, tx, merchantID, paymentID)
		if err != nil {
			return err
		}
		r, err := scanRefund(tx.QueryRowContext(ctx, `SELECT `+refundColumns+` FROM refunds r WHERE r.merchant_id = $1 AND r.id = $2`, merchantID, refundID))
		if err != nil {
			return err
		}
		w, err := fn(r, p)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE refunds SET status = $3, failure_reason = $4, processor_id = $5, updated_at = $6
			WHERE merchant_id = $1 AND id = $2`, merchantID, refundID, r.Status, r.FailureReason, r.ProcessorID, r.UpdatedAt); err != nil {
			return fmt.Errorf("update refund: %w", err)
		}
		if err := writeRefundAmounts(ctx, tx, p); err != nil {
			return err
		}
		out = r
		return db.insertWrites(ctx, tx, w.Events, w.Ledger)
	})
	return out, err
}

// Refund implements refunds.Store.
func (db *DB) Refund(ctx context.Context, merchantID, id string) (*refunds.Refund, error) {
	return queryOne(ctx, db.r, scanRefund, refunds.ErrNotFound, `SELECT `+refundColumns+` FROM refunds r WHERE r.merchant_id = $1 AND r.id = $2`, merchantID, id)
}

// Refunds implements refunds.Store.
func (db *DB) Refunds(ctx context.Context, merchantID string, q refunds.ListQuery) ([]*refunds.Refund, bool, error) {
	var f filter
	f.add("r.merchant_id = $%d", merchantID) // always: the tenant
	f.add("r.livemode = $%d", q.Livemode)
	f.eq("r.payment_id", q.PaymentID)
	return listPage(ctx, db, `SELECT `+refundColumns+` FROM refunds r`, "r.id", f.where, f.args,
		q.Limit, q.StartingAfter, q.EndingBefore, scanRefund)
}

// insertWrites stores the events and ledger transactions of a change.
func (db *DB) insertWrites(ctx context.Context, q execer, evs []events.Event, txs []ledger.Transaction) error {
	if err := db.insertEvents(ctx, q, evs); err != nil {
		return err
	}
	for _, t := range txs {
		if _, err := q.ExecContext(ctx, `INSERT INTO ledger_transactions (id, merchant_id, kind, object_id, currency, livemode, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, t.ID, t.MerchantID, t.Kind, t.ObjectID, t.Currency, t.Livemode, t.CreatedAt); err != nil {
			return fmt.Errorf("insert ledger transaction: %w", err)
		}
		// All entries in one statement: one round trip per transaction.
		var values []string
		var args []any
		for _, e := range t.Entries {
			n := len(args)
			values = append(values, fmt.Sprintf("($%d, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4, n+5))
			args = append(args, t.ID, e.Account, t.MerchantID, t.Currency, e.Amount)
		}
		if len(values) > 0 {
			if _, err := q.ExecContext(ctx, `INSERT INTO ledger_entries (transaction_id, account, merchant_id, currency, amount) VALUES `+
				strings.Join(values, ", "), args...); err != nil {
				return fmt.Errorf("insert ledger entries: %w", err)
			}
		}
	}
	return nil
}

// StaleRefunds returns refunds, of every merchant, that have been pending
// since before cutoff, for the recovery worker.
func (db *DB) StaleRefunds(ctx context.Context, cutoff time.Time, limit int) ([]*refunds.Refund, error) {
	return queryAll(ctx, db.r, scanRefund, `SELECT `+refundColumns+` FROM refunds r
		WHERE r.status = 'pending' AND r.updated_at < $1 ORDER BY r.updated_at LIMIT $2`, cutoff, limit)
}
