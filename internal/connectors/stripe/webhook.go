package stripe

import (
	"crypto/hmac"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	stripego "github.com/stripe/stripe-go/v82"

	"github.com/paygate/paygate/internal/connectors"
)

// webhookTolerance is how far the signature's timestamp may be from now:
// Stripe's libraries' default (five minutes), against replays.
const webhookTolerance = 300 * time.Second

// ParseWebhook implements connectors.WebhookParser. It verifies the
// Stripe-Signature header as Stripe documents it (docs.stripe.com/webhooks,
// "Verify signatures manually"): "t=<unix time>,v1=<hex>[,v1=…]", where a
// v1 is the HMAC-SHA256, keyed with the endpoint's signing secret (whsec_…,
// used as it is), of "<t>.<raw body>"; any v1 may match (Stripe sends
// several while a secret is rolled), compared in constant time, and t must
// be within webhookTolerance of now. The event's API version is not
// checked: only fields stable across versions are read.
//
// Events mapped, by the paygate reference in the object's metadata:
//
//	payment_intent.succeeded                → the capture (metadata paygate_capture_reference)
//	                                          or else the authorization (a sale): succeeded
//	payment_intent.amount_capturable_updated → the authorization: succeeded (authorized)
//	payment_intent.payment_failed            → the authorization: declined/failed (last_payment_error)
//	payment_intent.canceled                  → the void (paygate_void_reference): succeeded
//	refund.updated, refund.failed,
//	charge.refund.updated                    → the refund, once settled: succeeded or refund_failed
//
// Other events, objects without paygate's reference, a cancellation
// paygate did not ask for and a refund still pending give no
// notification and no error.
func (c *Connector) ParseWebhook(header http.Header, body []byte, now time.Time) ([]connectors.Notification, error) {
	if err := verifySignature(c.webhookSecret, header.Get("Stripe-Signature"), body, now); err != nil {
		return nil, err
	}
	var ev struct {
		Type string `json:"type"`
		Data struct {
			Object json.RawMessage `json:"object"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		return nil, fmt.Errorf("stripe: webhook body: %w", err)
	}
	switch ev.Type {
	case "payment_intent.succeeded", "payment_intent.amount_capturable_updated", "payment_intent.payment_failed", "payment_intent.canceled":
		var pi stripego.PaymentIntent
		if err := json.Unmarshal(ev.Data.Object, &pi); err != nil {
			return nil, fmt.Errorf("stripe: webhook %s: %w", ev.Type, err)
		}
		return intentNotification(ev.Type, &pi), nil
	case "refund.updated", "refund.failed", "charge.refund.updated":
		var r stripego.Refund
		if err := json.Unmarshal(ev.Data.Object, &r); err != nil {
			return nil, fmt.Errorf("stripe: webhook %s: %w", ev.Type, err)
		}
		ref := r.Metadata[metaReference]
		if ref == "" || (r.Status != stripego.RefundStatusSucceeded && r.Status != stripego.RefundStatusFailed && r.Status != stripego.RefundStatusCanceled) {
			return nil, nil
		}
		return []connectors.Notification{{Reference: ref, Result: refundResult(&r)}}, nil
	}
	return nil, nil
}

func intentNotification(typ string, pi *stripego.PaymentIntent) []connectors.Notification {
	one := func(ref string, res connectors.Result) []connectors.Notification {
		if ref == "" {
			return nil
		}
		return []connectors.Notification{{Reference: ref, Result: res}}
	}
	switch typ {
	case "payment_intent.succeeded":
		if ref := pi.Metadata[metaCapture]; ref != "" {
			return one(ref, connectors.Result{Outcome: connectors.Succeeded, ProcessorID: pi.ID, Amount: pi.AmountReceived})
		}
		return one(pi.Metadata[metaReference], connectors.Result{Outcome: connectors.Succeeded, ProcessorID: pi.ID, Amount: orAmount(pi.AmountReceived, pi)})
	case "payment_intent.amount_capturable_updated":
		if pi.Status != stripego.PaymentIntentStatusRequiresCapture {
			return nil
		}
		return one(pi.Metadata[metaReference], connectors.Result{Outcome: connectors.Succeeded, ProcessorID: pi.ID, Amount: orAmount(pi.AmountCapturable, pi)})
	case "payment_intent.payment_failed":
		res := connectors.Result{Outcome: connectors.Declined, FailureCode: "card_declined", DeclineCode: "generic_decline", Message: "The payment failed."}
		if e := pi.LastPaymentError; e != nil {
			res = declineResult(string(e.Code), string(e.DeclineCode), e.Msg)
		}
		res.ProcessorID = pi.ID
		return one(pi.Metadata[metaReference], res)
	case "payment_intent.canceled":
		return one(pi.Metadata[metaVoid], connectors.Result{Outcome: connectors.Succeeded, ProcessorID: pi.ID})
	}
	return nil
}

// verifySignature checks a Stripe-Signature header; every refusal wraps
// connectors.ErrBadSignature.
func verifySignature(secret, header string, body []byte, now time.Time) error {
	bad := func(why string) error { return fmt.Errorf("%w: %s", connectors.ErrBadSignature, why) }
	if secret == "" {
		return bad("no webhook_secret is set for this Stripe account")
	}
	if header == "" {
		return bad("no Stripe-Signature header")
	}
	var ts int64
	var haveTS bool
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return bad("malformed timestamp")
			}
			ts, haveTS = n, true
		case "v1":
			if sig, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, sig)
			}
		}
	}
	if !haveTS || len(sigs) == 0 {
		return bad("no timestamp or no v1 signature")
	}
	signedAt := time.Unix(ts, 0)
	if d := now.Sub(signedAt); d > webhookTolerance || d < -webhookTolerance {
		return bad("timestamp outside the tolerance")
	}
	want := stripego.ComputeSignature(signedAt, body, secret)
	ok := false
	for _, sig := range sigs {
		if hmac.Equal(want, sig) {
			ok = true // no early exit: the time does not tell which matched
		}
	}
	if !ok {
		return bad("no signature matches")
	}
	return nil
}
