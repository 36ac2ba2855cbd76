// Package adyen is the connector to Adyen's Checkout API (v71): /payments
// and /payments/details authorize, /payments/{pspReference}/captures,
// /cancels and /refunds modify, and Adyen's standard notifications (HMAC
// signed) report what the modifications, and authorizations finished after
// a redirect, came to.
//
// The connector keeps no state: every call is a function of paygate's
// request and the account's configuration. Every call carries an
// Idempotency-Key derived from paygate's reference, and the reference
// itself as Adyen's `reference`, so a retry of the same operation is the
// same operation at Adyen, and notifications name paygate's reference.
//
// References:
//   - Checkout API v71 (Adyen/adyen-openapi, json/CheckoutService-v71.json):
//     request and response shapes, result codes, documented examples.
//   - "API idempotency" (docs.adyen.com/development-resources/api-idempotency):
//     Idempotency-Key of at most 64 characters, kept at least 31 days per
//     company account; a retry of a request Adyen already processed returns
//     the first response.
//   - "HTTP status codes" (docs.adyen.com/development-resources/response-handling):
//     400 malformed, 401 authentication, 403 permission ("do not repeat"),
//     409 already processed or in progress (retry when Transient-Error is
//     true), 422 validation, 500 "may also be returned when the request is
//     incorrect".
//   - "Refusal reasons" (docs.adyen.com/development-resources/refusal-reasons).
//   - Standard webhooks (Adyen/adyen-openapi, json/Webhooks-v1.json) and the
//     HMAC scheme of Adyen/adyen-go-api-library, src/hmacvalidator.
package adyen

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/paygate/paygate/internal/connectors"
)

// Connector talks to one Adyen merchant account. It is safe for concurrent
// use and holds nothing that changes after New.
type Connector struct {
	apiKey          string
	merchantAccount string
	hmacKey         []byte
	baseURL         string // the Checkout API's base, without a trailing slash
	http            *http.Client
	returnURL       string // paygate's return page, "{payment}" replaced; "" to use the request's
}

var (
	_ connectors.Connector     = (*Connector)(nil)
	_ connectors.WebhookParser = (*Connector)(nil)
)

// New returns the connector of an Adyen account. The credentials are
// api_key (sent as X-API-Key), merchant_account and hmac_key (hex, the key
// of the account's standard webhook). cfg.BaseURL is required: Adyen's live
// Checkout URL has a prefix of the merchant's own
// (https://{PREFIX}-checkout-live.adyenpayments.com/checkout/v71), and the
// test one is https://checkout-test.adyen.com/v71.
func New(cfg connectors.Config) (*Connector, error) {
	c := &Connector{
		apiKey:          cfg.Credentials["api_key"],
		merchantAccount: cfg.Credentials["merchant_account"],
		http:            cfg.HTTP,
		returnURL:       cfg.ReturnURL,
	}
	switch {
	case c.apiKey == "":
		return nil, errors.New("adyen: the api_key credential is required")
	case c.merchantAccount == "":
		return nil, errors.New("adyen: the merchant_account credential is required")
	case cfg.Credentials["hmac_key"] == "":
		return nil, errors.New("adyen: the hmac_key credential is required (the HMAC key of the account's standard webhook)")
	case c.http == nil:
		return nil, errors.New("adyen: an HTTP client is required")
	}
	key, err := hex.DecodeString(cfg.Credentials["hmac_key"])
	if err != nil {
		return nil, errors.New("adyen: the hmac_key credential is not hexadecimal")
	}
	c.hmacKey = key
	if cfg.BaseURL == "" {
		return nil, errors.New("adyen: base_url is required: the Checkout API's address, e.g. https://checkout-test.adyen.com/v71, or the live URL with the account's prefix")
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("adyen: base_url %q is not an http(s) URL", cfg.BaseURL)
	}
	c.baseURL = strings.TrimRight(cfg.BaseURL, "/")
	return c, nil
}

// Name implements connectors.Connector.
func (c *Connector) Name() string { return "adyen" }

