package httpapi_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/connectors"
	"github.com/paygate/paygate/internal/connectors/stripe/stripetest"
	"github.com/paygate/paygate/internal/store/storetest"
)

// TestStripeEndToEnd: a merchant pays through a Stripe account (the fake
// Stripe); Stripe's events (a 3-D Secure payment decided on Stripe's side, a
// refund settling later) go through the same transitions as a synchronous
// answer; the customer's return from Stripe's page is read back from
// Stripe; a forged, unsigned, stale or foreign event changes nothing; a
// card is verified with a SetupIntent before it is saved.
func TestStripeEndToEnd(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := start(t, backend)
		fake := stripetest.NewServer(t)
		ca := h.obj("POST", "/v1/connector_accounts", h.keyA, map[string]any{"connector": "stripe", "base_url": fake.URL(),
			"credentials": fake.Credentials()}, 201)["id"].(string)
		h.route(h.keyA, map[string]any{"fallback": []any{ca}})

		// A sale, a decline mapped, a manual capture: Stripe answers at once.
		h.saleAndDecline("stripe", ca)
		p := h.obj("POST", "/v1/payments", h.keyA, newPayment(card("4242424242424242"), "capture_method", "manual"), 201)
		id := p["id"].(string)
		if p = h.obj("POST", "/v1/payments/"+id+"/capture", h.keyA, map[string]any{"amount": 1200}, 200); p["status"] != "succeeded" || p["amount_received"] != 1200.0 {
			t.Fatalf("capture: %v %v", p["status"], p["amount_received"])
		}

		// A refund Stripe leaves pending, settled by its refund.updated event.
		fake.SetRefundsPending(true)
		re := h.obj("POST", "/v1/refunds", h.keyA, map[string]any{"payment_id": id, "amount": 200}, 201)
		rid := re["id"].(string)
		if re["status"] != "pending" {
			t.Fatalf("refund: %v, want pending", re["status"])
		}
		header, body := fake.Notify(t, connectors.Notification{Reference: rid, Result: connectors.Result{Outcome: connectors.Succeeded}})

		// Forged events: the body changed, no signature, signed an hour ago,
		// signed with another secret, or sent to another merchant's account.
		other := h.obj("POST", "/v1/connector_accounts", h.keyB, map[string]any{"connector": "stripe", "base_url": fake.URL(),
			"credentials": map[string]any{"secret_key": stripetest.SecretKey, "webhook_secret": "whsec_anotherMerchantsSecret"}}, 201)["id"].(string)
		before := storetest.Dump(t, h.db)
		tampered := strings.Replace(string(body), `"status":"succeeded"`, `"status":"failed"`, 1)
		if tampered == string(body) {
			t.Fatal("the event has no status to tamper with")
		}
		uh, ub := stripetest.Unsigned(t, header, body)
		obj := stripetest.Refund("re_forged", "succeeded", 200, rid)
		staleH, staleB := stripetest.SignedEvent(t, "refund.updated", obj, stripetest.WebhookSecret, time.Now().Add(-time.Hour))
		wrongH, wrongB := stripetest.SignedEvent(t, "refund.updated", obj, "whsec_notTheAccountsSecret", time.Now())
		for i, f := range []struct {
			ca     string
			header http.Header
			body   []byte
		}{{ca, header, []byte(tampered)}, {ca, uh, ub}, {ca, staleH, staleB}, {ca, wrongH, wrongB}, {other, header, body}} {
			if code, _ := h.notify(f.ca, f.header, f.body); code != 400 {
				t.Errorf("forged event %d: %d, want 400", i, code)
			}
		}
		if after := storetest.Dump(t, h.db); after != before {
			t.Error("a forged event changed the database")
		}
		for range 2 { // the second is a duplicate: nothing more
			if code, ans := h.notify(ca, header, body); code != 200 {
				t.Fatalf("refund.updated: %d %s", code, ans)
			}
		}
		if re = h.obj("GET", "/v1/refunds/"+rid, h.keyA, nil, 200); re["status"] != "succeeded" {
			t.Errorf("after refund.updated: %v", re["status"])
		}
		if n := h.countEvents(rid, "refund.succeeded"); n != 1 {
			t.Errorf("%d refund.succeeded events, want 1", n)
		}
		fake.SetRefundsPending(false)

		// 3-D Secure: Stripe's page, then back to paygate, which reads the
		// PaymentIntent Stripe names, then on to the shop.
		p = h.obj("POST", "/v1/payments", h.keyA, newPayment(card("4000000000003220"), "return_url", "https://shop.example/done"), 201)
		id3 := p["id"].(string)
		next, _ := p["next_action"].(map[string]any)
		redirect, _ := next["redirect_to_url"].(map[string]any)
		if p["status"] != "requires_action" || redirect == nil {
			t.Fatalf("3-D Secure: %v %v", p["status"], p["next_action"])
		}
		q := url.Values{}
		for k, v := range fake.Authenticate(t, redirect["url"].(string), true) {
			q.Set(k, v)
		}
		h.wantReturnedTo(id3, "?"+q.Encode(), "https://shop.example/done", "succeeded")

		// 3-D Secure passed, but the customer never came back: Stripe's
		// payment_intent.succeeded settles it.
		p = h.obj("POST", "/v1/payments", h.keyA, newPayment(card("4000000000003220")), 201)
		id4 := p["id"].(string)
		redirect = p["next_action"].(map[string]any)["redirect_to_url"].(map[string]any)
		fake.Authenticate(t, redirect["url"].(string), true)
		header, body = fake.Notify(t, connectors.Notification{Reference: id4 + ":authorize", Result: connectors.Result{Outcome: connectors.Succeeded}})
		if code, _ := h.notify(ca, header, body); code != 200 {
			t.Fatalf("payment_intent.succeeded: %d", code)
		}
		if p = h.obj("GET", "/v1/payments/"+id4, h.keyA, nil, 200); p["status"] != "succeeded" || p["amount_received"] != 2000.0 {
			t.Errorf("after payment_intent.succeeded: %v %v", p["status"], p["amount_received"])
		}
		if n := h.countEvents(id4, "payment.succeeded"); n != 1 {
			t.Errorf("%d payment.succeeded events", n)
		}
		// A payment waiting at Stripe's page is canceled at Stripe too,
		// whether the merchant cancels it or its link expires: the customer
		// can no longer be charged for it there.
		voids := fake.Performed("void")
		p = h.obj("POST", "/v1/payments", h.keyA, newPayment(card("4000000000003220")), 201)
		if p = h.obj("POST", "/v1/payments/"+p["id"].(string)+"/cancel", h.keyA, map[string]any{}, 200); p["status"] != "canceled" || p["next_action"] != nil {
			t.Errorf("cancel at Stripe's page: %v %v", p["status"], p["next_action"])
		}
		p = h.obj("POST", "/v1/payments", h.keyA, newPayment(card("4000000000003220")), 201)
		if n, err := h.pay.ExpireActions(context.Background(), time.Now().Add(48*time.Hour)); err != nil || n != 1 {
			t.Fatalf("expired %d: %v", n, err)
		}
		if p = h.obj("GET", "/v1/payments/"+p["id"].(string), h.keyA, nil, 200); p["status"] != "canceled" || p["cancellation_reason"] != "abandoned" {
			t.Errorf("expired at Stripe's page: %v %v", p["status"], p["cancellation_reason"])
		}
		if n := fake.Performed("void") - voids; n != 2 {
			t.Errorf("Stripe canceled %d PaymentIntents, want 2", n)
		}
		// The customer paid on Stripe's page and never came back, and no
		// event came: at the link's expiry Stripe refuses to cancel, and
		// paygate takes Stripe's record of the payment instead.
		p = h.obj("POST", "/v1/payments", h.keyA, newPayment(card("4000000000003220")), 201)
		fake.Authenticate(t, p["next_action"].(map[string]any)["redirect_to_url"].(map[string]any)["url"].(string), true)
		if n, err := h.pay.ExpireActions(context.Background(), time.Now().Add(48*time.Hour)); err != nil || n != 0 {
			t.Fatalf("expired %d: %v", n, err)
		}
		if p = h.obj("GET", "/v1/payments/"+p["id"].(string), h.keyA, nil, 200); p["status"] != "succeeded" || p["amount_received"] != 2000.0 {
			t.Errorf("paid at Stripe's page, then expired: %v %v", p["status"], p["amount_received"])
		}

		// A card verified by a SetupIntent, saved, then charged off
		// session; a declined or 3-D Secure card is not saved.
		cus := h.customer(h.keyA, "jane@example.com")
		verifs, auths := fake.Performed("verify"), fake.Performed("authorize")
		saved := h.obj("POST", "/v1/payment_methods", h.keyA, map[string]any{"type": "card", "card": card("4242424242424242")["card"], "customer": cus, "verify": true}, 201)
		if saved["customer"] != cus || fake.Performed("verify") != verifs+1 || fake.Performed("authorize") != auths {
			t.Fatalf("verified card %v: %d SetupIntents, %d PaymentIntents", saved, fake.Performed("verify")-verifs, fake.Performed("authorize")-auths)
		}
		if ids := fake.SetupIntents()[saved["id"].(string)+":verify"]; len(ids) != 1 {
			t.Errorf("SetupIntents of the verification: %v", ids)
		}
		e := h.apiErr("POST", "/v1/payment_methods", h.keyA, map[string]any{"type": "card", "card": card("4000000000000002")["card"], "customer": cus, "verify": true}, 402, "card_declined", "verify")
		if e["type"] != "card_error" || e["decline_code"] != "generic_decline" {
			t.Errorf("declined verification: %v", e)
		}
		h.apiErr("POST", "/v1/payment_methods", h.keyA, map[string]any{"type": "card", "card": card("4000000000003220")["card"], "customer": cus, "verify": true}, 402, "authentication_required", "verify")
		if got := h.savedMethods(h.keyA, cus); len(got) != 1 || got[0] != saved["id"] {
			t.Errorf("saved methods %v, want only %v", got, saved["id"])
		}
		mit := h.obj("POST", "/v1/payments", h.keyA, map[string]any{"amount": 700, "currency": "usd", "confirm": true,
			"customer": cus, "payment_method": saved["id"], "off_session": true}, 201)
		if mit["status"] != "succeeded" {
			t.Errorf("off session after a verification: %v %v", mit["status"], mit["failure_code"])
		}
		h.verifyLedger()
	})
}
