package httpapi_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/store/storetest"
)

var expYear = time.Now().Year() + 3

func card(number string) map[string]any {
	cvc := testCVC
	if digits := strings.ReplaceAll(number, " ", ""); strings.HasPrefix(digits, "3") && len(digits) == 15 {
		cvc = testAmexCVC
	}
	return map[string]any{"type": "card", "card": map[string]any{"number": number, "exp_month": 12, "exp_year": expYear, "cvc": cvc}}
}

func wallet(typ, token string) map[string]any {
	w := map[string]any{"type": typ}
	if token != "" {
		w["token"] = token
	}
	return map[string]any{"type": "wallet", "wallet": w}
}

func newPayment(pm any, extra ...any) map[string]any {
	b := map[string]any{"amount": 2000, "currency": "usd", "confirm": true, "payment_method": pm}
	for i := 0; i+1 < len(extra); i += 2 {
		b[extra[i].(string)] = extra[i+1]
	}
	return b
}

func TestTestCards(t *testing.T) {
	cases := []struct {
		number, brand, funding, status, failure, decline string
	}{
		{"4242424242424242", "visa", "credit", "succeeded", "", ""},
		{"5555555555554444", "mastercard", "credit", "succeeded", "", ""},
		{"4000056655665556", "visa", "debit", "succeeded", "", ""},
		{"5200828282828210", "mastercard", "debit", "succeeded", "", ""},
		{"378282246310005", "amex", "credit", "succeeded", "", ""},
		{"4000000000000002", "visa", "credit", "failed", "card_declined", "generic_decline"},
		{"4000000000009995", "visa", "debit", "failed", "card_declined", "insufficient_funds"},
		{"4000000000000069", "visa", "credit", "failed", "expired_card", "expired_card"},
		{"4000000000000127", "visa", "credit", "failed", "incorrect_cvc", "incorrect_cvc"},
		{"4000000000000119", "visa", "credit", "failed", "processing_error", "processing_error"},
		{"4000000000003220", "visa", "credit", "requires_action", "", ""},
		{"4000000000005126", "visa", "credit", "succeeded", "", ""},
	}
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := start(t, backend)
		for _, c := range cases {
			t.Run(c.number, func(t *testing.T) {
				// Spaced the way people type it.
				spaced := c.number[:4] + " " + c.number[4:8] + " " + c.number[8:]
				p := h.obj("POST", "/v1/payments", h.keyA, newPayment(card(spaced)), 201)
				if p["status"] != c.status {
					t.Fatalf("status %v, want %s: %v", p["status"], c.status, p)
				}
				pmCard := p["payment_method"].(map[string]any)["card"].(map[string]any)
				if pmCard["brand"] != c.brand || pmCard["funding"] != c.funding || pmCard["last4"] != c.number[len(c.number)-4:] {
					t.Errorf("card details %v", pmCard)
				}
				if p["failure_code"] != nilIfEmpty(c.failure) || p["decline_code"] != nilIfEmpty(c.decline) {
					t.Errorf("failure %v/%v, want %s/%s", p["failure_code"], p["decline_code"], c.failure, c.decline)
				}
				if c.failure != "" && (p["failure_message"] == nil || p["amount_received"] != 0.0) {
					t.Errorf("failed payment: %v", p)
				}
				if c.status == "succeeded" && (p["amount_received"] != 2000.0 || p["amount_capturable"] != 0.0) {
					t.Errorf("amounts %v", p)
				}
				if c.status == "requires_action" {
					na := p["next_action"].(map[string]any)
					u := na["redirect_to_url"].(map[string]any)["url"].(string)
					if na["type"] != "redirect_to_url" || !strings.HasPrefix(u, h.url+"/") {
						t.Errorf("next_action %v", na)
					}
				} else if p["next_action"] != nil {
					t.Errorf("unexpected next_action %v", p["next_action"])
				}
				got := h.obj("GET", "/v1/payments/"+p["id"].(string), h.keyA, nil, 200)
				if got["status"] != c.status || got["updated_at"] != p["updated_at"] {
					t.Errorf("retrieved %v, created %v", got, p)
				}
			})
		}
		// Debit and credit show in the logs' business fields.
		logs := h.logs.String()
		if !strings.Contains(logs, `"card_funding":"debit"`) || !strings.Contains(logs, `"card_funding":"credit"`) {
			t.Error("logs lack card_funding")
		}
	})
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func TestWallets(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := start(t, backend)
		for _, c := range []struct{ typ, token, status string }{
			{"apple_pay", "tok_apple_pay", "succeeded"},
			{"google_pay", "tok_google_pay", "succeeded"},
			{"apple_pay", "tok_wallet_declined", "failed"},
			{"google_pay", "tok_wallet_declined", "failed"},
			{"paypal", "", "requires_action"},
		} {
			p := h.obj("POST", "/v1/payments", h.keyA, newPayment(wallet(c.typ, c.token)), 201)
			if p["status"] != c.status {
				t.Errorf("%s %s: status %v, want %s", c.typ, c.token, p["status"], c.status)
			}
			w := p["payment_method"].(map[string]any)["wallet"].(map[string]any)
			if w["type"] != c.typ {
				t.Errorf("wallet %v", w)
			}
			if c.typ != "paypal" {
				wc, _ := w["card"].(map[string]any)
				if wc["brand"] != "visa" || wc["funding"] != "credit" {
					t.Errorf("%s: card behind the wallet %v", c.typ, w)
				}
			}
			if c.status == "failed" && (p["failure_code"] != "card_declined" || p["decline_code"] != "generic_decline") {
				t.Errorf("declined wallet: %v", p)
			}
			if c.status == "requires_action" && p["next_action"] == nil {
				t.Errorf("paypal: no next_action")
			}
		}
		if logs := h.logs.String(); strings.Contains(logs, "tok_apple_pay") || strings.Contains(logs, "tok_google_pay") {
			t.Error("a wallet token reached the logs")
		}
	})
}

