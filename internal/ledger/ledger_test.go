package ledger

import (
	"strings"
	"testing"
	"time"
)

func sumsOf(txs ...Transaction) []Sum {
	by := map[Sum]int64{}
	for _, t := range txs {
		for _, e := range t.Entries {
			by[Sum{Currency: t.Currency, Account: e.Account, Kind: t.Kind}] += e.Amount
		}
	}
	var out []Sum
	for k, v := range by {
		k.Amount = v
		out = append(out, k)
	}
	return out
}

func TestTransactionsBalanceAndBalances(t *testing.T) {
	now := time.Now()
	txs := []Transaction{
		Capture("m", "p1", "USD", false, 1000, now),
		RefundCreated("m", "r1", "USD", false, 300, now),
		RefundSucceeded("m", "r1", "USD", false, 300, now),
		RefundCreated("m", "r2", "USD", false, 200, now),
		RefundFailed("m", "r2", "USD", false, 200, now),
		RefundCreated("m", "r3", "USD", false, 100, now),
		Capture("m", "p2", "JPY", false, 500, now),
	}
	for _, tx := range txs {
		var sum int64
		for _, e := range tx.Entries {
			sum += e.Amount
		}
		if sum != 0 || len(tx.Entries) != 2 || !strings.HasPrefix(tx.ID, TransactionPrefix) {
			t.Fatalf("%s: %+v", tx.Kind, tx)
		}
	}
	got := Balances(sumsOf(txs...))
	want := []Balance{
		{Currency: "JPY", Paid: 500, Owed: 500},
		{Currency: "USD", Paid: 1000, Refunded: 300, RefundsPending: 100, Owed: 600},
	}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("balances %+v, want %+v", got, want)
	}
}

func TestCheck(t *testing.T) {
	k := Key{MerchantID: "m", Currency: "USD"}
	acct := func(a string) Key { return Key{"m", "USD", a} }
	good := Report{
		Accounts: map[Key]int64{acct(MerchantBalance): 600, acct(RefundsPending): 100, acct(Cardholders): -700},
		Recorded: map[Key]Recorded{k: {Received: 1000, Refunded: 300, Pending: 100}},
	}
	if bad := Check(good); len(bad) != 0 {
		t.Fatalf("good report: %v", bad)
	}
	for name, mutate := range map[string]func(r *Report){
		"unbalanced":       func(r *Report) { r.Unbalanced = []string{"ltx_1"} },
		"balance drift":    func(r *Report) { r.Accounts[acct(MerchantBalance)] = 601 },
		"pending drift":    func(r *Report) { r.Accounts[acct(RefundsPending)] = 0 },
		"cardholder drift": func(r *Report) { r.Accounts[acct(Cardholders)] = -1000 },
		"payment mismatch": func(r *Report) { r.PaymentMismatches = []string{"payment p"} },
		"unrecorded money": func(r *Report) { r.Accounts[Key{"m2", "EUR", MerchantBalance}] = 5 },
	} {
		r := Report{Accounts: map[Key]int64{}, Recorded: map[Key]Recorded{}}
		for a, v := range good.Accounts {
			r.Accounts[a] = v
		}
		for a, v := range good.Recorded {
			r.Recorded[a] = v
		}
		mutate(&r)
		if bad := Check(r); len(bad) == 0 {
			t.Errorf("%s: not detected", name)
		}
	}
}
