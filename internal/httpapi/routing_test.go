package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/connectors/connectortest"
	"github.com/paygate/paygate/internal/connectors/sandbox"
	"github.com/paygate/paygate/internal/routing"
	"github.com/paygate/paygate/internal/store"
	"github.com/paygate/paygate/internal/store/storetest"
)

// processor is a sandbox process on loopback: an account's base_url.
type processor struct {
	url string
	sb  *sandbox.Connector
}

func newProcessor(t *testing.T) *processor {
	t.Helper()
	sb := sandbox.New("https://paygate.test")
	srv := httptest.NewServer(sandbox.Handler(sb))
	t.Cleanup(srv.Close)
	return &processor{url: srv.URL, sb: sb}
}

// account registers a sandbox account of key's merchant at base.
func (h *harness) account(key, base, label string) string {
	h.t.Helper()
	a := h.obj("POST", "/v1/connector_accounts", key, map[string]any{"connector": "sandbox", "base_url": base, "label": label}, 201)
	return a["id"].(string)
}

func (h *harness) route(key string, body map[string]any) map[string]any {
	h.t.Helper()
	return h.obj("PUT", "/v1/routing", key, body, 200)
}

func split(shares ...any) []any {
	var out []any
	for i := 0; i+1 < len(shares); i += 2 {
		out = append(out, map[string]any{"connector_account": shares[i], "weight": shares[i+1]})
	}
	return out
}

