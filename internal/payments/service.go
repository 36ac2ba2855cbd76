package payments

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/paygate/paygate/internal/clock"
	"github.com/paygate/paygate/internal/connectors"
	"github.com/paygate/paygate/internal/events"
	"github.com/paygate/paygate/internal/idempotency"
	"github.com/paygate/paygate/internal/ledger"
	"github.com/paygate/paygate/internal/tenant"
	"github.com/paygate/paygate/internal/vault"
)

// ErrNotFound is returned by a Store for a missing object, or one of
// another merchant or of the other mode: the store applies the scope it is
// given to every query.
var ErrNotFound = errors.New("payments: not found")

// Errors of a Store's saved methods.
var (
	ErrCustomerNotFound  = errors.New("payments: no such customer")
	ErrMethodDetached    = errors.New("payments: the payment method was detached")
	ErrMethodAttached    = errors.New("payments: the payment method is saved to another customer")
	ErrMethodNotAttached = errors.New("payments: the payment method is saved to no customer")
)

// Store is the persistence the service needs. Every method that changes
// state does so in one transaction, together with the events it is given.
type Store interface {
	// CreatePayment writes the payment with its change (a new method,
	// events, the first attempt), and call's key when it has one
	// (idempotency.ErrKeyTaken when another request has the key).
	CreatePayment(ctx context.Context, p *Payment, ch Change, call *idempotency.Call) error
	Payment(ctx context.Context, scope tenant.Scope, id string) (*Payment, error)
	Payments(ctx context.Context, scope tenant.Scope, q ListQuery) ([]*Payment, bool, error)
	// UpdatePayment locks the payment, lets fn change it, and writes the
	// payment, fn's new method and events, all or nothing. An error from fn
	// rolls back and is returned as is.
	UpdatePayment(ctx context.Context, scope tenant.Scope, id string, fn func(p *Payment) (Change, error)) (*Payment, error)
	CreateMethod(ctx context.Context, m *Method) error
	Method(ctx context.Context, scope tenant.Scope, id string) (*Method, error)
	// CustomerExists tells whether the scope has the customer, not
	// deleted (ErrCustomerNotFound otherwise).
	CustomerExists(ctx context.Context, scope tenant.Scope, id string) error
	// SaveMethod saves a method to a customer, in one transaction under
	// the customer's row lock: m is inserted first when isNew, or must be
	// the scope's (ErrNotFound), not detached (ErrMethodDetached) nor
	// saved to another customer (ErrMethodAttached). When the customer
	// already has a card with m's fingerprint, that one is returned
	// (existed) and m is not saved: one method per card per customer.
	// Otherwise m is attached. fn gives the events to write with it.
	SaveMethod(ctx context.Context, scope tenant.Scope, customerID string, m *Method, isNew bool, now time.Time,
		fn func(saved *Method, existed bool) ([]events.Event, error)) (*Method, error)
	// DetachMethod detaches a saved method from its customer and destroys
	// its sealed data, with fn's events (ErrNotFound, ErrMethodNotAttached).
	DetachMethod(ctx context.Context, scope tenant.Scope, id string, now time.Time, fn func(m *Method) ([]events.Event, error)) (*Method, error)
	// CustomerMethods lists the methods saved to a customer, newest first.
	CustomerMethods(ctx context.Context, scope tenant.Scope, customerID string, q MethodListQuery) ([]*Method, bool, error)
	// StalePayments lists payments of every merchant processing since
	// before cutoff, oldest first.
	StalePayments(ctx context.Context, cutoff time.Time, limit int) ([]*Payment, error)
	// PaymentAttempts lists a payment's attempts, oldest first.
	PaymentAttempts(ctx context.Context, scope tenant.Scope, paymentID string) ([]*Attempt, error)
	// PaymentForProcessor finds a payment by id alone, of any merchant:
	// the customer's return from a processor's page names it.
	PaymentForProcessor(ctx context.Context, id string) (*Payment, error)
	// PaymentByActionToken finds, across merchants, the payment whose
	// customer link holds the token with this hash.
	PaymentByActionToken(ctx context.Context, hash []byte) (*Payment, error)
	// ExpiredActions lists payments whose customer link expired before
	// cutoff, oldest first.
	ExpiredActions(ctx context.Context, cutoff time.Time, limit int) ([]*Payment, error)
}

