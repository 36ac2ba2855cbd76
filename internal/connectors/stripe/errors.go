package stripe

import (
	"errors"
	"fmt"
	"net/http"

	stripego "github.com/stripe/stripe-go/v82"

	"github.com/paygate/paygate/internal/connectors"
)

// failure turns the error of a call to Stripe into paygate's terms: a
// Result for a definitive answer, or an error whose outcome is unknown
// unless it wraps connectors.ErrNotProcessed. Sources: Stripe's API
// reference, "Errors" (status codes and error types), and the "Advanced
// error handling" guide (docs.stripe.com/error-low-level) with the API
// reference's "Idempotent requests":
//
//   - No HTTP answer: connectors.Transport decides (a refused connection
//     is not processed; a timeout or a connection lost mid-request is
//     unknown).
//   - 402 card_error: the card was refused: Declined (or Failed for
//     processing_error), mapped by declineResult.
//   - 400/404 invalid_request_error: Stripe refused the request itself
//     (bad or impossible parameters, a capture of a canceled
//     PaymentIntent, raw card data not enabled on the account): a Failed
//     result with Stripe's code; nothing was charged, and sending the same
//     request again would not heal it.
//   - 400 idempotency_error: the key was used with other parameters: the
//     first request is the operation, outcome unknown here (Authorize
//     looks it up).
//   - 401 (no valid key) and 403 (the key lacks the permission): refused
//     before any processing, so not processed. The guide: rate limiters
//     and a 401 that omitted a key run before the idempotency layer.
//   - 429: not processed: "rate limiters run before the API's idempotency
//     layer". Except a 429 lock_timeout: the request met a lock on an
//     object it was changing; stripe-go retries those, and nothing in the
//     documentation proves that it had no effect, so it stays unknown.
//   - 5xx: unknown. Stripe saves the result of a POST whose execution
//     began, "including 500 errors", and the guide says to treat a 500 as
//     indeterminate. Stripe-Should-Retry: false only says that a retry
//     with the same key would not change the answer (the saved result is
//     replayed), not that nothing happened, so it does not make a 5xx
//     "not processed".
//   - 409 (idempotency_key_in_use: the same key is still running) and any
//     other status or body (a non-JSON 502 from a proxy): unknown.
func failure(err error) (connectors.Result, error) {
	var se *stripego.Error
	if !errors.As(err, &se) {
		// No Stripe error object: a transport error, or an answer whose
		// body was not Stripe's JSON (its status is unknown here, so is
		// the outcome).
		return connectors.Result{}, connectors.Transport(err)
	}
	switch {
	case se.HTTPStatusCode == http.StatusUnauthorized || se.HTTPStatusCode == http.StatusForbidden:
		return connectors.Result{}, connectors.NotProcessed(fmt.Errorf("stripe refused the API key (HTTP %d): %s", se.HTTPStatusCode, se.Msg))
	case se.HTTPStatusCode == http.StatusTooManyRequests && se.Code != stripego.ErrorCodeLockTimeout:
		return connectors.Result{}, connectors.NotProcessed(fmt.Errorf("stripe rate limited the request (HTTP 429 %s): %s", se.Code, se.Msg))
	case se.Type == stripego.ErrorTypeCard:
		res := declineResult(string(se.Code), string(se.DeclineCode), se.Msg)
		switch {
		case se.PaymentIntent != nil:
			res.ProcessorID = se.PaymentIntent.ID
		case se.SetupIntent != nil: // a verification's
			res.ProcessorID = se.SetupIntent.ID
		}
		return res, nil
	case se.Type == stripego.ErrorTypeInvalidRequest && (se.HTTPStatusCode == http.StatusBadRequest || se.HTTPStatusCode == http.StatusNotFound):
		res := failed(orString(string(se.Code), "invalid_request"), orString(se.Msg, "Stripe refused the request."))
		if se.PaymentIntent != nil {
			res.ProcessorID = se.PaymentIntent.ID
		}
		return res, nil
	}
	return connectors.Result{}, fmt.Errorf("stripe: outcome unknown (HTTP %d %s %s): %w", se.HTTPStatusCode, se.Type, se.Code, err)
}

// isIdempotencyError tells Stripe's answer to a key reused with other
// parameters.
func isIdempotencyError(err error) bool {
	var se *stripego.Error
	return errors.As(err, &se) && se.Type == stripego.ErrorTypeIdempotency
}

// unexpectedState is the PaymentIntent of a payment_intent_unexpected_state
// refusal (Stripe's error carries the PaymentIntent), or nil.
func unexpectedState(err error) *stripego.PaymentIntent {
	var se *stripego.Error
	if errors.As(err, &se) && se.Code == stripego.ErrorCodePaymentIntentUnexpectedState {
		return se.PaymentIntent
	}
	return nil
}

// declineResult maps Stripe's code and decline_code of a refused payment
// or verification (a card_error, a PaymentIntent's last_payment_error or
// a SetupIntent's last_setup_error) to paygate's
// failure_code and decline_code, as the sandbox reports its test cards:
//
//	card_declined + decline_code X     → declined card_declined / X (generic_decline when Stripe gives none)
//	expired_card, incorrect_cvc, …     → declined with that code as both codes
//	processing_error                   → failed processing_error
//	payment_intent_authentication_failure → declined authentication_failed
//	setup_intent_authentication_failure   → the same, of a verification
//	any other code                     → declined with Stripe's codes
//
// Codes: Stripe's "Error codes" and "Decline codes" references; the test
// cards that produce them: docs.stripe.com/testing, "Declined payments".
func declineResult(code, declineCode, message string) connectors.Result {
	res := connectors.Result{Outcome: connectors.Declined, Message: message}
	switch code {
	case "card_declined", "":
		res.FailureCode, res.DeclineCode = "card_declined", orString(declineCode, "generic_decline")
	case "expired_card", "incorrect_cvc", "invalid_cvc", "incorrect_number", "invalid_number",
		"invalid_expiry_month", "invalid_expiry_year", "incorrect_zip":
		res.FailureCode, res.DeclineCode = code, orString(declineCode, code)
	case "processing_error":
		res.Outcome, res.FailureCode, res.DeclineCode = connectors.Failed, "processing_error", declineCode
	case "payment_intent_authentication_failure", "setup_intent_authentication_failure":
		res.FailureCode, res.DeclineCode = "authentication_failed", "authentication_failed"
	default:
		res.FailureCode, res.DeclineCode = code, declineCode
	}
	if res.Message == "" {
		res.Message = "Stripe refused the payment (" + res.FailureCode + ")."
	}
	return res
}
