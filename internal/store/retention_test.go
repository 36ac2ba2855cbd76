package store_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/clock"
	"github.com/paygate/paygate/internal/events"
	"github.com/paygate/paygate/internal/ids"
	"github.com/paygate/paygate/internal/payments"
	"github.com/paygate/paygate/internal/store"
	"github.com/paygate/paygate/internal/store/storetest"
	"github.com/paygate/paygate/internal/tenant"
	"github.com/paygate/paygate/internal/vault"
	"github.com/paygate/paygate/internal/webhooks"
)

// retentionFixture makes the rows the retention statements look at.
type retentionFixture struct {
	t          *testing.T
	db         *store.DB
	merchantID string
	endpointID string
}

func newRetentionFixture(t *testing.T, db *store.DB) *retentionFixture {
	t.Helper()
	m := newMerchant(t, db)
	keys, err := vault.ParseKeyring("v1:"+vault.NewKey(), "")
	if err != nil {
		t.Fatal(err)
	}
	url := "https://example.com/hooks"
	e, err := webhooks.NewService(db, keys, false).Create(context.Background(), tenant.Account{Scope: tenant.Scope{MerchantID: m.ID}},
		webhooks.CreateParams{URL: &url, EnabledEvents: []string{"*"}})
	if err != nil {
		t.Fatal(err)
	}
	return &retentionFixture{t: t, db: db, merchantID: m.ID, endpointID: e.ID}
}

// keys inserts n idempotency keys named prefix-i, created at createdAt,
// whose request holds the key until lockedUntil (nil: completed).
func (f *retentionFixture) keys(prefix string, n int, createdAt time.Time, lockedUntil *time.Time) {
	f.t.Helper()
	f.exec(n, func(tx *sql.Tx, i int) error {
		_, err := tx.Exec(`INSERT INTO idempotency_keys (merchant_id, key, livemode, method, path, request_hash, locked_until, created_at, response_status)
			VALUES ($1, $2, false, 'POST', '/v1/payments', $3, $4, $5, 200)`, f.merchantID, fmt.Sprintf("%s-%d", prefix, i), []byte{1}, lockedUntil, createdAt)
		return err
	})
}

// delivery makes an event delivered to the fixture's endpoint, and returns
// the event's id. The delivery is pending until attempts records one.
func (f *retentionFixture) delivery() string {
	f.t.Helper()
	return f.deliveryWith(webhooks.Pending)
}

// finishedDelivery is a delivery that failed for good.
func (f *retentionFixture) finishedDelivery() string {
	f.t.Helper()
	return f.deliveryWith(webhooks.Failed)
}

func (f *retentionFixture) deliveryWith(status string) string {
	f.t.Helper()
	p := newPayment(f.merchantID)
	ev, err := events.New(f.merchantID, events.PaymentCreated, p.ID, false, p, p.CreatedAt)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.db.CreatePayment(context.Background(), p, payments.Change{Events: []events.Event{ev}}, nil); err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.db.SQL().Exec(`UPDATE webhook_deliveries SET status = $1 WHERE event_id = $2`, status, ev.ID); err != nil {
		f.t.Fatal(err)
	}
	return ev.ID
}

// attempts records n attempts of the event's delivery at at, and leaves the
// delivery with status; it returns their ids.
func (f *retentionFixture) attempts(eventID string, n int, at time.Time, status string) []string {
	f.t.Helper()
	var out []string
	for range n {
		a := webhooks.Attempt{ID: ids.New(ids.WebhookAttempt), EndpointID: f.endpointID, EventID: eventID, AttemptedAt: at, StatusCode: 503,
			Error: "the endpoint answered 503"}
		if err := f.db.RecordAttempt(context.Background(), a, webhooks.Result{Status: status, NextAttemptAt: at.Add(time.Hour)}); err != nil {
			f.t.Fatal(err)
		}
		out = append(out, a.ID)
	}
	return out
}

// bulkAttempts inserts n attempts of the event's delivery at at, in one
// transaction (without touching the delivery).
func (f *retentionFixture) bulkAttempts(eventID string, n int, at time.Time) {
	f.t.Helper()
	f.exec(n, func(tx *sql.Tx, _ int) error {
		_, err := tx.Exec(`INSERT INTO webhook_attempts (id, endpoint_id, event_id, attempted_at, status_code, duration_ms, error)
			VALUES ($1, $2, $3, $4, 503, 1, '')`, ids.New(ids.WebhookAttempt), f.endpointID, eventID, at)
		return err
	})
}

