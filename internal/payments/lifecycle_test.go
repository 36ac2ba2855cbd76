package payments

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/connectors"
	"github.com/paygate/paygate/internal/events"
	"github.com/paygate/paygate/internal/idempotency"
	"github.com/paygate/paygate/internal/ledger"
	"github.com/paygate/paygate/internal/tenant"
	"github.com/paygate/paygate/internal/vault"
)

// memStore is a Store in memory: enough of one to run the service's state
// changes without a database. UpdatePayment hands fn a copy and keeps it
// only when fn succeeds, as a transaction would; every committed change is
// recorded.
type memStore struct {
	payments map[string]*Payment
	changes  []Change
}

func newMemStore(ps ...*Payment) *memStore {
	m := &memStore{payments: map[string]*Payment{}}
	for _, p := range ps {
		cp := *p
		m.payments[p.ID] = &cp
	}
	return m
}

func (m *memStore) CreatePayment(_ context.Context, p *Payment, ch Change, call *idempotency.Call) error {
	cp := *p
	m.payments[p.ID] = &cp
	m.changes = append(m.changes, ch)
	return nil
}

func (m *memStore) PaymentAttempts(context.Context, tenant.Scope, string) ([]*Attempt, error) {
	return nil, nil
}
func (m *memStore) PaymentForProcessor(_ context.Context, id string) (*Payment, error) {
	p, ok := m.payments[id]
	if !ok {
		return nil, ErrNotFound
	}
	cp := *p
	return &cp, nil
}

func (m *memStore) Payment(_ context.Context, scope tenant.Scope, id string) (*Payment, error) {
	p, ok := m.payments[id]
	if !ok || p.MerchantID != scope.MerchantID || p.Livemode != scope.Livemode {
		return nil, ErrNotFound
	}
	cp := *p
	return &cp, nil
}

func (m *memStore) UpdatePayment(ctx context.Context, scope tenant.Scope, id string, fn func(p *Payment) (Change, error)) (*Payment, error) {
	p, err := m.Payment(ctx, scope, id)
	if err != nil {
		return nil, err
	}
	ch, err := fn(p)
	if err != nil {
		return nil, err
	}
	cp := *p
	m.payments[id] = &cp
	m.changes = append(m.changes, ch)
	return p, nil
}

func (m *memStore) Payments(context.Context, tenant.Scope, ListQuery) ([]*Payment, bool, error) {
	return nil, false, nil
}
func (m *memStore) CreateMethod(context.Context, *Method) error { return nil }
func (m *memStore) Method(context.Context, tenant.Scope, string) (*Method, error) {
	return nil, ErrNotFound
}
func (m *memStore) CustomerExists(context.Context, tenant.Scope, string) error {
	return ErrCustomerNotFound
}
func (m *memStore) SaveMethod(context.Context, tenant.Scope, string, *Method, bool, time.Time, func(*Method, bool) ([]events.Event, error)) (*Method, error) {
	return nil, ErrCustomerNotFound
}
func (m *memStore) DetachMethod(context.Context, tenant.Scope, string, time.Time, func(*Method) ([]events.Event, error)) (*Method, error) {
	return nil, ErrNotFound
}
func (m *memStore) CustomerMethods(context.Context, tenant.Scope, string, MethodListQuery) ([]*Method, bool, error) {
	return nil, false, nil
}
func (m *memStore) StalePayments(context.Context, time.Time, int) ([]*Payment, error) {
	return nil, nil
}
func (m *memStore) PaymentByActionToken(context.Context, []byte) (*Payment, error) {
	return nil, ErrNotFound
}
func (m *memStore) ExpiredActions(context.Context, time.Time, int) ([]*Payment, error) {
	return nil, nil
}

// noConnector fails the test if the service calls the processor: finish
// only records an answer the processor already gave.
type noConnector struct{ t *testing.T }

