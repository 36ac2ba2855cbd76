package httpapi_test

import (
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/store/storetest"
)

// offSessionAuthCard succeeds with its customer present and needs
// authentication for every merchant-initiated charge (the sandbox's table).
const offSessionAuthCard = "4000000000003238"

// customer creates a customer of key's and returns its id.
func (h *harness) customer(key, email string) string {
	h.t.Helper()
	c := h.obj("POST", "/v1/customers", key, map[string]any{"email": email, "name": "Jane Doe"}, 201)
	id, _ := c["id"].(string)
	if !strings.HasPrefix(id, "cus_") || c["object"] != "customer" || c["email"] != email {
		h.t.Fatalf("customer %v", c)
	}
	return id
}

// savedMethods lists a customer's saved methods' ids.
func (h *harness) savedMethods(key, customer string) []string {
	h.t.Helper()
	l := h.obj("GET", "/v1/customers/"+customer+"/payment_methods", key, nil, 200)
	var out []string
	for _, m := range l["data"].([]any) {
		pm := m.(map[string]any)
		if pm["customer"] != customer {
			h.t.Errorf("a saved method of %s shows customer %v", customer, pm["customer"])
		}
		out = append(out, pm["id"].(string))
	}
	return out
}

// eventCount counts the events of a type about an object.
func (h *harness) eventCount(key, typ, objectID string) int {
	h.t.Helper()
	l := h.obj("GET", "/v1/events?type="+typ+"&object_id="+objectID, key, nil, 200)
	return len(l["data"].([]any))
}

// sealedData reads a method's sealed card data straight from the database.
func (h *harness) sealedData(pm string) (keyID sql.NullString, dek, data []byte) {
	h.t.Helper()
	row := h.db.SQL().QueryRow(`SELECT enc_key_id, enc_dek, enc_data FROM payment_methods WHERE id = $1`, pm)
	if err := row.Scan(&keyID, &dek, &data); err != nil {
		h.t.Fatal(err)
	}
	return keyID, dek, data
}

