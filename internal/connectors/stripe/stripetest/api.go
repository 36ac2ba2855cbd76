package stripetest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// route is the API past the key and idempotency checks; the lock is held.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/v1/payment_methods":
		s.createPaymentMethod(w, r)
	case r.Method == http.MethodPost && r.URL.Path == "/v1/payment_intents":
		s.createIntent(w, r)
	case r.Method == http.MethodGet && r.URL.Path == "/v1/payment_intents":
		s.listIntents(w, r)
	case r.Method == http.MethodGet && r.URL.Path == "/v1/payment_intents/search":
		s.searchIntents(w, r)
	case len(parts) >= 3 && parts[0] == "v1" && parts[1] == "payment_intents":
		pi, ok := s.intents[parts[2]]
		if !ok {
			s.writeError(w, "resource_missing", nil)
			return
		}
		switch {
		case len(parts) == 3 && r.Method == http.MethodGet:
			writeJSON(w, http.StatusOK, s.renderIntent(pi))
		case len(parts) == 3 && r.Method == http.MethodPost:
			mergeMetadata(pi.metadata, r.PostForm)
			writeJSON(w, http.StatusOK, s.renderIntent(pi))
		case len(parts) == 4 && parts[3] == "capture" && r.Method == http.MethodPost:
			s.capture(w, r, pi)
		case len(parts) == 4 && parts[3] == "cancel" && r.Method == http.MethodPost:
			s.cancel(w, r, pi)
		default:
			http.NotFound(w, r)
		}
	case r.Method == http.MethodPost && r.URL.Path == "/v1/setup_intents":
		s.createSetupIntent(w, r)
	case r.Method == http.MethodPost && r.URL.Path == "/v1/refunds":
		s.createRefund(w, r)
	case r.Method == http.MethodGet && r.URL.Path == "/v1/refunds":
		s.listRefunds(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) newID(prefix string) string {
	s.seq++
	return fmt.Sprintf("%s%s%04d", prefix, "1FakeStripe", s.seq)
}

// tick is the "created" of a new object: now, and after every earlier one.
func (s *Server) tick() int64 {
	s.clock = max(s.clock+1, time.Now().Unix())
	return s.clock
}

func clientSecret(pi *intent) string { return pi.id + "_secret_fake" }

// authorized moves pi to what a successful authorization leaves.
func (s *Server) authorized(pi *intent) {
	if pi.captureMethod == "manual" {
		pi.status, pi.capturable = "requires_capture", pi.amount
		return
	}
	pi.status, pi.received = "succeeded", pi.amount
}

// Stripe's test tokens (docs.stripe.com/testing, "Tokens") for the cards
// the fake knows.
func tokenCard(tok string) (string, bool) {
	switch tok {
	case "tok_visa":
		return "4242424242424242", true
	case "tok_chargeDeclined":
		return "4000000000000002", true
	case "tok_chargeDeclinedInsufficientFunds":
		return "4000000000009995", true
	}
	return "", false
}

// cardOutcome is what Stripe's test card numbers do (docs.stripe.com/testing):
// the name of the error in errors.json, "three_d_secure", or "" for success.
func cardOutcome(number string) string {
	switch number {
	case "4000000000000002":
		return "generic_decline"
	case "4000000000009995":
		return "insufficient_funds"
	case "4000000000000069":
		return "expired_card"
	case "4000000000000127":
		return "incorrect_cvc"
	case "4000000000000119":
		return "processing_error"
	case "4000000000003220":
		return "three_d_secure"
	}
	return ""
}

