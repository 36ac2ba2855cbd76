// Package ledger is paygate's double-entry ledger: every movement of money
// is a transaction of entries that sum to zero, written in the same database
// transaction as the state change that caused it.
//
// Accounts, per merchant and currency:
//
//	cardholders      money of the paying customers (outside paygate)
//	merchant_balance what paygate owes the merchant
//	refunds_pending  refunds sent to the processor, not yet settled
//
// Transactions:
//
//	capture          cardholders −X, merchant_balance +X
//	refund_created   merchant_balance −R, refunds_pending +R
//	refund_succeeded refunds_pending −R, cardholders +R
//	refund_failed    refunds_pending −R, merchant_balance +R (the reversal)
//
// Invariants (checked by Check, and by `paygate ledger verify`):
//
//  1. every transaction's entries sum to zero;
//  2. per merchant and currency, merchant_balance = captured − refunded −
//     pending refunds, as the payments and refunds tables record them;
//  3. refunds_pending = the sum of pending refunds;
//  4. cardholders = −(captured − refunded);
//  5. per payment, amount_refunded = its succeeded refunds, its reserved
//     amount = its pending refunds, and refunded + pending ≤ received;
//  6. every running balance (the counter slots GET /v1/balance reads)
//     equals the sum of its entries, per merchant, mode, currency, kind
//     and account.
package ledger

import (
	"fmt"
	"sort"
	"time"

	"github.com/paygate/paygate/internal/ids"
)

// Accounts.
const (
	Cardholders     = "cardholders"
	MerchantBalance = "merchant_balance"
	RefundsPending  = "refunds_pending"
)

// Transaction kinds.
const (
	KindCapture         = "capture"
	KindRefundCreated   = "refund_created"
	KindRefundSucceeded = "refund_succeeded"
	KindRefundFailed    = "refund_failed"
)

// TransactionPrefix is the id prefix of ledger transactions (internal).
const TransactionPrefix = "ltx_"

// Entry moves Amount (minor units, signed) into Account.
type Entry struct {
	Account string
	Amount  int64
}

// Transaction is a balanced set of entries in one currency.
type Transaction struct {
	ID         string
	MerchantID string
	Kind       string
	ObjectID   string // the payment or refund
	Currency   string
	Livemode   bool // test-mode money never mixes with live money
	CreatedAt  time.Time
	Entries    []Entry
}

func move(kind, merchantID, objectID, currency string, livemode bool, amount int64, from, to string, now time.Time) Transaction {
	return Transaction{
		ID: ids.New(TransactionPrefix), MerchantID: merchantID, Kind: kind, ObjectID: objectID, Currency: currency, Livemode: livemode, CreatedAt: now,
		Entries: []Entry{{Account: from, Amount: -amount}, {Account: to, Amount: amount}},
	}
}

// Capture records money captured from a cardholder for the merchant.
func Capture(merchantID, paymentID, currency string, livemode bool, amount int64, now time.Time) Transaction {
	return move(KindCapture, merchantID, paymentID, currency, livemode, amount, Cardholders, MerchantBalance, now)
}

// RefundCreated reserves a refund out of the merchant's balance.
func RefundCreated(merchantID, refundID, currency string, livemode bool, amount int64, now time.Time) Transaction {
	return move(KindRefundCreated, merchantID, refundID, currency, livemode, amount, MerchantBalance, RefundsPending, now)
}

// RefundSucceeded pays a reserved refund back to the cardholder.
func RefundSucceeded(merchantID, refundID, currency string, livemode bool, amount int64, now time.Time) Transaction {
	return move(KindRefundSucceeded, merchantID, refundID, currency, livemode, amount, RefundsPending, Cardholders, now)
}

// RefundFailed reverses a reserved refund into the merchant's balance.
func RefundFailed(merchantID, refundID, currency string, livemode bool, amount int64, now time.Time) Transaction {
	return move(KindRefundFailed, merchantID, refundID, currency, livemode, amount, RefundsPending, MerchantBalance, now)
}

