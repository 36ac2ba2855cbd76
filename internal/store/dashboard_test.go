package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/audit"
	"github.com/paygate/paygate/internal/clock"
	"github.com/paygate/paygate/internal/customers"
	"github.com/paygate/paygate/internal/ids"
	"github.com/paygate/paygate/internal/ledger"
	"github.com/paygate/paygate/internal/payments"
	"github.com/paygate/paygate/internal/staff"
	"github.com/paygate/paygate/internal/store/storetest"
	"github.com/paygate/paygate/internal/tenant"
)

func staffEvent(merchantID string) audit.Event {
	return audit.New(audit.ActorCLI, staff.UserCreated, "", merchantID, clock.Now())
}

// TestStaffUsersAndSessions: users, passwords, sessions and the sign-in
// throttle, on each database.
func TestStaffUsersAndSessions(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		ctx := context.Background()
		db := storetest.Open(t, backend)
		m := newMerchant(t, db)
		svc := staff.NewService(db)
		svc.Policy = staff.Policy{AccountFailures: 3, AccountLockout: time.Hour, AddressFailures: 5, AddressWindow: time.Hour, AddressLockout: time.Hour}
		email, admin := "Ana@Shop.example", "admin"
		u, err := svc.CreateUser(ctx, m.ID, staff.CreateParams{Email: &email, Role: &admin}, staffEvent(m.ID))
		if err != nil {
			t.Fatal(err)
		}
		if u.Email != "ana@shop.example" || !u.MustChangePassword || len(u.Password) < 20 || !strings.HasPrefix(u.PasswordHash, "$argon2id$") {
			t.Fatalf("user: %+v", u)
		}
		// Bad input and conflicts change nothing.
		before := storetest.Dump(t, db)
		viewer, bad := "viewer", "owner"
		for _, c := range []struct {
			merchant string
			in       staff.CreateParams
			kind     apierror.Kind
			param    string
		}{
			{m.ID, staff.CreateParams{Email: &email, Role: &viewer}, apierror.KindConflict, "email"},
			{m.ID, staff.CreateParams{Email: ptr("not an email"), Role: &viewer}, apierror.KindInvalidRequest, "email"},
			{m.ID, staff.CreateParams{Email: ptr("b@shop.example"), Role: &bad}, apierror.KindInvalidRequest, "role"},
			{m.ID, staff.CreateParams{Role: &viewer}, apierror.KindInvalidRequest, "email"},
			{"mer_unknown", staff.CreateParams{Email: ptr("c@shop.example"), Role: &viewer}, apierror.KindNotFound, "id"},
		} {
			_, err := svc.CreateUser(ctx, c.merchant, c.in, staffEvent(c.merchant))
			if e, ok := apierror.As(err); !ok || e.Kind != c.kind || e.Param != c.param {
				t.Errorf("%+v: %v, want kind %d param %q", c.in, err, c.kind, c.param)
			}
		}
		if after := storetest.Dump(t, db); after != before {
			t.Errorf("refused users changed the database:\n%s", lineDiff(before, after))
		}

		// A session: only its token's hash is stored.
		sess, token, err := svc.SignIn(ctx, "ANA@shop.example ", u.Password, "192.0.2.1", staffEvent(m.ID))
		if err != nil {
			t.Fatal(err)
		}
		if sess.Scope() != (tenant.Scope{MerchantID: m.ID}) || !sess.User.MustChangePassword {
			t.Errorf("session: %+v", sess)
		}
		if dump := storetest.Dump(t, db); strings.Contains(dump, token) || strings.Contains(dump, u.Password) {
			t.Error("the database holds a session token or a password in clear")
		}
		got, err := svc.Session(ctx, token)
		if err != nil || got.User.ID != u.ID {
			t.Fatalf("session by token: %v %v", got, err)
		}
		if _, err := svc.Session(ctx, token+"x"); !errors.Is(err, staff.ErrNotFound) {
			t.Errorf("a wrong token: %v", err)
		}
		// The mode switch is the session's.
		if err := svc.SetMode(ctx, got, true); err != nil {
			t.Fatal(err)
		}
		if got, _ = svc.Session(ctx, token); !got.Livemode {
			t.Error("the session's mode did not switch")
		}

		// A new password ends the user's other sessions, not this one.
		_, other, err := svc.SignIn(ctx, email, u.Password, "192.0.2.1", staffEvent(m.ID))
		if err != nil {
			t.Fatal(err)
		}
		const next = "a new and long password"
		if err := svc.ChangePassword(ctx, got, "wrong", next, next, staffEvent(m.ID)); err == nil {
			t.Error("a wrong current password changed the password")
		}
		if err := svc.ChangePassword(ctx, got, u.Password, "short", "short", staffEvent(m.ID)); err == nil {
			t.Error("a short password was taken")
		}
		if err := svc.ChangePassword(ctx, got, u.Password, next, next, staffEvent(m.ID)); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Session(ctx, other); !errors.Is(err, staff.ErrNotFound) {
			t.Errorf("another session after the password changed: %v", err)
		}
		if s, err := svc.Session(ctx, token); err != nil || s.User.MustChangePassword {
			t.Errorf("the changing session: %v %v", s, err)
		}
		if _, _, err := svc.SignIn(ctx, email, u.Password, "192.0.2.1", staffEvent(m.ID)); !errors.Is(err, staff.ErrBadCredentials) {
			t.Errorf("the old password: %v", err)
		}

		// Sign-out ends the session.
		if err := svc.SignOut(ctx, got, staffEvent(m.ID)); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Session(ctx, token); !errors.Is(err, staff.ErrNotFound) {
			t.Errorf("after sign-out: %v", err)
		}

		// The account's throttle: the third failure in a row locks it,
		// even against the right password; a success before resets it.
		if _, _, err := svc.SignIn(ctx, email, next, "192.0.2.2", staffEvent(m.ID)); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if _, _, err := svc.SignIn(ctx, email, "wrong", "192.0.2.2", staffEvent(m.ID)); !errors.Is(err, staff.ErrBadCredentials) {
				t.Fatalf("a wrong password: %v", err)
			}
		}
		if _, _, err := svc.SignIn(ctx, email, next, "192.0.2.2", staffEvent(m.ID)); err != nil {
			t.Fatalf("the right password after 2 failures: %v", err)
		}
		var locked *staff.LockedError
		for i := range 3 {
			_, _, err := svc.SignIn(ctx, email, "wrong", "192.0.2.3", staffEvent(m.ID))
			if i < 2 && !errors.Is(err, staff.ErrBadCredentials) || i == 2 && (!errors.As(err, &locked) || locked.Address) {
				t.Fatalf("failure %d: %v", i+1, err)
			}
		}
		if _, _, err := svc.SignIn(ctx, email, next, "192.0.2.4", staffEvent(m.ID)); !errors.As(err, &locked) || !locked.Until.After(clock.Now()) {
			t.Errorf("the right password on a locked account: %v", err)
		}

		// The address's throttle: failures on any account (or none) count.
		for i := range 5 {
			_, _, err := svc.SignIn(ctx, "nobody@shop.example", "wrong", "198.51.100.7", staffEvent(m.ID))
			if i < 4 && !errors.Is(err, staff.ErrBadCredentials) || i == 4 && (!errors.As(err, &locked) || !locked.Address) {
				t.Fatalf("address failure %d: %v", i+1, err)
			}
		}
		if _, _, err := svc.SignIn(ctx, "nobody@shop.example", "wrong", "198.51.100.8", staffEvent(m.ID)); !errors.Is(err, staff.ErrBadCredentials) {
			t.Errorf("another address: %v", err)
		}

		// Removing a user ends its sessions at once.
		email2 := "bo@shop.example"
		u2, err := svc.CreateDemoUser(ctx, m.ID, email2, staffEvent(m.ID))
		if err != nil || u2.MustChangePassword {
			t.Fatalf("demo user: %+v %v", u2, err)
		}
		_, t2, err := svc.SignIn(ctx, email2, u2.Password, "192.0.2.9", staffEvent(m.ID))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.RemoveUser(ctx, u2.ID, staffEvent(m.ID)); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Session(ctx, t2); !errors.Is(err, staff.ErrNotFound) {
			t.Errorf("a removed user's session: %v", err)
		}
		// And the email can be given again.
		if _, err := svc.CreateUser(ctx, m.ID, staff.CreateParams{Email: &email2, Role: &viewer}, staffEvent(m.ID)); err != nil {
			t.Errorf("the email of a removed user: %v", err)
		}
		// Each action is in the audit log.
		evs, _, err := db.AuditEvents(ctx, audit.ListQuery{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, e := range evs {
			seen[e.Action] = true
		}
		for _, a := range []string{staff.UserCreated, staff.SignedIn, staff.SignedOut, staff.PasswordChanged, staff.SignInLocked, staff.UserRemoved} {
			if !seen[a] {
				t.Errorf("no %s in the audit log", a)
			}
		}
	})
}

