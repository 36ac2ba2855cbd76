// Package staff is the dashboard's people: a merchant's staff users, their
// passwords (argon2id), their sessions (a random token in a cookie, only
// its hash stored) and the sign-in throttle, per account and per client
// address, whose state is in the database so that every instance applies
// the same limits.
package staff

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/audit"
	"github.com/paygate/paygate/internal/clock"
	"github.com/paygate/paygate/internal/ids"
	"github.com/paygate/paygate/internal/tenant"
)

// Role is what a user may do: an admin acts (capture, cancel, refund,
// redeliver, keys, endpoints), a viewer only reads.
type Role string

// Roles.
const (
	Admin  Role = "admin"
	Viewer Role = "viewer"
)

// Audit actions of the dashboard and its users.
const (
	UserCreated     = "staff_user.created"
	UserRemoved     = "staff_user.removed"
	SignedIn        = "dashboard.signed_in"
	SignedOut       = "dashboard.signed_out"
	SignInLocked    = "dashboard.sign_in_locked"
	PasswordChanged = "dashboard.password_changed"
)

// Actor is how the audit log names a user.
func Actor(userID string) string { return "user:" + userID }

// User is a staff user. Password is set only in the answer that creates
// the user: the temporary password, shown once.
type User struct {
	ID                 string    `json:"id"`
	Object             string    `json:"object"`
	MerchantID         string    `json:"merchant"`
	Email              string    `json:"email"`
	Role               Role      `json:"role"`
	MustChangePassword bool      `json:"must_change_password"`
	Password           string    `json:"password,omitempty"`
	CreatedAt          time.Time `json:"created_at"`

	PasswordHash  string     `json:"-"`
	FailedSignIns int        `json:"-"`
	LockedUntil   *time.Time `json:"-"`
}

// Session is a signed-in browser: its user, and the mode it shows.
type Session struct {
	TokenHash  []byte
	User       *User
	Livemode   bool
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
}

// Scope is whose objects the session may see: its user's merchant, in the
// session's mode.
func (s *Session) Scope() tenant.Scope { return tenant.Of(s.User.MerchantID, s.Livemode) }

// Errors.
var (
	ErrNotFound        = errors.New("staff: not found")
	ErrEmailTaken      = errors.New("staff: a user has this email")
	ErrMerchantMissing = errors.New("staff: no such merchant")
	// ErrBadCredentials is every failed sign-in that is not throttled: an
	// unknown email and a wrong password are one answer.
	ErrBadCredentials = errors.New("staff: wrong email or password")
)

// LockedError is a sign-in refused by the throttle until Until.
type LockedError struct {
	Until   time.Time
	Address bool // the client address is locked out, not (only) the account
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("staff: sign-in locked until %s", e.Until.Format(time.RFC3339))
}

// Policy is the sign-in throttle.
type Policy struct {
	// AccountFailures in a row lock the account for AccountLockout.
	AccountFailures int
	AccountLockout  time.Duration
	// AddressFailures within AddressWindow lock the address for
	// AddressLockout, whichever accounts it tried.
	AddressFailures int
	AddressWindow   time.Duration
	AddressLockout  time.Duration
}

// DefaultPolicy: 5 wrong passwords lock an account for 15 minutes; 20
// failures from one address within 15 minutes lock the address for 15.
var DefaultPolicy = Policy{AccountFailures: 5, AccountLockout: 15 * time.Minute,
	AddressFailures: 20, AddressWindow: 15 * time.Minute, AddressLockout: 15 * time.Minute}

