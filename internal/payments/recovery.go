package payments

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/paygate/paygate/internal/connectors"
	"github.com/paygate/paygate/internal/idempotency"
	"github.com/paygate/paygate/internal/tenant"
)

// Recovery: finishing an operation whose request died or lost the
// processor's answer, from a retry (resume) or the recovery worker.

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
		return p, p.Status == Succeeded && p.ConnectorReference == operationRef(p.ID, OpCapture), nil
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
	c, err := s.route(ctx, p)
	if err != nil {
		return p, err
	}
	res, err := c.Lookup(ctx, p.ConnectorReference)
	if err == nil {
		s.log.InfoContext(ctx, "payment recovered from the processor's record", "payment_id", p.ID, "operation", op)
		return s.finish(ctx, acct, p.ID, op, res, call)
	}
	switch {
	case errors.Is(err, connectors.ErrNoLookup) && s.now().Sub(p.CreatedAt) > ResendWindow:
		// Past the processor's memory of its keys, sending again could be
		// a second operation: a person decides.
		s.log.ErrorContext(ctx, "payment recovery: outcome unknown past the window for sending again; check it at the processor", "payment_id", p.ID, "operation", op)
		return p, nil
	case errors.Is(err, connectors.ErrNoLookup):
		// The processor's idempotency answers the first operation, or
		// performs it once.
		s.log.InfoContext(ctx, "payment recovery: asking the processor by sending the operation again under its reference", "payment_id", p.ID, "operation", op)
	case errors.Is(err, connectors.ErrNotFound):
		s.log.InfoContext(ctx, "payment recovery: the processor never saw the operation; sending it again", "payment_id", p.ID, "operation", op)
	default:
		s.log.InfoContext(ctx, "payment recovery: processor lookup failed", "payment_id", p.ID, "operation", op, "error", err.Error())
		return p, nil
	}
	switch op {
	case OpAuthorize:
		if strings.Contains(p.ConnectorReference, ":authenticate:") {
			res, err = s.completeAction(ctx, p, nil)
		} else {
			res, err = s.authorize(ctx, c, p, sec)
		}
	case OpCapture:
		res, err = c.Capture(ctx, connectors.CaptureRequest{Reference: p.ConnectorReference, ProcessorID: p.ProcessorID, Amount: p.PendingAmount, Currency: p.Currency})
	case OpVoid:
		res, err = c.Void(ctx, connectors.VoidRequest{Reference: p.ConnectorReference, ProcessorID: p.ProcessorID})
	default:
		return nil, fmt.Errorf("payment %s: unknown pending operation %q", p.ID, op)
	}
	return s.settle(ctx, acct, p, op, res, err, call)
}

// ResendWindow bounds how long after a payment's creation recovery sends
// an operation again to a processor without lookup: within the time it
// keeps idempotency keys (Adyen: at least 31 days), with a margin.
const ResendWindow = 7 * 24 * time.Hour

// touch sends a payment still processing under reference to the back of
// the recovery scan (the oldest updated_at first), so that operations
// recovery cannot finish yet do not hold back the others.
func (s *Service) touch(ctx context.Context, acct tenant.Account, id, reference string) {
	_, err := s.update(ctx, acct, id, func(p *Payment) (Change, error) {
		if p.Status == Processing && p.ConnectorReference == reference {
			p.UpdatedAt = s.now()
		}
		return Change{}, nil
	})
	if err != nil {
		s.log.WarnContext(ctx, "payment recovery: could not reschedule", "payment_id", id, "error", err.Error())
	}
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
		acct := tenant.Of(p.MerchantID, p.Livemode).Acting()
		q, err := s.recoverPayment(ctx, acct, p, secrets{}, nil)
		if err != nil {
			s.log.WarnContext(ctx, "payment recovery failed", "payment_id", p.ID, "error", err.Error())
		}
		if err != nil || q.Status == Processing {
			if err != nil || !q.UpdatedAt.After(p.UpdatedAt) { // a pending answer has moved it already
				s.touch(ctx, acct, p.ID, p.ConnectorReference)
			}
			continue
		}
		n++
	}
	return n, nil
}
