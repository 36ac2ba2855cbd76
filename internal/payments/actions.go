package payments

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/connectors"
	"github.com/paygate/paygate/internal/events"
	"github.com/paygate/paygate/internal/idempotency"
	"github.com/paygate/paygate/internal/ids"
	"github.com/paygate/paygate/internal/tenant"
)

// The actions a request asks of a payment: create, update, confirm,
// capture and cancel, each run as database phases around a connector call.

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
	if err := validateCustomerTerms(in); err != nil {
		return nil, err
	}
	p := &Payment{
		ID: ids.New(ids.Payment), Object: "payment", Amount: *in.Amount, Currency: cur,
		Status: RequiresPaymentMethod, CaptureMethod: CaptureAutomatic, Metadata: map[string]string{},
		Livemode: acct.Livemode, CreatedAt: now, UpdatedAt: now,
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
	if in.Customer != nil {
		p.Customer = *in.Customer
	}
	if in.SetupFutureUsage != nil {
		p.SetupFutureUsage = *in.SetupFutureUsage
	}
	p.OffSession = in.OffSession
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
	if p.Customer != "" {
		if err := s.customerExists(ctx, acct, p.Customer); err != nil {
			return nil, err
		}
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
		if err := checkCustomerMethod(p, m, in.Confirm, now); err != nil {
			return nil, err
		}
		p.PaymentMethod, p.PaymentMethodID, p.Status = m, m.ID, RequiresConfirmation
	}
	ev, err := events.New(p.MerchantID, events.PaymentCreated, p.ID, p.Livemode, p, now)
	if err != nil {
		return nil, err
	}
	ch := Change{NewMethod: newMethod, Events: []events.Event{ev}}
	var routes []Route
	if in.Confirm {
		// Created and claimed for processing in one transaction, with its
		// first attempt: the event shows the payment as created, the row
		// as in flight. This is phase 1 of confirm, a commit saved on the
		// most common call.
		if routes, err = s.routes().Routes(ctx, p); err != nil {
			return nil, err
		}
		begin(p, OpAuthorize, operationRef(p.ID, OpAuthorize), now)
		ch.Attempt = newAttempt(p, routes[0], now)
	}
	if err := s.store.CreatePayment(ctx, p, ch, call); err != nil {
		return nil, err
	}
	s.logChange(ctx, p, "")
	if !in.Confirm {
		return p, nil
	}
	return s.authorizeRouted(ctx, acct, p, sec, routes, call)
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
		if in.Amount != nil || in.Currency != nil || in.PaymentMethod != nil || in.CaptureMethod != nil {
			if err := changeTerms.check(p.Status); err != nil {
				return Change{}, err
			}
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
			if err := checkCustomerMethod(p, method, false, now); err != nil {
				return Change{}, err
			}
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
	// Where it goes: routing looks at amount, currency and the method the
	// payment will have.
	current, err := s.get(ctx, acct, id)
	if err != nil {
		return nil, err
	}
	if method != nil {
		if err := changeTerms.check(current.Status); err != nil {
			return nil, confirmPayment.check(current.Status)
		}
		current.PaymentMethod, current.Status = method, RequiresConfirmation
	}
	if err := confirmPayment.check(current.Status); err != nil {
		return nil, err // checked again under the row lock below
	}
	if current.PaymentMethod != nil {
		if err := checkCustomerMethod(current, current.PaymentMethod, true, now); err != nil {
			return nil, err
		}
	}
	routes, err := s.routes().Routes(ctx, current)
	if err != nil {
		return nil, err
	}
	// Phase 1: claim the payment for processing, so that exactly one
	// request authorizes it, and record the reference sent to the connector
	// and the first attempt.
	var before Status
	p, err := s.update(ctx, acct, id, func(p *Payment) (Change, error) {
		before = p.Status
		var ch Change
		if method != nil {
			// A method given with the confirm is attached first, as a
			// change of terms would.
			if err := changeTerms.check(p.Status); err != nil {
				return Change{}, confirmPayment.check(p.Status)
			}
			p.PaymentMethod, p.PaymentMethodID, p.Status = method, method.ID, RequiresConfirmation
			if isNew {
				ch.NewMethod = method
			}
		}
		if err := confirmPayment.check(p.Status); err != nil {
			return Change{}, err
		}
		if in.ReturnURL != nil {
			p.ReturnURL = *in.ReturnURL
		}
		begin(p, OpAuthorize, operationRef(p.ID, OpAuthorize), now)
		ch.Attempt = newAttempt(p, routes[0], now)
		return ch, nil
	})
	if err != nil {
		return nil, err
	}
	s.logChange(ctx, p, before)
	return s.authorizeRouted(ctx, acct, p, sec, routes, call)
}

var errOpenMethod = errors.New("payment method cannot be opened")

// newAttempt sends p to the account of r, and is the attempt that records it.
func newAttempt(p *Payment, r Route, now time.Time) *Attempt {
	p.Connector, p.ConnectorAccount = r.Name, r.AccountID
	return &Attempt{ID: ids.New(ids.PaymentAttempt), Object: "payment_attempt", Payment: p.ID, ConnectorAccount: r.AccountID,
		Connector: r.Name, Status: AttemptProcessing, CreatedAt: now, UpdatedAt: now}
}

// authorizeRouted sends p's authorization to its first route, and, when an
// account provably did not take it (connectors.ErrNotProcessed), to the
// next, recording each attempt; then phase 2 records the answer. After a
// timeout or any unknown outcome it never goes on: the first account may
// have charged, and recovery finds out.
func (s *Service) authorizeRouted(ctx context.Context, acct tenant.Account, p *Payment, sec secrets, routes []Route, call *idempotency.Call) (*Payment, error) {
	for i := 0; ; i++ {
		res, err := s.authorize(ctx, routes[i].Connector, p, sec)
		if errors.Is(err, errOpenMethod) {
			return nil, err
		}
		s.routes().Observe(routes[i].AccountID, err)
		if errors.Is(err, connectors.ErrNotProcessed) && i+1 < len(routes) {
			s.log.InfoContext(ctx, "the processor did not take the payment; trying the next account", "payment_id", p.ID,
				"connector_account", routes[i].AccountID, "next", routes[i+1].AccountID, "error", err.Error())
			if p, err = s.failOver(ctx, acct, p, routes[i+1]); err != nil {
				return nil, err
			}
			continue
		}
		s.fault(FaultAfterAuthorize)
		// Phase 2: record the answer with its events. No account took
		// it: the payment failed, nothing was charged.
		res, err = untaken(res, err)
		return s.settle(ctx, acct, p, OpAuthorize, res, err, call)
	}
}

// failOver records that the account in flight did not take p's
// authorization and moves p to next, with a new attempt, in one
// transaction. The reference stays: it is another account's.
func (s *Service) failOver(ctx context.Context, acct tenant.Account, p *Payment, next Route) (*Payment, error) {
	now := s.now()
	from := p.ConnectorAccount
	return s.update(ctx, acct, p.ID, func(p *Payment) (Change, error) {
		if p.Status != Processing || p.PendingOperation != OpAuthorize || p.ConnectorAccount != from {
			return Change{}, fmt.Errorf("payment %s moved on during its failover", p.ID)
		}
		ch := Change{Settle: &AttemptOutcome{Status: AttemptNotProcessed, FailureCode: "not_processed"}}
		ch.Attempt = newAttempt(p, next, now)
		p.UpdatedAt = now
		return ch, nil
	})
}

// authorize sends p's authorization through c, under the reference
// recorded in phase 1.
func (s *Service) authorize(ctx context.Context, c connectors.Connector, p *Payment, sec secrets) (connectors.Result, error) {
	cm, err := s.openMethod(p.PaymentMethod, sec)
	if err != nil {
		return connectors.Result{}, fmt.Errorf("%w: %w", errOpenMethod, err)
	}
	req := connectors.AuthorizeRequest{
		Reference: p.ConnectorReference, Amount: p.Amount, Currency: p.Currency, Method: cm,
		ReturnURL: p.ReturnURL, Capture: p.CaptureMethod == CaptureAutomatic,
		SetupFutureUsage: p.SetupFutureUsage, OffSession: p.OffSession,
	}
	if p.OffSession && p.PaymentMethod != nil {
		req.NetworkTransactionID = p.PaymentMethod.NetworkTransactionID
	}
	return c.Authorize(ctx, req)
}

// voidable tells whether canceling p must void it at the processor: an
// authorization, or a payment waiting for its customer at a processor
// account's page (3-D Secure, PayPal), which the customer could otherwise
// still complete there, and be charged for a payment paygate canceled.
func voidable(p *Payment) bool {
	return p.Status == RequiresCapture || (p.Status == RequiresAction && p.ConnectorAccount != "" && p.ProcessorID != "")
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
		if err := capturePayment.check(p.Status); err != nil {
			return Change{}, err
		}
		amount := p.AmountCapturable
		if in.Amount != nil {
			if *in.Amount > p.AmountCapturable {
				return Change{}, apierror.Invalid("amount_too_large", "amount", "The amount to capture (%d) is more than the amount capturable (%d).", *in.Amount, p.AmountCapturable)
			}
			amount = *in.Amount
		}
		begin(p, OpCapture, operationRef(p.ID, OpCapture), now)
		p.PendingAmount = amount
		return Change{}, nil
	})
	if err != nil {
		return nil, err
	}
	s.logChange(ctx, p, before)
	c, err := s.route(ctx, p)
	if err != nil {
		return p, err
	}
	res, err := c.Capture(ctx, connectors.CaptureRequest{Reference: p.ConnectorReference, ProcessorID: p.ProcessorID, Amount: p.PendingAmount, Currency: p.Currency})
	s.fault(FaultAfterCapture)
	res, err = untaken(res, err)
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
		if err := cancelPayment.check(p.Status); err != nil {
			return Change{}, err
		}
		if in.CancellationReason != nil {
			p.CancellationReason = *in.CancellationReason
		}
		p.UpdatedAt = now
		if voidable(p) {
			begin(p, OpVoid, operationRef(p.ID, OpVoid), now)
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
	c, err := s.route(ctx, p)
	if err != nil {
		return p, err
	}
	res, err := c.Void(ctx, connectors.VoidRequest{Reference: p.ConnectorReference, ProcessorID: p.ProcessorID})
	res, err = untaken(res, err)
	return s.settle(ctx, acct, p, OpVoid, res, err, call)
}

