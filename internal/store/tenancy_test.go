package store_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/checkout"
	"github.com/paygate/paygate/internal/clock"
	"github.com/paygate/paygate/internal/customers"
	"github.com/paygate/paygate/internal/events"
	"github.com/paygate/paygate/internal/ids"
	"github.com/paygate/paygate/internal/merchants"
	"github.com/paygate/paygate/internal/payments"
	"github.com/paygate/paygate/internal/refunds"
	"github.com/paygate/paygate/internal/routing"
	"github.com/paygate/paygate/internal/store/storetest"
	"github.com/paygate/paygate/internal/tenant"
	"github.com/paygate/paygate/internal/vault"
	"github.com/paygate/paygate/internal/webhooks"
)

// TestStoreTenancy asks the store, from merchant B's scope and from A's
// live mode, for each of merchant A's test-mode objects through every method
// that takes a tenant.Scope: every answer is "not found" (or an empty list),
// no change function runs, and no row changes. The services no longer check
// merchant or mode themselves: this holds every query to its scope. It
// enumerates the store's methods, so a new one must be probed here or be
// named as spanning scopes, with the reason. It also checks that A's events
// were fanned out to A's endpoint alone, not to B's, although both
// subscribe to every type.
func TestStoreTenancy(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		ctx := context.Background()
		db := storetest.Open(t, backend)
		a, b := newMerchant(t, db), newMerchant(t, db)
		keys, err := vault.ParseKeyring("v1:"+vault.NewKey(), "")
		if err != nil {
			t.Fatal(err)
		}
		hooks := webhooks.NewService(db, keys, false)
		url := "https://example.com/hooks"
		endpoint := func(merchantID string) *webhooks.Endpoint {
			e, err := hooks.Create(ctx, tenant.Account{Scope: tenant.Scope{MerchantID: merchantID}}, webhooks.CreateParams{URL: &url, EnabledEvents: []string{"*"}})
			if err != nil {
				t.Fatal(err)
			}
			return e
		}
		epA, epB := endpoint(a.ID), endpoint(b.ID)

		// Merchant A: a card, a captured payment, a pending refund of it,
		// and their events; one failed delivery attempt per event.
		sealed, err := keys.Seal([]byte("4242424242424242"), "pm")
		if err != nil {
			t.Fatal(err)
		}
		now := clock.Now()
		pm := &payments.Method{ID: ids.New(ids.PaymentMethod), Object: "payment_method", Type: "card", CreatedAt: now, MerchantID: a.ID,
			First6: "424242", Secret: sealed, Card: &payments.CardDetails{Brand: "visa", Last4: "4242", ExpMonth: 12, ExpYear: 2040, Funding: "credit"}}
		p := newPayment(a.ID)
		p.PaymentMethod, p.PaymentMethodID = pm, pm.ID
		p.Status, p.CaptureMethod, p.AmountReceived = payments.Succeeded, payments.CaptureAutomatic, p.Amount
		payEv, err := events.New(a.ID, events.PaymentSucceeded, p.ID, false, p, now)
		if err != nil {
			t.Fatal(err)
		}
		// A's sandbox account at the processor, A's routing to it, and the
		// payment's attempt there.
		acctA := tenant.Account{Scope: tenant.Scope{MerchantID: a.ID}}
		routes := routing.NewService(db, keys, false)
		ca, err := routes.Create(ctx, acctA, routing.CreateParams{Connector: ptr("sandbox")})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := routes.PutRouting(ctx, acctA, routing.RulesParams{Fallback: []string{ca.ID}}); err != nil {
			t.Fatal(err)
		}
		attempt := &payments.Attempt{ID: ids.New(ids.PaymentAttempt), Payment: p.ID, ConnectorAccount: ca.ID, Connector: "sandbox",
			Status: payments.AttemptSucceeded, CreatedAt: now, UpdatedAt: now}
		if err := db.CreatePayment(ctx, p, payments.Change{NewMethod: pm, Events: []events.Event{payEv}, Attempt: attempt}, nil); err != nil {
			t.Fatal(err)
		}
		ref, err := db.BeginRefund(ctx, tenant.Scope{MerchantID: a.ID}, p.ID, nil, func(p *payments.Payment) (*refunds.Refund, refunds.Writes, error) {
			r := &refunds.Refund{ID: ids.New(ids.Refund), Object: "refund", Amount: 200, Currency: p.Currency, PaymentID: p.ID,
				Status: refunds.Pending, Metadata: map[string]string{}, CreatedAt: now, UpdatedAt: now, MerchantID: a.ID}
			p.AmountRefundPending += r.Amount
			ev, err := events.New(a.ID, events.RefundCreated, r.ID, false, r, now)
			return r, refunds.Writes{Events: []events.Event{ev}}, err
		})
		if err != nil {
			t.Fatal(err)
		}
		// A's customer, with the card saved to it.
		cus := &customers.Customer{ID: ids.New(ids.Customer), Object: "customer", Email: "a@example.com", Metadata: map[string]string{},
			CreatedAt: now, UpdatedAt: now, MerchantID: a.ID}
		if err := db.CreateCustomer(ctx, cus, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := db.SaveMethod(ctx, tenant.Scope{MerchantID: a.ID}, cus.ID, pm, false, now, func(*payments.Method, bool) ([]events.Event, error) {
			return nil, nil
		}); err != nil {
			t.Fatal(err)
		}
		// A's checkout session.
		cs := &checkout.Session{ID: ids.New(ids.Checkout), Object: "checkout_session", Status: checkout.Open, Amount: 100, Currency: "USD",
			SuccessURL: "https://shop.example/ok", CancelURL: "https://shop.example/cart", CaptureMethod: "automatic", Metadata: map[string]string{},
			TokenHash: []byte("token hash of A's session"), ExpiresAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now, MerchantID: a.ID}
		if err := db.CreateCheckoutSession(ctx, cs); err != nil {
			t.Fatal(err)
		}
		claimAt := time.Now().Add(time.Second).UTC()
		due, err := db.ClaimDeliveries(ctx, claimAt, claimAt.Add(time.Minute), 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range due {
			if d.EndpointID != epA.ID {
				t.Errorf("A's event %s (%s) was fanned out to endpoint %s, not A's %s", d.Event.ID, d.Event.Type, d.EndpointID, epA.ID)
			}
			att := webhooks.Attempt{ID: ids.New(ids.WebhookAttempt), Object: "webhook_attempt", EndpointID: d.EndpointID, EventID: d.Event.ID,
				AttemptedAt: claimAt, StatusCode: 503, Error: "the endpoint answered 503"}
			if err := db.RecordAttempt(ctx, att, webhooks.Result{Status: webhooks.Pending, NextAttemptAt: claimAt.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
		}
		var toB int
		if err := db.SQL().QueryRowContext(ctx, `SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = $1`, epB.ID).Scan(&toB); err != nil {
			t.Fatal(err)
		}
		if toB != 0 {
			t.Errorf("%d deliveries of A's events to B's endpoint", toB)
		}

		// What A sees: the objects exist, so B's answers below are about them.
		page := func(n int, more bool, err error) int {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		all := webhooks.ListQuery{Limit: 100}
		if _, err := db.Payment(ctx, tenant.Scope{MerchantID: a.ID}, p.ID); err != nil {
			t.Fatalf("A's payment: %v", err)
		}
		if _, err := db.Method(ctx, tenant.Scope{MerchantID: a.ID}, pm.ID); err != nil {
			t.Fatalf("A's payment method: %v", err)
		}
		if _, err := db.Refund(ctx, tenant.Scope{MerchantID: a.ID}, ref.ID); err != nil {
			t.Fatalf("A's refund: %v", err)
		}
		if _, err := db.Event(ctx, tenant.Scope{MerchantID: a.ID}, payEv.ID); err != nil {
			t.Fatalf("A's event: %v", err)
		}
		if _, err := db.Endpoint(ctx, tenant.Scope{MerchantID: a.ID}, epA.ID); err != nil {
			t.Fatalf("A's endpoint: %v", err)
		}
		if as, err := db.PaymentAttempts(ctx, tenant.Scope{MerchantID: a.ID}, p.ID); err != nil || len(as) != 1 {
			t.Fatalf("A's payment attempts: %v %v", as, err)
		}
		if r, err := db.Routing(ctx, tenant.Scope{MerchantID: a.ID}); err != nil || !r.Names(ca.ID) {
			t.Fatalf("A's routing: %+v %v", r, err)
		}
		if ds, more, err := db.Deliveries(ctx, tenant.Scope{MerchantID: a.ID}, epA.ID, all); page(len(ds), more, err) != 2 {
			t.Fatalf("A's endpoint has %d deliveries, want 2 (payment.succeeded, refund.created)", len(ds))
		}
		if as, more, err := db.Attempts(ctx, tenant.Scope{MerchantID: a.ID}, epA.ID, all); page(len(as), more, err) != 2 {
			t.Fatalf("A's endpoint has %d attempts, want 2", len(as))
		}

		// Every method that takes a scope, asked for A's objects from
		// another scope: B's (another merchant), and A's live mode. Each
		// probe must find nothing, run no change function, change no row.
		probes := map[string]func(s tenant.Scope) error{
			"Payment": func(s tenant.Scope) error { return notFound(db.Payment(ctx, s, p.ID)) },
			"UpdatePayment": func(s tenant.Scope) error {
				return notFound(db.UpdatePayment(ctx, s, p.ID, func(p *payments.Payment) (payments.Change, error) {
					p.Description, p.Metadata = "changed from another scope", map[string]string{"owner": "other"}
					return payments.Change{}, errCalled
				}))
			},
			"Method": func(s tenant.Scope) error { return notFound(db.Method(ctx, s, pm.ID)) },
			"BeginRefund": func(s tenant.Scope) error {
				return notFound(db.BeginRefund(ctx, s, p.ID, nil, func(p *payments.Payment) (*refunds.Refund, refunds.Writes, error) {
					return nil, refunds.Writes{}, errCalled
				}))
			},
			"FinishRefund": func(s tenant.Scope) error {
				return notFound(db.FinishRefund(ctx, s, ref.ID, func(r *refunds.Refund, p *payments.Payment) (refunds.Writes, error) {
					return refunds.Writes{}, errCalled
				}))
			},
			"Refund": func(s tenant.Scope) error { return notFound(db.Refund(ctx, s, ref.ID)) },
			"Event":  func(s tenant.Scope) error { return notFound(db.Event(ctx, s, payEv.ID)) },
			"Endpoint": func(s tenant.Scope) error {
				return notFound(db.Endpoint(ctx, s, epA.ID))
			},
			"UpdateEndpoint": func(s tenant.Scope) error {
				return notFound(db.UpdateEndpoint(ctx, s, epA.ID, func(e *webhooks.Endpoint) error { return errCalled }))
			},
			"DeleteEndpoint": func(s tenant.Scope) error { return notFound(0, db.DeleteEndpoint(ctx, s, epA.ID)) },
			"Redeliver":      func(s tenant.Scope) error { return notFound(db.Redeliver(ctx, s, epA.ID, payEv.ID, now)) },
			"Deliveries": func(s tenant.Scope) error {
				return firstErr(none(db.Deliveries(ctx, s, epA.ID, all)),
					none(db.Deliveries(ctx, s, epA.ID, webhooks.ListQuery{Limit: 100, EventID: payEv.ID})))
			},
			"Attempts": func(s tenant.Scope) error {
				return firstErr(none(db.Attempts(ctx, s, epA.ID, all)),
					none(db.Attempts(ctx, s, epA.ID, webhooks.ListQuery{Limit: 100, EventID: payEv.ID})))
			},
			"Payments": func(s tenant.Scope) error {
				return firstErr(none(db.Payments(ctx, s, payments.ListQuery{Limit: 100})),
					none(db.Payments(ctx, s, payments.ListQuery{Limit: 100, Status: payments.Succeeded})))
			},
			"Refunds": func(s tenant.Scope) error {
				return firstErr(none(db.Refunds(ctx, s, refunds.ListQuery{Limit: 100})),
					none(db.Refunds(ctx, s, refunds.ListQuery{Limit: 100, PaymentID: p.ID})))
			},
			"Events": func(s tenant.Scope) error {
				return firstErr(none(db.Events(ctx, s, events.ListQuery{Limit: 100})),
					none(db.Events(ctx, s, events.ListQuery{Limit: 100, ObjectID: p.ID})))
			},
			"Endpoints": func(s tenant.Scope) error {
				eps, more, err := db.Endpoints(ctx, s, all)
				for _, e := range eps {
					if e.ID == epA.ID {
						return fmt.Errorf("lists A's endpoint (has more %v, error %v)", more, err)
					}
				}
				return err
			},
			"ConnectorAccount": func(s tenant.Scope) error { return notFound(db.ConnectorAccount(ctx, s, ca.ID)) },
			"ConnectorAccounts": func(s tenant.Scope) error {
				return none(db.ConnectorAccounts(ctx, s, routing.ListQuery{Limit: 100}))
			},
			"ConnectorAccountsByID": func(s tenant.Scope) error {
				as, err := db.ConnectorAccountsByID(ctx, s, []string{ca.ID})
				return none(as, false, err)
			},
			"UpdateConnectorAccount": func(s tenant.Scope) error {
				return notFound(db.UpdateConnectorAccount(ctx, s, ca.ID, func(*routing.Account) error { return errCalled }))
			},
			"DeleteConnectorAccount": func(s tenant.Scope) error { return notFound(0, db.DeleteConnectorAccount(ctx, s, ca.ID, now)) },
			"Routing": func(s tenant.Scope) error {
				r, err := db.Routing(ctx, s)
				if err == nil && (len(r.Rules) > 0 || len(r.Fallback) > 0) {
					err = fmt.Errorf("sees A's routing %+v", r)
				}
				return err
			},
			"PutRouting": func(s tenant.Scope) error {
				err := db.PutRouting(ctx, s, &routing.Rules{Fallback: []string{ca.ID}, UpdatedAt: &now})
				var missing *routing.MissingAccountError
				if !errors.As(err, &missing) {
					return fmt.Errorf("routing to A's account: %v, want it refused as missing", err)
				}
				return nil
			},
			"PaymentAttempts": func(s tenant.Scope) error {
				as, err := db.PaymentAttempts(ctx, s, p.ID)
				return none(as, false, err)
			},
			"CheckoutSession": func(s tenant.Scope) error { return notFound(db.CheckoutSession(ctx, s, cs.ID)) },
			"CheckoutSessions": func(s tenant.Scope) error {
				return none(db.CheckoutSessions(ctx, s, checkout.ListQuery{Limit: 100}))
			},
			"UpdateCheckoutSession": func(s tenant.Scope) error {
				return notFound(db.UpdateCheckoutSession(ctx, s, cs.ID, func(*checkout.Session) ([]events.Event, bool, error) { return nil, false, errCalled }))
			},
			"Customer":       func(s tenant.Scope) error { return notFound(db.Customer(ctx, s, cus.ID)) },
			"CustomerExists": func(s tenant.Scope) error { return notFound(0, db.CustomerExists(ctx, s, cus.ID)) },
			"Customers": func(s tenant.Scope) error {
				return firstErr(none(db.Customers(ctx, s, customers.ListQuery{Limit: 100})),
					none(db.Customers(ctx, s, customers.ListQuery{Limit: 100, Email: cus.Email})))
			},
			"CustomerMethods": func(s tenant.Scope) error {
				return none(db.CustomerMethods(ctx, s, cus.ID, payments.MethodListQuery{Limit: 100}))
			},
			"UpdateCustomer": func(s tenant.Scope) error {
				return notFound(db.UpdateCustomer(ctx, s, cus.ID, func(*customers.Customer) ([]events.Event, error) { return nil, errCalled }))
			},
			"DeleteCustomer": func(s tenant.Scope) error {
				return notFound(0, db.DeleteCustomer(ctx, s, cus.ID, now, func(*customers.Customer, []*payments.Method) ([]events.Event, error) {
					return nil, errCalled
				}))
			},
			"SaveMethod": func(s tenant.Scope) error {
				return notFound(db.SaveMethod(ctx, s, cus.ID, pm, false, now, func(*payments.Method, bool) ([]events.Event, error) { return nil, errCalled }))
			},
			"DetachMethod": func(s tenant.Scope) error {
				return notFound(db.DetachMethod(ctx, s, pm.ID, now, func(*payments.Method) ([]events.Event, error) { return nil, errCalled }))
			},
			// The dashboard's (issue 23).
			"APIKeys": func(s tenant.Scope) error {
				ks, err := db.APIKeys(ctx, s)
				for _, k := range ks {
					if k.MerchantID == a.ID {
						return fmt.Errorf("A's key %s", k.ID)
					}
				}
				return err
			},
			"APIKey": func(s tenant.Scope) error {
				k, err := db.APIKey(ctx, s, a.APIKey.ID)
				if errors.Is(err, merchants.ErrNotFound) {
					return nil
				}
				return fmt.Errorf("found %v (%v)", k, err)
			},
			"DailyVolumes": func(s tenant.Scope) error {
				vs, err := db.DailyVolumes(ctx, s, 30, now)
				if err == nil && len(vs) > 0 {
					err = fmt.Errorf("%d days of A's volume", len(vs))
				}
				return err
			},
			"LedgerSums": func(s tenant.Scope) error {
				sums, err := db.LedgerSums(ctx, s)
				if err == nil && len(sums) > 0 {
					err = fmt.Errorf("%d sums of A's ledger", len(sums))
				}
				return err
			},
		}
		// A new method that takes a scope needs a probe here; one that
		// does not must say why it spans scopes.
		spans := map[string]string{
			"CreatePayment": "the payment carries its scope", "CreateMethod": "the method carries its scope",
			"CreateEndpoint": "the endpoint carries its scope", "CreateMerchant": "admin", "CreateKey": "admin",
			"CreateConnectorAccount": "the account carries its scope", "CreateCustomer": "the customer carries its scope",
			"ConnectorAccountAnyScope": "a processor's webhook URL names the account; what follows a payment's authorization goes there",
			"PaymentForProcessor":      "the customer back from a processor's page names the payment: it only makes paygate ask the processor",
			"RevokeKey":                "admin", "AuditEvents": "admin", "AppendAudit": "admin", "KeyBySecretHash": "authentication: the key names its scope",
			"TouchKey": "authentication", "CountMerchants": "first start", "StalePayments": "recovery, every merchant",
			"StaleRefunds": "recovery, every merchant", "ExpiredActions": "expiry, every merchant",
			"PaymentByActionToken": "the customer's link is the credential", "ClaimDeliveries": "the delivery worker, every merchant",
			"RecordAttempt": "the delivery worker", "PendingDeliveries": "a metric", "LedgerReport": "ledger verify, every merchant",
			"SealedNotUnder": "keys rotate, every record", "ReplaceSealed": "keys rotate",
			"ClaimIdempotencyKey":    "keys are per merchant across modes (a reuse across modes is a 422)",
			"CompleteIdempotencyKey": "idempotency", "ReleaseIdempotencyKey": "idempotency", "ForgetIdempotencyKey": "idempotency",
			"DeleteIdempotencyKeys": "retention, every merchant",
			"Backend":               "", "Close": "", "Migrate": "", "MigrateTo": "", "SetSearchIDs": "", "Ping": "", "Pools": "", "SQL": "", "Tables": "",
			"DeleteWebhookAttempts": "retention, every merchant", "ClearActionTokens": "retention, every merchant",
			"CreateCheckoutSession": "the session carries its scope", "CheckoutSessionByToken": "the page's link is the credential",
			"DueCheckoutSessions": "expiry and completion, every merchant", "MerchantName": "the page shows its session's merchant",
			// The dashboard's users and sessions (issue 23): a user names
			// its merchant, a session its user; the sign-in throttle is
			// per address and per account.
			"CreateStaffUser": "admin", "RemoveStaffUser": "admin", "StaffUserByEmail": "sign-in: the email names the user",
			"AddressLockedUntil": "the sign-in throttle, per address", "RecordSignInFailure": "the sign-in throttle",
			"CreateStaffSession": "sign-in", "StaffSession": "authentication: the session names its user and scope",
			"TouchStaffSession": "the session's token is the credential", "SetStaffSessionMode": "the session's token is the credential",
			"DeleteStaffSession": "the session's token is the credential", "ChangeStaffPassword": "the signed-in user's own",
		}
		scopeType := reflect.TypeFor[tenant.Scope]()
		dbType := reflect.TypeOf(db)
		for i := range dbType.NumMethod() {
			m := dbType.Method(i)
			scoped := false
			for j := 1; j < m.Type.NumIn(); j++ {
				scoped = scoped || m.Type.In(j) == scopeType
			}
			_, probed := probes[m.Name]
			_, spanning := spans[m.Name]
			switch {
			case scoped && !probed:
				t.Errorf("store.DB.%s takes a tenant.Scope but has no probe in this test", m.Name)
			case !scoped && !spanning:
				t.Errorf("store.DB.%s takes no tenant.Scope: scope it, or say in this test why it spans scopes", m.Name)
			}
		}

		// The daily volume keeps each complete day once computed: once
		// for each probing scope before the dump, so probing writes nothing.
		for _, s := range []tenant.Scope{{MerchantID: b.ID}, {MerchantID: a.ID, Livemode: true}} {
			if _, err := db.DailyVolumes(ctx, s, 30, now); err != nil {
				t.Fatal(err)
			}
		}
		before := storetest.Dump(t, db)
		for _, other := range []struct {
			name  string
			scope tenant.Scope
		}{{"merchant B", tenant.Scope{MerchantID: b.ID}}, {"A's live mode", tenant.Scope{MerchantID: a.ID, Livemode: true}}} {
			for name, probe := range probes {
				if err := probe(other.scope); err != nil {
					t.Errorf("%s from %s on A's objects: %v", name, other.name, err)
				}
			}
		}
		// B's own endpoint received none of A's events, and is B's to list.
		if err := none(db.Deliveries(ctx, tenant.Scope{MerchantID: b.ID}, epB.ID, all)); err != nil {
			t.Errorf("deliveries of B's endpoint: %v", err)
		}
		if eps, _, err := db.Endpoints(ctx, tenant.Scope{MerchantID: b.ID}, all); err != nil || len(eps) != 1 || eps[0].ID != epB.ID {
			t.Errorf("B's endpoints: %d (%v), want its own", len(eps), err)
		}
		// A's own scope lists its session: the probe above can fail.
		if ss, _, err := db.CheckoutSessions(ctx, tenant.Scope{MerchantID: a.ID}, checkout.ListQuery{Limit: 100}); err != nil || len(ss) != 1 || ss[0].ID != cs.ID {
			t.Errorf("A's checkout sessions: %d (%v), want its own", len(ss), err)
		}
		if after := storetest.Dump(t, db); after != before {
			t.Errorf("calls from other scopes changed the database:\n%s", lineDiff(before, after))
		}
	})
}

// errCalled is what a probe's change function returns: it must never run.
var errCalled = errors.New("the change function ran on another scope's object")

// notFound is nil when a lookup found nothing (any "not found" error of
// the store's), else what it found.
func notFound[T any](v T, err error) error {
	switch {
	case errors.Is(err, errCalled):
		return err
	case err == nil:
		return fmt.Errorf("found %v", v)
	case errors.Is(err, payments.ErrNotFound), errors.Is(err, refunds.ErrNotFound), errors.Is(err, events.ErrNotFound), errors.Is(err, webhooks.ErrNotFound),
		errors.Is(err, routing.ErrNotFound), errors.Is(err, customers.ErrNotFound), errors.Is(err, payments.ErrCustomerNotFound),
		errors.Is(err, checkout.ErrNotFound):
		return nil
	}
	return fmt.Errorf("error %w, want not found", err)
}

// none is nil when a list is empty.
func none[T any](items []T, more bool, err error) error {
	if err != nil || len(items) > 0 || more {
		return fmt.Errorf("%d items (has more %v), error %v", len(items), more, err)
	}
	return nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// lineDiff lists the lines of a dump that went (-) and came (+).
func lineDiff(before, after string) string {
	was, is := strings.Split(before, "\n"), strings.Split(after, "\n")
	var out strings.Builder
	for _, l := range was {
		if !slices.Contains(is, l) {
			fmt.Fprintf(&out, "- %s\n", l)
		}
	}
	for _, l := range is {
		if !slices.Contains(was, l) {
			fmt.Fprintf(&out, "+ %s\n", l)
		}
	}
	return out.String()
}

func ptr[T any](v T) *T { return &v }
