package stripe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/connectors"
	"github.com/paygate/paygate/internal/connectors/stripe/stripetest"
)

func TestWebhookSignature(t *testing.T) {
	c := newTestConnector(t, "", nil)
	now := time.Now()
	obj := stripetest.PaymentIntent("pi_sig", "succeeded", 1099, map[string]string{metaReference: "pay_sig:authorize"})
	header, body := stripetest.SignedEvent(t, "payment_intent.succeeded", obj, stripetest.WebhookSecret, now)

	ns, err := c.ParseWebhook(header, body, now)
	if err != nil || len(ns) != 1 || ns[0].Reference != "pay_sig:authorize" {
		t.Fatalf("valid signature: %+v, %v", ns, err)
	}

	bad := func(name string, h http.Header, b []byte, at time.Time) {
		t.Helper()
		if ns, err := c.ParseWebhook(h, b, at); !errors.Is(err, connectors.ErrBadSignature) || ns != nil {
			t.Errorf("%s: %+v, %v; want ErrBadSignature", name, ns, err)
		}
	}
	tampered := []byte(strings.Replace(string(body), `"amount":1099`, `"amount":9999`, 1))
	if string(tampered) == string(body) {
		t.Fatal("the tampering changed nothing")
	}
	bad("tampered body", header, tampered, now)
	bad("missing header", http.Header{}, body, now)
	bad("expired timestamp", header, body, now.Add(webhookTolerance+time.Second))
	bad("timestamp from the future", header, body, now.Add(-webhookTolerance-time.Second))
	h, b := stripetest.SignedEvent(t, "payment_intent.succeeded", obj, "whsec_someoneElsesSecret", now)
	bad("wrong secret", h, b, now)
	bad("no v1 signature", http.Header{"Stripe-Signature": {fmt.Sprintf("t=%d,v0=%s", now.Unix(), "00")}}, body, now)
	bad("no timestamp", http.Header{"Stripe-Signature": {strings.Split(header.Get("Stripe-Signature"), ",")[1]}}, body, now)
	bad("garbage", http.Header{"Stripe-Signature": {"nonsense"}}, body, now)

	// Within the tolerance, either side.
	for _, d := range []time.Duration{webhookTolerance - time.Second, -webhookTolerance + time.Second} {
		if _, err := c.ParseWebhook(header, body, now.Add(d)); err != nil {
			t.Errorf("%v from the signature's time: %v", d, err)
		}
	}
	// Several v1 signatures while Stripe rolls the secret: any may match.
	sig := header.Get("Stripe-Signature")
	rolled := http.Header{"Stripe-Signature": {sig[:strings.Index(sig, ",")] + ",v1=" + strings.Repeat("ab", 32) + sig[strings.Index(sig, ","):]}}
	if _, err := c.ParseWebhook(rolled, body, now); err != nil {
		t.Errorf("two v1 signatures, the second valid: %v", err)
	}

	// Without a webhook secret the account cannot verify anything.
	noSecret, err := New(connectors.Config{Credentials: map[string]string{"secret_key": stripetest.SecretKey}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := noSecret.ParseWebhook(header, body, now); !errors.Is(err, connectors.ErrBadSignature) {
		t.Errorf("no webhook secret: %v, want ErrBadSignature", err)
	}
}

// TestWebhookSignatureVector checks the verification against a header
// computed by hand from the documented scheme, with a fixed time.
func TestWebhookSignatureVector(t *testing.T) {
	c := newTestConnector(t, "", nil)
	body := []byte(`{"id":"evt_1","type":"customer.created","data":{"object":{}}}`)
	at := time.Unix(1700000000, 0)
	// HMAC-SHA256("whsec_paygateFakeStripeSigningSecret", "1700000000."+body).
	h := http.Header{"Stripe-Signature": {stripetest.Signature(stripetest.WebhookSecret, at, body)}}
	if _, err := c.ParseWebhook(h, body, at.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ParseWebhook(h, body, at.Add(10*time.Minute)); !errors.Is(err, connectors.ErrBadSignature) {
		t.Errorf("ten minutes later: %v, want ErrBadSignature", err)
	}
}

func TestWebhookEvents(t *testing.T) {
	c := newTestConnector(t, "", nil)
	now := time.Now()
	parse := func(typ string, obj map[string]any) []connectors.Notification {
		t.Helper()
		h, b := stripetest.SignedEvent(t, typ, obj, stripetest.WebhookSecret, now)
		ns, err := c.ParseWebhook(h, b, now)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		return ns
	}
	one := func(name string, ns []connectors.Notification, ref string, outcome connectors.Outcome, id string) connectors.Result {
		t.Helper()
		if len(ns) != 1 || ns[0].Reference != ref || ns[0].Result.Outcome != outcome || ns[0].Result.ProcessorID != id {
			t.Errorf("%s: %+v, want one %s notification for %s (%s)", name, ns, outcome, ref, id)
			return connectors.Result{}
		}
		return ns[0].Result
	}

	res := one("sale", parse("payment_intent.succeeded", stripetest.PaymentIntent("pi_1", "succeeded", 1099, map[string]string{metaReference: "pay_1:authorize"})),
		"pay_1:authorize", connectors.Succeeded, "pi_1")
	if res.Amount != 1099 {
		t.Errorf("sale amount %d, want 1099", res.Amount)
	}
	one("capture", parse("payment_intent.succeeded", stripetest.PaymentIntent("pi_2", "succeeded", 500, map[string]string{metaReference: "pay_2:authorize", metaCapture: "pay_2:capture"})),
		"pay_2:capture", connectors.Succeeded, "pi_2")

	auth := stripetest.PaymentIntent("pi_3", "requires_capture", 0, map[string]string{metaReference: "pay_3:authorize"})
	auth["amount_capturable"], auth["amount_received"] = 1099, 0
	res = one("authorized", parse("payment_intent.amount_capturable_updated", auth), "pay_3:authorize", connectors.Succeeded, "pi_3")
	if res.Amount != 1099 {
		t.Errorf("authorized amount %d, want 1099", res.Amount)
	}

	failed := stripetest.PaymentIntent("pi_4", "requires_payment_method", 0, map[string]string{metaReference: "pay_4:authorize"})
	failed["last_payment_error"] = lastPaymentError(t, "insufficient_funds")
	res = one("payment failed", parse("payment_intent.payment_failed", failed), "pay_4:authorize", connectors.Declined, "pi_4")
	if res.FailureCode != "card_declined" || res.DeclineCode != "insufficient_funds" {
		t.Errorf("payment failed: %+v, want card_declined/insufficient_funds", res)
	}
	threeDS := stripetest.PaymentIntent("pi_5", "requires_payment_method", 0, map[string]string{metaReference: "pay_5:authorize"})
	threeDS["last_payment_error"] = lastPaymentError(t, "authentication_failure")
	res = one("3-D Secure failed", parse("payment_intent.payment_failed", threeDS), "pay_5:authorize", connectors.Declined, "pi_5")
	if res.FailureCode != "authentication_failed" {
		t.Errorf("3-D Secure failed: %+v, want authentication_failed", res)
	}

	one("void", parse("payment_intent.canceled", stripetest.PaymentIntent("pi_6", "canceled", 0, map[string]string{metaReference: "pay_6:authorize", metaVoid: "pay_6:void"})),
		"pay_6:void", connectors.Succeeded, "pi_6")
	if ns := parse("payment_intent.canceled", stripetest.PaymentIntent("pi_7", "canceled", 0, map[string]string{metaReference: "pay_7:authorize"})); len(ns) != 0 {
		t.Errorf("a cancellation paygate did not ask for: %+v, want none", ns)
	}

	one("refund settled", parse("refund.updated", stripetest.Refund("re_s1", "succeeded", 300, "re_pay1")), "re_pay1", connectors.Succeeded, "re_s1")
	res = one("refund failed", parse("charge.refund.updated", stripetest.Refund("re_s2", "failed", 300, "re_pay2")), "re_pay2", connectors.Failed, "re_s2")
	if res.FailureCode != "refund_failed" {
		t.Errorf("refund failed: %+v, want refund_failed", res)
	}
	one("refund.failed", parse("refund.failed", stripetest.Refund("re_s3", "failed", 300, "re_pay3")), "re_pay3", connectors.Failed, "re_s3")
	if ns := parse("refund.updated", stripetest.Refund("re_s4", "pending", 300, "re_pay4")); len(ns) != 0 {
		t.Errorf("a refund still pending: %+v, want none", ns)
	}

	// Not paygate's, or not a kind paygate uses: nothing, and no error.
	if ns := parse("payment_intent.succeeded", stripetest.PaymentIntent("pi_8", "succeeded", 100, nil)); len(ns) != 0 {
		t.Errorf("a PaymentIntent without paygate's reference: %+v", ns)
	}
	if ns := parse("customer.created", map[string]any{"id": "cus_1", "object": "customer"}); len(ns) != 0 {
		t.Errorf("customer.created: %+v", ns)
	}
	// The documented example as it is (payment_intent.created, no metadata).
	b := stripetest.Fixture(t, "event.json")
	h := http.Header{"Stripe-Signature": {stripetest.Signature(stripetest.WebhookSecret, now, b)}}
	if ns, err := c.ParseWebhook(h, b, now); err != nil || len(ns) != 0 {
		t.Errorf("the documented payment_intent.created event: %+v, %v; want nothing", ns, err)
	}
}

// lastPaymentError is the error object of errors.json's name, as a
// PaymentIntent's last_payment_error.
func lastPaymentError(t *testing.T, name string) any {
	t.Helper()
	_, body := stripetest.ErrorAnswer(t, name)
	return body["error"]
}

// TestNotify: the events the fake Stripe sends for the operations it
// performed, for each kind and outcome, are the ones the connector reads
// back as that operation's.
func TestNotify(t *testing.T) {
	fake, c := newFake(t)
	ctx := context.Background()
	notify := func(n connectors.Notification, wantType string) []connectors.Notification {
		t.Helper()
		h, b := fake.Notify(t, n)
		var ev struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(b, &ev); err != nil || ev.Type != wantType {
			t.Errorf("the event of %s is %q (%v), want %s", n.Reference, ev.Type, err, wantType)
		}
		ns, err := c.ParseWebhook(h, b, time.Now())
		if err != nil {
			t.Fatalf("%s: %v", n.Reference, err)
		}
		return ns
	}
	ok := func(ns []connectors.Notification, ref string, outcome connectors.Outcome, id string, amount int64) connectors.Result {
		t.Helper()
		if len(ns) != 1 || ns[0].Reference != ref || ns[0].Result.Outcome != outcome || ns[0].Result.ProcessorID != id || (amount != 0 && ns[0].Result.Amount != amount) {
			t.Errorf("%+v, want one %s notification for %s (%s, %d)", ns, outcome, ref, id, amount)
			return connectors.Result{}
		}
		return ns[0].Result
	}
	succeeded := func(ref string) connectors.Notification {
		return connectors.Notification{Reference: ref, Result: connectors.Result{Outcome: connectors.Succeeded}}
	}

	auth := mustSucceed(t, "authorize", func() (connectors.Result, error) {
		return c.Authorize(ctx, connectors.AuthorizeRequest{Reference: "pay_n1:authorize", Amount: 5000, Currency: "USD", Method: card("4242424242424242")})
	})
	ok(notify(succeeded("pay_n1:authorize"), "payment_intent.amount_capturable_updated"), "pay_n1:authorize", connectors.Succeeded, auth.ProcessorID, 5000)
	mustSucceed(t, "capture", func() (connectors.Result, error) {
		return c.Capture(ctx, connectors.CaptureRequest{Reference: "pay_n1:capture", ProcessorID: auth.ProcessorID, Amount: 3000, Currency: "USD"})
	})
	ok(notify(succeeded("pay_n1:capture"), "payment_intent.succeeded"), "pay_n1:capture", connectors.Succeeded, auth.ProcessorID, 3000)
	// The authorization's event, sent again after the capture, is still
	// the authorization's.
	ok(notify(succeeded("pay_n1:authorize"), "payment_intent.amount_capturable_updated"), "pay_n1:authorize", connectors.Succeeded, auth.ProcessorID, 5000)
	ref := mustSucceed(t, "refund", func() (connectors.Result, error) {
		return c.Refund(ctx, connectors.RefundRequest{Reference: "re_n1", ProcessorID: auth.ProcessorID, Amount: 1000, Currency: "USD"})
	})
	ok(notify(succeeded("re_n1"), "refund.updated"), "re_n1", connectors.Succeeded, ref.ProcessorID, 1000)
	res := ok(notify(connectors.Notification{Reference: "re_n1", Result: connectors.Result{Outcome: connectors.Failed}}, "refund.failed"), "re_n1", connectors.Failed, ref.ProcessorID, 0)
	if res.FailureCode != "refund_failed" {
		t.Errorf("failed refund: %+v, want refund_failed", res)
	}

	sale := mustSucceed(t, "sale", func() (connectors.Result, error) {
		return c.Authorize(ctx, connectors.AuthorizeRequest{Reference: "pay_n2:authorize", Amount: 700, Currency: "USD", Capture: true, Method: card("4242424242424242")})
	})
	ok(notify(succeeded("pay_n2:authorize"), "payment_intent.succeeded"), "pay_n2:authorize", connectors.Succeeded, sale.ProcessorID, 700)

	auth3 := mustSucceed(t, "authorize", func() (connectors.Result, error) {
		return c.Authorize(ctx, connectors.AuthorizeRequest{Reference: "pay_n3:authorize", Amount: 800, Currency: "USD", Method: card("4242424242424242")})
	})
	mustSucceed(t, "void", func() (connectors.Result, error) {
		return c.Void(ctx, connectors.VoidRequest{Reference: "pay_n3:void", ProcessorID: auth3.ProcessorID})
	})
	ok(notify(succeeded("pay_n3:void"), "payment_intent.canceled"), "pay_n3:void", connectors.Succeeded, auth3.ProcessorID, 0)

	// A decline: the PaymentIntent's own error, or the one the
	// notification names.
	dec, err := c.Authorize(ctx, connectors.AuthorizeRequest{Reference: "pay_n4:authorize", Amount: 100, Currency: "USD", Method: card("4000000000009995")})
	if err != nil || dec.Outcome != connectors.Declined {
		t.Fatalf("decline: %+v, %v", dec, err)
	}
	declined := connectors.Notification{Reference: "pay_n4:authorize", Result: connectors.Result{Outcome: connectors.Declined}}
	if res := ok(notify(declined, "payment_intent.payment_failed"), "pay_n4:authorize", connectors.Declined, dec.ProcessorID, 0); res.DeclineCode != "insufficient_funds" {
		t.Errorf("decline: %+v, want the PaymentIntent's insufficient_funds", res)
	}
	declined.Result.DeclineCode = "expired_card"
	if res := ok(notify(declined, "payment_intent.payment_failed"), "pay_n4:authorize", connectors.Declined, dec.ProcessorID, 0); res.FailureCode != "expired_card" {
		t.Errorf("decline: %+v, want expired_card", res)
	}

	// A reference the fake does not know: the operation its shape names.
	unknown := connectors.Notification{Reference: "pay_n5:capture", Result: connectors.Result{Outcome: connectors.Succeeded, ProcessorID: "pi_elsewhere", Amount: 42}}
	ok(notify(unknown, "payment_intent.succeeded"), "pay_n5:capture", connectors.Succeeded, "pi_elsewhere", 42)
}
