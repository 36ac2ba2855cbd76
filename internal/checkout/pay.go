package checkout

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/events"
	"github.com/paygate/paygate/internal/idempotency"
	"github.com/paygate/paygate/internal/payments"
	"github.com/paygate/paygate/internal/tenant"
)

// What a session's page does for its customer: find the session by its
// page token, list the customer's saved cards, and pay.
//
// Paying is an attempt: the page's form carries the number of the attempt
// it starts (the session's attempts so far, plus one). The first
// submission of attempt n claims it in the session's row (attempts = n,
// under the row lock, refused past MaxAttempts or the session's expiry);
// the payment is then created under the Idempotency-Key
// "checkout/cs_…/n" of the session's merchant, written by the transaction
// that creates the payment. A second submission of the same form (a
// double click, a reload of the POST) finds attempt n claimed and asks for
// the same key: it waits for the first to finish and answers with the same
// payment, so the customer is charged once. A crash between the payment's
// creation and its processor's answer is finished by the payments'
// recovery like any keyed request.

// Errors of the page's requests.
var (
	// ErrPageNotFound: no session has this page token.
	ErrPageNotFound = errors.New("checkout: no such page")
	// ErrClosed: the session is complete or expired; it takes no card.
	ErrClosed = errors.New("checkout: the session is not open")
	// ErrTooManyAttempts: the session's page started MaxAttempts payments.
	ErrTooManyAttempts = errors.New("checkout: too many attempts")
	// ErrStale: the form is of an earlier attempt, already answered.
	ErrStale = errors.New("checkout: the form was already submitted")
	// ErrPending: the session's payment is still being processed.
	ErrPending = errors.New("checkout: the payment is still being processed")
)

// Page finds the session whose page has this token, settled (complete or
// expired when it should be).
func (s *Service) Page(ctx context.Context, token string) (*Session, error) {
	if token == "" || len(token) > 128 {
		return nil, ErrPageNotFound
	}
	sess, err := s.store.CheckoutSessionByToken(ctx, tokenHash(token))
	if errors.Is(err, ErrNotFound) {
		return nil, ErrPageNotFound
	}
	if err != nil {
		return nil, err
	}
	sess, err = s.settle(ctx, sess)
	return s.shown(sess), err
}

// MerchantName is the name the page shows for the session's merchant.
func (s *Service) MerchantName(ctx context.Context, sess *Session) (string, error) {
	return s.store.MerchantName(ctx, sess.MerchantID)
}

// SavedCards lists the cards saved to the session's customer that can pay
// (not expired), newest first; none without a customer.
func (s *Service) SavedCards(ctx context.Context, sess *Session) ([]*payments.Method, error) {
	if sess.Customer == "" {
		return nil, nil
	}
	ms, _, err := s.pay.CustomerMethods(ctx, tenant.Of(sess.MerchantID, sess.Livemode).Acting(), sess.Customer, payments.MethodListQuery{Limit: 10})
	if err != nil {
		return nil, err
	}
	now := s.now()
	var out []*payments.Method
	for _, m := range ms {
		if m.Card != nil && !m.Expired(now) && !m.Shredded() {
			out = append(out, m)
		}
	}
	return out, nil
}

// Payment is the session's latest payment, if any.
func (s *Service) Payment(ctx context.Context, sess *Session) (*payments.Payment, error) {
	if sess.PaymentID == "" {
		return nil, nil
	}
	return s.pay.Get(ctx, tenant.Of(sess.MerchantID, sess.Livemode).Acting(), sess.PaymentID)
}

// PayParams is what the customer submitted: the attempt the form starts,
// the method (a card or wallet inline, or a saved card's pm_ id), and
// whether to save a typed card to the session's customer.
type PayParams struct {
	Attempt int
	Method  payments.MethodParam
	Save    bool
}