func TestCustomersAPI(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := start(t, backend)
		a := h.customer(h.keyA, "a@example.com")
		b := h.customer(h.keyA, "b@example.com")
		if n := h.eventCount(h.keyA, "customer.created", a); n != 1 {
			t.Errorf("customer.created events: %d", n)
		}

		got := h.obj("GET", "/v1/customers/"+a, h.keyA, nil, 200)
		if got["name"] != "Jane Doe" || got["livemode"] != false {
			t.Errorf("retrieved %v", got)
		}
		l := h.obj("GET", "/v1/customers?limit=1", h.keyA, nil, 200)
		if d := l["data"].([]any); len(d) != 1 || d[0].(map[string]any)["id"] != b || l["has_more"] != true {
			t.Errorf("first page: %v", l)
		}
		l = h.obj("GET", "/v1/customers?limit=1&starting_after="+b, h.keyA, nil, 200)
		if d := l["data"].([]any); len(d) != 1 || d[0].(map[string]any)["id"] != a || l["has_more"] != false {
			t.Errorf("second page: %v", l)
		}
		l = h.obj("GET", "/v1/customers?email=a@example.com", h.keyA, nil, 200)
		if d := l["data"].([]any); len(d) != 1 || d[0].(map[string]any)["id"] != a {
			t.Errorf("email filter: %v", l)
		}

		up := h.obj("PATCH", "/v1/customers/"+a, h.keyA, map[string]any{"name": "Jane Q. Doe", "metadata": map[string]any{"plan": "gold"}}, 200)
		if up["name"] != "Jane Q. Doe" || up["metadata"].(map[string]any)["plan"] != "gold" || up["email"] != "a@example.com" {
			t.Errorf("updated %v", up)
		}
		if n := h.eventCount(h.keyA, "customer.updated", a); n != 1 {
			t.Errorf("customer.updated events: %d", n)
		}
		h.apiErr("POST", "/v1/customers", h.keyA, map[string]any{"email": "not an email"}, 400, "parameter_invalid", "email")
		h.apiErr("POST", "/v1/customers", h.keyA, map[string]any{"emial": "x@example.com"}, 400, "", "emial")
		h.apiErr("GET", "/v1/customers?colour=red", h.keyA, nil, 400, "parameter_unknown", "colour")

		// Idempotency, as every POST: the same request is one customer.
		key := "Idempotency-Key"
		r1, b1 := h.request("POST", "/v1/customers", h.keyA, map[string]any{"email": "c@example.com"}, key, "cus-1")
		r2, b2 := h.request("POST", "/v1/customers", h.keyA, map[string]any{"email": "c@example.com"}, key, "cus-1")
		if r1.StatusCode != 201 || r2.StatusCode != 201 || string(b1) != string(b2) || r2.Header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("replay: %d %s / %d %s", r1.StatusCode, b1, r2.StatusCode, b2)
		}

		// Another merchant's customer, and the other mode's, is 404.
		h.apiErr("GET", "/v1/customers/"+a, h.keyB, nil, 404, "resource_missing", "id")
		h.apiErr("PATCH", "/v1/customers/"+a, h.keyB, map[string]any{"name": "x"}, 404, "resource_missing", "id")
		h.apiErr("DELETE", "/v1/customers/"+a, h.keyB, nil, 404, "resource_missing", "id")
		h.apiErr("GET", "/v1/customers/"+a+"/payment_methods", h.keyB, nil, 404, "resource_missing", "id")
		if l := h.obj("GET", "/v1/customers", h.keyB, nil, 200); len(l["data"].([]any)) != 0 {
			t.Errorf("merchant B lists A's customers: %v", l)
		}
		live := h.liveKey()
		h.apiErr("GET", "/v1/customers/"+a, live, nil, 404, "resource_missing", "id")
		if l := h.obj("GET", "/v1/customers", live, nil, 200); len(l["data"].([]any)) != 0 {
			t.Errorf("the live key lists test customers: %v", l)
		}
		liveCus := h.customer(live, "live@example.com")
		if c := h.obj("GET", "/v1/customers/"+liveCus, live, nil, 200); c["livemode"] != true {
			t.Errorf("live customer %v", c)
		}
		h.apiErr("GET", "/v1/customers/"+liveCus, h.keyA, nil, 404, "resource_missing", "id")
		// A test payment cannot name a live customer.
		h.apiErr("POST", "/v1/payments", h.keyA, newPayment(card("4242424242424242"), "customer", liveCus), 404, "resource_missing", "customer")

		del := h.obj("DELETE", "/v1/customers/"+b, h.keyA, nil, 200)
		if del["deleted"] != true || del["id"] != b {
			t.Errorf("delete: %v", del)
		}
		h.apiErr("GET", "/v1/customers/"+b, h.keyA, nil, 404, "resource_missing", "id")
		h.apiErr("DELETE", "/v1/customers/"+b, h.keyA, nil, 404, "resource_missing", "id")
		if n := h.eventCount(h.keyA, "customer.deleted", b); n != 1 {
			t.Errorf("customer.deleted events: %d", n)
		}
	})
}

