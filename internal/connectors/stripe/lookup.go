package stripe

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	stripego "github.com/stripe/stripe-go/v82"

	"github.com/paygate/paygate/internal/connectors"
)

// Lookup finds an operation at Stripe by paygate's reference of it, read
// only: it never sends the operation again (replaying the create under its
// idempotency key would create it when Stripe never saw it).
//
//   - A refund ("re_…", paygate's refund ids): the Refund whose
//     metadata[paygate_reference] is the reference. Stripe has no search
//     for refunds, and GET /v1/refunds filters by payment_intent or charge
//     only, which the reference does not tell; so the most recent refunds
//     are listed, newest first, up to scanLimit of them.
//   - Otherwise the PaymentIntent whose metadata[paygate_reference]
//     (an authorization), metadata[paygate_capture_reference] (a capture)
//     or metadata[paygate_void_reference] (a void) is the reference:
//     GET /v1/payment_intents/search?query=metadata['…']:'…' OR …, then,
//     as the search index lags writes ("data is searchable in under 1
//     minute", longer during an outage; Stripe's Search documentation
//     says to use list APIs for read-after-write), the PaymentIntents
//     created in the last recentWindow through GET /v1/payment_intents
//     (created[gte]), up to scanLimit. What is found is read again by id
//     (GET /v1/payment_intents/{id}) for its current state.
//
// Limits, stated plainly: a refund older than the scanLimit most recent
// refunds, or a PaymentIntent older than recentWindow that the search
// index does not show (an outage of Stripe's search; accounts where Search
// is unavailable), is reported ErrNotFound. paygate then sends the
// operation again under the same idempotency key, which Stripe answers
// with the first result for 24 hours (keys are kept that long); later a
// resent capture or void meets the PaymentIntent's state (handled as done),
// but a resent authorization or refund could charge or refund twice. That
// needs an operation lost for more than a day that neither the search (an
// outage as long) nor the scan (more than scanLimit refunds since) finds.
// A capture or void found by its tag but not effective at Stripe (the
// capture failed, the cancel never ran) is ErrNotFound too: Stripe did not
// perform it.
// A completed 3-D Secure step (CompleteAction) is a read, not an
// operation at Stripe: its reference is never found, and resending it is
// harmless. A card verification (a SetupIntent, setup.go) is not looked
// up either: paygate never recovers one (an unknown outcome saves nothing,
// and the merchant sends the card again under a new reference), and
// Stripe has no search of SetupIntents; its reference is ErrNotFound.
func (c *Connector) Lookup(ctx context.Context, reference string) (connectors.Result, error) {
	if strings.HasPrefix(reference, "re_") {
		r, err := c.refundOf(ctx, reference)
		if err != nil {
			return connectors.Result{}, err
		}
		return refundResult(r), nil
	}
	pi, key, err := c.findIntent(ctx, reference)
	if err != nil {
		return connectors.Result{}, err
	}
	switch key {
	case metaCapture:
		if pi.Status != stripego.PaymentIntentStatusSucceeded && pi.Status != stripego.PaymentIntentStatusProcessing {
			return connectors.Result{}, connectors.ErrNotFound
		}
		return captureResult(pi), nil
	case metaVoid:
		if pi.Status != stripego.PaymentIntentStatusCanceled {
			return connectors.Result{}, connectors.ErrNotFound
		}
		return connectors.Result{Outcome: connectors.Succeeded, ProcessorID: pi.ID}, nil
	}
	return intentResult(pi), nil
}

// CompleteAction implements connectors.Connector: the customer came back
// from Stripe's page (3-D Secure, PayPal); Stripe knows the outcome, so
// the authorization's PaymentIntent is read (by the id Stripe puts on the
// return URL, req.Details["payment_intent"], when it is this
// authorization's; else found by the authorization's reference, as Lookup
// does) and mapped. req.Approved is not used. A
// PaymentIntent still waiting for the customer answers ActionRequired
// again; a failed authentication (last_payment_error
// payment_intent_authentication_failure) is declined
// authentication_failed. req.Capture needs nothing: the PaymentIntent was
// created with the capture method of the payment.
func (c *Connector) CompleteAction(ctx context.Context, req connectors.CompleteActionRequest) (connectors.Result, error) {
	// Stripe sends the customer back with ?payment_intent=pi_… (and its
	// client secret, and redirect_status). The customer's browser carries
	// it, so it is only a hint: the PaymentIntent is used when its
	// metadata names this authorization.
	if id := req.Details["payment_intent"]; strings.HasPrefix(id, "pi_") {
		if pi, err := c.client.V1PaymentIntents.Retrieve(ctx, id, nil); err == nil && pi.Metadata[metaReference] == req.ActionReference {
			return intentResult(pi), nil
		}
	}
	pi, err := c.intentOf(ctx, req.ActionReference, metaReference)
	if err != nil {
		if errors.Is(err, connectors.ErrNotFound) {
			// Stripe answered ActionRequired for it: not finding it is an
			// inconsistency to resolve later, never a decline.
			return connectors.Result{}, fmt.Errorf("stripe: no PaymentIntent found for the authorization %s yet", req.ActionReference)
		}
		return connectors.Result{}, err
	}
	return intentResult(pi), nil
}

