package httpapi_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/connectors"
	"github.com/paygate/paygate/internal/connectors/adyen/adyentest"
	"github.com/paygate/paygate/internal/routing"
	"github.com/paygate/paygate/internal/store/storetest"
)

// adyenAccount registers an Adyen account of key's merchant at the fake
// and routes every payment of the mode to it.
func (h *harness) adyenAccount(key string, fake *adyentest.Server) string {
	h.t.Helper()
	a := h.obj("POST", "/v1/connector_accounts", key, map[string]any{"connector": "adyen", "base_url": fake.URL(),
		"credentials": fake.Credentials()}, 201)
	id := a["id"].(string)
	h.route(key, map[string]any{"fallback": []any{id}})
	return id
}

// sentReference is the merchant reference of the last request the fake
// received at a path ending in suffix.
func sentReference(t *testing.T, fake *adyentest.Server, suffix string) string {
	t.Helper()
	reqs := fake.Requests()
	for i := len(reqs) - 1; i >= 0; i-- {
		if strings.HasSuffix(reqs[i].Path, suffix) {
			ref, _ := reqs[i].Body["reference"].(string)
			return ref
		}
	}
	t.Fatalf("no request to …%s", suffix)
	return ""
}

// notify posts a processor notification to the account's webhook URL.
func (h *harness) notify(ca string, header http.Header, body []byte) (int, string) {
	h.t.Helper()
	var hdr []string
	for k, vs := range header {
		for _, v := range vs {
			hdr = append(hdr, k, v)
		}
	}
	r, b := h.request("POST", "/v1/connector_webhooks/"+ca, "", body, hdr...)
	return r.StatusCode, string(b)
}