func (c noConnector) Name() string { return "test" }
func (c noConnector) fail() (connectors.Result, error) {
	c.t.Error("the processor was called")
	return connectors.Result{}, errors.New("no processor")
}
func (c noConnector) Authorize(context.Context, connectors.AuthorizeRequest) (connectors.Result, error) {
	return c.fail()
}
func (c noConnector) Capture(context.Context, connectors.CaptureRequest) (connectors.Result, error) {
	return c.fail()
}
func (c noConnector) Void(context.Context, connectors.VoidRequest) (connectors.Result, error) {
	return c.fail()
}
func (c noConnector) Refund(context.Context, connectors.RefundRequest) (connectors.Result, error) {
	return c.fail()
}
func (c noConnector) Lookup(context.Context, string) (connectors.Result, error) { return c.fail() }
func (c noConnector) CompleteAction(context.Context, connectors.CompleteActionRequest) (connectors.Result, error) {
	return c.fail()
}

type declines struct{ keys []string }

func (d *declines) Declined(keyID string) { d.keys = append(d.keys, keyID) }

// TestActionsStartFrom holds the lifecycle table to the SPEC: which action
// may start from which status, and the answer otherwise.
func TestActionsStartFrom(t *testing.T) {
	allowed := map[action][]Status{
		changeTerms:    {RequiresPaymentMethod, RequiresConfirmation},
		confirmPayment: {RequiresConfirmation},
		capturePayment: {RequiresCapture},
		cancelPayment:  {RequiresPaymentMethod, RequiresConfirmation, RequiresAction, RequiresCapture},
		customerStep:   {RequiresAction},
	}
	for a, want := range allowed {
		for _, s := range AllStatuses {
			err := a.check(s)
			if slices.Contains(want, s) {
				if err != nil {
					t.Errorf("action %d from %s: %v, want allowed", a, s, err)
				}
				continue
			}
			if a == customerStep {
				if !errors.Is(err, ErrActionUnavailable) {
					t.Errorf("customer step from %s: %v", s, err)
				}
				continue
			}
			e, ok := apierror.As(err)
			if !ok || e.Kind != apierror.KindConflict || e.Code != "payment_unexpected_state" || !strings.Contains(e.Message, string(s)) {
				t.Errorf("action %d from %s: %v, want 409 payment_unexpected_state naming the status", a, s, err)
			}
		}
	}
	// Every final status refuses every action.
	for _, s := range AllStatuses {
		if s.Final() {
			for a := range allowed {
				if a.check(s) == nil {
					t.Errorf("action %d allowed from the final status %s", a, s)
				}
			}
		}
	}
}

func TestBegin(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p := &Payment{ID: "pay_1", Status: RequiresCapture}
	begin(p, OpCapture, operationRef(p.ID, OpCapture), now)
	if p.Status != Processing || p.PendingOperation != OpCapture || p.ResumeStatus != RequiresCapture ||
		p.ConnectorReference != "pay_1:capture" || !p.UpdatedAt.Equal(now) {
		t.Fatalf("after begin: %+v", p)
	}
}

// processing is a payment waiting for the processor's answer to op.
func processing(op string, capture string, resume Status) *Payment {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p := &Payment{ID: "pay_1", Object: "payment", MerchantID: "mer_1", Amount: 2000, Currency: "USD", CaptureMethod: capture,
		Status: resume, Metadata: map[string]string{}, CreatedAt: now, UpdatedAt: now}
	if resume == RequiresCapture {
		p.AmountCapturable = p.Amount
	}
	begin(p, op, operationRef(p.ID, op), now)
	if op == OpCapture {
		p.PendingAmount = 1500
	}
	return p
}

