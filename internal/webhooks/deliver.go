package webhooks

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/events"
	"github.com/paygate/paygate/internal/ids"
	"github.com/paygate/paygate/internal/logging"
	"github.com/paygate/paygate/internal/netguard"
	"github.com/paygate/paygate/internal/vault"
	"github.com/paygate/paygate/pkg/webhook"
)

// Config tunes delivery.
type Config struct {
	Poll        time.Duration // how often a worker looks for due deliveries
	Timeout     time.Duration // of one attempt
	RetryBase   time.Duration // delay after the first failure; it doubles each time
	RetryCap    time.Duration // longest delay between two attempts
	MaxAge      time.Duration // after this, a delivery that never succeeded fails for good
	Concurrency int           // attempts in flight per instance
	Production  bool          // refuse private and loopback addresses
}

// DefaultConfig retries for three days: 5 s, 10 s, 20 s … up to 6 h apart.
func DefaultConfig() Config {
	return Config{Poll: 250 * time.Millisecond, Timeout: 10 * time.Second, RetryBase: 5 * time.Second,
		RetryCap: 6 * time.Hour, MaxAge: 72 * time.Hour, Concurrency: 8}
}

// Due is a claimed delivery, with what sending it takes.
type Due struct {
	EndpointID        string
	Attempt           int // this attempt's number, from 1
	CreatedAt         time.Time
	URL               string
	Sealed            vault.Sealed
	Previous          vault.Sealed
	PreviousExpiresAt *time.Time
	Event             events.Event
}

// Result is what an attempt leaves on its delivery.
type Result struct {
	Status        string // Pending (retry at NextAttemptAt), Succeeded or Failed
	NextAttemptAt time.Time
	// Claim is the attempt number of the claim that made the attempt
	// (Due.Attempt). The result applies only while the delivery is still
	// under that claim: a redelivery asked for meanwhile starts the
	// delivery again, and an attempt that was already on its way must not
	// mark it done. 0 applies it whatever the delivery's state.
	Claim int
}

// Queue holds the deliveries.
type Queue interface {
	// ClaimDeliveries takes up to limit due deliveries, locking each until
	// leaseUntil and counting the attempt, all in one transaction, so that
	// no other worker takes them meanwhile.
	ClaimDeliveries(ctx context.Context, now, leaseUntil time.Time, limit int) ([]Due, error)
	// RecordAttempt stores an attempt and its result on the delivery, and
	// releases the lease.
	RecordAttempt(ctx context.Context, a Attempt, r Result) error
}

// Worker sends due deliveries. Every instance runs one.
type Worker struct {
	queue  Queue
	sealer Sealer
	client *http.Client
	cfg    Config
	log    *slog.Logger
	// OnAttempt, when set, hears of every attempt's result (metrics):
	// succeeded, retry or failed.
	OnAttempt func(result string)
}

// NewWorker wires a Worker.
func NewWorker(q Queue, sealer Sealer, cfg Config, log *slog.Logger) *Worker {
	return &Worker{queue: q, sealer: sealer, client: netguard.Client(cfg.Production, cfg.Timeout), cfg: cfg, log: log}
}

