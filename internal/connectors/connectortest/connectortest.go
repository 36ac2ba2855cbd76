// Package connectortest is the conformance suite every connector runs: the
// behaviours paygate relies on, written once. A connector's package runs it
// against its own test server (the sandbox in process, a fake processor
// answering with the processor's documented bodies), as the store's suite
// runs on both databases. Adding a processor is one package, its fixtures,
// and a Harness.
package connectortest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/connectors"
)

// Harness is a connector under test and what the suite needs of its test
// server.
type Harness struct {
	// Connector talks to the test server.
	Connector connectors.Connector
	// Methods to pay with, by the outcome the test server gives them:
	// "success", "generic_decline", "insufficient_funds", "expired_card",
	// "incorrect_cvc", "processing_error" and "three_d_secure".
	Methods map[string]connectors.Method
	// Authenticate makes the customer pass the 3-D Secure challenge of an
	// authorization that answered ActionRequired (reference), as the
	// customer would on the processor's page. It returns the parameters the
	// processor adds to paygate's return URL as it sends the customer back
	// (nil when it adds none), which CompleteAction receives as Details.
	Authenticate func(t *testing.T, reference string, res connectors.Result) map[string]string
	// Performed counts the operations of a kind ("authorize", "capture",
	// "void", "refund") the test server performed; a repeated reference is
	// not another.
	Performed func(kind string) int
	// Slow is a connector whose server answers only after the connector's
	// timeout; Closed, one aimed at a loopback port nothing listens on.
	Slow, Closed func(t *testing.T) connectors.Connector
	// Notify, for a processor that sends webhooks, is the signed request
	// its server sends for n (nil when it sends none). Settle, for an
	// operation answered Pending, is that notification once settled.
	Notify func(t *testing.T, n connectors.Notification) (http.Header, []byte)
	// Unsigned is Notify's request with the signature taken out, for a
	// processor that signs inside the body (Adyen); nil: the same body
	// without headers.
	Unsigned func(t *testing.T, header http.Header, body []byte) (http.Header, []byte)
	// NoLookup: the processor cannot look an operation up by reference;
	// Lookup must fail with ErrNoLookup (not ErrNotFound, a claim it cannot
	// make), and sending the operation again under its reference is the
	// lookup (the suite's "a repeated reference is one operation").
	NoLookup bool
}

