package httpapi_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/clock"
	"github.com/paygate/paygate/internal/connectors"
	"github.com/paygate/paygate/internal/connectors/sandbox"
	"github.com/paygate/paygate/internal/httpapi"
	"github.com/paygate/paygate/internal/idempotency"
	"github.com/paygate/paygate/internal/store/storetest"
)

func (h *harness) count(query string, args ...any) int {
	h.t.Helper()
	var n int
	if err := h.db.SQL().QueryRow(query, args...).Scan(&n); err != nil {
		h.t.Fatal(err)
	}
	return n
}

func TestIdempotentReplay(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := start(t, backend)
		body := newPayment(card("4242424242424242"))
		r1, b1 := h.request("POST", "/v1/payments", h.keyA, body, "Idempotency-Key", "order-1")
		r2, b2 := h.request("POST", "/v1/payments", h.keyA, body, "Idempotency-Key", "order-1")
		if r1.StatusCode != 201 || r2.StatusCode != 201 || !bytes.Equal(b1, b2) {
			t.Fatalf("replay differs:\n%d %s\n%d %s", r1.StatusCode, b1, r2.StatusCode, b2)
		}
		if r1.Header.Get("Idempotent-Replayed") != "" || r2.Header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("Idempotent-Replayed: first %q, replay %q", r1.Header.Get("Idempotent-Replayed"), r2.Header.Get("Idempotent-Replayed"))
		}
		if r1.Header.Get("Request-Id") == r2.Header.Get("Request-Id") {
			t.Error("a replay has its own Request-Id")
		}
		if n := h.count(`SELECT count(*) FROM payments`); n != 1 {
			t.Errorf("%d payments, want 1", n)
		}
		if n := h.sandbox.Performed("authorize"); n != 1 {
			t.Errorf("%d authorizations, want 1", n)
		}

		// Keys are per merchant: B's "order-1" is B's own.
		if r, _ := h.request("POST", "/v1/payments", h.keyB, body, "Idempotency-Key", "order-1"); r.StatusCode != 201 || r.Header.Get("Idempotent-Replayed") != "" {
			t.Errorf("merchant B with A's key: %d replayed=%q", r.StatusCode, r.Header.Get("Idempotent-Replayed"))
		}

		// Another body, method or path with the key: 422, and nothing made.
		other := newPayment(card("4242424242424242"), "amount", 999)
		r, b := h.request("POST", "/v1/payments", h.keyA, other, "Idempotency-Key", "order-1")
		if r.StatusCode != 422 || !strings.Contains(string(b), `"idempotency_key_reused"`) || !strings.Contains(string(b), `"idempotency_error"`) {
			t.Errorf("other body: %d %s", r.StatusCode, b)
		}
		id := h.paymentIn("requires_confirmation")
		if r, b := h.request("POST", "/v1/payments/"+id+"/confirm", h.keyA, nil, "Idempotency-Key", "order-1"); r.StatusCode != 422 {
			t.Errorf("other path: %d %s", r.StatusCode, b)
		}
		if n := h.count(`SELECT count(*) FROM payments WHERE merchant_id = $1`, h.merchant); n != 2 {
			t.Errorf("%d payments of A, want 2", n)
		}

		// Actions replay too: a retried capture does not capture twice.
		id = h.paymentIn("requires_capture")
		c1, cb1 := h.request("POST", "/v1/payments/"+id+"/capture", h.keyA, map[string]any{"amount": 600}, "Idempotency-Key", "cap-1")
		c2, cb2 := h.request("POST", "/v1/payments/"+id+"/capture", h.keyA, map[string]any{"amount": 600}, "Idempotency-Key", "cap-1")
		if c1.StatusCode != 200 || c2.StatusCode != 200 || !bytes.Equal(cb1, cb2) || c2.Header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("capture replay: %d %s / %d %s", c1.StatusCode, cb1, c2.StatusCode, cb2)
		}
		if n := h.sandbox.Performed("capture"); n != 1 {
			t.Errorf("%d captures, want 1", n)
		}
		// A state conflict is an answer too, and is replayed.
		x1, xb1 := h.request("POST", "/v1/payments/"+id+"/capture", h.keyA, nil, "Idempotency-Key", "cap-2")
		x2, xb2 := h.request("POST", "/v1/payments/"+id+"/capture", h.keyA, nil, "Idempotency-Key", "cap-2")
		if x1.StatusCode != 409 || x2.StatusCode != 409 || !bytes.Equal(xb1, xb2) || x2.Header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("conflict replay: %d %s / %d %s", x1.StatusCode, xb1, x2.StatusCode, xb2)
		}
		// PATCH and refunds.
		p1, pb1 := h.request("PATCH", "/v1/payments/"+id, h.keyA, map[string]any{"metadata": map[string]any{"a": "1"}}, "Idempotency-Key", "upd-1")
		p2, pb2 := h.request("PATCH", "/v1/payments/"+id, h.keyA, map[string]any{"metadata": map[string]any{"a": "1"}}, "Idempotency-Key", "upd-1")
		if p1.StatusCode != 200 || p2.StatusCode != 200 || !bytes.Equal(pb1, pb2) || p2.Header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("patch replay: %d %s / %d %s", p1.StatusCode, pb1, p2.StatusCode, pb2)
		}
		f1, fb1 := h.request("POST", "/v1/refunds", h.keyA, map[string]any{"payment_id": id, "amount": 100}, "Idempotency-Key", "ref-1")
		f2, fb2 := h.request("POST", "/v1/refunds", h.keyA, map[string]any{"payment_id": id, "amount": 100}, "Idempotency-Key", "ref-1")
		if f1.StatusCode != 201 || f2.StatusCode != 201 || !bytes.Equal(fb1, fb2) || f2.Header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("refund replay: %d %s / %d %q %s", f1.StatusCode, fb1, f2.StatusCode, f2.Header.Get("Idempotent-Replayed"), fb2)
		}
		if n := h.count(`SELECT count(*) FROM refunds`); n != 1 {
			t.Errorf("%d refunds, want 1", n)
		}
		h.verifyLedger()
	})
}

