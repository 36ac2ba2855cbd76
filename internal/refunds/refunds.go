// Package refunds returns captured money to customers. A refund reserves
// its amount on the payment before the processor is called, so that the
// succeeded and pending refunds of a payment never exceed what was captured,
// however many arrive at once.
package refunds

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/clock"
	"github.com/paygate/paygate/internal/connectors"
	"github.com/paygate/paygate/internal/events"
	"github.com/paygate/paygate/internal/idempotency"
	"github.com/paygate/paygate/internal/ids"
	"github.com/paygate/paygate/internal/ledger"
	"github.com/paygate/paygate/internal/payments"
	"github.com/paygate/paygate/internal/tenant"
)

// Status of a refund.
type Status string

// Statuses.
const (
	Pending   Status = "pending"
	Succeeded Status = "succeeded"
	Failed    Status = "failed"
	Canceled  Status = "canceled"
)

// Refund is the refund resource as the API renders it.
type Refund struct {
	ID            string            `json:"id"`
	Object        string            `json:"object"`
	Amount        int64             `json:"amount"`
	Currency      string            `json:"currency"`
	PaymentID     string            `json:"payment_id"`
	Status        Status            `json:"status"`
	Reason        string            `json:"reason,omitempty"`
	Metadata      map[string]string `json:"metadata"`
	FailureReason string            `json:"failure_reason,omitempty"`
	Livemode      bool              `json:"livemode"`
	CreatedAt     time.Time         `json:"created_at"`
	UpdatedAt     time.Time         `json:"updated_at"`

	MerchantID  string `json:"-"`
	ProcessorID string `json:"-"`
}

// CreateParams is the body of POST /v1/refunds.
type CreateParams struct {
	PaymentID *string           `json:"payment_id"`
	Amount    *int64            `json:"amount"`
	Reason    *string           `json:"reason"`
	Metadata  map[string]string `json:"metadata"`
}

// ListQuery selects a page of refunds, newest first.
type ListQuery struct {
	Limit         int
	StartingAfter string
	EndingBefore  string
	PaymentID     string
}

// Writes is what a refund's change writes beside the rows.
type Writes struct {
	Events []events.Event
	Ledger []ledger.Transaction
}

// ErrNotFound is returned by a Store for a missing refund or payment.
var ErrNotFound = errors.New("refunds: not found")

// Store is the persistence refunds need. Both changing methods lock the
// payment first, so refunds of one payment are serialized.
type Store interface {
	// BeginRefund locks the payment, lets fn build the refund and change
	// the payment's amounts, and writes it all in one transaction.
	BeginRefund(ctx context.Context, scope tenant.Scope, paymentID string, call *idempotency.Call, fn func(p *payments.Payment) (*Refund, Writes, error)) (*Refund, error)
	// FinishRefund locks the refund's payment, lets fn settle the refund,
	// and writes both with fn's writes.
	FinishRefund(ctx context.Context, scope tenant.Scope, refundID string, fn func(r *Refund, p *payments.Payment) (Writes, error)) (*Refund, error)
	Refund(ctx context.Context, scope tenant.Scope, id string) (*Refund, error)
	Refunds(ctx context.Context, scope tenant.Scope, q ListQuery) ([]*Refund, bool, error)
	// StaleRefunds lists refunds of every merchant pending since before
	// cutoff, oldest first.
	StaleRefunds(ctx context.Context, cutoff time.Time, limit int) ([]*Refund, error)
	Payment(ctx context.Context, scope tenant.Scope, id string) (*payments.Payment, error)
}

// Service creates and reads refunds.
type Service struct {
	store   Store
	builtin connectors.Connector
	log     *slog.Logger
	// Fault: see payments.Service.
	Fault func(point string)
	// Routes finds the connector of the account that authorized a payment
	// (a refund goes there); nil means the built-in connector.
	Routes Router
}

// Router finds the connector of a processor account ("" is the built-in
// sandbox).
type Router interface {
	Route(ctx context.Context, accountID string) (payments.Route, error)
}

