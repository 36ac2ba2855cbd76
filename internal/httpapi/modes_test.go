package httpapi_test

import (
	"strings"
	"testing"

	"github.com/paygate/paygate/internal/store/storetest"
)

// liveKey issues merchant A a live-mode secret key, and registers a live
// connector account for it: a sandbox account, which only a development
// server takes (live payments never go to the built-in sandbox).
func (h *harness) liveKey() string {
	h.t.Helper()
	k := h.obj("POST", "/v1/merchants/"+h.merchant+"/api_keys", adminToken, map[string]any{"livemode": true}, 201)
	secret, _ := k["secret"].(string)
	if !strings.HasPrefix(secret, "sk_live_") {
		h.t.Fatalf("live key %v", k)
	}
	h.obj("POST", "/v1/connector_accounts", secret, map[string]any{"connector": "sandbox", "label": "live sandbox (development)"}, 201)
	return secret
}

// A test key and a live key of one merchant see two separate accounts, as
// in Stripe: the other mode's payments, payment methods and refunds answer
// like ids that do not exist, lists leave them out, and nothing of theirs
// can be changed.
func TestModesDoNotSeeEachOther(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := start(t, backend)
		live := h.liveKey()

		paid := h.obj("POST", "/v1/payments", h.keyA, newPayment(card("4242424242424242")), 201)
		if paid["livemode"] != false {
			t.Fatalf("a test key's payment: livemode %v", paid["livemode"])
		}
		id := paid["id"].(string)
		held := h.obj("POST", "/v1/payments", h.keyA, newPayment(card("4242424242424242"), "capture_method", "manual"), 201)["id"].(string)
		open := h.obj("POST", "/v1/payments", h.keyA, map[string]any{"amount": 1000, "currency": "usd"}, 201)["id"].(string)
		pm := h.obj("POST", "/v1/payment_methods", h.keyA, card("4242424242424242"), 201)["id"].(string)
		refund := h.obj("POST", "/v1/refunds", h.keyA, map[string]any{"payment_id": id, "amount": 100}, 201)["id"].(string)
		h.obj("GET", "/v1/payments", live, nil, 200) // the key's first use is recorded (last_used_at)
		before := storetest.Dump(t, h.db)

		// The live key: as if none of it existed.
		for _, c := range []struct {
			method, path string
			body         any
			param        string
		}{
			{"GET", "/v1/payments/" + id, nil, ""},
			{"PATCH", "/v1/payments/" + id, map[string]any{"metadata": map[string]string{"k": "v"}}, ""},
			{"POST", "/v1/payments/" + held + "/capture", map[string]any{}, ""},
			{"POST", "/v1/payments/" + held + "/cancel", map[string]any{}, ""},
			{"POST", "/v1/payments/" + open + "/confirm", map[string]any{"payment_method": card("4242424242424242")}, ""},
			{"GET", "/v1/payment_methods/" + pm, nil, ""},
			{"GET", "/v1/refunds/" + refund, nil, ""},
			{"POST", "/v1/refunds", map[string]any{"payment_id": id}, "payment_id"},
		} {
			h.apiErr(c.method, c.path, live, c.body, 404, "resource_missing", c.param)
		}
		// A live payment cannot use the test mode's saved card.
		h.apiErr("POST", "/v1/payments", live, newPayment(pm), 404, "resource_missing", "payment_method")
		for _, path := range []string{"/v1/payments", "/v1/refunds", "/v1/refunds?payment_id=" + id, "/v1/payments?status=requires_capture"} {
			if l := h.obj("GET", path, live, nil, 200); len(l["data"].([]any)) != 0 {
				t.Errorf("live key, GET %s: %d objects of test mode", path, len(l["data"].([]any)))
			}
		}
		if after := storetest.Dump(t, h.db); after != before {
			t.Fatal("requests of the other mode changed the database")
		}

		// Live mode is an account of its own, and test mode still sees its
		// own objects.
		livePay := h.obj("POST", "/v1/payments", live, newPayment(card("4242424242424242")), 201)
		if livePay["livemode"] != true {
			t.Fatalf("a live key's payment: livemode %v", livePay["livemode"])
		}
		h.apiErr("GET", "/v1/payments/"+livePay["id"].(string), h.keyA, nil, 404, "resource_missing", "")
		if l := h.obj("GET", "/v1/payments", live, nil, 200)["data"].([]any); len(l) != 1 || l[0].(map[string]any)["id"] != livePay["id"] {
			t.Errorf("live list: %v", l)
		}
		if l := h.obj("GET", "/v1/payments?limit=100", h.keyA, nil, 200)["data"].([]any); len(l) != 3 {
			t.Errorf("test list: %d payments, want 3", len(l))
		}
		h.obj("GET", "/v1/refunds/"+refund, h.keyA, nil, 200)
		// An Idempotency-Key a test request used is, for a live request
		// with the same body, another request: never the test answer.
		body := newPayment(card("4242424242424242"))
		h.request("POST", "/v1/payments", h.keyA, body, "Idempotency-Key", "same-key")
		r, b := h.request("POST", "/v1/payments", live, body, "Idempotency-Key", "same-key")
		if r.StatusCode != 422 || !strings.Contains(string(b), "idempotency_key_reused") {
			t.Errorf("live request under a test request's key: %d %s", r.StatusCode, b)
		}
		h.obj("POST", "/v1/payments/"+held+"/capture", h.keyA, map[string]any{}, 200)
	})
}
