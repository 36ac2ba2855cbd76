package payments

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/connectors"
	"github.com/paygate/paygate/internal/events"
	"github.com/paygate/paygate/internal/idempotency"
	"github.com/paygate/paygate/internal/ledger"
	"github.com/paygate/paygate/internal/tenant"
)

// The lifecycle's one home: which action may start from which status, and
// the transition that claims a payment for a connector operation. Where a
// payment goes on the processor's answer is applyResult.

// action is what a request asks of a payment.
type action int

const (
	// changeTerms changes amount, currency, payment_method or
	// capture_method (metadata and description change at any time).
	changeTerms action = iota
	confirmPayment
	capturePayment
	cancelPayment
	// customerStep is the customer's answer on the page behind a link.
	customerStep
)

// startsFrom lists the statuses action may start from.
func (a action) startsFrom() []Status {
	switch a {
	case changeTerms:
		return []Status{RequiresPaymentMethod, RequiresConfirmation}
	case confirmPayment:
		return []Status{RequiresConfirmation}
	case capturePayment:
		return []Status{RequiresCapture}
	case cancelPayment:
		return []Status{RequiresPaymentMethod, RequiresConfirmation, RequiresAction, RequiresCapture}
	case customerStep:
		return []Status{RequiresAction}
	}
	return nil
}

// check refuses action on a payment in status s, with 409
// payment_unexpected_state and a message that says what would do.
func (a action) check(s Status) error {
	if slices.Contains(a.startsFrom(), s) {
		return nil
	}
	switch a {
	case changeTerms:
		return apierror.UnexpectedState("You cannot change the amount, currency, payment_method or capture_method of a payment with status %s; only metadata and description.", s)
	case confirmPayment:
		if s == RequiresPaymentMethod {
			return apierror.UnexpectedState("You cannot confirm a payment with status requires_payment_method; attach a payment method first, or pass payment_method.")
		}
		return apierror.UnexpectedState("You cannot confirm a payment with status %s.", s)
	case capturePayment:
		return apierror.UnexpectedState("You cannot capture a payment with status %s; only one with status requires_capture.", s)
	case customerStep:
		return ErrActionUnavailable
	}
	return apierror.UnexpectedState("You cannot cancel a payment with status %s.", s)
}

// begin claims p for a connector operation: processing op, with the status
// to return to if the processor refuses (a capture or void), and the
// reference the processor sees, under which a repeated call is one
// operation (operationRef, or the customer's choice for customerStep).
// Every connector call goes claim, call, record (finish), so that a crash
// anywhere leaves a payment recovery can finish.
func begin(p *Payment, op, reference string, now time.Time) {
	p.Status, p.PendingOperation, p.ResumeStatus = Processing, op, p.Status
	p.ConnectorReference = reference
	p.UpdatedAt = now
}

// untaken turns an error proving that the processor did not take the
// operation (connectors.ErrNotProcessed) into a failed result: nothing
// happened there, so the operation failed for good, and the payment is
// not left processing for a recovery that could only send it again. Only
// for a first sending: recovery's sending again proves nothing about the
// first.
func untaken(res connectors.Result, err error) (connectors.Result, error) {
	if errors.Is(err, connectors.ErrNotProcessed) {
		return unreached, nil
	}
	return res, err
}

// unreached is the result of an operation the processor provably never
// took. It says nothing of the card: a payment failed so is no decline
// for the card-testing limit, or an outage of a few seconds at the
// processor would slow down every merchant's payments long after it.
var unreached = connectors.Result{Outcome: connectors.Failed, FailureCode: "processing_error", Message: "The processor could not be reached."}

// operationRef is the reference of a payment's operation at the processor.
func operationRef(paymentID, op string) string { return paymentID + ":" + op }

