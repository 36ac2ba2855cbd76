package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/paygate/paygate/internal/payments"
	"github.com/paygate/paygate/internal/routing"
	"github.com/paygate/paygate/internal/store/sqldb"
	"github.com/paygate/paygate/internal/tenant"
)

const accountColumns = `a.id, a.merchant_id, a.livemode, a.connector, a.label, a.enabled, a.base_url, a.credentials_hint,
	a.cred_key_id, a.cred_dek, a.cred_data, a.created_at, a.updated_at`

func scanAccount(row sqldb.Scanner) (*routing.Account, error) {
	a := routing.Account{Object: "connector_account"}
	if err := row.Scan(&a.ID, &a.MerchantID, &a.Livemode, &a.Connector, &a.Label, &a.Enabled, &a.BaseURL, &a.CredentialsHint,
		&a.Sealed.KeyID, &a.Sealed.DEK, &a.Sealed.Data, &a.CreatedAt, &a.UpdatedAt); err != nil {
		return nil, err
	}
	a.CreatedAt, a.UpdatedAt = a.CreatedAt.UTC(), a.UpdatedAt.UTC()
	a.CredentialsSet = routing.CredentialsSet(a.Connector)
	return &a, nil
}

// accountOf selects one live (not deleted) account ($3) of a scope.
const accountOf = ` FROM connector_accounts a WHERE a.merchant_id = $1 AND a.livemode = $2 AND a.id = $3 AND a.deleted_at IS NULL`

// CreateConnectorAccount implements routing.Store.
func (db *DB) CreateConnectorAccount(ctx context.Context, a *routing.Account) error {
	_, err := db.w.ExecContext(ctx, `INSERT INTO connector_accounts (id, merchant_id, livemode, connector, label, enabled, base_url,
		credentials_hint, cred_key_id, cred_dek, cred_data, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
		a.ID, a.MerchantID, a.Livemode, a.Connector, a.Label, a.Enabled, a.BaseURL, a.CredentialsHint,
		a.Sealed.KeyID, a.Sealed.DEK, a.Sealed.Data, a.CreatedAt, a.UpdatedAt)
	return err
}

// ConnectorAccount implements routing.Store.
func (db *DB) ConnectorAccount(ctx context.Context, scope tenant.Scope, id string) (*routing.Account, error) {
	return sqldb.QueryOne(ctx, db.r, scanAccount, routing.ErrNotFound, `SELECT `+accountColumns+accountOf, scope.MerchantID, scope.Livemode, id)
}

// ConnectorAccountsByID implements routing.Store: one query for the
// accounts a payment may go to.
func (db *DB) ConnectorAccountsByID(ctx context.Context, scope tenant.Scope, ids []string) ([]*routing.Account, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	args := []any{scope.MerchantID, scope.Livemode}
	marks := make([]string, len(ids))
	for i, id := range ids {
		args = append(args, id)
		marks[i] = fmt.Sprintf("$%d", i+3)
	}
	return sqldb.QueryAll(ctx, db.r, scanAccount, `SELECT `+accountColumns+` FROM connector_accounts a
		WHERE a.merchant_id = $1 AND a.livemode = $2 AND a.deleted_at IS NULL AND a.id IN (`+strings.Join(marks, ", ")+`)`, args...)
}

// ConnectorAccountAnyScope implements routing.Store.
func (db *DB) ConnectorAccountAnyScope(ctx context.Context, id string) (*routing.Account, error) {
	return sqldb.QueryOne(ctx, db.r, scanAccount, routing.ErrNotFound, `SELECT `+accountColumns+` FROM connector_accounts a WHERE a.id = $1`, id)
}

// ConnectorAccounts implements routing.Store.
func (db *DB) ConnectorAccounts(ctx context.Context, scope tenant.Scope, q routing.ListQuery) ([]*routing.Account, bool, error) {
	f := scopeFilter("a", scope)
	f.Const("a.deleted_at IS NULL")
	return sqldb.List(ctx, db.lists, `SELECT `+accountColumns+` FROM connector_accounts a`, "a.id", f,
		sqldb.Page{Limit: q.Limit, After: q.StartingAfter, Before: q.EndingBefore}, scanAccount)
}

// UpdateConnectorAccount implements routing.Store.
func (db *DB) UpdateConnectorAccount(ctx context.Context, scope tenant.Scope, id string, fn func(a *routing.Account) error) (*routing.Account, error) {
	var out *routing.Account
	err := db.tx(ctx, func(tx *sql.Tx) error {
		a, err := scanAccount(tx.QueryRowContext(ctx, `SELECT `+accountColumns+accountOf+db.lockOf("a"), scope.MerchantID, scope.Livemode, id))
		if errors.Is(err, sql.ErrNoRows) {
			return routing.ErrNotFound
		}
		if err != nil {
			return err
		}
		if err := fn(a); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE connector_accounts SET label = $2, enabled = $3, credentials_hint = $4,
			cred_key_id = $5, cred_dek = $6, cred_data = $7, updated_at = $8 WHERE id = $1`,
			a.ID, a.Label, a.Enabled, a.CredentialsHint, a.Sealed.KeyID, a.Sealed.DEK, a.Sealed.Data, a.UpdatedAt); err != nil {
			return fmt.Errorf("update connector account: %w", err)
		}
		out = a
		return nil
	})
	return out, err
}