func TestLifecycle(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := start(t, backend)
		// Create without a method, attach one by PATCH, then confirm.
		p := h.obj("POST", "/v1/payments", h.keyA, map[string]any{"amount": 1500, "currency": "EUR", "description": "order 1", "metadata": map[string]any{"order": "1"}}, 201)
		id := p["id"].(string)
		if p["status"] != "requires_payment_method" || p["currency"] != "EUR" || p["capture_method"] != "automatic" || p["amount_capturable"] != 0.0 {
			t.Fatalf("created %v", p)
		}
		p = h.obj("PATCH", "/v1/payments/"+id, h.keyA, map[string]any{"payment_method": card("5555555555554444"), "amount": 1700, "metadata": map[string]any{"order": "", "note": "x"}}, 200)
		if p["status"] != "requires_confirmation" || p["amount"] != 1700.0 {
			t.Fatalf("patched %v", p)
		}
		if md := p["metadata"].(map[string]any); md["note"] != "x" || md["order"] != nil {
			t.Errorf("metadata merge: %v", md)
		}
		p = h.obj("POST", "/v1/payments/"+id+"/confirm", h.keyA, nil, 200)
		if p["status"] != "succeeded" || p["amount_received"] != 1700.0 {
			t.Fatalf("confirmed %v", p)
		}
		// After confirmation only metadata and description change.
		p = h.obj("PATCH", "/v1/payments/"+id, h.keyA, map[string]any{"description": "order 1b", "metadata": map[string]any{"k": "v"}}, 200)
		if p["description"] != "order 1b" || p["metadata"].(map[string]any)["k"] != "v" {
			t.Errorf("patched after success: %v", p)
		}
		h.apiErr("PATCH", "/v1/payments/"+id, h.keyA, map[string]any{"amount": 100}, 409, "payment_unexpected_state", "")

		// Manual capture, partial.
		p = h.obj("POST", "/v1/payments", h.keyA, newPayment(card("4000056655665556"), "capture_method", "manual", "amount", 5000), 201)
		id = p["id"].(string)
		if p["status"] != "requires_capture" || p["amount_capturable"] != 5000.0 || p["amount_received"] != 0.0 {
			t.Fatalf("authorized %v", p)
		}
		h.apiErr("POST", "/v1/payments/"+id+"/capture", h.keyA, map[string]any{"amount": 5001}, 400, "amount_too_large", "amount")
		p = h.obj("POST", "/v1/payments/"+id+"/capture", h.keyA, map[string]any{"amount": 3000}, 200)
		if p["status"] != "succeeded" || p["amount_received"] != 3000.0 || p["amount_capturable"] != 0.0 {
			t.Fatalf("captured %v", p)
		}
		// Full capture by default.
		p = h.obj("POST", "/v1/payments", h.keyA, newPayment(card("4242424242424242"), "capture_method", "manual"), 201)
		p = h.obj("POST", "/v1/payments/"+p["id"].(string)+"/capture", h.keyA, nil, 200)
		if p["amount_received"] != 2000.0 {
			t.Errorf("full capture %v", p)
		}
		// Cancel an authorization: it is voided.
		p = h.obj("POST", "/v1/payments", h.keyA, newPayment(card("4242424242424242"), "capture_method", "manual"), 201)
		p = h.obj("POST", "/v1/payments/"+p["id"].(string)+"/cancel", h.keyA, map[string]any{"cancellation_reason": "requested_by_customer"}, 200)
		if p["status"] != "canceled" || p["amount_capturable"] != 0.0 || p["canceled_at"] == nil || p["cancellation_reason"] != "requested_by_customer" {
			t.Errorf("canceled %v", p)
		}
		// The amount limits are inclusive, in any currency's minor unit.
		for _, c := range []struct {
			amount   int
			currency string
		}{{1, "kwd"}, {99_999_999, "jpy"}} {
			p := h.obj("POST", "/v1/payments", h.keyA, map[string]any{"amount": c.amount, "currency": c.currency}, 201)
			if p["amount"] != float64(c.amount) || p["currency"] != strings.ToUpper(c.currency) {
				t.Errorf("amount limit: %v", p)
			}
		}
		// Confirm with the method given at confirmation, and a return_url.
		p = h.obj("POST", "/v1/payments", h.keyA, map[string]any{"amount": 100, "currency": "jpy"}, 201)
		p = h.obj("POST", "/v1/payments/"+p["id"].(string)+"/confirm", h.keyA, map[string]any{"payment_method": card("4000000000003220"), "return_url": "https://shop.example/back"}, 200)
		na := p["next_action"].(map[string]any)["redirect_to_url"].(map[string]any)
		if p["status"] != "requires_action" || na["return_url"] != "https://shop.example/back" {
			t.Errorf("3-D Secure: %v", p)
		}
		p = h.obj("POST", "/v1/payments/"+p["id"].(string)+"/cancel", h.keyA, nil, 200)
		if p["status"] != "canceled" || p["next_action"] != nil {
			t.Errorf("canceled requires_action: %v", p)
		}
	})
}

