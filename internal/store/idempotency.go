package store

import (
	"context"
	"crypto/hmac"
	"database/sql"
	"errors"
	"fmt"

	"github.com/paygate/paygate/internal/idempotency"
	"github.com/paygate/paygate/internal/store/sqldb"
)

// ClaimIdempotencyKey records rec as the running request under its key, or
// tells what an earlier request with the key became. rec.CreatedAt is now;
// rec.LockedUntil is the lease of the request about to run. Of concurrent
// claims of one key exactly one is Started (or Resumed): the insert, or the
// row lock taken to examine an existing row, serializes them.
//
// (Creates skip this: their transaction inserts the key; see
// idempotency.Record.Unclaimed.) A first claim is one statement that does
// not wait for the disk. Losing it in a database crash (not a paygate crash: the
// database has it) costs nothing: the transaction that creates a payment or
// refund writes the key again, durably (linkIdempotencyKey), and a claim
// that made nothing needs no record.
func (db *DB) ClaimIdempotencyKey(ctx context.Context, rec idempotency.Record) (idempotency.Claim, error) {
	var c idempotency.Claim
	res, err := db.async.ExecContext(ctx, insertIdempotencyKey+` ON CONFLICT (merchant_id, key) DO NOTHING`, keyArgs(&rec, "")...)
	if err != nil {
		return c, fmt.Errorf("claim idempotency key: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return c, err
	} else if n == 1 {
		c.Outcome = idempotency.Started
		return c, nil
	}
	err = db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, insertIdempotencyKey+` ON CONFLICT (merchant_id, key) DO NOTHING`, keyArgs(&rec, "")...)
		if err != nil {
			return fmt.Errorf("claim idempotency key: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 1 {
			c.Outcome = idempotency.Started
			return nil
		}
		var method, path string
		var livemode bool
		var hash, body []byte
		var locked sql.NullTime
		var resource, sealedUnder sql.NullString
		var status sql.NullInt64
		err = tx.QueryRowContext(ctx, `SELECT method, path, livemode, request_hash, locked_until, resource_id, response_status, response_body, response_key_id
			FROM idempotency_keys WHERE merchant_id = $1 AND key = $2`+db.forUpdate, rec.MerchantID, rec.Key).
			Scan(&method, &path, &livemode, &hash, &locked, &resource, &status, &body, &sealedUnder)
		if errors.Is(err, sql.ErrNoRows) {
			// Deleted between the insert and the select: its request failed
			// validation a moment ago. Ask the client to retry.
			c.Outcome = idempotency.InUse
			return nil
		}
		if err != nil {
			return err
		}
		switch {
		// A record from before keyed hashes has an empty hash: it matches
		// no request.
		case method != rec.Method || path != rec.Path || livemode != rec.Livemode || !hmac.Equal(hash, rec.RequestHash):
			c.Outcome = idempotency.Mismatch
		case status.Valid:
			c.Outcome, c.Response = idempotency.Replay, idempotency.Response{Status: int(status.Int64), Body: body, KeyID: sealedUnder.String}
		case locked.Valid && locked.Time.After(rec.CreatedAt):
			c.Outcome = idempotency.InUse
		default:
			if _, err := tx.ExecContext(ctx, `UPDATE idempotency_keys SET locked_until = $3 WHERE merchant_id = $1 AND key = $2`,
				rec.MerchantID, rec.Key, rec.LockedUntil); err != nil {
				return fmt.Errorf("take over idempotency key: %w", err)
			}
			c.Outcome, c.ResourceID = idempotency.Resumed, resource.String
		}
		return nil
	})
	return c, err
}

// CompleteIdempotencyKey stores the response of the request that holds the
// key, for replay. It does not wait for the disk: if a database crash loses
// it, the retry resumes the request, which finds its work done and answers
// with the object as it is.
func (db *DB) CompleteIdempotencyKey(ctx context.Context, merchantID, key string, resp idempotency.Response) error {
	_, err := db.async.ExecContext(ctx, completeKey, merchantID, key, resp.Status, resp.Body, nullString(resp.KeyID))
	return err
}

// completeKey stores a request's answer under its key and unlocks it.
const completeKey = `UPDATE idempotency_keys SET response_status = $3, response_body = $4, response_key_id = $5, locked_until = NULL
	WHERE merchant_id = $1 AND key = $2`

// ReleaseIdempotencyKey unlocks a key whose request ended without a
// response worth keeping; the next retry resumes it.
func (db *DB) ReleaseIdempotencyKey(ctx context.Context, merchantID, key string) error {
	_, err := db.async.ExecContext(ctx, `UPDATE idempotency_keys SET locked_until = NULL
		WHERE merchant_id = $1 AND key = $2 AND response_status IS NULL`, merchantID, key)
	return err
}

// ForgetIdempotencyKey deletes a key whose request failed validation, so
// that it can be used again. A key that already created an object is only
// released: its retries must still find that object.
func (db *DB) ForgetIdempotencyKey(ctx context.Context, merchantID, key string) error {
	res, err := db.async.ExecContext(ctx, `DELETE FROM idempotency_keys
		WHERE merchant_id = $1 AND key = $2 AND response_status IS NULL AND resource_id IS NULL`, merchantID, key)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err
	}
	return db.ReleaseIdempotencyKey(ctx, merchantID, key)
}

// linkIdempotencyKey records, inside the transaction that creates an
// object, that the request holding the key created it: the recovery point
// from which a retry resumes. It writes the whole key (an upsert), so the
// link is as durable as the object even if the claim, committed without
// waiting for the disk, was lost in a database crash.
func linkIdempotencyKey(ctx context.Context, tx sqldb.Execer, rec *idempotency.Record, resourceID string) error {
	if rec == nil {
		return nil
	}
	if rec.Unclaimed {
		// A plain insert: an existing key fails the whole transaction,
		// which keyResult turns into idempotency.ErrKeyTaken.
		if _, err := tx.ExecContext(ctx, insertIdempotencyKey, keyArgs(rec, resourceID)...); err != nil {
			return fmt.Errorf("insert idempotency key: %w", err)
		}
		return nil
	}
	if _, err := tx.ExecContext(ctx, insertIdempotencyKey+` ON CONFLICT (merchant_id, key) DO UPDATE SET resource_id = excluded.resource_id`,
		keyArgs(rec, resourceID)...); err != nil {
		return fmt.Errorf("link idempotency key: %w", err)
	}
	return nil
}

// insertIdempotencyKey writes a key's record; keyArgs are its values.
const insertIdempotencyKey = `INSERT INTO idempotency_keys (merchant_id, key, livemode, method, path, request_hash, locked_until, created_at, resource_id)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`

func keyArgs(rec *idempotency.Record, resourceID string) []any {
	return []any{rec.MerchantID, rec.Key, rec.Livemode, rec.Method, rec.Path, rec.RequestHash, rec.LockedUntil, rec.CreatedAt, nullString(resourceID)}
}

// keyResult reports, for an unclaimed key, what the creating transaction's
// result means: committed, the key is in (call.Created); a unique
// violation on the key, another request has it (idempotency.ErrKeyTaken).
func (db *DB) keyResult(call *idempotency.Call, err error) error {
	if rec := call.Key(); rec == nil || !rec.Unclaimed {
		return err
	}
	if err == nil {
		call.Created()
		return nil
	}
	if db.uniqueViolation(err, "idempotency_keys") {
		return idempotency.ErrKeyTaken
	}
	return err
}
