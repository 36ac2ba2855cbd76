package sandbox

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/connectors"
)

// Every processor call waits the latency before it answers, in process and
// behind `paygate sandbox serve` alike. Only the lower bound is checked: a
// timer never fires early, however busy the machine.
func TestLatencyDelaysEveryCall(t *testing.T) {
	const latency = 150 * time.Millisecond
	ctx := context.Background()
	srv := httptest.NewServer(Handler(New("http://gw.test").WithLatency(latency)))
	defer srv.Close()
	for name, c := range map[string]connectors.Connector{
		"in process": New("http://gw.test").WithLatency(latency),
		"remote":     NewClient(srv.URL, 5*time.Second),
	} {
		calls := []struct {
			op   string
			call func() (connectors.Result, error)
		}{
			{"authorize", func() (connectors.Result, error) { return c.Authorize(ctx, cardReq(name, "4242424242424242", false)) }},
			{"lookup", func() (connectors.Result, error) { return c.Lookup(ctx, name) }},
			{"capture", func() (connectors.Result, error) {
				a, _ := c.Lookup(ctx, name)
				return c.Capture(ctx, connectors.CaptureRequest{Reference: name + "-c", ProcessorID: a.ProcessorID, Amount: 1000})
			}},
			{"refund", func() (connectors.Result, error) {
				a, _ := c.Lookup(ctx, name)
				return c.Refund(ctx, connectors.RefundRequest{Reference: name + "-r", ProcessorID: a.ProcessorID, Amount: 1})
			}},
			{"void", func() (connectors.Result, error) {
				return c.Void(ctx, connectors.VoidRequest{Reference: name + "-v", ProcessorID: "auth_none"})
			}},
			{"complete_action", func() (connectors.Result, error) {
				return c.CompleteAction(ctx, connectors.CompleteActionRequest{Reference: name + "-ca", ActionReference: "none"})
			}},
		}
		for _, tc := range calls {
			start := time.Now()
			_, err := tc.call()
			if took := time.Since(start); err != nil || took < latency {
				t.Errorf("%s %s: took %s (want at least %s), error %v", name, tc.op, took, latency, err)
			}
		}
	}
}

// A caller that gives up ends the wait at once, and the operation is not
// performed: in process, and at the sandbox process, whose handler returns
// (httptest's Close waits for every request in flight).
func TestLatencyEndsWithTheContext(t *testing.T) {
	inProcess := New("http://gw.test").WithLatency(time.Hour)
	remote := New("http://gw.test").WithLatency(time.Hour)
	srv := httptest.NewServer(Handler(remote))
	closed := false
	defer func() {
		if !closed {
			srv.Close()
		}
	}()
	for name, c := range map[string]connectors.Connector{"in process": inProcess, "remote": NewClient(srv.URL, time.Hour)} {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			_, err := c.Authorize(ctx, cardReq("a", "4242424242424242", true))
			done <- err
		}()
		time.Sleep(50 * time.Millisecond)
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s: canceled call returned %v, want context.Canceled", name, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: a canceled call still waits for its latency", name)
		}
	}
	end := make(chan struct{})
	go func() { srv.Close(); close(end) }()
	select {
	case <-end:
		closed = true
	case <-time.After(10 * time.Second):
		t.Fatal("the sandbox process's handler still waits after its caller gave up")
	}
	if inProcess.Performed("authorize")+remote.Performed("authorize") != 0 {
		t.Errorf("a call canceled during its latency was performed: %d in process, %d remote",
			inProcess.Performed("authorize"), remote.Performed("authorize"))
	}
}
