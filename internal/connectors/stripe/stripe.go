// Package stripe is the connector of Stripe's PaymentIntents API, on the
// official client (stripe-go). Each connector has a client of its own,
// with the account's key, address and HTTP client: the package keeps no
// state, and never touches stripe-go's package-level key or backends.
//
// What it sends, per operation (every POST carries the Idempotency-Key
// "paygate:" + paygate's reference of the operation, and the reference in
// metadata, so that a retry or a recovery is one operation at Stripe):
//
//   - Authorize, card: POST /v1/payment_methods (type=card, card[number],
//     card[exp_month], card[exp_year], card[cvc]), then POST
//     /v1/payment_intents (amount, currency in lower case,
//     payment_method, payment_method_types[]=card, confirm=true,
//     capture_method automatic for a sale or manual, return_url,
//     metadata[paygate_reference]). Raw card fields are not accepted inside
//     payment_method_data (Stripe's API description has no "card" there),
//     hence the separate PaymentMethod.
//   - Authorize, apple_pay/google_pay: the wallet's token is a Stripe card
//     token (tok_…), which POST /v1/payment_methods accepts as
//     card[token] ("you can alternatively provide a Stripe token (e.g., for
//     Apple Pay …) into the card hash", Stripe's API description); then
//     the same PaymentIntent.
//   - Authorize, paypal: POST /v1/payment_intents with
//     payment_method_data[type]=paypal, payment_method_types[]=paypal,
//     confirm=true and return_url: Stripe answers requires_action with
//     the PayPal approval page in next_action.redirect_to_url.
//   - Capture: POST /v1/payment_intents/{id}/capture (amount_to_capture,
//     metadata[paygate_capture_reference]).
//   - Void: POST /v1/payment_intents/{id} (metadata[paygate_void_reference],
//     since cancel takes no metadata), then POST
//     /v1/payment_intents/{id}/cancel.
//   - Saved cards: a customer-initiated charge that saves the card sends
//     setup_future_usage (on_session or off_session); a merchant-initiated
//     one sends off_session=true, and Stripe answers a card whose issuer
//     wants authentication with the card error authentication_required
//     (a decline), never requires_action. Stripe keeps the network
//     transaction id of a card's first charge on its own objects and has
//     no PaymentIntent parameter to pass one (its API description has
//     none): it links the charges itself.
//   - Authorize with Verify (a card checked before it is saved, no
//     charge): Stripe's way is a SetupIntent, not a PaymentIntent of 0.
//     The same PaymentMethod as a charge's, then POST /v1/setup_intents
//     (payment_method, payment_method_types[]=card, confirm=true,
//     usage=off_session, metadata[paygate_reference]); see setup.go.
//   - Refund: POST /v1/refunds (payment_intent, amount,
//     metadata[paygate_reference]).
//   - CompleteAction and Lookup: read only (see lookup.go).
package stripe

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	stripego "github.com/stripe/stripe-go/v82"

	"github.com/paygate/paygate/internal/connectors"
)

// Name is the connector's name in paygate.
const Name = "stripe"

// Metadata keys paygate writes on Stripe's objects: the reference of the
// operation that created or changed them, which Lookup and webhooks
// search by.
const (
	metaReference = "paygate_reference"         // PaymentIntent (authorization), Refund
	metaCapture   = "paygate_capture_reference" // PaymentIntent, set by the capture
	metaVoid      = "paygate_void_reference"    // PaymentIntent, set just before the cancel
)

// defaultTimeout bounds a call when Config.HTTP is nil (paygate's router
// always gives a client with its own timeout).
const defaultTimeout = 30 * time.Second

// Connector is a Stripe account. It is safe for concurrent use.
type Connector struct {
	client        *stripego.Client
	webhookSecret string
	returnURL     string // Config.ReturnURL; "{payment}" is replaced per payment
}

var (
	_ connectors.Connector     = (*Connector)(nil)
	_ connectors.WebhookParser = (*Connector)(nil)
)