// The whole life of a saved card: saved by a first payment, charged off
// session, deduplicated, detached, and a deleted customer's card data gone.
func TestSavedCardsAndOffSessionCharges(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := start(t, backend)
		cus := h.customer(h.keyA, "jane@example.com")

		// A payment that does not succeed saves nothing.
		failed := h.obj("POST", "/v1/payments", h.keyA, newPayment(card("4000000000000002"), "customer", cus, "setup_future_usage", "off_session"), 201)
		if failed["status"] != "failed" || len(h.savedMethods(h.keyA, cus)) != 0 {
			t.Fatalf("a declined first payment: %v, saved %v", failed["status"], h.savedMethods(h.keyA, cus))
		}

		// The first, customer-initiated payment saves its card.
		first := h.obj("POST", "/v1/payments", h.keyA, newPayment(card("4242424242424242"), "customer", cus, "setup_future_usage", "off_session"), 201)
		if first["status"] != "succeeded" || first["customer"] != cus || first["setup_future_usage"] != "off_session" {
			t.Fatalf("first payment %v", first)
		}
		pm := first["payment_method"].(map[string]any)["id"].(string)
		if saved := h.savedMethods(h.keyA, cus); len(saved) != 1 || saved[0] != pm {
			t.Fatalf("saved methods %v, want [%s]", saved, pm)
		}
		if n := h.eventCount(h.keyA, "payment_method.attached", pm); n != 1 {
			t.Errorf("payment_method.attached events: %d", n)
		}
		var ntid sql.NullString
		if err := h.db.SQL().QueryRow(`SELECT network_transaction_id FROM payment_methods WHERE id = $1`, pm).Scan(&ntid); err != nil || !strings.HasPrefix(ntid.String, "ntx_") {
			t.Fatalf("the saved method's network transaction id: %v %v", ntid, err)
		}

		// Merchant-initiated: no CVC, no customer present.
		auths := h.sandbox.Performed("authorize")
		mit := h.obj("POST", "/v1/payments", h.keyA, map[string]any{"amount": 1500, "currency": "usd", "confirm": true,
			"customer": cus, "payment_method": pm, "off_session": true}, 201)
		if mit["status"] != "succeeded" || mit["off_session"] != true || h.sandbox.Performed("authorize") != auths+1 {
			t.Fatalf("off-session charge %v", mit)
		}

		// The sandbox checks the network transaction id: without the one
		// of the card's first charge, it refuses.
		if _, err := h.db.SQL().Exec(`UPDATE payment_methods SET network_transaction_id = 'ntx_forged' WHERE id = $1`, pm); err != nil {
			t.Fatal(err)
		}
		forged := h.obj("POST", "/v1/payments", h.keyA, map[string]any{"amount": 1500, "currency": "usd", "confirm": true,
			"customer": cus, "payment_method": pm, "off_session": true}, 201)
		if forged["status"] != "failed" || forged["decline_code"] != "transaction_not_allowed" {
			t.Errorf("off-session charge with another network transaction id: %v %v", forged["status"], forged["decline_code"])
		}
		if _, err := h.db.SQL().Exec(`UPDATE payment_methods SET network_transaction_id = $2 WHERE id = $1`, pm, ntid.String); err != nil {
			t.Fatal(err)
		}

		// The same card saved again is the same method.
		again := h.obj("POST", "/v1/payments", h.keyA, newPayment(card("4242424242424242"), "customer", cus, "setup_future_usage", "off_session"), 201)
		if again["status"] != "succeeded" {
			t.Fatalf("second payment %v", again)
		}
		viaAPI := h.obj("POST", "/v1/payment_methods", h.keyA, map[string]any{"type": "card", "card": card("4242424242424242")["card"], "customer": cus}, 201)
		other := h.obj("POST", "/v1/payment_methods", h.keyA, card("4242 4242 4242 4242"), 201)["id"].(string)
		attached := h.obj("POST", "/v1/payment_methods/"+other+"/attach", h.keyA, map[string]any{"customer": cus}, 200)
		if viaAPI["id"] != pm || attached["id"] != pm {
			t.Errorf("the same card saved again: %v and %v, want %s", viaAPI["id"], attached["id"], pm)
		}
		if saved := h.savedMethods(h.keyA, cus); len(saved) != 1 {
			t.Errorf("after saving one card four times the customer has %v", saved)
		}
		// Another card is another method.
		mc := h.obj("POST", "/v1/payment_methods", h.keyA, map[string]any{"type": "card", "card": card("5555555555554444")["card"], "customer": cus}, 201)["id"].(string)
		if saved := h.savedMethods(h.keyA, cus); len(saved) != 2 || saved[0] != mc {
			t.Errorf("two cards saved: %v", saved)
		}

		// Rules of off-session charges.
		h.apiErr("POST", "/v1/payments", h.keyA, map[string]any{"amount": 100, "currency": "usd", "confirm": true,
			"payment_method": pm, "off_session": true}, 400, "parameter_missing", "customer")
		h.apiErr("POST", "/v1/payments", h.keyA, map[string]any{"amount": 100, "currency": "usd", "confirm": true,
			"customer": cus, "payment_method": card("4242424242424242"), "off_session": true}, 400, "parameter_invalid", "payment_method")
		h.apiErr("POST", "/v1/payments", h.keyA, map[string]any{"amount": 100, "currency": "usd", "confirm": true,
			"payment_method": pm}, 400, "parameter_missing", "customer")
		unsaved := h.obj("POST", "/v1/payment_methods", h.keyA, card("5200828282828210"), 201)["id"].(string)
		h.apiErr("POST", "/v1/payments", h.keyA, map[string]any{"amount": 100, "currency": "usd", "confirm": true,
			"customer": cus, "payment_method": unsaved, "off_session": true}, 404, "resource_missing", "payment_method")
		// A method of another customer is 404.
		cus2 := h.customer(h.keyA, "john@example.com")
		h.apiErr("POST", "/v1/payments", h.keyA, map[string]any{"amount": 100, "currency": "usd", "confirm": true,
			"customer": cus2, "payment_method": pm, "off_session": true}, 404, "resource_missing", "payment_method")
		h.apiErr("POST", "/v1/payments", h.keyA, map[string]any{"amount": 100, "currency": "usd", "confirm": true,
			"customer": cus2, "payment_method": pm}, 404, "resource_missing", "payment_method")
		h.apiErr("POST", "/v1/payment_methods/"+pm+"/attach", h.keyA, map[string]any{"customer": cus2}, 409, "payment_method_attached", "")
		// Another merchant's method and customer are 404.
		cusB := h.customer(h.keyB, "b@example.com")
		h.apiErr("GET", "/v1/payment_methods/"+pm, h.keyB, nil, 404, "resource_missing", "id")
		h.apiErr("POST", "/v1/payment_methods/"+pm+"/attach", h.keyB, map[string]any{"customer": cusB}, 404, "resource_missing", "id")
		h.apiErr("POST", "/v1/payment_methods/"+pm+"/detach", h.keyB, map[string]any{}, 404, "resource_missing", "id")
		h.apiErr("POST", "/v1/payments", h.keyB, map[string]any{"amount": 100, "currency": "usd", "confirm": true,
			"customer": cusB, "payment_method": pm, "off_session": true}, 404, "resource_missing", "payment_method")
		h.apiErr("POST", "/v1/payments", h.keyA, map[string]any{"amount": 100, "currency": "usd", "confirm": true,
			"customer": cusB, "payment_method": pm, "off_session": true}, 404, "", "")
		h.apiErr("POST", "/v1/payment_methods/"+unsaved+"/attach", h.keyA, map[string]any{"customer": cusB}, 404, "resource_missing", "customer")

		// Detach: the card data is destroyed, the method cannot pay.
		keyID, dek, data := h.sealedData(mc)
		if !keyID.Valid || len(dek) == 0 || len(data) == 0 {
			t.Fatalf("a saved card has no sealed data: %v %d %d", keyID, len(dek), len(data))
		}
		det := h.obj("POST", "/v1/payment_methods/"+mc+"/detach", h.keyA, map[string]any{}, 200)
		if _, has := det["customer"]; has {
			t.Errorf("a detached method shows a customer: %v", det)
		}
		if keyID, dek, data := h.sealedData(mc); keyID.Valid || dek != nil || data != nil {
			t.Errorf("detached method %s: sealed data still stored (key %v, %d, %d bytes)", mc, keyID, len(dek), len(data))
		}
		if n := h.eventCount(h.keyA, "payment_method.detached", mc); n != 1 {
			t.Errorf("payment_method.detached events: %d", n)
		}
		auths = h.sandbox.Performed("authorize")
		h.apiErr("POST", "/v1/payments", h.keyA, map[string]any{"amount": 100, "currency": "usd", "confirm": true,
			"customer": cus, "payment_method": mc, "off_session": true}, 409, "payment_method_unusable", "payment_method")
		h.apiErr("POST", "/v1/payments", h.keyA, map[string]any{"amount": 100, "currency": "usd", "confirm": true,
			"payment_method": mc}, 409, "payment_method_unusable", "payment_method")
		h.apiErr("POST", "/v1/payment_methods/"+mc+"/attach", h.keyA, map[string]any{"customer": cus}, 409, "payment_method_unusable", "")
		h.apiErr("POST", "/v1/payment_methods/"+mc+"/detach", h.keyA, map[string]any{}, 409, "payment_method_not_attached", "")
		if h.sandbox.Performed("authorize") != auths {
			t.Errorf("a detached method reached the processor")
		}

		// Delete the customer: its methods are detached, unreadable, unusable.
		h.obj("DELETE", "/v1/customers/"+cus, h.keyA, nil, 200)
		if keyID, dek, data := h.sealedData(pm); keyID.Valid || dek != nil || data != nil {
			t.Errorf("a deleted customer's method %s: sealed data still stored", pm)
		}
		if n := h.eventCount(h.keyA, "payment_method.detached", pm); n != 1 {
			t.Errorf("payment_method.detached events of the deleted customer's method: %d", n)
		}
		h.apiErr("POST", "/v1/payments", h.keyA, map[string]any{"amount": 100, "currency": "usd", "confirm": true,
			"customer": cus, "payment_method": pm, "off_session": true}, 404, "resource_missing", "customer")
		h.apiErr("POST", "/v1/payments", h.keyA, map[string]any{"amount": 100, "currency": "usd", "confirm": true,
			"payment_method": pm}, 409, "payment_method_unusable", "payment_method")
		h.apiErr("GET", "/v1/customers/"+cus+"/payment_methods", h.keyA, nil, 404, "resource_missing", "id")
		if h.sandbox.Performed("authorize") != auths {
			t.Errorf("a deleted customer's method reached the processor")
		}
		// The payments it paid keep showing the card.
		if p := h.obj("GET", "/v1/payments/"+first["id"].(string), h.keyA, nil, 200); p["payment_method"].(map[string]any)["card"].(map[string]any)["last4"] != "4242" {
			t.Errorf("a payment of a deleted customer's card: %v", p["payment_method"])
		}
	})
}

