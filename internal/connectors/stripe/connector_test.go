package stripe

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	stripego "github.com/stripe/stripe-go/v82"

	"github.com/paygate/paygate/internal/connectors"
	"github.com/paygate/paygate/internal/connectors/stripe/stripetest"
)

func mustSucceed(t *testing.T, what string, call func() (connectors.Result, error)) connectors.Result {
	t.Helper()
	res, err := call()
	if err != nil || res.Outcome != connectors.Succeeded || res.ProcessorID == "" {
		t.Fatalf("%s: %+v, %v; want succeeded", what, res, err)
	}
	return res
}

func TestNew(t *testing.T) {
	for _, c := range []struct {
		name  string
		creds map[string]string
		base  string
		ok    bool
	}{
		{"test key", map[string]string{"secret_key": "sk_test_abc"}, "", true},
		{"live key and webhook secret", map[string]string{"secret_key": "sk_live_abc", "webhook_secret": "whsec_abc"}, "", true},
		{"restricted key", map[string]string{"secret_key": "rk_live_abc"}, "", true},
		{"stripe-mock address", map[string]string{"secret_key": "sk_test_abc"}, "http://127.0.0.1:12111", true},
		{"no key", map[string]string{}, "", false},
		{"publishable key", map[string]string{"secret_key": "pk_test_abc"}, "", false},
		{"bare prefix", map[string]string{"secret_key": "sk_test_"}, "", false},
		{"webhook secret of another kind", map[string]string{"secret_key": "sk_test_abc", "webhook_secret": "secret"}, "", false},
		{"base URL without scheme", map[string]string{"secret_key": "sk_test_abc"}, "127.0.0.1:12111", false},
	} {
		conn, err := New(connectors.Config{Credentials: c.creds, BaseURL: c.base})
		if (err == nil) != c.ok {
			t.Errorf("%s: %v, want ok=%v", c.name, err, c.ok)
		}
		if err == nil && conn.Name() != "stripe" {
			t.Errorf("Name() = %q", conn.Name())
		}
	}
}