// Store is the persistence of users and sessions.
type Store interface {
	// CreateStaffUser stores a user with its audit entry
	// (ErrMerchantMissing, ErrEmailTaken).
	CreateStaffUser(ctx context.Context, u *User, ev audit.Event) error
	// StaffUserByEmail finds a user not removed (ErrNotFound).
	StaffUserByEmail(ctx context.Context, email string) (*User, error)
	// RemoveStaffUser marks a user removed and deletes its sessions, with
	// its audit entry (ErrNotFound).
	RemoveStaffUser(ctx context.Context, id string, ev audit.Event) (*User, error)
	// AddressLockedUntil is when the address's lockout ends (nil: none).
	AddressLockedUntil(ctx context.Context, address string, now time.Time) (*time.Time, error)
	// RecordSignInFailure counts a failure of the address and, when
	// userID is set, of the account, and locks either past p's limits. It
	// answers with the lockouts that hold now (nil: none).
	RecordSignInFailure(ctx context.Context, userID, address string, now time.Time, p Policy) (account, addr *time.Time, err error)
	// CreateStaffSession stores a session, clears its user's failure
	// count, and writes ev.
	CreateStaffSession(ctx context.Context, s *Session, ev audit.Event) error
	// StaffSession finds a live session (not expired at now, of a user
	// not removed) by its token's hash (ErrNotFound).
	StaffSession(ctx context.Context, hash []byte, now time.Time) (*Session, error)
	// TouchStaffSession records the session's use and its new expiry.
	TouchStaffSession(ctx context.Context, hash []byte, now, expires time.Time) error
	// SetStaffSessionMode switches the session's mode.
	SetStaffSessionMode(ctx context.Context, hash []byte, livemode bool) error
	// DeleteStaffSession ends a session, with ev.
	DeleteStaffSession(ctx context.Context, hash []byte, ev audit.Event) error
	// ChangeStaffPassword sets a user's password (no longer temporary)
	// and ends its sessions other than keep, with ev.
	ChangeStaffPassword(ctx context.Context, userID, hash string, keep []byte, now time.Time, ev audit.Event) error
	// AppendAudit records an action.
	AppendAudit(ctx context.Context, ev audit.Event) error
}

// Service manages users and sessions.
type Service struct {
	store  Store
	Policy Policy
	// IdleTimeout ends a session unused for that long; MaxAge ends any.
	IdleTimeout time.Duration
	MaxAge      time.Duration
	// hashing bounds how many password hashes run at once: each takes
	// 19 MiB.
	hashing chan struct{}
	// dummy is a hash to check an unknown email's password against, so
	// that the answer takes as long as for a known one.
	dummy string
}

// NewService returns a Service with the default policy: sessions end
// after an hour unused or twelve hours in all.
func NewService(store Store) *Service {
	dummy, err := hashPassword(rand.Text())
	if err != nil {
		panic("staff: " + err.Error()) // crypto/rand does not fail
	}
	return &Service{store: store, Policy: DefaultPolicy, IdleTimeout: time.Hour, MaxAge: 12 * time.Hour,
		hashing: make(chan struct{}, 4), dummy: dummy}
}

func (s *Service) hash(ctx context.Context, password string) (string, error) {
	select {
	case s.hashing <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-s.hashing }()
	return hashPassword(password)
}

func (s *Service) check(ctx context.Context, encoded, password string) (bool, error) {
	select {
	case s.hashing <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-s.hashing }()
	return checkPassword(encoded, password)
}

// CreateParams is the body of POST /v1/merchants/{id}/users.
type CreateParams struct {
	Email *string `json:"email"`
	Role  *string `json:"role"`
}

// NormalizeEmail is how emails are stored and compared: trimmed, lower case.
func NormalizeEmail(e string) string { return strings.ToLower(strings.TrimSpace(e)) }

// CreateUser makes a user of merchantID with a temporary password, which
// the answer shows once (User.Password). ev is its audit entry, completed
// here.
func (s *Service) CreateUser(ctx context.Context, merchantID string, in CreateParams, ev audit.Event) (*User, error) {
	return s.create(ctx, merchantID, in, true, ev)
}

// CreateDemoUser makes the development database's demo admin: its
// password, printed once at the first start like the demo key, need not be
// changed.
func (s *Service) CreateDemoUser(ctx context.Context, merchantID, email string, ev audit.Event) (*User, error) {
	role := string(Admin)
	return s.create(ctx, merchantID, CreateParams{Email: &email, Role: &role}, false, ev)
}

