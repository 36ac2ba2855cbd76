package stripetest

import (
	"net/http"
	"strings"
)

// setupIntent is a SetupIntent: a card checked and set up for later
// charges, without a payment (paygate's card verification).
type setupIntent struct {
	id, status, paymentMethod, usage, returnURL string
	created                                     int64
	metadata                                    map[string]string
	lastError, nextAction                       map[string]any
	types                                       []string
}

// SetupIntents are the SetupIntents the fake holds, by paygate reference
// (metadata paygate_reference) the ids of those made under it: more than
// one for a reference is a verification made twice.
func (s *Server) SetupIntents() map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]string{}
	for _, si := range s.setups {
		ref := si.metadata[metaReference]
		out[ref] = append(out[ref], si.id)
	}
	return out
}

// createSetupIntent is POST /v1/setup_intents with a card PaymentMethod:
// confirmed, the card's test number picks the outcome as for a
// PaymentIntent (a decline is a 402 card_error carrying the SetupIntent,
// whose last_setup_error is the error; a 3-D Secure card waits in
// requires_action).
func (s *Server) createSetupIntent(w http.ResponseWriter, r *http.Request) {
	form := r.PostForm
	number, ok := s.cards[form.Get("payment_method")]
	if !ok {
		s.writeError(w, "resource_missing", nil)
		return
	}
	si := &setupIntent{id: s.newID("seti_"), status: "requires_payment_method", paymentMethod: form.Get("payment_method"),
		usage: form.Get("usage"), returnURL: form.Get("return_url"), created: s.tick(), metadata: metadataOf(form),
		types: formList(form, "payment_method_types")}
	if si.usage == "" {
		si.usage = "off_session"
	}
	s.setups[si.id] = si
	if form.Get("confirm") != "true" {
		si.status = "requires_confirmation"
		writeJSON(w, http.StatusOK, renderSetupIntent(si))
		return
	}
	s.performed["verify"]++
	switch outcome := cardOutcome(number); outcome {
	case "":
		si.status = "succeeded"
	case "three_d_secure":
		si.status = "requires_action"
		if si.returnURL == "" {
			si.nextAction = map[string]any{"type": "use_stripe_sdk", "use_stripe_sdk": map[string]any{}}
			break
		}
		na := clone(fx.nextAction)
		redirect := na["redirect_to_url"].(map[string]any)
		redirect["url"], redirect["return_url"] = s.url+redirectPath+outcome+"/"+si.id, si.returnURL
		si.nextAction = na
	default:
		si.lastError = errorObject(outcome)
		e := fx.errors[outcome]
		body := clone(e.Body)
		body["error"].(map[string]any)["setup_intent"] = renderSetupIntent(si)
		writeJSON(w, e.Status, body)
		return
	}
	writeJSON(w, http.StatusOK, renderSetupIntent(si))
}

// renderSetupIntent is si on setup_intent.json.
func renderSetupIntent(si *setupIntent) map[string]any {
	o := clone(fx.setupIntent)
	o["id"], o["status"], o["created"], o["usage"] = si.id, si.status, si.created, si.usage
	o["client_secret"] = si.id + "_secret_fake"
	o["payment_method"] = si.paymentMethod
	o["metadata"] = metadataObject(si.metadata)
	if len(si.types) > 0 {
		o["payment_method_types"] = si.types
	}
	if si.lastError != nil {
		o["last_setup_error"] = si.lastError
	}
	if si.nextAction != nil {
		o["next_action"] = si.nextAction
	}
	if si.status != "requires_confirmation" {
		// The SetupAttempt of the confirmation (an id: expandable).
		o["latest_attempt"] = "setatt_" + strings.TrimPrefix(si.id, "seti_")
	}
	return o
}
