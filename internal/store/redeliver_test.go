package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/clock"
	"github.com/paygate/paygate/internal/ids"
	"github.com/paygate/paygate/internal/store/storetest"
	"github.com/paygate/paygate/internal/tenant"
	"github.com/paygate/paygate/internal/webhooks"
)

// A redelivery asked for while an attempt of the same delivery is on its
// way is not lost: the attempt, recorded after it, is kept as an attempt
// but leaves the delivery pending, and the next claim sends it again.
func TestRedeliveryDuringAnAttemptIsNotLost(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		ctx := context.Background()
		db := storetest.Open(t, backend)
		m := newMerchant(t, db)
		now := clock.Now()
		for _, q := range []string{
			`INSERT INTO events (id, merchant_id, type, object_id, livemode, data, created_at) VALUES ('evt_1', $1, 'payment.succeeded', 'pay_1', false, '{}', $2)`,
			`INSERT INTO webhook_endpoints (id, merchant_id, url, description, enabled_events, status, livemode, secret_key_id, secret_dek, secret_data, created_at, updated_at)
				VALUES ('we_1', $1, 'https://hooks.example', '', '*', 'enabled', false, 'k1', 'x', 'x', $2, $2)`,
			`INSERT INTO webhook_deliveries (endpoint_id, event_id, merchant_id, status, next_attempt_at, created_at, updated_at)
				VALUES ('we_1', 'evt_1', $1, 'pending', $2, $2, $2)`,
		} {
			if _, err := db.SQL().ExecContext(ctx, q, m.ID, now); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		claim := func(at time.Time) []webhooks.Due {
			t.Helper()
			due, err := db.ClaimDeliveries(ctx, at, at.Add(time.Minute), 10)
			if err != nil {
				t.Fatal(err)
			}
			return due
		}
		at := now.Add(time.Second)
		due := claim(at)
		if len(due) != 1 || due[0].Attempt != 1 {
			t.Fatalf("claimed %+v, want the delivery's first attempt", due)
		}
		if _, err := db.Redeliver(ctx, tenant.Scope{MerchantID: m.ID}, "we_1", "evt_1", at); err != nil {
			t.Fatal(err)
		}
		att := webhooks.Attempt{ID: ids.New(ids.WebhookAttempt), Object: "webhook_attempt", EndpointID: "we_1", EventID: "evt_1",
			AttemptedAt: at, StatusCode: 200}
		if err := db.RecordAttempt(ctx, att, webhooks.Result{Status: webhooks.Succeeded, Claim: due[0].Attempt}); err != nil {
			t.Fatal(err)
		}
		var status string
		var attempts, recorded int
		if err := db.SQL().QueryRowContext(ctx, `SELECT status, attempts, (SELECT count(*) FROM webhook_attempts) FROM webhook_deliveries`).
			Scan(&status, &attempts, &recorded); err != nil {
			t.Fatal(err)
		}
		if status != webhooks.Pending || attempts != 0 || recorded != 1 {
			t.Fatalf("after an attempt that crossed a redelivery: status %s, attempts %d, %d attempts recorded; want pending, 0, 1", status, attempts, recorded)
		}
		if due := claim(at.Add(time.Second)); len(due) != 1 {
			t.Fatalf("the redelivery is not claimed again: %+v", due)
		}
		// Under its own claim, a result applies.
		att.ID = ids.New(ids.WebhookAttempt)
		if err := db.RecordAttempt(ctx, att, webhooks.Result{Status: webhooks.Succeeded, Claim: 1}); err != nil {
			t.Fatal(err)
		}
		if err := db.SQL().QueryRowContext(ctx, `SELECT status FROM webhook_deliveries`).Scan(&status); err != nil || status != webhooks.Succeeded {
			t.Fatalf("status %q (%v), want succeeded", status, err)
		}
	})
}
