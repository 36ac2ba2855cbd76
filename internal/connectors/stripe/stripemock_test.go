package stripe

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/connectors"
)

// stripeMockVersion is the stripe-mock the CI installs (.ci/run). It
// checks every request's parameters against its copy of Stripe's OpenAPI
// description and answers with canned objects.
const stripeMockVersion = "v0.203.0"

// startStripeMock runs stripe-mock (PAYGATE_STRIPE_MOCK, else on PATH) on
// loopback ports of the system's choice and returns its HTTP address. It
// skips the test when stripe-mock is absent, except under CI (CI set),
// where that is a failure. The process is killed when the test ends.
func startStripeMock(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("PAYGATE_STRIPE_MOCK")
	if bin == "" {
		bin, _ = exec.LookPath("stripe-mock")
	}
	if bin == "" {
		msg := "stripe-mock not found: set PAYGATE_STRIPE_MOCK to its path or put it on PATH " +
			"(go install github.com/stripe/stripe-mock@" + stripeMockVersion + "; .ci/run does)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	// -http-addr and -https-addr on 127.0.0.1 with port 0: loopback only
	// (-http-port N would listen on every interface), a free port picked
	// by the system, and no default HTTPS listener on :12112, which
	// stripe-mock opens unless told where (it does so with -http-addr
	// alone).
	cmd := exec.Command(bin, "-http-addr", "127.0.0.1:0", "-https-addr", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	exited := make(chan struct{})
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	addr := make(chan string, 1)
	var output strings.Builder
	var outMu sync.Mutex
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			outMu.Lock()
			output.WriteString(line + "\n")
			outMu.Unlock()
			if a, ok := strings.CutPrefix(line, "Listening for HTTP at address: "); ok {
				addr <- strings.TrimSpace(a)
			}
		}
		io.Copy(io.Discard, stdout)
		cmd.Wait()
	}()
	select {
	case a := <-addr:
		base := "http://" + a
		// It listens before it prints the address; make sure it answers.
		deadline := time.Now().Add(10 * time.Second)
		for {
			req, _ := http.NewRequest(http.MethodGet, base+"/v1/refunds", nil)
			req.Header.Set("Authorization", "Bearer "+testKey)
			res, err := http.DefaultClient.Do(req)
			if err == nil {
				res.Body.Close()
				return base
			}
			if time.Now().After(deadline) {
				t.Fatalf("stripe-mock at %s does not answer: %v", base, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	case <-exited:
		outMu.Lock()
		defer outMu.Unlock()
		t.Fatalf("stripe-mock exited:\n%s", output.String())
	case <-time.After(30 * time.Second):
		outMu.Lock()
		defer outMu.Unlock()
		t.Fatalf("stripe-mock printed no address in 30 s:\n%s", output.String())
	}
	return ""
}

// recorder is a transport that notes every answer's status.
type recorder struct {
	mu  sync.Mutex
	log []string // "METHOD path status"
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(req)
	status := "error"
	if err == nil {
		status = fmt.Sprint(res.StatusCode)
	}
	r.mu.Lock()
	r.log = append(r.log, req.Method+" "+req.URL.Path+" "+status)
	r.mu.Unlock()
	return res, err
}

// TestStripeMock sends every kind of request the connector makes (the
// verification's SetupIntent too) to stripe-mock, which validates their
// parameters against Stripe's API description: each must be accepted
// (2xx) and its answer parsed. The answers are canned, so outcomes are
// not asserted.
func TestStripeMock(t *testing.T) {
	base := startStripeMock(t)
	rec := &recorder{}
	c := newTestConnector(t, base, &http.Client{Timeout: 10 * time.Second, Transport: rec})
	ctx := context.Background()
	must := func(what string) func(connectors.Result, error) connectors.Result {
		return func(res connectors.Result, err error) connectors.Result {
			t.Helper()
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			return res
		}
	}
	manual := must("authorize, card, manual capture")(c.Authorize(ctx, connectors.AuthorizeRequest{Reference: "pay_mock1:authorize",
		Amount: 2000, Currency: "USD", Method: card("4242424242424242"), ReturnURL: "https://shop.test/back"}))
	must("authorize, card, sale")(c.Authorize(ctx, connectors.AuthorizeRequest{Reference: "pay_mock2:authorize", Amount: 2000,
		Currency: "EUR", Capture: true, Method: card("4242424242424242")}))
	must("authorize, stored card without CVC")(c.Authorize(ctx, connectors.AuthorizeRequest{Reference: "pay_mock3:authorize", Amount: 2000,
		Currency: "USD", Capture: true, Method: connectors.Method{Card: &connectors.Card{Number: "4242424242424242", ExpMonth: 12, ExpYear: 2040}}}))
	must("authorize, apple pay token")(c.Authorize(ctx, connectors.AuthorizeRequest{Reference: "pay_mock4:authorize", Amount: 2000,
		Currency: "USD", Capture: true, Method: connectors.Method{Wallet: &connectors.Wallet{Type: "apple_pay", Token: "tok_visa"}}}))
	must("authorize, paypal")(c.Authorize(ctx, connectors.AuthorizeRequest{Reference: "pay_mock5:authorize", Amount: 2000,
		Currency: "EUR", Capture: true, Method: connectors.Method{Wallet: &connectors.Wallet{Type: "paypal"}}}))
	must("authorize, a card saved for off-session charges")(c.Authorize(ctx, connectors.AuthorizeRequest{Reference: "pay_mock6:authorize", Amount: 2000,
		Currency: "USD", Capture: true, Method: card("4242424242424242"), SetupFutureUsage: "off_session"}))
	must("authorize, off session")(c.Authorize(ctx, connectors.AuthorizeRequest{Reference: "pay_mock7:authorize", Amount: 2000,
		Currency: "USD", Capture: true, Method: connectors.Method{Card: &connectors.Card{Number: "4242424242424242", ExpMonth: 12, ExpYear: 2040}},
		OffSession: true, NetworkTransactionID: "ntx_1"}))
	// A verification: the PaymentMethod, then a confirmed SetupIntent
	// (stripe-mock's canned SetupIntent has no outcome to map, so only
	// acceptance is checked, below).
	must("verify, a SetupIntent")(c.Authorize(ctx, connectors.AuthorizeRequest{Reference: "pm_mock8:verify", Currency: "USD",
		Method: card("4242424242424242"), SetupFutureUsage: "off_session", Verify: true}))
	if manual.ProcessorID == "" {
		t.Fatalf("the PaymentIntent's id was not parsed: %+v", manual)
	}
	pi := manual.ProcessorID
	must("capture")(c.Capture(ctx, connectors.CaptureRequest{Reference: "pay_mock1:capture", ProcessorID: pi, Amount: 1500, Currency: "USD"}))
	must("void")(c.Void(ctx, connectors.VoidRequest{Reference: "pay_mock1:void", ProcessorID: pi}))
	refund := must("refund")(c.Refund(ctx, connectors.RefundRequest{Reference: "re_mock1", ProcessorID: pi, Amount: 500, Currency: "USD"}))
	if refund.ProcessorID == "" || refund.Outcome == "" {
		t.Errorf("the refund was not parsed: %+v", refund)
	}
	// Lookups: the canned objects carry no paygate reference, so nothing
	// is found; what matters is that search, list and retrieve are
	// accepted.
	for _, ref := range []string{"pay_mock1:authorize", "re_mock1"} {
		if _, err := c.Lookup(ctx, ref); err != nil && !errors.Is(err, connectors.ErrNotFound) {
			t.Errorf("lookup %s: %v", ref, err)
		}
	}
	if _, _, err := c.searchIntent(ctx, "pay_mock1:authorize", []string{metaReference, metaCapture, metaVoid}); err != nil {
		t.Errorf("search: %v", err)
	}
	got, err := c.client.V1PaymentIntents.Retrieve(ctx, pi, nil)
	if err != nil || got.ID == "" {
		t.Errorf("retrieve: %+v, %v", got, err)
	}
	if _, err := c.CompleteAction(ctx, connectors.CompleteActionRequest{Reference: "pay_mock1:authenticate:approve", ActionReference: "pay_mock1:authorize"}); err != nil && !strings.Contains(err.Error(), "no PaymentIntent found") {
		t.Errorf("complete action: %v", err)
	}

	rec.mu.Lock()
	log := append([]string(nil), rec.log...)
	rec.mu.Unlock()
	seen := map[string]bool{}
	for _, l := range log {
		f := strings.Fields(l)
		if f[2] != "200" {
			t.Errorf("stripe-mock refused %s %s: %s", f[0], f[1], f[2])
		}
		path := f[1]
		if rest, ok := strings.CutPrefix(path, "/v1/payment_intents/pi_"); ok {
			path = "/v1/payment_intents/{id}"
			if i := strings.Index(rest, "/"); i >= 0 {
				path += rest[i:]
			}
		}
		seen[f[0]+" "+path] = true
	}
	for _, want := range []string{
		"POST /v1/payment_methods", "POST /v1/payment_intents", "POST /v1/setup_intents", "POST /v1/payment_intents/{id}/capture",
		"POST /v1/payment_intents/{id}", "POST /v1/payment_intents/{id}/cancel", "POST /v1/refunds",
		"GET /v1/payment_intents/search", "GET /v1/payment_intents", "GET /v1/refunds", "GET /v1/payment_intents/{id}",
	} {
		if !seen[want] {
			t.Errorf("no %s was sent; sent:\n%s", want, strings.Join(log, "\n"))
		}
	}
}
