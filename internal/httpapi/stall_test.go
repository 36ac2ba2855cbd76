package httpapi_test

import (
	"os"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/store"
	"github.com/paygate/paygate/internal/store/storetest"
	"github.com/paygate/paygate/internal/testutil/faults"
)

// TestStalledDatabase: the database stops answering on the connections the
// pool holds (a half-open network: no reset, no refusal). Every request,
// read or write, answers 503 with Retry-After within its deadline instead
// of waiting for the fault to end, and the API serves again once it has.
func TestStalledDatabase(t *testing.T) {
	if os.Getenv(storetest.EnvURL) == "" {
		storetest.Backends(t) // fails under CI
		t.Skip("needs PostgreSQL")
	}
	dbURL, p := faults.InFront(t, storetest.NewURL(t, store.Postgres))
	const timeout, lease = 500 * time.Millisecond, 2 * time.Second
	h := startWith(t, store.Postgres, options{dbURL: dbURL, requestTimeout: timeout, lease: lease})
	pay := h.obj("POST", "/v1/payments", h.keyA, map[string]any{"amount": 1000, "currency": "usd",
		"payment_method": card("4242424242424242"), "confirm": true}, 201)

	stall := p.HalfOpen(faults.Downstream)
	for _, c := range []struct {
		method, path string
		body         any
		within       time.Duration
	}{
		{"GET", "/v1/payments/" + pay["id"].(string), nil, timeout},
		{"GET", "/v1/payments?limit=5", nil, timeout},
		{"GET", "/v1/balance", nil, timeout},
		{"GET", "/v1/events?limit=5", nil, timeout},
		// Authenticated within the request's deadline, then under the
		// mutating one (half the lease) at most.
		{"POST", "/v1/refunds", map[string]any{"payment_id": pay["id"], "amount": 100}, timeout + lease/2},
	} {
		start := time.Now()
		var header []string
		if c.method == "POST" {
			header = []string{"Idempotency-Key", "stall"}
		}
		resp, body := h.request(c.method, c.path, h.keyA, c.body, header...)
		took := time.Since(start)
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s %s with the database stalled: %d %s", c.method, c.path, resp.StatusCode, body)
		}
		// The slack is for a busy machine; without the bound, the
		// request would wait as long as the fault lasts.
		if took > c.within+2*time.Second {
			t.Errorf("%s %s answered after %s, want about %s", c.method, c.path, took, c.within)
		}
	}
	stall.Remove()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, body := h.request("GET", "/v1/payments/"+pay["id"].(string), h.keyA, nil)
		if resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("10 s after the stall ended: %d %s", resp.StatusCode, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
