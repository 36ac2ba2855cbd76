package stripetest

import (
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/connectors"
)

// Notify is the event Stripe sends for n (the request's header and body),
// built on the documented event example and signed with WebhookSecret at
// the current time. The event is the one of the operation the fake
// performed under n.Reference; for a reference it does not know, the one
// the reference's shape names (paygate's refund ids start with "re_"; its
// other references end with ":capture", ":void", or else are an
// authorization):
//
//	authorization, Succeeded      payment_intent.amount_capturable_updated (manual capture, requires_capture),
//	                              else payment_intent.succeeded (a sale)
//	authorization, Declined/Failed payment_intent.payment_failed; last_payment_error is the error of
//	                              errors.json named by n.Result.DeclineCode or FailureCode, else the
//	                              PaymentIntent's own, else generic_decline (n.Result.Message, if any, its message)
//	authorization, Pending        payment_intent.processing
//	authorization, ActionRequired payment_intent.requires_action
//	capture, Succeeded            payment_intent.succeeded, with paygate_capture_reference
//	void, Succeeded               payment_intent.canceled, with paygate_void_reference
//	refund, Succeeded or Pending  refund.updated (status succeeded or pending)
//	refund, Declined/Failed       refund.failed (status failed)
//
// Stripe sends no event for a capture or a void that did not succeed (its
// answer tells), so Notify fails the test for one. The object's id is
// n.Result.ProcessorID, or the fake's; the amount, n.Result.Amount, or the
// operation's. Its metadata is what it held when Stripe sent the event: an
// authorization's event carries only the authorization's reference, so it
// is not taken for a later capture's or void's.
func (s *Server) Notify(t testing.TB, n connectors.Notification) (http.Header, []byte) {
	t.Helper()
	typ, obj, err := s.event(n)
	if err != nil {
		t.Fatal(err)
	}
	return SignedEvent(t, typ, obj, WebhookSecret, time.Now())
}

// event is the type and object of Notify's event.
func (s *Server) event(n connectors.Notification) (string, map[string]any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	kind, pi, re := s.operation(n.Reference)
	res := n.Result
	if kind == "refund" {
		typ, status := "refund.failed", "failed"
		switch res.Outcome {
		case connectors.Succeeded:
			typ, status = "refund.updated", "succeeded"
		case connectors.Pending:
			typ, status = "refund.updated", "pending"
		}
		if re == nil {
			return typ, Refund(res.ProcessorID, status, cmp.Or(res.Amount, number(fx.refund["amount"])), n.Reference), nil
		}
		o := Refund(cmp.Or(res.ProcessorID, re.id), status, cmp.Or(res.Amount, re.amount), n.Reference)
		o["payment_intent"], o["charge"], o["created"] = re.intent, chargeID(re.intent), re.created
		o["currency"] = s.intents[re.intent].currency
		return typ, o, nil
	}

	// ev is the PaymentIntent as the event shows it.
	ev := intent{id: res.ProcessorID, currency: "usd", captureMethod: "automatic", amount: number(fx.intent["amount"]),
		created: time.Now().Unix(), metadata: map[string]string{}}
	if pi != nil {
		ev = intent{id: cmp.Or(res.ProcessorID, pi.id), currency: pi.currency, captureMethod: pi.captureMethod, paymentMethod: pi.paymentMethod,
			amount: pi.amount, created: pi.created, types: pi.types, cancellationReason: pi.cancellationReason, metadata: map[string]string{}}
		if auth := pi.metadata[metaReference]; auth != "" {
			ev.metadata[metaReference] = auth
		}
	}
	if kind == "authorize" {
		ev.metadata[metaReference] = n.Reference
	}
	amount := cmp.Or(res.Amount, ev.amount)
	var typ string
	switch {
	case kind == "capture" && res.Outcome == connectors.Succeeded:
		captured := res.Amount
		if captured == 0 && pi != nil {
			captured = pi.received
		}
		typ, ev.status, ev.received = "payment_intent.succeeded", "succeeded", cmp.Or(captured, amount)
		ev.metadata[metaCapture] = n.Reference
	case kind == "void" && res.Outcome == connectors.Succeeded:
		typ, ev.status = "payment_intent.canceled", "canceled"
		ev.metadata[metaVoid] = n.Reference
	case kind != "authorize":
		return "", nil, fmt.Errorf("stripetest: Stripe sends no event for a %s that is %s (its answer tells): no event for %s", kind, res.Outcome, n.Reference)
	case res.Outcome == connectors.Succeeded && ev.captureMethod == "manual":
		typ, ev.status, ev.capturable = "payment_intent.amount_capturable_updated", "requires_capture", amount
	case res.Outcome == connectors.Succeeded:
		typ, ev.status, ev.received = "payment_intent.succeeded", "succeeded", amount
	case res.Outcome == connectors.Declined || res.Outcome == connectors.Failed:
		typ, ev.status, ev.lastError = "payment_intent.payment_failed", "requires_payment_method", lastError(res, pi)
	case res.Outcome == connectors.Pending:
		typ, ev.status = "payment_intent.processing", "processing"
	case res.Outcome == connectors.ActionRequired:
		typ, ev.status = "payment_intent.requires_action", "requires_action"
		if pi != nil {
			ev.nextAction = pi.nextAction
		}
	default:
		return "", nil, fmt.Errorf("stripetest: no event for the outcome %q of %s", res.Outcome, n.Reference)
	}
	return typ, s.renderIntent(&ev), nil
}