const (
	// recentWindow is how far back the list fallback of a PaymentIntent
	// lookup reaches: past it, the search index has long caught up.
	recentWindow = time.Hour
	// scanLimit bounds the objects a list fallback reads (at 100 a page).
	scanLimit = 1000
	pageSize  = 100
)

// intentOf is the PaymentIntent whose metadata[key] is reference, in its
// current state, or ErrNotFound.
func (c *Connector) intentOf(ctx context.Context, reference, key string) (*stripego.PaymentIntent, error) {
	pi, found, err := c.findIntentKeys(ctx, reference, key)
	if err != nil {
		return nil, err
	}
	if found == "" {
		return nil, connectors.ErrNotFound
	}
	return pi, nil
}

// findIntent is the PaymentIntent one of whose paygate metadata keys holds
// reference, with that key.
func (c *Connector) findIntent(ctx context.Context, reference string) (*stripego.PaymentIntent, string, error) {
	pi, key, err := c.findIntentKeys(ctx, reference, metaReference, metaCapture, metaVoid)
	if err == nil && key == "" {
		err = connectors.ErrNotFound
	}
	return pi, key, err
}

func (c *Connector) findIntentKeys(ctx context.Context, reference string, keys ...string) (*stripego.PaymentIntent, string, error) {
	id, key, err := c.searchIntent(ctx, reference, keys)
	if err != nil {
		return nil, "", err
	}
	if id == "" {
		if id, key, err = c.scanRecentIntents(ctx, reference, keys, time.Now()); err != nil {
			return nil, "", err
		}
	}
	if id == "" {
		return nil, "", nil
	}
	pi, err := c.client.V1PaymentIntents.Retrieve(ctx, id, nil)
	if err != nil {
		_, err = failure(err)
		if err == nil {
			err = fmt.Errorf("stripe: the PaymentIntent %s of %s could not be read", id, reference)
		}
		return nil, "", err
	}
	return pi, key, nil
}

// matchKey is the first of keys whose metadata value is reference, or "".
func matchKey(metadata map[string]string, reference string, keys []string) string {
	for _, k := range keys {
		if metadata[k] == reference {
			return k
		}
	}
	return ""
}

// searchQuery is Stripe's search query for PaymentIntents whose metadata
// under one of keys is value ("metadata['key']:'value'" clauses joined by
// OR; quotes and backslashes escaped with a backslash).
func searchQuery(value string, keys []string) string {
	v := strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(value)
	clauses := make([]string, len(keys))
	for i, k := range keys {
		clauses[i] = fmt.Sprintf("metadata['%s']:'%s'", k, v)
	}
	return strings.Join(clauses, " OR ")
}

// searchIntent asks Stripe's search index (eventually consistent).
func (c *Connector) searchIntent(ctx context.Context, reference string, keys []string) (string, string, error) {
	params := &stripego.PaymentIntentSearchParams{}
	params.Query = searchQuery(reference, keys)
	params.Limit = stripego.Int64(10)
	n := 0
	for pi, err := range c.client.V1PaymentIntents.Search(ctx, params) {
		if err != nil {
			if _, err := failure(err); err != nil {
				return "", "", err
			}
			// Search refused (unavailable to the account): the list
			// fallback alone answers.
			return "", "", nil
		}
		if k := matchKey(pi.Metadata, reference, keys); k != "" {
			return pi.ID, k, nil
		}
		if n++; n >= 10 {
			break
		}
	}
	return "", "", nil
}

// scanRecentIntents lists the PaymentIntents created since now -
// recentWindow (Stripe's list is strongly consistent).
func (c *Connector) scanRecentIntents(ctx context.Context, reference string, keys []string, now time.Time) (string, string, error) {
	params := &stripego.PaymentIntentListParams{CreatedRange: &stripego.RangeQueryParams{GreaterThanOrEqual: now.Add(-recentWindow).Unix()}}
	params.Limit = stripego.Int64(pageSize)
	n := 0
	for pi, err := range c.client.V1PaymentIntents.List(ctx, params) {
		if err != nil {
			_, err = failure(err)
			if err == nil {
				err = fmt.Errorf("stripe: the list of PaymentIntents was refused")
			}
			return "", "", err
		}
		if k := matchKey(pi.Metadata, reference, keys); k != "" {
			return pi.ID, k, nil
		}
		if n++; n >= scanLimit {
			break
		}
	}
	return "", "", nil
}

// refundOf is the Refund whose metadata[paygate_reference] is reference,
// among the scanLimit most recent.
func (c *Connector) refundOf(ctx context.Context, reference string) (*stripego.Refund, error) {
	params := &stripego.RefundListParams{}
	params.Limit = stripego.Int64(pageSize)
	n := 0
	for r, err := range c.client.V1Refunds.List(ctx, params) {
		if err != nil {
			_, err = failure(err)
			if err == nil {
				err = fmt.Errorf("stripe: the list of refunds was refused")
			}
			return nil, err
		}
		if r.Metadata[metaReference] == reference {
			return r, nil
		}
		if n++; n >= scanLimit {
			break
		}
	}
	return nil, connectors.ErrNotFound
}