// New makes the connector of a Stripe account. Credentials: secret_key
// (required: sk_test_…/sk_live_…, or a restricted rk_test_…/rk_live_… key
// with the PaymentIntents, PaymentMethods, SetupIntents and Refunds
// permissions) and webhook_secret (optional, whsec_…: the signing secret of the webhook
// endpoint registered at Stripe; without it ParseWebhook refuses every
// request). cfg.BaseURL, when set, points the client at another server
// (stripe-mock, a test server); cfg.HTTP is the client of every call.
func New(cfg connectors.Config) (*Connector, error) {
	key := cfg.Credentials["secret_key"]
	if !hasAnyPrefix(key, "sk_test_", "sk_live_", "rk_test_", "rk_live_") {
		return nil, errors.New("stripe: credentials: secret_key must be a Stripe secret key (sk_test_… or sk_live_…)")
	}
	secret := cfg.Credentials["webhook_secret"]
	if secret != "" && !strings.HasPrefix(secret, "whsec_") {
		return nil, errors.New("stripe: credentials: webhook_secret must be a webhook signing secret (whsec_…)")
	}
	httpClient := cfg.HTTP
	if httpClient == nil {
		httpClient = &http.Client{Timeout: defaultTimeout}
	}
	bc := &stripego.BackendConfig{
		HTTPClient: httpClient,
		// No retries inside stripe-go: it sleeps between them without
		// heeding the context, and paygate resolves an unknown outcome
		// itself (Lookup, then a resend under the same idempotency key).
		MaxNetworkRetries: stripego.Int64(0),
		EnableTelemetry:   stripego.Bool(false),
		LeveledLogger:     &stripego.LeveledLogger{Level: stripego.LevelNull},
	}
	if cfg.BaseURL != "" {
		u, err := url.Parse(cfg.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("stripe: base URL %q is not an http(s) URL", cfg.BaseURL)
		}
		base := strings.TrimSuffix(cfg.BaseURL, "/")
		bc.URL = &base
	}
	client := stripego.NewClient(key, stripego.WithBackends(stripego.NewBackendsWithConfig(bc)))
	return &Connector{client: client, webhookSecret: secret, returnURL: cfg.ReturnURL}, nil
}

func hasAnyPrefix(s string, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) && len(s) > len(p) {
			return true
		}
	}
	return false
}

// Name implements connectors.Connector.
func (c *Connector) Name() string { return Name }

// idempotencyKey is the Idempotency-Key of the call of an operation: the
// same for every retry of it, different for each operation.
func idempotencyKey(reference string, part ...string) *string {
	k := "paygate:" + reference
	for _, p := range part {
		k += ":" + p
	}
	return &k
}

