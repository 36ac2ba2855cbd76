// Package metrics exposes paygate's Prometheus metrics: HTTP latency by
// route and status, payment transitions, connector latency and errors,
// webhook queue depth and attempt results, and database pool figures.
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
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paygate_webhook_attempts_total", Help: "Webhook delivery attempts, by result (succeeded, retry, failed).",
		}, []string{"result"}),
	}
	m.reg.MustRegister(m.http, m.payments, m.connDur, m.connErr, m.attempts,
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

// Connector wraps c so that every call is timed, and unknown outcomes
// counted.
func (m *Metrics) Connector(c connectors.Connector) connectors.Connector {
	return &instrumented{Connector: c, m: m}
}

type instrumented struct {
	connectors.Connector
	m *Metrics
}

func (i *instrumented) observe(op string, start time.Time, err error) {
	i.m.connDur.WithLabelValues(i.Name(), op).Observe(time.Since(start).Seconds())
	if err != nil && !errors.Is(err, connectors.ErrNotFound) {
		i.m.connErr.WithLabelValues(i.Name(), op).Inc()
	}
}

func (i *instrumented) Authorize(ctx context.Context, r connectors.AuthorizeRequest) (res connectors.Result, err error) {
	defer func(start time.Time) { i.observe("authorize", start, err) }(time.Now())
	return i.Connector.Authorize(ctx, r)
}

func (i *instrumented) Capture(ctx context.Context, r connectors.CaptureRequest) (res connectors.Result, err error) {
	defer func(start time.Time) { i.observe("capture", start, err) }(time.Now())
	return i.Connector.Capture(ctx, r)
}

func (i *instrumented) Void(ctx context.Context, r connectors.VoidRequest) (res connectors.Result, err error) {
	defer func(start time.Time) { i.observe("void", start, err) }(time.Now())
	return i.Connector.Void(ctx, r)
}

func (i *instrumented) Refund(ctx context.Context, r connectors.RefundRequest) (res connectors.Result, err error) {
	defer func(start time.Time) { i.observe("refund", start, err) }(time.Now())
	return i.Connector.Refund(ctx, r)
}

func (i *instrumented) Lookup(ctx context.Context, ref string) (res connectors.Result, err error) {
	defer func(start time.Time) { i.observe("lookup", start, err) }(time.Now())
	return i.Connector.Lookup(ctx, ref)
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
