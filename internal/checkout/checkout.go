// Package checkout is hosted checkout (SPEC §9): the checkout session
// (cs_…), which a merchant creates for an amount and sends its customer to,
// and what the session's page does with what the customer types. The card
// goes from the customer's browser straight to paygate; the merchant's
// server only ever sees the session and, through it, the payment.
//
// A session is open until its payment succeeds (complete, with the event
// checkout.session.completed) or it expires (expired, with
// checkout.session.expired): at its expires_at, by the merchant's expire
// request, or found past its expiry by any read or by the background round
// (ExpireDue), whichever comes first. Each change and its event are one
// transaction, under the session's row lock.
package checkout

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/url"
	"time"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/clock"
	"github.com/paygate/paygate/internal/currency"
	"github.com/paygate/paygate/internal/events"
	"github.com/paygate/paygate/internal/idempotency"
	"github.com/paygate/paygate/internal/ids"
	"github.com/paygate/paygate/internal/payments"
	"github.com/paygate/paygate/internal/tenant"
)

// Statuses of a session.
const (
	Open     = "open"
	Complete = "complete"
	Expired  = "expired"
)

// Expiry bounds: a session lives 24 hours unless asked otherwise, at least
// a minute and at most 24 hours (the idempotency keys of its payments are
// kept that long: a form submitted twice within the session's life is
// always recognised).
const (
	DefaultExpiry = 24 * time.Hour
	MinExpiry     = time.Minute
	MaxExpiry     = 24 * time.Hour
)

// MaxAttempts is how many payments one session's page may start: a card
// tester who found a page gets this many tries, then the page takes no
// more cards.
const MaxAttempts = 5

// Session is a checkout session, as the API renders it.
type Session struct {
	ID            string            `json:"id"`
	Object        string            `json:"object"`
	URL           string            `json:"url,omitempty"`
	Status        string            `json:"status"`
	Amount        int64             `json:"amount"`
	Currency      string            `json:"currency"`
	SuccessURL    string            `json:"success_url"`
	CancelURL     string            `json:"cancel_url"`
	Customer      string            `json:"customer,omitempty"`
	CaptureMethod string            `json:"capture_method"`
	Metadata      map[string]string `json:"metadata"`
	PaymentID     string            `json:"payment_id,omitempty"`
	Attempts      int               `json:"attempts"`
	ExpiresAt     time.Time         `json:"expires_at"`
	CompletedAt   *time.Time        `json:"completed_at,omitempty"`
	ExpiredAt     *time.Time        `json:"expired_at,omitempty"`
	Livemode      bool              `json:"livemode"`
	CreatedAt     time.Time         `json:"created_at"`
	UpdatedAt     time.Time         `json:"updated_at"`

	MerchantID  string     `json:"-"`
	TokenHash   []byte     `json:"-"`
	AttemptedAt *time.Time `json:"-"`
}

// CreateParams is the body of POST /v1/checkout_sessions.
type CreateParams struct {
	Amount        *int64            `json:"amount"`
	Currency      *string           `json:"currency"`
	SuccessURL    *string           `json:"success_url"`
	CancelURL     *string           `json:"cancel_url"`
	Customer      *string           `json:"customer"`
	CaptureMethod *string           `json:"capture_method"`
	Metadata      map[string]string `json:"metadata"`
	// ExpiresIn is the session's life in seconds (60 to 86400; default
	// 86400).
	ExpiresIn *int64 `json:"expires_in"`
}

// ExpireParams is the body of POST /v1/checkout_sessions/{id}/expire: none.
type ExpireParams struct{}

// ListQuery is a page of sessions, newest first, by cursor (ids).
type ListQuery struct {
	Limit         int
	StartingAfter string
	EndingBefore  string
}

// ErrNotFound is returned by a Store for a missing session, or one of
// another merchant or mode.
var ErrNotFound = errors.New("checkout: not found")

// Store is the persistence of sessions. Every change is one transaction,
// with the events fn returns, under the session's row lock.
type Store interface {
	CreateCheckoutSession(ctx context.Context, s *Session) error
	CheckoutSession(ctx context.Context, scope tenant.Scope, id string) (*Session, error)
	// CheckoutSessions lists the scope's sessions, newest first, and
	// whether more lie beyond the page.
	CheckoutSessions(ctx context.Context, scope tenant.Scope, q ListQuery) ([]*Session, bool, error)
	// CheckoutSessionByToken finds, across merchants, the session whose
	// page token has this hash.
	CheckoutSessionByToken(ctx context.Context, hash []byte) (*Session, error)
	// UpdateCheckoutSession locks the session, lets fn change it and writes
	// it with fn's events; fn returning changed false writes nothing.
	UpdateCheckoutSession(ctx context.Context, scope tenant.Scope, id string, fn func(s *Session) (evs []events.Event, changed bool, err error)) (*Session, error)
	// DueCheckoutSessions lists open sessions (of every merchant) that
	// expired before now, or whose payment has succeeded: the background
	// round settles them.
	DueCheckoutSessions(ctx context.Context, now time.Time, limit int) ([]*Session, error)
	// CustomerExists tells whether the scope has the customer, not
	// deleted (payments.ErrCustomerNotFound otherwise).
	CustomerExists(ctx context.Context, scope tenant.Scope, id string) error
	// MerchantName is the name the page shows.
	MerchantName(ctx context.Context, merchantID string) (string, error)
}