func (s *Server) createPaymentMethod(w http.ResponseWriter, r *http.Request) {
	form := r.PostForm
	if form.Get("type") != "card" {
		s.writeError(w, "resource_missing", nil)
		return
	}
	number := form.Get("card[number]")
	if tok := form.Get("card[token]"); tok != "" {
		n, ok := tokenCard(tok)
		if !ok {
			s.writeError(w, "resource_missing", nil)
			return
		}
		number = n
	} else if number == "" || form.Get("card[exp_month]") == "" || form.Get("card[exp_year]") == "" {
		s.writeError(w, "resource_missing", nil)
		return
	}
	id := s.newID("pm_")
	s.cards[id] = number
	pm := clone(fx.paymentMethod)
	pm["id"], pm["created"], pm["metadata"] = id, s.tick(), map[string]any{}
	card := pm["card"].(map[string]any)
	card["last4"] = number[len(number)-4:]
	if m, err := strconv.Atoi(form.Get("card[exp_month]")); err == nil {
		card["exp_month"] = m
	}
	if y, err := strconv.Atoi(form.Get("card[exp_year]")); err == nil {
		card["exp_year"] = y
	}
	writeJSON(w, http.StatusOK, pm)
}

func formList(form url.Values, name string) []string {
	var out []string
	for i := 0; ; i++ {
		v, ok := form[fmt.Sprintf("%s[%d]", name, i)]
		if !ok {
			break
		}
		out = append(out, v...)
	}
	return append(out, form[name+"[]"]...)
}

func metadataOf(form url.Values) map[string]string {
	m := map[string]string{}
	mergeMetadata(m, form)
	return m
}

func mergeMetadata(m map[string]string, form url.Values) {
	for k, v := range form {
		if name, ok := strings.CutPrefix(k, "metadata["); ok && strings.HasSuffix(name, "]") {
			name = strings.TrimSuffix(name, "]")
			if v[0] == "" {
				delete(m, name)
			} else {
				m[name] = v[0]
			}
		}
	}
}

func (s *Server) createIntent(w http.ResponseWriter, r *http.Request) {
	form := r.PostForm
	amount, err := strconv.ParseInt(form.Get("amount"), 10, 64)
	if err != nil || amount <= 0 || form.Get("currency") == "" || form.Get("currency") != strings.ToLower(form.Get("currency")) {
		s.writeError(w, "resource_missing", nil)
		return
	}
	pi := &intent{id: s.newID("pi_"), amount: amount, currency: form.Get("currency"), created: s.tick(),
		captureMethod: form.Get("capture_method"), metadata: metadataOf(form), returnURL: form.Get("return_url"),
		types: formList(form, "payment_method_types"), status: "requires_payment_method"}
	if pi.captureMethod == "" {
		pi.captureMethod = "automatic_async"
	}
	outcome := ""
	switch {
	case form.Get("payment_method") != "":
		number, ok := s.cards[form.Get("payment_method")]
		if !ok {
			s.writeError(w, "resource_missing", nil)
			return
		}
		pi.paymentMethod = form.Get("payment_method")
		outcome = cardOutcome(number)
	case form.Get("payment_method_data[type]") == "paypal":
		pi.paymentMethod = s.newID("pm_")
		outcome = "paypal"
	default:
		s.writeError(w, "resource_missing", nil)
		return
	}
	s.intents[pi.id] = pi
	s.intentIDs = append(s.intentIDs, pi.id)
	if form.Get("confirm") != "true" {
		pi.status = "requires_confirmation"
		writeJSON(w, http.StatusOK, s.renderIntent(pi))
		return
	}
	s.performed["authorize"]++
	switch outcome {
	case "":
		s.authorized(pi)
	case "three_d_secure", "paypal":
		pi.status = "requires_action"
		if pi.returnURL == "" {
			// Without a return_url, Stripe hands the step to Stripe.js.
			pi.nextAction = map[string]any{"type": "use_stripe_sdk", "use_stripe_sdk": map[string]any{}}
			break
		}
		na := clone(fx.nextAction)
		redirect := na["redirect_to_url"].(map[string]any)
		redirect["url"], redirect["return_url"] = s.url+redirectPath+outcome+"/"+pi.id, pi.returnURL
		pi.nextAction = na
	default:
		pi.lastError = errorObject(outcome)
		s.writeError(w, outcome, pi)
		return
	}
	writeJSON(w, http.StatusOK, s.renderIntent(pi))
}

