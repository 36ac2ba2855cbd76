package stripe

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/connectors"
	"github.com/paygate/paygate/internal/connectors/stripe/stripetest"
)

// verifyReq is paygate's verification of a card (internal/payments):
// an authorization of 0 with Verify, saved for off-session charges.
func verifyReq(reference, number string) connectors.AuthorizeRequest {
	return connectors.AuthorizeRequest{Reference: reference, Amount: 0, Currency: "USD", Method: card(number),
		SetupFutureUsage: "off_session", Verify: true}
}

// TestVerify: a verification is a confirmed SetupIntent, never a
// PaymentIntent; Stripe's answer is mapped as a charge's would be.
func TestVerify(t *testing.T) {
	fake, c := newFake(t)
	ctx := context.Background()

	ok := mustSucceed(t, "verify 4242", func() (connectors.Result, error) {
		return c.Authorize(ctx, verifyReq("pm_ok:verify", "4242424242424242"))
	})
	if !strings.HasPrefix(ok.ProcessorID, "seti_") || ok.Amount != 0 || ok.NetworkTransactionID != "" {
		t.Errorf("accepted verification: %+v; want the SetupIntent, nothing charged, no network id (Stripe gives none)", ok)
	}

	declined, err := c.Authorize(ctx, verifyReq("pm_no:verify", "4000000000000002"))
	if err != nil || declined.Outcome != connectors.Declined || declined.FailureCode != "card_declined" || declined.DeclineCode != "generic_decline" ||
		!strings.HasPrefix(declined.ProcessorID, "seti_") {
		t.Errorf("declined verification: %+v, %v; want declined card_declined/generic_decline of the SetupIntent", declined, err)
	}
	funds, err := c.Authorize(ctx, verifyReq("pm_funds:verify", "4000000000009995"))
	if err != nil || funds.Outcome != connectors.Declined || funds.DeclineCode != "insufficient_funds" {
		t.Errorf("insufficient funds: %+v, %v", funds, err)
	}
	// No customer to send to Stripe's 3-D Secure page: declined
	// authentication_required, as paygate answers any verification that
	// needs the customer.
	sca, err := c.Authorize(ctx, verifyReq("pm_3ds:verify", "4000000000003220"))
	if err != nil || sca.Outcome != connectors.Declined || sca.FailureCode != "authentication_required" || sca.DeclineCode != "authentication_required" {
		t.Errorf("3-D Secure card: %+v, %v; want declined authentication_required", sca, err)
	}
	processing, err := c.Authorize(ctx, verifyReq("pm_err:verify", "4000000000000119"))
	if err != nil || processing.Outcome != connectors.Failed || processing.FailureCode != "processing_error" {
		t.Errorf("processing error: %+v, %v", processing, err)
	}
	wallet, err := c.Authorize(ctx, connectors.AuthorizeRequest{Reference: "pm_wallet:verify", Currency: "USD",
		Method: connectors.Method{Wallet: &connectors.Wallet{Type: "apple_pay", Token: "tok_visa"}}, Verify: true})
	if err != nil || wallet.Outcome != connectors.Failed {
		t.Errorf("a wallet verified: %+v, %v", wallet, err)
	}

	if n := fake.Performed("authorize"); n != 0 {
		t.Errorf("%d PaymentIntents confirmed for verifications, want none", n)
	}
	if n := fake.Performed("verify"); n != 5 {
		t.Errorf("%d SetupIntents confirmed, want 5", n)
	}
	var sent int
	for _, r := range fake.Requests() {
		switch r.Path {
		case "/v1/payment_intents":
			t.Errorf("a verification sent a PaymentIntent: %v", r.Form)
		case "/v1/payment_methods":
			if r.IdempotencyKey == "paygate:pm_ok:verify:payment_method" && (r.Form.Get("card[number]") != "4242424242424242" || r.Form.Get("card[cvc]") != "123") {
				t.Errorf("the PaymentMethod of the verification: %v", r.Form)
			}
		case "/v1/setup_intents":
			if r.Form.Get("metadata[paygate_reference]") != "pm_ok:verify" {
				continue
			}
			sent++
			want := map[string]string{"confirm": "true", "usage": "off_session", "payment_method_types[0]": "card"}
			for k, v := range want {
				if r.Form.Get(k) != v {
					t.Errorf("setup intent %s = %q, want %q", k, r.Form.Get(k), v)
				}
			}
			if !strings.HasPrefix(r.Form.Get("payment_method"), "pm_") || r.Form.Has("return_url") || r.Form.Has("amount") {
				t.Errorf("setup intent: %v", r.Form)
			}
			if r.IdempotencyKey != "paygate:pm_ok:verify" {
				t.Errorf("setup intent Idempotency-Key %q", r.IdempotencyKey)
			}
		}
	}
	if sent != 1 {
		t.Errorf("%d SetupIntent requests for pm_ok:verify, want 1", sent)
	}
}