func TestConnectorAccounts(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := start(t, backend)
		stripe := h.obj("POST", "/v1/connector_accounts", h.keyA, map[string]any{"connector": "stripe", "label": "main",
			"credentials": map[string]any{"secret_key": "sk_test_51HxYzAbCdEfGhIjKlMnOp4242", "webhook_secret": "whsec_abc"}}, 201)
		id := stripe["id"].(string)
		if !strings.HasPrefix(id, "ca_") || stripe["credentials_set"] != true || stripe["credentials_hint"] != "…4242" || stripe["livemode"] != false {
			t.Fatalf("account %v", stripe)
		}
		if got := h.obj("GET", "/v1/connector_accounts/"+id, h.keyA, nil, 200); got["credentials_set"] != true {
			t.Errorf("read back: %v", got)
		}
		sb := h.account(h.keyA, "", "sandbox")
		if got := h.obj("GET", "/v1/connector_accounts/"+sb, h.keyA, nil, 200); got["credentials_set"] != false {
			t.Errorf("a sandbox account shows credentials: %v", got)
		}
		// Credentials are never shown, nor stored in clear.
		for _, path := range []string{"/v1/connector_accounts/" + id, "/v1/connector_accounts"} {
			if r, b := h.request("GET", path, h.keyA, nil); r.StatusCode != 200 || strings.Contains(string(b), "sk_test_51Hx") || strings.Contains(string(b), "whsec_abc") {
				t.Fatalf("GET %s: %d %s", path, r.StatusCode, b)
			}
		}
		if dump := storetest.Dump(t, h.db); strings.Contains(dump, "sk_test_51Hx") || strings.Contains(dump, "whsec_abc") {
			t.Fatal("the database holds the credentials in clear")
		}
		// Bad input names the field and changes nothing.
		for _, c := range []struct {
			body  map[string]any
			param string
		}{
			{map[string]any{"connector": "paypal"}, "connector"},
			{map[string]any{"connector": "stripe", "credentials": map[string]any{}}, "credentials.secret_key"},
			{map[string]any{"connector": "stripe", "credentials": map[string]any{"secret_key": "sk_live_1234567890abcdef"}}, "credentials.secret_key"},
			{map[string]any{"connector": "stripe", "credentials": map[string]any{"secret_key": "sk_test_1234567890ab", "pin": "1"}}, "credentials.pin"},
			{map[string]any{"connector": "adyen", "base_url": "https://checkout-test.adyen.com/v71", "credentials": map[string]any{"api_key": "k", "merchant_account": "M", "hmac_key": "zz"}}, "credentials.hmac_key"},
			{map[string]any{"connector": "adyen", "credentials": map[string]any{"api_key": "k", "merchant_account": "M", "hmac_key": "44782DEF547AAA06C910C43932B1EB0C"}}, "base_url"},
			{map[string]any{"connector": "sandbox", "base_url": "ftp://x"}, "base_url"},
		} {
			h.apiErr("POST", "/v1/connector_accounts", h.keyA, c.body, 400, "", c.param)
		}
		patched := h.obj("PATCH", "/v1/connector_accounts/"+id, h.keyA, map[string]any{"label": "backup", "enabled": false}, 200)
		if patched["label"] != "backup" || patched["enabled"] != false {
			t.Errorf("patched %v", patched)
		}
		// Another merchant, and the other mode: as if it did not exist.
		live := h.liveKey()
		for _, key := range []string{h.keyB, live} {
			h.apiErr("GET", "/v1/connector_accounts/"+id, key, nil, 404, "resource_missing", "")
			h.apiErr("PATCH", "/v1/connector_accounts/"+id, key, map[string]any{"label": "mine"}, 404, "resource_missing", "")
			h.apiErr("DELETE", "/v1/connector_accounts/"+id, key, nil, 404, "resource_missing", "")
			h.apiErr("PUT", "/v1/routing", key, map[string]any{"fallback": []any{id}}, 404, "resource_missing", "fallback[0]")
			if l := h.obj("GET", "/v1/connector_accounts", key, nil, 200)["data"].([]any); len(l) > 1 {
				t.Errorf("another scope lists %d accounts", len(l))
			}
		}
		// Named by the routing, it cannot be deleted; taken out, it can.
		h.route(h.keyA, map[string]any{"rules": []any{map[string]any{"conditions": map[string]any{"currency": []any{"eur"}}, "split": split(id, 1)}}})
		if r := h.obj("GET", "/v1/routing", h.keyA, nil, 200); r["rules"].([]any)[0].(map[string]any)["conditions"].(map[string]any)["currency"].([]any)[0] != "EUR" {
			t.Errorf("routing %v", r)
		}
		h.apiErr("DELETE", "/v1/connector_accounts/"+id, h.keyA, nil, 409, "connector_account_in_use", "")
		h.route(h.keyA, map[string]any{"rules": []any{}})
		if d := h.obj("DELETE", "/v1/connector_accounts/"+id, h.keyA, nil, 200); d["deleted"] != true {
			t.Errorf("delete %v", d)
		}
		h.apiErr("GET", "/v1/connector_accounts/"+id, h.keyA, nil, 404, "resource_missing", "")
		// Routing input is checked field by field.
		for _, c := range []struct {
			body  map[string]any
			param string
		}{
			{map[string]any{"rules": []any{map[string]any{"split": []any{}}}}, "rules[0].split"},
			{map[string]any{"rules": []any{map[string]any{"split": split("ca_x", 0)}}}, "rules[0].split[0].weight"},
			{map[string]any{"rules": []any{map[string]any{"conditions": map[string]any{"currency": []any{"xxx"}}, "split": split("ca_x", 1)}}}, "rules[0].conditions.currency[0]"},
			{map[string]any{"rules": []any{map[string]any{"conditions": map[string]any{"card_brand": []any{"visa", "dinersclub"}}, "split": split("ca_x", 1)}}}, "rules[0].conditions.card_brand[1]"},
			{map[string]any{"fallback": []any{"ca_gone"}}, "fallback[0]"},
		} {
			r, b := h.request("PUT", "/v1/routing", h.keyA, c.body)
			if (r.StatusCode != 400 && r.StatusCode != 404) || !strings.Contains(string(b), `"param":"`+c.param+`"`) {
				t.Errorf("PUT /v1/routing %v: %d %s", c.body, r.StatusCode, b)
			}
		}
	})
}

