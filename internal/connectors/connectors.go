// Package connectors is the contract between paygate and a payment
// processor. A connector authorizes, captures, voids and refunds, and can
// look a transaction up by the reference paygate sent with it, which is how
// an interrupted operation is finished after a crash or a timeout.
package connectors

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Connector is implemented by every processor integration.
//
// A returned error means the outcome is unknown (timeout, network failure):
// the caller must not treat it as a decline, and must find the outcome later
// with Lookup. The one exception is an error that wraps ErrNotProcessed: it
// proves the processor never took the operation (the connection was
// refused, the name did not resolve, the processor answered that it did
// not process the request), so the payment may be sent to another account.
// A definitive refusal is a Result with a non-success Outcome.
// Every call carries a reference unique to the operation; a connector must
// treat a repeated reference as the same operation (idempotency): it sends
// the processor an idempotency key derived from it.
type Connector interface {
	Name() string
	Authorize(ctx context.Context, req AuthorizeRequest) (Result, error)
	Capture(ctx context.Context, req CaptureRequest) (Result, error)
	Void(ctx context.Context, req VoidRequest) (Result, error)
	Refund(ctx context.Context, req RefundRequest) (Result, error)
	Lookup(ctx context.Context, reference string) (Result, error)
	// CompleteAction finishes an authorization that needed the customer
	// (3-D Secure, a wallet's approval page) once they came back: the
	// processor authorizes, or refuses when the authentication failed.
	CompleteAction(ctx context.Context, req CompleteActionRequest) (Result, error)
}

// CompleteActionRequest reports what the customer did on the processor's
// page for the authorization sent under ActionReference. For the sandbox,
// whose page is paygate's, Approved is the customer's choice; a processor
// with a page of its own is asked for the outcome (Approved is ignored).
type CompleteActionRequest struct {
	Reference       string // of this operation
	ActionReference string // of the authorization that needed the customer
	Approved        bool
	Capture         bool // capture at once when authorized (a sale)
	// Details are the parameters the processor added to paygate's return
	// URL when it sent the customer back (Adyen's redirectResult): the
	// processor's proof of what happened, passed back to it.
	Details map[string]string
}

// ErrNotFound is returned by Lookup for a reference the processor never saw.
var ErrNotFound = errors.New("connectors: no transaction with that reference")

// ErrNoLookup is wrapped by the error of Lookup on a processor that cannot
// look a transaction up by paygate's reference (Adyen), but whose
// idempotency makes sending the operation again under the same reference
// the lookup: it answers the first operation's outcome when that arrived,
// and performs it once when it did not (Adyen keeps keys at least 31
// days). Recovery does so; the processor's notification may also settle
// the operation first.
var ErrNoLookup = errors.New("connectors: the processor cannot look a transaction up; its notification tells the outcome")

// ErrNotProcessed is wrapped by an error that proves the processor did not
// take the operation (see Connector): the only error after which a payment
// may fail over to another account. A timeout never is one.
var ErrNotProcessed = errors.New("connectors: the processor did not take the operation")

// NotProcessed marks err as proof that the operation was not taken.
func NotProcessed(err error) error { return fmt.Errorf("%w: %w", ErrNotProcessed, err) }

// Transport classifies an error of an HTTP call to a processor: one that
// happened before any byte of the request could have reached it (the
// connection refused or reset before it was made, the host name unknown,
// the destination refused by the outgoing-request guard) is NotProcessed;
// any other (a timeout, a connection lost mid-request) is an unknown
// outcome, returned as it is.
func Transport(err error) error {
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &dnsErr):
		return NotProcessed(err)
	case errors.As(err, &opErr) && opErr.Op == "dial" && !opErr.Timeout():
		// Refused, unreachable, or blocked by the dialer's guard: no
		// connection, so no request.
		return NotProcessed(err)
	}
	return err
}

// Outcome of an operation at the processor.
type Outcome string