// Lookup implements connectors.Connector, as far as Adyen allows: the
// Checkout API has no search by merchant reference, so Lookup always
// returns an error that wraps connectors.ErrNoLookup (neither
// connectors.ErrNotFound, which it cannot claim, nor ErrNotProcessed).
//
// Sending the operation again under the same Idempotency-Key is Adyen's
// lookup ("API idempotency": keys are kept at least 31 days): Adyen
// answers the first request's response when it arrived, and performs it
// once when it did not. paygate's recovery does that on ErrNoLookup;
// Adyen's notification (AUTHORISATION, CAPTURE, CANCELLATION, REFUND…),
// which it retries until paygate accepts it, may settle the operation
// first.
func (c *Connector) Lookup(ctx context.Context, reference string) (connectors.Result, error) {
	return connectors.Result{}, fmt.Errorf("adyen: the Checkout API has no lookup by reference (%q): %w", reference, connectors.ErrNoLookup)
}

// Authorize implements connectors.Connector with POST /payments: the
// card's raw data (the account needs Adyen's permission for unencrypted
// card data) or the wallet's token, captured at once (captureDelayHours 0)
// for a sale, else marked for manual capture (additionalData.manualCapture).
func (c *Connector) Authorize(ctx context.Context, req connectors.AuthorizeRequest) (connectors.Result, error) {
	method, refusal := paymentMethod(req.Method)
	if method == nil {
		// Nothing was sent: a request paygate cannot express is refused here.
		return connectors.Result{Outcome: connectors.Failed, FailureCode: "processing_error", Message: refusal}, nil
	}
	body := paymentRequest{
		Amount:          amount{Value: req.Amount, Currency: strings.ToUpper(req.Currency)},
		Reference:       req.Reference,
		MerchantAccount: c.merchantAccount,
		PaymentMethod:   method,
		ReturnURL:       c.returnURLFor(req),
	}
	if req.Capture {
		zero := 0
		body.CaptureDelayHours = &zero
	} else if !req.Verify {
		body.AdditionalData = map[string]string{"manualCapture": "true"}
	}
	cardOnFile(&body, req)
	var resp paymentResponse
	rejected, err := c.post(ctx, "/payments", req.Reference, body, &resp)
	if err != nil {
		return connectors.Result{}, err
	}
	if rejected != nil {
		return rejected.result(), nil
	}
	res, err := authorizationResult(resp, req.Amount)
	if err == nil && res.Outcome == connectors.Succeeded && !req.OffSession {
		res.NetworkTransactionID = resp.AdditionalData["networkTxReference"]
	}
	return res, err
}

// cardOnFile marks a payment of a card saved for later, as the
// PaymentRequest schema of Checkout API v71 has it: the first,
// customer-initiated one (saving the card, or verifying it with an amount
// of 0) is shopperInteraction Ecommerce with the recurringProcessingModel
// of the agreement (CardOnFile for charges with the customer present,
// UnscheduledCardOnFile for merchant-initiated ones); a merchant-initiated
// charge is shopperInteraction ContAuth, UnscheduledCardOnFile, with the
// first one's network transaction id in additionalData.networkTxReference
// ("required for token-based transactions where Adyen does not tokenize
// the card", AdditionalDataCommon): paygate keeps the card, not Adyen.
func cardOnFile(body *paymentRequest, req connectors.AuthorizeRequest) {
	switch {
	case req.OffSession:
		body.ShopperInteraction, body.RecurringProcessingModel = "ContAuth", "UnscheduledCardOnFile"
		if req.NetworkTransactionID != "" {
			if body.AdditionalData == nil {
				body.AdditionalData = map[string]string{}
			}
			body.AdditionalData["networkTxReference"] = req.NetworkTransactionID
		}
	case req.SetupFutureUsage == "on_session":
		body.ShopperInteraction, body.RecurringProcessingModel = "Ecommerce", "CardOnFile"
	case req.SetupFutureUsage != "" || req.Verify:
		body.ShopperInteraction, body.RecurringProcessingModel = "Ecommerce", "UnscheduledCardOnFile"
	}
}

// returnURLFor is where Adyen sends the customer back after its page:
// paygate's own return page when the account's configuration names one
// ("{payment}" replaced by the payment's id, the part of the reference
// before its first colon), so that paygate hears of the customer's return
// and of Adyen's redirectResult; else the merchant's return URL. Adyen
// requires returnUrl on every /payments request.
func (c *Connector) returnURLFor(req connectors.AuthorizeRequest) string {
	if c.returnURL == "" {
		return req.ReturnURL
	}
	payment, _, _ := strings.Cut(req.Reference, ":")
	return strings.ReplaceAll(c.returnURL, "{payment}", url.PathEscape(payment))
}