// connector is the connector of the account that authorized p.
func (s *Service) connector(ctx context.Context, p *payments.Payment) (connectors.Connector, error) {
	if s.Routes == nil {
		return s.builtin, nil
	}
	r, err := s.Routes.Route(ctx, p.ConnectorAccount)
	if err != nil {
		return nil, fmt.Errorf("payment %s: %w", p.ID, err)
	}
	return r.Connector, nil
}

// FaultAfterRefund is the point between the processor's answer to a refund
// and its recording.
const FaultAfterRefund = "after_refund"

// NewService wires a Service.
func NewService(store Store, connector connectors.Connector, log *slog.Logger) *Service {
	return &Service{store: store, builtin: connector, log: log}
}

var validReasons = map[string]bool{"duplicate": true, "fraudulent": true, "requested_by_customer": true}

// Create refunds all that remains of a payment, or amount of it.
func (s *Service) Create(ctx context.Context, acct tenant.Account, in CreateParams, call *idempotency.Call) (*Refund, error) {
	if in.PaymentID == nil || *in.PaymentID == "" {
		return nil, apierror.Missing("payment_id")
	}
	if in.Amount != nil {
		if err := payments.ValidateAmount(in.Amount, "amount"); err != nil {
			return nil, err
		}
	}
	if in.Reason != nil && !validReasons[*in.Reason] {
		return nil, apierror.Invalid("parameter_invalid", "reason", "reason must be one of duplicate, fraudulent, requested_by_customer.")
	}
	if err := payments.ValidateMetadata(in.Metadata); err != nil {
		return nil, err
	}
	// A retry of a request that got as far as making the refund finishes
	// that refund instead of making another.
	if call != nil && call.ResourceID != "" {
		r, err := s.Get(ctx, acct, call.ResourceID)
		if err != nil || r.Status != Pending {
			return r, err
		}
		return s.recoverRefund(ctx, acct, r)
	}
	now := clock.Now()
	var authorization string // the payment's id at the processor
	var paid *payments.Payment
	r, err := s.store.BeginRefund(ctx, acct.Scope, *in.PaymentID, call, func(p *payments.Payment) (*Refund, Writes, error) {
		if p.Status != payments.Succeeded {
			return nil, Writes{}, apierror.UnexpectedState("You cannot refund a payment with status %s; only a succeeded (captured) one.", p.Status)
		}
		remaining := p.AmountReceived - p.AmountRefunded - p.AmountRefundPending
		if remaining <= 0 {
			return nil, Writes{}, &apierror.Error{Kind: apierror.KindConflict, Code: "charge_already_refunded",
				Message: "The payment has already been refunded in full (counting refunds in progress)."}
		}
		amount := remaining
		if in.Amount != nil {
			if *in.Amount > remaining {
				return nil, Writes{}, apierror.Invalid("amount_too_large", "amount", "The refund amount (%d) is more than what remains refundable (%d).", *in.Amount, remaining)
			}
			amount = *in.Amount
		}
		r := &Refund{ID: ids.New(ids.Refund), Object: "refund", Amount: amount, Currency: p.Currency, PaymentID: p.ID,
			Status: Pending, Metadata: map[string]string{}, Livemode: p.Livemode, CreatedAt: now, UpdatedAt: now, MerchantID: p.MerchantID,
		}
		if in.Reason != nil {
			r.Reason = *in.Reason
		}
		for k, v := range in.Metadata {
			if v != "" {
				r.Metadata[k] = v
			}
		}
		p.AmountRefundPending += amount
		p.UpdatedAt = now
		authorization, paid = p.ProcessorID, p
		ev, err := events.New(r.MerchantID, events.RefundCreated, r.ID, r.Livemode, r, now)
		return r, Writes{Events: []events.Event{ev}, Ledger: []ledger.Transaction{ledger.RefundCreated(r.MerchantID, r.ID, r.Currency, r.Livemode, amount, now)}}, err
	})
	if errors.Is(err, ErrNotFound) {
		e := apierror.NotFound("payment", *in.PaymentID)
		e.Param = "payment_id"
		return nil, e
	}
	if err != nil {
		return nil, err
	}
	s.logChange(ctx, r)
	c, err := s.connector(ctx, paid)
	if err != nil {
		return nil, err
	}
	res, err := c.Refund(ctx, connectors.RefundRequest{Reference: r.ID, ProcessorID: authorization, Amount: r.Amount, Currency: r.Currency})
	if s.Fault != nil {
		s.Fault(FaultAfterRefund)
	}
	if errors.Is(err, connectors.ErrNotProcessed) {
		// Provably not taken: the refund failed, nothing moved.
		s.log.InfoContext(ctx, "the processor did not take the refund", "refund_id", r.ID, "error", err.Error())
		res, err = connectors.Result{Outcome: connectors.Failed, FailureCode: "processing_error", Message: "The processor could not be reached."}, nil
	}
	if err != nil {
		// Unknown outcome: the refund stays pending, its amount reserved,
		// until the processor is asked again.
		s.log.InfoContext(ctx, "connector refund outcome unknown", "refund_id", r.ID, "error", err.Error())
		return r, nil
	}
	return s.finish(ctx, acct, r.ID, res)
}

