package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/checkout"
	"github.com/paygate/paygate/internal/ids"
	"github.com/paygate/paygate/internal/store/storetest"
	"github.com/paygate/paygate/internal/tenant"
)

// TestCheckoutSessionList: a merchant's sessions of one mode, newest
// first, a page at a time by cursor both ways; the other mode's and
// another merchant's are not there.
func TestCheckoutSessionList(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		ctx := context.Background()
		db := storetest.Open(t, backend)
		a, b := newMerchant(t, db), newMerchant(t, db)
		start := time.Now().Add(-time.Hour).UTC().Truncate(time.Microsecond)
		create := func(merchantID string, live bool, i int) string {
			at := start.Add(time.Duration(i) * time.Minute)
			s := &checkout.Session{ID: ids.NewAt(ids.Checkout, at), Object: "checkout_session", Status: checkout.Open, Amount: int64(100 + i),
				Currency: "USD", SuccessURL: "https://shop.example/ok", CancelURL: "https://shop.example/cart", CaptureMethod: "automatic",
				Metadata: map[string]string{}, TokenHash: []byte(fmt.Sprintf("hash %s %v %d", merchantID, live, i)), Livemode: live,
				ExpiresAt: at.Add(time.Hour), CreatedAt: at, UpdatedAt: at, MerchantID: merchantID}
			if err := db.CreateCheckoutSession(ctx, s); err != nil {
				t.Fatal(err)
			}
			return s.ID
		}
		var test []string // oldest first
		for i := range 3 {
			test = append(test, create(a.ID, false, i))
		}
		live := create(a.ID, true, 3)
		create(b.ID, false, 4)

		page := func(scope tenant.Scope, q checkout.ListQuery) ([]string, bool) {
			t.Helper()
			ss, more, err := db.CheckoutSessions(ctx, scope, q)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, s := range ss {
				if s.MerchantID != scope.MerchantID || s.Livemode != scope.Livemode {
					t.Errorf("%s is of %s live=%v, listed for %+v", s.ID, s.MerchantID, s.Livemode, scope)
				}
				out = append(out, s.ID)
			}
			return out, more
		}
		testScope := tenant.Scope{MerchantID: a.ID}
		first, more := page(testScope, checkout.ListQuery{Limit: 2})
		if fmt.Sprint(first) != fmt.Sprint([]string{test[2], test[1]}) || !more {
			t.Errorf("first page: %v (more %v), want the two newest and more", first, more)
		}
		next, more := page(testScope, checkout.ListQuery{Limit: 2, StartingAfter: test[1]})
		if fmt.Sprint(next) != fmt.Sprint([]string{test[0]}) || more {
			t.Errorf("after %s: %v (more %v), want the oldest and no more", test[1], next, more)
		}
		back, more := page(testScope, checkout.ListQuery{Limit: 2, EndingBefore: test[0]})
		if fmt.Sprint(back) != fmt.Sprint([]string{test[2], test[1]}) || more {
			t.Errorf("before %s: %v (more %v), want the two newest and no more", test[0], back, more)
		}
		if got, _ := page(tenant.Scope{MerchantID: a.ID, Livemode: true}, checkout.ListQuery{Limit: 10}); fmt.Sprint(got) != fmt.Sprint([]string{live}) {
			t.Errorf("live mode: %v, want only %s", got, live)
		}
	})
}