// CompleteAction implements connectors.Connector. Adyen authorizes a
// payment that sent the customer to a redirect when paygate submits, to
// /payments/details, the redirectResult that Adyen appended to the
// customer's return URL (req.Details). Without one (the customer came back
// some other way, or recovery finishes a return the process lost), the
// connector cannot ask Adyen: it answers Pending, and the outcome arrives
// in Adyen's AUTHORISATION notification for ActionReference.
func (c *Connector) CompleteAction(ctx context.Context, req connectors.CompleteActionRequest) (connectors.Result, error) {
	if err := ctx.Err(); err != nil {
		return connectors.Result{}, err
	}
	if rr := req.Details["redirectResult"]; rr != "" {
		return c.CompleteRedirect(ctx, req, rr)
	}
	return connectors.Result{Outcome: connectors.Pending,
		Message: "Adyen reports the outcome of the authorization " + req.ActionReference + " in its AUTHORISATION notification"}, nil
}

// CompleteRedirect finishes the authorization sent under
// req.ActionReference with the redirectResult Adyen appended to the
// customer's return URL: POST /payments/details, under an Idempotency-Key
// derived from req.Reference. An answer about another payment than
// req.ActionReference (a redirectResult brought to the wrong payment) is an
// error.
func (c *Connector) CompleteRedirect(ctx context.Context, req connectors.CompleteActionRequest, redirectResult string) (connectors.Result, error) {
	if redirectResult == "" {
		return connectors.Result{}, connectors.NotProcessed(errors.New("adyen: no redirectResult to submit"))
	}
	body := detailsRequest{Details: map[string]string{"redirectResult": redirectResult}}
	var resp paymentResponse
	rejected, err := c.post(ctx, "/payments/details", req.Reference, body, &resp)
	if err != nil {
		return connectors.Result{}, err
	}
	if rejected != nil {
		return rejected.result(), nil
	}
	if resp.MerchantReference != "" && resp.MerchantReference != req.ActionReference {
		return connectors.Result{}, fmt.Errorf("adyen: the redirectResult belongs to the payment %q, not to %q", resp.MerchantReference, req.ActionReference)
	}
	return authorizationResult(resp, 0)
}

// Capture implements connectors.Connector with POST
// /payments/{pspReference}/captures. Adyen only acknowledges the request
// (status "received"): the result is Pending, with the capture's own
// pspReference, and the CAPTURE or CAPTURE_FAILED notification settles it.
func (c *Connector) Capture(ctx context.Context, req connectors.CaptureRequest) (connectors.Result, error) {
	body := modificationRequest{MerchantAccount: c.merchantAccount, Reference: req.Reference,
		Amount: &amount{Value: req.Amount, Currency: strings.ToUpper(req.Currency)}}
	return c.modify(ctx, req.ProcessorID, "captures", req.Reference, body, req.Amount)
}

// Void implements connectors.Connector with POST
// /payments/{pspReference}/cancels: Pending until the CANCELLATION
// notification.
func (c *Connector) Void(ctx context.Context, req connectors.VoidRequest) (connectors.Result, error) {
	body := modificationRequest{MerchantAccount: c.merchantAccount, Reference: req.Reference}
	return c.modify(ctx, req.ProcessorID, "cancels", req.Reference, body, 0)
}

// Refund implements connectors.Connector with POST
// /payments/{pspReference}/refunds: Pending until the REFUND (or
// REFUND_FAILED, REFUNDED_REVERSED) notification.
func (c *Connector) Refund(ctx context.Context, req connectors.RefundRequest) (connectors.Result, error) {
	body := modificationRequest{MerchantAccount: c.merchantAccount, Reference: req.Reference,
		Amount: &amount{Value: req.Amount, Currency: strings.ToUpper(req.Currency)}}
	return c.modify(ctx, req.ProcessorID, "refunds", req.Reference, body, req.Amount)
}

func (c *Connector) modify(ctx context.Context, psp, op, reference string, body modificationRequest, amt int64) (connectors.Result, error) {
	if psp == "" {
		return connectors.Result{Outcome: connectors.Failed, FailureCode: "processing_error",
			Message: "No Adyen payment to " + strings.TrimSuffix(op, "s") + ": the authorization has no pspReference."}, nil
	}
	var resp modificationResponse
	rejected, err := c.post(ctx, "/payments/"+url.PathEscape(psp)+"/"+op, reference, body, &resp)
	if err != nil {
		return connectors.Result{}, err
	}
	if rejected != nil {
		return rejected.result(), nil
	}
	if resp.Status != "received" || resp.PSPReference == "" {
		return connectors.Result{}, fmt.Errorf("adyen: %s answered status %q, pspReference %q; the outcome is unknown", op, resp.Status, resp.PSPReference)
	}
	return connectors.Result{Outcome: connectors.Pending, ProcessorID: resp.PSPReference, Amount: amt}, nil
}