// waitingPayment makes a payment waiting for its customer behind a link
// that expires at expires; it returns the payment and the token's hash.
func (f *retentionFixture) waitingPayment(expires time.Time) (*payments.Payment, []byte) {
	f.t.Helper()
	ctx := context.Background()
	p := newPayment(f.merchantID)
	if err := f.db.CreatePayment(ctx, p, payments.Change{}, nil); err != nil {
		f.t.Fatal(err)
	}
	// A link is issued by an update, as the processor's answer asks for it.
	p, err := f.db.UpdatePayment(ctx, tenant.Scope{MerchantID: f.merchantID}, p.ID, func(p *payments.Payment) (payments.Change, error) {
		p.Status = payments.RequiresAction
		p.NextAction = &payments.NextAction{Type: "redirect_to_url", RedirectToURL: &payments.RedirectToURL{URL: "https://pay.example/{token}"}}
		p.ActionTokenHash, p.ActionExpiresAt = []byte(rand.Text()), &expires
		return payments.Change{}, nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return p, p.ActionTokenHash
}

// exec runs insert n times in one transaction.
func (f *retentionFixture) exec(n int, insert func(tx *sql.Tx, i int) error) {
	f.t.Helper()
	tx, err := f.db.SQL().Begin()
	if err != nil {
		f.t.Fatal(err)
	}
	defer tx.Rollback()
	for i := range n {
		if err := insert(tx, i); err != nil {
			f.t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		f.t.Fatal(err)
	}
}

func (f *retentionFixture) strings(query string, args ...any) []string {
	f.t.Helper()
	rows, err := f.db.SQL().Query(query, args...)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			f.t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		f.t.Fatal(err)
	}
	return out
}

func (f *retentionFixture) count(query string, args ...any) int {
	f.t.Helper()
	var n int
	if err := f.db.SQL().QueryRow(query, args...).Scan(&n); err != nil {
		f.t.Fatal(err)
	}
	return n
}

// TestRetentionDeletesOnlyExpired: each statement takes the rows past their
// retention and no other: not a key whose request is still in flight, not
// the attempts of a delivery still pending, not a link still usable; and of
// a payment only the token's hash goes.
func TestRetentionDeletesOnlyExpired(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		ctx := context.Background()
		db := storetest.Open(t, backend)
		f := newRetentionFixture(t, db)
		now := clock.Now()
		lease := now.Add(30 * time.Second)
		ranOut := now.Add(-25*time.Hour + 30*time.Second)

		f.keys("old", 2, now.Add(-25*time.Hour), nil)
		f.keys("old-dead", 1, now.Add(-25*time.Hour), &ranOut) // its request died long ago
		f.keys("old-running", 1, now.Add(-25*time.Hour), &lease)
		f.keys("recent", 1, now.Add(-23*time.Hour), nil)
		if n, err := db.DeleteIdempotencyKeys(ctx, now.Add(-24*time.Hour), now, 100); err != nil || n != 3 {
			t.Fatalf("deleted %d keys (%v), want 3", n, err)
		}
		if got, want := f.strings(`SELECT key FROM idempotency_keys ORDER BY key`), []string{"old-running-0", "recent-0"}; !slices.Equal(got, want) {
			t.Errorf("keys left: %v, want %v", got, want)
		}

		done, pending := f.delivery(), f.delivery()
		gone := f.attempts(done, 2, now.Add(-40*24*time.Hour), webhooks.Pending)
		kept := f.attempts(done, 1, now.Add(-29*24*time.Hour), webhooks.Failed)
		kept = append(kept, f.attempts(pending, 1, now.Add(-40*24*time.Hour), webhooks.Pending)...)
		if n, err := db.DeleteWebhookAttempts(ctx, now.Add(-30*24*time.Hour), 100); err != nil || n != int64(len(gone)) {
			t.Fatalf("deleted %d attempts (%v), want %d", n, err, len(gone))
		}
		slices.Sort(kept)
		if got := f.strings(`SELECT id FROM webhook_attempts ORDER BY id`); !slices.Equal(got, kept) {
			t.Errorf("attempts left: %v, want %v", got, kept)
		}

		expired, expiredHash := f.waitingPayment(now.Add(-2 * time.Minute))
		live, liveHash := f.waitingPayment(now.Add(10 * time.Minute))
		if n, err := db.ClearActionTokens(ctx, now.Add(-time.Minute), 100); err != nil || n != 1 {
			t.Fatalf("cleared %d tokens (%v), want 1", n, err)
		}
		if _, err := db.PaymentByActionToken(ctx, expiredHash); err != payments.ErrNotFound {
			t.Errorf("the expired link still finds its payment: %v", err)
		}
		if p, err := db.PaymentByActionToken(ctx, liveHash); err != nil || p.ID != live.ID {
			t.Errorf("the live link: %v", err)
		}
		p, err := db.Payment(ctx, tenant.Scope{MerchantID: f.merchantID}, expired.ID)
		if err != nil {
			t.Fatal(err)
		}
		// The expiry job still finds the abandoned payment, to cancel it.
		if p.ActionTokenHash != nil || p.Status != payments.RequiresAction || p.ActionExpiresAt == nil || !p.ActionExpiresAt.Equal(*expired.ActionExpiresAt) ||
			p.NextAction == nil || !p.UpdatedAt.Equal(expired.UpdatedAt) {
			t.Errorf("after clearing its token: %+v", p)
		}
		if ps, err := db.ExpiredActions(ctx, now, 10); err != nil || len(ps) != 1 || ps[0].ID != expired.ID {
			t.Errorf("expired actions: %d (%v), want the payment", len(ps), err)
		}
	})
}

