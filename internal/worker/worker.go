// Package worker runs paygate's periodic background jobs, such as the
// recovery of interrupted payments and refunds. Every instance runs them;
// the jobs are safe to run concurrently.
package worker

import (
	"context"
	"log/slog"
	"time"

	"github.com/paygate/paygate/internal/logging"
)

// Every runs job at once and then every interval until ctx ends. A job's
// error is logged, and the next round tries again. Each round ends by
// timeout: a database that stops answering on an open connection (no
// reset, no refusal) would otherwise hold the round, and every later one,
// until the fault clears.
func Every(ctx context.Context, log *slog.Logger, name string, interval, timeout time.Duration, job func(ctx context.Context) error) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		rctx, cancel := context.WithTimeout(ctx, timeout)
		err := job(rctx)
		cancel()
		if err != nil && ctx.Err() == nil {
			// A job that keeps failing (the database is away) is logged
			// once per episode, not every round.
			log.WarnContext(ctx, "background job failed", "job", name, "error", err.Error(), logging.Episode("job "+name))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