func TestPaymentMethods(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := start(t, backend)
		pm := h.obj("POST", "/v1/payment_methods", h.keyA, card("4000056655665556"), 201)
		id := pm["id"].(string)
		if c := pm["card"].(map[string]any); c["funding"] != "debit" || c["last4"] != "5556" || c["fingerprint"] == nil {
			t.Fatalf("payment method %v", pm)
		}
		got := h.obj("GET", "/v1/payment_methods/"+id, h.keyA, nil, 200)
		if got["id"] != id || got["card"].(map[string]any)["fingerprint"] != pm["card"].(map[string]any)["fingerprint"] {
			t.Errorf("retrieved %v", got)
		}
		// Pay with it twice, by id, without a CVC.
		for i := 0; i < 2; i++ {
			p := h.obj("POST", "/v1/payments", h.keyA, newPayment(id), 201)
			if p["status"] != "succeeded" || p["payment_method"].(map[string]any)["id"] != id {
				t.Fatalf("paid by id: %v", p)
			}
		}
		// The same card tokenized again has the same fingerprint.
		again := h.obj("POST", "/v1/payment_methods", h.keyA, card("4000 0566 5566 5556"), 201)
		if again["card"].(map[string]any)["fingerprint"] != pm["card"].(map[string]any)["fingerprint"] {
			t.Error("fingerprints differ for one card")
		}
		w := h.obj("POST", "/v1/payment_methods", h.keyA, wallet("google_pay", "tok_google_pay"), 201)
		p := h.obj("POST", "/v1/payments", h.keyA, newPayment(w["id"]), 201)
		if p["status"] != "succeeded" {
			t.Errorf("wallet by id: %v", p)
		}
		h.apiErr("POST", "/v1/payment_methods", h.keyA, map[string]any{}, 400, "parameter_missing", "type")
		h.apiErr("POST", "/v1/payment_methods", h.keyA, map[string]any{"type": "wallet"}, 400, "parameter_missing", "wallet")
		h.apiErr("POST", "/v1/payment_methods", h.keyA, map[string]any{"type": "card", "card": map[string]any{"number": "4242424242424241", "exp_month": 1, "exp_year": expYear}}, 400, "invalid_number", "card.number")
	})
}

