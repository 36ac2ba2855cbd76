package store_test

import (
	"context"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/idempotency"
	"github.com/paygate/paygate/internal/store"
	"github.com/paygate/paygate/internal/store/storetest"
)

// TestMigration8ForgetsRecoverableSecrets: rows written before migration 8
// held what a reader of the database could use: unkeyed SHA-256 hashes of
// request bodies (card number and CVC inside) with their answers, customer
// links in event snapshots, and network errors naming internal addresses
// in webhook attempts. After it, none of that is left, and a legacy key
// matches no request (422), so a retry can never make a second payment.
func TestMigration8ForgetsRecoverableSecrets(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		ctx := context.Background()
		db, err := store.Open(ctx, storetest.NewURL(t, backend), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.MigrateTo(ctx, 7); err != nil {
			t.Fatal(err)
		}
		m := newMerchant(t, db)
		body := `{"amount":2000,"currency":"usd","confirm":true,"payment_method":{"type":"card","card":{"number":"4242424242424242","cvc":"123"}}}`
		legacy := sha256.Sum256([]byte(body))
		now := time.Now().UTC().Truncate(time.Second)
		exec := func(q string, args ...any) {
			t.Helper()
			if _, err := db.SQL().ExecContext(ctx, q, args...); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		exec(`INSERT INTO idempotency_keys (merchant_id, key, method, path, request_hash, created_at, resource_id, response_status, response_body)
			VALUES ($1, 'old', 'POST', '/v1/payments', $2, $3, 'pay_1', 201, $4)`, m.ID, legacy[:], now,
			[]byte(`{"id":"pay_1","next_action":{"redirect_to_url":{"url":"https://pay.example/sandbox/authenticate/SECRETTOKEN"}}}`))
		exec(`INSERT INTO events (id, merchant_id, type, object_id, livemode, data, created_at) VALUES ('evt_1', $1, 'payment.requires_action', 'pay_1', false, $2, $3)`,
			m.ID, `{"object":{"id":"pay_1","next_action":{"type":"redirect_to_url","redirect_to_url":{"url":"https://pay.example/sandbox/authenticate/SECRETTOKEN","return_url":"https://shop.example"}}}}`, now)
		exec(`INSERT INTO webhook_endpoints (id, merchant_id, url, description, enabled_events, status, livemode, secret_key_id, secret_dek, secret_data, created_at, updated_at)
			VALUES ('we_1', $1, 'https://hooks.example', '', '*', 'enabled', false, 'k1', $2, $2, $3, $3)`, m.ID, []byte{1}, now)
		exec(`INSERT INTO webhook_deliveries (endpoint_id, event_id, merchant_id, status, next_attempt_at, created_at, updated_at, last_error)
			VALUES ('we_1', 'evt_1', $1, 'pending', $2, $2, $2, 'dial tcp 10.0.0.5:443: refused to connect to 10.0.0.5:443: a private address')`, m.ID, now)
		exec(`INSERT INTO webhook_attempts (id, endpoint_id, event_id, attempted_at, status_code, duration_ms, error)
			VALUES ('wa_1', 'we_1', 'evt_1', $1, 0, 3, 'lookup hooks.example on 10.0.0.2:53: no such host')`, now)
		exec(`INSERT INTO webhook_attempts (id, endpoint_id, event_id, attempted_at, status_code, duration_ms, error)
			VALUES ('wa_2', 'we_1', 'evt_1', $1, 503, 3, 'the endpoint answered 503')`, now)

		if _, err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		dump := storetest.Dump(t, db)
		for _, gone := range []string{"SECRETTOKEN", "10.0.0.", printableHash(legacy[:])} {
			if strings.Contains(dump, gone) {
				t.Errorf("after migration 8 the database still holds %q", gone)
			}
		}
		for _, kept := range []string{"the endpoint answered 503", "payment.requires_action", "https://shop.example", "pay_1"} {
			if !strings.Contains(dump, kept) {
				t.Errorf("migration 8 lost %q", kept)
			}
		}
		// The legacy key is still taken, but matches no request: 422, not
		// a replay and not a fresh start that would pay again.
		hasher := idempotency.NewHasher(make([]byte, 32))
		c, err := db.ClaimIdempotencyKey(ctx, idempotency.Record{MerchantID: m.ID, Key: "old", Method: "POST", Path: "/v1/payments",
			RequestHash: hasher.Sum(false, "POST", "/v1/payments", []byte(body)), CreatedAt: now, LockedUntil: now.Add(time.Minute)})
		if err != nil || c.Outcome != idempotency.Mismatch {
			t.Errorf("claim of a legacy key: %+v %v, want a mismatch", c, err)
		}
	})
}

// printableHash is how storetest.Dump shows a hash: hex.
func printableHash(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}
