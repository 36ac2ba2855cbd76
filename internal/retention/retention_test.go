package retention_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/audit"
	"github.com/paygate/paygate/internal/clock"
	"github.com/paygate/paygate/internal/events"
	"github.com/paygate/paygate/internal/ids"
	"github.com/paygate/paygate/internal/merchants"
	"github.com/paygate/paygate/internal/payments"
	"github.com/paygate/paygate/internal/retention"
	"github.com/paygate/paygate/internal/store"
	"github.com/paygate/paygate/internal/store/storetest"
	"github.com/paygate/paygate/internal/tenant"
	"github.com/paygate/paygate/internal/vault"
	"github.com/paygate/paygate/internal/webhooks"
)

// fixture writes the rows the job deletes: keys and attempts in bulk,
// payments waiting for their customer through the store.
type fixture struct {
	t        *testing.T
	db       *store.DB
	merchant string
	endpoint string
	event    string // its delivery finished, so that its attempts may go
	n        int
}

func newFixture(t *testing.T, db *store.DB) *fixture {
	t.Helper()
	ctx := context.Background()
	m := merchants.NewMerchant("m", false, clock.Now())
	if err := db.CreateMerchant(ctx, m, audit.New(audit.ActorCLI, audit.MerchantCreated, m.ID, m.ID, m.CreatedAt)); err != nil {
		t.Fatal(err)
	}
	keys, err := vault.ParseKeyring("v1:"+vault.NewKey(), "")
	if err != nil {
		t.Fatal(err)
	}
	url := "https://example.com/hooks"
	e, err := webhooks.NewService(db, keys, false).Create(ctx, tenant.Account{Scope: tenant.Scope{MerchantID: m.ID}},
		webhooks.CreateParams{URL: &url, EnabledEvents: []string{"*"}})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, db: db, merchant: m.ID, endpoint: e.ID}
	p := f.payment()
	ev, err := events.New(m.ID, events.PaymentCreated, p.ID, false, p, p.CreatedAt)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.CreatePayment(ctx, p, payments.Change{Events: []events.Event{ev}}, nil); err != nil {
		t.Fatal(err)
	}
	f.event = ev.ID
	f.exec(`UPDATE webhook_deliveries SET status = 'succeeded' WHERE event_id = $1`, ev.ID)
	return f
}

func (f *fixture) payment() *payments.Payment {
	now := clock.Now()
	return &payments.Payment{ID: ids.New(ids.Payment), Object: "payment", Amount: 500, Currency: "EUR", Status: payments.RequiresPaymentMethod,
		CaptureMethod: payments.CaptureAutomatic, Metadata: map[string]string{}, Connector: "sandbox", CreatedAt: now, UpdatedAt: now, MerchantID: f.merchant}
}

// rows inserts n idempotency keys (completed) created at at, n webhook
// attempts made at at, and n payments whose customer link expires at
// expires.
func (f *fixture) rows(n int, at, expires time.Time) {
	f.t.Helper()
	tx, err := f.db.SQL().Begin()
	if err != nil {
		f.t.Fatal(err)
	}
	defer tx.Rollback()
	for range n {
		f.n++
		if _, err := tx.Exec(`INSERT INTO idempotency_keys (merchant_id, key, livemode, method, path, request_hash, created_at, response_status)
			VALUES ($1, $2, false, 'POST', '/v1/payments', $3, $4, 200)`, f.merchant, fmt.Sprint("k", f.n), []byte{1}, at); err != nil {
			f.t.Fatal(err)
		}
		if _, err := tx.Exec(`INSERT INTO webhook_attempts (id, endpoint_id, event_id, attempted_at, status_code, duration_ms, error)
			VALUES ($1, $2, $3, $4, 200, 1, '')`, ids.New(ids.WebhookAttempt), f.endpoint, f.event, at); err != nil {
			f.t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		f.t.Fatal(err)
	}
	ctx := context.Background()
	for range n {
		p := f.payment()
		if err := f.db.CreatePayment(ctx, p, payments.Change{}, nil); err != nil {
			f.t.Fatal(err)
		}
		_, err := f.db.UpdatePayment(ctx, tenant.Scope{MerchantID: f.merchant}, p.ID, func(p *payments.Payment) (payments.Change, error) {
			p.Status = payments.RequiresAction
			p.NextAction = &payments.NextAction{Type: "redirect_to_url", RedirectToURL: &payments.RedirectToURL{URL: "https://pay.example/{token}"}}
			p.ActionTokenHash, p.ActionExpiresAt = []byte(rand.Text()), &expires
			return payments.Change{}, nil
		})
		if err != nil {
			f.t.Fatal(err)
		}
	}
}

func (f *fixture) exec(query string, args ...any) {
	f.t.Helper()
	if _, err := f.db.SQL().Exec(query, args...); err != nil {
		f.t.Fatal(err)
	}
}

// counts are the rows of each kind now: keys, attempts, live tokens.
func (f *fixture) counts() [3]int {
	f.t.Helper()
	var c [3]int
	for i, q := range []string{`SELECT count(*) FROM idempotency_keys`, `SELECT count(*) FROM webhook_attempts`,
		`SELECT count(*) FROM payments WHERE action_token_hash IS NOT NULL`} {
		if err := f.db.SQL().QueryRow(q).Scan(&c[i]); err != nil {
			f.t.Fatal(err)
		}
	}
	return c
}

// TestRoundIsCapped: a round deletes at most PerRound rows of each table,
// in batches of at most Batch, says there may be more, and the next round
// continues; rows within their retention stay.
func TestRoundIsCapped(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		ctx := context.Background()
		db := storetest.Open(t, backend)
		f := newFixture(t, db)
		now := clock.Now()
		f.rows(60, now.Add(-31*24*time.Hour), now.Add(-time.Hour))
		f.rows(5, now.Add(-time.Hour), now.Add(time.Hour))
		batches := &countingStore{Store: db}
		job := retention.New(batches, retention.DefaultConfig(), slog.New(slog.DiscardHandler))
		job.Now = func() time.Time { return now }
		job.Batch, job.PerRound = 10, 25
		for i, want := range []retention.Counts{
			{IdempotencyKeys: 25, WebhookAttempts: 25, ActionTokens: 25, More: true},
			{IdempotencyKeys: 25, WebhookAttempts: 25, ActionTokens: 25, More: true},
			{IdempotencyKeys: 10, WebhookAttempts: 10, ActionTokens: 10},
			{},
		} {
			got, err := job.Round(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("round %d: %+v, want %+v", i+1, got, want)
			}
		}
		if batches.largest > 10 {
			t.Errorf("a statement was asked for %d rows; the batch is 10", batches.largest)
		}
		if got := f.counts(); got != [3]int{5, 5, 5} {
			t.Errorf("left: %v, want the 5 recent rows of each", got)
		}
	})
}

