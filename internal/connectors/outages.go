package connectors

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// OutageQuiet is how long a connector must go without a failed call for
// an outage to be over: a processor that answers one call in two is one
// outage, not one per call.
const OutageQuiet = 5 * time.Second

// LogOutages returns c, telling log of a processor's trouble once per
// outage rather than once per payment: a warning at the first call that
// ends without an answer (a timeout, a reset, a refused connection), and
// another at the first answer after OutageQuiet without a failure, with
// how many calls failed meanwhile. The payments those calls leave waiting
// are logged one by one at info level by their services. "Not found" from
// Lookup and ErrNoLookup are answers, not failures. A WebhookParser stays
// one.
func LogOutages(c Connector, log *slog.Logger, label string) Connector {
	o := &outages{Connector: c, log: log, label: label, now: time.Now}
	if p, ok := c.(WebhookParser); ok {
		return &outagesParser{outages: o, parser: p}
	}
	return o
}

type outages struct {
	Connector
	log   *slog.Logger
	label string
	now   func() time.Time

	mu       sync.Mutex
	since    time.Time // the outage's first failure; zero: none going on
	last     time.Time // its latest failure
	failures int
}

type outagesParser struct {
	*outages
	parser WebhookParser
}

func (o *outagesParser) ParseWebhook(h http.Header, body []byte, now time.Time) ([]Notification, error) {
	return o.parser.ParseWebhook(h, body, now)
}

// observe records how a call ended.
func (o *outages) observe(err error) {
	failed := err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrNoLookup)
	now := o.now()
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case failed && o.since.IsZero():
		o.since, o.last, o.failures = now, now, 1
		o.log.Warn("processor calls failing: operations wait for recovery until it answers; logged again when it does",
			"connector", o.label, "error", err.Error())
	case failed:
		o.last = now
		o.failures++
	case !o.since.IsZero() && now.Sub(o.last) >= OutageQuiet:
		o.log.Warn("processor answering again", "connector", o.label, "failed_calls", o.failures,
			"outage", o.last.Sub(o.since).Round(time.Millisecond).String())
		o.since, o.last, o.failures = time.Time{}, time.Time{}, 0
	}
}

func (o *outages) Authorize(ctx context.Context, req AuthorizeRequest) (Result, error) {
	res, err := o.Connector.Authorize(ctx, req)
	o.observe(err)
	return res, err
}

func (o *outages) Capture(ctx context.Context, req CaptureRequest) (Result, error) {
	res, err := o.Connector.Capture(ctx, req)
	o.observe(err)
	return res, err
}

func (o *outages) Void(ctx context.Context, req VoidRequest) (Result, error) {
	res, err := o.Connector.Void(ctx, req)
	o.observe(err)
	return res, err
}

func (o *outages) Refund(ctx context.Context, req RefundRequest) (Result, error) {
	res, err := o.Connector.Refund(ctx, req)
	o.observe(err)
	return res, err
}

func (o *outages) Lookup(ctx context.Context, reference string) (Result, error) {
	res, err := o.Connector.Lookup(ctx, reference)
	o.observe(err)
	return res, err
}

func (o *outages) CompleteAction(ctx context.Context, req CompleteActionRequest) (Result, error) {
	res, err := o.Connector.CompleteAction(ctx, req)
	o.observe(err)
	return res, err
}

// DecodeWallet passes through, so that wallet cards still show.
func (o *outages) DecodeWallet(walletType, token string) (brand, funding, last4 string, ok bool) {
	if wd, isWD := o.Connector.(interface {
		DecodeWallet(walletType, token string) (string, string, string, bool)
	}); isWD {
		return wd.DecodeWallet(walletType, token)
	}
	return "", "", "", false
}