// A card whose issuer insists on authentication: fine with its customer
// there, authentication_required off session (never requires_action).
func TestOffSessionAuthenticationRequired(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := start(t, backend)
		cus := h.customer(h.keyA, "jane@example.com")
		first := h.obj("POST", "/v1/payments", h.keyA, newPayment(card(offSessionAuthCard), "customer", cus, "setup_future_usage", "off_session"), 201)
		if first["status"] != "succeeded" {
			t.Fatalf("on session: %v", first)
		}
		pm := first["payment_method"].(map[string]any)["id"].(string)
		mit := h.obj("POST", "/v1/payments", h.keyA, map[string]any{"amount": 1500, "currency": "usd", "confirm": true,
			"customer": cus, "payment_method": pm, "off_session": true}, 201)
		if mit["status"] != "failed" || mit["failure_code"] != "authentication_required" || mit["next_action"] != nil {
			t.Errorf("off session: %v %v %v", mit["status"], mit["failure_code"], mit["next_action"])
		}

		// The 3-D Secure card: the first payment authenticates (the
		// customer approves on the page), later ones off session fail.
		p := h.obj("POST", "/v1/payments", h.keyA, newPayment(card("4000000000003220"), "customer", cus, "setup_future_usage", "off_session"), 201)
		if p["status"] != "requires_action" {
			t.Fatalf("3-D Secure: %v", p["status"])
		}
		if saved := h.savedMethods(h.keyA, cus); len(saved) != 1 {
			t.Errorf("saved before the customer authenticated: %v", saved)
		}
		approve(t, h, p)
		if got := h.obj("GET", "/v1/payments/"+p["id"].(string), h.keyA, nil, 200); got["status"] != "succeeded" {
			t.Fatalf("after approval: %v", got["status"])
		}
		tds := p["payment_method"].(map[string]any)["id"].(string)
		if saved := h.savedMethods(h.keyA, cus); len(saved) != 2 || saved[0] != tds {
			t.Errorf("saved after the customer authenticated: %v", saved)
		}
		mit = h.obj("POST", "/v1/payments", h.keyA, map[string]any{"amount": 1500, "currency": "usd", "confirm": true,
			"customer": cus, "payment_method": tds, "off_session": true}, 201)
		if mit["status"] != "failed" || mit["failure_code"] != "authentication_required" {
			t.Errorf("3-D Secure card off session: %v %v", mit["status"], mit["failure_code"])
		}
	})
}

