package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/paygate/paygate/internal/audit"
	"github.com/paygate/paygate/internal/merchants"
	"github.com/paygate/paygate/internal/store/sqldb"
)

// CreateMerchant stores a merchant, its first key and the audit entry of
// the action in one transaction.
func (db *DB) CreateMerchant(ctx context.Context, m *merchants.Merchant, ev audit.Event) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO merchants (id, name, created_at) VALUES ($1, $2, $3)`, m.ID, m.Name, m.CreatedAt); err != nil {
			return fmt.Errorf("insert merchant: %w", err)
		}
		if m.APIKey != nil {
			if err := insertKey(ctx, tx, m.APIKey); err != nil {
				return err
			}
		}
		return insertAudit(ctx, tx, ev)
	})
}

// CountMerchants is used to detect an empty database on first start.
func (db *DB) CountMerchants(ctx context.Context) (int, error) {
	var n int
	err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM merchants`).Scan(&n)
	return n, err
}

// CreateKey issues another key to an existing merchant, with the audit
// entry of the action.
func (db *DB) CreateKey(ctx context.Context, k *merchants.Key, ev audit.Event) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM merchants WHERE id = $1`, k.MerchantID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return merchants.ErrNotFound
		}
		if err != nil {
			return err
		}
		if err := insertKey(ctx, tx, k); err != nil {
			return err
		}
		return insertAudit(ctx, tx, ev)
	})
}

func insertKey(ctx context.Context, tx *sql.Tx, k *merchants.Key) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO api_keys (id, merchant_id, secret_hash, prefix, livemode, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, k.ID, k.MerchantID, k.Hash, k.Prefix, k.Livemode, k.CreatedAt)
	if err != nil {
		return fmt.Errorf("insert api key: %w", err)
	}
	return nil
}

const keyColumns = `id, merchant_id, prefix, livemode, created_at, last_used_at, revoked_at`

func scanKey(row sqldb.Scanner) (*merchants.Key, error) {
	var k merchants.Key
	var used, revoked sql.NullTime
	if err := row.Scan(&k.ID, &k.MerchantID, &k.Prefix, &k.Livemode, &k.CreatedAt, &used, &revoked); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, merchants.ErrNotFound
		}
		return nil, err
	}
	k.Object = "api_key"
	k.CreatedAt = k.CreatedAt.UTC()
	k.LastUsedAt, k.RevokedAt = timePtr(used), timePtr(revoked)
	return &k, nil
}

// RevokeKey revokes a key at ev's time, with ev as its audit entry;
// revoking twice keeps the first time.
func (db *DB) RevokeKey(ctx context.Context, id string, ev audit.Event) (*merchants.Key, error) {
	var k *merchants.Key
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL`, id, ev.CreatedAt); err != nil {
			return err
		}
		var err error
		if k, err = scanKey(tx.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = $1`, id)); err != nil {
			return err
		}
		ev.MerchantID = k.MerchantID
		return insertAudit(ctx, tx, ev)
	})
	return k, err
}

// TouchKey records that a key was used at now. It writes at most once a
// minute per key, so that authentication stays a read.
func (db *DB) TouchKey(ctx context.Context, id string, now time.Time) error {
	_, err := db.w.ExecContext(ctx, `UPDATE api_keys SET last_used_at = $2
		WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $3)`, id, now, now.Add(-time.Minute))
	return err
}

func insertAudit(ctx context.Context, q sqldb.Queryer, ev audit.Event) error {
	details, err := json.Marshal(ev.Details)
	if err != nil {
		return err
	}
	if ev.Details == nil {
		details = []byte("{}")
	}
	_, err = q.ExecContext(ctx, `INSERT INTO audit_events (id, actor, action, object_id, merchant_id, request_id, source_ip, details, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, ev.ID, ev.Actor, ev.Action, ev.ObjectID, nullString(ev.MerchantID),
		ev.RequestID, ev.SourceIP, string(details), ev.CreatedAt)
	if err != nil {
		return fmt.Errorf("insert audit event: %w", err)
	}
	return nil
}

// AppendAudit records an action that has no transaction of its own.
func (db *DB) AppendAudit(ctx context.Context, ev audit.Event) error {
	return insertAudit(ctx, db.w, ev)
}

const auditColumns = `a.id, a.actor, a.action, a.object_id, a.merchant_id, a.request_id, a.source_ip, a.details, a.created_at`

func scanAudit(row sqldb.Scanner) (*audit.Event, error) {
	var e audit.Event
	var merchant sql.NullString
	var details string
	if err := row.Scan(&e.ID, &e.Actor, &e.Action, &e.ObjectID, &merchant, &e.RequestID, &e.SourceIP, &details, &e.CreatedAt); err != nil {
		return nil, err
	}
	e.Object, e.MerchantID, e.CreatedAt = "audit_event", merchant.String, e.CreatedAt.UTC()
	if err := json.Unmarshal([]byte(details), &e.Details); err != nil {
		return nil, fmt.Errorf("audit event %s details: %w", e.ID, err)
	}
	if e.Details == nil {
		e.Details = map[string]string{}
	}
	return &e, nil
}

// AuditEvents implements audit.Lister: a page of the audit log, newest first.
func (db *DB) AuditEvents(ctx context.Context, q audit.ListQuery) ([]*audit.Event, bool, error) {
	f := sqldb.Filter{Where: []string{"1 = 1"}} // the audit log spans merchants
	f.Eq("a.action", q.Action)
	f.Eq("a.object_id", q.ObjectID)
	return sqldb.List(ctx, db.lists, `SELECT `+auditColumns+` FROM audit_events a`, "a.id", f,
		sqldb.Page{Limit: q.Limit, After: q.StartingAfter, Before: q.EndingBefore}, scanAudit)
}

// KeyBySecretHash finds a live (unrevoked) key. Every request asks the
// database, so a revocation takes effect at once on every instance.
func (db *DB) KeyBySecretHash(ctx context.Context, hash []byte) (*merchants.Key, error) {
	return scanKey(db.r.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE secret_hash = $1 AND revoked_at IS NULL`, hash))
}
