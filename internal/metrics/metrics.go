// Package metrics exposes paygate's Prometheus metrics: HTTP latency by
// route and status, payment transitions, connector latency and errors,
// connector calls by outcome and breakers, webhook queue depth and attempt results, and database pool figures.
package metrics

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/paygate/paygate/internal/connectors"
)

// Metrics holds the collectors of one server, in their own registry (no
// global state: tests can run several servers in one process).
type Metrics struct {
	reg      *prometheus.Registry
	http     *prometheus.HistogramVec
	payments *prometheus.CounterVec
	connDur  *prometheus.HistogramVec
	connErr  *prometheus.CounterVec
	connOut  *prometheus.CounterVec
	breakers prometheus.Gauge
	opened   prometheus.Counter
	attempts *prometheus.CounterVec
}

// New registers paygate's metrics, and the Go runtime's and the process's.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		http: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "paygate_http_request_duration_seconds", Help: "Time to answer an HTTP request, by route pattern, method and status.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"route", "method", "status"}),
		payments: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paygate_payment_transitions_total", Help: "Payments entering a status, by status and payment method type.",
		}, []string{"status", "payment_method_type"}),
		connDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "paygate_connector_duration_seconds", Help: "Time of a call to the processor, by connector and operation.",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"connector", "operation"}),
		connErr: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paygate_connector_errors_total", Help: "Processor calls with an unknown outcome (timeout, network), by connector and operation.",
		}, []string{"connector", "operation"}),
		connOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paygate_connector_calls_total", Help: "Processor calls by connector, operation and outcome (succeeded, declined, failed, action_required, pending; not_processed: provably not taken; unknown: timeout or network).",
		}, []string{"connector", "operation", "outcome"}),
		breakers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "paygate_connector_breakers_open", Help: "Connector accounts this instance tries last for a cool-down after repeated calls they provably did not take.",
		}),
		opened: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "paygate_connector_breaker_opened_total", Help: "Times this instance began trying a connector account last (see the log for which).",
		}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paygate_webhook_attempts_total", Help: "Webhook delivery attempts, by result (succeeded, retry, failed).",
		}, []string{"result"}),
	}
	m.reg.MustRegister(m.http, m.payments, m.connDur, m.connErr, m.connOut, m.breakers, m.opened, m.attempts,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// ObserveRequest records one answered request.
func (m *Metrics) ObserveRequest(route, method string, status int, d time.Duration) {
	m.http.WithLabelValues(route, method, statusText(status)).Observe(d.Seconds())
}

func statusText(code int) string {
	const digits = "0123456789"
	if code < 100 || code > 999 {
		return "0"
	}
	return string([]byte{digits[code/100], digits[code/10%10], digits[code%10]})
}

// PaymentStatus records a payment entering status.
func (m *Metrics) PaymentStatus(status, methodType string) {
	if methodType == "" {
		methodType = "none"
	}
	m.payments.WithLabelValues(status, methodType).Inc()
}

// WebhookAttempt records a delivery attempt's result.
func (m *Metrics) WebhookAttempt(result string) {
	m.attempts.WithLabelValues(result).Inc()
}

// WatchQueue exposes the number of pending webhook deliveries, read at
// every scrape.
func (m *Metrics) WatchQueue(pending func(ctx context.Context) (int, error)) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "paygate_webhook_queue_depth", Help: "Webhook deliveries not yet succeeded or failed.",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		n, err := pending(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	}))
}

// WatchPool exposes a database pool's figures (open, in use, idle, waits).
func (m *Metrics) WatchPool(name string, db *sql.DB) {
	m.reg.MustRegister(collectors.NewDBStatsCollector(db, name))
}

// Connector wraps c so that every call is timed and counted by outcome,
// and unknown outcomes counted apart. A connector that parses webhooks
// keeps doing so through the wrapper.
func (m *Metrics) Connector(c connectors.Connector) connectors.Connector {
	i := &instrumented{Connector: c, m: m}
	if p, ok := c.(connectors.WebhookParser); ok {
		return &instrumentedParser{instrumented: i, parser: p}
	}
	return i
}

// Breaker records a connector account skipped (open) or taken back.
func (m *Metrics) Breaker(open bool) {
	if open {
		m.opened.Inc()
		m.breakers.Inc()
		return
	}
	m.breakers.Dec()
}

type instrumented struct {
	connectors.Connector
	m *Metrics
}

type instrumentedParser struct {
	*instrumented
	parser connectors.WebhookParser
}

func (i *instrumentedParser) ParseWebhook(h http.Header, body []byte, now time.Time) ([]connectors.Notification, error) {
	return i.parser.ParseWebhook(h, body, now)
}

func (i *instrumented) observe(op string, start time.Time, res connectors.Result, err error) {
	i.m.connDur.WithLabelValues(i.Name(), op).Observe(time.Since(start).Seconds())
	outcome := string(res.Outcome)
	switch {
	case errors.Is(err, connectors.ErrNotFound):
		outcome = "not_found"
	case errors.Is(err, connectors.ErrNotProcessed):
		outcome = "not_processed"
	case errors.Is(err, connectors.ErrNoLookup):
		outcome = "no_lookup"
	case err != nil:
		outcome = "unknown"
		i.m.connErr.WithLabelValues(i.Name(), op).Inc()
	case outcome == "":
		outcome = "unknown"
	}
	i.m.connOut.WithLabelValues(i.Name(), op, outcome).Inc()
}

func (i *instrumented) Authorize(ctx context.Context, r connectors.AuthorizeRequest) (res connectors.Result, err error) {
	defer func(start time.Time) { i.observe("authorize", start, res, err) }(time.Now())
	return i.Connector.Authorize(ctx, r)
}

func (i *instrumented) Capture(ctx context.Context, r connectors.CaptureRequest) (res connectors.Result, err error) {
	defer func(start time.Time) { i.observe("capture", start, res, err) }(time.Now())
	return i.Connector.Capture(ctx, r)
}

func (i *instrumented) Void(ctx context.Context, r connectors.VoidRequest) (res connectors.Result, err error) {
	defer func(start time.Time) { i.observe("void", start, res, err) }(time.Now())
	return i.Connector.Void(ctx, r)
}

func (i *instrumented) Refund(ctx context.Context, r connectors.RefundRequest) (res connectors.Result, err error) {
	defer func(start time.Time) { i.observe("refund", start, res, err) }(time.Now())
	return i.Connector.Refund(ctx, r)
}

func (i *instrumented) Lookup(ctx context.Context, ref string) (res connectors.Result, err error) {
	defer func(start time.Time) { i.observe("lookup", start, res, err) }(time.Now())
	return i.Connector.Lookup(ctx, ref)
}

func (i *instrumented) CompleteAction(ctx context.Context, r connectors.CompleteActionRequest) (res connectors.Result, err error) {
	defer func(start time.Time) { i.observe("complete_action", start, res, err) }(time.Now())
	return i.Connector.CompleteAction(ctx, r)
}

// DecodeWallet passes through, so wallet cards still show.
func (i *instrumented) DecodeWallet(walletType, token string) (brand, funding, last4 string, ok bool) {
	if wd, isWD := i.Connector.(interface {
		DecodeWallet(walletType, token string) (string, string, string, bool)
	}); isWD {
		return wd.DecodeWallet(walletType, token)
	}
	return "", "", "", false
}
