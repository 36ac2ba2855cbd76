package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/paygate/paygate/internal/audit"
	"github.com/paygate/paygate/internal/staff"
	"github.com/paygate/paygate/internal/store/sqldb"
)

const staffUserColumns = `u.id, u.merchant_id, u.email, u.role, u.password_hash, u.must_change_password,
	u.failed_sign_ins, u.locked_until, u.created_at`

func scanStaffUser(row sqldb.Scanner, extra ...any) (*staff.User, error) {
	var u staff.User
	var locked sql.NullTime
	dest := append([]any{&u.ID, &u.MerchantID, &u.Email, &u.Role, &u.PasswordHash, &u.MustChangePassword,
		&u.FailedSignIns, &locked, &u.CreatedAt}, extra...)
	if err := row.Scan(dest...); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, staff.ErrNotFound
		}
		return nil, err
	}
	u.Object, u.CreatedAt, u.LockedUntil = "staff_user", u.CreatedAt.UTC(), timePtr(locked)
	return &u, nil
}

// CreateStaffUser implements staff.Store.
func (db *DB) CreateStaffUser(ctx context.Context, u *staff.User, ev audit.Event) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM merchants WHERE id = $1`, u.MerchantID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return staff.ErrMerchantMissing
		}
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO staff_users (id, merchant_id, email, role, password_hash, must_change_password,
			created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)`,
			u.ID, u.MerchantID, u.Email, string(u.Role), u.PasswordHash, u.MustChangePassword, u.CreatedAt)
		if db.uniqueViolation(err, "staff_users") {
			return staff.ErrEmailTaken
		}
		if err != nil {
			return fmt.Errorf("insert staff user: %w", err)
		}
		return insertAudit(ctx, tx, ev)
	})
}

// StaffUserByEmail implements staff.Store.
func (db *DB) StaffUserByEmail(ctx context.Context, email string) (*staff.User, error) {
	return scanStaffUser(db.r.QueryRowContext(ctx, `SELECT `+staffUserColumns+` FROM staff_users u
		WHERE u.email = $1 AND u.deleted_at IS NULL`, email))
}

// RemoveStaffUser implements staff.Store.
func (db *DB) RemoveStaffUser(ctx context.Context, id string, ev audit.Event) (*staff.User, error) {
	var u *staff.User
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		u, err = scanStaffUser(tx.QueryRowContext(ctx, `SELECT `+staffUserColumns+` FROM staff_users u
			WHERE u.id = $1 AND u.deleted_at IS NULL`+db.lockOf("u"), id))
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE staff_users SET deleted_at = $2, updated_at = $2 WHERE id = $1`, id, ev.CreatedAt); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM staff_sessions WHERE user_id = $1`, id); err != nil {
			return err
		}
		ev.MerchantID = u.MerchantID
		ev.Details["email"] = u.Email
		return insertAudit(ctx, tx, ev)
	})
	return u, err
}

// AddressLockedUntil implements staff.Store.
func (db *DB) AddressLockedUntil(ctx context.Context, address string, now time.Time) (*time.Time, error) {
	var until sql.NullTime
	err := db.r.QueryRowContext(ctx, `SELECT locked_until FROM staff_sign_in_failures
		WHERE address = $1 AND locked_until > $2`, address, now).Scan(&until)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return timePtr(until), err
}

// RecordSignInFailure implements staff.Store. The counts are changed by
// conditional updates, in one transaction, so concurrent failures all count.
func (db *DB) RecordSignInFailure(ctx context.Context, userID, address string, now time.Time, p staff.Policy) (account, addr *time.Time, err error) {
	err = db.tx(ctx, func(tx *sql.Tx) error {
		// A failure outside the window starts a new one.
		var failures int
		err := tx.QueryRowContext(ctx, `INSERT INTO staff_sign_in_failures (address, failures, window_start) VALUES ($1, 1, $2)
			ON CONFLICT (address) DO UPDATE SET
				failures = CASE WHEN staff_sign_in_failures.window_start < $3 THEN 1 ELSE staff_sign_in_failures.failures + 1 END,
				window_start = CASE WHEN staff_sign_in_failures.window_start < $3 THEN $2 ELSE staff_sign_in_failures.window_start END
			RETURNING failures`, address, now, now.Add(-p.AddressWindow)).Scan(&failures)
		if err != nil {
			return fmt.Errorf("count sign-in failure: %w", err)
		}
		if failures >= p.AddressFailures {
			until := now.Add(p.AddressLockout)
			if _, err := tx.ExecContext(ctx, `UPDATE staff_sign_in_failures SET locked_until = $2, failures = 0, window_start = $3
				WHERE address = $1`, address, until, now); err != nil {
				return err
			}
			addr = &until
		}
		if userID == "" {
			return nil
		}
		if err := tx.QueryRowContext(ctx, `UPDATE staff_users SET failed_sign_ins = failed_sign_ins + 1 WHERE id = $1
			RETURNING failed_sign_ins`, userID).Scan(&failures); err != nil {
			return fmt.Errorf("count account failure: %w", err)
		}
		if failures >= p.AccountFailures {
			until := now.Add(p.AccountLockout)
			if _, err := tx.ExecContext(ctx, `UPDATE staff_users SET locked_until = $2, failed_sign_ins = 0 WHERE id = $1`, userID, until); err != nil {
				return err
			}
			account = &until
		}
		return nil
	})
	return account, addr, err
}

