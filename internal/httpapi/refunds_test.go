package httpapi_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/paygate/paygate/internal/ledger"
	"github.com/paygate/paygate/internal/store/storetest"
)

// verifyLedger fails the test unless the ledger's invariants hold.
func (h *harness) verifyLedger() {
	h.t.Helper()
	r, err := h.db.LedgerReport(context.Background())
	if err != nil {
		h.t.Fatal(err)
	}
	if bad := ledger.Check(r); len(bad) > 0 {
		h.t.Fatalf("ledger does not verify:\n%v", bad)
	}
}

func (h *harness) countEvents(objectID, typ string) int {
	h.t.Helper()
	var n int
	if err := h.db.SQL().QueryRow(`SELECT count(*) FROM events WHERE object_id = $1 AND type = $2`, objectID, typ).Scan(&n); err != nil {
		h.t.Fatal(err)
	}
	return n
}

func TestRefunds(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := start(t, backend)
		pay := h.paymentIn("succeeded") // 2000 USD
		r1 := h.obj("POST", "/v1/refunds", h.keyA, map[string]any{"payment_id": pay, "amount": 500, "reason": "requested_by_customer", "metadata": map[string]any{"ticket": "42"}}, 201)
		if r1["status"] != "succeeded" || r1["amount"] != 500.0 || r1["payment_id"] != pay || r1["currency"] != "USD" || r1["reason"] != "requested_by_customer" {
			t.Fatalf("refund %v", r1)
		}
		h.obj("POST", "/v1/refunds", h.keyA, map[string]any{"payment_id": pay, "amount": 700}, 201)
		h.apiErr("POST", "/v1/refunds", h.keyA, map[string]any{"payment_id": pay, "amount": 801}, 400, "amount_too_large", "amount")
		rest := h.obj("POST", "/v1/refunds", h.keyA, map[string]any{"payment_id": pay}, 201)
		if rest["amount"] != 800.0 {
			t.Errorf("default amount: %v, want what remains (800)", rest["amount"])
		}
		h.apiErr("POST", "/v1/refunds", h.keyA, map[string]any{"payment_id": pay, "amount": 1}, 409, "charge_already_refunded", "")
		p := h.obj("GET", "/v1/payments/"+pay, h.keyA, nil, 200)
		if p["amount_refunded"] != 2000.0 || p["status"] != "succeeded" {
			t.Errorf("payment after refunds: %v", p)
		}
		got := h.obj("GET", "/v1/refunds/"+r1["id"].(string), h.keyA, nil, 200)
		if got["status"] != "succeeded" || got["metadata"].(map[string]any)["ticket"] != "42" {
			t.Errorf("retrieved %v", got)
		}
		if h.countEvents(r1["id"].(string), "refund.created") != 1 || h.countEvents(r1["id"].(string), "refund.succeeded") != 1 {
			t.Error("refund events missing")
		}
		// Only a captured payment can be refunded.
		for _, s := range []string{"requires_capture", "requires_confirmation", "failed", "canceled"} {
			h.apiErr("POST", "/v1/refunds", h.keyA, map[string]any{"payment_id": h.paymentIn(s)}, 409, "payment_unexpected_state", "")
		}
		h.apiErr("POST", "/v1/refunds", h.keyA, map[string]any{}, 400, "parameter_missing", "payment_id")
		h.apiErr("POST", "/v1/refunds", h.keyA, map[string]any{"payment_id": pay, "amount": 0}, 400, "amount_too_small", "amount")
		h.apiErr("POST", "/v1/refunds", h.keyA, map[string]any{"payment_id": pay, "reason": "boredom"}, 400, "parameter_invalid", "reason")
		h.apiErr("POST", "/v1/refunds", h.keyA, map[string]any{"payment_id": "pay_01M8BADJHEQRG8T95B825HSK54"}, 404, "resource_missing", "payment_id")
		// A partly captured payment refunds up to what was captured.
		auth := h.paymentIn("requires_capture")
		h.obj("POST", "/v1/payments/"+auth+"/capture", h.keyA, map[string]any{"amount": 300}, 200)
		h.apiErr("POST", "/v1/refunds", h.keyA, map[string]any{"payment_id": auth, "amount": 301}, 400, "amount_too_large", "amount")
		h.obj("POST", "/v1/refunds", h.keyA, map[string]any{"payment_id": auth}, 201)

		// 5126: the refund fails, and its amount becomes refundable again.
		bad := h.obj("POST", "/v1/payments", h.keyA, newPayment(card("4000000000005126")), 201)["id"].(string)
		f := h.obj("POST", "/v1/refunds", h.keyA, map[string]any{"payment_id": bad, "amount": 1500}, 201)
		if f["status"] != "failed" || f["failure_reason"] == nil {
			t.Fatalf("refund on 5126: %v", f)
		}
		if h.countEvents(f["id"].(string), "refund.failed") != 1 {
			t.Error("no refund.failed event")
		}
		if p := h.obj("GET", "/v1/payments/"+bad, h.keyA, nil, 200); p["amount_refunded"] != 0.0 {
			t.Errorf("failed refund counted: %v", p["amount_refunded"])
		}
		f2 := h.obj("POST", "/v1/refunds", h.keyA, map[string]any{"payment_id": bad}, 201)
		if f2["amount"] != 2000.0 || f2["status"] != "failed" {
			t.Errorf("second refund on 5126: %v", f2)
		}

		// Lists.
		l := h.obj("GET", "/v1/refunds?payment_id="+pay, h.keyA, nil, 200)
		if n := len(l["data"].([]any)); n != 3 {
			t.Errorf("refunds of the payment: %d, want 3", n)
		}
		l = h.obj("GET", "/v1/refunds?limit=2", h.keyA, nil, 200)
		if len(l["data"].([]any)) != 2 || l["has_more"] != true {
			t.Errorf("refund page: %v", l)
		}
		next := l["data"].([]any)[1].(map[string]any)["id"].(string)
		if l2 := h.obj("GET", "/v1/refunds?limit=100&starting_after="+next, h.keyA, nil, 200); len(l2["data"].([]any)) != 4 {
			t.Errorf("rest of the refunds: %d, want 4", len(l2["data"].([]any)))
		}
		h.apiErr("GET", "/v1/refunds?payment_id=nope", h.keyA, nil, 400, "parameter_invalid", "payment_id")

		// Another merchant sees none of it.
		h.apiErr("GET", "/v1/refunds/"+r1["id"].(string), h.keyB, nil, 404, "resource_missing", "")
		h.apiErr("POST", "/v1/refunds", h.keyB, map[string]any{"payment_id": pay}, 404, "resource_missing", "payment_id")
		if l := h.obj("GET", "/v1/refunds", h.keyB, nil, 200); len(l["data"].([]any)) != 0 {
			t.Error("merchant B lists A's refunds")
		}

		// The balance: paid = captures, refunded = settled refunds, owed =
		// what is left of the captures. Captured: 2000 (pay), 300 (auth, of
		// 2000 authorized) and 2000 (bad); the payments left authorized,
		// unconfirmed, declined or canceled captured nothing. Refunded:
		// 2000 of pay, 300 of auth; bad's refunds failed.
		const wantPaid, wantRefunded = 2000 + 300 + 2000, 2000 + 300
		// Merchant B's money stays out of A's balance, and A's out of B's.
		h.obj("POST", "/v1/payments", h.keyB, newPayment(card("4242424242424242"), "amount", 700), 201)
		b := h.obj("GET", "/v1/balance", h.keyA, nil, 200)
		if l := b["balances"].([]any); len(l) != 1 {
			t.Fatalf("balances %v, want one currency", l)
		}
		bal := b["balances"].([]any)[0].(map[string]any)
		if want := map[string]any{"currency": "USD", "paid": float64(wantPaid), "refunded": float64(wantRefunded),
			"refunds_pending": 0.0, "owed": float64(wantPaid - wantRefunded)}; !maps.Equal(bal, want) {
			t.Errorf("balance %v, want %v", bal, want)
		}
		var received float64
		for _, id := range []string{pay, auth, bad} {
			received += h.obj("GET", "/v1/payments/"+id, h.keyA, nil, 200)["amount_received"].(float64)
		}
		if received != wantPaid {
			t.Errorf("the captured payments received %v in all, want %d", received, wantPaid)
		}
		if b := h.obj("GET", "/v1/balance", h.keyB, nil, 200)["balances"].([]any); len(b) != 1 || !maps.Equal(b[0].(map[string]any),
			map[string]any{"currency": "USD", "paid": 700.0, "refunded": 0.0, "refunds_pending": 0.0, "owed": 700.0}) {
			t.Errorf("merchant B balances %v, want its 700 USD", b)
		}
		h.verifyLedger()
	})
}