// processorReturn is the customer sent back to paygate's return address
// with the query a processor added: the status and Location of the answer,
// whose redirect is not followed.
func (h *harness) processorReturn(paymentID, query string) (int, string) {
	h.t.Helper()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(h.url + "/return/" + paymentID + query)
	if err != nil {
		h.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location")
}

// wantReturnedTo checks that the customer went on to the shop, and the
// payment is status.
func (h *harness) wantReturnedTo(paymentID, query, shop, status string) {
	h.t.Helper()
	if code, loc := h.processorReturn(paymentID, query); code != 303 || !strings.HasPrefix(loc, shop) {
		h.t.Errorf("return: %d to %q, want 303 to %s", code, loc, shop)
	}
	if p := h.obj("GET", "/v1/payments/"+paymentID, h.keyA, nil, 200); p["status"] != status {
		h.t.Errorf("after the return: %v, want %s", p["status"], status)
	}
}

// saleAndDecline pays through the account ca of connector: a sale
// succeeds, and the issuer's decline comes back mapped.
func (h *harness) saleAndDecline(connector, ca string) {
	h.t.Helper()
	p := h.obj("POST", "/v1/payments", h.keyA, newPayment(card("4242424242424242")), 201)
	if p["status"] != "succeeded" || p["connector"] != connector || p["connector_account"] != ca {
		h.t.Fatalf("sale: %v via %v %v", p["status"], p["connector"], p["connector_account"])
	}
	p = h.obj("POST", "/v1/payments", h.keyA, newPayment(card("4000000000009995")), 201)
	if p["status"] != "failed" || p["failure_code"] != "card_declined" || p["decline_code"] != "insufficient_funds" {
		h.t.Errorf("decline: %v %v %v", p["status"], p["failure_code"], p["decline_code"])
	}
}

// TestAdyenEndToEnd: a merchant pays through an Adyen account; Adyen's
// asynchronous answers (captures, refunds, a 3-D Secure authorization) come
// in signed notifications and go through the same transitions as a
// synchronous answer; a forged or unsigned notification changes nothing,
// and a repeated one nothing more.
func TestAdyenEndToEnd(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := start(t, backend)
		fake := adyentest.NewServer(t)
		ca := h.adyenAccount(h.keyA, fake)

		h.saleAndDecline("adyen", ca)

		// A manual capture: Adyen acknowledges; the payment waits.
		p := h.obj("POST", "/v1/payments", h.keyA, newPayment(card("4242424242424242"), "capture_method", "manual"), 201)
		id := p["id"].(string)
		if p["status"] != "requires_capture" {
			t.Fatalf("authorization: %v", p["status"])
		}
		p = h.obj("POST", "/v1/payments/"+id+"/capture", h.keyA, map[string]any{"amount": 1500}, 200)
		if p["status"] != "processing" {
			t.Fatalf("a capture Adyen only acknowledged: %v, want processing", p["status"])
		}
		captureRef := sentReference(t, fake, "/captures")
		header, body := fake.Notify(t, connectors.Notification{Reference: captureRef,
			Result: connectors.Result{Outcome: connectors.Succeeded, ProcessorID: "CAPTUREPSP0000001", Amount: 1500}})

		// Forged: the body changed after signing, the signature taken out,
		// or another account's URL. Each is 400 and changes nothing.
		other := h.obj("POST", "/v1/connector_accounts", h.keyB, map[string]any{"connector": "adyen", "base_url": fake.URL(),
			"credentials": map[string]any{"api_key": "k", "merchant_account": adyentest.MerchantAccount, "hmac_key": strings.Repeat("AB", 32)}}, 201)["id"].(string)
		before := storetest.Dump(t, h.db)
		tampered := strings.Replace(string(body), `"value":1500`, `"value":15000`, 1)
		if tampered == string(body) {
			t.Fatal("the notification has no amount to tamper with")
		}
		uh, ub := adyentest.Unsigned(t, header, body)
		for _, forged := range []struct {
			ca     string
			header http.Header
			body   []byte
		}{{ca, header, []byte(tampered)}, {ca, uh, ub}, {other, header, body}, {"ca_unknown", header, body}} {
			if code, _ := h.notify(forged.ca, forged.header, forged.body); code != 400 {
				t.Errorf("a forged notification at %s: %d, want 400", forged.ca, code)
			}
		}
		if after := storetest.Dump(t, h.db); after != before {
			t.Error("a forged notification changed the database")
		}

		// Signed: the capture succeeds, with its event and ledger entries,
		// in one transaction.
		for range 2 { // the second is a duplicate: nothing more
			if code, ans := h.notify(ca, header, body); code != 200 || ans != "[accepted]" {
				t.Fatalf("notification: %d %q", code, ans)
			}
		}
		p = h.obj("GET", "/v1/payments/"+id, h.keyA, nil, 200)
		if p["status"] != "succeeded" || p["amount_received"] != 1500.0 {
			t.Errorf("after the CAPTURE notification: %v received %v", p["status"], p["amount_received"])
		}
		if n := h.countEvents(id, "payment.succeeded"); n != 1 {
			t.Errorf("%d payment.succeeded events, want 1", n)
		}
		h.verifyLedger()

		// A refund: pending until Adyen's REFUND notification.
		re := h.obj("POST", "/v1/refunds", h.keyA, map[string]any{"payment_id": id, "amount": 500}, 201)
		if re["status"] != "pending" {
			t.Fatalf("refund: %v, want pending", re["status"])
		}
		rid := re["id"].(string)
		header, body = fake.Notify(t, connectors.Notification{Reference: sentReference(t, fake, "/refunds"),
			Result: connectors.Result{Outcome: connectors.Succeeded, ProcessorID: "REFUNDPSP00000001", Amount: 500}})
		if code, _ := h.notify(ca, header, body); code != 200 {
			t.Fatalf("refund notification: %d", code)
		}
		if re = h.obj("GET", "/v1/refunds/"+rid, h.keyA, nil, 200); re["status"] != "succeeded" {
			t.Errorf("after the REFUND notification: %v", re["status"])
		}
		if p = h.obj("GET", "/v1/payments/"+id, h.keyA, nil, 200); p["amount_refunded"] != 500.0 {
			t.Errorf("amount_refunded %v", p["amount_refunded"])
		}
		if n := h.countEvents(rid, "refund.succeeded"); n != 1 {
			t.Errorf("%d refund.succeeded events", n)
		}

		// A capture Adyen refuses later: the payment is back to
		// requires_capture, and the merchant hears of it in an event.
		p = h.obj("POST", "/v1/payments", h.keyA, newPayment(card("4242424242424242"), "capture_method", "manual"), 201)
		id2 := p["id"].(string)
		h.obj("POST", "/v1/payments/"+id2+"/capture", h.keyA, map[string]any{}, 200)
		header, body = fake.Notify(t, connectors.Notification{Reference: sentReference(t, fake, "/captures"),
			Result: connectors.Result{Outcome: connectors.Failed, ProcessorID: "CAPTUREPSP0000002", Message: "Insufficient balance on payment"}})
		if code, _ := h.notify(ca, header, body); code != 200 {
			t.Fatalf("failed capture notification: %d", code)
		}
		if p = h.obj("GET", "/v1/payments/"+id2, h.keyA, nil, 200); p["status"] != "requires_capture" || p["amount_received"] != 0.0 {
			t.Errorf("after CAPTURE_FAILED: %v received %v", p["status"], p["amount_received"])
		}
		if n := h.countEvents(id2, "payment.requires_capture"); n != 2 {
			t.Errorf("%d payment.requires_capture events, want 2 (authorized, capture refused)", n)
		}

		// 3-D Secure: Adyen's page, then back to paygate with Adyen's
		// redirectResult, which paygate submits; then on to the merchant.
		p = h.obj("POST", "/v1/payments", h.keyA, newPayment(card("4000000000003220"), "return_url", "https://shop.example/done"), 201)
		id3 := p["id"].(string)
		next, _ := p["next_action"].(map[string]any)
		redirect, _ := next["redirect_to_url"].(map[string]any)
		if p["status"] != "requires_action" || redirect == nil {
			t.Fatalf("3-D Secure: %v %v", p["status"], p["next_action"])
		}
		rr := fake.Authenticate(t, redirect["url"].(string), true)
		// Anyone may call the return address with the payment's id: with
		// nothing, or with a redirectResult Adyen refuses, the payment
		// waits for its customer still.
		for _, q := range []string{"", "?redirectResult=forged"} {
			h.processorReturn(id3, q)
			if p = h.obj("GET", "/v1/payments/"+id3, h.keyA, nil, 200); p["status"] != "requires_action" {
				t.Fatalf("after a return with %q: %v, want requires_action", q, p["status"])
			}
		}
		h.wantReturnedTo(id3, "?redirectResult="+url.QueryEscape(rr), "https://shop.example/done", "succeeded")

		// 3-D Secure decided on Adyen's side before the customer came back:
		// the AUTHORISATION notification settles it.
		p = h.obj("POST", "/v1/payments", h.keyA, newPayment(card("4000000000003220")), 201)
		id4 := p["id"].(string)
		header, body = fake.Notify(t, connectors.Notification{Reference: sentReference(t, fake, "/payments"),
			Result: connectors.Result{Outcome: connectors.Succeeded, ProcessorID: "AUTHPSP0000000004", Amount: 2000}})
		if code, _ := h.notify(ca, header, body); code != 200 {
			t.Fatalf("authorisation notification: %d", code)
		}
		if p = h.obj("GET", "/v1/payments/"+id4, h.keyA, nil, 200); p["status"] != "succeeded" {
			t.Errorf("after AUTHORISATION: %v", p["status"])
		}
		h.verifyLedger()
	})
}