// Change is what a state change writes beside the payment row.
type Change struct {
	NewMethod *Method
	Events    []events.Event
	Ledger    []ledger.Transaction
	// Answer, when set, is the request's answer, to store under its key
	// in the same transaction (idempotency.Call.AnswerFor).
	Answer *idempotency.KeyResponse
	// Attempt, when set, is a new authorization attempt to record; Settle,
	// the outcome of the payment's attempt in flight.
	Attempt *Attempt
	Settle  *AttemptOutcome
	// Save, when set, saves the payment's card to its customer: written
	// under the customer's row lock, unless the customer already has that
	// card (then the saved one gets the new expiry and network
	// transaction id) or was deleted meanwhile.
	Save *MethodSave
}

// MethodSave is the saving of a payment's card to its customer, with the
// payment_method.attached event written only if the card is attached.
type MethodSave struct {
	MethodID             string
	CustomerID           string
	Fingerprint          string
	ExpMonth, ExpYear    int
	NetworkTransactionID string
	At                   time.Time
	Event                events.Event
}

// AttemptOutcome settles a payment's attempt in flight.
type AttemptOutcome struct {
	Status      AttemptStatus
	FailureCode string
}

// Route is one processor account a payment may go to, with its connector.
type Route struct {
	AccountID string // "" for the built-in sandbox
	Name      string // the connector's name: sandbox, stripe, adyen
	Connector connectors.Connector
}

// Connectors finds the connectors of a merchant's processor accounts.
type Connectors interface {
	// Routes lists the accounts to try for a payment, in order; none is
	// an error for the caller (400 no_connector).
	Routes(ctx context.Context, p *Payment) ([]Route, error)
	// Route is an account's connector ("" is the built-in sandbox): where
	// what follows a payment's authorization goes.
	Route(ctx context.Context, accountID string) (Route, error)
	// Observe tells how a call to an account ended, for the breaker that
	// skips an account which keeps failing.
	Observe(accountID string, err error)
}

// builtinOnly sends everything to one connector: a Service wired without
// routing.
type builtinOnly struct{ c connectors.Connector }

func (b builtinOnly) Routes(context.Context, *Payment) ([]Route, error) {
	return []Route{{Name: b.c.Name(), Connector: b.c}}, nil
}
func (b builtinOnly) Route(context.Context, string) (Route, error) {
	return Route{Name: b.c.Name(), Connector: b.c}, nil
}
func (b builtinOnly) Observe(string, error) {}

// ListQuery selects a page of payments, newest first.
type ListQuery struct {
	Limit         int
	StartingAfter string
	EndingBefore  string
	Status        Status
	CreatedGTE    *time.Time
	CreatedLTE    *time.Time
	// The dashboard's search: the payment's amount (minor units), the
	// last 4 digits of its card (or a wallet's card), its customer's
	// email.
	Amount *int64
	Last4  string
	Email  string
}

// Sealer encrypts card data and fingerprints card numbers.
type Sealer interface {
	Seal(plaintext []byte, aad string) (vault.Sealed, error)
	Open(s vault.Sealed, aad string) ([]byte, error)
	Fingerprint(number string) string
	// DeriveKey returns a key of its own for a purpose, stable across
	// rotations of the encryption keys.
	DeriveKey(purpose string) []byte
}

// WalletDecoder is implemented by connectors that can tell which card a
// wallet token stands for.
type WalletDecoder interface {
	DecodeWallet(walletType, token string) (brand, funding, last4 string, ok bool)
}

// Service runs the payment lifecycle.
type Service struct {
	store Store
	// builtin is the built-in connector: it tells which card a wallet
	// token stands for, and takes every payment when Routes is not set.
	builtin connectors.Connector
	sealer  Sealer
	log     *slog.Logger
	now     func() time.Time
	linkKey []byte
	// Declines, when set, hears of every declined attempt.
	Declines DeclineRecorder
	// ActionExpiry is how long a customer has to authenticate (3-D Secure,
	// a wallet's approval page) before the payment is canceled; 0 means
	// 30 minutes.
	ActionExpiry time.Duration
	// OnStatus, when set, hears of every status a payment enters (metrics).
	OnStatus func(status Status, methodType string)
	// Fault, when set, is called at the named points between a connector's
	// answer and its recording; crash tests set it (through a test-only
	// setting) to stop the process exactly there.
	Fault func(point string)
	// Routes chooses each payment's processor accounts (package routing);
	// nil sends every payment to the built-in connector.
	Routes Connectors
}

// routes is s.Routes, or the built-in connector alone.
func (s *Service) routes() Connectors {
	if s.Routes == nil {
		return builtinOnly{s.builtin}
	}
	return s.Routes
}

// route is the connector of the account p's authorization went to.
func (s *Service) route(ctx context.Context, p *Payment) (connectors.Connector, error) {
	r, err := s.routes().Route(ctx, p.ConnectorAccount)
	if err != nil {
		return nil, fmt.Errorf("payment %s: %w", p.ID, err)
	}
	return r.Connector, nil
}