// validateCustomerTerms checks customer, setup_future_usage and
// off_session against each other and the method given.
func validateCustomerTerms(in CreateParams) error {
	if err := validateCustomerRef(in.Customer); err != nil {
		return err
	}
	if u := in.SetupFutureUsage; u != nil {
		if *u != OnSession && *u != OffSession {
			return apierror.Invalid("parameter_invalid", "setup_future_usage", "setup_future_usage must be on_session or off_session.")
		}
		if in.Customer == nil {
			return apierror.Invalid("parameter_missing", "customer", "setup_future_usage saves the card to a customer: give customer.")
		}
		if mp := in.PaymentMethod; mp != nil && mp.Inline != nil && mp.Inline.Type != "card" {
			return apierror.Invalid("parameter_invalid", "setup_future_usage", "Only a card can be saved to a customer.")
		}
	}
	if in.OffSession {
		switch {
		case in.Customer == nil:
			return apierror.Invalid("parameter_missing", "customer", "An off-session payment charges a card saved to a customer: give customer.")
		case !in.Confirm:
			return apierror.Invalid("parameter_invalid", "off_session", "off_session is for a payment confirmed at once: give confirm: true.")
		case in.PaymentMethod == nil:
			return apierror.Missing("payment_method")
		case in.PaymentMethod.Inline != nil:
			return apierror.Invalid("parameter_invalid", "payment_method", "An off-session payment charges a saved payment method: give its id (pm_…).")
		}
	}
	return nil
}