// CreateStaffSession implements staff.Store.
func (db *DB) CreateStaffSession(ctx context.Context, s *staff.Session, ev audit.Event) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO staff_sessions (token_hash, user_id, livemode, created_at, last_seen_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6)`, s.TokenHash, s.User.ID, s.Livemode, s.CreatedAt, s.LastSeenAt, s.ExpiresAt); err != nil {
			return fmt.Errorf("insert staff session: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE staff_users SET failed_sign_ins = 0, locked_until = NULL WHERE id = $1`, s.User.ID); err != nil {
			return err
		}
		// Sessions that ended are deleted as new ones begin: the table
		// holds the live ones, and a few dead ones at most.
		if _, err := tx.ExecContext(ctx, `DELETE FROM staff_sessions WHERE user_id = $1 AND expires_at < $2`, s.User.ID, s.CreatedAt); err != nil {
			return err
		}
		return insertAudit(ctx, tx, ev)
	})
}

// StaffSession implements staff.Store.
func (db *DB) StaffSession(ctx context.Context, hash []byte, now time.Time) (*staff.Session, error) {
	s := &staff.Session{TokenHash: hash}
	u, err := scanStaffUser(db.r.QueryRowContext(ctx, `SELECT `+staffUserColumns+`, s.livemode, s.created_at, s.last_seen_at, s.expires_at
		FROM staff_sessions s JOIN staff_users u ON u.id = s.user_id
		WHERE s.token_hash = $1 AND s.expires_at > $2 AND u.deleted_at IS NULL`, hash, now),
		&s.Livemode, &s.CreatedAt, &s.LastSeenAt, &s.ExpiresAt)
	if err != nil {
		return nil, err
	}
	s.User = u
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt = s.CreatedAt.UTC(), s.LastSeenAt.UTC(), s.ExpiresAt.UTC()
	return s, nil
}

// TouchStaffSession implements staff.Store.
func (db *DB) TouchStaffSession(ctx context.Context, hash []byte, now, expires time.Time) error {
	_, err := db.w.ExecContext(ctx, `UPDATE staff_sessions SET last_seen_at = $2, expires_at = $3 WHERE token_hash = $1`, hash, now, expires)
	return err
}

// SetStaffSessionMode implements staff.Store.
func (db *DB) SetStaffSessionMode(ctx context.Context, hash []byte, livemode bool) error {
	_, err := db.w.ExecContext(ctx, `UPDATE staff_sessions SET livemode = $2 WHERE token_hash = $1`, hash, livemode)
	return err
}

// DeleteStaffSession implements staff.Store.
func (db *DB) DeleteStaffSession(ctx context.Context, hash []byte, ev audit.Event) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM staff_sessions WHERE token_hash = $1`, hash); err != nil {
			return err
		}
		return insertAudit(ctx, tx, ev)
	})
}

// ChangeStaffPassword implements staff.Store.
func (db *DB) ChangeStaffPassword(ctx context.Context, userID, hash string, keep []byte, now time.Time, ev audit.Event) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE staff_users SET password_hash = $2, must_change_password = false, updated_at = $3
			WHERE id = $1`, userID, hash, now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM staff_sessions WHERE user_id = $1 AND token_hash <> $2`, userID, keep); err != nil {
			return err
		}
		return insertAudit(ctx, tx, ev)
	})
}
