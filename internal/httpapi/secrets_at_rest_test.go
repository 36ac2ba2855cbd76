package httpapi_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/paygate/paygate/internal/idempotency"
	"github.com/paygate/paygate/internal/store/storetest"
)

// TestRequestHashIsKeyed: the hash an idempotency record keeps of a card
// payment's body is keyed with a server secret. A reader of the database
// knows the card's first six and last four digits (payment_methods) and
// could try every candidate number and CVC against an unkeyed hash; this
// one cannot be computed without the key.
func TestRequestHashIsKeyed(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := start(t, backend)
		live := h.liveKey()
		for _, c := range []struct {
			key      string
			livemode bool
		}{{h.keyA, false}, {live, true}} {
			body, _ := json.Marshal(newPayment(card("4242424242424242")))
			r, got := h.request("POST", "/v1/payments", c.key, body, "Idempotency-Key", "hash-"+c.key[:8])
			if r.StatusCode != 201 {
				t.Fatalf("payment: %d %s", r.StatusCode, got)
			}
			var stored []byte
			if err := h.db.SQL().QueryRow(`SELECT request_hash FROM idempotency_keys WHERE key = $1`, "hash-"+c.key[:8]).Scan(&stored); err != nil {
				t.Fatal(err)
			}
			// What an unkeyed scheme would have stored, in every framing a
			// guesser would try.
			for _, plain := range [][]byte{body, append([]byte("livemode\n"), body...), []byte("POST /v1/payments\n" + string(body)),
				[]byte("POST\n/v1/payments\n" + string(body)), bytes.TrimSpace(body)} {
				if sum := sha256.Sum256(plain); bytes.Equal(stored, sum[:]) {
					t.Fatalf("the stored request hash is SHA-256 of the body (%q…): a card number and CVC can be brute-forced from it", plain[:20])
				}
			}
			// It is the server's keyed hash, and another key gives another.
			want := idempotency.NewHasher(h.keys.DeriveKey(idempotency.HasherPurpose)).Sum(c.livemode, "POST", "/v1/payments", body)
			if !bytes.Equal(stored, want) {
				t.Errorf("stored hash %x is not the keyed hash of the request", stored)
			}
			if other := idempotency.NewHasher(bytes.Repeat([]byte{7}, 32)).Sum(c.livemode, "POST", "/v1/payments", body); bytes.Equal(stored, other) {
				t.Error("the hash does not depend on the key")
			}
		}
	})
}

// TestIdempotencyKeyModeConfusion is the attack on the old hashing (test
// bodies hashed as they are, live ones as "livemode\n"+body): a test key
// sends, under a live request's Idempotency-Key, the live body with that
// prefix, and got the live answer replayed (for a webhook endpoint, the
// live signing secret). Now the mode is stored with the key and hashed
// unambiguously: both directions are 422, and nothing is revealed.
func TestIdempotencyKeyModeConfusion(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := start(t, backend)
		live := h.liveKey()
		body := []byte(`{"url":"https://hooks.example.com/live","enabled_events":["*"]}`)
		r, first := h.request("POST", "/v1/webhook_endpoints", live, body, "Idempotency-Key", "ep-1")
		if r.StatusCode != 201 || !strings.Contains(string(first), "whsec_") {
			t.Fatalf("live endpoint: %d %s", r.StatusCode, first)
		}
		forged := append([]byte("livemode\n"), body...)
		r, got := h.request("POST", "/v1/webhook_endpoints", h.keyA, forged, "Idempotency-Key", "ep-1")
		if r.StatusCode != 422 || !strings.Contains(string(got), "idempotency_key_reused") || strings.Contains(string(got), "whsec_") {
			t.Fatalf("test key with the live body under the live key: %d %s", r.StatusCode, got)
		}
		// The other way: a test answer is not a live one's either.
		tbody := []byte(`{"url":"https://hooks.example.com/test","enabled_events":["*"]}`)
		if r, got := h.request("POST", "/v1/webhook_endpoints", h.keyA, tbody, "Idempotency-Key", "ep-2"); r.StatusCode != 201 {
			t.Fatalf("test endpoint: %d %s", r.StatusCode, got)
		}
		for _, b := range [][]byte{tbody, bytes.TrimPrefix(tbody, []byte("livemode\n"))} {
			if r, got := h.request("POST", "/v1/webhook_endpoints", live, b, "Idempotency-Key", "ep-2"); r.StatusCode != 422 || strings.Contains(string(got), "whsec_") {
				t.Fatalf("live key under the test key: %d %s", r.StatusCode, got)
			}
		}
		// The real retry still replays, byte for byte.
		r, again := h.request("POST", "/v1/webhook_endpoints", live, body, "Idempotency-Key", "ep-1")
		if r.StatusCode != 201 || !bytes.Equal(again, first) || r.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replay: %d %s", r.StatusCode, again)
		}
		// The sealed answer is bound to its mode: copied onto a test-mode
		// record (someone with write access to the database), it does not
		// open, so the live secret is not shown.
		if _, err := h.db.SQL().Exec(`UPDATE idempotency_keys SET response_body = (SELECT response_body FROM idempotency_keys WHERE key = 'ep-1'),
			response_key_id = (SELECT response_key_id FROM idempotency_keys WHERE key = 'ep-1') WHERE key = 'ep-2'`); err != nil {
			t.Fatal(err)
		}
		if r, got := h.request("POST", "/v1/webhook_endpoints", h.keyA, tbody, "Idempotency-Key", "ep-2"); r.StatusCode != 500 || strings.Contains(string(got), "whsec_") {
			t.Fatalf("a live sealed answer under a test key: %d %s", r.StatusCode, got)
		}
	})
}