// countingKeys counts the answers the HTTP layer stores itself.
type countingKeys struct {
	httpapi.IdempotencyStore
	mu        sync.Mutex
	completed []string
}

func (c *countingKeys) CompleteIdempotencyKey(ctx context.Context, merchantID, key string, resp idempotency.Response) error {
	c.mu.Lock()
	c.completed = append(c.completed, key)
	c.mu.Unlock()
	return c.IdempotencyStore.CompleteIdempotencyKey(ctx, merchantID, key, resp)
}

func (c *countingKeys) take() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := c.completed
	c.completed = nil
	return k
}

// A request that ends with the processor's answer stores its own answer in
// the transaction that records the processor's: no write follows. The
// answer replays byte for byte. Answers that are not the payment as
// recorded (a refused capture) are stored after, as before.
func TestAnswerStoredWithTheResult(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		ck := &countingKeys{}
		h := startWith(t, backend, options{keys: func(s httpapi.IdempotencyStore) httpapi.IdempotencyStore {
			ck.IdempotencyStore = s
			return ck
		}})
		same := func(name, method, path string, body any, key string, status int) {
			t.Helper()
			r1, b1 := h.request(method, path, h.keyA, body, "Idempotency-Key", key)
			if r1.StatusCode != status {
				t.Fatalf("%s: %d %s", name, r1.StatusCode, b1)
			}
			stored := h.count(`SELECT count(*) FROM idempotency_keys WHERE key = $1 AND response_status = $2 AND locked_until IS NULL`, key, status)
			r2, b2 := h.request(method, path, h.keyA, body, "Idempotency-Key", key)
			if stored != 1 || r2.StatusCode != status || !bytes.Equal(b1, b2) || r2.Header.Get("Idempotent-Replayed") != "true" {
				t.Fatalf("%s: stored %d; replay %d %q:\n%s\n%s", name, stored, r2.StatusCode, r2.Header.Get("Idempotent-Replayed"), b1, b2)
			}
		}
		same("create and confirm", "POST", "/v1/payments", newPayment(card("4242424242424242")), "k-pay", 201)
		same("declined", "POST", "/v1/payments", newPayment(card("4000000000000002")), "k-declined", 201)
		same("manual capture", "POST", "/v1/payments", newPayment(card("4242424242424242"), "capture_method", "manual"), "k-manual", 201)
		if got := ck.take(); len(got) != 0 {
			t.Fatalf("the HTTP layer stored answers again: %v", got)
		}
		id := h.paymentIn("requires_capture")
		same("capture", "POST", "/v1/payments/"+id+"/capture", map[string]any{}, "k-capture", 200)
		if got := ck.take(); len(got) != 0 {
			t.Fatalf("capture: the HTTP layer stored the answer again: %v", got)
		}
		// A create without confirm has no processor step: its answer is
		// stored after it, by the HTTP layer.
		same("create only", "POST", "/v1/payments", map[string]any{"amount": 1000, "currency": "usd"}, "k-create", 201)
		if got := ck.take(); len(got) != 1 || got[0] != "k-create" {
			t.Fatalf("create only: stored by the HTTP layer %v, want [k-create]", got)
		}
	})
}

