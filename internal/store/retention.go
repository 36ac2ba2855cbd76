package store

import (
	"context"
	"time"
)

// Retention: rows paygate keeps only for a while, deleted a batch per
// statement by the retention job of every instance (internal/retention).
// Each statement is a short transaction of its own. On PostgreSQL its batch
// is chosen with SKIP LOCKED, so the jobs of several instances take
// disjoint batches, and none waits on another's locks or on a request's.
// They run on the pool that does not wait for the disk: a deletion lost in
// a database crash is done again by the next round.

// DeleteIdempotencyKeys deletes at most limit keys created before
// createdBefore, oldest first, whose request is not in flight (no lease, or a lease that
// ran out by now), and returns how many it deleted.
func (db *DB) DeleteIdempotencyKeys(ctx context.Context, createdBefore, now time.Time, limit int) (int64, error) {
	return db.execCount(ctx, `DELETE FROM idempotency_keys WHERE (merchant_id, key) IN
		(SELECT merchant_id, key FROM idempotency_keys WHERE created_at < $1 AND (locked_until IS NULL OR locked_until <= $2)
		ORDER BY created_at LIMIT $3`+db.skipLocked+`)`, createdBefore, now, limit)
}

// DeleteWebhookAttempts deletes at most limit webhook attempts made before
// before, oldest first, and returns how many it deleted. The attempts of a delivery still
// pending stay, whatever their age (a redelivery makes an old delivery
// pending again): they tell why it has not succeeded yet. Deliveries give
// up after PAYGATE_WEBHOOK_MAX_AGE, so those wait days, not for ever.
func (db *DB) DeleteWebhookAttempts(ctx context.Context, before time.Time, limit int) (int64, error) {
	return db.execCount(ctx, `DELETE FROM webhook_attempts WHERE id IN
		(SELECT a.id FROM webhook_attempts a WHERE a.attempted_at < $1
		AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.endpoint_id = a.endpoint_id AND d.event_id = a.event_id AND d.status = 'pending')
		ORDER BY a.attempted_at LIMIT $2`+db.skipLocked+`)`, before, limit)
}

// ClearActionTokens forgets the token hash of at most limit customer links
// that expired before expiredBefore, and returns how many it cleared. An
// expired link finds nothing any more, as it would be refused anyway; the
// payment keeps everything else, action_expires_at included, which the
// expiry job reads to cancel a payment its customer abandoned.
func (db *DB) ClearActionTokens(ctx context.Context, expiredBefore time.Time, limit int) (int64, error) {
	return db.execCount(ctx, `UPDATE payments SET action_token_hash = NULL WHERE id IN
		(SELECT id FROM payments WHERE action_token_hash IS NOT NULL AND action_expires_at < $1
		LIMIT $2`+db.skipLocked+`)`, expiredBefore, limit)
}

// execCount runs one statement on the asynchronous pool and returns the
// number of rows it changed.
func (db *DB) execCount(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := db.async.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
