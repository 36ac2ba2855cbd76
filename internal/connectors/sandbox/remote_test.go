package sandbox

import (
	"context"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/connectors"
)

func TestRemoteSandbox(t *testing.T) {
	srv := httptest.NewServer(Handler(New("http://gw.test")))
	defer srv.Close()
	ctx := context.Background()
	c := NewClient(srv.URL, 5*time.Second)
	a, err := c.Authorize(ctx, cardReq("a", "4242424242424242", false))
	if err != nil || a.Outcome != connectors.Succeeded {
		t.Fatalf("authorize: %+v %v", a, err)
	}
	if again, _ := c.Authorize(ctx, cardReq("a", "4242424242424242", false)); again != a {
		t.Fatal("repeated reference gave another answer")
	}
	if d, _ := c.Authorize(ctx, cardReq("d", "4000000000009995", true)); d.Outcome != connectors.Declined || d.DeclineCode != "insufficient_funds" {
		t.Fatalf("decline: %+v", d)
	}
	if r, err := c.Capture(ctx, connectors.CaptureRequest{Reference: "c", ProcessorID: a.ProcessorID, Amount: 1000}); err != nil || r.Outcome != connectors.Succeeded {
		t.Fatalf("capture: %+v %v", r, err)
	}
	if r, err := c.Refund(ctx, connectors.RefundRequest{Reference: "r", ProcessorID: a.ProcessorID, Amount: 10}); err != nil || r.Outcome != connectors.Succeeded {
		t.Fatalf("refund: %+v %v", r, err)
	}
	if r, err := c.Void(ctx, connectors.VoidRequest{Reference: "v", ProcessorID: a.ProcessorID}); err != nil || r.Outcome != connectors.Failed {
		t.Fatalf("void after capture: %+v %v", r, err)
	}
	if got, err := c.Lookup(ctx, "a"); err != nil || got != a {
		t.Fatalf("lookup: %+v %v", got, err)
	}
	if _, err := c.Lookup(ctx, "nope"); !errors.Is(err, connectors.ErrNotFound) {
		t.Fatalf("lookup missing: %v", err)
	}
	if n, err := c.Performed(ctx, "authorize"); err != nil || n != 2 {
		t.Fatalf("performed: %d %v", n, err)
	}
	// A sandbox that does not answer is an unknown outcome: an error, not a decline.
	srv.Close()
	if _, err := c.Authorize(ctx, cardReq("z", "4242424242424242", true)); err == nil {
		t.Fatal("authorize against a closed sandbox returned a result")
	}
}