// Authorize implements connectors.Connector.
func (c *Connector) Authorize(ctx context.Context, req connectors.AuthorizeRequest) (connectors.Result, error) {
	if req.Verify {
		return c.verify(ctx, req)
	}
	params := &stripego.PaymentIntentCreateParams{
		Amount:        stripego.Int64(req.Amount),
		Currency:      stripego.String(strings.ToLower(req.Currency)),
		Confirm:       stripego.Bool(true),
		CaptureMethod: stripego.String(captureMethod(req.Capture)),
	}
	if req.OffSession {
		params.OffSession = stripego.Bool(true)
	} else if req.SetupFutureUsage != "" {
		params.SetupFutureUsage = stripego.String(req.SetupFutureUsage)
	}
	params.IdempotencyKey = idempotencyKey(req.Reference)
	params.AddMetadata(metaReference, req.Reference)
	if u := c.returnURLFor(req); u != "" {
		params.ReturnURL = stripego.String(u)
	}
	m := req.Method
	switch {
	case m.Card != nil:
		card, part := cardParams(m.Card)
		pm, res, err := c.paymentMethod(ctx, req.Reference, card, part, c.authorizationAfterConflict)
		if pm == nil {
			return res, err
		}
		params.PaymentMethod = stripego.String(pm.ID)
		params.PaymentMethodTypes = stripego.StringSlice([]string{"card"})
	case m.Wallet != nil && (m.Wallet.Type == "apple_pay" || m.Wallet.Type == "google_pay"):
		if m.Wallet.Token == "" {
			return failed("invalid_request", "The wallet payment has no token."), nil
		}
		pm, res, err := c.paymentMethod(ctx, req.Reference, &stripego.PaymentMethodCreateCardParams{Token: stripego.String(m.Wallet.Token)}, "payment_method", c.authorizationAfterConflict)
		if pm == nil {
			return res, err
		}
		params.PaymentMethod = stripego.String(pm.ID)
		params.PaymentMethodTypes = stripego.StringSlice([]string{"card"})
	case m.Wallet != nil && m.Wallet.Type == "paypal":
		params.PaymentMethodData = &stripego.PaymentIntentCreatePaymentMethodDataParams{Type: stripego.String("paypal")}
		params.PaymentMethodTypes = stripego.StringSlice([]string{"paypal"})
	default:
		return failed("invalid_request", "The payment has no card or wallet Stripe can charge."), nil
	}
	pi, err := c.client.V1PaymentIntents.Create(ctx, params)
	if err != nil {
		if isIdempotencyError(err) {
			// The key was used before with other parameters (a retry that
			// lost or gained something): the first request is the
			// operation. Its PaymentIntent, when there is one, tells the
			// outcome; never create another.
			return c.authorizationAfterConflict(ctx, req.Reference, err)
		}
		return failure(err)
	}
	return intentResult(pi), nil
}

func captureMethod(capture bool) string {
	if capture {
		return string(stripego.PaymentIntentCaptureMethodAutomatic)
	}
	return string(stripego.PaymentIntentCaptureMethodManual)
}

// returnURLFor is where Stripe sends the customer back after its 3-D
// Secure or PayPal page: paygate's own return address (Config.ReturnURL,
// "{payment}" replaced by the payment's id: the part of the reference
// before its first ":", as paygate's references are "<payment>:<op>"),
// so that paygate hears the customer came back and completes the action;
// the request's (the merchant's) when no Config.ReturnURL is set. It must
// be the same on every retry of a reference, or Stripe refuses the retry
// (the idempotency key would come with other parameters).
func (c *Connector) returnURLFor(req connectors.AuthorizeRequest) string {
	if c.returnURL == "" {
		return req.ReturnURL
	}
	payment, _, _ := strings.Cut(req.Reference, ":")
	return strings.ReplaceAll(c.returnURL, "{payment}", url.PathEscape(payment))
}

// cardParams are the card fields of the PaymentMethod of a card, with the
// part of its idempotency key: a recovery resends a stored card without
// its CVC (never kept), another request, so another key, or Stripe would
// refuse it.
func cardParams(card *connectors.Card) (*stripego.PaymentMethodCreateCardParams, string) {
	p := &stripego.PaymentMethodCreateCardParams{
		Number:   stripego.String(card.Number),
		ExpMonth: stripego.Int64(int64(card.ExpMonth)),
		ExpYear:  stripego.Int64(int64(card.ExpYear)),
	}
	part := "payment_method"
	if card.CVC != "" {
		p.CVC = stripego.String(card.CVC)
	} else {
		part += ":no_cvc"
	}
	return p, part
}

// afterConflict answers an operation whose idempotency key Stripe had
// seen with other parameters (authorizationAfterConflict,
// verificationAfterConflict).
type afterConflict func(ctx context.Context, reference string, conflict error) (connectors.Result, error)

// paymentMethod creates the PaymentMethod of an authorization or a
// verification. It answers the PaymentMethod, or (with a nil one) the
// result or error that ends the operation: a card refused by Stripe is a
// decline; a key Stripe saw with other parameters is answered by
// conflict.
func (c *Connector) paymentMethod(ctx context.Context, reference string, card *stripego.PaymentMethodCreateCardParams, part string, conflict afterConflict) (*stripego.PaymentMethod, connectors.Result, error) {
	params := &stripego.PaymentMethodCreateParams{Type: stripego.String(string(stripego.PaymentMethodTypeCard)), Card: card}
	params.IdempotencyKey = idempotencyKey(reference, part)
	pm, err := c.client.V1PaymentMethods.Create(ctx, params)
	if err == nil {
		return pm, connectors.Result{}, nil
	}
	if isIdempotencyError(err) {
		res, err := conflict(ctx, reference, err)
		return nil, res, err
	}
	res, err := failure(err)
	return nil, res, err
}