// Pay runs one attempt of the session's page: the payment it made (or
// that a twin submission made) and the session after it. A decline is a
// payment that failed, not an error; the page offers another try.
func (s *Service) Pay(ctx context.Context, sess *Session, in PayParams) (*Session, *payments.Payment, error) {
	if sess.Status != Open {
		return sess, nil, ErrClosed
	}
	if in.Attempt < 1 {
		return sess, nil, ErrStale
	}
	acct := tenant.Of(sess.MerchantID, sess.Livemode).Acting()
	// A payment of an earlier attempt that waits for its customer (who
	// came back from the 3-D Secure page without finishing) is canceled
	// first, so that it cannot succeed beside this one; one still at the
	// processor must end first.
	if in.Attempt > sess.Attempts && sess.PaymentID != "" {
		p, err := s.pay.Get(ctx, acct, sess.PaymentID)
		if err != nil {
			return sess, nil, err
		}
		switch {
		case paid(p):
			sess, err = s.complete(ctx, sess, p)
			return sess, p, err
		case p.Status == payments.Processing:
			return sess, p, ErrPending
		case !p.Status.Final():
			if err := s.cancelPending(ctx, acct, p); err != nil {
				return sess, p, err
			}
		}
	}
	claimed, err := s.store.UpdateCheckoutSession(ctx, acct.Scope, sess.ID, func(cur *Session) ([]events.Event, bool, error) {
		now := s.now()
		switch {
		case cur.Status != Open || !now.Before(cur.ExpiresAt):
			return nil, false, ErrClosed
		case in.Attempt == cur.Attempts:
			// A twin submission: it asks for the same key below, and gets
			// the first one's payment.
			return nil, false, nil
		case in.Attempt != cur.Attempts+1:
			return nil, false, ErrStale
		case cur.Attempts >= MaxAttempts:
			return nil, false, ErrTooManyAttempts
		}
		cur.Attempts, cur.AttemptedAt, cur.UpdatedAt = in.Attempt, &now, now
		return nil, true, nil
	})
	if errors.Is(err, ErrClosed) {
		// Completed (a twin submission paid) or expired meanwhile.
		if cur, gerr := s.store.CheckoutSession(ctx, acct.Scope, sess.ID); gerr == nil {
			sess = s.shown(cur)
		}
		return sess, nil, err
	}
	if err != nil {
		return sess, nil, err
	}
	sess = s.shown(claimed)
	params := payments.CreateParams{Amount: &sess.Amount, Currency: &sess.Currency, CaptureMethod: &sess.CaptureMethod,
		Metadata: sess.Metadata, PaymentMethod: &in.Method, Confirm: true}
	desc := "Checkout session " + sess.ID
	ret := s.pageURL(sess.ID) + "/return"
	params.Description, params.ReturnURL = &desc, &ret
	if sess.Customer != "" {
		params.Customer = &sess.Customer
		if in.Save && in.Method.Inline != nil && in.Method.Inline.Type == "card" {
			u := payments.OnSession
			params.SetupFutureUsage = &u
		}
	}
	p, err := s.createOnce(ctx, acct, sess, in.Attempt, params)
	if err != nil {
		return sess, nil, err
	}
	sess, err = s.record(ctx, sess, in.Attempt, p)
	return sess, p, err
}

// cancelPending cancels a payment of the session that waits for its
// customer, before another attempt.
func (s *Service) cancelPending(ctx context.Context, acct tenant.Account, p *payments.Payment) error {
	reason := "abandoned"
	after, err := s.pay.Cancel(ctx, acct, p.ID, payments.CancelParams{CancellationReason: &reason}, nil)
	if err != nil {
		if e, ok := apierror.As(err); ok && e.Kind == apierror.KindConflict {
			return ErrPending
		}
		return err
	}
	if after.Status != payments.Canceled {
		return ErrPending
	}
	return nil
}

// record writes the attempt's payment into the session, and completes the
// session when the payment succeeded, with its event, in one transaction.
func (s *Service) record(ctx context.Context, sess *Session, attempt int, p *payments.Payment) (*Session, error) {
	after, err := s.store.UpdateCheckoutSession(ctx, tenant.Of(sess.MerchantID, sess.Livemode), sess.ID, func(cur *Session) ([]events.Event, bool, error) {
		if cur.Status != Open || cur.Attempts != attempt {
			return nil, false, nil
		}
		now := s.now()
		cur.PaymentID, cur.UpdatedAt = p.ID, now
		if !paid(p) {
			return nil, true, nil
		}
		cur.Status, cur.CompletedAt = Complete, &now
		ev, err := events.New(cur.MerchantID, events.CheckoutCompleted, cur.ID, cur.Livemode, s.shown(cur), now)
		return []events.Event{ev}, err == nil, err
	})
	return s.shown(after), err
}

