package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/paygate/paygate/internal/checkout"
	"github.com/paygate/paygate/internal/events"
	"github.com/paygate/paygate/internal/store/sqldb"
	"github.com/paygate/paygate/internal/tenant"
)

// Checkout sessions (migration 14). Every change of a session takes its
// row lock, so that its payment's attempts, its completion and its expiry
// are one after the other.

const checkoutColumns = `s.id, s.merchant_id, s.livemode, s.status, s.amount, s.currency, s.success_url, s.cancel_url, s.customer_id,
	s.capture_method, s.metadata, s.token_hash, s.payment_id, s.attempts, s.attempted_at, s.expires_at, s.completed_at, s.expired_at,
	s.created_at, s.updated_at`

func scanCheckout(row sqldb.Scanner) (*checkout.Session, error) {
	s := checkout.Session{Object: "checkout_session"}
	var md string
	var customer, payment sql.NullString
	var attempted, completed, expired sql.NullTime
	if err := row.Scan(&s.ID, &s.MerchantID, &s.Livemode, &s.Status, &s.Amount, &s.Currency, &s.SuccessURL, &s.CancelURL, &customer,
		&s.CaptureMethod, &md, &s.TokenHash, &payment, &s.Attempts, &attempted, &s.ExpiresAt, &completed, &expired,
		&s.CreatedAt, &s.UpdatedAt); err != nil {
		return nil, err
	}
	s.Customer, s.PaymentID = customer.String, payment.String
	s.AttemptedAt, s.CompletedAt, s.ExpiredAt = timePtr(attempted), timePtr(completed), timePtr(expired)
	s.ExpiresAt, s.CreatedAt, s.UpdatedAt = s.ExpiresAt.UTC(), s.CreatedAt.UTC(), s.UpdatedAt.UTC()
	if err := json.Unmarshal([]byte(md), &s.Metadata); err != nil {
		return nil, fmt.Errorf("checkout session %s metadata: %w", s.ID, err)
	}
	if s.Metadata == nil {
		s.Metadata = map[string]string{}
	}
	return &s, nil
}

// CreateCheckoutSession implements checkout.Store.
func (db *DB) CreateCheckoutSession(ctx context.Context, s *checkout.Session) error {
	md, err := metadataJSON(s.Metadata)
	if err != nil {
		return err
	}
	_, err = db.w.ExecContext(ctx, `INSERT INTO checkout_sessions (id, merchant_id, livemode, status, amount, currency, success_url, cancel_url,
		customer_id, capture_method, metadata, token_hash, attempts, expires_at, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 0, $13, $14, $15)`,
		s.ID, s.MerchantID, s.Livemode, s.Status, s.Amount, s.Currency, s.SuccessURL, s.CancelURL,
		nullString(s.Customer), s.CaptureMethod, md, s.TokenHash, s.ExpiresAt, s.CreatedAt, s.UpdatedAt)
	if err != nil {
		return fmt.Errorf("insert checkout session: %w", err)
	}
	return nil
}

// CheckoutSession implements checkout.Store.
func (db *DB) CheckoutSession(ctx context.Context, scope tenant.Scope, id string) (*checkout.Session, error) {
	return sqldb.QueryOne(ctx, db.r, scanCheckout, checkout.ErrNotFound, `SELECT `+checkoutColumns+
		` FROM checkout_sessions s WHERE s.merchant_id = $1 AND s.livemode = $2 AND s.id = $3`, scope.MerchantID, scope.Livemode, id)
}

// CheckoutSessions implements checkout.Store: a page, newest first, of
// one mode (the per-mode indexes of migration 16).
func (db *DB) CheckoutSessions(ctx context.Context, scope tenant.Scope, q checkout.ListQuery) ([]*checkout.Session, bool, error) {
	return sqldb.List(ctx, db.lists, `SELECT `+checkoutColumns+` FROM checkout_sessions s`, "s.id", scopeFilter("s", scope),
		sqldb.Page{Limit: q.Limit, After: q.StartingAfter, Before: q.EndingBefore}, scanCheckout)
}

// CheckoutSessionByToken implements checkout.Store.
func (db *DB) CheckoutSessionByToken(ctx context.Context, hash []byte) (*checkout.Session, error) {
	return sqldb.QueryOne(ctx, db.r, scanCheckout, checkout.ErrNotFound, `SELECT `+checkoutColumns+
		` FROM checkout_sessions s WHERE s.token_hash = $1`, hash)
}

// UpdateCheckoutSession implements checkout.Store.
func (db *DB) UpdateCheckoutSession(ctx context.Context, scope tenant.Scope, id string,
	fn func(s *checkout.Session) ([]events.Event, bool, error)) (*checkout.Session, error) {
	var out *checkout.Session
	err := db.tx(ctx, func(tx *sql.Tx) error {
		s, err := sqldb.QueryOne(ctx, tx, scanCheckout, checkout.ErrNotFound, `SELECT `+checkoutColumns+
			` FROM checkout_sessions s WHERE s.merchant_id = $1 AND s.livemode = $2 AND s.id = $3`+db.lockOf("s"), scope.MerchantID, scope.Livemode, id)
		if err != nil {
			return err
		}
		out = s
		evs, changed, err := fn(s)
		if err != nil || !changed {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE checkout_sessions SET status = $2, payment_id = $3, attempts = $4, attempted_at = $5,
			completed_at = $6, expired_at = $7, updated_at = $8 WHERE id = $1`,
			s.ID, s.Status, nullString(s.PaymentID), s.Attempts, nullTime(s.AttemptedAt), nullTime(s.CompletedAt), nullTime(s.ExpiredAt), s.UpdatedAt); err != nil {
			return fmt.Errorf("update checkout session: %w", err)
		}
		return db.insertEvents(ctx, tx, evs)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DueCheckoutSessions implements checkout.Store: open sessions past their
// expiry (oldest expiry first), then open ones whose payment succeeded.
func (db *DB) DueCheckoutSessions(ctx context.Context, now time.Time, limit int) ([]*checkout.Session, error) {
	expired, err := sqldb.QueryAll(ctx, db.r, scanCheckout, `SELECT `+checkoutColumns+
		` FROM checkout_sessions s WHERE s.status = 'open' AND s.expires_at <= $1 ORDER BY s.expires_at LIMIT $2`, now, limit)
	if err != nil {
		return nil, err
	}
	paid, err := sqldb.QueryAll(ctx, db.r, scanCheckout, `SELECT `+checkoutColumns+
		` FROM checkout_sessions s JOIN payments p ON p.id = s.payment_id
		WHERE s.status = 'open' AND s.payment_id IS NOT NULL AND p.status IN ('succeeded', 'requires_capture') LIMIT $1`, limit)
	if err != nil {
		return nil, err
	}
	return append(expired, paid...), nil
}

// MerchantName implements checkout.Store.
func (db *DB) MerchantName(ctx context.Context, merchantID string) (string, error) {
	var name string
	err := db.r.QueryRowContext(ctx, `SELECT name FROM merchants WHERE id = $1`, merchantID).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return "", checkout.ErrNotFound
	}
	return name, err
}