func (s *Server) capture(w http.ResponseWriter, r *http.Request, pi *intent) {
	if pi.status != "requires_capture" {
		s.writeError(w, "payment_intent_unexpected_state", pi)
		return
	}
	amount := pi.capturable
	if v := r.PostForm.Get("amount_to_capture"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 || n > pi.capturable {
			s.writeError(w, "amount_too_large", nil)
			return
		}
		amount = n
	}
	mergeMetadata(pi.metadata, r.PostForm)
	pi.status, pi.received, pi.capturable = "succeeded", amount, 0
	s.performed["capture"]++
	writeJSON(w, http.StatusOK, s.renderIntent(pi))
}

func (s *Server) cancel(w http.ResponseWriter, r *http.Request, pi *intent) {
	switch pi.status {
	case "requires_payment_method", "requires_capture", "requires_confirmation", "requires_action", "processing":
	default:
		s.writeError(w, "payment_intent_unexpected_state", pi)
		return
	}
	pi.status, pi.capturable, pi.nextAction = "canceled", 0, nil
	pi.cancellationReason = r.PostForm.Get("cancellation_reason")
	s.performed["void"]++
	writeJSON(w, http.StatusOK, s.renderIntent(pi))
}

func (s *Server) createRefund(w http.ResponseWriter, r *http.Request) {
	form := r.PostForm
	pi, ok := s.intents[form.Get("payment_intent")]
	if !ok {
		s.writeError(w, "resource_missing", nil)
		return
	}
	if pi.status != "succeeded" {
		s.writeError(w, "payment_intent_unexpected_state", pi)
		return
	}
	amount := pi.received - pi.refunded
	if v := form.Get("amount"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			s.writeError(w, "amount_too_large", nil)
			return
		}
		amount = n
	}
	if amount > pi.received-pi.refunded {
		s.writeError(w, "amount_too_large", nil)
		return
	}
	pi.refunded += amount
	status := "succeeded"
	if s.refundsPend {
		status = "pending"
	}
	re := &refund{id: s.newID("re_"), intent: pi.id, status: status, amount: amount, created: s.tick(), metadata: metadataOf(form)}
	s.refunds[re.id] = re
	s.refundIDs = append(s.refundIDs, re.id)
	s.performed["refund"]++
	writeJSON(w, http.StatusOK, s.renderRefund(re))
}

// page answers a list of ids (oldest first) newest first, with Stripe's
// limit and starting_after.
func page(ids []string, form url.Values) ([]string, bool) {
	limit := 10
	if n, err := strconv.Atoi(form.Get("limit")); err == nil && n > 0 && n <= 100 {
		limit = n
	}
	var out []string
	started := form.Get("starting_after") == ""
	for i := len(ids) - 1; i >= 0; i-- {
		if !started {
			started = ids[i] == form.Get("starting_after")
			continue
		}
		if len(out) == limit {
			return out, true
		}
		out = append(out, ids[i])
	}
	return out, false
}

func (s *Server) listIntents(w http.ResponseWriter, r *http.Request) {
	var ids []string
	gte, _ := strconv.ParseInt(r.Form.Get("created[gte]"), 10, 64)
	for _, id := range s.intentIDs {
		if s.intents[id].created >= gte {
			ids = append(ids, id)
		}
	}
	ids, more := page(ids, r.Form)
	list := clone(fx.lists["list"])
	data := []any{}
	for _, id := range ids {
		data = append(data, s.renderIntent(s.intents[id]))
	}
	list["data"], list["has_more"] = data, more
	writeJSON(w, http.StatusOK, list)
}

func (s *Server) listRefunds(w http.ResponseWriter, r *http.Request) {
	ids, more := page(s.refundIDs, r.Form)
	list := clone(fx.lists["list"])
	data := []any{}
	for _, id := range ids {
		data = append(data, s.renderRefund(s.refunds[id]))
	}
	list["data"], list["has_more"], list["url"] = data, more, "/v1/refunds"
	writeJSON(w, http.StatusOK, list)
}