// A card is verified by an authorization of 0 and saved only if accepted;
// a saved card past its expiry is refused before any processor call.
func TestVerifyAndExpiredCards(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := start(t, backend)
		cus := h.customer(h.keyA, "jane@example.com")
		auths := h.sandbox.Performed("authorize")
		ok := h.obj("POST", "/v1/payment_methods", h.keyA, map[string]any{"type": "card", "card": card("4242424242424242")["card"], "customer": cus, "verify": true}, 201)
		if ok["customer"] != cus || h.sandbox.Performed("authorize") != auths+1 {
			t.Fatalf("verified card %v", ok)
		}
		// It is charged off session with the verification's network id.
		mit := h.obj("POST", "/v1/payments", h.keyA, map[string]any{"amount": 700, "currency": "usd", "confirm": true,
			"customer": cus, "payment_method": ok["id"], "off_session": true}, 201)
		if mit["status"] != "succeeded" {
			t.Errorf("off session after a verification: %v %v", mit["status"], mit["decline_code"])
		}
		e := h.apiErr("POST", "/v1/payment_methods", h.keyA, map[string]any{"type": "card", "card": card("4000000000009995")["card"], "customer": cus, "verify": true}, 402, "card_declined", "verify")
		if e["type"] != "card_error" || e["decline_code"] != "insufficient_funds" {
			t.Errorf("declined verification: %v", e)
		}
		h.apiErr("POST", "/v1/payment_methods", h.keyA, map[string]any{"type": "card", "card": card("4000000000003220")["card"], "customer": cus, "verify": true}, 402, "authentication_required", "verify")
		if saved := h.savedMethods(h.keyA, cus); len(saved) != 1 {
			t.Errorf("declined cards were saved: %v", saved)
		}
		var n int
		if err := h.db.SQL().QueryRow(`SELECT COUNT(*) FROM payment_methods`).Scan(&n); err != nil || n != 1 {
			t.Errorf("payment methods stored: %d (%v), want the verified one", n, err)
		}
		h.apiErr("POST", "/v1/payment_methods", h.keyA, map[string]any{"type": "card", "card": card("4242424242424242")["card"], "verify": true}, 400, "parameter_missing", "customer")

		// Expiry: the saved card's month has passed.
		last := time.Now().AddDate(0, -1, 0)
		if _, err := h.db.SQL().Exec(`UPDATE payment_methods SET card_exp_month = $2, card_exp_year = $3 WHERE id = $1`,
			ok["id"], int(last.Month()), last.Year()); err != nil {
			t.Fatal(err)
		}
		auths = h.sandbox.Performed("authorize")
		h.apiErr("POST", "/v1/payments", h.keyA, map[string]any{"amount": 700, "currency": "usd", "confirm": true,
			"customer": cus, "payment_method": ok["id"], "off_session": true}, 400, "expired_card", "payment_method")
		if h.sandbox.Performed("authorize") != auths {
			t.Errorf("an expired card reached the processor")
		}
		// Valid through the end of its month.
		now := time.Now()
		if _, err := h.db.SQL().Exec(`UPDATE payment_methods SET card_exp_month = $2, card_exp_year = $3 WHERE id = $1`,
			ok["id"], int(now.Month()), now.Year()); err != nil {
			t.Fatal(err)
		}
		if p := h.obj("POST", "/v1/payments", h.keyA, map[string]any{"amount": 700, "currency": "usd", "confirm": true,
			"customer": cus, "payment_method": ok["id"], "off_session": true}, 201); p["status"] != "succeeded" {
			t.Errorf("a card in its expiry month: %v", p["status"])
		}
	})
}