func TestIdempotencyValidationNotStored(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := start(t, backend)
		bad := newPayment(card("4242424242424241")) // fails Luhn
		r, b := h.request("POST", "/v1/payments", h.keyA, bad, "Idempotency-Key", "k1")
		if r.StatusCode != 400 || !strings.Contains(string(b), `"payment_method.card.number"`) {
			t.Fatalf("bad card: %d %s", r.StatusCode, b)
		}
		// The corrected request runs under the same key.
		r, b = h.request("POST", "/v1/payments", h.keyA, newPayment(card("4242424242424242")), "Idempotency-Key", "k1")
		if r.StatusCode != 201 || r.Header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("corrected request: %d %s", r.StatusCode, b)
		}
		// Unparseable JSON and unknown payments are not stored either.
		h.request("POST", "/v1/payments", h.keyA, `{"amount":`, "Idempotency-Key", "k2")
		if r, b := h.request("POST", "/v1/payments", h.keyA, map[string]any{"amount": 5, "currency": "usd"}, "Idempotency-Key", "k2"); r.StatusCode != 201 {
			t.Errorf("after a malformed body: %d %s", r.StatusCode, b)
		}
		// Malformed keys.
		long := strings.Repeat("k", 256)
		if r, b := h.request("POST", "/v1/payments", h.keyA, map[string]any{"amount": 5, "currency": "usd"}, "Idempotency-Key", long); r.StatusCode != 400 || !strings.Contains(string(b), `"param":"Idempotency-Key"`) {
			t.Errorf("key of %d chars: %d %s", len(long), r.StatusCode, b)
		}
		if r, _ := h.request("POST", "/v1/payments", h.keyA, map[string]any{"amount": 5, "currency": "usd"}, "Idempotency-Key", strings.Repeat("k", 255)); r.StatusCode != 201 {
			t.Errorf("a 255-character key: %d", r.StatusCode)
		}
		if n := h.count(`SELECT count(*) FROM idempotency_keys WHERE response_status IS NULL`); n != 0 {
			t.Errorf("%d keys left unfinished", n)
		}
	})
}

