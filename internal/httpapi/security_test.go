package httpapi_test

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/openapi"
	"github.com/paygate/paygate/internal/ratelimit"
	"github.com/paygate/paygate/internal/store/storetest"
)

func TestSecurityHeaders(t *testing.T) {
	h := start(t, "sqlite")
	for _, path := range []string{"/v1/payments", "/v1/nothing", "/healthz"} {
		r, _ := h.request("GET", path, h.keyA, nil)
		for name, want := range map[string]string{
			"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store", "X-Frame-Options": "DENY",
			"Referrer-Policy": "no-referrer", "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
		} {
			if got := r.Header.Get(name); got != want {
				t.Errorf("%s: %s = %q, want %q", path, name, got, want)
			}
		}
		// HSTS only means something over TLS (tested with the binary).
		if r.Header.Get("Strict-Transport-Security") != "" {
			t.Errorf("%s: HSTS over plain HTTP", path)
		}
	}
}

func TestRateLimits(t *testing.T) {
	cfg := ratelimit.Config{PerKey: 5, PerAddress: 1000, Declines: 3, DeclineWindow: time.Minute, SlowInterval: time.Hour, SlowFor: time.Hour}
	h := startWith(t, "sqlite", options{limiter: ratelimit.New(cfg)})
	// A burst over the key's bucket (2 seconds' worth) is cut off with 429
	// and a Retry-After; B's key has its own bucket.
	limited := 0
	for range 30 {
		r, b := h.request("GET", "/v1/payments", h.keyA, nil)
		if r.StatusCode == 429 {
			limited++
			if r.Header.Get("Retry-After") == "" || !strings.Contains(string(b), `"rate_limited"`) || !strings.Contains(string(b), `"rate_limit_error"`) {
				t.Errorf("429 without Retry-After or code: %s", b)
			}
		}
	}
	if limited < 15 {
		t.Errorf("%d of 30 requests limited, want most past the burst of 11", limited)
	}
	if r, _ := h.request("GET", "/v1/payments", h.keyB, nil); r.StatusCode != 200 {
		t.Errorf("another key: %d", r.StatusCode)
	}

	// Per address, before authentication: a scan of keys is slowed too.
	h2 := startWith(t, "sqlite", options{limiter: ratelimit.New(ratelimit.Config{PerAddress: 2})})
	limited = 0
	for range 20 {
		if r, _ := h2.request("GET", "/v1/payments", "sk_test_"+strings.Repeat("x", 26), nil); r.StatusCode == 429 {
			limited++
		}
	}
	if limited < 10 {
		t.Errorf("%d of 20 unauthenticated requests from one address limited", limited)
	}

	// Card testing: after 3 declines in a minute the key's payment
	// attempts are slowed to one an hour; its reads are not.
	h3 := startWith(t, "sqlite", options{limiter: ratelimit.New(ratelimit.Config{Declines: 3, DeclineWindow: time.Minute, SlowInterval: time.Hour, SlowFor: time.Hour})})
	for range 3 {
		h3.obj("POST", "/v1/payments", h3.keyA, newPayment(card("4000000000000002")), 201)
	}
	h3.obj("POST", "/v1/payments", h3.keyA, newPayment(card("4242424242424242")), 201) // the slow bucket's one token
	e := h3.apiErr("POST", "/v1/payments", h3.keyA, newPayment(card("4242424242424242")), 429, "rate_limited", "")
	if !strings.Contains(fmt.Sprint(e["message"]), "declined") {
		t.Errorf("message %v", e["message"])
	}
	id := h3.obj("POST", "/v1/payments", h3.keyB, map[string]any{"amount": 100, "currency": "usd"}, 201)["id"]
	h3.obj("GET", "/v1/payments", h3.keyA, nil, 200)
	if r, _ := h3.request("POST", fmt.Sprintf("/v1/payments/%s/confirm", id), h3.keyB, map[string]any{"payment_method": card("4242424242424242")}); r.StatusCode != 200 {
		t.Errorf("another key's attempt: %d", r.StatusCode)
	}
}

func TestAuditLog(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := start(t, backend)
		k := h.obj("POST", "/v1/merchants/"+h.merchant+"/api_keys", adminToken, nil, 201)
		h.obj("GET", "/v1/payments", k["secret"].(string), nil, 200)
		revoked := h.obj("DELETE", "/v1/api_keys/"+k["id"].(string), adminToken, nil, 200)
		if revoked["last_used_at"] == nil || revoked["revoked_at"] == nil {
			t.Errorf("revoked key: %v", revoked)
		}
		// A revoked key is refused on its next request.
		h.apiErr("GET", "/v1/payments", k["secret"].(string), nil, 401, "api_key_invalid", "")

		l := h.obj("GET", "/v1/audit_events?limit=3", adminToken, nil, 200)
		data := l["data"].([]any)
		var actions []string
		for i, d := range data {
			e := d.(map[string]any)
			actions = append(actions, e["action"].(string))
			if e["actor"] != "admin_token" || e["source_ip"] != "127.0.0.1" || !strings.HasPrefix(fmt.Sprint(e["request_id"]), "req_") ||
				(i < 2 && (e["merchant_id"] != h.merchant || e["object_id"] != k["id"])) {
				t.Errorf("entry %v", e)
			}
		}
		if got := strings.Join(actions, " "); got != "api_key.revoked api_key.created merchant.created" || l["has_more"] != true {
			t.Errorf("audit log: %s (has_more %v)", got, l["has_more"])
		}
		if l := h.obj("GET", "/v1/audit_events?action=api_key.revoked&object_id="+k["id"].(string), adminToken, nil, 200); len(l["data"].([]any)) != 1 {
			t.Errorf("filtered: %v", l)
		}
		h.apiErr("GET", "/v1/audit_events", h.keyA, nil, 401, "admin_token_invalid", "")
		h.apiErr("GET", "/v1/audit_events?actor=x", adminToken, nil, 400, "parameter_unknown", "actor")
	})
}

