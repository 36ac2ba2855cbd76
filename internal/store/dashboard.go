package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/paygate/paygate/internal/ids"
	"github.com/paygate/paygate/internal/ledger"
	"github.com/paygate/paygate/internal/merchants"
	"github.com/paygate/paygate/internal/payments"
	"github.com/paygate/paygate/internal/store/sqldb"
	"github.com/paygate/paygate/internal/tenant"
)

// The dashboard's queries (issue 23): its payment search, a merchant's API
// keys, and the daily volume of its balance chart.

// searchPayments adds the dashboard's search terms to a payment list's
// filter. The amount reads an index of migration 15, per mode. An email
// or last 4 is looked up first, in its own small index (the customers
// with the email, customers_email_*; the cards with the last 4,
// payment_methods_last4): when that finds at most searchIDs of them, the
// list is of their payments, read through payments_customer or
// payments_payment_method whatever the planner's statistics say; when it
// finds more (every test payment with 4242), the match is common and the
// list walks the payments newest first and keeps the ones that match,
// which finds a page in a few dozen rows.
func (db *DB) searchPayments(ctx context.Context, f *sqldb.Filter, scope tenant.Scope, q payments.ListQuery) error {
	if q.Amount != nil {
		f.Add("p.amount = $%d", *q.Amount)
	}
	mode := "NOT livemode"
	if scope.Livemode {
		mode = "livemode"
	}
	for _, s := range []struct {
		term, col, lookup string
	}{
		{q.Email, "p.customer_id", `SELECT id FROM customers WHERE merchant_id = $1 AND ` + mode + ` AND deleted_at IS NULL AND email = $2`},
		{q.Last4, "p.payment_method_id", `SELECT id FROM payment_methods WHERE merchant_id = $1 AND card_last4 = $2`},
	} {
		if s.term == "" {
			continue
		}
		found, err := sqldb.QueryAll(ctx, db.r, func(row sqldb.Scanner) (string, error) {
			var id string
			return id, row.Scan(&id)
		}, s.lookup+` LIMIT `+strconv.Itoa(db.searchLimit()+1), scope.MerchantID, s.term)
		if err != nil {
			return err
		}
		switch {
		case len(found) == 0:
			f.Const("1 = 0")
		case len(found) <= db.searchLimit():
			marks := make([]string, len(found))
			for i, id := range found {
				f.Args = append(f.Args, id)
				marks[i] = "$" + strconv.Itoa(len(f.Args))
			}
			f.Const(s.col + " IN (" + strings.Join(marks, ", ") + ")")
		default:
			f.Args = append(f.Args, scope.MerchantID, s.term)
			f.Const(fmt.Sprintf("%s IN (%s)", s.col, strings.NewReplacer("$1", "$"+strconv.Itoa(len(f.Args)-1), "$2", "$"+strconv.Itoa(len(f.Args))).Replace(s.lookup)))
		}
	}
	return nil
}

// searchIDs is how many customers or cards a search reads the payments of
// through their index (a few milliseconds); past it a match is common
// enough that a page of 25 is found within a few thousand payments walked.
const searchIDs = 2000

func (db *DB) searchLimit() int {
	if db.searchIDs > 0 {
		return db.searchIDs
	}
	return searchIDs
}

// APIKeys lists a merchant's keys of one mode, newest first, revoked ones
// included.
func (db *DB) APIKeys(ctx context.Context, scope tenant.Scope) ([]*merchants.Key, error) {
	return sqldb.QueryAll(ctx, db.r, scanKey, `SELECT `+keyColumns+` FROM api_keys WHERE merchant_id = $1 AND livemode = $2
		ORDER BY id DESC LIMIT 200`, scope.MerchantID, scope.Livemode)
}