// finish settles a pending refund with the processor's answer; a refund
// already settled is left as it is.
func (s *Service) finish(ctx context.Context, acct tenant.Account, id string, res connectors.Result) (*Refund, error) {
	// The processor has acted: record it even if the client has gone.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	now := clock.Now()
	changed := false
	r, err := s.store.FinishRefund(ctx, acct.Scope, id, func(r *Refund, p *payments.Payment) (Writes, error) {
		if r.Status != Pending {
			return Writes{}, nil // settled already
		}
		if res.Outcome == connectors.Pending {
			// To be told in a notification; recovery asks again after
			// the others waiting (the oldest updated_at first).
			r.UpdatedAt = now
			return Writes{}, nil
		}
		changed = true
		p.AmountRefundPending -= r.Amount
		p.UpdatedAt, r.UpdatedAt = now, now
		var evType string
		var tx ledger.Transaction
		if res.Outcome == connectors.Succeeded {
			r.Status, r.ProcessorID = Succeeded, res.ProcessorID
			p.AmountRefunded += r.Amount
			evType, tx = events.RefundSucceeded, ledger.RefundSucceeded(r.MerchantID, r.ID, r.Currency, r.Livemode, r.Amount, now)
		} else {
			r.Status, r.FailureReason = Failed, "declined"
			if res.FailureCode != "refund_failed" {
				r.FailureReason = "unknown"
			}
			evType, tx = events.RefundFailed, ledger.RefundFailed(r.MerchantID, r.ID, r.Currency, r.Livemode, r.Amount, now)
		}
		ev, err := events.New(r.MerchantID, evType, r.ID, r.Livemode, r, now)
		return Writes{Events: []events.Event{ev}, Ledger: []ledger.Transaction{tx}}, err
	})
	if err != nil {
		return nil, err
	}
	if changed {
		s.logChange(ctx, r)
	}
	return r, nil
}