// Sum is the total of one account's entries of one kind of transaction.
type Sum struct {
	Currency string
	Account  string
	Kind     string
	Amount   int64
}

// Balance is what the API shows per currency.
type Balance struct {
	Currency       string `json:"currency"`
	Paid           int64  `json:"paid"`            // captured from customers
	Refunded       int64  `json:"refunded"`        // refunds settled
	RefundsPending int64  `json:"refunds_pending"` // refunds in flight
	Owed           int64  `json:"owed"`            // the merchant's balance
}

// Balances folds a merchant's sums into one Balance per currency, sorted.
func Balances(sums []Sum) []Balance {
	by := map[string]*Balance{}
	for _, s := range sums {
		b := by[s.Currency]
		if b == nil {
			b = &Balance{Currency: s.Currency}
			by[s.Currency] = b
		}
		switch {
		case s.Account == MerchantBalance:
			b.Owed += s.Amount
		case s.Account == RefundsPending:
			b.RefundsPending += s.Amount
		}
		switch {
		case s.Account == Cardholders && s.Kind == KindCapture:
			b.Paid -= s.Amount
		case s.Account == Cardholders && s.Kind == KindRefundSucceeded:
			b.Refunded += s.Amount
		}
	}
	out := make([]Balance, 0, len(by))
	for _, b := range by {
		out = append(out, *b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Currency < out[j].Currency })
	return out
}

// Report is what the database says, for Check.
type Report struct {
	Transactions int
	// Unbalanced lists transactions whose entries do not sum to zero.
	Unbalanced []string
	// Accounts: sums per merchant, currency and account.
	Accounts map[Key]int64
	// Recorded: per merchant and currency, from the payments and refunds tables.
	Recorded map[Key]Recorded
	// Payments whose refund amounts disagree with their refunds.
	PaymentMismatches []string
	// Running balances that disagree with the sum of their entries.
	BalanceMismatches []string
}

// Key names a merchant's currency, and an account when it matters.
type Key struct {
	MerchantID, Currency, Account string
}

// Recorded totals of the payments and refunds tables.
type Recorded struct {
	Received, Refunded, Pending int64
}

// Check states the ledger's invariants over a report and returns every
// violation found; none means the ledger verifies.
func Check(r Report) []string {
	var bad []string
	for _, id := range r.Unbalanced {
		bad = append(bad, fmt.Sprintf("transaction %s does not sum to zero", id))
	}
	bad = append(bad, r.PaymentMismatches...)
	bad = append(bad, r.BalanceMismatches...)
	keys := map[Key]bool{}
	for k := range r.Recorded {
		keys[Key{MerchantID: k.MerchantID, Currency: k.Currency}] = true
	}
	for k := range r.Accounts {
		keys[Key{MerchantID: k.MerchantID, Currency: k.Currency}] = true
	}
	for k := range keys {
		rec := r.Recorded[k]
		acct := func(a string) int64 { return r.Accounts[Key{k.MerchantID, k.Currency, a}] }
		if got, want := acct(MerchantBalance), rec.Received-rec.Refunded-rec.Pending; got != want {
			bad = append(bad, fmt.Sprintf("%s %s: merchant_balance %d, but captured − refunded − pending = %d", k.MerchantID, k.Currency, got, want))
		}
		if got := acct(RefundsPending); got != rec.Pending {
			bad = append(bad, fmt.Sprintf("%s %s: refunds_pending %d, but pending refunds = %d", k.MerchantID, k.Currency, got, rec.Pending))
		}
		if got, want := acct(Cardholders), -(rec.Received - rec.Refunded); got != want {
			bad = append(bad, fmt.Sprintf("%s %s: cardholders %d, want %d", k.MerchantID, k.Currency, got, want))
		}
	}
	sort.Strings(bad)
	return bad
}
