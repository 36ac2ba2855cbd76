// Command seed loads a merchant's history into a paygate database for the
// growth benchmark (bench/growth.sh): payments spread over the past year,
// each succeeded one with its capture's ledger transaction and entries,
// each with its event, as paygate itself writes them, then the running
// balances and fresh planner statistics. It writes with COPY, in batches,
// so a million payments load in minutes.
//
//	go run ./bench/seed -db postgres://… -merchant mer_… -n 1000000
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paygate/paygate/internal/ids"
	"github.com/paygate/paygate/internal/ledger"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "seed:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	url := fs.String("db", "", "the PostgreSQL database, migrated (postgres://…)")
	merchant := fs.String("merchant", "", "the merchant's id (it must exist)")
	n := fs.Int("n", 1_000_000, "payments to load")
	days := fs.Int("days", 365, "the history's span, ending an hour ago")
	failEvery := fs.Int("fail-every", 50, "one payment in this many is declined")
	livemode := fs.Bool("livemode", false, "load live-mode payments instead of test-mode ones")
	batch := fs.Int("batch", 20_000, "payments per COPY transaction")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *url == "" || *merchant == "" || *n < 1 || *days < 1 || *failEvery < 1 || *batch < 1 {
		return errors.New("-db and -merchant are required; -n, -days, -fail-every and -batch must be positive")
	}
	conn, err := pgx.Connect(ctx, *url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)

	end := time.Now().Add(-time.Hour).UTC()
	start := end.Add(-time.Duration(*days) * 24 * time.Hour)
	step := end.Sub(start) / time.Duration(*n)
	began := time.Now()
	for done := 0; done < *n; done += *batch {
		var pays, txs, entries, evs [][]any
		for i := done; i < min(done+*batch, *n); i++ {
			at := start.Add(time.Duration(i) * step).Truncate(time.Microsecond)
			id := ids.NewAt(ids.Payment, at)
			amount := int64(100 + i%99_900)
			status, received, code, typ := "succeeded", amount, "", "payment.succeeded"
			if i%*failEvery == *failEvery-1 {
				status, received, code, typ = "failed", 0, "card_declined", "payment.failed"
			}
			pays = append(pays, []any{id, *merchant, amount, "USD", status, "automatic", received, code, "sandbox",
				"ch_" + id[4:], *livemode, at, at})
			evs = append(evs, []any{ids.NewAt(ids.Event, at), *merchant, typ, id, *livemode, eventData(id, amount, status, code, *livemode, at), at})
			if status == "succeeded" {
				t := ledger.Capture(*merchant, id, "USD", *livemode, amount, at)
				t.ID = ids.NewAt(ledger.TransactionPrefix, at)
				txs = append(txs, []any{t.ID, t.MerchantID, t.Kind, t.ObjectID, t.Currency, t.Livemode, t.CreatedAt})
				for _, e := range t.Entries {
					entries = append(entries, []any{t.ID, e.Account, t.MerchantID, t.Currency, e.Amount})
				}
			}
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			for _, c := range []struct {
				table string
				cols  []string
				rows  [][]any
			}{
				{"payments", []string{"id", "merchant_id", "amount", "currency", "status", "capture_method", "amount_received",
					"failure_code", "connector", "processor_id", "livemode", "created_at", "updated_at"}, pays},
				{"ledger_transactions", []string{"id", "merchant_id", "kind", "object_id", "currency", "livemode", "created_at"}, txs},
				{"ledger_entries", []string{"transaction_id", "account", "merchant_id", "currency", "amount"}, entries},
				{"events", []string{"id", "merchant_id", "type", "object_id", "livemode", "data", "created_at"}, evs},
			} {
				if _, err := tx.CopyFrom(ctx, pgx.Identifier{c.table}, c.cols, pgx.CopyFromRows(c.rows)); err != nil {
					return fmt.Errorf("copy into %s: %w", c.table, err)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\r%d of %d payments (%.0fs)", min(done+*batch, *n), *n, time.Since(began).Seconds())
	}
	fmt.Fprintln(stdout)
	// The running balances, as if these transactions had been written by
	// paygate; then statistics, as autovacuum would gather them.
	for _, q := range []string{
		`INSERT INTO ledger_balances (merchant_id, livemode, currency, kind, account, slot, amount)
			SELECT e.merchant_id, t.livemode, e.currency, t.kind, e.account, 0, SUM(e.amount)
			FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id
			WHERE e.merchant_id = $1 AND t.created_at < $2
			GROUP BY e.merchant_id, t.livemode, e.currency, t.kind, e.account
			ON CONFLICT (merchant_id, livemode, currency, kind, account, slot) DO UPDATE SET amount = ledger_balances.amount + excluded.amount`,
		`ANALYZE`,
	} {
		var args []any
		if q != `ANALYZE` {
			args = []any{*merchant, end.Add(time.Minute)}
		}
		if _, err := conn.Exec(ctx, q, args...); err != nil {
			return fmt.Errorf("%.40s…: %w", q, err)
		}
	}
	fmt.Fprintf(stdout, "loaded %d payments in %.0fs\n", *n, time.Since(began).Seconds())
	return nil
}

// eventData is an event's snapshot of the payment, shaped and sized like
// the ones paygate writes (about 600 bytes).
func eventData(id string, amount int64, status, code string, livemode bool, at time.Time) string {
	return fmt.Sprintf(`{"object":{"id":%q,"object":"payment","amount":%d,"currency":"usd","status":%q,"capture_method":"automatic",`+
		`"amount_capturable":0,"amount_received":%d,"amount_refunded":0,"description":"","metadata":{},`+
		`"payment_method":{"id":"pm_seed","object":"payment_method","type":"card","card":{"brand":"visa","funding":"credit",`+
		`"last4":"4242","exp_month":12,"exp_year":2030,"fingerprint":"fp_seedseedseedseed"},"livemode":%t},`+
		`"failure_code":%q,"connector":"sandbox","livemode":%t,"created":%d}}`,
		id, amount, status, map[bool]int64{true: amount}[status == "succeeded"], livemode, code, livemode, at.Unix())
}
