package payments

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/connectors"
	"github.com/paygate/paygate/internal/tenant"
)

// What a processor tells paygate on its own: the customer's return from
// the processor's page, and its notifications (webhooks). Both go through
// the transitions of a synchronous answer (finish): the same events, the
// same ledger entries, in one transaction.

// Attempts lists a payment's authorization attempts, oldest first.
func (s *Service) Attempts(ctx context.Context, acct tenant.Account, id string) ([]*Attempt, error) {
	if _, err := s.get(ctx, acct, id); err != nil {
		return nil, err
	}
	return s.store.PaymentAttempts(ctx, acct.Scope, id)
}

// ProcessorReturn is the customer back from a processor's own page (3-D
// Secure, a wallet's approval), at paygate's return URL: paygate asks the
// processor how it went and records it. The payment's id in the URL is no
// credential: coming back only makes paygate ask the processor. The
// payment is returned to send the customer on to the merchant. details are
// the parameters the processor added to the return URL, passed back to it.
func (s *Service) ProcessorReturn(ctx context.Context, paymentID string, details map[string]string) (*Payment, error) {
	p0, err := s.store.PaymentForProcessor(ctx, paymentID)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrActionUnavailable
	}
	if err != nil {
		return nil, err
	}
	if p0.Status != RequiresAction || p0.ConnectorAccount == "" {
		return p0, nil // decided already (a notification came first), or the sandbox's own page
	}
	acct := tenant.Of(p0.MerchantID, p0.Livemode).Acting()
	p, err := s.claimAction(ctx, acct, p0.ID, returnRef(details), nil)
	if errors.Is(err, ErrActionUnavailable) {
		return s.get(ctx, acct, p0.ID)
	}
	if err != nil {
		return nil, err
	}
	res, err := untaken(s.completeAction(ctx, p, details))
	s.fault(FaultAfterAuthorize)
	if err == nil && (res.Outcome == connectors.Pending || res.Outcome == connectors.Failed) {
		// The processor decided nothing from this return: none of its
		// parameters, or ones it refused (anyone may call this address
		// with a payment's id). The payment waits for its customer again:
		// the real return, or the processor's notification, decides it.
		s.log.InfoContext(ctx, "a return the processor decided nothing from", "payment_id", p.ID, "outcome", string(res.Outcome), "failure_code", res.FailureCode)
		return s.unclaimAction(ctx, acct, p0, p.ConnectorReference)
	}
	return s.settle(ctx, acct, p, OpAuthorize, res, err, nil)
}

// unclaimAction puts a payment that claimAction moved to processing under
// reference back to waiting for its customer, as before (was).
func (s *Service) unclaimAction(ctx context.Context, acct tenant.Account, was *Payment, reference string) (*Payment, error) {
	return s.update(ctx, acct, was.ID, func(p *Payment) (Change, error) {
		if p.Status != Processing || p.ConnectorReference != reference {
			return Change{}, nil // settled meanwhile (a notification)
		}
		p.Status, p.PendingOperation, p.ResumeStatus = RequiresAction, "", ""
		p.ConnectorReference = was.ConnectorReference
		p.NextAction, p.ActionTokenHash, p.ActionExpiresAt = was.NextAction, was.ActionTokenHash, was.ActionExpiresAt
		p.UpdatedAt = s.now()
		return Change{}, nil
	})
}

// returnRef names a return in the operation's reference: by its
// parameters, so that the same return sent twice is one operation at the
// processor, and another (after one it decided nothing from) is another.
func returnRef(details map[string]string) string {
	if len(details) == 0 {
		return "return"
	}
	keys := make([]string, 0, len(details))
	for k := range details {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%d:%s%d:%s", len(k), k, len(details[k]), details[k])
	}
	return "return-" + hex.EncodeToString(h.Sum(nil)[:8])
}

// claimAction moves a payment that waits for its customer to processing
// the customer's step, provided check (when not nil) passes under the row
// lock; how is in the reference, for recovery.
func (s *Service) claimAction(ctx context.Context, acct tenant.Account, id, how string, check func(p *Payment, now time.Time) error) (*Payment, error) {
	now := s.now()
	var before Status
	p, err := s.update(ctx, acct, id, func(p *Payment) (Change, error) {
		before = p.Status
		if err := customerStep.check(p.Status); err != nil {
			return Change{}, err
		}
		if check != nil {
			if err := check(p, now); err != nil {
				return Change{}, err
			}
		}
		p.ActionTokenHash, p.ActionExpiresAt, p.NextAction = nil, nil, nil
		begin(p, OpAuthorize, p.ID+":authenticate:"+how, now)
		return Change{}, nil
	})
	if err != nil {
		return nil, err
	}
	s.logChange(ctx, p, before)
	return p, nil
}

// Notify applies a processor's notification about an operation of one of
// accountID's payments. A notification about an operation the payment no
// longer waits for (a duplicate, one that came after the synchronous
// answer) changes nothing. It reports whether the reference named a
// payment of the account.
func (s *Service) Notify(ctx context.Context, scope tenant.Scope, accountID string, n connectors.Notification) (bool, error) {
	id, op, ok := strings.Cut(n.Reference, ":")
	if !ok || !strings.HasPrefix(id, "pay_") {
		return false, nil
	}
	if strings.HasPrefix(op, "authenticate") {
		op = OpAuthorize
	}
	acct := scope.Acting()
	p, err := s.get(ctx, acct, id)
	if e, isAPI := apierror.As(err); isAPI && e.Kind == apierror.KindNotFound {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if p.ConnectorAccount != accountID {
		return false, nil // not this account's to tell
	}
	if op == OpAuthorize && p.Status == RequiresAction {
		// Decided on the processor's page before the customer came back.
		if p, err = s.claimAction(ctx, acct, id, "notified", nil); errors.Is(err, ErrActionUnavailable) {
			return true, nil
		} else if err != nil {
			return true, err
		}
	}
	if p.Status != Processing || p.PendingOperation != op {
		return true, nil
	}
	_, err = s.finish(ctx, acct, id, op, n.Result, nil)
	if _, refused := apierror.As(err); refused {
		// A capture or void the processor refused: recorded (the payment
		// is back where it was); an error only for a request to answer.
		s.log.WarnContext(ctx, "the processor refused an operation", "payment_id", id, "operation", op, "error", err.Error())
		return true, nil
	}
	if err != nil {
		return true, fmt.Errorf("payment %s: %w", id, err)
	}
	return true, nil
}
