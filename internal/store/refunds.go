package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/paygate/paygate/internal/events"
	"github.com/paygate/paygate/internal/idempotency"
	"github.com/paygate/paygate/internal/ledger"
	"github.com/paygate/paygate/internal/payments"
	"github.com/paygate/paygate/internal/refunds"
	"github.com/paygate/paygate/internal/store/sqldb"
	"github.com/paygate/paygate/internal/tenant"
)

const refundColumns = `r.id, r.merchant_id, r.payment_id, r.amount, r.currency, r.status, r.reason, r.metadata,
	r.failure_reason, r.processor_id, r.livemode, r.created_at, r.updated_at`

func scanRefund(row sqldb.Scanner) (*refunds.Refund, error) {
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

// writeRefundAmounts stores the refund figures of a payment.
func writeRefundAmounts(ctx context.Context, q sqldb.Execer, p *payments.Payment) error {
	_, err := q.ExecContext(ctx, `UPDATE payments SET amount_refunded = $3, amount_refund_pending = $4, updated_at = $5
		WHERE merchant_id = $1 AND id = $2`, p.MerchantID, p.ID, p.AmountRefunded, p.AmountRefundPending, p.UpdatedAt)
	if err != nil {
		return fmt.Errorf("update payment refund amounts: %w", err)
	}
	return nil
}

// BeginRefund implements refunds.Store. Like a payment's change, it is two
// round trips on PostgreSQL: the payment's lock, then the writes.
func (db *DB) BeginRefund(ctx context.Context, scope tenant.Scope, paymentID string, call *idempotency.Call, fn func(p *payments.Payment) (*refunds.Refund, refunds.Writes, error)) (*refunds.Refund, error) {
	var p *payments.Payment
	var out *refunds.Refund
	err := db.writer.Write(ctx, []sqldb.Read{db.lockPayment(scope, paymentID, &p, refunds.ErrNotFound)}, func(q sqldb.Execer) error {
		r, w, err := fn(p)
		if err != nil {
			return err
		}
		md, err := metadataJSON(r.Metadata)
		if err != nil {
			return err
		}
		if _, err := q.ExecContext(ctx, `INSERT INTO refunds (id, merchant_id, payment_id, amount, currency, status, reason,
			metadata, failure_reason, processor_id, livemode, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			r.ID, r.MerchantID, r.PaymentID, r.Amount, r.Currency, r.Status, r.Reason, md, r.FailureReason, r.ProcessorID,
			r.Livemode, r.CreatedAt, r.UpdatedAt); err != nil {
			return fmt.Errorf("insert refund: %w", err)
		}
		if err := linkIdempotencyKey(ctx, q, call.Key(), r.ID); err != nil {
			return err
		}
		if err := writeRefundAmounts(ctx, q, p); err != nil {
			return err
		}
		out = r
		return db.insertWrites(ctx, q, w.Events, w.Ledger)
	})
	if err = db.keyResult(call, err); err != nil {
		return nil, err
	}
	return out, nil
}

// FinishRefund implements refunds.Store: the refund's payment is locked
// first, as in BeginRefund (lock order: payment, then its refund), then the
// refund read; on PostgreSQL both reads go in one round trip, the writes
// in a second.
func (db *DB) FinishRefund(ctx context.Context, scope tenant.Scope, refundID string, fn func(r *refunds.Refund, p *payments.Payment) (refunds.Writes, error)) (*refunds.Refund, error) {
	var p *payments.Payment
	var r *refunds.Refund
	lock := db.lockPayment(scope, "", &p, refunds.ErrNotFound)
	lock.Query = `SELECT ` + paymentColumns + paymentFrom + ` WHERE p.merchant_id = $1 AND p.livemode = $2
		AND p.id = (SELECT payment_id FROM refunds WHERE merchant_id = $1 AND livemode = $2 AND id = $3)` + db.lockOf("p")
	lock.Args = []any{scope.MerchantID, scope.Livemode, refundID}
	read := sqldb.Read{Query: `SELECT ` + refundColumns + ` FROM refunds r WHERE r.merchant_id = $1 AND r.livemode = $2 AND r.id = $3`,
		Args: []any{scope.MerchantID, scope.Livemode, refundID}, Scan: scanInto(&r, scanRefund, refunds.ErrNotFound)}
	err := db.writer.Write(ctx, []sqldb.Read{lock, read}, func(q sqldb.Execer) error {
		w, err := fn(r, p)
		if err != nil {
			return err
		}
		if _, err := q.ExecContext(ctx, `UPDATE refunds SET status = $3, failure_reason = $4, processor_id = $5, updated_at = $6
			WHERE merchant_id = $1 AND id = $2`, r.MerchantID, r.ID, r.Status, r.FailureReason, r.ProcessorID, r.UpdatedAt); err != nil {
			return fmt.Errorf("update refund: %w", err)
		}
		if err := writeRefundAmounts(ctx, q, p); err != nil {
			return err
		}
		return db.insertWrites(ctx, q, w.Events, w.Ledger)
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Refund implements refunds.Store.
func (db *DB) Refund(ctx context.Context, scope tenant.Scope, id string) (*refunds.Refund, error) {
	return sqldb.QueryOne(ctx, db.r, scanRefund, refunds.ErrNotFound, `SELECT `+refundColumns+` FROM refunds r
		WHERE r.merchant_id = $1 AND r.livemode = $2 AND r.id = $3`, scope.MerchantID, scope.Livemode, id)
}

// Refunds implements refunds.Store.
func (db *DB) Refunds(ctx context.Context, scope tenant.Scope, q refunds.ListQuery) ([]*refunds.Refund, bool, error) {
	f := scopeFilter("r", scope)
	f.Eq("r.payment_id", q.PaymentID)
	return sqldb.List(ctx, db.lists, `SELECT `+refundColumns+` FROM refunds r`, "r.id", f,
		sqldb.Page{Limit: q.Limit, After: q.StartingAfter, Before: q.EndingBefore}, scanRefund)
}

// insertWrites stores the events and ledger transactions of a change.
func (db *DB) insertWrites(ctx context.Context, q sqldb.Execer, evs []events.Event, txs []ledger.Transaction) error {
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
	return db.addToBalances(ctx, q, txs)
}

// StaleRefunds returns refunds, of every merchant, that have been pending
// since before cutoff, for the recovery worker.
func (db *DB) StaleRefunds(ctx context.Context, cutoff time.Time, limit int) ([]*refunds.Refund, error) {
	return sqldb.QueryAll(ctx, db.r, scanRefund, `SELECT `+refundColumns+` FROM refunds r
		WHERE r.status = 'pending' AND r.updated_at < $1 ORDER BY r.updated_at LIMIT $2`, cutoff, limit)
}