// TestFinish records each kind of processor answer through the service, on
// a store in memory: the status and amounts the payment is left with, the
// one event and the ledger entries written with it, the answer stored in
// the same change, and what the caller gets.
func TestFinish(t *testing.T) {
	succeeded := connectors.Result{Outcome: connectors.Succeeded, ProcessorID: "ch_1"}
	cases := []struct {
		name       string
		p          *Payment
		op         string
		res        connectors.Result
		status     Status
		received   int64
		capturable int64
		event      string
		ledger     int64 // captured in this change
		errCode    string
		answered   bool
	}{
		{"sale", processing(OpAuthorize, CaptureAutomatic, RequiresConfirmation), OpAuthorize, succeeded,
			Succeeded, 2000, 0, events.PaymentSucceeded, 2000, "", true},
		{"authorization", processing(OpAuthorize, CaptureManual, RequiresConfirmation), OpAuthorize, succeeded,
			RequiresCapture, 0, 2000, events.PaymentRequiresCapture, 0, "", true},
		{"decline", processing(OpAuthorize, CaptureAutomatic, RequiresConfirmation), OpAuthorize,
			connectors.Result{Outcome: connectors.Declined, FailureCode: "card_declined", DeclineCode: "insufficient_funds", Message: "no"},
			Failed, 0, 0, events.PaymentFailed, 0, "", true},
		{"processing error", processing(OpAuthorize, CaptureAutomatic, RequiresConfirmation), OpAuthorize,
			connectors.Result{Outcome: connectors.Failed}, Failed, 0, 0, events.PaymentFailed, 0, "", true},
		// Not reached (an outage): failed, but no decline of the card.
		{"processor unreached", processing(OpAuthorize, CaptureAutomatic, RequiresConfirmation), OpAuthorize,
			unreached, Failed, 0, 0, events.PaymentFailed, 0, "", true},
		{"3-D Secure", processing(OpAuthorize, CaptureAutomatic, RequiresConfirmation), OpAuthorize,
			connectors.Result{Outcome: connectors.ActionRequired, RedirectURL: "https://pay.example/authenticate/{token}"},
			RequiresAction, 0, 0, events.PaymentRequiresAction, 0, "", false},
		{"partial capture", processing(OpCapture, CaptureManual, RequiresCapture), OpCapture, succeeded,
			Succeeded, 1500, 0, events.PaymentSucceeded, 1500, "", true},
		{"capture refused", processing(OpCapture, CaptureManual, RequiresCapture), OpCapture,
			connectors.Result{Outcome: connectors.Declined, Message: "expired"}, RequiresCapture, 0, 2000, events.PaymentRequiresCapture, 0, "capture_failed", false},
		{"void", processing(OpVoid, CaptureManual, RequiresCapture), OpVoid, succeeded,
			Canceled, 0, 0, events.PaymentCanceled, 0, "", true},
		{"void refused", processing(OpVoid, CaptureManual, RequiresCapture), OpVoid,
			connectors.Result{Outcome: connectors.Failed}, RequiresCapture, 0, 2000, events.PaymentRequiresCapture, 0, "cancel_failed", false},
		// An answer for an operation the payment no longer waits for (a
		// second recovery, a late retry) changes nothing.
		{"already recorded", &Payment{ID: "pay_1", Object: "payment", MerchantID: "mer_1", Amount: 2000, Currency: "USD",
			Status: Succeeded, AmountReceived: 2000, Metadata: map[string]string{}}, OpAuthorize, succeeded,
			Succeeded, 2000, 0, "", 0, "", true},
	}
	keys, err := vault.ParseKeyring("k1:"+vault.NewKey(), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := newMemStore(c.p)
			s := NewService(st, noConnector{t}, keys, slog.New(slog.NewTextHandler(io.Discard, nil)))
			d := &declines{}
			s.Declines = d
			acct := tenant.Account{Scope: tenant.Of("mer_1", false), KeyID: "key_1"}
			call := idempotency.NewCall(idempotency.Record{MerchantID: "mer_1", Key: "k"}, func(v any) (idempotency.Response, error) {
				b, err := json.Marshal(v)
				return idempotency.Response{Status: 200, Body: b}, err
			}, func(b []byte) bool { return bytes.Contains(b, []byte(`"next_action":{`)) })

			got, err := s.finish(context.Background(), acct, "pay_1", c.op, c.res, call)

			if c.errCode != "" {
				if e, ok := apierror.As(err); !ok || e.Code != c.errCode {
					t.Fatalf("error %v, want %s", err, c.errCode)
				}
			} else if err != nil || got == nil {
				t.Fatalf("finish: %v", err)
			}
			p := st.payments["pay_1"]
			if p.Status != c.status || p.AmountReceived != c.received || p.AmountCapturable != c.capturable {
				t.Errorf("status %s, received %d, capturable %d; want %s, %d, %d", p.Status, p.AmountReceived, p.AmountCapturable,
					c.status, c.received, c.capturable)
			}
			if p.Status != Processing && (p.PendingOperation != "" || p.PendingAmount != 0 || p.ResumeStatus != "") {
				t.Errorf("the operation in flight is still recorded: %+v", p)
			}
			if len(st.changes) != 1 {
				t.Fatalf("%d changes, want one transaction", len(st.changes))
			}
			ch := st.changes[0]
			var types []string
			for _, e := range ch.Events {
				types = append(types, e.Type)
			}
			if want := []string{c.event}; c.event == "" && len(types) != 0 || c.event != "" && !slices.Equal(types, want) {
				t.Errorf("events %v, want %q", types, c.event)
			}
			var captured int64
			for _, tx := range ch.Ledger {
				var sum int64
				for _, e := range tx.Entries {
					sum += e.Amount
				}
				if tx.Kind != ledger.KindCapture || sum != 0 || tx.ObjectID != "pay_1" {
					t.Errorf("ledger transaction %+v: kind %s, entries sum to %d", tx, tx.Kind, sum)
				}
				for _, e := range tx.Entries {
					if e.Account == ledger.MerchantBalance {
						captured += e.Amount
					}
				}
			}
			if captured != c.ledger {
				t.Errorf("captured in the ledger: %d, want %d", captured, c.ledger)
			}
			stored, ok := call.Stored()
			if ok != c.answered || (ch.Answer != nil) != c.answered {
				t.Errorf("answer stored with the result: %v (change %v), want %v", ok, ch.Answer != nil, c.answered)
			}
			if ok && !bytes.Contains(stored.Body, []byte(`"status":"`+string(c.status)+`"`)) {
				t.Errorf("stored answer %s does not show status %s", stored.Body, c.status)
			}
			switch {
			case c.res == unreached && len(d.keys) != 0:
				t.Errorf("declines recorded for %v: the processor was never reached", d.keys)
			case c.res != unreached && c.status == Failed && c.p.Status == Processing && !slices.Equal(d.keys, []string{"key_1"}):
				t.Errorf("declines recorded for %v, want the request's key", d.keys)
			}
			if c.status == RequiresAction {
				if len(p.ActionTokenHash) == 0 || p.ActionExpiresAt == nil || p.NextAction.RedirectToURL.URL != c.res.RedirectURL {
					t.Errorf("customer link not issued: %+v", p)
				}
				if b, _ := json.Marshal(ch.Events[0].Data); bytes.Contains(b, []byte("authenticate")) {
					t.Errorf("the event holds the customer's link: %s", b)
				}
				shown, _ := s.withLink(got, nil)
				if u := shown.NextAction.RedirectToURL.URL; strings.Contains(u, "{token}") || !strings.HasPrefix(u, "https://pay.example/authenticate/") {
					t.Errorf("shown link %s", u)
				}
			}
		})
	}
}