// DeleteConnectorAccount implements routing.Store. The account's row lock
// comes first and the routing is read after it, so a concurrent PutRouting
// (which shares-locks the accounts it names) either sees the account gone
// or is seen naming it.
func (db *DB) DeleteConnectorAccount(ctx context.Context, scope tenant.Scope, id string, now time.Time) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1`+accountOf+db.lockOf("a"), scope.MerchantID, scope.Livemode, id).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return routing.ErrNotFound
		}
		if err != nil {
			return err
		}
		r, err := readRouting(ctx, tx, scope)
		if err != nil {
			return err
		}
		if r.Names(id) {
			return routing.ErrInUse
		}
		_, err = tx.ExecContext(ctx, `UPDATE connector_accounts SET deleted_at = $2, enabled = false, updated_at = $2 WHERE id = $1`, id, now)
		return err
	})
}

func readRouting(ctx context.Context, q sqldb.Queryer, scope tenant.Scope) (*routing.Rules, error) {
	r := &routing.Rules{Rules: []routing.Rule{}, Fallback: []string{}}
	var rules string
	var updated time.Time
	err := q.QueryRowContext(ctx, `SELECT rules, updated_at FROM routing WHERE merchant_id = $1 AND livemode = $2`,
		scope.MerchantID, scope.Livemode).Scan(&rules, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return r, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(rules), r); err != nil {
		return nil, fmt.Errorf("routing of %s: %w", scope.MerchantID, err)
	}
	updated = updated.UTC()
	r.UpdatedAt = &updated
	return r, nil
}

// Routing implements routing.Store.
func (db *DB) Routing(ctx context.Context, scope tenant.Scope) (*routing.Rules, error) {
	return readRouting(ctx, db.r, scope)
}

// PutRouting implements routing.Store: every account the rules name must
// be a live account of the scope, share-locked until the commit, so that
// none is deleted meanwhile.
func (db *DB) PutRouting(ctx context.Context, scope tenant.Scope, r *routing.Rules) error {
	stored := struct {
		Rules    []routing.Rule `json:"rules"`
		Fallback []string       `json:"fallback"`
	}{r.Rules, r.Fallback}
	b, err := json.Marshal(stored)
	if err != nil {
		return err
	}
	return db.tx(ctx, func(tx *sql.Tx) error {
		for _, rule := range r.Rules {
			for _, sh := range rule.Split {
				if err := db.shareAccount(ctx, tx, scope, sh.ConnectorAccount); err != nil {
					return err
				}
			}
		}
		for _, id := range r.Fallback {
			if err := db.shareAccount(ctx, tx, scope, id); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO routing (merchant_id, livemode, rules, updated_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (merchant_id, livemode) DO UPDATE SET rules = excluded.rules, updated_at = excluded.updated_at`,
			scope.MerchantID, scope.Livemode, string(b), *r.UpdatedAt)
		return err
	})
}

func (db *DB) shareAccount(ctx context.Context, tx *sql.Tx, scope tenant.Scope, id string) error {
	var one int
	err := tx.QueryRowContext(ctx, `SELECT 1`+accountOf+db.shareOf("a"), scope.MerchantID, scope.Livemode, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return &routing.MissingAccountError{ID: id}
	}
	return err
}

// PaymentAttempts implements payments.Store: a payment's attempts, oldest
// first.
func (db *DB) PaymentAttempts(ctx context.Context, scope tenant.Scope, paymentID string) ([]*payments.Attempt, error) {
	return sqldb.QueryAll(ctx, db.r, func(row sqldb.Scanner) (*payments.Attempt, error) {
		a := payments.Attempt{Object: "payment_attempt"}
		err := row.Scan(&a.ID, &a.Payment, &a.ConnectorAccount, &a.Connector, &a.Status, &a.FailureCode, &a.CreatedAt, &a.UpdatedAt)
		a.CreatedAt, a.UpdatedAt = a.CreatedAt.UTC(), a.UpdatedAt.UTC()
		return &a, err
	}, `SELECT t.id, t.payment_id, t.connector_account, t.connector, t.status, t.failure_code, t.created_at, t.updated_at
		FROM payment_attempts t JOIN payments p ON p.id = t.payment_id
		WHERE p.merchant_id = $1 AND p.livemode = $2 AND t.payment_id = $3 ORDER BY t.id`, scope.MerchantID, scope.Livemode, paymentID)
}

// PaymentForProcessor implements payments.Store.
func (db *DB) PaymentForProcessor(ctx context.Context, id string) (*payments.Payment, error) {
	return sqldb.QueryOne(ctx, db.r, scanPayment, payments.ErrNotFound, `SELECT `+paymentColumns+paymentFrom+` WHERE p.id = $1`, id)
}
