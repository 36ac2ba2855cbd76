package payments

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/cards"
	"github.com/paygate/paygate/internal/clock"
	"github.com/paygate/paygate/internal/connectors"
	"github.com/paygate/paygate/internal/events"
	"github.com/paygate/paygate/internal/idempotency"
	"github.com/paygate/paygate/internal/ids"
	"github.com/paygate/paygate/internal/ledger"
	"github.com/paygate/paygate/internal/tenant"
	"github.com/paygate/paygate/internal/vault"
)

// ErrNotFound is returned by a Store for a missing object, or one of
// another merchant or of the other mode: the store applies the scope it is
// given to every query.
var ErrNotFound = errors.New("payments: not found")

// Store is the persistence the service needs. Every method that changes
// state does so in one transaction, together with the events it is given.
type Store interface {
	// CreatePayment writes the payment, with call's key when it has one
	// (idempotency.ErrKeyTaken when another request has the key).
	CreatePayment(ctx context.Context, p *Payment, newMethod *Method, evs []events.Event, call *idempotency.Call) error
	Payment(ctx context.Context, scope tenant.Scope, id string) (*Payment, error)
	Payments(ctx context.Context, scope tenant.Scope, q ListQuery) ([]*Payment, bool, error)
	// UpdatePayment locks the payment, lets fn change it, and writes the
	// payment, fn's new method and events, all or nothing. An error from fn
	// rolls back and is returned as is.
	UpdatePayment(ctx context.Context, scope tenant.Scope, id string, fn func(p *Payment) (Change, error)) (*Payment, error)
	CreateMethod(ctx context.Context, m *Method) error
	Method(ctx context.Context, scope tenant.Scope, id string) (*Method, error)
	// StalePayments lists payments of every merchant processing since
	// before cutoff, oldest first.
	StalePayments(ctx context.Context, cutoff time.Time, limit int) ([]*Payment, error)
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
}

// ListQuery selects a page of payments, newest first.
type ListQuery struct {
	Limit         int
	StartingAfter string
	EndingBefore  string
	Status        Status
	CreatedGTE    *time.Time
	CreatedLTE    *time.Time
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
	store     Store
	connector connectors.Connector
	sealer    Sealer
	log       *slog.Logger
	now       func() time.Time
	linkKey   []byte
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
	return &Service{store: store, connector: connector, sealer: sealer, log: log, now: clock.Now, linkKey: sealer.DeriveKey(LinkKeyPurpose)}
}

// LinkKeyPurpose names the key customer links are derived with
// (vault.Keyring.DeriveKey).
const LinkKeyPurpose = "customer link v1"

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

// withLink puts the customer's link into a payment that waits for one: the
// stored link has "{token}" where the token goes, and the token is derived
// from the payment with a server key, so the database never holds it.
func (s *Service) withLink(p *Payment, err error) (*Payment, error) {
	if err != nil || p == nil || p.NextAction == nil || p.NextAction.RedirectToURL == nil || p.ActionExpiresAt == nil {
		return p, err
	}
	r := *p.NextAction.RedirectToURL
	if !strings.Contains(r.URL, linkToken) {
		return p, nil // a processor's own page, or a link issued before links were derived
	}
	r.URL = strings.ReplaceAll(r.URL, linkToken, s.customerLink(p.ID, *p.ActionExpiresAt))
	p.NextAction = &NextAction{Type: p.NextAction.Type, RedirectToURL: &r}
	return p, nil
}

// linkToken marks where the token goes in a connector's redirect URL.
const linkToken = "{token}"