// TestTenancySweep takes every operation of the API document that names an
// object by id, and asks for merchant A's object with merchant B's key: each
// answer is 404 and shows none of A's data. A new endpoint without an
// object here fails the test, so the sweep grows with the API.
func TestTenancySweep(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := start(t, backend)
		// Both merchants have an endpoint subscribed to every event type
		// (development mode accepts loopback URLs), and a worker delivers:
		// A's events must reach A's endpoint only.
		bystander := h.newBystander(t)
		rcA := newReceiver(t)
		endpointA := h.obj("POST", "/v1/webhook_endpoints", h.keyA, map[string]any{"url": rcA.srv.URL, "enabled_events": []string{"*"}}, 201)["id"].(string)
		h.runWorker(t)
		pay := h.paymentIn("succeeded")
		objects := map[string]string{
			"/v1/payments/":           pay,
			"/v1/refunds/":            h.obj("POST", "/v1/refunds", h.keyA, map[string]any{"payment_id": pay, "amount": 100}, 201)["id"].(string),
			"/v1/payment_methods/":    h.obj("POST", "/v1/payment_methods", h.keyA, card("4000056655665556"), 201)["id"].(string),
			"/v1/webhook_endpoints/":  endpointA,
			"/v1/events/":             h.obj("GET", "/v1/events?limit=1", h.keyA, nil, 200)["data"].([]any)[0].(map[string]any)["id"].(string),
			"/v1/connector_accounts/": h.account(h.keyA, newProcessor(t).url, "A"),
			"/v1/customers/":          h.customer(h.keyA, "a@example.com"),
			"/v1/checkout_sessions/":  h.session(h.keyA)["id"].(string),
		}
		doc, err := openapi.Load()
		if err != nil {
			t.Fatal(err)
		}
		var swept []string
		for path, item := range doc.Paths.Map() {
			if !strings.Contains(path, "{id}") || !strings.HasPrefix(path, "/v1/") {
				continue
			}
			for method, op := range item.Operations() {
				if op.Security == nil || len(*op.Security) == 0 || (*op.Security)[0]["merchantKey"] == nil {
					continue // admin and public operations
				}
				id := ""
				for prefix, obj := range objects {
					if strings.HasPrefix(path, prefix) {
						id = obj
					}
				}
				if id == "" {
					t.Errorf("%s %s: no object of merchant A to try; add one to the sweep", method, path)
					continue
				}
				p := strings.Replace(path, "{id}", id, 1)
				var body any
				if method != http.MethodGet {
					body = map[string]any{}
				}
				r, b := h.request(method, p, h.keyB, body)
				if r.StatusCode != 404 || !strings.Contains(string(b), `"resource_missing"`) {
					t.Errorf("%s %s with B's key: %d %s", method, p, r.StatusCode, b)
				}
				for _, secret := range []string{h.merchant, "Merchant A", "4000056655665556", "5556"} {
					if strings.Contains(string(b), secret) {
						t.Errorf("%s %s: the 404 reveals %q: %s", method, p, secret, b)
					}
				}
				swept = append(swept, method+" "+path)
			}
		}
		sort.Strings(swept)
		if len(swept) < 7 {
			t.Errorf("swept only %v", swept)
		}
		// Lists and the balance: B sees none of A's objects or money.
		for _, p := range []string{"/v1/payments", "/v1/refunds", "/v1/refunds?payment_id=" + pay} {
			if l := h.obj("GET", p, h.keyB, nil, 200); len(l["data"].([]any)) != 0 {
				t.Errorf("%s with B's key: %v", p, l["data"])
			}
		}
		if a := h.obj("GET", "/v1/balance", h.keyA, nil, 200)["balances"].([]any); len(a) != 1 {
			t.Fatalf("A's balances %v, want A's USD", a)
		}
		if b, ok := h.obj("GET", "/v1/balance", h.keyB, nil, 200)["balances"].([]any); !ok || len(b) != 0 {
			t.Errorf("B's balances show A's money: %v", b)
		}
		// Webhooks: every event of A reached A's endpoint; none B's.
		events := h.merchantEvents()
		waitFor(t, "A's events at A's endpoint", func() bool { return len(rcA.received()) >= len(events) })
		if got, want := sorted(rcA.eventIDs()), sorted(events); !slices.Equal(got, want) {
			t.Errorf("A's receiver got %v, want %v", got, want)
		}
		h.waitSettled(t, endpointA, bystander.id)
		bystander.assertUntouched(t, h)
	})
}