// Payments is what sessions need of the payments service.
type Payments interface {
	Create(ctx context.Context, acct tenant.Account, in payments.CreateParams, call *idempotency.Call) (*payments.Payment, error)
	Get(ctx context.Context, acct tenant.Account, id string) (*payments.Payment, error)
	Cancel(ctx context.Context, acct tenant.Account, id string, in payments.CancelParams, call *idempotency.Call) (*payments.Payment, error)
	CustomerMethods(ctx context.Context, acct tenant.Account, customerID string, q payments.MethodListQuery) ([]*payments.Method, bool, error)
}

// Keys claims the idempotency keys of the page's payments.
type Keys interface {
	ClaimIdempotencyKey(ctx context.Context, rec idempotency.Record) (idempotency.Claim, error)
	CompleteIdempotencyKey(ctx context.Context, merchantID, key string, resp idempotency.Response) error
	ReleaseIdempotencyKey(ctx context.Context, merchantID, key string) error
	ForgetIdempotencyKey(ctx context.Context, merchantID, key string) error
}

// KeyPurpose names the key page tokens and CSRF tokens are derived with
// (vault.Keyring.DeriveKey).
const KeyPurpose = "checkout page v1"

// Service manages checkout sessions and what their pages do.
type Service struct {
	store Store
	pay   Payments
	keys  Keys
	key   []byte
	// base is where the pages are served: PAYGATE_PUBLIC_URL.
	base string
	now  func() time.Time
	// Wait is how long a submission waits for a twin submission of the
	// same attempt to finish (default 20 s).
	Wait time.Duration
}

// NewService wires a Service. key (at least 32 bytes) derives the pages'
// tokens; base is the public URL the pages are served at.
func NewService(store Store, pay Payments, keys Keys, key []byte, base string) *Service {
	if len(key) < 32 {
		panic("checkout: the page key must have at least 32 bytes")
	}
	return &Service{store: store, pay: pay, keys: keys, key: key, base: base, now: clock.Now, Wait: 20 * time.Second}
}

// SetClock replaces the service's clock (tests).
func (s *Service) SetClock(now func() time.Time) { s.now = now }

