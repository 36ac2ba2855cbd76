package payments_test

import (
	"testing"
	"time"

	"github.com/paygate/paygate/internal/payments"
)

func TestMethodExpired(t *testing.T) {
	now := time.Date(2031, time.March, 31, 23, 59, 0, 0, time.UTC)
	for _, c := range []struct {
		month, year int
		expired     bool
	}{{3, 2031, false}, {2, 2031, true}, {12, 2030, true}, {1, 2032, false}, {4, 2031, false}} {
		m := &payments.Method{Card: &payments.CardDetails{ExpMonth: c.month, ExpYear: c.year}}
		if got := m.Expired(now); got != c.expired {
			t.Errorf("%02d/%d at %s: expired %v, want %v", c.month, c.year, now.Format("2006-01-02"), got, c.expired)
		}
	}
	if (&payments.Method{Wallet: &payments.WalletDetails{Type: "apple_pay", Card: &payments.CardDetails{}}}).Expired(now) {
		t.Error("a wallet without a known expiry is expired")
	}
}
