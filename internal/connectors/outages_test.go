package connectors

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"
)

// flaky answers or fails as told.
type flaky struct {
	Connector
	err error
}

func (f *flaky) Authorize(context.Context, AuthorizeRequest) (Result, error) { return Result{}, f.err }
func (f *flaky) Lookup(context.Context, string) (Result, error)              { return Result{}, f.err }
func (f *flaky) ParseWebhook(http.Header, []byte, time.Time) ([]Notification, error) {
	return nil, nil
}

// An outage is logged twice, when it begins and when the processor answers
// again after a quiet spell, however many calls fail meanwhile, and an
// answer between failures does not end it.
func TestLogOutages(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	f := &flaky{}
	c := LogOutages(f, log, "sandbox")
	o := c.(*outagesParser).outages
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	o.now = func() time.Time { return now }
	call := func(err error) {
		f.err = err
		if _, got := c.Authorize(context.Background(), AuthorizeRequest{}); !errors.Is(got, err) && got != err {
			t.Fatalf("the error %v came back as %v", err, got)
		}
		now = now.Add(time.Second)
	}
	lines := func() int { return strings.Count(buf.String(), "\n") }

	call(nil)
	f.err = ErrNotFound
	_, _ = c.Lookup(context.Background(), "ref") // an answer
	if lines() != 0 {
		t.Fatalf("logged without a failure: %s", buf.String())
	}
	timeout := errors.New("sandbox: context deadline exceeded")
	for range 3 {
		call(timeout)
		call(nil) // within OutageQuiet of the failure: the same outage
	}
	for range 50 {
		call(NotProcessed(errors.New("connection refused")))
	}
	if lines() != 1 || !strings.Contains(buf.String(), "processor calls failing") || !strings.Contains(buf.String(), "deadline exceeded") {
		t.Fatalf("want one line for the outage so far: %s", buf.String())
	}
	now = now.Add(OutageQuiet)
	call(nil)
	if lines() != 2 || !strings.Contains(buf.String(), "processor answering again") || !strings.Contains(buf.String(), "failed_calls=53") {
		t.Fatalf("want the outage's end, with 53 failed calls: %s", buf.String())
	}
	call(nil)
	call(timeout) // a new outage
	if lines() != 3 {
		t.Errorf("want a line for a second outage: %s", buf.String())
	}
	if _, ok := c.(WebhookParser); !ok {
		t.Error("a WebhookParser wrapped is no longer one")
	}
}