// mac is an HMAC of parts under the service's key, base64url.
func (s *Service) mac(parts ...string) string {
	m := hmac.New(sha256.New, s.key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// pageToken is the unguessable token of a session's page: derived from
// its id, so the database keeps only its hash.
func (s *Service) pageToken(id string) string { return s.mac("page", id) }

func tokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// PagePath is the path of a session's page.
func (s *Service) PagePath(id string) string { return "/checkout/" + s.pageToken(id) }

// CSRFToken is the token every form of a session's page carries: bound
// to the session, so that a form of one session posts to no other.
func (s *Service) CSRFToken(sess *Session) string { return s.mac("csrf", sess.ID) }

// CheckCSRF tells whether token is the session's CSRF token.
func (s *Service) CheckCSRF(sess *Session, token string) bool {
	return hmac.Equal([]byte(token), []byte(s.CSRFToken(sess)))
}

// shown is a session as the API and the page show it: with its url while
// it is open (as Stripe's; a complete or expired session's page takes no
// card, and the link need not travel further in events).
func (s *Service) shown(sess *Session) *Session {
	if sess != nil {
		sess.URL = ""
		if sess.Status == Open {
			sess.URL = s.pageURL(sess.ID)
		}
	}
	return sess
}

func (s *Service) pageURL(id string) string { return s.base + s.PagePath(id) }

func validURL(raw *string, param string) (string, error) {
	if raw == nil {
		return "", apierror.Missing(param)
	}
	u, err := url.Parse(*raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(*raw) > 2048 || u.User != nil {
		return "", apierror.Invalid("parameter_invalid", param, "%s must be an absolute http or https URL of at most 2048 characters.", param)
	}
	return *raw, nil
}

// Create makes an open session.
func (s *Service) Create(ctx context.Context, acct tenant.Account, in CreateParams) (*Session, error) {
	if err := payments.ValidateAmount(in.Amount, "amount"); err != nil {
		return nil, err
	}
	if in.Currency == nil {
		return nil, apierror.Missing("currency")
	}
	cur, ok := currency.Lookup(*in.Currency)
	if !ok {
		return nil, apierror.Invalid("currency_invalid", "currency", "Invalid currency: %q is not a supported ISO 4217 code.", apierror.Truncate(*in.Currency, 10))
	}
	success, err := validURL(in.SuccessURL, "success_url")
	if err != nil {
		return nil, err
	}
	cancel, err := validURL(in.CancelURL, "cancel_url")
	if err != nil {
		return nil, err
	}
	capture := payments.CaptureAutomatic
	if in.CaptureMethod != nil {
		if *in.CaptureMethod != payments.CaptureAutomatic && *in.CaptureMethod != payments.CaptureManual {
			return nil, apierror.Invalid("parameter_invalid", "capture_method", "capture_method must be automatic or manual.")
		}
		capture = *in.CaptureMethod
	}
	if err := payments.ValidateMetadata(in.Metadata); err != nil {
		return nil, err
	}
	expiry := DefaultExpiry
	if in.ExpiresIn != nil {
		d := time.Duration(*in.ExpiresIn) * time.Second
		if *in.ExpiresIn < int64(MinExpiry/time.Second) || *in.ExpiresIn > int64(MaxExpiry/time.Second) {
			return nil, apierror.Invalid("parameter_invalid", "expires_in", "expires_in must be %d to %d seconds.", int64(MinExpiry/time.Second), int64(MaxExpiry/time.Second))
		}
		expiry = d
	}
	var customer string
	if in.Customer != nil {
		if !ids.Valid(ids.Customer, *in.Customer) {
			return nil, apierror.Invalid("parameter_invalid", "customer", "customer must be a cus_ id.")
		}
		if err := s.store.CustomerExists(ctx, acct.Scope, *in.Customer); errors.Is(err, payments.ErrCustomerNotFound) {
			e := apierror.NotFound("customer", *in.Customer)
			e.Param = "customer"
			return nil, e
		} else if err != nil {
			return nil, err
		}
		customer = *in.Customer
	}
	now := s.now()
	sess := &Session{ID: ids.New(ids.Checkout), Object: "checkout_session", Status: Open, Amount: *in.Amount, Currency: cur.Code,
		SuccessURL: success, CancelURL: cancel, Customer: customer, CaptureMethod: capture, Metadata: map[string]string{},
		ExpiresAt: now.Add(expiry), Livemode: acct.Livemode, CreatedAt: now, UpdatedAt: now, MerchantID: acct.MerchantID}
	for k, v := range in.Metadata {
		if v != "" {
			sess.Metadata[k] = v
		}
	}
	sess.TokenHash = tokenHash(s.pageToken(sess.ID))
	if err := s.store.CreateCheckoutSession(ctx, sess); err != nil {
		return nil, err
	}
	return s.shown(sess), nil
}

// Get retrieves a session, settled first: one past its expiry is expired,
// one whose payment succeeded is complete.
func (s *Service) Get(ctx context.Context, acct tenant.Account, id string) (*Session, error) {
	sess, err := s.store.CheckoutSession(ctx, acct.Scope, id)
	if errors.Is(err, ErrNotFound) {
		return nil, apierror.NotFound("checkout_session", id)
	}
	if err != nil {
		return nil, err
	}
	sess, err = s.settle(ctx, sess)
	return s.shown(sess), err
}

// List is a page of the account's sessions, newest first, as stored: a
// list only reads, so an open session past its expiry shows open until
// the background round, or a read of the session itself, settles it.
func (s *Service) List(ctx context.Context, acct tenant.Account, q ListQuery) ([]*Session, bool, error) {
	if q.Limit <= 0 {
		q.Limit = 10
	}
	out, more, err := s.store.CheckoutSessions(ctx, acct.Scope, q)
	if err != nil {
		return nil, false, err
	}
	for _, sess := range out {
		s.shown(sess)
	}
	return out, more, nil
}

// Expire ends an open session at once (checkout.session.expired). An
// expired session answers as it is; a complete one is 409; so is one
// whose payment is still in flight (3-D Secure, a processor's answer):
// it may yet succeed.
func (s *Service) Expire(ctx context.Context, acct tenant.Account, id string, _ ExpireParams) (*Session, error) {
	sess, err := s.store.CheckoutSession(ctx, acct.Scope, id)
	if errors.Is(err, ErrNotFound) {
		return nil, apierror.NotFound("checkout_session", id)
	}
	if err != nil {
		return nil, err
	}
	if sess, err = s.settle(ctx, sess); err != nil {
		return nil, err
	}
	switch sess.Status {
	case Expired:
		return s.shown(sess), nil
	case Complete:
		return nil, &apierror.Error{Kind: apierror.KindConflict, Code: "checkout_session_unexpected_state",
			Message: "This checkout session is complete: its payment succeeded."}
	}
	if inFlight, err := s.paymentInFlight(ctx, sess); err != nil {
		return nil, err
	} else if inFlight {
		return nil, &apierror.Error{Kind: apierror.KindConflict, Code: "checkout_session_payment_pending",
			Message: "This checkout session's payment is still being processed (or waits for its customer's authentication); expire it once the payment has ended."}
	}
	sess, err = s.expire(ctx, sess, true)
	if err != nil {
		return nil, err
	}
	if sess.Status != Expired {
		return nil, &apierror.Error{Kind: apierror.KindConflict, Code: "checkout_session_unexpected_state",
			Message: "This checkout session is " + sess.Status + "."}
	}
	return s.shown(sess), nil
}

// attemptWindow is how long after an attempt starts the session does not
// expire by itself unless that attempt's payment is known to have ended:
// the payment may be on its way to the processor.
const attemptWindow = 2 * time.Minute

// paymentInFlight tells whether the session's latest payment may still
// succeed.
func (s *Service) paymentInFlight(ctx context.Context, sess *Session) (bool, error) {
	if sess.PaymentID == "" {
		return sess.AttemptedAt != nil && s.now().Sub(*sess.AttemptedAt) < attemptWindow, nil
	}
	p, err := s.pay.Get(ctx, tenant.Of(sess.MerchantID, sess.Livemode).Acting(), sess.PaymentID)
	if err != nil {
		return false, err
	}
	return !p.Status.Final() && p.Status != payments.RequiresCapture, nil
}

// expire expires an open session (asked: by its merchant; otherwise only
// once past its expiry), with its event.
func (s *Service) expire(ctx context.Context, sess *Session, asked bool) (*Session, error) {
	scope := tenant.Of(sess.MerchantID, sess.Livemode)
	return s.store.UpdateCheckoutSession(ctx, scope, sess.ID, func(cur *Session) ([]events.Event, bool, error) {
		now := s.now()
		if cur.Status != Open || (!asked && now.Before(cur.ExpiresAt)) {
			return nil, false, nil
		}
		// An attempt that started since the caller looked may still
		// succeed: only its end lets the session expire.
		if cur.PaymentID != sess.PaymentID || cur.Attempts != sess.Attempts {
			return nil, false, nil
		}
		cur.Status, cur.ExpiredAt, cur.UpdatedAt = Expired, &now, now
		ev, err := events.New(cur.MerchantID, events.CheckoutExpired, cur.ID, cur.Livemode, s.shown(cur), now)
		return []events.Event{ev}, err == nil, err
	})
}

// complete marks an open session complete with its succeeded payment.
func (s *Service) complete(ctx context.Context, sess *Session, p *payments.Payment) (*Session, error) {
	scope := tenant.Of(sess.MerchantID, sess.Livemode)
	return s.store.UpdateCheckoutSession(ctx, scope, sess.ID, func(cur *Session) ([]events.Event, bool, error) {
		if cur.Status != Open {
			return nil, false, nil
		}
		now := s.now()
		cur.Status, cur.PaymentID, cur.CompletedAt, cur.UpdatedAt = Complete, p.ID, &now, now
		ev, err := events.New(cur.MerchantID, events.CheckoutCompleted, cur.ID, cur.Livemode, s.shown(cur), now)
		return []events.Event{ev}, err == nil, err
	})
}

// paid tells whether a payment pays for its session: it succeeded, or
// was authorized for manual capture.
func paid(p *payments.Payment) bool {
	return p.Status == payments.Succeeded || p.Status == payments.RequiresCapture
}

// settle brings an open session up to date: complete when its payment
// has succeeded, expired when past its expiry with no payment in flight.
func (s *Service) settle(ctx context.Context, sess *Session) (*Session, error) {
	if sess.Status != Open {
		return sess, nil
	}
	if sess.PaymentID != "" {
		p, err := s.pay.Get(ctx, tenant.Of(sess.MerchantID, sess.Livemode).Acting(), sess.PaymentID)
		if err != nil {
			return sess, err
		}
		if paid(p) {
			return s.complete(ctx, sess, p)
		}
	}
	if s.now().Before(sess.ExpiresAt) {
		return sess, nil
	}
	if inFlight, err := s.paymentInFlight(ctx, sess); err != nil || inFlight {
		return sess, err
	}
	return s.expire(ctx, sess, false)
}

// ExpireDue is the background round: it settles open sessions that
// expired or whose payment succeeded, and returns how many it changed.
func (s *Service) ExpireDue(ctx context.Context) (int, error) {
	due, err := s.store.DueCheckoutSessions(ctx, s.now(), 100)
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, sess := range due {
		after, err := s.settle(ctx, sess)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if after.Status != Open {
			n++
		}
	}
	return n, errors.Join(errs...)
}