const (
	Succeeded      Outcome = "succeeded"       // authorized, captured, voided or refunded
	Declined       Outcome = "declined"        // refused by the issuer: a normal result
	Failed         Outcome = "failed"          // a processing error that will not heal on retry
	ActionRequired Outcome = "action_required" // the customer must authenticate first
	// Pending: the processor took the operation and will tell its outcome
	// later, in a notification (Adyen's captures and refunds). The payment
	// or refund waits; recovery asks again now and then (Lookup, or the
	// same operation under its reference, which the processor replays).
	Pending Outcome = "pending"
)

// Card is full card data, in memory only, for the one call that needs it.
type Card struct {
	Number     string
	ExpMonth   int
	ExpYear    int
	CVC        string // empty when the card was stored: CVCs are never kept
	HolderName string
}

// Wallet is a digital wallet's payment token.
type Wallet struct {
	Type  string // apple_pay, google_pay, paypal
	Token string
}

// Method is what a connector charges: exactly one of Card or Wallet.
type Method struct {
	Card   *Card
	Wallet *Wallet
}

// AuthorizeRequest asks the processor to reserve funds.
type AuthorizeRequest struct {
	Reference string
	Amount    int64
	Currency  string
	Method    Method
	ReturnURL string
	// Capture asks for authorization and capture in one operation (a sale).
	Capture bool
	// SetupFutureUsage ("on_session", "off_session"), on a
	// customer-initiated charge: the card will be saved and charged again
	// (a card-on-file agreement); the processor's answer carries the
	// scheme's NetworkTransactionID.
	SetupFutureUsage string
	// OffSession marks a merchant-initiated charge of a saved card, with
	// no customer present to authenticate: NetworkTransactionID is the id
	// of the customer-initiated charge that saved it. A card whose issuer
	// insists on authentication is declined (authentication_required),
	// never ActionRequired.
	OffSession           bool
	NetworkTransactionID string
	// Verify asks for an authorization of 0, to check a card before
	// saving it; nothing is charged, and nothing is left to capture.
	Verify bool
}

// CaptureRequest settles all or part of an authorization.
type CaptureRequest struct {
	Reference   string
	ProcessorID string // of the authorization
	Amount      int64
	Currency    string
}

// VoidRequest releases an authorization.
type VoidRequest struct {
	Reference   string
	ProcessorID string
}

// RefundRequest returns captured money.
type RefundRequest struct {
	Reference   string
	ProcessorID string // of the authorization
	Amount      int64
	Currency    string
}

// Result is the processor's answer to one operation.
type Result struct {
	Outcome     Outcome
	ProcessorID string // the processor's id of this operation
	Amount      int64
	// For Declined and Failed.
	FailureCode string
	DeclineCode string
	Message     string
	// For ActionRequired: where the customer authenticates. It may hold
	// "{token}", which paygate replaces with the payment's single-use
	// token, to tie the customer's return to the payment.
	RedirectURL string
	// NetworkTransactionID, for an authorization that saves a card
	// (SetupFutureUsage, Verify): the scheme's id of this
	// customer-initiated transaction, for the merchant-initiated ones.
	NetworkTransactionID string
}

// Notification is what a processor's webhook reports of one operation:
// paygate's reference of it (the Reference of the request that started it)
// and its outcome.
type Notification struct {
	Reference string
	Result    Result
}

// ErrBadSignature is returned by a WebhookParser for a request that does
// not carry the processor's valid signature (or is too old to trust).
var ErrBadSignature = errors.New("connectors: the webhook is not signed by the processor")

// WebhookParser is implemented by connectors whose processor sends
// webhooks: it verifies a request (in constant time) and tells what it
// reports. Kinds of events paygate does not use give no notification.
type WebhookParser interface {
	ParseWebhook(header http.Header, body []byte, now time.Time) ([]Notification, error)
}

// Config is what a connector of a merchant's processor account needs.
type Config struct {
	// Credentials, as the account was registered: stripe {secret_key,
	// webhook_secret}; adyen {api_key, merchant_account, hmac_key}.
	Credentials map[string]string
	// BaseURL is the processor API's address; "" for the processor's own.
	BaseURL string
	// HTTP is the client for every call: outgoing-request guard, timeout.
	HTTP *http.Client
	// ReturnURL is where the customer comes back to paygate after the
	// processor's own authentication page; "{payment}" is replaced by the
	// payment's id.
	ReturnURL string
}