func (s *Service) create(ctx context.Context, merchantID string, in CreateParams, temporary bool, ev audit.Event) (*User, error) {
	if in.Email == nil || strings.TrimSpace(*in.Email) == "" {
		return nil, apierror.Missing("email")
	}
	email := NormalizeEmail(*in.Email)
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email || len(email) > 254 {
		return nil, apierror.Invalid("parameter_invalid", "email", "email must be an email address, like ana@shop.example.")
	}
	if in.Role == nil {
		return nil, apierror.Missing("role")
	}
	role := Role(*in.Role)
	if role != Admin && role != Viewer {
		return nil, apierror.Invalid("parameter_invalid", "role", "role must be admin or viewer.")
	}
	password := temporaryPassword()
	hash, err := s.hash(ctx, password)
	if err != nil {
		return nil, err
	}
	now := clock.Now()
	u := &User{ID: ids.New(ids.StaffUser), Object: "staff_user", MerchantID: merchantID, Email: email, Role: role,
		MustChangePassword: temporary, CreatedAt: now, PasswordHash: hash}
	ev.ObjectID, ev.MerchantID, ev.Action = u.ID, merchantID, UserCreated
	ev.Details["email"], ev.Details["role"] = email, string(role)
	switch err := s.store.CreateStaffUser(ctx, u, ev); {
	case errors.Is(err, ErrMerchantMissing):
		return nil, apierror.NotFound("merchant", merchantID)
	case errors.Is(err, ErrEmailTaken):
		return nil, &apierror.Error{Kind: apierror.KindConflict, Code: "email_taken", Param: "email",
			Message: "A user with this email exists already."}
	case err != nil:
		return nil, err
	}
	u.Password = password
	return u, nil
}

// RemoveUser removes a user; its sessions end at once.
func (s *Service) RemoveUser(ctx context.Context, id string, ev audit.Event) (*User, error) {
	ev.Action, ev.ObjectID = UserRemoved, id
	u, err := s.store.RemoveStaffUser(ctx, id, ev)
	if errors.Is(err, ErrNotFound) {
		return nil, apierror.NotFound("user", id)
	}
	return u, err
}

// newToken is a session token: 256 random bits.
func newToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// HashToken is how a session token is stored and looked up.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// SignIn checks an email and password from address. It answers with the
// new session and its token (for the cookie), a *LockedError while the
// throttle holds, or ErrBadCredentials. ev is the audit entry of a
// success; its actor is set here.
func (s *Service) SignIn(ctx context.Context, email, password, address string, ev audit.Event) (*Session, string, error) {
	now := clock.Now()
	if until, err := s.store.AddressLockedUntil(ctx, address, now); err != nil {
		return nil, "", err
	} else if until != nil {
		return nil, "", &LockedError{Until: *until, Address: true}
	}
	if len(password) > MaxPasswordLen {
		password = password[:MaxPasswordLen]
	}
	u, err := s.store.StaffUserByEmail(ctx, NormalizeEmail(email))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, "", err
	}
	if u != nil && u.LockedUntil != nil && u.LockedUntil.After(now) {
		return nil, "", &LockedError{Until: *u.LockedUntil}
	}
	encoded, userID := s.dummy, ""
	if u != nil {
		encoded, userID = u.PasswordHash, u.ID
	}
	ok, err := s.check(ctx, encoded, password)
	if err != nil {
		return nil, "", err
	}
	if !ok || u == nil {
		account, addr, err := s.store.RecordSignInFailure(ctx, userID, address, now, s.Policy)
		if err != nil {
			return nil, "", err
		}
		if account != nil || addr != nil {
			lock := audit.Event{ID: ids.New(ids.Audit), Object: "audit_event", Actor: "dashboard", Action: SignInLocked,
				ObjectID: userID, RequestID: ev.RequestID, SourceIP: address, Details: map[string]string{}, CreatedAt: now}
			if u != nil {
				lock.MerchantID = u.MerchantID
			}
			if addr != nil {
				lock.Details["address_locked_until"] = addr.Format(time.RFC3339)
			}
			if account != nil {
				lock.Details["account_locked_until"] = account.Format(time.RFC3339)
			}
			if err := s.store.AppendAudit(ctx, lock); err != nil {
				return nil, "", err
			}
		}
		switch {
		case account != nil:
			return nil, "", &LockedError{Until: *account}
		case addr != nil:
			return nil, "", &LockedError{Until: *addr, Address: true}
		}
		return nil, "", ErrBadCredentials
	}
	token := newToken()
	sess := &Session{TokenHash: HashToken(token), User: u, CreatedAt: now, LastSeenAt: now, ExpiresAt: s.expiry(now, now)}
	ev.Actor, ev.Action, ev.ObjectID, ev.MerchantID = Actor(u.ID), SignedIn, u.ID, u.MerchantID
	if err := s.store.CreateStaffSession(ctx, sess, ev); err != nil {
		return nil, "", err
	}
	return sess, token, nil
}

