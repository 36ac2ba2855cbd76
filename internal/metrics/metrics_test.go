package metrics

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/connectors"
)

// scripted answers each call with the next result or error.
type scripted struct {
	results []connectors.Result
	errs    []error
}

func (s *scripted) next() (connectors.Result, error) {
	r, err := s.results[0], s.errs[0]
	s.results, s.errs = s.results[1:], s.errs[1:]
	return r, err
}
func (s *scripted) Name() string { return "stripe" }
func (s *scripted) Authorize(context.Context, connectors.AuthorizeRequest) (connectors.Result, error) {
	return s.next()
}
func (s *scripted) Capture(context.Context, connectors.CaptureRequest) (connectors.Result, error) {
	return s.next()
}
func (s *scripted) Void(context.Context, connectors.VoidRequest) (connectors.Result, error) {
	return s.next()
}
func (s *scripted) Refund(context.Context, connectors.RefundRequest) (connectors.Result, error) {
	return s.next()
}
func (s *scripted) Lookup(context.Context, string) (connectors.Result, error) { return s.next() }
func (s *scripted) CompleteAction(context.Context, connectors.CompleteActionRequest) (connectors.Result, error) {
	return s.next()
}

type parsing struct{ scripted }

func (p *parsing) ParseWebhook(http.Header, []byte, time.Time) ([]connectors.Notification, error) {
	return []connectors.Notification{{Reference: "pay_1:authorize"}}, nil
}

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

func TestConnectorCallsByOutcome(t *testing.T) {
	m := New()
	c := m.Connector(&scripted{
		results: []connectors.Result{{Outcome: connectors.Succeeded}, {Outcome: connectors.Declined}, {}, {}, {Outcome: connectors.Pending}},
		errs:    []error{nil, nil, connectors.NotProcessed(errors.New("refused")), errors.New("timeout"), nil},
	})
	ctx := context.Background()
	for range 4 {
		_, _ = c.Authorize(ctx, connectors.AuthorizeRequest{})
	}
	_, _ = c.Refund(ctx, connectors.RefundRequest{})
	m.Breaker(true)
	m.Breaker(true)
	m.Breaker(false)
	out := scrape(t, m)
	for _, want := range []string{
		`paygate_connector_calls_total{connector="stripe",operation="authorize",outcome="succeeded"} 1`,
		`paygate_connector_calls_total{connector="stripe",operation="authorize",outcome="declined"} 1`,
		`paygate_connector_calls_total{connector="stripe",operation="authorize",outcome="not_processed"} 1`,
		`paygate_connector_calls_total{connector="stripe",operation="authorize",outcome="unknown"} 1`,
		`paygate_connector_calls_total{connector="stripe",operation="refund",outcome="pending"} 1`,
		`paygate_connector_errors_total{connector="stripe",operation="authorize"} 1`,
		`paygate_connector_duration_seconds_count{connector="stripe",operation="authorize"} 4`,
		`paygate_connector_breakers_open 1`,
		`paygate_connector_breaker_opened_total 2`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %s in\n%s", want, out)
		}
	}
	if _, ok := c.(connectors.WebhookParser); ok {
		t.Error("a connector without webhooks gained a parser")
	}
}

// A connector that parses webhooks still does once wrapped: the processor
// webhook endpoint looks for the interface.
func TestWrappedParser(t *testing.T) {
	c := New().Connector(&parsing{})
	p, ok := c.(connectors.WebhookParser)
	if !ok {
		t.Fatal("the wrapper hides ParseWebhook")
	}
	if ns, err := p.ParseWebhook(nil, nil, time.Now()); err != nil || len(ns) != 1 {
		t.Fatalf("%v %v", ns, err)
	}
}
