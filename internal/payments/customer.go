package payments

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/connectors"
	"github.com/paygate/paygate/internal/events"
	"github.com/paygate/paygate/internal/tenant"
)

// Customer actions: the single-use link of a payment that waits for its
// customer (3-D Secure, a wallet's approval), the customer's answer, and
// the expiry of links nobody used.

// LinkKeyPurpose names the key customer links are derived with
// (vault.Keyring.DeriveKey).
const LinkKeyPurpose = "customer link v1"

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
	// The customer's choice is in the reference, so that recovery can send
	// it again if the process dies before the processor hears it.
	p, err := s.claimAction(ctx, acct, p0.ID, choice, func(p *Payment, now time.Time) error {
		if !bytes.Equal(p.ActionTokenHash, h[:]) || p.ActionExpiresAt == nil || now.After(*p.ActionExpiresAt) {
			return ErrActionUnavailable
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	res, err := untaken(s.completeAction(ctx, p, nil))
	s.fault(FaultAfterAuthorize)
	return s.settle(ctx, acct, p, OpAuthorize, res, err, nil)
}

func (s *Service) completeAction(ctx context.Context, p *Payment, details map[string]string) (connectors.Result, error) {
	c, err := s.route(ctx, p)
	if err != nil {
		return connectors.Result{}, err
	}
	return c.CompleteAction(ctx, connectors.CompleteActionRequest{
		Reference: p.ConnectorReference, ActionReference: p.ID + ":" + OpAuthorize,
		Approved: strings.HasSuffix(p.ConnectorReference, ":approve"), Capture: p.CaptureMethod == CaptureAutomatic,
		Details: details,
	})
}

// decidedAtProcessor settles a payment waiting for its customer from the
// processor's record of its authorization, when it has one.
func (s *Service) decidedAtProcessor(ctx context.Context, acct tenant.Account, id string) (*Payment, error) {
	p, err := s.get(ctx, acct, id)
	if err != nil || p.Status != RequiresAction {
		return p, err
	}
	c, err := s.route(ctx, p)
	if err != nil {
		return p, err
	}
	res, err := c.Lookup(ctx, operationRef(id, OpAuthorize))
	if err != nil {
		return p, fmt.Errorf("look the authorization up: %w", err)
	}
	if res.Outcome != connectors.Succeeded && res.Outcome != connectors.Declined && res.Outcome != connectors.Failed {
		return p, nil
	}
	if _, err := s.claimAction(ctx, acct, id, "lookup", nil); errors.Is(err, ErrActionUnavailable) {
		return s.get(ctx, acct, id)
	} else if err != nil {
		return p, err
	}
	return s.finish(ctx, acct, id, OpAuthorize, res, nil)
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
	abandoned := "abandoned"
	for _, p0 := range ps {
		acct := tenant.Of(p0.MerchantID, p0.Livemode).Acting()
		if voidable(p0) {
			// Canceled at the processor too, as a cancel request would.
			p, err := s.cancel(ctx, acct, p0.ID, CancelParams{CancellationReason: &abandoned}, nil)
			if e, ok := apierror.As(err); ok && e.Code == "cancel_failed" {
				// The processor would not cancel it: the customer finished
				// on its page, and its notification has not come.
				p, err = s.decidedAtProcessor(ctx, acct, p0.ID)
			}
			if err != nil {
				s.log.WarnContext(ctx, "canceling an abandoned payment failed", "payment_id", p0.ID, "error", err.Error())
				continue
			}
			if p.Status == Canceled {
				n++
			}
			continue
		}
		p, err := s.update(ctx, acct, p0.ID, func(p *Payment) (Change, error) {
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