// Fault points.
const (
	FaultAfterAuthorize = "after_authorize"
	FaultAfterCapture   = "after_capture"
)

func (s *Service) fault(point string) {
	if s.Fault != nil {
		s.Fault(point)
	}
}

// NewService wires a Service.
func NewService(store Store, connector connectors.Connector, sealer Sealer, log *slog.Logger) *Service {
	return &Service{store: store, builtin: connector, sealer: sealer, log: log, now: clock.Now, linkKey: sealer.DeriveKey(LinkKeyPurpose)}
}

// The API's view of a payment. The public methods below answer with it:
// a payment waiting for its customer shows the customer's link, which the
// database never holds (see customerLink).

// Create makes a payment, and processes it at once with confirm. call,
// when the request has an Idempotency-Key, is written with the payment.
func (s *Service) Create(ctx context.Context, acct tenant.Account, in CreateParams, call *idempotency.Call) (*Payment, error) {
	return s.withLink(s.create(ctx, acct, in, call))
}

// Get retrieves a payment.
func (s *Service) Get(ctx context.Context, acct tenant.Account, id string) (*Payment, error) {
	return s.withLink(s.get(ctx, acct, id))
}

// List returns a page of payments, newest first.
func (s *Service) List(ctx context.Context, acct tenant.Account, q ListQuery) ([]*Payment, bool, error) {
	ps, more, err := s.store.Payments(ctx, acct.Scope, q)
	for _, p := range ps {
		_, _ = s.withLink(p, nil)
	}
	return ps, more, err
}

// Update changes a payment's details; the amount, currency, method and
// capture method only before confirmation.
func (s *Service) Update(ctx context.Context, acct tenant.Account, id string, in UpdateParams) (*Payment, error) {
	return s.withLink(s.updateDetails(ctx, acct, id, in))
}

// Confirm processes a payment: authorize, and capture at once for
// automatic capture.
func (s *Service) Confirm(ctx context.Context, acct tenant.Account, id string, in ConfirmParams, call *idempotency.Call) (*Payment, error) {
	return s.withLink(s.confirmRequest(ctx, acct, id, in, call))
}

// Capture settles an authorized payment, fully or partly.
func (s *Service) Capture(ctx context.Context, acct tenant.Account, id string, in CaptureParams, call *idempotency.Call) (*Payment, error) {
	return s.withLink(s.capture(ctx, acct, id, in, call))
}

// Cancel cancels a payment before capture (voiding an authorization).
func (s *Service) Cancel(ctx context.Context, acct tenant.Account, id string, in CancelParams, call *idempotency.Call) (*Payment, error) {
	return s.withLink(s.cancel(ctx, acct, id, in, call))
}

// CompleteAction records what the customer did on the page behind a link,
// and continues processing.
func (s *Service) CompleteAction(ctx context.Context, token string, approved bool) (*Payment, error) {
	return s.withLink(s.completeCustomerAction(ctx, token, approved))
}

// DeclineRecorder is told of every declined payment attempt, to slow down
// card testing.
type DeclineRecorder interface {
	Declined(keyID string)
}

// secrets is card data held in memory for one request only.
type secrets struct {
	cvc string
}

// firstError is the first failed validation, in the order given.
func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// logChange writes the one log line of a state change, with the business
// fields operators filter on; never card data.
func (s *Service) logChange(ctx context.Context, p *Payment, from Status) {
	brand, funding := p.PaymentMethod.Funding()
	attrs := []any{
		"payment_id", p.ID, "merchant_id", p.MerchantID, "from", string(from), "to", string(p.Status),
		"amount", p.Amount, "currency", p.Currency, "capture_method", p.CaptureMethod, "connector", p.Connector,
	}
	if m := p.PaymentMethod; m != nil {
		attrs = append(attrs, "payment_method_type", m.Type)
		if m.Wallet != nil {
			attrs = append(attrs, "wallet_type", m.Wallet.Type)
		}
		if brand != "" {
			attrs = append(attrs, "card_brand", brand, "card_funding", funding)
		}
	}
	if p.Status == Failed {
		attrs = append(attrs, "failure_code", p.FailureCode, "decline_code", p.DeclineCode)
	}
	s.log.InfoContext(ctx, "payment status changed", attrs...)
	if s.OnStatus != nil {
		methodType := ""
		if p.PaymentMethod != nil {
			methodType = p.PaymentMethod.Type
		}
		s.OnStatus(p.Status, methodType)
	}
}