func TestIdempotencyConcurrentSameKey(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := start(t, backend)
		body := newPayment(card("4242424242424242"))
		var mu sync.Mutex
		statuses := map[int]int{}
		var bodies [][]byte
		var wg sync.WaitGroup
		begin := make(chan struct{})
		for range 50 {
			wg.Go(func() {
				<-begin
				r, b, err := h.tryRequest("POST", "/v1/payments", h.keyA, body, "Idempotency-Key", "same")
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				statuses[r.StatusCode]++
				switch r.StatusCode {
				case 201:
					bodies = append(bodies, b)
				case 409:
					if !strings.Contains(string(b), `"idempotency_key_in_use"`) || r.Header.Get("Retry-After") == "" {
						t.Errorf("409: %s", b)
					}
				}
			})
		}
		close(begin)
		wg.Wait()
		if statuses[201]+statuses[409] != 50 || statuses[201] == 0 {
			t.Fatalf("statuses %v", statuses)
		}
		for _, b := range bodies[1:] {
			if !bytes.Equal(b, bodies[0]) {
				t.Errorf("answers differ:\n%s\n%s", bodies[0], b)
			}
		}
		if n := h.count(`SELECT count(*) FROM payments`); n != 1 {
			t.Errorf("%d payments, want exactly 1", n)
		}
		if n := h.sandbox.Performed("authorize"); n != 1 {
			t.Errorf("%d authorizations, want 1", n)
		}
		t.Logf("statuses: %v", statuses)
	})
}

// faulty wraps the sandbox with failures, per operation kind.
type faulty struct {
	*sandbox.Connector
	mu    sync.Mutex
	modes map[string][]string // kind → modes for the next calls
	gate  chan struct{}       // closed to let a "block" call go on
}

// Modes of one call.
const (
	lose        = "lose"        // performed, but the answer is lost (timeout)
	drop        = "drop"        // never reaches the processor (timeout)
	crashAfter  = "crash-after" // performed, then the request dies
	crashBefore = "crash"       // the request dies before the call
	block       = "block"       // waits for the gate
)

func (f *faulty) next(kind string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := f.modes[kind]
	if len(m) == 0 {
		return ""
	}
	f.modes[kind] = m[1:]
	return m[0]
}

func (f *faulty) set(kind string, modes ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.modes[kind] = modes
}

var errTimeout = errors.New("processor timeout (test)")

func (f *faulty) do(kind string, call func() (connectors.Result, error)) (connectors.Result, error) {
	switch f.next(kind) {
	case lose:
		_, _ = call()
		return connectors.Result{}, errTimeout
	case drop:
		return connectors.Result{}, errTimeout
	case crashAfter:
		_, _ = call()
		panic("crash (test)")
	case crashBefore:
		panic("crash (test)")
	case block:
		<-f.gate
	}
	return call()
}

func (f *faulty) Authorize(ctx context.Context, r connectors.AuthorizeRequest) (connectors.Result, error) {
	return f.do("authorize", func() (connectors.Result, error) { return f.Connector.Authorize(ctx, r) })
}
func (f *faulty) Capture(ctx context.Context, r connectors.CaptureRequest) (connectors.Result, error) {
	return f.do("capture", func() (connectors.Result, error) { return f.Connector.Capture(ctx, r) })
}
func (f *faulty) Void(ctx context.Context, r connectors.VoidRequest) (connectors.Result, error) {
	return f.do("void", func() (connectors.Result, error) { return f.Connector.Void(ctx, r) })
}
func (f *faulty) Refund(ctx context.Context, r connectors.RefundRequest) (connectors.Result, error) {
	return f.do("refund", func() (connectors.Result, error) { return f.Connector.Refund(ctx, r) })
}

func startFaulty(t *testing.T, backend string, lease time.Duration) (*harness, *faulty) {
	f := &faulty{modes: map[string][]string{}, gate: make(chan struct{})}
	h := startWith(t, backend, options{lease: lease, connector: func(sb *sandbox.Connector) connectors.Connector {
		f.Connector = sb
		return f
	}})
	return h, f
}

