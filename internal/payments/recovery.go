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
