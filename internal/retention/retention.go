// Package retention deletes what paygate keeps only for a while, so that
// those tables stay bounded under constant load: idempotency keys past their
// retention, webhook attempts past theirs, and the token hashes of customer
// links that expired. Every instance runs the job; the store picks each
// batch so that two instances never take the same one.
package retention

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/paygate/paygate/internal/clock"
)

// Config is how long rows are kept, and how often the job looks.
type Config struct {
	// IdempotencyKeys (PAYGATE_IDEMPOTENCY_RETENTION): at least 24 hours,
	// as the API promises.
	IdempotencyKeys time.Duration
	// WebhookAttempts (PAYGATE_WEBHOOK_ATTEMPT_RETENTION).
	WebhookAttempts time.Duration
	// Interval (PAYGATE_RETENTION_INTERVAL) between rounds that found
	// nothing more to delete.
	Interval time.Duration
}

// DefaultConfig keeps keys 24 hours and attempts 30 days, and looks every
// minute.
func DefaultConfig() Config {
	return Config{IdempotencyKeys: 24 * time.Hour, WebhookAttempts: 30 * 24 * time.Hour, Interval: time.Minute}
}

// Store deletes one batch, in one short statement, of at most limit rows;
// each returns how many it deleted.
type Store interface {
	DeleteIdempotencyKeys(ctx context.Context, createdBefore, now time.Time, limit int) (int64, error)
	DeleteWebhookAttempts(ctx context.Context, before time.Time, limit int) (int64, error)
	ClearActionTokens(ctx context.Context, expiredBefore time.Time, limit int) (int64, error)
}

// Defaults of Job.Batch and Job.PerRound.
const (
	DefaultBatch    = 500
	DefaultPerRound = 20 * DefaultBatch
)

// TokenGrace is how long after its expiry a customer link's token is
// cleared: an instance whose clock runs a little behind still takes the
// link for valid that long.
const TokenGrace = time.Minute

// roundTimeout bounds one round: 20 batches of 500 rows take well under a
// second each.
const roundTimeout = time.Minute

// Job deletes expired rows in rounds.
type Job struct {
	store Store
	cfg   Config
	log   *slog.Logger
	// Now is the job's clock, read once at the start of each round.
	Now func() time.Time
	// Batch bounds the rows of one statement, PerRound those of one table
	// in one round. A round that reaches PerRound is followed at once by
	// the next, so the job keeps up with any rate of inserts the database
	// allows while no transaction, and no round, grows large.
	Batch, PerRound int
}

// New returns a job over store.
func New(store Store, cfg Config, log *slog.Logger) *Job {
	return &Job{store: store, cfg: cfg, log: log, Now: clock.Now, Batch: DefaultBatch, PerRound: DefaultPerRound}
}

// Counts are the rows one round deleted.
type Counts struct {
	IdempotencyKeys, WebhookAttempts, ActionTokens int64
	// More: a table reached the round's limit and may hold more.
	More bool
}

// Round deletes, table by table, up to PerRound rows past their retention
// as of now. An error in one table does not stop the others.
func (j *Job) Round(ctx context.Context) (Counts, error) {
	now := j.Now()
	var c Counts
	var errs []error
	for _, t := range []struct {
		n   *int64
		del func(limit int) (int64, error)
	}{
		{&c.IdempotencyKeys, func(limit int) (int64, error) {
			return j.store.DeleteIdempotencyKeys(ctx, now.Add(-j.cfg.IdempotencyKeys), now, limit)
		}},
		{&c.WebhookAttempts, func(limit int) (int64, error) {
			return j.store.DeleteWebhookAttempts(ctx, now.Add(-j.cfg.WebhookAttempts), limit)
		}},
		{&c.ActionTokens, func(limit int) (int64, error) {
			return j.store.ClearActionTokens(ctx, now.Add(-TokenGrace), limit)
		}},
	} {
		more, err := j.drain(t.n, t.del)
		c.More = c.More || more
		if err != nil {
			errs = append(errs, err)
		}
	}
	return c, errors.Join(errs...)
}

// drain runs batches until one comes back short or the round's limit is
// reached (more).
func (j *Job) drain(n *int64, del func(limit int) (int64, error)) (more bool, err error) {
	batch, perRound := cmp.Or(j.Batch, DefaultBatch), cmp.Or(j.PerRound, DefaultPerRound)
	for int(*n) < perRound {
		limit := min(batch, perRound-int(*n))
		d, err := del(limit)
		*n += d
		if err != nil || int(d) < limit {
			return false, err
		}
	}
	return true, nil
}

// Run runs rounds until ctx ends: the next at once after a round that
// reached its limit, else after the interval. Counts are logged when a
// round deleted anything, errors as warnings.
func (j *Job) Run(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		// Bounded, like every background round: a stalled database
		// connection must not hold the job past the fault.
		rctx, cancel := context.WithTimeout(ctx, roundTimeout)
		c, err := j.Round(rctx)
		cancel()
		if c.IdempotencyKeys+c.WebhookAttempts+c.ActionTokens > 0 {
			j.log.InfoContext(ctx, "retention: deleted expired rows", "idempotency_keys", c.IdempotencyKeys,
				"webhook_attempts", c.WebhookAttempts, "action_tokens", c.ActionTokens, "more", c.More)
		}
		if err != nil && ctx.Err() == nil {
			j.log.WarnContext(ctx, "background job failed", "job", "retention", "error", err.Error())
		}
		next := j.cfg.Interval
		if c.More && err == nil {
			next = 0
		}
		t.Reset(next)
	}
}