func TestConcurrentRefunds(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := start(t, backend)
		pay := h.obj("POST", "/v1/payments", h.keyA, newPayment(card("4242424242424242"), "amount", 60), 201)["id"].(string)
		// Every loser finds nothing left to refund (counting the refunds in
		// flight): with refunds of 1, never amount_too_large.
		// (120 at once, not more: SQLite's one writer takes them in turn, and
		// under the race detector on two busy cores more outlast a request's
		// deadline.)
		counts := h.race(120, "POST", "/v1/refunds", map[string]any{"payment_id": pay, "amount": 1})
		if want := map[string]int{"201": 60, "409 charge_already_refunded": 60}; !maps.Equal(counts, want) {
			t.Errorf("120 refunds of 1 on 60: %v, want %v", counts, want)
		}
		if p := h.obj("GET", "/v1/payments/"+pay, h.keyA, nil, 200); p["amount_refunded"] != 60.0 {
			t.Errorf("amount_refunded %v, want 60", p["amount_refunded"])
		}
		if n := h.sandbox.Performed("refund"); n != 60 {
			t.Errorf("refunds at the connector: %d, want 60", n)
		}
		h.verifyLedger()
	})
}

// TestRandomizedMoney drives many payments through random interleavings of
// capture, partial capture, cancel and refunds (some failing), concurrently,
// then checks every payment's amounts and the ledger.
func TestRandomizedMoney(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := start(t, backend)
		seed := rand.Uint64()
		t.Logf("seed %d", seed)
		const nPayments, workers, steps = 24, 6, 40
		var ids []string
		for i := 0; i < nPayments; i++ {
			number := "4242424242424242"
			if i%4 == 0 {
				number = "4000000000005126" // its refunds fail
			}
			capture := "automatic"
			if i%2 == 1 {
				capture = "manual"
			}
			p := h.obj("POST", "/v1/payments", h.keyA, newPayment(card(number), "capture_method", capture, "amount", 1000+i), 201)
			ids = append(ids, p["id"].(string))
		}
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			wg.Add(1)
			go func() {
				defer wg.Done()
				for s := 0; s < steps; s++ {
					id := ids[rng.IntN(len(ids))]
					var path string
					var body map[string]any
					// The answers each action may get: its success, or the
					// refusal of a request that lost a race or asked too much.
					// A capture asks at most 1000 of at least 1000 capturable.
					allowed := []string{"200", "409 payment_unexpected_state"}
					switch rng.IntN(5) {
					case 0:
						path = "/v1/payments/" + id + "/capture"
					case 1:
						path, body = "/v1/payments/"+id+"/capture", map[string]any{"amount": 1 + rng.IntN(1000)}
					case 2:
						path = "/v1/payments/" + id + "/cancel"
					default:
						path, body = "/v1/refunds", map[string]any{"payment_id": id, "amount": 1 + rng.IntN(400)}
						allowed = []string{"201", "409 payment_unexpected_state", "409 charge_already_refunded", "400 amount_too_large"}
					}
					resp, got, err := h.tryRequest("POST", path, h.keyA, body)
					if err != nil {
						t.Error(err)
						return
					}
					if a := answerKey(resp.StatusCode, got); !slices.Contains(allowed, a) {
						t.Errorf("POST %s %v: %s, want one of %q: %.300s", path, body, a, allowed, got)
					}
				}
			}()
		}
		wg.Wait()
		for _, id := range ids {
			p := h.obj("GET", "/v1/payments/"+id, h.keyA, nil, 200)
			amount, received, refunded, capturable := p["amount"].(float64), p["amount_received"].(float64), p["amount_refunded"].(float64), p["amount_capturable"].(float64)
			var sum float64
			for _, r := range h.obj("GET", "/v1/refunds?limit=100&payment_id="+id, h.keyA, nil, 200)["data"].([]any) {
				if r := r.(map[string]any); r["status"] == "succeeded" {
					sum += r["amount"].(float64)
				} else if r["status"] == "pending" {
					t.Errorf("refund %v left pending", r["id"])
				}
			}
			switch p["status"] {
			case "succeeded":
				if received < 1 || received > amount || capturable != 0 {
					t.Errorf("%s: %v", id, p)
				}
			case "requires_capture":
				if received != 0 || capturable != amount {
					t.Errorf("%s: %v", id, p)
				}
			case "canceled":
				if received != 0 || capturable != 0 {
					t.Errorf("%s: %v", id, p)
				}
			default:
				t.Errorf("%s: unexpected status %v", id, p["status"])
			}
			if refunded != sum || refunded > received {
				t.Errorf("%s: refunded %v, refunds sum %v, received %v", id, refunded, sum, received)
			}
		}
		h.verifyLedger()
		t.Logf("%s", fmt.Sprint(h.obj("GET", "/v1/balance", h.keyA, nil, 200)["balances"]))
	})
}
