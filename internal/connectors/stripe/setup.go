package stripe

import (
	"context"
	"fmt"

	stripego "github.com/stripe/stripe-go/v82"

	"github.com/paygate/paygate/internal/connectors"
)

// verify checks a card with a SetupIntent (Authorize with req.Verify):
// Stripe's way of verifying a card it is to save, with no charge and no
// authorization of 0 left behind. The card becomes a PaymentMethod as for
// a charge (raw card fields are not accepted in payment_method_data), then
// POST /v1/setup_intents with payment_method, payment_method_types[]=card,
// confirm=true, usage (req.SetupFutureUsage, off_session when unset: the
// card is saved for merchant-initiated charges) and
// metadata[paygate_reference]. Both carry the idempotency keys of an
// authorization of the same reference, so a retry after an unknown outcome
// gets Stripe's first answer (the same SetupIntent) instead of a second.
//
// No return_url is sent: a verification has no customer to redirect
// (paygate's verification is one API call), so a card whose issuer wants
// 3-D Secure is declined authentication_required, the answer paygate
// gives a verification that needs an action on any processor.
func (c *Connector) verify(ctx context.Context, req connectors.AuthorizeRequest) (connectors.Result, error) {
	if req.Method.Card == nil {
		return failed("invalid_request", "Only a card can be verified."), nil
	}
	card, part := cardParams(req.Method.Card)
	pm, res, err := c.paymentMethod(ctx, req.Reference, card, part, verificationAfterConflict)
	if pm == nil {
		return res, err
	}
	params := &stripego.SetupIntentCreateParams{
		Confirm:            stripego.Bool(true),
		PaymentMethod:      stripego.String(pm.ID),
		PaymentMethodTypes: stripego.StringSlice([]string{"card"}),
		Usage:              stripego.String(orString(req.SetupFutureUsage, string(stripego.SetupIntentUsageOffSession))),
	}
	params.IdempotencyKey = idempotencyKey(req.Reference)
	params.AddMetadata(metaReference, req.Reference)
	si, err := c.client.V1SetupIntents.Create(ctx, params)
	if err != nil {
		if isIdempotencyError(err) {
			return verificationAfterConflict(ctx, req.Reference, err)
		}
		// A refused card is a 402 card_error carrying the SetupIntent:
		// failure maps it as a charge's decline.
		return failure(err)
	}
	return setupResult(si), nil
}

// verificationAfterConflict answers a verification whose idempotency key
// Stripe had seen with other parameters: an unknown outcome. Unlike an
// authorization's, it is not looked up: Stripe has no search of
// SetupIntents by metadata, and paygate never recovers a verification
// (an unknown outcome saves nothing and the merchant sends the card
// again, under a new reference), so nothing would use the answer. Nothing
// was charged either way.
func verificationAfterConflict(_ context.Context, reference string, conflict error) (connectors.Result, error) {
	return connectors.Result{}, fmt.Errorf("stripe: the idempotency key of the verification %s was used with other parameters: %w", reference, conflict)
}

// setupResult maps a confirmed SetupIntent to the result of a
// verification.
//
//   - succeeded: accepted. NetworkTransactionID stays empty: Stripe's
//     SetupIntent, its SetupAttempt (latest_attempt,
//     payment_method_details.card) and the card PaymentMethod carry no
//     network transaction id in Stripe's API description (stripe-go's
//     types, generated from it, have none); Stripe keeps it and links the
//     merchant-initiated charges itself, as for a charge that saves a card.
//   - requires_action (3-D Secure): declined authentication_required; a
//     verification cannot hand the customer a page (see verify).
//   - requires_payment_method with last_setup_error: declined, mapped as a
//     charge's last_payment_error.
//   - processing: pending (paygate does not save on it).
//   - anything else (canceled, or a state a confirm does not leave): a
//     processing error.
func setupResult(si *stripego.SetupIntent) connectors.Result {
	var res connectors.Result
	switch si.Status {
	case stripego.SetupIntentStatusSucceeded:
		res = connectors.Result{Outcome: connectors.Succeeded}
	case stripego.SetupIntentStatusRequiresAction:
		res = connectors.Result{Outcome: connectors.Declined, FailureCode: "authentication_required", DeclineCode: "authentication_required",
			Message: "The card's issuer wants the customer to authenticate, which a verification cannot ask for."}
	case stripego.SetupIntentStatusProcessing:
		res = connectors.Result{Outcome: connectors.Pending}
	case stripego.SetupIntentStatusRequiresPaymentMethod:
		if e := si.LastSetupError; e != nil {
			res = declineResult(string(e.Code), string(e.DeclineCode), e.Msg)
			break
		}
		res = failed("processing_error", "Stripe left the SetupIntent without a payment method or an error.")
	case stripego.SetupIntentStatusCanceled:
		res = failed("setup_intent_canceled", fmt.Sprintf("The SetupIntent was canceled (%s).", orString(string(si.CancellationReason), "no reason given")))
	default:
		res = failed("processing_error", fmt.Sprintf("Stripe left the SetupIntent in status %s.", si.Status))
	}
	res.ProcessorID = si.ID
	return res
}