// authorizationAfterConflict answers an authorization whose idempotency
// key Stripe had seen with other parameters: the PaymentIntent of the
// reference, when Stripe has one; otherwise an unknown outcome (never a
// new charge), which recovery resolves later.
func (c *Connector) authorizationAfterConflict(ctx context.Context, reference string, conflict error) (connectors.Result, error) {
	pi, err := c.intentOf(ctx, reference, metaReference)
	if err != nil {
		return connectors.Result{}, fmt.Errorf("stripe: the idempotency key of %s was used with other parameters, and its PaymentIntent is not found (%v): %w", reference, err, conflict)
	}
	return intentResult(pi), nil
}

// Capture implements connectors.Connector.
func (c *Connector) Capture(ctx context.Context, req connectors.CaptureRequest) (connectors.Result, error) {
	params := &stripego.PaymentIntentCaptureParams{}
	if req.Amount > 0 { // else Stripe captures all that is capturable
		params.AmountToCapture = stripego.Int64(req.Amount)
	}
	params.IdempotencyKey = idempotencyKey(req.Reference)
	params.AddMetadata(metaCapture, req.Reference)
	pi, err := c.client.V1PaymentIntents.Capture(ctx, req.ProcessorID, params)
	if err != nil {
		// Captured already (a resend after Stripe forgot the key, 24 h
		// on): the capture is done.
		if pi := unexpectedState(err); pi != nil && pi.Status == stripego.PaymentIntentStatusSucceeded {
			return captureResult(pi), nil
		}
		return failure(err)
	}
	return captureResult(pi), nil
}

func captureResult(pi *stripego.PaymentIntent) connectors.Result {
	switch pi.Status {
	case stripego.PaymentIntentStatusSucceeded:
		return connectors.Result{Outcome: connectors.Succeeded, ProcessorID: pi.ID, Amount: pi.AmountReceived}
	case stripego.PaymentIntentStatusProcessing:
		return connectors.Result{Outcome: connectors.Pending, ProcessorID: pi.ID}
	}
	return failed("processing_error", fmt.Sprintf("Stripe left the PaymentIntent %s in status %s after the capture.", pi.ID, pi.Status))
}

// Void implements connectors.Connector. Stripe's cancel takes no
// metadata, so the void's reference is written on the PaymentIntent first
// (for Lookup and webhooks); a tag without a cancel is no void.
func (c *Connector) Void(ctx context.Context, req connectors.VoidRequest) (connectors.Result, error) {
	tag := &stripego.PaymentIntentUpdateParams{}
	tag.IdempotencyKey = idempotencyKey(req.Reference, "tag")
	tag.AddMetadata(metaVoid, req.Reference)
	if _, err := c.client.V1PaymentIntents.Update(ctx, req.ProcessorID, tag); err != nil {
		return failure(err)
	}
	params := &stripego.PaymentIntentCancelParams{}
	params.IdempotencyKey = idempotencyKey(req.Reference)
	pi, err := c.client.V1PaymentIntents.Cancel(ctx, req.ProcessorID, params)
	if err != nil {
		if pi := unexpectedState(err); pi != nil && pi.Status == stripego.PaymentIntentStatusCanceled {
			return connectors.Result{Outcome: connectors.Succeeded, ProcessorID: pi.ID}, nil
		}
		return failure(err)
	}
	if pi.Status != stripego.PaymentIntentStatusCanceled {
		return failed("processing_error", fmt.Sprintf("Stripe left the PaymentIntent %s in status %s after the cancel.", pi.ID, pi.Status)), nil
	}
	return connectors.Result{Outcome: connectors.Succeeded, ProcessorID: pi.ID}, nil
}