// settle records the connector's answer to op. When the call failed the
// outcome is unknown: the payment stays processing, with its reference,
// until the connector is asked again; it is never marked failed on a guess.
func (s *Service) settle(ctx context.Context, acct tenant.Account, p *Payment, op string, res connectors.Result, err error, call *idempotency.Call) (*Payment, error) {
	if err != nil {
		// Info: the processor's trouble is a warning once per outage
		// (connectors.LogOutages), not once per payment.
		s.log.InfoContext(ctx, "connector outcome unknown", "payment_id", p.ID, "operation", op, "error", err.Error())
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
		if res.Outcome == connectors.Pending {
			// Taken; the outcome comes in the processor's notification.
			// Recovery asks again after the others waiting (the oldest
			// updated_at first).
			if op == OpAuthorize && res.ProcessorID != "" {
				p.ProcessorID = res.ProcessorID
			}
			p.UpdatedAt = now
			return Change{}, nil
		}
		if op == OpAuthorize && p.OffSession && res.Outcome == connectors.ActionRequired {
			// No customer is there to authenticate: a merchant-initiated
			// charge the issuer wants authenticated fails.
			res = offSessionAuthentication
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
		if op == OpAuthorize {
			ch.Settle = attemptOutcome(res)
		}
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
		if op == OpAuthorize {
			if ch.Save, err = savesMethod(p, res, now); err != nil {
				return Change{}, err
			}
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
		if p.Status == Failed && s.Declines != nil && acct.KeyID != "" && res != unreached {
			s.Declines.Declined(acct.KeyID)
		}
	}
	if opErr != nil {
		return nil, opErr
	}
	return p, nil
}

// offSessionAuthentication is the failure of a merchant-initiated charge
// whose issuer asked for the customer's authentication.
var offSessionAuthentication = connectors.Result{Outcome: connectors.Declined, FailureCode: "authentication_required", DeclineCode: "authentication_required",
	Message: "The card's issuer requires the customer to authenticate this payment; bring them back on session."}

// savesMethod is the saving of p's card to its customer, when p asked for
// it (setup_future_usage) and its authorization just went through: in the
// transaction that records it, with the processor's network transaction
// id for later merchant-initiated charges.
func savesMethod(p *Payment, res connectors.Result, now time.Time) (*MethodSave, error) {
	m := p.PaymentMethod
	if p.SetupFutureUsage == "" || p.Customer == "" || m == nil || m.Card == nil || m.Customer != "" || m.Shredded() ||
		(p.Status != Succeeded && p.Status != RequiresCapture) {
		return nil, nil
	}
	saved := *m
	saved.Customer, saved.NetworkTransactionID = p.Customer, res.NetworkTransactionID
	ev, err := events.New(p.MerchantID, events.MethodAttached, m.ID, p.Livemode, &saved, now)
	if err != nil {
		return nil, err
	}
	return &MethodSave{MethodID: m.ID, CustomerID: p.Customer, Fingerprint: m.Card.Fingerprint, ExpMonth: m.Card.ExpMonth, ExpYear: m.Card.ExpYear,
		NetworkTransactionID: res.NetworkTransactionID, At: now, Event: ev}, nil
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
			if res.ProcessorID != "" { // to void it at the processor, if it is canceled
				p.ProcessorID = res.ProcessorID
			}
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
			return resumed(resume), &apierror.Error{Kind: apierror.KindConflict, Code: "capture_failed", Message: "The processor refused the capture: " + res.Message}
		}
		// A partial capture releases the rest of the authorization.
		p.Status, p.AmountReceived, p.AmountCapturable = Succeeded, amount, 0
		return events.PaymentSucceeded, nil
	case OpVoid:
		if res.Outcome != connectors.Succeeded {
			p.Status = resume
			return resumed(resume), &apierror.Error{Kind: apierror.KindConflict, Code: "cancel_failed", Message: "The processor refused to void the authorization: " + res.Message}
		}
		p.Status, p.AmountCapturable, p.CanceledAt = Canceled, 0, &now
		p.NextAction, p.ActionTokenHash, p.ActionExpiresAt = nil, nil, nil
		return events.PaymentCanceled, nil
	}
	return "", fmt.Errorf("unknown operation %q", op)
}

// resumed is the event of a payment back where it was after the processor
// refused a capture or a void: a change of status like any other, and the
// only news a merchant gets of a refusal that came in a notification.
func resumed(s Status) string {
	if s == RequiresCapture {
		return events.PaymentRequiresCapture
	}
	return ""
}

// attemptOutcome is what an authorization's answer makes of its attempt.
func attemptOutcome(res connectors.Result) *AttemptOutcome {
	switch res.Outcome {
	case connectors.Succeeded:
		return &AttemptOutcome{Status: AttemptSucceeded}
	case connectors.ActionRequired:
		return &AttemptOutcome{Status: AttemptRequiresAction}
	}
	code := res.FailureCode
	if code == "" {
		code = "processing_error"
	}
	return &AttemptOutcome{Status: AttemptFailed, FailureCode: code}
}