// maxIdempotencyKey is Adyen's limit on Idempotency-Key ("API idempotency").
const maxIdempotencyKey = 64

// IdempotencyKey is the Idempotency-Key sent for paygate's reference:
// "paygate:" and the reference when that fits Adyen's 64 printable ASCII
// characters, else "paygate#" and the unpadded base64url SHA-256 of the
// reference (the two forms never collide: their eighth characters differ).
func IdempotencyKey(reference string) string {
	k := "paygate:" + reference
	if len(k) <= maxIdempotencyKey && printableASCII(k) {
		return k
	}
	sum := sha256.Sum256([]byte(reference))
	return "paygate#" + base64.RawURLEncoding.EncodeToString(sum[:])
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// maxResponse bounds what is read of an answer.
const maxResponse = 1 << 20

// post sends one request and classifies the answer (see classify). A 2xx
// answer is decoded into out; a 422 comes back as rejected, a definitive
// refusal that the caller turns into a Failed result.
func (c *Connector) post(ctx context.Context, path, reference string, in, out any) (rejected *serviceError, err error) {
	payload, err := json.Marshal(in)
	if err != nil {
		return nil, connectors.NotProcessed(fmt.Errorf("adyen: encoding %s: %w", path, err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.baseURL+path, bytes.NewReader(payload))
	if err != nil {
		return nil, connectors.NotProcessed(fmt.Errorf("adyen: %s: %w", path, err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-API-Key", c.apiKey)
	req.Header.Set("Idempotency-Key", IdempotencyKey(reference))
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("adyen: POST %s: %w", path, connectors.Transport(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		// The request was answered: whatever it did happened.
		return nil, fmt.Errorf("adyen: POST %s: reading the answer (HTTP %d): %w", path, resp.StatusCode, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if err := json.Unmarshal(body, out); err != nil {
			return nil, fmt.Errorf("adyen: POST %s: HTTP %d with an unreadable answer, the outcome is unknown: %w", path, resp.StatusCode, err)
		}
		return nil, nil
	}
	se := parseServiceError(resp.StatusCode, body)
	se.path = path
	se.transient = resp.Header.Get("Transient-Error") == "true"
	return classify(se)
}

// classify tells what an HTTP error status proves (Adyen's "HTTP status
// codes" page):
//   - 400 (malformed request, "do not repeat the request without first
//     modifying it"), 401 (bad API key), 403 (no permission, e.g. an
//     invalid merchant account: "do not repeat the request"), 404 (no
//     such endpoint: a wrong base URL), 405, 413 and 415: Adyen refused the
//     request before processing it, so it is NotProcessed and the payment
//     may go to another account.
//   - 422, a validation error: the request was refused, nothing moved; a
//     definitive Failed result (processing_error).
//   - 409 (already processed or in progress, e.g. the same Idempotency-Key
//     still in flight), 408, 429 (Adyen's status page does not say the
//     request was not processed), 5xx (Adyen: "the server could not
//     process the request", but also returned for incorrect requests) and
//     anything else: the outcome is unknown.
func classify(se *serviceError) (*serviceError, error) {
	switch se.Status {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound,
		http.StatusMethodNotAllowed, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		return nil, connectors.NotProcessed(se)
	case http.StatusUnprocessableEntity:
		return se, nil
	}
	return nil, se
}

// serviceError is Adyen's error answer (ServiceError in the API).
type serviceError struct {
	Status       int    `json:"status"`
	ErrorCode    string `json:"errorCode"`
	Message      string `json:"message"`
	ErrorType    string `json:"errorType"`
	PSPReference string `json:"pspReference"`

	path      string
	transient bool
}

func parseServiceError(status int, body []byte) *serviceError {
	se := &serviceError{}
	if json.Unmarshal(body, se) != nil || se.Message == "" {
		se.Message = strings.TrimSpace(string(body))
		if len(se.Message) > 200 {
			se.Message = se.Message[:200]
		}
	}
	se.Status = status // the HTTP status is authoritative
	return se
}

func (e *serviceError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "adyen: POST %s: HTTP %d", e.path, e.Status)
	if e.ErrorCode != "" {
		fmt.Fprintf(&b, ", errorCode %s", e.ErrorCode)
	}
	if e.ErrorType != "" {
		fmt.Fprintf(&b, " (%s)", e.ErrorType)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.transient {
		b.WriteString(" [transient: retry with the same Idempotency-Key]")
	}
	return b.String()
}

// result is the Failed result of a request Adyen refused as invalid.
func (e *serviceError) result() connectors.Result {
	msg := "Adyen refused the request"
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.ErrorCode != "" {
		msg += " (errorCode " + e.ErrorCode + ")"
	}
	return connectors.Result{Outcome: connectors.Failed, FailureCode: "processing_error", Message: msg}
}

// Request and answer bodies of the Checkout API (v71).

type amount struct {
	Value    int64  `json:"value"`
	Currency string `json:"currency"`
}

type paymentRequest struct {
	Amount            amount            `json:"amount"`
	Reference         string            `json:"reference"`
	MerchantAccount   string            `json:"merchantAccount"`
	PaymentMethod     map[string]string `json:"paymentMethod"`
	ReturnURL         string            `json:"returnUrl,omitempty"`
	CaptureDelayHours *int              `json:"captureDelayHours,omitempty"`
	AdditionalData    map[string]string `json:"additionalData,omitempty"`
	// Card on file (cardOnFile): Ecommerce or ContAuth, and CardOnFile or
	// UnscheduledCardOnFile.
	ShopperInteraction       string `json:"shopperInteraction,omitempty"`
	RecurringProcessingModel string `json:"recurringProcessingModel,omitempty"`
}

type detailsRequest struct {
	Details map[string]string `json:"details"`
}

type modificationRequest struct {
	MerchantAccount string  `json:"merchantAccount"`
	Amount          *amount `json:"amount,omitempty"`
	Reference       string  `json:"reference"`
}

type modificationResponse struct {
	PSPReference        string `json:"pspReference"`
	PaymentPSPReference string `json:"paymentPspReference"`
	Reference           string `json:"reference"`
	Status              string `json:"status"`
}

// paymentResponse is the answer of /payments and of /payments/details.
type paymentResponse struct {
	ResultCode        string  `json:"resultCode"`
	PSPReference      string  `json:"pspReference"`
	MerchantReference string  `json:"merchantReference"`
	RefusalReason     string  `json:"refusalReason"`
	RefusalReasonCode string  `json:"refusalReasonCode"`
	Amount            *amount `json:"amount"`
	Action            *action `json:"action"`
	// AdditionalData holds, for a card payment, networkTxReference: the
	// scheme's transaction id, for the merchant-initiated ones after it.
	AdditionalData map[string]string `json:"additionalData"`
}

type action struct {
	Type   string `json:"type"`
	URL    string `json:"url"`
	Method string `json:"method"`
}

// paymentMethod is Adyen's paymentMethod object for paygate's method: a
// card's raw data ("scheme"), an Apple Pay or Google Pay token, or PayPal
// through a redirect (subtype "redirect"; Adyen's other subtype, "sdk",
// needs Adyen's component in the customer's browser).
func paymentMethod(m connectors.Method) (pm map[string]string, refusal string) {
	switch {
	case m.Card != nil:
		pm = map[string]string{
			"type":        "scheme",
			"number":      m.Card.Number,
			"expiryMonth": fmt.Sprintf("%02d", m.Card.ExpMonth),
			"expiryYear":  strconv.Itoa(fullYear(m.Card.ExpYear)),
		}
		if m.Card.CVC != "" {
			pm["cvc"] = m.Card.CVC
		}
		if m.Card.HolderName != "" {
			pm["holderName"] = m.Card.HolderName
		}
		return pm, ""
	case m.Wallet != nil:
		switch m.Wallet.Type {
		case "apple_pay":
			return map[string]string{"type": "applepay", "applePayToken": m.Wallet.Token}, ""
		case "google_pay":
			return map[string]string{"type": "googlepay", "googlePayToken": m.Wallet.Token}, ""
		case "paypal":
			return map[string]string{"type": "paypal", "subtype": "redirect"}, ""
		}
		return nil, fmt.Sprintf("The wallet %q is not supported by the Adyen connector.", m.Wallet.Type)
	}
	return nil, "No payment method."
}

func fullYear(y int) int {
	if y < 100 {
		return 2000 + y
	}
	return y
}
