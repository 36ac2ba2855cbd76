package sandbox

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/paygate/paygate/internal/connectors"
)

func cardReq(ref, number string, capture bool) connectors.AuthorizeRequest {
	return connectors.AuthorizeRequest{Reference: ref, Amount: 1000, Currency: "USD", Capture: capture,
		Method: connectors.Method{Card: &connectors.Card{Number: number, ExpMonth: 12, ExpYear: 2040}}}
}

func TestOutcomesAndIdempotency(t *testing.T) {
	ctx := context.Background()
	c := New("http://gw.test")
	r1, _ := c.Authorize(ctx, cardReq("a", "4242424242424242", false))
	r2, _ := c.Authorize(ctx, cardReq("a", "4242424242424242", false))
	if r1.Outcome != connectors.Succeeded || r1.ProcessorID == "" || r1 != r2 || c.Performed("authorize") != 1 {
		t.Fatalf("repeated reference: %+v %+v, performed %d", r1, r2, c.Performed("authorize"))
	}
	if got, err := c.Lookup(ctx, "a"); err != nil || got != r1 {
		t.Fatalf("lookup: %+v %v", got, err)
	}
	if _, err := c.Lookup(ctx, "never"); !errors.Is(err, connectors.ErrNotFound) {
		t.Fatalf("lookup unknown: %v", err)
	}
	if r, _ := c.Capture(ctx, connectors.CaptureRequest{Reference: "c0", ProcessorID: r1.ProcessorID, Amount: 1001}); r.Outcome != connectors.Failed {
		t.Fatalf("over-capture: %+v", r)
	}
	if r, _ := c.Capture(ctx, connectors.CaptureRequest{Reference: "c1", ProcessorID: r1.ProcessorID, Amount: 600}); r.Outcome != connectors.Succeeded {
		t.Fatalf("capture: %+v", r)
	}
	if r, _ := c.Void(ctx, connectors.VoidRequest{Reference: "v1", ProcessorID: r1.ProcessorID}); r.Outcome != connectors.Failed {
		t.Fatalf("void after capture: %+v", r)
	}
	if r, _ := c.Refund(ctx, connectors.RefundRequest{Reference: "r1", ProcessorID: r1.ProcessorID, Amount: 601}); r.Outcome != connectors.Failed {
		t.Fatalf("over-refund: %+v", r)
	}
	if r, _ := c.Refund(ctx, connectors.RefundRequest{Reference: "r2", ProcessorID: r1.ProcessorID, Amount: 600}); r.Outcome != connectors.Succeeded {
		t.Fatalf("refund: %+v", r)
	}
	// 5126: the payment succeeds, its refunds fail.
	s, _ := c.Authorize(ctx, cardReq("b", "4000000000005126", true))
	if r, _ := c.Refund(ctx, connectors.RefundRequest{Reference: "r3", ProcessorID: s.ProcessorID, Amount: 1}); s.Outcome != connectors.Succeeded || r.Outcome != connectors.Failed {
		t.Fatalf("5126: %+v %+v", s, r)
	}
	// 3-D Secure.
	a, _ := c.Authorize(ctx, cardReq("3ds", "4000000000003220", true))
	if a.Outcome != connectors.ActionRequired || a.RedirectURL != "http://gw.test/sandbox/authenticate/{token}" {
		t.Fatalf("3ds: %+v", a)
	}
	// The customer approves: authorized and captured, once.
	done := connectors.CompleteActionRequest{Reference: "3ds-done", ActionReference: "3ds", Approved: true, Capture: true}
	c1, _ := c.CompleteAction(ctx, done)
	c2, _ := c.CompleteAction(ctx, done)
	if c1.Outcome != connectors.Succeeded || c1 != c2 || c.Performed("complete_action") != 1 {
		t.Fatalf("approved: %+v %+v", c1, c2)
	}
	// Declined: authentication_failed; nothing waits under a used reference.
	c.Authorize(ctx, cardReq("3ds2", "4000000000003220", true))
	if r, _ := c.CompleteAction(ctx, connectors.CompleteActionRequest{Reference: "d", ActionReference: "3ds2"}); r.Outcome != connectors.Declined || r.FailureCode != "authentication_failed" {
		t.Fatalf("declined: %+v", r)
	}
	if r, _ := c.CompleteAction(ctx, connectors.CompleteActionRequest{Reference: "again", ActionReference: "3ds2", Approved: true}); r.Outcome != connectors.Failed {
		t.Fatalf("second completion of one authorization: %+v", r)
	}
	// A canceled context is an unknown outcome, not a decline.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Authorize(cctx, cardReq("z", "4242424242424242", true)); err == nil {
		t.Fatal("authorize with a canceled context succeeded")
	}
}

func (r *recent[V]) len() int { return len(r.cur) + len(r.old) }