// checkCustomerMethod checks that m may pay for p: a method saved to a
// customer pays only for that customer (another's is 404, none is 400); an
// off-session payment needs a method saved to its customer; a detached
// method can never pay (409); and a card about to be charged (charging)
// must not be past its expiry, which is refused before any processor call
// (400 expired_card).
func checkCustomerMethod(p *Payment, m *Method, charging bool, now time.Time) error {
	switch {
	case m.Shredded():
		return methodUnusable(m.ID, "payment_method")
	case m.Customer != "" && p.Customer == "":
		return apierror.Invalid("parameter_missing", "customer", "Payment method %s is saved to a customer: give that customer.", m.ID)
	case m.Customer != "" && m.Customer != p.Customer, p.OffSession && m.Customer != p.Customer:
		e := apierror.NotFound("payment_method", m.ID)
		e.Param = "payment_method"
		if p.OffSession && m.Customer == "" {
			e.Message = fmt.Sprintf("Customer %s has no saved payment method %s.", p.Customer, m.ID)
		}
		return e
	case charging && m.Expired(now):
		return apierror.Invalid("expired_card", "payment_method", "The card of payment method %s expired at the end of %02d/%d; ask the customer for a new card.",
			m.ID, m.Card.ExpMonth, m.Card.ExpYear)
	}
	return nil
}