// TestAdyenRecovery: Adyen cannot look a payment up, so recovery sends the
// operation again under its idempotency key; Adyen answers the first
// operation's outcome (one authorization, never two). A capture Adyen
// provably did not take (refused with 401) fails at once instead of
// waiting for a recovery that could only send it again.
func TestAdyenRecovery(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := startWith(t, backend, options{builders: func(r *routing.Router) {
			r.HTTP = func() *http.Client { return &http.Client{Timeout: 300 * time.Millisecond} }
		}})
		fake := adyentest.NewServer(t)
		ca := h.adyenAccount(h.keyA, fake)

		// The answer never reaches paygate: the payment is processing.
		release := fake.HoldNext()
		p := h.obj("POST", "/v1/payments", h.keyA, newPayment(card("4242424242424242")), 201)
		id := p["id"].(string)
		if p["status"] != "processing" {
			t.Fatalf("a timed-out authorization: %v, want processing", p["status"])
		}
		release()
		deadline := time.Now().Add(10 * time.Second)
		for fake.InFlight() > 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if _, err := h.pay.RecoverStale(context.Background(), time.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if p = h.obj("GET", "/v1/payments/"+id, h.keyA, nil, 200); p["status"] != "succeeded" {
			t.Errorf("after recovery: %v", p["status"])
		}
		if n := fake.Performed("authorize"); n != 1 {
			t.Errorf("Adyen authorized %d times", n)
		}

		// A capture with a revoked API key: Adyen refuses before
		// processing (401); the capture fails now.
		sold := h.obj("POST", "/v1/payments", h.keyA, newPayment(card("4242424242424242")), 201)["id"].(string)
		p = h.obj("POST", "/v1/payments", h.keyA, newPayment(card("4242424242424242"), "capture_method", "manual"), 201)
		id = p["id"].(string)
		creds := fake.Credentials()
		creds["api_key"] = "revoked"
		h.obj("PATCH", "/v1/connector_accounts/"+ca, h.keyA, map[string]any{"credentials": creds}, 200)
		h.apiErr("POST", "/v1/payments/"+id+"/capture", h.keyA, map[string]any{}, 409, "capture_failed", "")
		if p = h.obj("GET", "/v1/payments/"+id, h.keyA, nil, 200); p["status"] != "requires_capture" {
			t.Errorf("after a capture Adyen did not take: %v", p["status"])
		}
		// So does a refund, and a new payment (the only account): nothing
		// was charged.
		re := h.obj("POST", "/v1/refunds", h.keyA, map[string]any{"payment_id": sold}, 201)
		if re["status"] != "failed" {
			t.Errorf("a refund Adyen did not take: %v", re["status"])
		}
		p = h.obj("POST", "/v1/payments", h.keyA, newPayment(card("4242424242424242")), 201)
		if p["status"] != "failed" || p["failure_code"] != "processing_error" {
			t.Errorf("a payment no account took: %v %v", p["status"], p["failure_code"])
		}
		h.verifyLedger()
	})
}
