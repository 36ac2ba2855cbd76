package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/paygate/paygate/internal/merchants"
)

// CreateMerchant stores a merchant and its first key in one transaction.
func (db *DB) CreateMerchant(ctx context.Context, m *merchants.Merchant) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO merchants (id, name, created_at) VALUES ($1, $2, $3)`, m.ID, m.Name, m.CreatedAt); err != nil {
			return fmt.Errorf("insert merchant: %w", err)
		}
		if m.APIKey != nil {
			return insertKey(ctx, tx, m.APIKey)
		}
		return nil
	})
}

// CountMerchants is used to detect an empty database on first start.
func (db *DB) CountMerchants(ctx context.Context) (int, error) {
	var n int
	err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM merchants`).Scan(&n)
	return n, err
}

// CreateKey issues another key to an existing merchant.
func (db *DB) CreateKey(ctx context.Context, k *merchants.Key) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM merchants WHERE id = $1`, k.MerchantID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return merchants.ErrNotFound
		}
		if err != nil {
			return err
		}
		return insertKey(ctx, tx, k)
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

func scanKey(row scanner) (*merchants.Key, error) {
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

// RevokeKey revokes a key; revoking twice keeps the first time.
func (db *DB) RevokeKey(ctx context.Context, id string, now time.Time) (*merchants.Key, error) {
	var k *merchants.Key
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL`, id, now); err != nil {
			return err
		}
		var err error
		k, err = scanKey(tx.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = $1`, id))
		return err
	})
	return k, err
}

// KeyBySecretHash finds a live (unrevoked) key. Every request asks the
// database, so a revocation takes effect at once on every instance.
func (db *DB) KeyBySecretHash(ctx context.Context, hash []byte) (*merchants.Key, error) {
	return scanKey(db.r.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE secret_hash = $1 AND revoked_at IS NULL`, hash))
}