// keyLease is how long a page's payment holds its idempotency key: a
// twin submission past it resumes the payment (its first request died).
const keyLease = time.Minute

// createOnce creates the attempt's payment under the attempt's
// idempotency key, or waits for the payment a twin submission is creating
// under it.
func (s *Service) createOnce(ctx context.Context, acct tenant.Account, sess *Session, attempt int, in payments.CreateParams) (*payments.Payment, error) {
	key := "checkout/" + sess.ID + "/" + strconv.Itoa(attempt)
	sum := sha256.Sum256([]byte(key))
	now := time.Now().UTC()
	rec := idempotency.Record{MerchantID: sess.MerchantID, Livemode: sess.Livemode, Key: key, Method: "POST",
		Path: "/checkout/" + sess.ID + "/pay", RequestHash: sum[:], CreatedAt: now, LockedUntil: now.Add(keyLease)}
	render := func(result any) (idempotency.Response, error) {
		p, ok := result.(*payments.Payment)
		if !ok {
			return idempotency.Response{}, fmt.Errorf("checkout: answer of %T", result)
		}
		b, err := json.Marshal(map[string]string{"payment_id": p.ID})
		return idempotency.Response{Status: 201, Body: b}, err
	}
	unclaimed := rec
	unclaimed.Unclaimed = true
	call := idempotency.NewCall(unclaimed, render, nil)
	p, err := s.pay.Create(ctx, acct, in, call)
	if !errors.Is(err, idempotency.ErrKeyTaken) {
		return p, s.keep(ctx, call, p, err)
	}
	// A twin has the key: wait for its answer, or resume its work if it
	// died.
	wait := s.Wait
	deadline := time.Now().Add(wait)
	for {
		claim, err := s.keys.ClaimIdempotencyKey(ctx, rec)
		if err != nil {
			return nil, err
		}
		switch claim.Outcome {
		case idempotency.Replay:
			var ans struct {
				PaymentID string `json:"payment_id"`
			}
			if err := json.Unmarshal(claim.Response.Body, &ans); err != nil || ans.PaymentID == "" {
				return nil, fmt.Errorf("checkout: the answer under %s holds no payment", key)
			}
			return s.pay.Get(ctx, acct, ans.PaymentID)
		case idempotency.Mismatch:
			return nil, fmt.Errorf("checkout: the key %s was used for another request", key)
		case idempotency.Started, idempotency.Resumed:
			call := idempotency.NewCall(rec, render, nil)
			call.Resumed, call.ResourceID = claim.Outcome == idempotency.Resumed, claim.ResourceID
			p, err := s.pay.Create(ctx, acct, in, call)
			return p, s.keep(ctx, call, p, err)
		}
		if time.Now().After(deadline) {
			return nil, ErrPending
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// keep stores the payment's answer under its key (unless the payment's
// own transaction did), or lets the key go after a failure.
func (s *Service) keep(ctx context.Context, call *idempotency.Call, p *payments.Payment, err error) error {
	if !call.KeyWritten() {
		return err
	}
	if _, ok := call.Stored(); ok && err == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	rec := call.Record
	switch {
	case err == nil:
		b, _ := json.Marshal(map[string]string{"payment_id": p.ID})
		if kerr := s.keys.CompleteIdempotencyKey(ctx, rec.MerchantID, rec.Key, idempotency.Response{Status: 201, Body: b}); kerr != nil {
			return kerr
		}
		return nil
	default:
		if e, ok := apierror.As(err); ok && e.Kind != apierror.KindInternal && e.Kind != apierror.KindUnavailable {
			_ = s.keys.ForgetIdempotencyKey(ctx, rec.MerchantID, rec.Key)
		} else {
			_ = s.keys.ReleaseIdempotencyKey(ctx, rec.MerchantID, rec.Key)
		}
		return err
	}
}