// operation is what the fake knows of reference: the kind of operation
// ("authorize", "capture", "void", "refund") and its PaymentIntent and
// Refund; for a reference it does not know, the kind its shape names and
// no objects.
func (s *Server) operation(reference string) (kind string, pi *intent, re *refund) {
	for _, id := range s.refundIDs {
		if re := s.refunds[id]; re.metadata[metaReference] == reference {
			return "refund", s.intents[re.intent], re
		}
	}
	for _, id := range s.intentIDs {
		pi := s.intents[id]
		switch reference {
		case pi.metadata[metaCapture]:
			return "capture", pi, nil
		case pi.metadata[metaVoid]:
			return "void", pi, nil
		case pi.metadata[metaReference]:
			return "authorize", pi, nil
		}
	}
	switch {
	case strings.HasPrefix(reference, "re_"):
		return "refund", nil, nil
	case strings.HasSuffix(reference, ":capture"):
		return "capture", nil, nil
	case strings.HasSuffix(reference, ":void"):
		return "void", nil, nil
	}
	return "authorize", nil, nil
}

// lastError is the last_payment_error of a failed authorization's event.
func lastError(res connectors.Result, pi *intent) map[string]any {
	var e map[string]any
	for _, name := range []string{res.DeclineCode, res.FailureCode} {
		if d, ok := fx.errors[name]; ok && d.Status == http.StatusPaymentRequired && e == nil {
			e = errorObject(name)
		}
	}
	switch {
	case e != nil:
	case res.FailureCode == "authentication_failed":
		e = errorObject("authentication_failure")
	case pi != nil && pi.lastError != nil:
		e = clone(pi.lastError)
	default:
		e = errorObject("generic_decline")
	}
	if res.Message != "" {
		e["message"] = res.Message
	}
	return e
}

// number is a decoded JSON number as an int64.
func number(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}

var eventSeq atomic.Int64

// SignedEvent is an event of type typ around object (an event's
// data.object), built on the documented event example with an id of its
// own, and its request header: Content-Type and the Stripe-Signature for
// secret at time at. For a test of events Notify does not make, or of
// another secret or time.
func SignedEvent(t testing.TB, typ string, object map[string]any, secret string, at time.Time) (http.Header, []byte) {
	t.Helper()
	ev := clone(fx.event)
	ev["id"] = fmt.Sprintf("evt_1FakeStripe%06d", eventSeq.Add(1))
	ev["type"], ev["created"] = typ, at.Unix()
	ev["data"] = map[string]any{"object": object}
	body, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Stripe-Signature", Signature(secret, at, body))
	return h, body
}

// Signature is Stripe's Stripe-Signature header of body for secret at time
// at: "t=<unix time>,v1=<hex>", v1 the HMAC-SHA256, keyed with the secret
// as it is, of "<t>.<body>" (docs.stripe.com/webhooks/signatures). It is
// computed here from the documented scheme, not with the connector's code.
func Signature(secret string, at time.Time, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "%d.", at.Unix())
	mac.Write(body)
	return fmt.Sprintf("t=%d,v1=%s", at.Unix(), hex.EncodeToString(mac.Sum(nil)))
}

// Unsigned is an event request (as Notify makes it) without its
// Stripe-Signature header: Stripe signs in the header only, so the body
// is the same.
func Unsigned(t testing.TB, header http.Header, body []byte) (http.Header, []byte) {
	t.Helper()
	h := header.Clone()
	h.Del("Stripe-Signature")
	return h, body
}

// PaymentIntent is the PaymentIntent of the documented event example made
// id, with status and metadata, and amount (when not 0) as its amount and
// amount_received: an event's object, for SignedEvent.
func PaymentIntent(id, status string, amount int64, metadata map[string]string) map[string]any {
	o := clone(fx.event["data"].(map[string]any)["object"].(map[string]any))
	o["id"], o["status"] = id, status
	if amount > 0 {
		o["amount"], o["amount_received"] = amount, amount
	}
	o["metadata"] = metadataObject(metadata)
	return o
}

// Refund is the documented Refund made id, with status, amount and
// reference as its metadata paygate_reference (a failed one with a
// failure_reason): an event's object, for SignedEvent.
func Refund(id, status string, amount int64, reference string) map[string]any {
	o := clone(fx.refund)
	o["id"], o["status"], o["amount"] = id, status, amount
	o["metadata"] = map[string]any{metaReference: reference}
	if status == "failed" {
		o["failure_reason"] = "expired_or_canceled_card"
	}
	return o
}