// The sandbox forgets its oldest records, so its memory stays bounded
// however long it serves, but keeps what is in use: an authorization
// captured long after it was made is still there, having been read.
func TestMemoryIsBounded(t *testing.T) {
	ctx := context.Background()
	const n = 100
	c := newConnector("http://gw.test", n)
	held, _ := c.Authorize(ctx, cardReq("held", "4242424242424242", false))
	first, _ := c.Authorize(ctx, cardReq("first", "4242424242424242", true))
	for i := range 10 * n {
		ref := fmt.Sprintf("p%d", i)
		if r, _ := c.Authorize(ctx, cardReq(ref, "4242424242424242", true)); r.Outcome != connectors.Succeeded {
			t.Fatalf("authorize %s: %+v", ref, r)
		}
		if i%(n/2) == 0 { // the held authorization is in use now and then
			if _, err := c.Lookup(ctx, "held"); err != nil {
				t.Fatalf("lookup of a reference in use: %v", err)
			}
			c.mu.Lock()
			_, ok := c.auths.get(held.ProcessorID)
			c.mu.Unlock()
			if !ok {
				t.Fatal("an authorization in use was forgotten")
			}
		}
	}
	c.mu.Lock()
	sizes := []int{c.ops.len(), c.auths.len(), c.pending.len()}
	c.mu.Unlock()
	for _, size := range sizes {
		if size > 2*n {
			t.Fatalf("records kept %v, at most %d each", sizes, 2*n)
		}
	}
	if _, err := c.Lookup(ctx, "first"); !errors.Is(err, connectors.ErrNotFound) {
		t.Fatalf("the oldest reference is still remembered: %v", err)
	}
	if r, _ := c.Refund(ctx, connectors.RefundRequest{Reference: "r-first", ProcessorID: first.ProcessorID, Amount: 100}); r.Outcome != connectors.Failed {
		t.Fatalf("refund of a forgotten authorization: %+v", r)
	}
	if r, _ := c.Capture(ctx, connectors.CaptureRequest{Reference: "c-held", ProcessorID: held.ProcessorID, Amount: 1000}); r.Outcome != connectors.Succeeded {
		t.Fatalf("capture of the authorization in use: %+v", r)
	}
	if got, _ := c.Lookup(ctx, fmt.Sprintf("p%d", 10*n-1)); got.Outcome != connectors.Succeeded {
		t.Fatalf("the newest reference is forgotten: %+v", got)
	}
}

// A card saved by a customer-initiated charge gets a network transaction
// id; a merchant-initiated charge needs that id for that card, and the
// authentication cards are declined off session.
func TestNetworkTransactionIDs(t *testing.T) {
	ctx := context.Background()
	c := New("http://gw.test")
	save := func(ref, number string) connectors.Result {
		t.Helper()
		req := cardReq(ref, number, true)
		req.SetupFutureUsage = "off_session"
		r, err := c.Authorize(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	mit := func(ref, number, ntid string) connectors.Result {
		t.Helper()
		req := cardReq(ref, number, true)
		req.OffSession, req.NetworkTransactionID = true, ntid
		r, err := c.Authorize(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	first := save("cit", "4242424242424242")
	if first.Outcome != connectors.Succeeded || first.NetworkTransactionID == "" {
		t.Fatalf("customer-initiated charge: %+v", first)
	}
	if r, _ := c.Authorize(ctx, cardReq("plain", "4242424242424242", true)); r.NetworkTransactionID != "" {
		t.Errorf("a charge that saves nothing got a network transaction id: %+v", r)
	}
	if r := mit("mit", "4242424242424242", first.NetworkTransactionID); r.Outcome != connectors.Succeeded {
		t.Errorf("off session with the first charge's id: %+v", r)
	}
	if r := mit("mit-none", "4242424242424242", ""); r.Outcome != connectors.Declined || r.DeclineCode != "transaction_not_allowed" {
		t.Errorf("off session without an id: %+v", r)
	}
	if r := mit("mit-other-card", "5555555555554444", first.NetworkTransactionID); r.Outcome != connectors.Declined {
		t.Errorf("off session with another card's id: %+v", r)
	}
	auth := save("cit-auth", offSessionAuthCard)
	if auth.Outcome != connectors.Succeeded {
		t.Fatalf("the off-session authentication card on session: %+v", auth)
	}
	if r := mit("mit-auth", offSessionAuthCard, auth.NetworkTransactionID); r.Outcome != connectors.Declined || r.FailureCode != "authentication_required" {
		t.Errorf("the off-session authentication card off session: %+v", r)
	}
	// 3-D Secure: the id comes with the approval.
	tds := save("cit-3ds", threeDSCard)
	if tds.Outcome != connectors.ActionRequired || tds.NetworkTransactionID != "" {
		t.Fatalf("3-D Secure card: %+v", tds)
	}
	done, _ := c.CompleteAction(ctx, connectors.CompleteActionRequest{Reference: "cit-3ds:approve", ActionReference: "cit-3ds", Approved: true, Capture: true})
	if done.Outcome != connectors.Succeeded || done.NetworkTransactionID == "" {
		t.Fatalf("approved: %+v", done)
	}
	if r := mit("mit-3ds", threeDSCard, done.NetworkTransactionID); r.FailureCode != "authentication_required" {
		t.Errorf("3-D Secure card off session: %+v", r)
	}
	// Verification: an authorization of 0 that saves, leaving nothing to capture.
	v, _ := c.Authorize(ctx, connectors.AuthorizeRequest{Reference: "pm_1:verify", Currency: "USD", Verify: true,
		Method: connectors.Method{Card: &connectors.Card{Number: "4242424242424242", ExpMonth: 12, ExpYear: 2040, CVC: "123"}}})
	if v.Outcome != connectors.Succeeded || v.NetworkTransactionID == "" {
		t.Fatalf("verify: %+v", v)
	}
	if r, _ := c.Capture(ctx, connectors.CaptureRequest{Reference: "cap-v", ProcessorID: v.ProcessorID, Amount: 1}); r.Outcome != connectors.Failed {
		t.Errorf("captured a verification: %+v", r)
	}
}
