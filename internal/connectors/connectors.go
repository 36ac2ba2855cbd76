// Package connectors is the contract between paygate and a payment
// processor. A connector authorizes, captures, voids and refunds, and can
// look a transaction up by the reference paygate sent with it, which is how
// an interrupted operation is finished after a crash or a timeout.
package connectors

import (
	"context"
	"errors"
)

// Connector is implemented by every processor integration.
//
// A returned error means the outcome is unknown (timeout, network failure):
// the caller must not treat it as a decline, and must find the outcome later
// with Lookup. A definitive refusal is a Result with a non-success Outcome.
// Every call carries a reference unique to the operation; a connector must
// treat a repeated reference as the same operation (idempotency).
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
// page for the authorization sent under ActionReference.
type CompleteActionRequest struct {
	Reference       string // of this operation
	ActionReference string // of the authorization that needed the customer
	Approved        bool
	Capture         bool // capture at once when authorized (a sale)
}

// ErrNotFound is returned by Lookup for a reference the processor never saw.
var ErrNotFound = errors.New("connectors: no transaction with that reference")

// Outcome of an operation at the processor.
type Outcome string

const (
	Succeeded      Outcome = "succeeded"       // authorized, captured, voided or refunded
	Declined       Outcome = "declined"        // refused by the issuer: a normal result
	Failed         Outcome = "failed"          // a processing error that will not heal on retry
	ActionRequired Outcome = "action_required" // the customer must authenticate first
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
}
