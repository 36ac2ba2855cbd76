package worker_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/worker"
)

// A round that would wait for ever (a stalled database connection) ends at
// its timeout, and the next round runs.
func TestEveryBoundsEachRound(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var rounds atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		worker.Every(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), "stall", 10*time.Millisecond, 50*time.Millisecond,
			func(ctx context.Context) error {
				if rounds.Add(1) == 3 {
					cancel()
				}
				<-ctx.Done()
				if !errors.Is(ctx.Err(), context.DeadlineExceeded) && rounds.Load() < 3 {
					t.Errorf("round %d ended by %v, want its deadline", rounds.Load(), ctx.Err())
				}
				return ctx.Err()
			})
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("Every still running after 10 s: %d rounds", rounds.Load())
	}
	if n := rounds.Load(); n != 3 {
		t.Errorf("%d rounds, want 3", n)
	}
}