func TestRoutingByCurrencyAndBrand(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := start(t, backend)
		pa, pb := newProcessor(t), newProcessor(t)
		a, b := h.account(h.keyA, pa.url, "A"), h.account(h.keyA, pb.url, "B")
		h.route(h.keyA, map[string]any{"rules": []any{
			map[string]any{"conditions": map[string]any{"currency": []any{"EUR"}}, "split": split(a, 1)},
			map[string]any{"conditions": map[string]any{"card_brand": []any{"mastercard"}}, "split": split(b, 1)},
			map[string]any{"conditions": map[string]any{"amount_gte": 50000}, "split": split(b, 1)},
		}, "fallback": []any{a}})
		for _, c := range []struct {
			body    map[string]any
			account string
		}{
			{newPayment(card("4242424242424242"), "currency", "eur"), a},
			{newPayment(card("5555555555554444")), b},
			{newPayment(card("4242424242424242"), "amount", 60000), b},
			{newPayment(card("4242424242424242")), a}, // no rule: the fallback
		} {
			p := h.obj("POST", "/v1/payments", h.keyA, c.body, 201)
			if p["status"] != "succeeded" || p["connector_account"] != c.account || p["connector"] != "sandbox" {
				t.Errorf("%v: %s via %v, want %s", c.body["currency"], p["status"], p["connector_account"], c.account)
			}
			// Its refund goes to the account that took it.
			h.obj("POST", "/v1/refunds", h.keyA, map[string]any{"payment_id": p["id"], "amount": 100}, 201)
		}
		if pa.sb.Performed("authorize") != 2 || pb.sb.Performed("authorize") != 2 || pa.sb.Performed("refund") != 2 || pb.sb.Performed("refund") != 2 {
			t.Errorf("authorizations A %d B %d, refunds A %d B %d; want 2 each", pa.sb.Performed("authorize"), pb.sb.Performed("authorize"),
				pa.sb.Performed("refund"), pb.sb.Performed("refund"))
		}
		if n := h.sandbox.Performed("authorize"); n != 0 {
			t.Errorf("%d payments went to the built-in sandbox despite the routing", n)
		}
		// A manual capture and a cancel go to the authorizing account too.
		held := h.obj("POST", "/v1/payments", h.keyA, newPayment(card("5555555555554444"), "capture_method", "manual"), 201)
		h.obj("POST", "/v1/payments/"+held["id"].(string)+"/capture", h.keyA, map[string]any{"amount": 500}, 200)
		held = h.obj("POST", "/v1/payments", h.keyA, newPayment(card("5555555555554444"), "capture_method", "manual"), 201)
		h.obj("POST", "/v1/payments/"+held["id"].(string)+"/cancel", h.keyA, map[string]any{}, 200)
		if pb.sb.Performed("capture") != 1 || pb.sb.Performed("void") != 1 {
			t.Errorf("capture %d, void %d at the authorizing account", pb.sb.Performed("capture"), pb.sb.Performed("void"))
		}
		h.verifyLedger()
	})
}

// TestWeightedSplit: 1,000 payments split 3:1 land within statistical
// bounds, and the pick is the payment's own: a retry goes where the first
// try went.
func TestWeightedSplit(t *testing.T) {
	h := start(t, store.SQLite) // routing does not depend on the database
	pa, pb := newProcessor(t), newProcessor(t)
	a, b := h.account(h.keyA, pa.url, "A"), h.account(h.keyA, pb.url, "B")
	h.route(h.keyA, map[string]any{"rules": []any{map[string]any{"split": split(a, 3, b, 1)}}})
	const n = 1000
	counts := map[string]int{}
	for range n {
		p := h.obj("POST", "/v1/payments", h.keyA, newPayment(card("4242424242424242")), 201)
		counts[p["connector_account"].(string)]++
	}
	// 750 expected at A, standard deviation sqrt(1000 × ¾ × ¼) ≈ 13.7: five
	// of them either way.
	if counts[a] < 750-69 || counts[a] > 750+69 || counts[a]+counts[b] != n {
		t.Errorf("split %v, want about 750 at A and 250 at B", counts)
	}
	// The same payment routes the same way (deterministic per payment).
	rules := &routing.Rules{Rules: []routing.Rule{{Split: []routing.Share{{ConnectorAccount: a, Weight: 3}, {ConnectorAccount: b, Weight: 1}}}}}
	for _, id := range []string{"pay_1", "pay_2", "pay_3"} {
		first := rules.Candidates(routing.Payment{ID: id})
		for range 5 {
			if again := rules.Candidates(routing.Payment{ID: id}); again[0] != first[0] {
				t.Fatalf("%s routed to %v then %v", id, first, again)
			}
		}
	}
}