// TestRetentionBatchesAreBounded: a statement deletes at most its limit,
// and the next one continues where it stopped.
func TestRetentionBatchesAreBounded(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		ctx := context.Background()
		db := storetest.Open(t, backend)
		f := newRetentionFixture(t, db)
		now := clock.Now()
		f.keys("k", 25, now.Add(-48*time.Hour), nil)
		f.bulkAttempts(f.finishedDelivery(), 25, now.Add(-48*time.Hour))
		for range 25 {
			f.waitingPayment(now.Add(-time.Hour))
		}
		for name, del := range map[string]func(limit int) (int64, error){
			"idempotency keys": func(limit int) (int64, error) {
				return db.DeleteIdempotencyKeys(ctx, now.Add(-24*time.Hour), now, limit)
			},
			"webhook attempts": func(limit int) (int64, error) { return db.DeleteWebhookAttempts(ctx, now.Add(-24*time.Hour), limit) },
			"action tokens":    func(limit int) (int64, error) { return db.ClearActionTokens(ctx, now, limit) },
		} {
			var got []int64
			for range 4 {
				n, err := del(10)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				got = append(got, n)
			}
			if want := []int64{10, 10, 5, 0}; !slices.Equal(got, want) {
				t.Errorf("%s: batches of %v, want %v", name, got, want)
			}
		}
	})
}

// TestRetentionConcurrentDeleters: deleters running at once (the jobs of
// several instances) delete every row exactly once, without an error.
func TestRetentionConcurrentDeleters(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		ctx := context.Background()
		db := storetest.Open(t, backend)
		f := newRetentionFixture(t, db)
		now := clock.Now()
		const total, workers, batch = 300, 8, 7
		f.keys("k", total, now.Add(-48*time.Hour), nil)
		f.bulkAttempts(f.finishedDelivery(), total, now.Add(-48*time.Hour))
		for name, del := range map[string]func(limit int) (int64, error){
			"idempotency keys": func(limit int) (int64, error) {
				return db.DeleteIdempotencyKeys(ctx, now.Add(-24*time.Hour), now, limit)
			},
			"webhook attempts": func(limit int) (int64, error) { return db.DeleteWebhookAttempts(ctx, now.Add(-24*time.Hour), limit) },
		} {
			var mu sync.Mutex
			var deleted int64
			var wg sync.WaitGroup
			for range workers {
				wg.Go(func() {
					for {
						n, err := del(batch)
						if err != nil {
							t.Errorf("%s: %v", name, err)
							return
						}
						if n > batch {
							t.Errorf("%s: a batch of %d, limit %d", name, n, batch)
						}
						mu.Lock()
						deleted += n
						mu.Unlock()
						if n == 0 {
							return
						}
					}
				})
			}
			wg.Wait()
			if deleted != total {
				t.Errorf("%s: the deleters deleted %d rows together, want %d", name, deleted, total)
			}
		}
		if n := f.count(`SELECT count(*) FROM idempotency_keys`) + f.count(`SELECT count(*) FROM webhook_attempts`); n != 0 {
			t.Errorf("%d rows left", n)
		}
	})
}

// TestRetentionSkipsLockedRows: on PostgreSQL a batch passes over rows
// another transaction holds (another instance's batch, a request's row
// lock) instead of waiting for them, and takes them in a later batch.
func TestRetentionSkipsLockedRows(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		if backend != store.Postgres {
			t.Skip("SQLite has one writer: there is no other batch to skip")
		}
		db := storetest.Open(t, backend)
		f := newRetentionFixture(t, db)
		now := clock.Now()
		f.keys("k", 10, now.Add(-48*time.Hour), nil)
		held, _ := f.waitingPayment(now.Add(-time.Hour))
		f.waitingPayment(now.Add(-time.Hour))

		tx, err := db.SQL().Begin()
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if _, err := tx.Exec(`SELECT 1 FROM idempotency_keys WHERE key IN ('k-0', 'k-1', 'k-2') FOR UPDATE`); err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(`SELECT 1 FROM payments WHERE id = $1 FOR UPDATE`, held.ID); err != nil {
			t.Fatal(err)
		}
		// Were the locked rows waited for, the deadline would end the wait.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if n, err := db.DeleteIdempotencyKeys(ctx, now.Add(-24*time.Hour), now, 100); err != nil || n != 7 {
			t.Fatalf("with 3 of 10 keys locked: deleted %d (%v), want 7", n, err)
		}
		if n, err := db.ClearActionTokens(ctx, now, 100); err != nil || n != 1 {
			t.Fatalf("with 1 of 2 payments locked: cleared %d (%v), want 1", n, err)
		}
		if err := tx.Rollback(); err != nil {
			t.Fatal(err)
		}
		if n, err := db.DeleteIdempotencyKeys(ctx, now.Add(-24*time.Hour), now, 100); err != nil || n != 3 {
			t.Fatalf("once released: deleted %d (%v), want 3", n, err)
		}
		if n, err := db.ClearActionTokens(ctx, now, 100); err != nil || n != 1 {
			t.Fatalf("once released: cleared %d (%v), want 1", n, err)
		}
	})
}