// TestCustomerLinkNotStored: the single-use token in a 3-D Secure link is a
// password for the customer's step. The API shows the link, and it works,
// but no table holds the token: not the payment, not its events, not the
// stored answer of the idempotent request.
func TestCustomerLinkNotStored(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := start(t, backend)
		body := newPayment(card("4000000000003220"), "return_url", "https://shop.example/back")
		r, created := h.request("POST", "/v1/payments", h.keyA, body, "Idempotency-Key", "3ds-1")
		var p map[string]any
		if err := json.Unmarshal(created, &p); err != nil || r.StatusCode != 201 || p["status"] != "requires_action" {
			t.Fatalf("3-D Secure payment: %d %s", r.StatusCode, created)
		}
		id := p["id"].(string)
		link := p["next_action"].(map[string]any)["redirect_to_url"].(map[string]any)["url"].(string)
		u, err := url.Parse(link)
		if err != nil {
			t.Fatal(err)
		}
		token := strings.TrimPrefix(u.Path, "/sandbox/authenticate/")
		if len(token) < 32 || strings.Contains(token, "/") {
			t.Fatalf("link %s", link)
		}
		// Shown again, the same link: on retrieve, in the list, on replay.
		if got := h.obj("GET", "/v1/payments/"+id, h.keyA, nil, 200)["next_action"].(map[string]any)["redirect_to_url"].(map[string]any)["url"]; got != link {
			t.Errorf("retrieve shows %v, the create showed %s", got, link)
		}
		if l := h.obj("GET", "/v1/payments?status=requires_action", h.keyA, nil, 200)["data"].([]any); len(l) != 1 ||
			l[0].(map[string]any)["next_action"].(map[string]any)["redirect_to_url"].(map[string]any)["url"] != link {
			t.Errorf("list: %v", l)
		}
		if r, again := h.request("POST", "/v1/payments", h.keyA, body, "Idempotency-Key", "3ds-1"); r.StatusCode != 201 || !bytes.Equal(again, created) {
			t.Errorf("replay: %d %s", r.StatusCode, again)
		}
		// The event tells that the customer must act, without the link.
		ev := h.obj("GET", "/v1/events?type=payment.requires_action", h.keyA, nil, 200)["data"].([]any)
		if len(ev) != 1 || strings.Contains(mustJSON(t, ev), token) {
			t.Errorf("events: %s", mustJSON(t, ev))
		}
		// Nowhere in the database, in any form.
		dump := storetest.Dump(t, h.db)
		for _, form := range []string{token, url.PathEscape(token), link} {
			if strings.Contains(dump, form) {
				t.Fatalf("the database holds the customer's token (%s)", form)
			}
		}
		// And the link works: the customer approves, the payment succeeds.
		if resp, _ := page(t, "POST", link, url.Values{"action": {"approve"}}); resp.StatusCode != 303 {
			t.Fatalf("approve: %d", resp.StatusCode)
		}
		if got := h.obj("GET", "/v1/payments/"+id, h.keyA, nil, 200); got["status"] != "succeeded" || got["next_action"] != nil {
			t.Errorf("after approval: %v", got)
		}
	})
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