func TestIdempotencyKeyInUse(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h, f := startFaulty(t, backend, 0)
		f.set("authorize", block)
		body := newPayment(card("4242424242424242"))
		done := make(chan []byte, 1)
		go func() {
			_, b, err := h.tryRequest("POST", "/v1/payments", h.keyA, body, "Idempotency-Key", "slow")
			if err != nil {
				t.Error(err)
			}
			done <- b
		}()
		deadline := time.Now().Add(10 * time.Second)
		for h.count(`SELECT count(*) FROM payments WHERE status = 'processing'`) == 0 {
			if time.Now().After(deadline) {
				t.Fatal("the first request never reached the processor")
			}
			time.Sleep(5 * time.Millisecond)
		}
		r, b := h.request("POST", "/v1/payments", h.keyA, body, "Idempotency-Key", "slow")
		if r.StatusCode != 409 || !strings.Contains(string(b), "idempotency_key_in_use") {
			t.Errorf("while running: %d %s", r.StatusCode, b)
		}
		close(f.gate)
		first := <-done
		r, b = h.request("POST", "/v1/payments", h.keyA, body, "Idempotency-Key", "slow")
		if r.StatusCode != 201 || !bytes.Equal(b, first) {
			t.Errorf("after: %d %s, want the first answer %s", r.StatusCode, b, first)
		}
	})
}

// TestResumeAfterCrash: a request dies part-way (a panic stands in for a
// crash; the real binary is killed in cmd/paygate); its retry finishes the
// work from where it stopped and never charges twice.
func TestResumeAfterCrash(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h, f := startFaulty(t, backend, 0)
		for _, tc := range []struct {
			kind, mode string
		}{
			{"authorize", crashAfter},  // the processor authorized; the answer was lost with the process
			{"authorize", crashBefore}, // the processor never heard of it
		} {
			f.set(tc.kind, tc.mode)
			key := "create-" + tc.mode
			body := newPayment(card("4242424242424242"), "capture_method", "manual")
			if r, b := h.request("POST", "/v1/payments", h.keyA, body, "Idempotency-Key", key); r.StatusCode != 500 {
				t.Fatalf("%s: first attempt: %d %s", tc.mode, r.StatusCode, b)
			}
			before := h.sandbox.Performed("authorize")
			r, b := h.request("POST", "/v1/payments", h.keyA, body, "Idempotency-Key", key)
			if r.StatusCode != 201 || !strings.Contains(string(b), `"status":"requires_capture"`) {
				t.Fatalf("%s: retry: %d %s", tc.mode, r.StatusCode, b)
			}
			want := before
			if tc.mode == crashBefore {
				want++
			}
			if n := h.sandbox.Performed("authorize"); n != want {
				t.Errorf("%s: %d authorizations, want %d", tc.mode, n, want)
			}
		}
		if n := h.count(`SELECT count(*) FROM payments`); n != 2 {
			t.Errorf("%d payments, want 2: one per key", n)
		}

		// Capture, cancel and refund resume the same way.
		id := h.paymentIn("requires_capture")
		f.set("capture", crashAfter)
		h.request("POST", "/v1/payments/"+id+"/capture", h.keyA, nil, "Idempotency-Key", "cap")
		if p := h.obj("GET", "/v1/payments/"+id, h.keyA, nil, 200); p["status"] != "processing" {
			t.Fatalf("after the crash: %v", p["status"])
		}
		captures := h.sandbox.Performed("capture")
		if r, b := h.request("POST", "/v1/payments/"+id+"/capture", h.keyA, nil, "Idempotency-Key", "cap"); r.StatusCode != 200 || !strings.Contains(string(b), `"status":"succeeded"`) {
			t.Fatalf("capture retry: %d %s", r.StatusCode, b)
		}
		if n := h.sandbox.Performed("capture"); n != captures {
			t.Errorf("captured again: %d, was %d", n, captures)
		}
		f.set("refund", crashBefore)
		h.request("POST", "/v1/refunds", h.keyA, map[string]any{"payment_id": id, "amount": 300}, "Idempotency-Key", "ref")
		if r, b := h.request("POST", "/v1/refunds", h.keyA, map[string]any{"payment_id": id, "amount": 300}, "Idempotency-Key", "ref"); r.StatusCode != 201 || !strings.Contains(string(b), `"status":"succeeded"`) {
			t.Fatalf("refund retry: %d %s", r.StatusCode, b)
		}
		if n := h.count(`SELECT count(*) FROM refunds WHERE payment_id = $1`, id); n != 1 {
			t.Errorf("%d refunds, want 1", n)
		}
		id = h.paymentIn("requires_capture")
		f.set("void", crashAfter)
		h.request("POST", "/v1/payments/"+id+"/cancel", h.keyA, nil, "Idempotency-Key", "void")
		if r, b := h.request("POST", "/v1/payments/"+id+"/cancel", h.keyA, nil, "Idempotency-Key", "void"); r.StatusCode != 200 || !strings.Contains(string(b), `"status":"canceled"`) {
			t.Fatalf("cancel retry: %d %s", r.StatusCode, b)
		}
		if n := h.sandbox.Performed("void"); n != 1 {
			t.Errorf("%d voids, want 1", n)
		}
		h.verifyLedger()
	})
}