// TestPaymentSearch: the dashboard's search by amount, a card's last 4
// and a customer's email, within the scope only; and the daily volume.
func TestPaymentSearch(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		ctx := context.Background()
		db := storetest.Open(t, backend)
		a, b := newMerchant(t, db), newMerchant(t, db)
		now := clock.Now()
		cust := &customers.Customer{ID: ids.New(ids.Customer), Object: "customer", Email: "ana@shop.example", Metadata: map[string]string{},
			CreatedAt: now, UpdatedAt: now, MerchantID: a.ID}
		if err := db.CreateCustomer(ctx, cust, nil); err != nil {
			t.Fatal(err)
		}
		make := func(merchant, last4 string, amount int64, customer string, captured bool) string {
			pm := &payments.Method{ID: ids.New(ids.PaymentMethod), Object: "payment_method", Type: "card", CreatedAt: now, MerchantID: merchant,
				First6: "424242", Card: &payments.CardDetails{Brand: "visa", Last4: last4, ExpMonth: 12, ExpYear: 2040, Funding: "credit"}}
			p := newPayment(merchant)
			p.PaymentMethod, p.PaymentMethodID, p.Amount, p.Customer, p.Currency = pm, pm.ID, amount, customer, "USD"
			if err := db.CreatePayment(ctx, p, payments.Change{NewMethod: pm}, nil); err != nil {
				t.Fatal(err)
			}
			if captured {
				_, err := db.UpdatePayment(ctx, tenant.Scope{MerchantID: merchant}, p.ID, func(p *payments.Payment) (payments.Change, error) {
					p.Status, p.AmountReceived = payments.Succeeded, amount
					return payments.Change{Ledger: []ledger.Transaction{ledger.Capture(merchant, p.ID, "USD", false, amount, now)}}, nil
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			return p.ID
		}
		p1 := make(a.ID, "4242", 1000, "", true)
		p2 := make(a.ID, "4444", 2500, cust.ID, true)
		p3 := make(a.ID, "4444", 1000, "", false)
		make(b.ID, "4444", 2500, "", true)
		search := func(scope tenant.Scope, q payments.ListQuery) []string {
			t.Helper()
			q.Limit = 10
			ps, _, err := db.Payments(ctx, scope, q)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, p := range ps {
				out = append(out, p.ID)
			}
			return out
		}
		A := tenant.Scope{MerchantID: a.ID}
		amount := int64(1000)
		for _, c := range []struct {
			name string
			q    payments.ListQuery
			want []string
		}{
			{"last 4", payments.ListQuery{Last4: "4444"}, []string{p3, p2}},
			{"amount", payments.ListQuery{Amount: &amount}, []string{p3, p1}},
			{"email", payments.ListQuery{Email: "ana@shop.example"}, []string{p2}},
			{"last 4 and amount", payments.ListQuery{Last4: "4444", Amount: &amount}, []string{p3}},
			{"unknown email", payments.ListQuery{Email: "bo@shop.example"}, nil},
		} {
			if got := search(A, c.q); strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("%s: %v, want %v", c.name, got, c.want)
			}
		}
		// A common match (more cards than the search reads the payments
		// of) is found by walking the list: the same answers.
		db.SetSearchIDs(1)
		if got := search(A, payments.ListQuery{Last4: "4444"}); strings.Join(got, ",") != p3+","+p2 {
			t.Errorf("last 4, walking: %v", got)
		}
		if got := search(A, payments.ListQuery{Last4: "4444", Amount: &amount}); strings.Join(got, ",") != p3 {
			t.Errorf("last 4 and amount, walking: %v", got)
		}
		db.SetSearchIDs(0)
		if got := search(tenant.Scope{MerchantID: a.ID, Livemode: true}, payments.ListQuery{Last4: "4444"}); got != nil {
			t.Errorf("live mode finds test payments: %v", got)
		}
		// The daily volume: today's captures, live; and the days before
		// kept once computed.
		vs, err := db.DailyVolumes(ctx, A, 30, now)
		if err != nil {
			t.Fatal(err)
		}
		if len(vs) != 1 || vs[0].Amount != 3500 || vs[0].Captures != 2 || vs[0].Currency != "USD" || vs[0].Day != now.UTC().Format(time.DateOnly) {
			t.Errorf("daily volumes: %+v", vs)
		}
		tomorrow := now.Add(26 * time.Hour)
		if vs, err = db.DailyVolumes(ctx, A, 30, tomorrow); err != nil || len(vs) != 1 || vs[0].Amount != 3500 {
			t.Errorf("daily volumes a day later: %+v %v", vs, err)
		}
		if !strings.Contains(storetest.Dump(t, db), now.UTC().Format(time.DateOnly)) {
			t.Error("a complete day's volume was not kept")
		}
	})
}
