package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/events"
	"github.com/paygate/paygate/internal/ids"
	"github.com/paygate/paygate/internal/payments"
	"github.com/paygate/paygate/internal/refunds"
	"github.com/paygate/paygate/internal/store/storetest"
	"github.com/paygate/paygate/internal/vault"
	"github.com/paygate/paygate/internal/webhooks"
)

// TestStoreTenancy asks the store, with merchant B's id, for each of
// merchant A's objects through every method that takes a merchant id and an
// object id, and lists B's objects: every answer is "not found" (or an empty
// list, or only B's own), no change function runs, and no row changes. The
// API's tenancy tests go through services that may check on their own; this
// one holds every query to its merchant_id condition. It also checks that
// A's events were fanned out to A's endpoint alone, not to B's, although
// both subscribe to every type.
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
			e, err := hooks.Create(ctx, payments.Account{MerchantID: merchantID}, webhooks.CreateParams{URL: &url, EnabledEvents: []string{"*"}})
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
		now := payments.Now()
		pm := &payments.Method{ID: ids.New(ids.PaymentMethod), Object: "payment_method", Type: "card", CreatedAt: now, MerchantID: a.ID,
			First6: "424242", Secret: sealed, Card: &payments.CardDetails{Brand: "visa", Last4: "4242", ExpMonth: 12, ExpYear: 2040, Funding: "credit"}}
		p := newPayment(a.ID)
		p.PaymentMethod, p.PaymentMethodID = pm, pm.ID
		p.Status, p.CaptureMethod, p.AmountReceived = payments.Succeeded, payments.CaptureAutomatic, p.Amount
		payEv, err := events.New(a.ID, events.PaymentSucceeded, p.ID, false, p, now)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.CreatePayment(ctx, p, pm, []events.Event{payEv}); err != nil {
			t.Fatal(err)
		}
		ref, err := db.BeginRefund(ctx, a.ID, p.ID, func(p *payments.Payment) (*refunds.Refund, refunds.Writes, error) {
			r := &refunds.Refund{ID: ids.New(ids.Refund), Object: "refund", Amount: 200, Currency: p.Currency, PaymentID: p.ID,
				Status: refunds.Pending, Metadata: map[string]string{}, CreatedAt: now, UpdatedAt: now, MerchantID: a.ID}
			p.AmountRefundPending += r.Amount
			ev, err := events.New(a.ID, events.RefundCreated, r.ID, false, r, now)
			return r, refunds.Writes{Events: []events.Event{ev}}, err
		})
		if err != nil {
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
		if _, err := db.Payment(ctx, a.ID, p.ID); err != nil {
			t.Fatalf("A's payment: %v", err)
		}
		if _, err := db.Method(ctx, a.ID, pm.ID); err != nil {
			t.Fatalf("A's payment method: %v", err)
		}
		if _, err := db.Refund(ctx, a.ID, ref.ID); err != nil {
			t.Fatalf("A's refund: %v", err)
		}
		if _, err := db.Event(ctx, a.ID, payEv.ID); err != nil {
			t.Fatalf("A's event: %v", err)
		}
		if _, err := db.Endpoint(ctx, a.ID, epA.ID); err != nil {
			t.Fatalf("A's endpoint: %v", err)
		}
		if ds, more, err := db.Deliveries(ctx, a.ID, epA.ID, all); page(len(ds), more, err) != 2 {
			t.Fatalf("A's endpoint has %d deliveries, want 2 (payment.succeeded, refund.created)", len(ds))
		}
		if as, more, err := db.Attempts(ctx, a.ID, epA.ID, all); page(len(as), more, err) != 2 {
			t.Fatalf("A's endpoint has %d attempts, want 2", len(as))
		}

		before := storetest.Dump(t, db)
		called := func(what string) { t.Errorf("%s with B's id ran its change function on A's object", what) }
		notFound := func(what string, err, want error) {
			t.Helper()
			if !errors.Is(err, want) {
				t.Errorf("%s with B's id on A's object: %v, want %v", what, err, want)
			}
		}
		empty := func(what string, n int, more bool, err error) {
			t.Helper()
			if err != nil || n != 0 || more {
				t.Errorf("%s with B's id: %d of A's objects (has more %v), error %v", what, n, more, err)
			}
		}

		_, err = db.Payment(ctx, b.ID, p.ID)
		notFound("Payment", err, payments.ErrNotFound)
		_, err = db.UpdatePayment(ctx, b.ID, p.ID, func(p *payments.Payment) (payments.Change, error) {
			called("UpdatePayment")
			p.Description, p.Metadata = "changed by B", map[string]string{"owner": "B"}
			return payments.Change{}, nil
		})
		notFound("UpdatePayment", err, payments.ErrNotFound)
		_, err = db.Method(ctx, b.ID, pm.ID)
		notFound("Method", err, payments.ErrNotFound)
		_, err = db.BeginRefund(ctx, b.ID, p.ID, func(p *payments.Payment) (*refunds.Refund, refunds.Writes, error) {
			called("BeginRefund")
			p.AmountRefundPending++
			return &refunds.Refund{ID: ids.New(ids.Refund), Object: "refund", Amount: 1, Currency: p.Currency, PaymentID: p.ID,
				Status: refunds.Pending, Metadata: map[string]string{}, CreatedAt: now, UpdatedAt: now, MerchantID: b.ID}, refunds.Writes{}, nil
		})
		notFound("BeginRefund", err, refunds.ErrNotFound)
		_, err = db.FinishRefund(ctx, b.ID, ref.ID, func(r *refunds.Refund, p *payments.Payment) (refunds.Writes, error) {
			called("FinishRefund")
			r.Status, r.FailureReason = refunds.Failed, "declined"
			return refunds.Writes{}, nil
		})
		notFound("FinishRefund", err, refunds.ErrNotFound)
		_, err = db.Refund(ctx, b.ID, ref.ID)
		notFound("Refund", err, refunds.ErrNotFound)
		_, err = db.Event(ctx, b.ID, payEv.ID)
		notFound("Event", err, events.ErrNotFound)
		_, err = db.Endpoint(ctx, b.ID, epA.ID)
		notFound("Endpoint", err, webhooks.ErrNotFound)
		_, err = db.UpdateEndpoint(ctx, b.ID, epA.ID, func(e *webhooks.Endpoint) error {
			called("UpdateEndpoint")
			e.URL, e.Status = "https://attacker.example/hooks", webhooks.Disabled
			return nil
		})
		notFound("UpdateEndpoint", err, webhooks.ErrNotFound)
		notFound("DeleteEndpoint", db.DeleteEndpoint(ctx, b.ID, epA.ID), webhooks.ErrNotFound)
		_, err = db.Redeliver(ctx, b.ID, epA.ID, payEv.ID, now)
		notFound("Redeliver", err, webhooks.ErrNotFound)

		ds, more, err := db.Deliveries(ctx, b.ID, epA.ID, all)
		empty("Deliveries", len(ds), more, err)
		ds, more, err = db.Deliveries(ctx, b.ID, epA.ID, webhooks.ListQuery{Limit: 100, EventID: payEv.ID})
		empty("Deliveries of one event", len(ds), more, err)
		as, more, err := db.Attempts(ctx, b.ID, epA.ID, all)
		empty("Attempts", len(as), more, err)
		as, more, err = db.Attempts(ctx, b.ID, epA.ID, webhooks.ListQuery{Limit: 100, EventID: payEv.ID})
		empty("Attempts of one event", len(as), more, err)
		ps, more, err := db.Payments(ctx, b.ID, payments.ListQuery{Limit: 100})
		empty("Payments", len(ps), more, err)
		ps, more, err = db.Payments(ctx, b.ID, payments.ListQuery{Limit: 100, Status: payments.Succeeded})
		empty("Payments by status", len(ps), more, err)
		rs, more, err := db.Refunds(ctx, b.ID, refunds.ListQuery{Limit: 100})
		empty("Refunds", len(rs), more, err)
		rs, more, err = db.Refunds(ctx, b.ID, refunds.ListQuery{Limit: 100, PaymentID: p.ID})
		empty("Refunds of A's payment", len(rs), more, err)
		evs, more, err := db.Events(ctx, b.ID, events.ListQuery{Limit: 100})
		empty("Events", len(evs), more, err)
		evs, more, err = db.Events(ctx, b.ID, events.ListQuery{Limit: 100, ObjectID: p.ID})
		empty("Events of A's payment", len(evs), more, err)
		eps, more, err := db.Endpoints(ctx, b.ID, all)
		if err != nil || more || len(eps) != 1 || eps[0].ID != epB.ID {
			var got []string
			for _, e := range eps {
				got = append(got, e.ID)
			}
			t.Errorf("Endpoints with B's id: %v (has more %v, error %v), want B's own [%s]", got, more, err, epB.ID)
		}
		// B's own endpoint received none of A's events.
		ds, more, err = db.Deliveries(ctx, b.ID, epB.ID, all)
		empty("Deliveries of B's endpoint", len(ds), more, err)

		if after := storetest.Dump(t, db); after != before {
			t.Errorf("calls with B's id changed the database:\n%s", lineDiff(before, after))
		}
	})
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