// TestRecoveryWorker: operations whose answer was lost, or that never
// reached the processor, are finished by the recovery worker.
func TestRecoveryWorker(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h, f := startFaulty(t, backend, 0)
		f.set("authorize", lose, drop)
		lost := h.obj("POST", "/v1/payments", h.keyA, newPayment(card("4242424242424242")), 201)
		dropped := h.obj("POST", "/v1/payments", h.keyA, newPayment(card("4000056655665556")), 201)
		if lost["status"] != "processing" || dropped["status"] != "processing" {
			t.Fatalf("a timeout is not a decline: %v, %v", lost["status"], dropped["status"])
		}
		manual := h.paymentIn("requires_capture")
		f.set("capture", lose)
		h.obj("POST", "/v1/payments/"+manual+"/capture", h.keyA, nil, 200)
		paid := h.paymentIn("succeeded")
		f.set("refund", drop)
		re := h.obj("POST", "/v1/refunds", h.keyA, map[string]any{"payment_id": paid}, 201)
		if re["status"] != "pending" {
			t.Fatalf("refund after a timeout: %v", re["status"])
		}
		ctx := context.Background()
		// Not stale yet: nothing to do.
		if n, err := h.pay.RecoverStale(ctx, clock.Now().Add(-time.Minute)); err != nil || n != 0 {
			t.Errorf("recovered %d (%v) fresh payments", n, err)
		}
		cutoff := clock.Now().Add(time.Second)
		if n, err := h.pay.RecoverStale(ctx, cutoff); err != nil || n != 3 {
			t.Errorf("recovered %d payments (%v), want 3", n, err)
		}
		if n, err := h.refs.RecoverStale(ctx, cutoff); err != nil || n != 1 {
			t.Errorf("recovered %d refunds (%v), want 1", n, err)
		}
		for _, id := range []string{lost["id"].(string), dropped["id"].(string), manual} {
			if p := h.obj("GET", "/v1/payments/"+id, h.keyA, nil, 200); p["status"] != "succeeded" {
				t.Errorf("%s: %v after recovery", id, p["status"])
			}
		}
		if r := h.obj("GET", "/v1/refunds/"+re["id"].(string), h.keyA, nil, 200); r["status"] != "succeeded" {
			t.Errorf("refund: %v after recovery", r["status"])
		}
		if a, c := h.sandbox.Performed("authorize"), h.sandbox.Performed("capture"); a != 4 || c != 1 {
			t.Errorf("%d authorizations and %d captures, want 4 and 1", a, c)
		}
		if n := h.count(`SELECT count(*) FROM events WHERE type = 'payment.succeeded'`); n != 4 {
			t.Errorf("%d payment.succeeded events, want 4", n)
		}
		h.verifyLedger()
	})
}