// expiry is when a session made at created and used at now ends.
func (s *Service) expiry(created, now time.Time) time.Time {
	idle, hard := now.Add(s.IdleTimeout), created.Add(s.MaxAge)
	if idle.Before(hard) {
		return idle
	}
	return hard
}

// Session finds the live session of a token (ErrNotFound), and extends it
// (at most once a minute, so that reading a page stays a read).
func (s *Service) Session(ctx context.Context, token string) (*Session, error) {
	if token == "" || len(token) > 100 {
		return nil, ErrNotFound
	}
	now := clock.Now()
	sess, err := s.store.StaffSession(ctx, HashToken(token), now)
	if err != nil {
		return nil, err
	}
	if now.Sub(sess.LastSeenAt) > time.Minute {
		exp := s.expiry(sess.CreatedAt, now)
		if err := s.store.TouchStaffSession(ctx, sess.TokenHash, now, exp); err != nil {
			return nil, err
		}
		sess.LastSeenAt, sess.ExpiresAt = now, exp
	}
	return sess, nil
}

// SignOut ends a session at once.
func (s *Service) SignOut(ctx context.Context, sess *Session, ev audit.Event) error {
	ev.Actor, ev.Action, ev.ObjectID, ev.MerchantID = Actor(sess.User.ID), SignedOut, sess.User.ID, sess.User.MerchantID
	return s.store.DeleteStaffSession(ctx, sess.TokenHash, ev)
}

// SetMode switches the mode the session shows.
func (s *Service) SetMode(ctx context.Context, sess *Session, livemode bool) error {
	return s.store.SetStaffSessionMode(ctx, sess.TokenHash, livemode)
}

// ChangePassword sets a new password after checking the current one; the
// user's other sessions end.
func (s *Service) ChangePassword(ctx context.Context, sess *Session, current, next, confirm string, ev audit.Event) error {
	switch {
	case len(next) < MinPasswordLen:
		return apierror.Invalid("password_too_short", "new_password", "The new password must have at least %d characters.", MinPasswordLen)
	case len(next) > MaxPasswordLen:
		return apierror.Invalid("password_too_long", "new_password", "The new password must have at most %d characters.", MaxPasswordLen)
	case next != confirm:
		return apierror.Invalid("password_mismatch", "confirm_password", "The two new passwords differ.")
	case next == current:
		return apierror.Invalid("password_unchanged", "new_password", "Choose a password other than the current one.")
	}
	ok, err := s.check(ctx, sess.User.PasswordHash, current)
	if err != nil {
		return err
	}
	if !ok {
		return apierror.Invalid("password_wrong", "current_password", "The current password is wrong.")
	}
	hash, err := s.hash(ctx, next)
	if err != nil {
		return err
	}
	ev.Actor, ev.Action, ev.ObjectID, ev.MerchantID = Actor(sess.User.ID), PasswordChanged, sess.User.ID, sess.User.MerchantID
	if err := s.store.ChangeStaffPassword(ctx, sess.User.ID, hash, sess.TokenHash, clock.Now(), ev); err != nil {
		return err
	}
	sess.User.PasswordHash, sess.User.MustChangePassword = hash, false
	return nil
}
