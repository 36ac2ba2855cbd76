package store

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/paygate/paygate/internal/ledger"
	"github.com/paygate/paygate/internal/store/sqldb"
	"github.com/paygate/paygate/internal/tenant"
)

// LedgerSums totals a merchant's ledger of one mode (test or live) by
// currency, account and kind of transaction, for GET /v1/balance. It sums
// the running balances' slots: a few rows, however many entries there are.
func (db *DB) LedgerSums(ctx context.Context, scope tenant.Scope) ([]ledger.Sum, error) {
	return sqldb.QueryAll(ctx, db.r, func(row sqldb.Scanner) (ledger.Sum, error) {
		var s ledger.Sum
		err := row.Scan(&s.Currency, &s.Account, &s.Kind, &s.Amount)
		return s, err
	}, `SELECT currency, account, kind, SUM(amount) FROM ledger_balances
		WHERE merchant_id = $1 AND livemode = $2 GROUP BY currency, account, kind ORDER BY currency, account, kind`,
		scope.MerchantID, scope.Livemode)
}

// addToBalances adds the entries of txs to the running balances, in the
// transaction that inserts them. All of them go to one slot, chosen at
// random, in one statement whose rows are in a fixed order: two writers
// either pick different slots and never meet, or lock the same rows in the
// same order and cannot deadlock.
func (db *DB) addToBalances(ctx context.Context, q sqldb.Execer, txs []ledger.Transaction) error {
	type key struct {
		merchant                string
		livemode                bool
		currency, kind, account string
	}
	sums := map[key]int64{}
	for _, t := range txs {
		for _, e := range t.Entries {
			sums[key{t.MerchantID, t.Livemode, t.Currency, t.Kind, e.Account}] += e.Amount
		}
	}
	if len(sums) == 0 {
		return nil
	}
	keys := slices.SortedFunc(maps.Keys(sums), func(a, b key) int {
		return cmp.Or(strings.Compare(a.merchant, b.merchant), cmpBool(a.livemode, b.livemode),
			strings.Compare(a.currency, b.currency), strings.Compare(a.kind, b.kind), strings.Compare(a.account, b.account))
	})
	slot := rand.IntN(db.balanceSlots)
	var values []string
	var args []any
	for _, k := range keys {
		n := len(args)
		values = append(values, fmt.Sprintf("($%d, $%d, $%d, $%d, $%d, $%d, $%d)", n+1, n+2, n+3, n+4, n+5, n+6, n+7))
		args = append(args, k.merchant, k.livemode, k.currency, k.kind, k.account, slot, sums[k])
	}
	_, err := q.ExecContext(ctx, `INSERT INTO ledger_balances (merchant_id, livemode, currency, kind, account, slot, amount)
		VALUES `+strings.Join(values, ", ")+`
		ON CONFLICT (merchant_id, livemode, currency, kind, account, slot) DO UPDATE SET amount = ledger_balances.amount + excluded.amount`, args...)
	if err != nil {
		return fmt.Errorf("add to balances: %w", err)
	}
	return nil
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
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
	err = each(`SELECT merchant_id, livemode, currency, kind, account, SUM(slots), SUM(entries) FROM (
			SELECT merchant_id, livemode, currency, kind, account, amount AS slots, 0 AS entries FROM ledger_balances
			UNION ALL
			SELECT e.merchant_id, t.livemode, e.currency, t.kind, e.account, 0, e.amount
			FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id
		) x GROUP BY merchant_id, livemode, currency, kind, account HAVING SUM(slots) <> SUM(entries)`,
		func(rows interface{ Scan(...any) error }) error {
			var merchant, currency, kind, account string
			var livemode bool
			var slots, entries int64
			if err := rows.Scan(&merchant, &livemode, &currency, &kind, &account, &slots, &entries); err != nil {
				return err
			}
			r.BalanceMismatches = append(r.BalanceMismatches, fmt.Sprintf(
				"%s %s livemode=%t %s %s: running balance %d, but its entries sum to %d", merchant, currency, livemode, kind, account, slots, entries))
			return nil
		})
	if err != nil {
		return r, fmt.Errorf("balances: %w", err)
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