// TestRequests checks what Authorize, Capture, Void and Refund send.
func TestRequests(t *testing.T) {
	fake, c := newFake(t)
	ctx := context.Background()
	auth := mustSucceed(t, "authorize", func() (connectors.Result, error) {
		return c.Authorize(ctx, connectors.AuthorizeRequest{Reference: "pay_req:authorize", Amount: 1234, Currency: "EUR",
			Method: card("4242424242424242"), ReturnURL: "https://shop.test/back"})
	})
	mustSucceed(t, "capture", func() (connectors.Result, error) {
		return c.Capture(ctx, connectors.CaptureRequest{Reference: "pay_req:capture", ProcessorID: auth.ProcessorID, Amount: 1000, Currency: "EUR"})
	})
	mustSucceed(t, "refund", func() (connectors.Result, error) {
		return c.Refund(ctx, connectors.RefundRequest{Reference: "re_req", ProcessorID: auth.ProcessorID, Amount: 400, Currency: "EUR"})
	})
	auth2 := mustSucceed(t, "authorize", func() (connectors.Result, error) {
		return c.Authorize(ctx, connectors.AuthorizeRequest{Reference: "pay_req2:authorize", Amount: 50, Currency: "USD", Capture: true,
			Method: card("4242424242424242")})
	})
	if auth2.Amount != 50 {
		t.Errorf("sale amount %d", auth2.Amount)
	}
	auth3 := mustSucceed(t, "authorize", func() (connectors.Result, error) {
		return c.Authorize(ctx, connectors.AuthorizeRequest{Reference: "pay_req3:authorize", Amount: 70, Currency: "USD", Method: card("4242424242424242")})
	})
	mustSucceed(t, "void", func() (connectors.Result, error) {
		return c.Void(ctx, connectors.VoidRequest{Reference: "pay_req3:void", ProcessorID: auth3.ProcessorID})
	})

	var got []string
	for _, r := range fake.Requests() {
		got = append(got, r.Method+" "+r.Path+" "+r.IdempotencyKey)
		switch {
		case r.Path == "/v1/payment_methods":
			if r.Form.Get("type") != "card" || r.Form.Get("card[number]") != "4242424242424242" || r.Form.Get("card[exp_month]") != "12" ||
				r.Form.Get("card[exp_year]") != "2040" || r.Form.Get("card[cvc]") != "123" {
				t.Errorf("payment method: %v", r.Form)
			}
		case r.Path == "/v1/payment_intents" && r.Form.Get("metadata[paygate_reference]") == "pay_req:authorize":
			want := map[string]string{"amount": "1234", "currency": "eur", "confirm": "true", "capture_method": "manual",
				"payment_method_types[0]": "card", "return_url": "https://paygate.test/v1/payments/pay_req/return"}
			for k, v := range want {
				if r.Form.Get(k) != v {
					t.Errorf("payment intent %s = %q, want %q", k, r.Form.Get(k), v)
				}
			}
			if !strings.HasPrefix(r.Form.Get("payment_method"), "pm_") {
				t.Errorf("payment intent without the PaymentMethod: %v", r.Form)
			}
		case r.Path == "/v1/payment_intents" && r.Form.Get("metadata[paygate_reference]") == "pay_req2:authorize":
			if r.Form.Get("capture_method") != "automatic" || r.Form.Get("currency") != "usd" {
				t.Errorf("sale: %v", r.Form)
			}
		case strings.HasSuffix(r.Path, "/capture"):
			if r.Form.Get("amount_to_capture") != "1000" || r.Form.Get("metadata[paygate_capture_reference]") != "pay_req:capture" {
				t.Errorf("capture: %v", r.Form)
			}
		case r.Path == "/v1/refunds":
			if r.Form.Get("payment_intent") != auth.ProcessorID || r.Form.Get("amount") != "400" || r.Form.Get("metadata[paygate_reference]") != "re_req" {
				t.Errorf("refund: %v", r.Form)
			}
		case r.Path == "/v1/payment_intents/"+auth3.ProcessorID && r.Method == http.MethodPost:
			if r.Form.Get("metadata[paygate_void_reference]") != "pay_req3:void" {
				t.Errorf("void tag: %v", r.Form)
			}
		}
	}
	want := []string{
		"POST /v1/payment_methods paygate:pay_req:authorize:payment_method",
		"POST /v1/payment_intents paygate:pay_req:authorize",
		"POST /v1/payment_intents/" + auth.ProcessorID + "/capture paygate:pay_req:capture",
		"POST /v1/refunds paygate:re_req",
		"POST /v1/payment_methods paygate:pay_req2:authorize:payment_method",
		"POST /v1/payment_intents paygate:pay_req2:authorize",
		"POST /v1/payment_methods paygate:pay_req3:authorize:payment_method",
		"POST /v1/payment_intents paygate:pay_req3:authorize",
		"POST /v1/payment_intents/" + auth3.ProcessorID + " paygate:pay_req3:void:tag",
		"POST /v1/payment_intents/" + auth3.ProcessorID + "/cancel paygate:pay_req3:void",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestSavedCardRequests checks what a charge that saves a card and a
// merchant-initiated one send.
func TestSavedCardRequests(t *testing.T) {
	fake, c := newFake(t)
	ctx := context.Background()
	mustSucceed(t, "authorize", func() (connectors.Result, error) {
		return c.Authorize(ctx, connectors.AuthorizeRequest{Reference: "pay_cit:authorize", Amount: 500, Currency: "USD", Capture: true,
			Method: card("4242424242424242"), SetupFutureUsage: "off_session"})
	})
	mustSucceed(t, "authorize", func() (connectors.Result, error) {
		noCVC := card("4242424242424242")
		noCVC.Card.CVC = ""
		return c.Authorize(ctx, connectors.AuthorizeRequest{Reference: "pay_mit:authorize", Amount: 700, Currency: "USD", Capture: true,
			Method: noCVC, OffSession: true, NetworkTransactionID: "ntx_1"})
	})
	seen := 0
	for _, r := range fake.Requests() {
		if r.Path != "/v1/payment_intents" {
			continue
		}
		switch r.Form.Get("metadata[paygate_reference]") {
		case "pay_cit:authorize":
			seen++
			if r.Form.Get("setup_future_usage") != "off_session" || r.Form.Has("off_session") {
				t.Errorf("customer-initiated charge that saves the card: %v", r.Form)
			}
		case "pay_mit:authorize":
			seen++
			if r.Form.Get("off_session") != "true" || r.Form.Has("setup_future_usage") {
				t.Errorf("merchant-initiated charge: %v", r.Form)
			}
		default:
			t.Errorf("unexpected payment intent %v", r.Form)
		}
	}
	if seen != 2 {
		t.Errorf("%d payment intents, want 2", seen)
	}
}

// TestRetryWithOtherParameters: a recovery resends a stored card without
// its CVC; Stripe would refuse the same key with other parameters, so the
// authorization is found, not charged again.
func TestRetryWithOtherParameters(t *testing.T) {
	fake, c := newFake(t)
	ctx := context.Background()
	req := connectors.AuthorizeRequest{Reference: "pay_retry:authorize", Amount: 800, Currency: "USD", Capture: true, Method: card("4242424242424242")}
	first := mustSucceed(t, "authorize", func() (connectors.Result, error) { return c.Authorize(ctx, req) })
	noCVC := req
	noCVC.Method = connectors.Method{Card: &connectors.Card{Number: "4242424242424242", ExpMonth: 12, ExpYear: 2040}}
	again, err := c.Authorize(ctx, noCVC)
	if err != nil || again.Outcome != first.Outcome || again.ProcessorID != first.ProcessorID {
		t.Errorf("retry without the CVC: %+v, %v; the first answered %+v", again, err, first)
	}
	if n := fake.Performed("authorize"); n != 1 {
		t.Errorf("Stripe authorized %d times", n)
	}

	// Without paygate's return address, the request's is sent: a retry
	// that lost it conflicts at Stripe, and is answered from the
	// PaymentIntent too.
	bare, err := New(connectors.Config{Credentials: map[string]string{"secret_key": stripetest.SecretKey}, BaseURL: fake.URL()})
	if err != nil {
		t.Fatal(err)
	}
	req2 := connectors.AuthorizeRequest{Reference: "pay_retry2:authorize", Amount: 900, Currency: "USD", Method: card("4242424242424242"), ReturnURL: "https://shop.test/a"}
	first, err = bare.Authorize(ctx, req2)
	if err != nil {
		t.Fatal(err)
	}
	req2.ReturnURL = ""
	again, err = bare.Authorize(ctx, req2)
	if err != nil || again.ProcessorID != first.ProcessorID || again.Outcome != connectors.Succeeded {
		t.Errorf("retry without the return URL: %+v, %v; the first answered %+v", again, err, first)
	}
	if n := fake.Performed("authorize"); n != 2 {
		t.Errorf("Stripe authorized %d times for two references", n)
	}

	// A conflict whose PaymentIntent cannot be found is an unknown
	// outcome, never a new charge or a decline.
	fake.ConflictKey("paygate:pay_ghost:authorize:payment_method")
	res, err := c.Authorize(ctx, connectors.AuthorizeRequest{Reference: "pay_ghost:authorize", Amount: 100, Currency: "USD", Method: card("4242424242424242")})
	if err == nil || errors.Is(err, connectors.ErrNotProcessed) {
		t.Errorf("conflict without a PaymentIntent: %+v, %v; want an unknown outcome", res, err)
	}
}

func TestLookup(t *testing.T) {
	fake, c := newFake(t)
	ctx := context.Background()
	auth := mustSucceed(t, "authorize", func() (connectors.Result, error) {
		return c.Authorize(ctx, connectors.AuthorizeRequest{Reference: "pay_lk:authorize", Amount: 5000, Currency: "USD", Method: card("4242424242424242")})
	})

	// The search index lags: the list of recent PaymentIntents finds it.
	fake.SetSearchLags(true)
	got, err := c.Lookup(ctx, "pay_lk:authorize")
	if err != nil || got.ProcessorID != auth.ProcessorID || got.Outcome != connectors.Succeeded {
		t.Errorf("lookup while the search lags: %+v, %v", got, err)
	}
	listed := false
	for _, r := range fake.Requests() {
		if r.Method == http.MethodGet && r.Path == "/v1/payment_intents" && r.Form.Get("created[gte]") != "" {
			listed = true
		}
	}
	if !listed {
		t.Error("no list of recent PaymentIntents was asked for")
	}
	fake.SetSearchLags(false)

	// A capture and a void are found by their references; an
	// authorization's Lookup tells its current state.
	mustSucceed(t, "capture", func() (connectors.Result, error) {
		return c.Capture(ctx, connectors.CaptureRequest{Reference: "pay_lk:capture", ProcessorID: auth.ProcessorID, Amount: 4000, Currency: "USD"})
	})
	if got, err := c.Lookup(ctx, "pay_lk:capture"); err != nil || got.Outcome != connectors.Succeeded || got.Amount != 4000 {
		t.Errorf("lookup of the capture: %+v, %v", got, err)
	}
	if _, err := c.Lookup(ctx, "pay_lk:void"); !errors.Is(err, connectors.ErrNotFound) {
		t.Errorf("lookup of a void never sent: %v", err)
	}
	ref := mustSucceed(t, "refund", func() (connectors.Result, error) {
		return c.Refund(ctx, connectors.RefundRequest{Reference: "re_lk1", ProcessorID: auth.ProcessorID, Amount: 1500, Currency: "USD"})
	})
	if got, err := c.Lookup(ctx, "re_lk1"); err != nil || got.ProcessorID != ref.ProcessorID || got.Outcome != connectors.Succeeded || got.Amount != 1500 {
		t.Errorf("lookup of the refund: %+v, %v (refund %+v)", got, err, ref)
	}
	if _, err := c.Lookup(ctx, "re_never"); !errors.Is(err, connectors.ErrNotFound) {
		t.Errorf("lookup of a refund never sent: %v", err)
	}

	// A void tag without the cancel is no void.
	auth2 := mustSucceed(t, "authorize", func() (connectors.Result, error) {
		return c.Authorize(ctx, connectors.AuthorizeRequest{Reference: "pay_lk2:authorize", Amount: 100, Currency: "USD", Method: card("4242424242424242")})
	})
	tag := &stripego.PaymentIntentUpdateParams{}
	tag.AddMetadata(metaVoid, "pay_lk2:void")
	if _, err := c.client.V1PaymentIntents.Update(ctx, auth2.ProcessorID, tag); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Lookup(ctx, "pay_lk2:void"); !errors.Is(err, connectors.ErrNotFound) {
		t.Errorf("lookup of a void whose cancel never ran: %v", err)
	}
	mustSucceed(t, "void", func() (connectors.Result, error) {
		return c.Void(ctx, connectors.VoidRequest{Reference: "pay_lk2:void", ProcessorID: auth2.ProcessorID})
	})
	if got, err := c.Lookup(ctx, "pay_lk2:void"); err != nil || got.Outcome != connectors.Succeeded || got.ProcessorID != auth2.ProcessorID {
		t.Errorf("lookup of the void: %+v, %v", got, err)
	}
	// A declined authorization is found declined.
	dec, err := c.Authorize(ctx, connectors.AuthorizeRequest{Reference: "pay_lk3:authorize", Amount: 100, Currency: "USD", Method: card("4000000000009995")})
	if err != nil || dec.Outcome != connectors.Declined {
		t.Fatalf("decline: %+v, %v", dec, err)
	}
	if got, err := c.Lookup(ctx, "pay_lk3:authorize"); err != nil || got.Outcome != connectors.Declined || got.DeclineCode != "insufficient_funds" || got.ProcessorID != dec.ProcessorID {
		t.Errorf("lookup of a decline: %+v, %v (it answered %+v)", got, err, dec)
	}
	// Lookup never creates.
	before := fake.Performed("authorize")
	if _, err := c.Lookup(ctx, "pay_none:authorize"); !errors.Is(err, connectors.ErrNotFound) {
		t.Errorf("lookup of nothing: %v", err)
	}
	for _, r := range fake.Requests() {
		if r.Method != http.MethodGet && strings.Contains(r.IdempotencyKey, "pay_none") {
			t.Errorf("lookup sent %s %s", r.Method, r.Path)
		}
	}
	if fake.Performed("authorize") != before {
		t.Error("lookup authorized")
	}
}

func TestCompleteAction(t *testing.T) {
	fake, c := newFake(t)
	ctx := context.Background()
	start := func(ref string) connectors.Result {
		t.Helper()
		res, err := c.Authorize(ctx, connectors.AuthorizeRequest{Reference: ref, Amount: 2500, Currency: "USD", Capture: true, Method: card("4000000000003220")})
		if err != nil || res.Outcome != connectors.ActionRequired || res.RedirectURL == "" {
			t.Fatalf("3-D Secure card: %+v, %v", res, err)
		}
		return res
	}
	first := start("pay_3ds1:authorize")
	// The customer came back without finishing: still their turn.
	res, err := c.CompleteAction(ctx, connectors.CompleteActionRequest{Reference: "pay_3ds1:authenticate:approve", ActionReference: "pay_3ds1:authorize", Approved: true})
	if err != nil || res.Outcome != connectors.ActionRequired || res.RedirectURL != first.RedirectURL {
		t.Errorf("before authenticating: %+v, %v", res, err)
	}
	// Failed authentication: declined, whatever Approved says.
	second := start("pay_3ds2:authorize")
	fake.Authenticate(t, second.RedirectURL, false)
	res, err = c.CompleteAction(ctx, connectors.CompleteActionRequest{Reference: "pay_3ds2:authenticate:approve", ActionReference: "pay_3ds2:authorize", Approved: true})
	if err != nil || res.Outcome != connectors.Declined || res.FailureCode != "authentication_failed" || res.Message == "" {
		t.Errorf("failed authentication: %+v, %v", res, err)
	}
	// Passed, though the customer's choice reads "decline": Stripe decides.
	third := start("pay_3ds3:authorize")
	fake.Authenticate(t, third.RedirectURL, true)
	fake.SetSearchLags(true)
	res, err = c.CompleteAction(ctx, connectors.CompleteActionRequest{Reference: "pay_3ds3:authenticate:decline", ActionReference: "pay_3ds3:authorize"})
	if err != nil || res.Outcome != connectors.Succeeded || res.Amount != 2500 {
		t.Errorf("passed authentication: %+v, %v", res, err)
	}
	// The PaymentIntent Stripe names on the return URL is read directly,
	// when it is this authorization's; another one (a tampered URL) is
	// not believed.
	fake.SetSearchLags(false)
	other := start("pay_3ds4:authorize")
	target := start("pay_3ds5:authorize")
	fake.Authenticate(t, other.RedirectURL, true)
	res, err = c.CompleteAction(ctx, connectors.CompleteActionRequest{Reference: "pay_3ds5:authenticate:approve", ActionReference: "pay_3ds5:authorize",
		Details: map[string]string{"payment_intent": other.ProcessorID, "redirect_status": "succeeded"}})
	if err != nil || res.Outcome != connectors.ActionRequired || res.ProcessorID != target.ProcessorID {
		t.Errorf("return URL naming another PaymentIntent: %+v, %v; want this authorization's, still waiting", res, err)
	}
	fake.Authenticate(t, target.RedirectURL, true)
	fake.SetSearchLags(true)
	before := len(fake.Requests())
	res, err = c.CompleteAction(ctx, connectors.CompleteActionRequest{Reference: "pay_3ds5:authenticate:approve", ActionReference: "pay_3ds5:authorize",
		Details: map[string]string{"payment_intent": target.ProcessorID, "redirect_status": "succeeded"}})
	if err != nil || res.Outcome != connectors.Succeeded || res.ProcessorID != target.ProcessorID {
		t.Errorf("return URL naming the PaymentIntent: %+v, %v", res, err)
	}
	if reqs := fake.Requests()[before:]; len(reqs) != 1 || reqs[0].Path != "/v1/payment_intents/"+target.ProcessorID {
		t.Errorf("with the PaymentIntent's id, one retrieve is enough; sent %+v", reqs)
	}
	// No PaymentIntent for the reference: an unknown outcome, not a decline.
	res, err = c.CompleteAction(ctx, connectors.CompleteActionRequest{Reference: "pay_x:authenticate:approve", ActionReference: "pay_x:authorize"})
	if err == nil || errors.Is(err, connectors.ErrNotProcessed) {
		t.Errorf("no PaymentIntent: %+v, %v; want an unknown outcome", res, err)
	}
}

func TestWallets(t *testing.T) {
	fake, c := newFake(t)
	ctx := context.Background()
	wallet := func(typ, token string) connectors.Method {
		return connectors.Method{Wallet: &connectors.Wallet{Type: typ, Token: token}}
	}
	mustSucceed(t, "apple pay", func() (connectors.Result, error) {
		return c.Authorize(ctx, connectors.AuthorizeRequest{Reference: "pay_ap:authorize", Amount: 300, Currency: "USD", Capture: true, Method: wallet("apple_pay", "tok_visa")})
	})
	res, err := c.Authorize(ctx, connectors.AuthorizeRequest{Reference: "pay_gp:authorize", Amount: 300, Currency: "USD", Capture: true, Method: wallet("google_pay", "tok_chargeDeclined")})
	if err != nil || res.Outcome != connectors.Declined || res.DeclineCode != "generic_decline" {
		t.Errorf("google pay, declined token: %+v, %v", res, err)
	}
	res, err = c.Authorize(ctx, connectors.AuthorizeRequest{Reference: "pay_gp2:authorize", Amount: 300, Currency: "USD", Capture: true, Method: wallet("google_pay", "tok_unknown")})
	if err != nil || res.Outcome != connectors.Failed {
		t.Errorf("google pay, unknown token: %+v, %v", res, err)
	}
	for _, r := range fake.Requests() {
		if r.Path == "/v1/payment_methods" && r.Form.Get("card[token]") == "" {
			t.Errorf("wallet payment method without card[token]: %v", r.Form)
		}
	}

	res, err = c.Authorize(ctx, connectors.AuthorizeRequest{Reference: "pay_pp:authorize", Amount: 300, Currency: "EUR", Capture: true, Method: wallet("paypal", "")})
	if err != nil || res.Outcome != connectors.ActionRequired || !strings.HasPrefix(res.RedirectURL, fake.URL()+"/fake/paypal/") {
		t.Fatalf("paypal: %+v, %v", res, err)
	}
	// The PaymentIntent as Stripe keeps it: PayPal only, paygate's return
	// address in its redirect.
	pi, err := c.client.V1PaymentIntents.Retrieve(ctx, res.ProcessorID, nil)
	if err != nil || pi.Metadata[metaReference] != "pay_pp:authorize" || strings.Join(pi.PaymentMethodTypes, ",") != "paypal" ||
		pi.NextAction == nil || pi.NextAction.RedirectToURL == nil || pi.NextAction.RedirectToURL.ReturnURL != "https://paygate.test/v1/payments/pay_pp/return" {
		t.Errorf("paypal PaymentIntent: %+v, %v", pi, err)
	}
	fake.Authenticate(t, res.RedirectURL, true)
	mustSucceed(t, "paypal approved", func() (connectors.Result, error) {
		return c.CompleteAction(ctx, connectors.CompleteActionRequest{Reference: "pay_pp:authenticate:approve", ActionReference: "pay_pp:authorize", Capture: true})
	})
}

// TestResendAfterKeysExpired: Stripe keeps idempotency keys 24 hours; a
// capture or void resent later meets the PaymentIntent already captured or
// canceled, which is the operation done.
func TestResendAfterKeysExpired(t *testing.T) {
	fake, c := newFake(t)
	ctx := context.Background()
	auth := mustSucceed(t, "authorize", func() (connectors.Result, error) {
		return c.Authorize(ctx, connectors.AuthorizeRequest{Reference: "pay_old:authorize", Amount: 700, Currency: "USD", Method: card("4242424242424242")})
	})
	capReq := connectors.CaptureRequest{Reference: "pay_old:capture", ProcessorID: auth.ProcessorID, Amount: 700, Currency: "USD"}
	mustSucceed(t, "capture", func() (connectors.Result, error) { return c.Capture(ctx, capReq) })
	fake.ForgetKeys()
	res := mustSucceed(t, "capture resent", func() (connectors.Result, error) { return c.Capture(ctx, capReq) })
	if res.Amount != 700 || fake.Performed("capture") != 1 {
		t.Errorf("capture resent: %+v, %d captures", res, fake.Performed("capture"))
	}
	// A void of a captured PaymentIntent is refused, not done.
	res, err := c.Void(ctx, connectors.VoidRequest{Reference: "pay_old:void", ProcessorID: auth.ProcessorID})
	if err != nil || res.Outcome != connectors.Failed || res.FailureCode != "payment_intent_unexpected_state" {
		t.Errorf("void after capture: %+v, %v", res, err)
	}

	auth2 := mustSucceed(t, "authorize", func() (connectors.Result, error) {
		return c.Authorize(ctx, connectors.AuthorizeRequest{Reference: "pay_old2:authorize", Amount: 700, Currency: "USD", Method: card("4242424242424242")})
	})
	voidReq := connectors.VoidRequest{Reference: "pay_old2:void", ProcessorID: auth2.ProcessorID}
	mustSucceed(t, "void", func() (connectors.Result, error) { return c.Void(ctx, voidReq) })
	fake.ForgetKeys()
	mustSucceed(t, "void resent", func() (connectors.Result, error) { return c.Void(ctx, voidReq) })
	if n := fake.Performed("void"); n != 1 {
		t.Errorf("%d cancels", n)
	}
	// Over-refund: a definitive refusal.
	res, err = c.Refund(ctx, connectors.RefundRequest{Reference: "re_old", ProcessorID: auth.ProcessorID, Amount: 701, Currency: "USD"})
	if err != nil || res.Outcome != connectors.Failed || res.FailureCode != "amount_too_large" {
		t.Errorf("over-refund: %+v, %v", res, err)
	}
}

// TestConnectorsAreIndependent: each connector uses its own key and
// address (no package-level client state).
func TestConnectorsAreIndependent(t *testing.T) {
	a, b := stripetest.NewServer(t), stripetest.NewServer(t)
	a.SetSecretKey("sk_test_accountA")
	b.SetSecretKey("sk_test_accountB")
	ca, err := New(connectors.Config{Credentials: map[string]string{"secret_key": "sk_test_accountA"}, BaseURL: a.URL()})
	if err != nil {
		t.Fatal(err)
	}
	cb, err := New(connectors.Config{Credentials: map[string]string{"secret_key": "sk_test_accountB"}, BaseURL: b.URL()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i, c := range []*Connector{ca, cb, ca} {
		mustSucceed(t, "authorize", func() (connectors.Result, error) {
			return c.Authorize(ctx, connectors.AuthorizeRequest{Reference: "pay_ind" + string(rune('0'+i)) + ":authorize", Amount: 100, Currency: "USD", Capture: true, Method: card("4242424242424242")})
		})
	}
	if a.Performed("authorize") != 2 || b.Performed("authorize") != 1 {
		t.Errorf("account A authorized %d, B %d; want 2 and 1", a.Performed("authorize"), b.Performed("authorize"))
	}
	// A wrong key is refused before processing.
	wrong, err := New(connectors.Config{Credentials: map[string]string{"secret_key": "sk_test_wrong"}, BaseURL: a.URL()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wrong.Authorize(ctx, connectors.AuthorizeRequest{Reference: "pay_wrong:authorize", Amount: 100, Currency: "USD", Method: card("4242424242424242")}); !errors.Is(err, connectors.ErrNotProcessed) {
		t.Errorf("wrong key: %v, want ErrNotProcessed", err)
	}
}

// TestResendWithoutCVCAfterCrash: the first attempt created the
// PaymentMethod (with the CVC) and died before the PaymentIntent; the
// recovery resends the stored card without its CVC, which must create the
// PaymentIntent once, not stall on the PaymentMethod's key.
func TestResendWithoutCVCAfterCrash(t *testing.T) {
	fake, c := newFake(t)
	ctx := context.Background()
	withCVC := &stripego.PaymentMethodCreateCardParams{Number: stripego.String("4242424242424242"), ExpMonth: stripego.Int64(12),
		ExpYear: stripego.Int64(2040), CVC: stripego.String("123")}
	if pm, res, err := c.paymentMethod(ctx, "pay_crash:authorize", withCVC, "payment_method", c.authorizationAfterConflict); pm == nil {
		t.Fatalf("the first attempt's PaymentMethod: %+v, %v", res, err)
	}
	stored := connectors.Method{Card: &connectors.Card{Number: "4242424242424242", ExpMonth: 12, ExpYear: 2040}}
	req := connectors.AuthorizeRequest{Reference: "pay_crash:authorize", Amount: 100, Currency: "USD", Capture: true, Method: stored}
	mustSucceed(t, "resend without the CVC", func() (connectors.Result, error) { return c.Authorize(ctx, req) })
	mustSucceed(t, "and again", func() (connectors.Result, error) { return c.Authorize(ctx, req) })
	if n := fake.Performed("authorize"); n != 1 {
		t.Errorf("Stripe authorized %d times", n)
	}
}