func TestListPayments(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := start(t, backend)
		var created []string
		for i := 0; i < 23; i++ {
			body := map[string]any{"amount": 100 + i, "currency": "usd"}
			if i%3 == 0 {
				body = newPayment(card("4242424242424242"), "amount", 100+i)
			}
			created = append(created, h.obj("POST", "/v1/payments", h.keyA, body, 201)["id"].(string))
		}
		h.obj("POST", "/v1/payments", h.keyB, map[string]any{"amount": 1, "currency": "usd"}, 201)
		// Walk forward with starting_after.
		var seen []string
		cursor := ""
		for page := 0; ; page++ {
			path := "/v1/payments?limit=10"
			if cursor != "" {
				path += "&starting_after=" + cursor
			}
			l := h.obj("GET", path, h.keyA, nil, 200)
			data := l["data"].([]any)
			for _, d := range data {
				seen = append(seen, d.(map[string]any)["id"].(string))
			}
			if l["has_more"] != (page < 2) || l["object"] != "list" {
				t.Fatalf("page %d: has_more %v", page, l["has_more"])
			}
			if l["has_more"] == false {
				break
			}
			cursor = seen[len(seen)-1]
		}
		if len(seen) != len(created) {
			t.Fatalf("saw %d payments, created %d", len(seen), len(created))
		}
		for i := range seen {
			if seen[i] != created[len(created)-1-i] {
				t.Fatalf("order: position %d is %s, want %s", i, seen[i], created[len(created)-1-i])
			}
		}
		// Walk back with ending_before.
		l := h.obj("GET", "/v1/payments?limit=5&ending_before="+seen[10], h.keyA, nil, 200)
		data := l["data"].([]any)
		if len(data) != 5 || data[0].(map[string]any)["id"] != seen[5] || data[4].(map[string]any)["id"] != seen[9] || l["has_more"] != true {
			t.Errorf("ending_before page wrong: %v", l["has_more"])
		}
		// Filters.
		l = h.obj("GET", "/v1/payments?status=succeeded&limit=100", h.keyA, nil, 200)
		if n := len(l["data"].([]any)); n != 8 {
			t.Errorf("succeeded: %d, want 8", n)
		}
		l = h.obj("GET", "/v1/payments?status=requires_payment_method&limit=100", h.keyA, nil, 200)
		if n := len(l["data"].([]any)); n != 15 {
			t.Errorf("requires_payment_method: %d, want 15", n)
		}
		// Paged, through the partial index of waiting statuses.
		pageIDs := map[string]bool{}
		for after := ""; ; {
			url := "/v1/payments?status=requires_payment_method&limit=4"
			if after != "" {
				url += "&starting_after=" + after
			}
			l = h.obj("GET", url, h.keyA, nil, 200)
			for _, d := range l["data"].([]any) {
				p := d.(map[string]any)
				if p["status"] != "requires_payment_method" || pageIDs[p["id"].(string)] {
					t.Fatalf("paged status filter: %v (seen before: %v)", p["status"], pageIDs[p["id"].(string)])
				}
				pageIDs[p["id"].(string)] = true
				after = p["id"].(string)
			}
			if l["has_more"] != true {
				break
			}
		}
		if len(pageIDs) != 15 {
			t.Errorf("paged requires_payment_method: %d, want 15", len(pageIDs))
		}
		first := h.obj("GET", "/v1/payments/"+created[0], h.keyA, nil, 200)["created_at"].(string)
		last := h.obj("GET", "/v1/payments/"+created[22], h.keyA, nil, 200)["created_at"].(string)
		l = h.obj("GET", "/v1/payments?limit=100&created_gte="+first+"&created_lte="+last, h.keyA, nil, 200)
		if n := len(l["data"].([]any)); n != 23 {
			t.Errorf("created range: %d, want 23", n)
		}
		l = h.obj("GET", "/v1/payments?limit=100&created_gte="+last, h.keyA, nil, 200)
		if n := len(l["data"].([]any)); n < 1 || n > 23 || l["data"].([]any)[0].(map[string]any)["id"] != created[22] {
			t.Errorf("created_gte last: %d", n)
		}
		future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		if n := len(h.obj("GET", "/v1/payments?created_gte="+future, h.keyA, nil, 200)["data"].([]any)); n != 0 {
			t.Errorf("future: %d", n)
		}
		if n := len(h.obj("GET", fmt.Sprintf("/v1/payments?created_lte=%d", time.Now().Add(-time.Hour).Unix()), h.keyA, nil, 200)["data"].([]any)); n != 0 {
			t.Errorf("past: %d", n)
		}
	})
}