// noLookup is a processor that cannot look an operation up (Adyen): its
// idempotency makes sending the operation again the lookup.
type noLookup struct {
	noConnector
	captures int
}

func (c *noLookup) Lookup(context.Context, string) (connectors.Result, error) {
	return connectors.Result{}, connectors.ErrNoLookup
}
func (c *noLookup) Capture(_ context.Context, r connectors.CaptureRequest) (connectors.Result, error) {
	c.captures++
	return connectors.Result{Outcome: connectors.Succeeded, ProcessorID: "cap_1", Amount: r.Amount}, nil
}

// TestRecoverWithoutLookup: recovery sends an operation again under its
// reference to a processor without lookup, but only within ResendWindow of
// the payment's creation: past the processor's memory of its keys, a
// second sending could be a second operation.
func TestRecoverWithoutLookup(t *testing.T) {
	keys, err := vault.ParseKeyring("k1:"+vault.NewKey(), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		age      time.Duration
		status   Status
		captures int
	}{
		{time.Hour, Succeeded, 1},
		{ResendWindow + time.Hour, Processing, 0},
	} {
		p := processing(OpCapture, CaptureManual, RequiresCapture)
		p.PendingAmount, p.ConnectorReference = 2000, "pay_1:capture"
		p.CreatedAt = time.Now().Add(-c.age)
		st := newMemStore(p)
		conn := &noLookup{noConnector: noConnector{t}}
		s := NewService(st, conn, keys, slog.New(slog.NewTextHandler(io.Discard, nil)))
		got, err := s.recoverPayment(context.Background(), tenant.Of("mer_1", false).Acting(), p, secrets{}, nil)
		if err != nil || got.Status != c.status || conn.captures != c.captures {
			t.Errorf("created %s ago: %v, %v, %d captures; want %s and %d", c.age, got.Status, err, conn.captures, c.status, c.captures)
		}
	}
}