// approve approves a payment's 3-D Secure on the sandbox's page.
func approve(t *testing.T, h *harness, p map[string]any) {
	t.Helper()
	link := p["next_action"].(map[string]any)["redirect_to_url"].(map[string]any)["url"].(string)
	if resp, _ := page(t, "POST", link, url.Values{"action": {"approve"}}); resp.StatusCode != 200 && resp.StatusCode != 303 {
		t.Fatalf("approve: %d", resp.StatusCode)
	}
}

// One card saved at once by many requests, to one customer, is one method:
// attaches and payments that save it wait for each other on the customer's
// row and find the first one's.
func TestConcurrentSavesAreOneMethod(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := start(t, backend)
		cus := h.customer(h.keyA, "jane@example.com")
		const n = 8
		var pms []string
		for range n {
			pms = append(pms, h.obj("POST", "/v1/payment_methods", h.keyA, card("4242424242424242"), 201)["id"].(string))
		}
		errs := make(chan error, 2*n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(2)
			go func() {
				defer wg.Done()
				r, b, err := h.tryRequest("POST", "/v1/payment_methods/"+pms[i]+"/attach", h.keyA, map[string]any{"customer": cus})
				if err == nil && r.StatusCode != 200 {
					err = fmt.Errorf("attach: %d %s", r.StatusCode, b)
				}
				errs <- err
			}()
			go func() {
				defer wg.Done()
				r, b, err := h.tryRequest("POST", "/v1/payments", h.keyA, newPayment(card("4242424242424242"), "customer", cus, "setup_future_usage", "off_session"))
				if err == nil && (r.StatusCode != 201 || !strings.Contains(string(b), `"status":"succeeded"`)) {
					err = fmt.Errorf("payment: %d %s", r.StatusCode, b)
				}
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		saved := h.savedMethods(h.keyA, cus)
		if len(saved) != 1 {
			t.Fatalf("one card saved %d times at once: %d methods %v", 2*n, len(saved), saved)
		}
		if n := h.eventCount(h.keyA, "payment_method.attached", saved[0]); n != 1 {
			t.Errorf("payment_method.attached events of the saved method: %d", n)
		}
		all := h.obj("GET", "/v1/events?type=payment_method.attached&limit=100", h.keyA, nil, 200)
		if got := len(all["data"].([]any)); got != 1 {
			t.Errorf("payment_method.attached events: %d, want 1", got)
		}
	})
}
