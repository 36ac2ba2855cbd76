package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/idempotency"
	"github.com/paygate/paygate/internal/store/storetest"
)

// TestIdempotencyKeyLifecycle walks a key through every claim outcome, and
// the retention job's deletion of expired keys.
func TestIdempotencyKeyLifecycle(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		ctx := context.Background()
		db := storetest.Open(t, backend)
		m := newMerchant(t, db)
		now := time.Now().UTC().Truncate(time.Microsecond)
		hasher := idempotency.NewHasher(make([]byte, 32))
		rec := func(key, path string, at time.Time) idempotency.Record {
			return idempotency.Record{MerchantID: m.ID, Key: key, Method: "POST", Path: path,
				RequestHash: hasher.Sum(false, "POST", path, []byte(`{}`)), CreatedAt: at, LockedUntil: at.Add(30 * time.Second)}
		}
		claim := func(r idempotency.Record, want idempotency.Outcome) idempotency.Claim {
			t.Helper()
			c, err := db.ClaimIdempotencyKey(ctx, r)
			if err != nil {
				t.Fatal(err)
			}
			if c.Outcome != want {
				t.Fatalf("claim %s at %s: outcome %d, want %d", r.Key, r.CreatedAt, c.Outcome, want)
			}
			return c
		}
		claim(rec("k", "/v1/payments", now), idempotency.Started)
		claim(rec("k", "/v1/payments", now), idempotency.InUse)
		claim(rec("k", "/v1/refunds", now), idempotency.Mismatch)
		// The same request from a key of the other mode is another request.
		live := rec("k", "/v1/payments", now)
		live.Livemode = true
		claim(live, idempotency.Mismatch)
		// The lease runs out: the next claim takes the key over.
		c := claim(rec("k", "/v1/payments", now.Add(31*time.Second)), idempotency.Resumed)
		if c.ResourceID != "" {
			t.Errorf("resource %q before any was made", c.ResourceID)
		}
		claim(rec("k", "/v1/payments", now.Add(32*time.Second)), idempotency.InUse)
		if err := db.CompleteIdempotencyKey(ctx, m.ID, "k", idempotency.Response{Status: 201, Body: []byte(`{"id":"pay_1"}`)}); err != nil {
			t.Fatal(err)
		}
		c = claim(rec("k", "/v1/payments", now), idempotency.Replay)
		if c.Response.Status != 201 || string(c.Response.Body) != `{"id":"pay_1"}` {
			t.Errorf("replay %+v", c.Response)
		}
		// A released key resumes at once; a forgotten one starts afresh.
		claim(rec("r", "/v1/payments", now), idempotency.Started)
		if err := db.ReleaseIdempotencyKey(ctx, m.ID, "r"); err != nil {
			t.Fatal(err)
		}
		claim(rec("r", "/v1/payments", now), idempotency.Resumed)
		claim(rec("f", "/v1/payments", now), idempotency.Started)
		if err := db.ForgetIdempotencyKey(ctx, m.ID, "f"); err != nil {
			t.Fatal(err)
		}
		claim(rec("f", "/v1/refunds", now), idempotency.Started)

		// Retention removes keys older than the cutoff, and only those.
		claim(rec("old", "/v1/payments", now.Add(-25*time.Hour)), idempotency.Started)
		n, err := db.DeleteIdempotencyKeys(ctx, now.Add(-idempotency.Retention), now, 1000)
		if err != nil || n != 1 {
			t.Fatalf("deleted %d (%v), want 1", n, err)
		}
		claim(rec("old", "/v1/refunds", now), idempotency.Started)
		claim(rec("k", "/v1/payments", now), idempotency.Replay)
	})
}