func TestFailover(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := startWith(t, backend, options{builders: func(r *routing.Router) {
			r.HTTP = func() *http.Client { return &http.Client{Timeout: 300 * time.Millisecond} }
		}})
		good := newProcessor(t)
		down := h.account(h.keyA, connectortest.ClosedURL(t), "down")
		up := h.account(h.keyA, good.url, "up")
		h.route(h.keyA, map[string]any{"rules": []any{map[string]any{"split": split(down, 1)}}, "fallback": []any{up}})

		// Refused connection: provably not processed, so the next account.
		p := h.obj("POST", "/v1/payments", h.keyA, newPayment(card("4242424242424242")), 201)
		if p["status"] != "succeeded" || p["connector_account"] != up {
			t.Fatalf("failover: %v via %v", p["status"], p["connector_account"])
		}
		atts := h.obj("GET", "/v1/payments/"+p["id"].(string)+"/attempts", h.keyA, nil, 200)["data"].([]any)
		if len(atts) != 2 || atts[0].(map[string]any)["connector_account"] != down || atts[0].(map[string]any)["status"] != "not_processed" ||
			atts[1].(map[string]any)["connector_account"] != up || atts[1].(map[string]any)["status"] != "succeeded" {
			t.Errorf("attempts %v", atts)
		}
		h.apiErr("GET", "/v1/payments/"+p["id"].(string)+"/attempts", h.keyB, nil, 404, "resource_missing", "")

		// A timeout is an unknown outcome: never failed over (the first
		// account may have charged); the payment waits for recovery.
		late := h.account(h.keyA, connectortest.SlowURL(t), "slow")
		h.route(h.keyA, map[string]any{"rules": []any{map[string]any{"split": split(late, 1)}}, "fallback": []any{up}})
		before := good.sb.Performed("authorize")
		p = h.obj("POST", "/v1/payments", h.keyA, newPayment(card("4242424242424242")), 201)
		if p["status"] != "processing" || p["connector_account"] != late {
			t.Errorf("after a timeout: %v via %v, want processing at the slow account", p["status"], p["connector_account"])
		}
		if n := good.sb.Performed("authorize") - before; n != 0 {
			t.Errorf("a timed-out payment was sent to another account (%d)", n)
		}
		atts = h.obj("GET", "/v1/payments/"+p["id"].(string)+"/attempts", h.keyA, nil, 200)["data"].([]any)
		if len(atts) != 1 || atts[0].(map[string]any)["status"] != "processing" {
			t.Errorf("attempts after a timeout %v", atts)
		}

		// Live mode never falls back to the built-in sandbox.
		live := h.obj("POST", "/v1/merchants/"+h.merchant+"/api_keys", adminToken, map[string]any{"livemode": true}, 201)["secret"].(string)
		h.apiErr("POST", "/v1/payments", live, newPayment(card("4242424242424242")), 400, "no_connector", "")
	})
}

// TestConnectorWebhookRefused: an unknown account, or one whose processor
// sends no webhooks, is 400 and changes nothing.
func TestConnectorWebhookRefused(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := start(t, backend)
		ca := h.account(h.keyA, newProcessor(t).url, "A")
		before := storetest.Dump(t, h.db)
		for _, path := range []string{"/v1/connector_webhooks/ca_unknown", "/v1/connector_webhooks/" + ca} {
			h.apiErr("POST", path, "", map[string]any{"type": "payment_intent.succeeded"}, 400, "webhook_invalid", "")
		}
		if after := storetest.Dump(t, h.db); after != before {
			t.Error("a refused processor webhook changed the database")
		}
	})
}