// countingStore records the largest batch asked of the store.
type countingStore struct {
	retention.Store
	largest int
}

func (s *countingStore) DeleteIdempotencyKeys(ctx context.Context, createdBefore, now time.Time, limit int) (int64, error) {
	s.largest = max(s.largest, limit)
	return s.Store.DeleteIdempotencyKeys(ctx, createdBefore, now, limit)
}

func (s *countingStore) DeleteWebhookAttempts(ctx context.Context, before time.Time, limit int) (int64, error) {
	s.largest = max(s.largest, limit)
	return s.Store.DeleteWebhookAttempts(ctx, before, limit)
}

func (s *countingStore) ClearActionTokens(ctx context.Context, expiredBefore time.Time, limit int) (int64, error) {
	s.largest = max(s.largest, limit)
	return s.Store.ClearActionTokens(ctx, expiredBefore, limit)
}

// TestTablesStayBoundedUnderLoad inserts rows without pause, on a clock
// that moves two hours a step, while the job runs beside: over six days,
// each table holds no more than its retention's worth of rows and the few
// steps the job may lag (it is let lag at most three), not the six days'
// worth that it would without the job. At the end exactly the rows within
// their retention are left.
func TestTablesStayBoundedUnderLoad(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		db := storetest.Open(t, backend)
		f := newFixture(t, db)
		const (
			step    = 2 * time.Hour
			perStep = 4
			steps   = 72 // six days
			lag     = 3  // steps between waits for a round
			window  = int(24 * time.Hour / step)
		)
		var mu sync.Mutex
		virtual := clock.Now()
		at := func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			return virtual
		}
		var rounds atomic.Int64 // the job reads its clock once a round
		var logs syncBuffer
		job := retention.New(db, retention.Config{IdempotencyKeys: 24 * time.Hour, WebhookAttempts: 24 * time.Hour, Interval: 5 * time.Millisecond},
			slog.New(slog.NewTextHandler(&logs, nil)))
		job.Now = func() time.Time { rounds.Add(1); return at() }
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan struct{})
		go func() { defer close(stopped); job.Run(ctx) }()
		stop := sync.OnceFunc(func() { cancel(); <-stopped })
		defer stop()
		// waitRound returns once a whole round began after it was called.
		waitRound := func() {
			t.Helper()
			r0 := rounds.Load()
			for deadline := time.Now().Add(time.Minute); rounds.Load() < r0+2; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the job ran no round in a minute")
				}
			}
		}

		bounds := [3]int{(window + lag + 1) * perStep, (window + lag + 1) * perStep, (lag + 2) * perStep}
		var most [3]int
		for s := range steps {
			now := at()
			f.rows(perStep, now, now.Add(30*time.Minute))
			mu.Lock()
			virtual = virtual.Add(step)
			mu.Unlock()
			c := f.counts()
			for i := range c {
				most[i] = max(most[i], c[i])
				if c[i] > bounds[i] {
					t.Fatalf("step %d: %v rows (keys, attempts, live tokens), bounds %v", s, c, bounds)
				}
			}
			if s%lag == lag-1 {
				waitRound()
			}
		}
		waitRound()
		stop()
		if inserted := steps * perStep; inserted < 3*bounds[0] {
			t.Fatalf("%d rows inserted: too few for the bound (%d) to mean anything", inserted, bounds[0])
		}
		// The last rows were inserted at virtual-step; those at or after
		// virtual-24h stay: window steps' worth.
		if got, want := f.counts(), [3]int{window * perStep, window * perStep, 0}; got != want {
			t.Errorf("at the end: %v, want %v (the most at any step: %v)", got, want, most)
		}
		var payments int
		if err := db.SQL().QueryRow(`SELECT count(*) FROM payments`).Scan(&payments); err != nil || payments != steps*perStep+1 {
			t.Errorf("%d payments (%v), want all %d: only their tokens go", payments, err, steps*perStep+1)
		}
		if out := logs.String(); !strings.Contains(out, "retention: deleted expired rows") || strings.Contains(out, "job failed") {
			t.Errorf("the job's log:\n%s", out)
		}
		t.Logf("the most rows at any step (keys, attempts, live tokens): %v; bounds %v; inserted %d of each", most, bounds, steps*perStep)
	})
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