// recoverRefund settles a pending refund whose request died or lost the
// processor's answer: from the processor's record of the refund's reference
// (its id), or, when the processor never saw it, by sending it again under
// the same reference.
func (s *Service) recoverRefund(ctx context.Context, acct tenant.Account, r *Refund) (*Refund, error) {
	p, err := s.store.Payment(ctx, tenant.Of(r.MerchantID, r.Livemode), r.PaymentID)
	if err != nil {
		return nil, err
	}
	c, err := s.connector(ctx, p)
	if err != nil {
		return nil, err
	}
	res, err := c.Lookup(ctx, r.ID)
	if errors.Is(err, connectors.ErrNoLookup) && clock.Now().Sub(r.CreatedAt) > payments.ResendWindow {
		s.log.ErrorContext(ctx, "refund recovery: outcome unknown past the window for sending again; check it at the processor", "refund_id", r.ID)
		return r, nil
	}
	if errors.Is(err, connectors.ErrNotFound) || errors.Is(err, connectors.ErrNoLookup) {
		// Never seen there, or a processor whose idempotency makes sending
		// it again under its reference the lookup.
		s.log.InfoContext(ctx, "refund recovery: sending the refund again under its reference", "refund_id", r.ID)
		res, err = c.Refund(ctx, connectors.RefundRequest{Reference: r.ID, ProcessorID: p.ProcessorID, Amount: r.Amount, Currency: r.Currency})
	}
	if err != nil {
		s.log.InfoContext(ctx, "refund recovery: outcome still unknown", "refund_id", r.ID, "error", err.Error())
		return r, nil
	}
	return s.finish(ctx, acct, r.ID, res)
}

// touch sends a refund still pending to the back of the recovery scan
// (the oldest updated_at first), so that refunds recovery cannot settle
// yet do not hold back the others.
func (s *Service) touch(ctx context.Context, acct tenant.Account, id string) {
	_, err := s.store.FinishRefund(ctx, acct.Scope, id, func(r *Refund, _ *payments.Payment) (Writes, error) {
		if r.Status == Pending {
			r.UpdatedAt = clock.Now()
		}
		return Writes{}, nil
	})
	if err != nil {
		s.log.WarnContext(ctx, "refund recovery: could not reschedule", "refund_id", id, "error", err.Error())
	}
}

// RecoverStale settles refunds of every merchant pending since before
// cutoff; the recovery worker calls it. It returns how many it settled.
func (s *Service) RecoverStale(ctx context.Context, cutoff time.Time) (int, error) {
	rs, err := s.store.StaleRefunds(ctx, cutoff, 100)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range rs {
		acct := tenant.Of(r.MerchantID, r.Livemode).Acting()
		q, err := s.recoverRefund(ctx, acct, r)
		if err != nil {
			s.log.WarnContext(ctx, "refund recovery failed", "refund_id", r.ID, "error", err.Error())
		}
		if err != nil || q.Status == Pending {
			if err != nil || !q.UpdatedAt.After(r.UpdatedAt) { // a pending answer has moved it already
				s.touch(ctx, acct, r.ID)
			}
			continue
		}
		n++
	}
	return n, nil
}

// Get retrieves a refund.
func (s *Service) Get(ctx context.Context, acct tenant.Account, id string) (*Refund, error) {
	r, err := s.store.Refund(ctx, acct.Scope, id)
	if errors.Is(err, ErrNotFound) {
		return nil, apierror.NotFound("refund", id)
	}
	return r, err
}

// List returns a page of refunds, newest first.
func (s *Service) List(ctx context.Context, acct tenant.Account, q ListQuery) ([]*Refund, bool, error) {
	return s.store.Refunds(ctx, acct.Scope, q)
}

func (s *Service) logChange(ctx context.Context, r *Refund) {
	s.log.InfoContext(ctx, "refund status changed", "refund_id", r.ID, "payment_id", r.PaymentID, "merchant_id", r.MerchantID,
		"to", string(r.Status), "amount", r.Amount, "currency", r.Currency)
}

// Notify applies a processor's notification about a refund of one of
// accountID's payments (a refund the processor settles later). A refund
// already settled is left as it is. It reports whether the reference named
// a refund of the account.
func (s *Service) Notify(ctx context.Context, scope tenant.Scope, accountID string, n connectors.Notification) (bool, error) {
	if !strings.HasPrefix(n.Reference, "re_") {
		return false, nil
	}
	r, err := s.store.Refund(ctx, scope, n.Reference)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	p, err := s.store.Payment(ctx, scope, r.PaymentID)
	if err != nil {
		return false, err
	}
	if p.ConnectorAccount != accountID {
		return false, nil // not this account's to tell
	}
	_, err = s.finish(ctx, scope.Acting(), r.ID, n.Result)
	return true, err
}