// Refund implements connectors.Connector.
func (c *Connector) Refund(ctx context.Context, req connectors.RefundRequest) (connectors.Result, error) {
	params := &stripego.RefundCreateParams{PaymentIntent: stripego.String(req.ProcessorID)}
	if req.Amount > 0 { // else Stripe refunds what remains
		params.Amount = stripego.Int64(req.Amount)
	}
	params.IdempotencyKey = idempotencyKey(req.Reference)
	params.AddMetadata(metaReference, req.Reference)
	r, err := c.client.V1Refunds.Create(ctx, params)
	if err != nil {
		return failure(err)
	}
	return refundResult(r), nil
}

// refundResult maps a Refund: succeeded; pending (or requires_action, for
// methods whose refunds need the customer) waits for Stripe's webhook;
// failed or canceled is refund_failed.
func refundResult(r *stripego.Refund) connectors.Result {
	switch r.Status {
	case stripego.RefundStatusSucceeded:
		return connectors.Result{Outcome: connectors.Succeeded, ProcessorID: r.ID, Amount: r.Amount}
	case stripego.RefundStatusPending, stripego.RefundStatusRequiresAction:
		return connectors.Result{Outcome: connectors.Pending, ProcessorID: r.ID, Amount: r.Amount}
	}
	msg := "Stripe could not refund the payment."
	if r.FailureReason != "" {
		msg = fmt.Sprintf("Stripe could not refund the payment (%s).", r.FailureReason)
	}
	return connectors.Result{Outcome: connectors.Failed, ProcessorID: r.ID, FailureCode: "refund_failed", Message: msg}
}

// intentResult maps a PaymentIntent to the result of its authorization.
func intentResult(pi *stripego.PaymentIntent) connectors.Result {
	switch pi.Status {
	case stripego.PaymentIntentStatusSucceeded:
		return connectors.Result{Outcome: connectors.Succeeded, ProcessorID: pi.ID, Amount: orAmount(pi.AmountReceived, pi)}
	case stripego.PaymentIntentStatusRequiresCapture:
		return connectors.Result{Outcome: connectors.Succeeded, ProcessorID: pi.ID, Amount: orAmount(pi.AmountCapturable, pi)}
	case stripego.PaymentIntentStatusRequiresAction:
		if na := pi.NextAction; na != nil && na.RedirectToURL != nil && na.RedirectToURL.URL != "" {
			return connectors.Result{Outcome: connectors.ActionRequired, ProcessorID: pi.ID, RedirectURL: na.RedirectToURL.URL}
		}
		typ := "none"
		if pi.NextAction != nil {
			typ = string(pi.NextAction.Type)
		}
		res := failed("processing_error", fmt.Sprintf("Stripe asks for a customer action paygate cannot hand over (next_action %s).", typ))
		res.ProcessorID = pi.ID
		return res
	case stripego.PaymentIntentStatusProcessing:
		return connectors.Result{Outcome: connectors.Pending, ProcessorID: pi.ID}
	case stripego.PaymentIntentStatusRequiresPaymentMethod:
		if e := pi.LastPaymentError; e != nil {
			res := declineResult(string(e.Code), string(e.DeclineCode), e.Msg)
			res.ProcessorID = pi.ID
			return res
		}
	case stripego.PaymentIntentStatusCanceled:
		res := failed("payment_intent_canceled", fmt.Sprintf("The PaymentIntent was canceled (%s).", orString(string(pi.CancellationReason), "no reason given")))
		res.ProcessorID = pi.ID
		return res
	}
	res := failed("processing_error", fmt.Sprintf("Stripe left the PaymentIntent in status %s.", pi.Status))
	res.ProcessorID = pi.ID
	return res
}

func orAmount(v int64, pi *stripego.PaymentIntent) int64 {
	if v != 0 {
		return v
	}
	return pi.Amount
}

func orString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func failed(code, msg string) connectors.Result {
	return connectors.Result{Outcome: connectors.Failed, FailureCode: code, Message: msg}
}
