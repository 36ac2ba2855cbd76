package adyen

import (
	"fmt"
	"strings"

	"github.com/paygate/paygate/internal/connectors"
)

// authorizationResult maps the answer of /payments or /payments/details
// (resultCode, as the PaymentResponse schema of the Checkout API v71
// describes it) to paygate's outcome. requested is the amount asked for,
// used when Adyen's answer does not repeat it.
func authorizationResult(r paymentResponse, requested int64) (connectors.Result, error) {
	amt := requested
	if r.Amount != nil {
		amt = r.Amount.Value
	}
	switch r.ResultCode {
	case "Authorised":
		if r.PSPReference == "" {
			return connectors.Result{}, fmt.Errorf("adyen: resultCode Authorised without a pspReference; the outcome is unknown")
		}
		return connectors.Result{Outcome: connectors.Succeeded, ProcessorID: r.PSPReference, Amount: amt}, nil
	case "Refused", "Cancelled":
		// Cancelled: "cancelled (either by the shopper or the merchant)
		// before processing was completed", a final state.
		res := declined(r.RefusalReasonCode, r.RefusalReason)
		res.ProcessorID = r.PSPReference
		return res, nil
	case "Error":
		msg := r.RefusalReason
		if msg == "" {
			msg = "Adyen reported an error while processing the payment."
		}
		return connectors.Result{Outcome: connectors.Failed, ProcessorID: r.PSPReference, FailureCode: "processing_error", Message: msg}, nil
	case "RedirectShopper", "IdentifyShopper", "ChallengeShopper":
		// paygate sends the customer to a URL (next_action
		// redirect_to_url, a GET). Adyen's redirect action with method
		// GET is one; a redirect by POST (action.data as form fields) or
		// a native 3-D Secure 2 action (type threeDS2, no URL, which
		// Adyen sends for IdentifyShopper and ChallengeShopper when
		// native 3-D Secure is requested; this connector never requests
		// it) needs a page of paygate's own that it does not have. Such a
		// payment is refused here; at Adyen it stays unauthenticated and
		// expires, so no money moves.
		a := r.Action
		if a != nil && a.Type == "redirect" && a.URL != "" && (a.Method == "" || strings.EqualFold(a.Method, "GET")) {
			return connectors.Result{Outcome: connectors.ActionRequired, ProcessorID: r.PSPReference, RedirectURL: a.URL}, nil
		}
		what := "no action"
		if a != nil {
			what = fmt.Sprintf("a %q action (method %q)", a.Type, a.Method)
		}
		return connectors.Result{Outcome: connectors.Failed, ProcessorID: r.PSPReference, FailureCode: "processing_error",
			Message: fmt.Sprintf("Adyen asked for %s for %s, which paygate cannot present to the customer.", what, r.ResultCode)}, nil
	case "Pending", "Received":
		// Adyen took the payment and reports its outcome in the
		// AUTHORISATION notification.
		return connectors.Result{Outcome: connectors.Pending, ProcessorID: r.PSPReference, Amount: amt}, nil
	case "PresentToShopper":
		// A voucher or QR code for the customer: not a flow paygate has.
		return connectors.Result{Outcome: connectors.Failed, ProcessorID: r.PSPReference, FailureCode: "processing_error",
			Message: "Adyen asked to present a voucher or code to the customer, which paygate cannot do."}, nil
	}
	// PartiallyAuthorised (never requested by this connector),
	// AuthenticationFinished/NotRequired (authentication-only flows) or
	// anything new: paygate cannot tell what it means for the money.
	return connectors.Result{}, fmt.Errorf("adyen: unexpected resultCode %q (pspReference %q); the outcome is unknown", r.ResultCode, r.PSPReference)
}

// refusal is how one of Adyen's refusal reasons reads in paygate's terms.
type refusal struct {
	code, reason         string // Adyen's refusalReasonCode and refusalReason
	failure, declineCode string // paygate's failure_code and decline_code
}

// refusals come from Adyen's "Refusal reasons" table; the codes paygate
// shows are Stripe's, as the spec's test cards use them. Any other reason
// is a generic decline that keeps Adyen's text as the message.
var refusals = []refusal{
	{"2", "Refused", "card_declined", "generic_decline"},
	{"5", "Blocked Card", "card_declined", "card_not_supported"},
	{"6", "Expired Card", "expired_card", "expired_card"},
	{"8", "Invalid Card Number", "incorrect_number", "incorrect_number"},
	{"11", "3D Not Authenticated", "authentication_failed", "authentication_failed"},
	{"12", "Not enough balance", "card_declined", "insufficient_funds"},
	{"14", "Acquirer Fraud", "card_declined", "fraudulent"},
	{"16", "Shopper Cancelled", "authentication_failed", "authentication_failed"},
	{"20", "FRAUD", "card_declined", "fraudulent"},
	{"22", "FRAUD-CANCELLED", "card_declined", "fraudulent"},
	{"24", "CVC Declined", "incorrect_cvc", "incorrect_cvc"},
	{"31", "Issuer Suspected Fraud", "card_declined", "fraudulent"},
	{"38", "Authentication required", "authentication_required", "authentication_required"},
}

// declined is the Declined result of a refusal, found by Adyen's
// refusalReasonCode when it has one (the /payments answer), else by its
// text (a notification's reason carries only the text).
func declined(code, reason string) connectors.Result {
	reason = strings.TrimSpace(reason)
	res := connectors.Result{Outcome: connectors.Declined, FailureCode: "card_declined", DeclineCode: "generic_decline", Message: reason}
	if res.Message == "" {
		res.Message = "Adyen refused the payment."
	}
	if r, ok := findRefusal(code, reason); ok {
		res.FailureCode, res.DeclineCode = r.failure, r.declineCode
	}
	return res
}

func findRefusal(code, reason string) (refusal, bool) {
	if code != "" {
		for _, r := range refusals {
			if r.code == code {
				return r, true
			}
		}
	}
	for _, r := range refusals {
		if strings.EqualFold(reason, r.reason) {
			return r, true
		}
	}
	return refusal{}, false
}
