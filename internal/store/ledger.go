package store

import (
	"context"
	"fmt"

	"github.com/paygate/paygate/internal/ledger"
	"github.com/paygate/paygate/internal/tenant"
)

// LedgerSums totals a merchant's ledger of one mode (test or live) by currency, account and kind of
// transaction, for GET /v1/balance.
func (db *DB) LedgerSums(ctx context.Context, scope tenant.Scope) ([]ledger.Sum, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT e.currency, e.account, t.kind, SUM(e.amount)
		FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id
		WHERE e.merchant_id = $1 AND t.livemode = $2 GROUP BY e.currency, e.account, t.kind`, scope.MerchantID, scope.Livemode)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ledger.Sum
	for rows.Next() {
		var s ledger.Sum
		if err := rows.Scan(&s.Currency, &s.Account, &s.Kind, &s.Amount); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// LedgerReport gathers what ledger.Check needs, from one consistent
// snapshot where the backend offers one.
func (db *DB) LedgerReport(ctx context.Context) (ledger.Report, error) {
	r := ledger.Report{Accounts: map[ledger.Key]int64{}, Recorded: map[ledger.Key]ledger.Recorded{}}
	// A repeatable-read transaction on PostgreSQL (SQLite's are
	// serializable) so the tables agree with each other even under load.
	tx, err := db.r.BeginTx(ctx, nil)
	if err != nil {
		return r, err
	}
	defer tx.Rollback()
	if db.snapshot != "" {
		if _, err := tx.ExecContext(ctx, db.snapshot); err != nil {
			return r, err
		}
	}
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM ledger_transactions`).Scan(&r.Transactions); err != nil {
		return r, err
	}
	each := func(query string, scan func(rows interface{ Scan(...any) error }) error) error {
		rows, err := tx.QueryContext(ctx, query)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	}
	err = each(`SELECT transaction_id FROM ledger_entries GROUP BY transaction_id HAVING SUM(amount) <> 0
		UNION SELECT t.id FROM ledger_transactions t WHERE NOT EXISTS (SELECT 1 FROM ledger_entries e WHERE e.transaction_id = t.id)`,
		func(rows interface{ Scan(...any) error }) error {
			var id string
			err := rows.Scan(&id)
			r.Unbalanced = append(r.Unbalanced, id)
			return err
		})
	if err != nil {
		return r, fmt.Errorf("unbalanced: %w", err)
	}
	err = each(`SELECT merchant_id, currency, account, SUM(amount) FROM ledger_entries GROUP BY merchant_id, currency, account`,
		func(rows interface{ Scan(...any) error }) error {
			var k ledger.Key
			var sum int64
			err := rows.Scan(&k.MerchantID, &k.Currency, &k.Account, &sum)
			r.Accounts[k] = sum
			return err
		})
	if err != nil {
		return r, fmt.Errorf("accounts: %w", err)
	}
	err = each(`SELECT merchant_id, currency, SUM(amount_received), SUM(amount_refunded), SUM(amount_refund_pending)
		FROM payments GROUP BY merchant_id, currency`,
		func(rows interface{ Scan(...any) error }) error {
			var k ledger.Key
			var rec ledger.Recorded
			err := rows.Scan(&k.MerchantID, &k.Currency, &rec.Received, &rec.Refunded, &rec.Pending)
			if rec != (ledger.Recorded{}) {
				r.Recorded[k] = rec
			}
			return err
		})
	if err != nil {
		return r, fmt.Errorf("payments: %w", err)
	}
	err = each(`SELECT p.id, p.amount_received, p.amount_refunded, p.amount_refund_pending,
			COALESCE(SUM(CASE WHEN f.status = 'succeeded' THEN f.amount END), 0),
			COALESCE(SUM(CASE WHEN f.status = 'pending' THEN f.amount END), 0)
		FROM payments p LEFT JOIN refunds f ON f.payment_id = p.id
		WHERE p.amount_refunded > 0 OR p.amount_refund_pending > 0 OR f.id IS NOT NULL
		GROUP BY p.id, p.amount_received, p.amount_refunded, p.amount_refund_pending`,
		func(rows interface{ Scan(...any) error }) error {
			var id string
			var received, refunded, pending, sumOK, sumPending int64
			if err := rows.Scan(&id, &received, &refunded, &pending, &sumOK, &sumPending); err != nil {
				return err
			}
			if refunded != sumOK || pending != sumPending || refunded+pending > received {
				r.PaymentMismatches = append(r.PaymentMismatches, fmt.Sprintf(
					"payment %s: received %d, refunded %d (refunds say %d), pending %d (refunds say %d)", id, received, refunded, sumOK, pending, sumPending))
			}
			return nil
		})
	if err != nil {
		return r, fmt.Errorf("refunds: %w", err)
	}
	return r, nil
}