// Run delivers until ctx ends, then waits for the attempts in flight:
// each is bounded by the attempt timeout.
func (w *Worker) Run(ctx context.Context) {
	slots := make(chan struct{}, w.cfg.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	t := time.NewTicker(w.cfg.Poll)
	defer t.Stop()
	for {
		// Claim while there is work and room for it.
		for ctx.Err() == nil {
			free := w.cfg.Concurrency - len(slots)
			if free == 0 {
				break
			}
			now := time.Now().UTC()
			// The lease outlasts an attempt (bounded by Timeout) and its
			// recording, so a live worker never loses a delivery to another.
			// The claim is bounded too: a stalled database connection
			// must not hold the worker past the fault.
			cctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
			due, err := w.queue.ClaimDeliveries(cctx, now, now.Add(2*w.cfg.Timeout+time.Second), free)
			cancel()
			if err != nil {
				if ctx.Err() == nil {
					w.log.WarnContext(ctx, "webhook claim failed", "error", err.Error(), logging.Episode("webhook claim"))
				}
				break
			}
			for _, d := range due {
				slots <- struct{}{}
				wg.Go(func() {
					defer func() { <-slots }()
					w.deliver(context.WithoutCancel(ctx), d)
				})
			}
			if len(due) < free {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// deliver makes one attempt and records it.
func (w *Worker) deliver(ctx context.Context, d Due) {
	start := time.Now()
	code, err := w.send(ctx, d)
	a := Attempt{ID: ids.New(ids.WebhookAttempt), Object: "webhook_attempt", EndpointID: d.EndpointID, EventID: d.Event.ID,
		AttemptedAt: start.UTC(), StatusCode: code, DurationMS: time.Since(start).Milliseconds()}
	r := Result{Status: Succeeded}
	detail := ""
	if err != nil {
		// The merchant reads the attempt: it gets a fixed message, never the
		// error's text, which can name internal addresses (what the host
		// resolved to, the resolver, the local socket). The detail is logged
		// below, for the operator.
		a.Error = apierror.Truncate(publicError(err), 500)
		detail = err.Error()
		r = w.retry(d, start)
	}
	r.Claim = d.Attempt
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := w.queue.RecordAttempt(rctx, a, r); err != nil {
		// The lease runs out and the delivery is tried again: at least once.
		w.log.WarnContext(ctx, "webhook attempt not recorded", "endpoint_id", d.EndpointID, "event_id", d.Event.ID, "error", err.Error())
	}
	if w.OnAttempt != nil {
		result := r.Status
		if result == Pending {
			result = "retry"
		}
		w.OnAttempt(result)
	}
	w.log.InfoContext(ctx, "webhook attempt", "endpoint_id", d.EndpointID, "event_id", d.Event.ID, "event_type", d.Event.Type,
		"attempt", d.Attempt, "status_code", code, "duration_ms", a.DurationMS, "result", r.Status, "error", detail)
	switch r.Status {
	case Failed:
		w.log.WarnContext(ctx, "webhook delivery given up", "endpoint_id", d.EndpointID, "event_id", d.Event.ID, "attempts", d.Attempt)
	case Pending:
		// An endpoint that is down fails every delivery to it: warned of
		// once per episode, not once per attempt (each is recorded, and
		// logged above at info).
		w.log.WarnContext(ctx, "webhook endpoint failing", "endpoint_id", d.EndpointID, "status_code", code, "error", detail,
			logging.Episode("webhook endpoint "+d.EndpointID))
	}
}

// retry schedules the next attempt: exponential backoff with jitter, so
// that a receiver coming back up is not hit by every sender at once; or
// gives up when the next attempt would fall after MaxAge.
func (w *Worker) retry(d Due, now time.Time) Result {
	delay := w.cfg.RetryBase << min(d.Attempt-1, 30)
	if delay <= 0 || delay > w.cfg.RetryCap {
		delay = w.cfg.RetryCap
	}
	delay = time.Duration(float64(delay) * (0.75 + rand.Float64()/2))
	next := now.Add(delay).UTC()
	if next.After(d.CreatedAt.Add(w.cfg.MaxAge)) {
		return Result{Status: Failed}
	}
	return Result{Status: Pending, NextAttemptAt: next}
}

// send posts the event, signed with the endpoint's secret (and the previous
// one while it has not expired). Only a 2xx answer is a success.
func (w *Worker) send(ctx context.Context, d Due) (int, error) {
	body, err := json.Marshal(d.Event)
	if err != nil {
		return 0, err
	}
	secrets, err := w.secrets(d)
	if err != nil {
		return 0, err
	}
	signer, err := webhook.NewSigner(secrets...)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, w.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "paygate-webhooks/1")
	// webhook-id is the event's id: the same on every retry, so receivers
	// can drop duplicates.
	if err := signer.SetHeaders(req.Header, d.Event.ID, time.Now(), body); err != nil {
		return 0, err
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, &statusError{code: resp.StatusCode}
	}
	return resp.StatusCode, nil
}

func (w *Worker) secrets(d Due) ([]string, error) {
	cur, err := w.sealer.Open(d.Sealed, d.EndpointID)
	if err != nil {
		return nil, fmt.Errorf("open webhook secret: %w", err)
	}
	out := []string{string(cur)}
	if d.PreviousExpiresAt != nil && time.Now().Before(*d.PreviousExpiresAt) && len(d.Previous.Data) > 0 {
		prev, err := w.sealer.Open(d.Previous, previousAAD(d.EndpointID))
		if err != nil {
			return nil, fmt.Errorf("open previous webhook secret: %w", err)
		}
		out = append(out, string(prev))
	}
	return out, nil
}