// Run runs the suite.
func Run(t *testing.T, h Harness) {
	t.Helper()
	ctx := context.Background()
	seq := 0
	ref := func(kind string) string {
		seq++
		return fmt.Sprintf("pay_%s_%d_%d:%s", t.Name(), time.Now().UnixNano(), seq, kind)
	}
	authorize := func(t *testing.T, method string, capture bool, amount int64) (string, connectors.Result) {
		t.Helper()
		r := ref("authorize")
		res, err := h.Connector.Authorize(ctx, connectors.AuthorizeRequest{Reference: r, Amount: amount, Currency: "USD",
			Method: h.Methods[method], Capture: capture, ReturnURL: "https://paygate.test/return"})
		if err != nil {
			t.Fatalf("authorize %s: %v", method, err)
		}
		return r, res
	}
	// settled is the final result of an operation that may answer Pending.
	settled := func(t *testing.T, reference string, res connectors.Result) connectors.Result {
		t.Helper()
		if res.Outcome != connectors.Pending {
			return res
		}
		if res.ProcessorID == "" {
			t.Errorf("a pending operation without the processor's id: %+v", res)
		}
		parser, ok := h.Connector.(connectors.WebhookParser)
		if !ok || h.Notify == nil {
			t.Fatalf("the operation is pending but the connector takes no webhooks")
		}
		header, body := h.Notify(t, connectors.Notification{Reference: reference, Result: connectors.Result{Outcome: connectors.Succeeded, ProcessorID: res.ProcessorID}})
		ns, err := parser.ParseWebhook(header, body, time.Now())
		if err != nil || len(ns) != 1 || ns[0].Reference != reference {
			t.Fatalf("the settling notification: %+v, %v", ns, err)
		}
		return ns[0].Result
	}
	succeeded := func(t *testing.T, what string, res connectors.Result, amount int64) {
		t.Helper()
		if res.Outcome != connectors.Succeeded || res.ProcessorID == "" || (amount > 0 && res.Amount != 0 && res.Amount != amount) {
			t.Fatalf("%s: %+v, want succeeded for %d with the processor's id", what, res, amount)
		}
	}

	t.Run("sale", func(t *testing.T) {
		_, res := authorize(t, "success", true, 2000)
		succeeded(t, "sale", res, 2000)
	})
	t.Run("authorize, capture part, refund part and the rest", func(t *testing.T) {
		_, auth := authorize(t, "success", false, 5000)
		succeeded(t, "authorization", auth, 5000)
		cr := ref("capture")
		cres, err := h.Connector.Capture(ctx, connectors.CaptureRequest{Reference: cr, ProcessorID: auth.ProcessorID, Amount: 3000, Currency: "USD"})
		if err != nil {
			t.Fatal(err)
		}
		succeeded(t, "partial capture", settled(t, cr, cres), 3000)
		for _, amount := range []int64{1000, 2000} {
			rr := "re_" + ref("refund")
			rres, err := h.Connector.Refund(ctx, connectors.RefundRequest{Reference: rr, ProcessorID: auth.ProcessorID, Amount: amount, Currency: "USD"})
			if err != nil {
				t.Fatal(err)
			}
			succeeded(t, "refund", settled(t, rr, rres), amount)
		}
	})
	t.Run("void", func(t *testing.T) {
		_, auth := authorize(t, "success", false, 1500)
		succeeded(t, "authorization", auth, 1500)
		vr := ref("void")
		vres, err := h.Connector.Void(ctx, connectors.VoidRequest{Reference: vr, ProcessorID: auth.ProcessorID})
		if err != nil {
			t.Fatal(err)
		}
		succeeded(t, "void", settled(t, vr, vres), 0)
	})
	t.Run("declines", func(t *testing.T) {
		for _, c := range []struct {
			method                string
			outcome               connectors.Outcome
			failureCode, declined string
		}{
			{"generic_decline", connectors.Declined, "card_declined", "generic_decline"},
			{"insufficient_funds", connectors.Declined, "card_declined", "insufficient_funds"},
			{"expired_card", connectors.Declined, "expired_card", "expired_card"},
			{"incorrect_cvc", connectors.Declined, "incorrect_cvc", "incorrect_cvc"},
			{"processing_error", connectors.Failed, "processing_error", ""},
		} {
			_, res := authorize(t, c.method, true, 1000)
			if res.Outcome != c.outcome || res.FailureCode != c.failureCode || (c.declined != "" && res.DeclineCode != c.declined) || res.Message == "" {
				t.Errorf("%s: %+v, want %s with failure_code %s, decline_code %s and a message", c.method, res, c.outcome, c.failureCode, c.declined)
			}
		}
	})
	t.Run("3-D Secure", func(t *testing.T) {
		r, res := authorize(t, "three_d_secure", true, 2500)
		if res.Outcome != connectors.ActionRequired || res.RedirectURL == "" {
			t.Fatalf("3-D Secure card: %+v, want action required with a redirect", res)
		}
		details := h.Authenticate(t, r, res)
		done, err := h.Connector.CompleteAction(ctx, connectors.CompleteActionRequest{Reference: ref("authenticate"), ActionReference: r,
			Approved: true, Capture: true, Details: details})
		if err != nil {
			t.Fatal(err)
		}
		succeeded(t, "after authentication", done, 2500)
	})
	t.Run("a repeated reference is one operation", func(t *testing.T) {
		before := h.Performed("authorize")
		r, first := authorize(t, "success", true, 700)
		again, err := h.Connector.Authorize(ctx, connectors.AuthorizeRequest{Reference: r, Amount: 700, Currency: "USD",
			Method: h.Methods["success"], Capture: true})
		if err != nil {
			t.Fatal(err)
		}
		if again.Outcome != first.Outcome || again.ProcessorID != first.ProcessorID {
			t.Errorf("the retry answered %+v, the first %+v", again, first)
		}
		if n := h.Performed("authorize") - before; n != 1 {
			t.Errorf("the processor authorized %d times for one reference", n)
		}
	})
	t.Run("lookup", func(t *testing.T) {
		r, first := authorize(t, "success", false, 900)
		if h.NoLookup {
			for _, r := range []string{r, ref("authorize")} {
				if _, err := h.Connector.Lookup(ctx, r); !errors.Is(err, connectors.ErrNoLookup) || errors.Is(err, connectors.ErrNotFound) || errors.Is(err, connectors.ErrNotProcessed) {
					t.Errorf("lookup without a lookup: %v, want ErrNoLookup only", err)
				}
			}
			return
		}
		got, err := h.Connector.Lookup(ctx, r)
		if err != nil || got.Outcome != first.Outcome || got.ProcessorID != first.ProcessorID {
			t.Errorf("lookup of an authorization: %+v, %v; it answered %+v", got, err, first)
		}
		if _, err := h.Connector.Lookup(ctx, ref("authorize")); !errors.Is(err, connectors.ErrNotFound) {
			t.Errorf("lookup of a reference never sent: %v, want ErrNotFound", err)
		}
	})
	t.Run("a timeout is an unknown outcome", func(t *testing.T) {
		res, err := h.Slow(t).Authorize(ctx, connectors.AuthorizeRequest{Reference: ref("authorize"), Amount: 100, Currency: "USD",
			Method: h.Methods["success"], Capture: true})
		if err == nil || errors.Is(err, connectors.ErrNotProcessed) {
			t.Errorf("timed out: %+v, %v; want an error that is not ErrNotProcessed (never failed over)", res, err)
		}
	})
	t.Run("a refused connection is not processed", func(t *testing.T) {
		_, err := h.Closed(t).Authorize(ctx, connectors.AuthorizeRequest{Reference: ref("authorize"), Amount: 100, Currency: "USD",
			Method: h.Methods["success"], Capture: true})
		if !errors.Is(err, connectors.ErrNotProcessed) {
			t.Errorf("closed port: %v, want ErrNotProcessed (may fail over)", err)
		}
	})
	if parser, ok := h.Connector.(connectors.WebhookParser); ok {
		t.Run("webhooks", func(t *testing.T) {
			n := connectors.Notification{Reference: ref("authorize"), Result: connectors.Result{Outcome: connectors.Succeeded, ProcessorID: "proc_1"}}
			header, body := h.Notify(t, n)
			ns, err := parser.ParseWebhook(header, body, time.Now())
			if err != nil || len(ns) != 1 || ns[0].Reference != n.Reference || ns[0].Result.Outcome != connectors.Succeeded {
				t.Fatalf("a signed notification: %+v, %v", ns, err)
			}
			tampered := append([]byte{}, body...)
			tampered[len(tampered)/2] ^= 1
			if _, err := parser.ParseWebhook(header, tampered, time.Now()); !errors.Is(err, connectors.ErrBadSignature) {
				t.Errorf("a tampered body: %v, want ErrBadSignature", err)
			}
			uh, ub := http.Header{}, body
			if h.Unsigned != nil {
				uh, ub = h.Unsigned(t, header, body)
			}
			if _, err := parser.ParseWebhook(uh, ub, time.Now()); !errors.Is(err, connectors.ErrBadSignature) {
				t.Errorf("no signature: %v, want ErrBadSignature", err)
			}
		})
	}
}

// ClosedURL is an http address on loopback that nothing listens on: a
// connection to it is refused, the one failure a connector must report as
// not processed.
func ClosedURL(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// SlowURL is the address of a server on loopback that reads each request
// and answers only after its client gave up (or 2 s): a timeout.
func SlowURL(t testing.TB) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Reading the body lets the server notice the client leaving.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(2 * time.Second):
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// Card is a test card as a connector receives it.
func Card(number string) connectors.Method {
	return connectors.Method{Card: &connectors.Card{Number: number, ExpMonth: 12, ExpYear: 2040, CVC: "123", HolderName: "John Smith"}}
}

// Methods are the cards of Harness.Methods: paygate's test cards (the
// sandbox's, SPEC §5), which are Stripe's too and the fake Adyen's.
func Methods() map[string]connectors.Method {
	return map[string]connectors.Method{
		"success":            Card("4242424242424242"),
		"generic_decline":    Card("4000000000000002"),
		"insufficient_funds": Card("4000000000009995"),
		"expired_card":       Card("4000000000000069"),
		"incorrect_cvc":      Card("4000000000000127"),
		"processing_error":   Card("4000000000000119"),
		"three_d_secure":     Card("4000000000003220"),
	}
}