// customerLink is the single-use token of a payment's customer link that
// expires at until: an HMAC under a key of its own, so that it can be shown
// again (retrieve, list) without being stored. The database keeps only its
// SHA-256, to find the payment when the customer comes back.
func (s *Service) customerLink(paymentID string, until time.Time) string {
	m := hmac.New(sha256.New, s.linkKey)
	m.Write([]byte(paymentID))
	m.Write([]byte{0})
	m.Write([]byte(strconv.FormatInt(until.Unix(), 10)))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// eventView is a payment as an event records it: without its customer's
// link, a bearer credential that stored events and webhook deliveries must
// not carry (the payment, retrieved, shows it).
func eventView(p *Payment) *Payment {
	if p.NextAction == nil || p.NextAction.RedirectToURL == nil {
		return p
	}
	v := *p
	r := *p.NextAction.RedirectToURL
	r.URL = ""
	v.NextAction = &NextAction{Type: p.NextAction.Type, RedirectToURL: &r}
	return &v
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

// create creates a payment and, when asked, confirms it at once.
func (s *Service) create(ctx context.Context, acct tenant.Account, in CreateParams, call *idempotency.Call) (*Payment, error) {
	now := s.now()
	if err := ValidateAmount(in.Amount, "amount"); err != nil {
		return nil, err
	}
	cur, err := validateCurrency(in.Currency)
	if err != nil {
		return nil, err
	}
	if err := firstError(validateCaptureMethod(in.CaptureMethod), validateDescription(in.Description),
		ValidateMetadata(in.Metadata), validateReturnURL(in.ReturnURL)); err != nil {
		return nil, err
	}
	digits, err := validateMethodRef(in.PaymentMethod, in.Confirm, now)
	if err != nil {
		return nil, err
	}
	if in.Confirm && in.PaymentMethod == nil {
		return nil, apierror.Missing("payment_method")
	}
	p := &Payment{
		ID: ids.New(ids.Payment), Object: "payment", Amount: *in.Amount, Currency: cur,
		Status: RequiresPaymentMethod, CaptureMethod: CaptureAutomatic, Metadata: map[string]string{},
		Connector: s.connector.Name(), Livemode: acct.Livemode, CreatedAt: now, UpdatedAt: now,
		MerchantID: acct.MerchantID,
	}
	if in.CaptureMethod != nil {
		p.CaptureMethod = *in.CaptureMethod
	}
	if in.Description != nil {
		p.Description = *in.Description
	}
	for k, v := range in.Metadata {
		if v != "" {
			p.Metadata[k] = v
		}
	}
	if in.ReturnURL != nil {
		p.ReturnURL = *in.ReturnURL
	}
	var sec secrets
	if in.PaymentMethod != nil && in.PaymentMethod.Inline != nil && in.PaymentMethod.Inline.Card != nil {
		sec.cvc = in.PaymentMethod.Inline.Card.CVC
	}
	// A retry of a create that got as far as making the payment continues
	// with that payment instead of making another.
	if call != nil && call.ResourceID != "" {
		p, err := s.get(ctx, acct, call.ResourceID)
		if err != nil || !in.Confirm {
			return p, err
		}
		return s.confirm(ctx, acct, p.ID, ConfirmParams{}, sec, call)
	}
	var newMethod *Method
	if in.PaymentMethod != nil {
		m, isNew, err := s.resolveMethod(ctx, acct, in.PaymentMethod, digits, now)
		if err != nil {
			return nil, err
		}
		if isNew {
			newMethod = m
		}
		p.PaymentMethod, p.PaymentMethodID, p.Status = m, m.ID, RequiresConfirmation
	}
	ev, err := events.New(p.MerchantID, events.PaymentCreated, p.ID, p.Livemode, p, now)
	if err != nil {
		return nil, err
	}
	if in.Confirm {
		// Created and claimed for processing in one transaction: the
		// event shows the payment as created, the row as in flight. This
		// is phase 1 of confirm, a commit saved on the most common call.
		p.Status, p.PendingOperation, p.ResumeStatus = Processing, OpAuthorize, RequiresConfirmation
		p.ConnectorReference = p.ID + ":" + OpAuthorize
	}
	if err := s.store.CreatePayment(ctx, p, newMethod, []events.Event{ev}, call); err != nil {
		return nil, err
	}
	s.logChange(ctx, p, "")
	if !in.Confirm {
		return p, nil
	}
	res, err := s.authorize(ctx, p, sec)
	if errors.Is(err, errOpenMethod) {
		return nil, err
	}
	s.fault(FaultAfterAuthorize)
	return s.settle(ctx, acct, p, OpAuthorize, res, err, call)
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

// CreateMethod tokenizes a card or wallet for later use.
func (s *Service) CreateMethod(ctx context.Context, acct tenant.Account, d *MethodData) (*Method, error) {
	now := s.now()
	digits, err := ValidateMethod(d, false, "", now)
	if err != nil {
		return nil, err
	}
	m, err := s.newMethod(acct, d, digits, now)
	if err != nil {
		return nil, err
	}
	if err := s.store.CreateMethod(ctx, m); err != nil {
		return nil, err
	}
	return m, nil
}

// Method retrieves a payment method.
func (s *Service) Method(ctx context.Context, acct tenant.Account, id string) (*Method, error) {
	m, err := s.store.Method(ctx, acct.Scope, id)
	if errors.Is(err, ErrNotFound) {
		return nil, apierror.NotFound("payment_method", id)
	}
	return m, err
}

// resolveMethod returns the method a parameter names: an existing one of the
// merchant's, or a new one built (not yet stored) from inline data.
func (s *Service) resolveMethod(ctx context.Context, acct tenant.Account, mp *MethodParam, digits string, now time.Time) (m *Method, isNew bool, err error) {
	if mp.Inline == nil {
		m, err := s.Method(ctx, acct, mp.ID)
		if e, ok := errors.AsType[*apierror.Error](err); ok && e.Kind == apierror.KindNotFound {
			e.Param = "payment_method" // the request's parameter, not the path's id
		}
		return m, false, err
	}
	m, err = s.newMethod(acct, mp.Inline, digits, now)
	return m, true, err
}

func (s *Service) newMethod(acct tenant.Account, d *MethodData, digits string, now time.Time) (*Method, error) {
	m := &Method{ID: ids.New(ids.PaymentMethod), Object: "payment_method", Type: d.Type, Livemode: acct.Livemode, CreatedAt: now, MerchantID: acct.MerchantID}
	var secret []byte
	switch {
	case d.Card != nil:
		info := cards.Describe(digits)
		m.First6 = info.First6
		m.Card = &CardDetails{Brand: string(info.Brand), Last4: info.Last4, ExpMonth: d.Card.ExpMonth, ExpYear: d.Card.ExpYear,
			Funding: string(info.Funding), Fingerprint: s.sealer.Fingerprint(digits), HolderName: d.Card.HolderName}
		secret = []byte(digits)
	case d.Wallet != nil:
		m.Wallet = &WalletDetails{Type: d.Wallet.Type}
		if wd, ok := s.connector.(WalletDecoder); ok {
			if brand, funding, last4, ok := wd.DecodeWallet(d.Wallet.Type, d.Wallet.Token); ok {
				m.Wallet.Card = &CardDetails{Brand: brand, Funding: funding, Last4: last4}
			}
		}
		secret = []byte(d.Wallet.Token)
	}
	if len(secret) > 0 {
		sealed, err := s.sealer.Seal(secret, m.ID)
		if err != nil {
			return nil, fmt.Errorf("seal payment method: %w", err)
		}
		m.Secret = sealed
	}
	return m, nil
}

// get retrieves a payment as stored.
func (s *Service) get(ctx context.Context, acct tenant.Account, id string) (*Payment, error) {
	p, err := s.store.Payment(ctx, acct.Scope, id)
	if errors.Is(err, ErrNotFound) {
		return nil, apierror.NotFound("payment", id)
	}
	return p, err
}

// update runs fn on the locked payment and maps a missing payment to a 404.
func (s *Service) update(ctx context.Context, acct tenant.Account, id string, fn func(p *Payment) (Change, error)) (*Payment, error) {
	p, err := s.store.UpdatePayment(ctx, acct.Scope, id, fn)
	if errors.Is(err, ErrNotFound) {
		return nil, apierror.NotFound("payment", id)
	}
	return p, err
}

// updateDetails changes a payment's details; the amount, currency, method
// and capture method only before confirmation.
func (s *Service) updateDetails(ctx context.Context, acct tenant.Account, id string, in UpdateParams) (*Payment, error) {
	now := s.now()
	var cur string
	var err error
	if in.Amount != nil {
		if err := ValidateAmount(in.Amount, "amount"); err != nil {
			return nil, err
		}
	}
	if in.Currency != nil {
		if cur, err = validateCurrency(in.Currency); err != nil {
			return nil, err
		}
	}
	if err := firstError(validateCaptureMethod(in.CaptureMethod), validateDescription(in.Description), ValidateMetadata(in.Metadata)); err != nil {
		return nil, err
	}
	digits, err := validateMethodRef(in.PaymentMethod, false, now)
	if err != nil {
		return nil, err
	}
	var method *Method
	var isNew bool
	if in.PaymentMethod != nil {
		if method, isNew, err = s.resolveMethod(ctx, acct, in.PaymentMethod, digits, now); err != nil {
			return nil, err
		}
	}
	before := Status("")
	p, err := s.update(ctx, acct, id, func(p *Payment) (Change, error) {
		before = p.Status
		restricted := in.Amount != nil || in.Currency != nil || in.PaymentMethod != nil || in.CaptureMethod != nil
		if restricted && p.Status != RequiresPaymentMethod && p.Status != RequiresConfirmation {
			return Change{}, apierror.UnexpectedState("You cannot change the amount, currency, payment_method or capture_method of a payment with status %s; only metadata and description.", p.Status)
		}
		var ch Change
		if in.Amount != nil {
			p.Amount = *in.Amount
		}
		if in.Currency != nil {
			p.Currency = cur
		}
		if in.CaptureMethod != nil {
			p.CaptureMethod = *in.CaptureMethod
		}
		if in.Description != nil {
			p.Description = *in.Description
		}
		if in.Metadata != nil {
			md, err := mergeMetadata(p.Metadata, in.Metadata)
			if err != nil {
				return Change{}, err
			}
			p.Metadata = md
		}
		if method != nil {
			p.PaymentMethod, p.PaymentMethodID, p.Status = method, method.ID, RequiresConfirmation
			if isNew {
				ch.NewMethod = method
			}
		}
		p.UpdatedAt = now
		return ch, nil
	})
	if err != nil {
		return nil, err
	}
	if p.Status != before {
		s.logChange(ctx, p, before)
	}
	return p, nil
}

// confirmRequest authorizes the payment at the connector, and captures it at once
// when its capture method is automatic.
func (s *Service) confirmRequest(ctx context.Context, acct tenant.Account, id string, in ConfirmParams, call *idempotency.Call) (*Payment, error) {
	if err := validateReturnURL(in.ReturnURL); err != nil {
		return nil, err
	}
	var sec secrets
	if in.PaymentMethod != nil && in.PaymentMethod.Inline != nil && in.PaymentMethod.Inline.Card != nil {
		sec.cvc = in.PaymentMethod.Inline.Card.CVC
	}
	return s.confirm(ctx, acct, id, in, sec, call)
}

func (s *Service) confirm(ctx context.Context, acct tenant.Account, id string, in ConfirmParams, sec secrets, call *idempotency.Call) (*Payment, error) {
	now := s.now()
	digits, err := validateMethodRef(in.PaymentMethod, true, now)
	if err != nil {
		return nil, err
	}
	if p, done, err := s.resume(ctx, acct, id, OpAuthorize, sec, call); done {
		return p, err
	}
	var method *Method
	var isNew bool
	if in.PaymentMethod != nil {
		if method, isNew, err = s.resolveMethod(ctx, acct, in.PaymentMethod, digits, now); err != nil {
			return nil, err
		}
	}
	// Phase 1: claim the payment for processing, so that exactly one
	// request authorizes it, and record the reference sent to the connector.
	var before Status
	p, err := s.update(ctx, acct, id, func(p *Payment) (Change, error) {
		before = p.Status
		var ch Change
		if method != nil {
			if p.Status != RequiresPaymentMethod && p.Status != RequiresConfirmation {
				return Change{}, apierror.UnexpectedState("You cannot confirm a payment with status %s.", p.Status)
			}
			p.PaymentMethod, p.PaymentMethodID, p.Status = method, method.ID, RequiresConfirmation
			if isNew {
				ch.NewMethod = method
			}
		}
		switch p.Status {
		case RequiresConfirmation:
		case RequiresPaymentMethod:
			return Change{}, apierror.UnexpectedState("You cannot confirm a payment with status requires_payment_method; attach a payment method first, or pass payment_method.")
		default:
			return Change{}, apierror.UnexpectedState("You cannot confirm a payment with status %s.", p.Status)
		}
		if in.ReturnURL != nil {
			p.ReturnURL = *in.ReturnURL
		}
		p.Status, p.PendingOperation, p.ResumeStatus = Processing, OpAuthorize, RequiresConfirmation
		p.ConnectorReference = p.ID + ":" + OpAuthorize
		p.UpdatedAt = now
		return ch, nil
	})
	if err != nil {
		return nil, err
	}
	s.logChange(ctx, p, before)
	res, err := s.authorize(ctx, p, sec)
	if errors.Is(err, errOpenMethod) {
		return nil, err
	}
	s.fault(FaultAfterAuthorize)
	// Phase 2: record the answer with its events.
	return s.settle(ctx, acct, p, OpAuthorize, res, err, call)
}

var errOpenMethod = errors.New("payment method cannot be opened")

// authorize sends p's authorization, under the reference recorded in phase 1.
func (s *Service) authorize(ctx context.Context, p *Payment, sec secrets) (connectors.Result, error) {
	cm, err := s.openMethod(p.PaymentMethod, sec)
	if err != nil {
		return connectors.Result{}, fmt.Errorf("%w: %w", errOpenMethod, err)
	}
	return s.connector.Authorize(ctx, connectors.AuthorizeRequest{
		Reference: p.ConnectorReference, Amount: p.Amount, Currency: p.Currency, Method: cm,
		ReturnURL: p.ReturnURL, Capture: p.CaptureMethod == CaptureAutomatic,
	})
}

// resume handles a retried request whose earlier attempt stopped part-way
// (call.Resumed). When the payment is processing op, the
// operation is finished from the processor's record; when op already
// happened, the payment is the answer. done is false when the request
// should run as a new one.
func (s *Service) resume(ctx context.Context, acct tenant.Account, id, op string, sec secrets, call *idempotency.Call) (p *Payment, done bool, err error) {
	if call == nil || !call.Resumed {
		return nil, false, nil
	}
	p, err = s.get(ctx, acct, id)
	if err != nil {
		return nil, false, nil // the request itself reports it
	}
	if p.Status == Processing && p.PendingOperation == op {
		p, err = s.recoverPayment(ctx, acct, p, sec, call)
		return p, true, err
	}
	switch op {
	case OpAuthorize:
		attempted := p.ConnectorReference != ""
		return p, attempted && p.Status != RequiresConfirmation && p.Status != RequiresPaymentMethod && p.Status != Processing, nil
	case OpCapture:
		return p, p.Status == Succeeded && p.ConnectorReference == p.ID+":"+OpCapture, nil
	case OpVoid:
		return p, p.Status == Canceled, nil
	}
	return p, false, nil
}

// recoverPayment finishes the operation p is processing, whose request died
// or lost the processor's answer. The processor is asked for its record of
// the operation's reference; when it has none, the operation never reached
// it and is sent again under the same reference, which a processor treats
// as one operation however often it arrives. A re-sent authorization
// carries the CVC only when the retried request brought one: paygate never
// stores it.
func (s *Service) recoverPayment(ctx context.Context, acct tenant.Account, p *Payment, sec secrets, call *idempotency.Call) (*Payment, error) {
	op := p.PendingOperation
	res, err := s.connector.Lookup(ctx, p.ConnectorReference)
	if err == nil {
		s.log.InfoContext(ctx, "payment recovered from the processor's record", "payment_id", p.ID, "operation", op)
		return s.finish(ctx, acct, p.ID, op, res, call)
	}
	if !errors.Is(err, connectors.ErrNotFound) {
		s.log.WarnContext(ctx, "payment recovery: processor lookup failed", "payment_id", p.ID, "operation", op, "error", err.Error())
		return p, nil
	}
	s.log.InfoContext(ctx, "payment recovery: the processor never saw the operation; sending it again", "payment_id", p.ID, "operation", op)
	switch op {
	case OpAuthorize:
		if strings.Contains(p.ConnectorReference, ":authenticate:") {
			res, err = s.completeAction(ctx, p)
		} else {
			res, err = s.authorize(ctx, p, sec)
		}
	case OpCapture:
		res, err = s.connector.Capture(ctx, connectors.CaptureRequest{Reference: p.ConnectorReference, ProcessorID: p.ProcessorID, Amount: p.PendingAmount, Currency: p.Currency})
	case OpVoid:
		res, err = s.connector.Void(ctx, connectors.VoidRequest{Reference: p.ConnectorReference, ProcessorID: p.ProcessorID})
	default:
		return nil, fmt.Errorf("payment %s: unknown pending operation %q", p.ID, op)
	}
	return s.settle(ctx, acct, p, op, res, err, call)
}

// RecoverStale finishes payments of every merchant that have been
// processing since before cutoff; the recovery worker of every instance
// calls it. Recovery is idempotent, so instances may overlap. It returns
// how many payments left processing.
func (s *Service) RecoverStale(ctx context.Context, cutoff time.Time) (int, error) {
	ps, err := s.store.StalePayments(ctx, cutoff, 100)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range ps {
		q, err := s.recoverPayment(ctx, tenant.Of(p.MerchantID, p.Livemode).Acting(), p, secrets{}, nil)
		if err != nil {
			s.log.WarnContext(ctx, "payment recovery failed", "payment_id", p.ID, "error", err.Error())
			continue
		}
		if q.Status != Processing {
			n++
		}
	}
	return n, nil
}

// openMethod decrypts what the connector needs; only here does a card
// number exist in clear after the request that brought it.
func (s *Service) openMethod(m *Method, sec secrets) (connectors.Method, error) {
	if m == nil {
		return connectors.Method{}, errors.New("payment has no payment method")
	}
	var secret []byte
	if len(m.Secret.Data) > 0 {
		var err error
		if secret, err = s.sealer.Open(m.Secret, m.ID); err != nil {
			return connectors.Method{}, fmt.Errorf("open payment method %s: %w", m.ID, err)
		}
	}
	switch {
	case m.Card != nil:
		return connectors.Method{Card: &connectors.Card{Number: string(secret), ExpMonth: m.Card.ExpMonth, ExpYear: m.Card.ExpYear, CVC: sec.cvc, HolderName: m.Card.HolderName}}, nil
	case m.Wallet != nil:
		return connectors.Method{Wallet: &connectors.Wallet{Type: m.Wallet.Type, Token: string(secret)}}, nil
	}
	return connectors.Method{}, errors.New("payment method has neither card nor wallet")
}

// settle records the connector's answer to op. When the call failed the
// outcome is unknown: the payment stays processing, with its reference,
// until the connector is asked again; it is never marked failed on a guess.
func (s *Service) settle(ctx context.Context, acct tenant.Account, p *Payment, op string, res connectors.Result, err error, call *idempotency.Call) (*Payment, error) {
	if err != nil {
		s.log.WarnContext(ctx, "connector outcome unknown", "payment_id", p.ID, "operation", op, "error", err.Error())
		return p, nil
	}
	return s.finish(ctx, acct, p.ID, op, res, call)
}

// finish records a connector's answer to the operation in flight. It is
// idempotent: when the payment no longer waits for op, nothing changes.
func (s *Service) finish(ctx context.Context, acct tenant.Account, id, op string, res connectors.Result, call *idempotency.Call) (*Payment, error) {
	// The processor has acted: record it even if the client has gone.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	now := s.now()
	var before Status
	var opErr error
	var answer *idempotency.KeyResponse
	// The payment as this transaction leaves it is what the request
	// answers, unless the operation failed: its answer goes in the same
	// commit.
	withAnswer := func(p *Payment, ch Change) Change {
		if a, ok := call.AnswerFor(p); ok && opErr == nil {
			ch.Answer, answer = &a, &a
		}
		return ch
	}
	p, err := s.update(ctx, acct, id, func(p *Payment) (Change, error) {
		before = p.Status
		if p.Status != Processing || p.PendingOperation != op {
			return withAnswer(p, Change{}), nil
		}
		received := p.AmountReceived
		evType, err := applyResult(p, op, res, now)
		if err != nil {
			opErr = err
		}
		if p.Status == RequiresAction {
			if err := s.issueActionLink(p, res.RedirectURL, now); err != nil {
				return Change{}, err
			}
		}
		var ch Change
		if captured := p.AmountReceived - received; captured > 0 {
			ch.Ledger = append(ch.Ledger, ledger.Capture(p.MerchantID, p.ID, p.Currency, p.Livemode, captured, now))
		}
		if evType != "" {
			ev, err := events.New(p.MerchantID, evType, p.ID, p.Livemode, eventView(p), now)
			if err != nil {
				return Change{}, err
			}
			ch.Events = append(ch.Events, ev)
		}
		return withAnswer(p, ch), nil
	})
	if err != nil {
		return nil, err
	}
	if answer != nil {
		call.Answered(*answer)
	}
	if p.Status != before {
		s.logChange(ctx, p, before)
		if p.Status == Failed && s.Declines != nil && acct.KeyID != "" {
			s.Declines.Declined(acct.KeyID)
		}
	}
	if opErr != nil {
		return nil, opErr
	}
	return p, nil
}

// applyResult is the state machine's processing step: it moves a payment out
// of processing according to the connector's answer and names the event.
// A refused capture or void returns the payment to where it was, with an
// error for the caller.
func applyResult(p *Payment, op string, res connectors.Result, now time.Time) (string, error) {
	p.UpdatedAt = now
	p.PendingOperation = ""
	resume := p.ResumeStatus
	p.ResumeStatus = ""
	switch op {
	case OpAuthorize:
		switch res.Outcome {
		case connectors.Succeeded:
			p.ProcessorID = res.ProcessorID
			if p.CaptureMethod == CaptureAutomatic {
				p.Status, p.AmountReceived, p.AmountCapturable = Succeeded, p.Amount, 0
				return events.PaymentSucceeded, nil
			}
			p.Status, p.AmountCapturable = RequiresCapture, p.Amount
			return events.PaymentRequiresCapture, nil
		case connectors.ActionRequired:
			p.Status = RequiresAction
			p.NextAction = &NextAction{Type: "redirect_to_url", RedirectToURL: &RedirectToURL{URL: res.RedirectURL, ReturnURL: p.ReturnURL}}
			return events.PaymentRequiresAction, nil
		default:
			p.Status, p.AmountCapturable = Failed, 0
			p.FailureCode, p.DeclineCode, p.FailureMessage = res.FailureCode, res.DeclineCode, res.Message
			if p.FailureCode == "" {
				p.FailureCode = "processing_error"
			}
			return events.PaymentFailed, nil
		}
	case OpCapture:
		amount := p.PendingAmount
		p.PendingAmount = 0
		if res.Outcome != connectors.Succeeded {
			p.Status = resume
			return "", &apierror.Error{Kind: apierror.KindConflict, Code: "capture_failed", Message: "The processor refused the capture: " + res.Message}
		}
		// A partial capture releases the rest of the authorization.
		p.Status, p.AmountReceived, p.AmountCapturable = Succeeded, amount, 0
		return events.PaymentSucceeded, nil
	case OpVoid:
		if res.Outcome != connectors.Succeeded {
			p.Status = resume
			return "", &apierror.Error{Kind: apierror.KindConflict, Code: "cancel_failed", Message: "The processor refused to void the authorization: " + res.Message}
		}
		p.Status, p.AmountCapturable, p.CanceledAt = Canceled, 0, &now
		return events.PaymentCanceled, nil
	}
	return "", fmt.Errorf("unknown operation %q", op)
}

// issueActionLink gives a payment that waits for its customer a fresh
// single-use link: the payment keeps the connector's URL with "{token}"
// where the token goes, and the token's hash to find the payment on return;
// the token itself is derived when the payment is shown (withLink).
func (s *Service) issueActionLink(p *Payment, redirectURL string, now time.Time) error {
	expiry := s.ActionExpiry
	if expiry <= 0 {
		expiry = 30 * time.Minute
	}
	until := now.Add(expiry)
	h := sha256.Sum256([]byte(s.customerLink(p.ID, until)))
	p.ActionTokenHash, p.ActionExpiresAt = h[:], &until
	p.NextAction.RedirectToURL.URL = redirectURL
	return nil
}

// ErrActionUnavailable is returned for a customer link that is unknown,
// used, or expired.
var ErrActionUnavailable = errors.New("payments: this link is unknown, used or expired")

// ActionPayment returns the payment behind a customer link, while the link
// is usable.
func (s *Service) ActionPayment(ctx context.Context, token string) (*Payment, error) {
	h := sha256.Sum256([]byte(token))
	p, err := s.store.PaymentByActionToken(ctx, h[:])
	if errors.Is(err, ErrNotFound) {
		return nil, ErrActionUnavailable
	}
	if err != nil {
		return nil, err
	}
	if p.Status != RequiresAction || p.ActionExpiresAt == nil || s.now().After(*p.ActionExpiresAt) {
		return nil, ErrActionUnavailable
	}
	return p, nil
}

// completeCustomerAction records what the customer did on the authentication page
// behind a link, and continues processing: the processor authorizes (and
// captures, for automatic capture) or refuses. The link works once.
func (s *Service) completeCustomerAction(ctx context.Context, token string, approved bool) (*Payment, error) {
	p0, err := s.ActionPayment(ctx, token)
	if err != nil {
		return nil, err
	}
	acct := tenant.Of(p0.MerchantID, p0.Livemode).Acting()
	h := sha256.Sum256([]byte(token))
	choice := "decline"
	if approved {
		choice = "approve"
	}
	now := s.now()
	var before Status
	p, err := s.update(ctx, acct, p0.ID, func(p *Payment) (Change, error) {
		before = p.Status
		if p.Status != RequiresAction || !bytes.Equal(p.ActionTokenHash, h[:]) || p.ActionExpiresAt == nil || now.After(*p.ActionExpiresAt) {
			return Change{}, ErrActionUnavailable
		}
		p.ActionTokenHash, p.ActionExpiresAt, p.NextAction = nil, nil, nil
		p.Status, p.PendingOperation, p.ResumeStatus = Processing, OpAuthorize, RequiresAction
		// The customer's choice is in the reference, so that recovery can
		// send it again if the process dies before the processor hears it.
		p.ConnectorReference = p.ID + ":authenticate:" + choice
		p.UpdatedAt = now
		return Change{}, nil
	})
	if err != nil {
		return nil, err
	}
	s.logChange(ctx, p, before)
	res, err := s.completeAction(ctx, p)
	s.fault(FaultAfterAuthorize)
	return s.settle(ctx, acct, p, OpAuthorize, res, err, nil)
}

func (s *Service) completeAction(ctx context.Context, p *Payment) (connectors.Result, error) {
	return s.connector.CompleteAction(ctx, connectors.CompleteActionRequest{
		Reference: p.ConnectorReference, ActionReference: p.ID + ":" + OpAuthorize,
		Approved: strings.HasSuffix(p.ConnectorReference, ":approve"), Capture: p.CaptureMethod == CaptureAutomatic,
	})
}

// ExpireActions cancels payments whose customer never came back before
// their link expired (cancellation_reason abandoned), with their event. It
// returns how many it canceled.
func (s *Service) ExpireActions(ctx context.Context, now time.Time) (int, error) {
	ps, err := s.store.ExpiredActions(ctx, now, 100)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p0 := range ps {
		p, err := s.update(ctx, tenant.Of(p0.MerchantID, p0.Livemode).Acting(), p0.ID, func(p *Payment) (Change, error) {
			if p.Status != RequiresAction || p.ActionExpiresAt == nil || !p.ActionExpiresAt.Before(now) {
				return Change{}, nil
			}
			t := s.now()
			p.Status, p.CanceledAt, p.CancellationReason, p.UpdatedAt = Canceled, &t, "abandoned", t
			p.NextAction, p.ActionTokenHash, p.ActionExpiresAt = nil, nil, nil
			ev, err := events.New(p.MerchantID, events.PaymentCanceled, p.ID, p.Livemode, p, t)
			return Change{Events: []events.Event{ev}}, err
		})
		if err != nil {
			s.log.WarnContext(ctx, "expiring a payment's customer link failed", "payment_id", p0.ID, "error", err.Error())
			continue
		}
		if p.Status == Canceled {
			s.logChange(ctx, p, RequiresAction)
			n++
		}
	}
	return n, nil
}

// capture settles an authorized payment, fully or partly.
func (s *Service) capture(ctx context.Context, acct tenant.Account, id string, in CaptureParams, call *idempotency.Call) (*Payment, error) {
	if in.Amount != nil {
		if err := ValidateAmount(in.Amount, "amount"); err != nil {
			return nil, err
		}
	}
	if p, done, err := s.resume(ctx, acct, id, OpCapture, secrets{}, call); done {
		return p, err
	}
	now := s.now()
	var before Status
	p, err := s.update(ctx, acct, id, func(p *Payment) (Change, error) {
		before = p.Status
		if p.Status != RequiresCapture {
			return Change{}, apierror.UnexpectedState("You cannot capture a payment with status %s; only one with status requires_capture.", p.Status)
		}
		amount := p.AmountCapturable
		if in.Amount != nil {
			if *in.Amount > p.AmountCapturable {
				return Change{}, apierror.Invalid("amount_too_large", "amount", "The amount to capture (%d) is more than the amount capturable (%d).", *in.Amount, p.AmountCapturable)
			}
			amount = *in.Amount
		}
		p.Status, p.PendingOperation, p.PendingAmount, p.ResumeStatus = Processing, OpCapture, amount, RequiresCapture
		p.ConnectorReference = p.ID + ":" + OpCapture
		p.UpdatedAt = now
		return Change{}, nil
	})
	if err != nil {
		return nil, err
	}
	s.logChange(ctx, p, before)
	res, err := s.connector.Capture(ctx, connectors.CaptureRequest{Reference: p.ConnectorReference, ProcessorID: p.ProcessorID, Amount: p.PendingAmount, Currency: p.Currency})
	s.fault(FaultAfterCapture)
	return s.settle(ctx, acct, p, OpCapture, res, err, call)
}

// cancel cancels a payment before capture, voiding its authorization.
func (s *Service) cancel(ctx context.Context, acct tenant.Account, id string, in CancelParams, call *idempotency.Call) (*Payment, error) {
	if err := validateCancellationReason(in.CancellationReason); err != nil {
		return nil, err
	}
	if p, done, err := s.resume(ctx, acct, id, OpVoid, secrets{}, call); done {
		return p, err
	}
	now := s.now()
	var before Status
	p, err := s.update(ctx, acct, id, func(p *Payment) (Change, error) {
		before = p.Status
		switch p.Status {
		case RequiresPaymentMethod, RequiresConfirmation, RequiresAction, RequiresCapture:
		default:
			return Change{}, apierror.UnexpectedState("You cannot cancel a payment with status %s.", p.Status)
		}
		if in.CancellationReason != nil {
			p.CancellationReason = *in.CancellationReason
		}
		p.UpdatedAt = now
		if p.Status == RequiresCapture {
			p.Status, p.PendingOperation, p.ResumeStatus = Processing, OpVoid, RequiresCapture
			p.ConnectorReference = p.ID + ":" + OpVoid
			return Change{}, nil
		}
		p.Status, p.CanceledAt, p.NextAction = Canceled, &now, nil
		p.ActionTokenHash, p.ActionExpiresAt = nil, nil
		ev, err := events.New(p.MerchantID, events.PaymentCanceled, p.ID, p.Livemode, p, now)
		return Change{Events: []events.Event{ev}}, err
	})
	if err != nil {
		return nil, err
	}
	s.logChange(ctx, p, before)
	if p.Status != Processing {
		return p, nil
	}
	res, err := s.connector.Void(ctx, connectors.VoidRequest{Reference: p.ConnectorReference, ProcessorID: p.ProcessorID})
	return s.settle(ctx, acct, p, OpVoid, res, err, call)
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
