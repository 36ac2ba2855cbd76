package store_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/paygate/paygate/internal/clock"
	"github.com/paygate/paygate/internal/ledger"
	"github.com/paygate/paygate/internal/payments"
	"github.com/paygate/paygate/internal/store"
	"github.com/paygate/paygate/internal/store/storetest"
	"github.com/paygate/paygate/internal/tenant"
)

// The balance is read from running balances spread over counter slots,
// written in the transactions that write the entries. Under concurrent
// captures of one merchant in both modes, the balance of each mode equals
// its captures, ledger verify finds nothing, and a slot that drifts from
// its entries is reported.
func TestRunningBalancesMatchTheEntries(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		ctx := context.Background()
		db := storetest.Open(t, backend)
		m := newMerchant(t, db)
		const n = 64
		var ps []*payments.Payment
		want := map[bool]int64{}
		for i := range n {
			p := newPayment(m.ID)
			p.Amount = int64(100 + i)
			p.Livemode = i%2 == 1
			if err := db.CreatePayment(ctx, p, payments.Change{}, nil); err != nil {
				t.Fatal(err)
			}
			ps = append(ps, p)
			want[p.Livemode] += p.Amount
		}
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for _, p := range ps {
			wg.Go(func() {
				_, err := db.UpdatePayment(ctx, tenant.Scope{MerchantID: m.ID, Livemode: p.Livemode}, p.ID, func(p *payments.Payment) (payments.Change, error) {
					p.Status, p.AmountReceived = payments.Succeeded, p.Amount
					return payments.Change{Ledger: []ledger.Transaction{ledger.Capture(m.ID, p.ID, p.Currency, p.Livemode, p.Amount, clock.Now())}}, nil
				})
				if err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("capture: %v", err)
		}
		for _, live := range []bool{false, true} {
			sums, err := db.LedgerSums(ctx, tenant.Scope{MerchantID: m.ID, Livemode: live})
			if err != nil {
				t.Fatal(err)
			}
			b := ledger.Balances(sums)
			if len(b) != 1 || b[0].Owed != want[live] || b[0].Paid != want[live] {
				t.Errorf("livemode=%t: balance %+v, want %d paid and owed", live, b, want[live])
			}
		}
		report, err := db.LedgerReport(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if bad := ledger.Check(report); len(bad) > 0 {
			t.Fatalf("ledger verify: %v", bad)
		}
		var slots int
		if err := db.SQL().QueryRowContext(ctx, `SELECT count(DISTINCT slot) FROM ledger_balances`).Scan(&slots); err != nil {
			t.Fatal(err)
		}
		if backend == store.Postgres && slots < 2 {
			t.Errorf("%d captures went to %d slot: one hot row", n, slots)
		}
		if _, err := db.SQL().ExecContext(ctx, `UPDATE ledger_balances SET amount = amount + 1
			WHERE account = 'merchant_balance' AND slot = (SELECT min(slot) FROM ledger_balances)`); err != nil {
			t.Fatal(err)
		}
		if report, err = db.LedgerReport(ctx); err != nil {
			t.Fatal(err)
		}
		bad := ledger.Check(report)
		if len(bad) == 0 || !strings.Contains(strings.Join(bad, "\n"), "running balance") {
			t.Fatalf("a slot off by one: ledger verify says %v", bad)
		}
	})
}

// Migration 10 starts the running balances from the entries already
// written.
func TestMigration10StartsBalancesFromTheEntries(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		ctx := context.Background()
		db, err := store.Open(ctx, storetest.NewURL(t, backend), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.MigrateTo(ctx, 9); err != nil {
			t.Fatal(err)
		}
		m := newMerchant(t, db)
		now := clock.Now()
		for i, q := range []string{
			`INSERT INTO ledger_transactions (id, merchant_id, kind, object_id, currency, livemode, created_at) VALUES ('ltx_1', $1, 'capture', 'pay_1', 'USD', false, $2)`,
			`INSERT INTO ledger_transactions (id, merchant_id, kind, object_id, currency, livemode, created_at) VALUES ('ltx_2', $1, 'capture', 'pay_2', 'USD', true, $2)`,
			`INSERT INTO ledger_entries (transaction_id, account, merchant_id, currency, amount) VALUES
				('ltx_1', 'cardholders', $1, 'USD', -700), ('ltx_1', 'merchant_balance', $1, 'USD', 700),
				('ltx_2', 'cardholders', $1, 'USD', -50), ('ltx_2', 'merchant_balance', $1, 'USD', 50)`,
		} {
			args := []any{m.ID, now}
			if i == 2 {
				args = args[:1]
			}
			if _, err := db.SQL().ExecContext(ctx, q, args...); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		if _, err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		for live, want := range map[bool]int64{false: 700, true: 50} {
			sums, err := db.LedgerSums(ctx, tenant.Scope{MerchantID: m.ID, Livemode: live})
			if err != nil {
				t.Fatal(err)
			}
			if b := ledger.Balances(sums); len(b) != 1 || b[0].Owed != want {
				t.Errorf("livemode=%t after migration 10: %+v, want %d owed", live, b, want)
			}
		}
	})
}
