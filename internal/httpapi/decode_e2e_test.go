package httpapi_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/paygate/paygate/internal/store/storetest"
)

// TestStrictKeys: through the real server, a key that differs from a
// documented field name only in case, or one repeated within an object, is
// a 400 naming it, and changes nothing; nor is it kept for an
// Idempotency-Key.
func TestStrictKeys(t *testing.T) {
	cardWith := func(fields string) string {
		return `{"amount":2000,"currency":"usd","confirm":true,"payment_method":{"type":"card","card":{` + fields + `}}}`
	}
	okCard := fmt.Sprintf(`"exp_month":12,"exp_year":%d,"cvc":"%s"`, expYear, testCVC)
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := start(t, backend)
		succeeded := h.paymentIn("succeeded")
		open := h.paymentIn("requires_payment_method")
		endpoint := h.obj("POST", "/v1/webhook_endpoints", h.keyA, map[string]any{"url": "https://example.com/hook", "enabled_events": []string{"*"}}, 201)["id"].(string)
		cases := []struct {
			name, method, path, key, body, code, param string
		}{
			{"amount in another case", "POST", "/v1/payments", h.keyA, `{"Amount":2000,"currency":"usd"}`, "parameter_unknown", "Amount"},
			{"amount twice", "POST", "/v1/payments", h.keyA, `{"amount":2000,"currency":"usd","amount":1}`, "parameter_invalid", "amount"},
			{"card number in another case", "POST", "/v1/payments", h.keyA, cardWith(`"Number":"4242424242424242",` + okCard), "parameter_unknown", "payment_method.card.Number"},
			// A declined card first, a good one last: the last would win.
			{"card number twice", "POST", "/v1/payments", h.keyA, cardWith(`"number":"4000000000000002",` + okCard + `,"number":"4242424242424242"`), "parameter_invalid", "payment_method.card.number"},
			{"metadata key twice", "POST", "/v1/payments", h.keyA, `{"amount":2000,"currency":"usd","metadata":{"order":"1","order":"2"}}`, "parameter_invalid", "metadata.order"},
			{"update in another case", "PATCH", "/v1/payments/" + open, h.keyA, `{"Amount":5}`, "parameter_unknown", "Amount"},
			{"confirm with method twice", "POST", "/v1/payments/" + open + "/confirm", h.keyA, `{"payment_method":{"type":"card","type":"card"}}`, "parameter_invalid", "payment_method.type"},
			{"cancel in another case", "POST", "/v1/payments/" + open + "/cancel", h.keyA, `{"Cancellation_reason":"duplicate"}`, "parameter_unknown", "Cancellation_reason"},
			{"refund amount twice", "POST", "/v1/refunds", h.keyA, `{"payment_id":"` + succeeded + `","amount":1,"amount":2000}`, "parameter_invalid", "amount"},
			{"payment method in another case", "POST", "/v1/payment_methods", h.keyA, `{"type":"card","Card":{"number":"4242424242424242",` + okCard + `}}`, "parameter_unknown", "Card"},
			{"webhook url twice", "POST", "/v1/webhook_endpoints", h.keyA, `{"url":"https://example.com/a","enabled_events":["*"],"url":"https://example.com/b"}`, "parameter_invalid", "url"},
			{"webhook update in another case", "PATCH", "/v1/webhook_endpoints/" + endpoint, h.keyA, `{"Disabled":true}`, "parameter_unknown", "Disabled"},
			{"merchant name in another case", "POST", "/v1/merchants", adminToken, `{"Name":"Shop"}`, "parameter_unknown", "Name"},
			{"merchant name twice", "POST", "/v1/merchants", adminToken, `{"name":"Shop","name":"Other"}`, "parameter_invalid", "name"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				before := storetest.Dump(t, h.db)
				resp, got := h.request(c.method, c.path, c.key, c.body)
				var e struct {
					Error struct{ Code, Param, Message string }
				}
				if err := json.Unmarshal(got, &e); err != nil || resp.StatusCode != 400 {
					t.Fatalf("status %d, want 400: %.300s", resp.StatusCode, got)
				}
				if e.Error.Code != c.code || e.Error.Param != c.param {
					t.Errorf("code %s, param %q; want %s, %q: %s", e.Error.Code, e.Error.Param, c.code, c.param, e.Error.Message)
				}
				if c.code == "parameter_invalid" && !strings.Contains(e.Error.Message, c.param+" appears more than once") {
					t.Errorf("message %q", e.Error.Message)
				}
				if after := storetest.Dump(t, h.db); after != before {
					t.Error("a rejected request changed the database")
				}
			})
		}

		t.Run("idempotency key not kept", func(t *testing.T) {
			resp, got := h.request("POST", "/v1/payments", h.keyA, `{"Amount":2000,"currency":"usd"}`, "Idempotency-Key", "strict-keys-1")
			if resp.StatusCode != 400 {
				t.Fatalf("status %d: %s", resp.StatusCode, got)
			}
			// The same key with the corrected body is a new request.
			resp, got = h.request("POST", "/v1/payments", h.keyA, `{"amount":2000,"currency":"usd"}`, "Idempotency-Key", "strict-keys-1")
			if resp.StatusCode != 201 || resp.Header.Get("Idempotent-Replayed") != "" {
				t.Fatalf("status %d, replayed %q: %s", resp.StatusCode, resp.Header.Get("Idempotent-Replayed"), got)
			}
		})

		t.Run("metadata keys in two cases", func(t *testing.T) {
			resp, got := h.request("POST", "/v1/payments", h.keyA, `{"amount":2000,"currency":"usd","metadata":{"a":"1","A":"2","amount":"3"}}`)
			var p struct{ Metadata map[string]string }
			if err := json.Unmarshal(got, &p); err != nil || resp.StatusCode != 201 {
				t.Fatalf("status %d, want 201: %.300s", resp.StatusCode, got)
			}
			if want := map[string]string{"a": "1", "A": "2", "amount": "3"}; !maps.Equal(p.Metadata, want) {
				t.Errorf("metadata %v, want %v", p.Metadata, want)
			}
		})
	})
}