// APIKey finds a key of the scope (merchants.ErrNotFound).
func (db *DB) APIKey(ctx context.Context, scope tenant.Scope, id string) (*merchants.Key, error) {
	return scanKey(db.r.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = $1 AND merchant_id = $2 AND livemode = $3`,
		id, scope.MerchantID, scope.Livemode))
}

// DailyVolumes is the captured volume of each of the days days up to and
// including today (UTC), per currency: complete days from daily_volumes,
// which computes each once from the ledger's capture transactions (a past
// day never changes: the ledger is append-only, and a day is complete an
// hour after it ends, well past any transaction's commit), today's live.
// The ledger's transactions are read by id range (ids hold their time),
// so each day reads that day's rows only.
func (db *DB) DailyVolumes(ctx context.Context, scope tenant.Scope, days int, now time.Time) ([]ledger.DayVolume, error) {
	today := now.UTC().Truncate(24 * time.Hour)
	first := today.AddDate(0, 0, -(days - 1))
	stored, err := sqldb.QueryAll(ctx, db.r, scanDayVolume, `SELECT day, currency, amount, captures FROM daily_volumes
		WHERE merchant_id = $1 AND livemode = $2 AND day >= $3 ORDER BY day, currency`,
		scope.MerchantID, scope.Livemode, first.Format(time.DateOnly))
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, v := range stored {
		have[v.Day] = true
	}
	var out []ledger.DayVolume
	for _, v := range stored {
		if v.Currency != "" {
			out = append(out, v)
		}
	}
	for d := first; !d.After(today); d = d.AddDate(0, 0, 1) {
		day := d.Format(time.DateOnly)
		if have[day] {
			continue
		}
		vs, err := db.dayVolume(ctx, scope, d)
		if err != nil {
			return nil, err
		}
		out = append(out, vs...)
		if now.Sub(d.AddDate(0, 0, 1)) < time.Hour {
			continue // today, or a day that ended moments ago: not kept
		}
		if err := db.keepDayVolume(ctx, scope, day, vs); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func scanDayVolume(row sqldb.Scanner) (ledger.DayVolume, error) {
	var v ledger.DayVolume
	err := row.Scan(&v.Day, &v.Currency, &v.Amount, &v.Captures)
	return v, err
}

// dayVolume sums the capture transactions of the scope on day d.
func (db *DB) dayVolume(ctx context.Context, scope tenant.Scope, d time.Time) ([]ledger.DayVolume, error) {
	day := d.Format(time.DateOnly)
	return sqldb.QueryAll(ctx, db.r, func(row sqldb.Scanner) (ledger.DayVolume, error) {
		v := ledger.DayVolume{Day: day}
		err := row.Scan(&v.Currency, &v.Amount, &v.Captures)
		return v, err
	}, `SELECT t.currency, SUM(e.amount), COUNT(*) FROM ledger_transactions t
		JOIN ledger_entries e ON e.transaction_id = t.id AND e.account = $6
		WHERE t.id >= $1 AND t.id < $2 AND t.merchant_id = $3 AND t.livemode = $4 AND t.kind = $5
		GROUP BY t.currency ORDER BY t.currency`,
		ledgerBound(d), ledgerBound(d.AddDate(0, 0, 1)), scope.MerchantID, scope.Livemode, ledger.KindCapture, ledger.MerchantBalance)
}

func (db *DB) keepDayVolume(ctx context.Context, scope tenant.Scope, day string, vs []ledger.DayVolume) error {
	if len(vs) == 0 {
		vs = []ledger.DayVolume{{Day: day}}
	}
	return db.tx(ctx, func(tx *sql.Tx) error {
		for _, v := range vs {
			_, err := tx.ExecContext(ctx, `INSERT INTO daily_volumes (merchant_id, livemode, day, currency, amount, captures)
				VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`, scope.MerchantID, scope.Livemode, day, v.Currency, v.Amount, v.Captures)
			if err != nil {
				return fmt.Errorf("keep daily volume: %w", err)
			}
		}
		return nil
	})
}

// ledgerBound is the least ledger transaction id of instant t.
func ledgerBound(t time.Time) string { return ids.Bound(ledger.TransactionPrefix, t, false) }