// parseSearch reads the query language subset paygate sends:
// metadata['key']:'value' clauses joined by OR.
func parseSearch(q string) (map[string]string, bool) {
	clauses := map[string]string{}
	for _, c := range strings.Split(q, " OR ") {
		rest, ok := strings.CutPrefix(c, "metadata['")
		if !ok {
			return nil, false
		}
		key, value, ok := strings.Cut(rest, "']:'")
		if !ok || !strings.HasSuffix(value, "'") {
			return nil, false
		}
		value = strings.TrimSuffix(value, "'")
		value = strings.NewReplacer(`\'`, `'`, `\\`, `\`).Replace(value)
		clauses[key] = value
	}
	return clauses, true
}

func (s *Server) searchIntents(w http.ResponseWriter, r *http.Request) {
	clauses, ok := parseSearch(r.Form.Get("query"))
	if !ok {
		s.writeError(w, "resource_missing", nil)
		return
	}
	res := clone(fx.lists["search_result"])
	data := []any{}
	if !s.searchLags {
		for i := len(s.intentIDs) - 1; i >= 0; i-- {
			pi := s.intents[s.intentIDs[i]]
			for k, v := range clauses {
				if pi.metadata[k] == v {
					data = append(data, s.renderIntent(pi))
					break
				}
			}
		}
	}
	res["data"] = data
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) renderIntent(pi *intent) map[string]any {
	o := clone(fx.intent)
	o["id"], o["amount"], o["currency"], o["status"] = pi.id, pi.amount, pi.currency, pi.status
	o["amount_capturable"], o["amount_received"], o["created"] = pi.capturable, pi.received, pi.created
	o["capture_method"], o["client_secret"] = pi.captureMethod, clientSecret(pi)
	o["canceled_at"] = nil
	if pi.status == "canceled" {
		o["canceled_at"] = pi.created
		if pi.cancellationReason != "" {
			o["cancellation_reason"] = pi.cancellationReason
		}
	}
	o["metadata"] = metadataObject(pi.metadata)
	if pi.paymentMethod != "" {
		o["payment_method"] = pi.paymentMethod
	}
	if len(pi.types) > 0 {
		o["payment_method_types"] = pi.types
	}
	if pi.lastError != nil {
		o["last_payment_error"] = pi.lastError
	}
	if pi.nextAction != nil {
		o["next_action"] = pi.nextAction
	}
	if pi.received > 0 {
		o["latest_charge"] = chargeID(pi.id)
	}
	return o
}

func (s *Server) renderRefund(re *refund) map[string]any {
	o := clone(fx.refund)
	o["id"], o["amount"], o["status"], o["created"] = re.id, re.amount, re.status, re.created
	o["payment_intent"], o["charge"] = re.intent, chargeID(re.intent)
	o["currency"] = s.intents[re.intent].currency
	o["metadata"] = metadataObject(re.metadata)
	return o
}

// chargeID is the id of the Charge of a PaymentIntent.
func chargeID(intentID string) string { return "ch_" + strings.TrimPrefix(intentID, "pi_") }

func metadataObject(md map[string]string) map[string]any {
	m := make(map[string]any, len(md))
	for k, v := range md {
		m[k] = v
	}
	return m
}

// writeError answers the named error of errors.json; pi, when given, is
// the PaymentIntent Stripe puts in the error.
func (s *Server) writeError(w http.ResponseWriter, name string, pi *intent) {
	e, ok := fx.errors[name]
	if !ok {
		panic(fmt.Sprintf("stripetest: no error %q in errors.json", name))
	}
	body := clone(e.Body)
	if pi != nil {
		body["error"].(map[string]any)["payment_intent"] = s.renderIntent(pi)
	}
	writeJSON(w, e.Status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("stripetest: %v", err))
	}
	writeBody(w, status, b)
}