// loseAnswer is a transport that loses the answer of the next request to
// path, after the server performed it: an unknown outcome.
type loseAnswer struct {
	path string
	lose bool
}

func (l *loseAnswer) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(req)
	if err == nil && l.lose && req.URL.Path == l.path {
		l.lose = false
		res.Body.Close()
		return nil, errors.New("connection lost before the answer")
	}
	return res, err
}

// TestVerifyRetry: a verification whose SetupIntent was made but whose
// answer was lost is sent again under the same reference and gets that
// SetupIntent, not a second.
func TestVerifyRetry(t *testing.T) {
	fake := stripetest.NewServer(t)
	lose := &loseAnswer{path: "/v1/setup_intents"}
	c := newTestConnector(t, fake.URL(), &http.Client{Timeout: 5 * time.Second, Transport: lose})
	ctx := context.Background()
	for _, number := range []string{"4242424242424242", "4000000000000002"} {
		ref := "pm_retry" + number[len(number)-4:] + ":verify"
		lose.lose = true
		if res, err := c.Authorize(ctx, verifyReq(ref, number)); err == nil || errors.Is(err, connectors.ErrNotProcessed) {
			t.Fatalf("%s: lost answer gave %+v, %v; want an unknown outcome", number, res, err)
		}
		if ids := fake.SetupIntents()[ref]; len(ids) != 1 {
			t.Fatalf("%s: the lost answer's SetupIntent: %v", number, ids)
		}
		first, err := c.Authorize(ctx, verifyReq(ref, number))
		if err != nil || first.ProcessorID != fake.SetupIntents()[ref][0] {
			t.Fatalf("%s: retry: %+v, %v; want the first SetupIntent %v", number, first, err, fake.SetupIntents()[ref])
		}
		again, err := c.Authorize(ctx, verifyReq(ref, number))
		if err != nil || again != first {
			t.Errorf("%s: a second retry answered %+v, %v; the first %+v", number, again, err, first)
		}
		if ids := fake.SetupIntents()[ref]; len(ids) != 1 {
			t.Errorf("%s: SetupIntents of %s: %v; want one", number, ref, ids)
		}
	}
	if n := fake.Performed("verify"); n != 2 {
		t.Errorf("Stripe verified %d times for two references", n)
	}

	// A key seen with other parameters is an unknown outcome, never a
	// second SetupIntent or a decline.
	fake.ConflictKey("paygate:pm_ghost:verify")
	if res, err := c.Authorize(ctx, verifyReq("pm_ghost:verify", "4242424242424242")); err == nil || errors.Is(err, connectors.ErrNotProcessed) {
		t.Errorf("conflict: %+v, %v; want an unknown outcome", res, err)
	}
	if ids := fake.SetupIntents()["pm_ghost:verify"]; len(ids) != 0 {
		t.Errorf("a conflicting key made a SetupIntent: %v", ids)
	}
}
