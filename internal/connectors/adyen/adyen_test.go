package adyen

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/connectors"
	"github.com/paygate/paygate/internal/connectors/adyen/adyentest"
	"github.com/paygate/paygate/internal/connectors/connectortest"
)

var ctx = context.Background()

func TestNew(t *testing.T) {
	good := func() connectors.Config {
		return connectors.Config{
			Credentials: map[string]string{"api_key": "k", "merchant_account": "m", "hmac_key": adyentest.HMACKey},
			BaseURL:     "https://checkout-test.adyen.com/v71/",
			HTTP:        http.DefaultClient,
		}
	}
	c, err := New(good())
	if err != nil {
		t.Fatal(err)
	}
	if c.Name() != "adyen" || c.baseURL != "https://checkout-test.adyen.com/v71" {
		t.Errorf("name %q, base %q", c.Name(), c.baseURL)
	}
	for name, mod := range map[string]func(*connectors.Config){
		"no api_key":          func(c *connectors.Config) { delete(c.Credentials, "api_key") },
		"no merchant_account": func(c *connectors.Config) { delete(c.Credentials, "merchant_account") },
		"no hmac_key":         func(c *connectors.Config) { delete(c.Credentials, "hmac_key") },
		"hmac_key not hex":    func(c *connectors.Config) { c.Credentials["hmac_key"] = "not-hex" },
		"no base_url":         func(c *connectors.Config) { c.BaseURL = "" },
		"base_url not http":   func(c *connectors.Config) { c.BaseURL = "ftp://example.com/v71" },
		"no HTTP client":      func(c *connectors.Config) { c.HTTP = nil },
	} {
		cfg := good()
		mod(&cfg)
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
}

func TestIdempotencyKey(t *testing.T) {
	if got := IdempotencyKey("pay_123:authorize"); got != "paygate:pay_123:authorize" {
		t.Errorf("short reference: %q", got)
	}
	long := "pay_" + strings.Repeat("x", 80) + ":authorize"
	k := IdempotencyKey(long)
	if len(k) > 64 || !strings.HasPrefix(k, "paygate#") || k != IdempotencyKey(long) {
		t.Errorf("long reference: %q (%d characters)", k, len(k))
	}
	if IdempotencyKey(long+"x") == k {
		t.Error("two long references share a key")
	}
	if k := IdempotencyKey("pay 1:authorize"); !strings.HasPrefix(k, "paygate#") {
		t.Errorf("a reference with a space is sent as is: %q", k)
	}
}

func TestAuthorizeRequest(t *testing.T) {
	f := adyentest.NewServer(t)
	c := connector(t, f)
	m := connectors.Method{Card: &connectors.Card{Number: "4242424242424242", ExpMonth: 3, ExpYear: 2030, CVC: "737", HolderName: "John Smith"}}
	res, err := c.Authorize(ctx, connectors.AuthorizeRequest{Reference: "pay_1:authorize", Amount: 1000, Currency: "usd", Method: m,
		Capture: true, ReturnURL: "https://shop.test/back"})
	if err != nil || res.Outcome != connectors.Succeeded || res.ProcessorID == "" || res.Amount != 1000 {
		t.Fatalf("sale: %+v, %v", res, err)
	}
	r := f.LastRequest(t)
	if r.Path != "/v71/payments" || r.Header.Get("X-API-Key") != adyentest.APIKey || r.Header.Get("Idempotency-Key") != "paygate:pay_1:authorize" ||
		r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("request %s with headers %v", r.Path, r.Header)
	}
	want := map[string]any{
		"amount":            map[string]any{"value": 1000.0, "currency": "USD"},
		"reference":         "pay_1:authorize",
		"merchantAccount":   adyentest.MerchantAccount,
		"returnUrl":         "https://shop.test/back",
		"captureDelayHours": 0.0,
		"paymentMethod": map[string]any{"type": "scheme", "number": "4242424242424242", "expiryMonth": "03", "expiryYear": "2030",
			"cvc": "737", "holderName": "John Smith"},
	}
	if !jsonEqual(r.Body, want) {
		t.Errorf("sale body %v, want %v", r.Body, want)
	}

	// Authorization only: manual capture, no capture delay; a stored card
	// has no CVC.
	m.Card.CVC = ""
	if _, err := c.Authorize(ctx, connectors.AuthorizeRequest{Reference: "pay_2:authorize", Amount: 500, Currency: "EUR", Method: m,
		ReturnURL: "https://shop.test/back"}); err != nil {
		t.Fatal(err)
	}
	b := f.LastRequest(t).Body
	if _, ok := b["captureDelayHours"]; ok || !jsonEqual(b["additionalData"], map[string]any{"manualCapture": "true"}) {
		t.Errorf("authorization only: %v", b)
	}
	if _, ok := b["paymentMethod"].(map[string]any)["cvc"]; ok {
		t.Errorf("an empty CVC was sent: %v", b["paymentMethod"])
	}
}

// TestCardOnFile checks the fields of a charge that saves a card, of a
// verification and of a merchant-initiated charge (Checkout API v71,
// PaymentRequest and AdditionalDataCommon).
func TestCardOnFile(t *testing.T) {
	f := adyentest.NewServer(t)
	c := connector(t, f)
	m := connectors.Method{Card: &connectors.Card{Number: "4242424242424242", ExpMonth: 3, ExpYear: 2030, CVC: "737"}}
	cases := []struct {
		req  connectors.AuthorizeRequest
		want map[string]any
	}{
		{connectors.AuthorizeRequest{Reference: "pay_cit:authorize", Amount: 100, Currency: "USD", Method: m, Capture: true, SetupFutureUsage: "off_session"},
			map[string]any{"shopperInteraction": "Ecommerce", "recurringProcessingModel": "UnscheduledCardOnFile"}},
		{connectors.AuthorizeRequest{Reference: "pay_on:authorize", Amount: 100, Currency: "USD", Method: m, Capture: true, SetupFutureUsage: "on_session"},
			map[string]any{"shopperInteraction": "Ecommerce", "recurringProcessingModel": "CardOnFile"}},
		{connectors.AuthorizeRequest{Reference: "pm_1:verify", Amount: 0, Currency: "USD", Method: m, Verify: true},
			map[string]any{"shopperInteraction": "Ecommerce", "recurringProcessingModel": "UnscheduledCardOnFile"}},
		{connectors.AuthorizeRequest{Reference: "pay_mit:authorize", Amount: 100, Currency: "USD", Method: m, Capture: true, OffSession: true, NetworkTransactionID: "168946245039456"},
			map[string]any{"shopperInteraction": "ContAuth", "recurringProcessingModel": "UnscheduledCardOnFile",
				"additionalData": map[string]any{"networkTxReference": "168946245039456"}}},
		{connectors.AuthorizeRequest{Reference: "pay_plain:authorize", Amount: 100, Currency: "USD", Method: m, Capture: true},
			map[string]any{"shopperInteraction": nil, "recurringProcessingModel": nil}},
	}
	for _, tc := range cases {
		if _, err := c.Authorize(ctx, tc.req); err != nil {
			t.Fatal(err)
		}
		b := f.LastRequest(t).Body
		for k, v := range tc.want {
			if got := b[k]; !jsonEqual(got, v) {
				t.Errorf("%s: %s = %v, want %v", tc.req.Reference, k, got, v)
			}
		}
	}
	if b := f.LastRequest(t).Body; b["additionalData"] != nil {
		t.Errorf("a plain sale sends additionalData %v", b["additionalData"])
	}
}

func TestWallets(t *testing.T) {
	f := adyentest.NewServer(t)
	c := connector(t, f)
	for _, w := range []struct {
		wallet  connectors.Wallet
		want    map[string]any
		outcome connectors.Outcome
	}{
		{connectors.Wallet{Type: "apple_pay", Token: "tok_apple_pay"}, map[string]any{"type": "applepay", "applePayToken": "tok_apple_pay"}, connectors.Succeeded},
		{connectors.Wallet{Type: "google_pay", Token: "tok_google_pay"}, map[string]any{"type": "googlepay", "googlePayToken": "tok_google_pay"}, connectors.Succeeded},
		{connectors.Wallet{Type: "google_pay", Token: "tok_wallet_declined"}, map[string]any{"type": "googlepay", "googlePayToken": "tok_wallet_declined"}, connectors.Declined},
		{connectors.Wallet{Type: "paypal"}, map[string]any{"type": "paypal", "subtype": "redirect"}, connectors.ActionRequired},
	} {
		wallet := w.wallet
		res, err := c.Authorize(ctx, connectors.AuthorizeRequest{Reference: "pay_" + wallet.Token + wallet.Type + ":authorize", Amount: 100, Currency: "USD",
			Method: connectors.Method{Wallet: &wallet}, Capture: true, ReturnURL: "https://shop.test/back"})
		if err != nil || res.Outcome != w.outcome {
			t.Errorf("%+v: %+v, %v; want %s", wallet, res, err, w.outcome)
		}
		if got := f.LastRequest(t).Body["paymentMethod"]; !jsonEqual(got, w.want) {
			t.Errorf("%+v sent %v, want %v", wallet, got, w.want)
		}
	}
	n := len(f.Requests())
	res, err := c.Authorize(ctx, connectors.AuthorizeRequest{Reference: "pay_x:authorize", Amount: 100, Currency: "USD",
		Method: connectors.Method{Wallet: &connectors.Wallet{Type: "venmo"}}})
	if err != nil || res.Outcome != connectors.Failed || len(f.Requests()) != n {
		t.Errorf("unknown wallet: %+v, %v, %d requests sent", res, err, len(f.Requests())-n)
	}
}

func TestAuthorizeOutcomes(t *testing.T) {
	f := adyentest.NewServer(t)
	c := connector(t, f)
	for _, tc := range []struct {
		number               string
		outcome              connectors.Outcome
		failure, declineCode string
		message              string
	}{
		{"4242424242424242", connectors.Succeeded, "", "", ""},
		{"4000000000000002", connectors.Declined, "card_declined", "generic_decline", "Refused"},
		{"4000000000009995", connectors.Declined, "card_declined", "insufficient_funds", "Not enough balance"},
		{"4000000000000069", connectors.Declined, "expired_card", "expired_card", "Expired Card"},
		{"4000000000000127", connectors.Declined, "incorrect_cvc", "incorrect_cvc", "CVC Declined"},
		{"4000000000000119", connectors.Failed, "processing_error", "", "Acquirer Error"},
		{"4000000000003220", connectors.ActionRequired, "", "", ""},
	} {
		res, err := c.Authorize(ctx, connectors.AuthorizeRequest{Reference: "pay_" + tc.number + ":authorize", Amount: 1000, Currency: "USD",
			Method: card(tc.number), Capture: true, ReturnURL: "https://shop.test/back"})
		if err != nil || res.Outcome != tc.outcome || res.FailureCode != tc.failure || res.DeclineCode != tc.declineCode || res.Message != tc.message {
			t.Errorf("%s: %+v, %v", tc.number, res, err)
		}
		if tc.outcome == connectors.ActionRequired && !strings.HasPrefix(res.RedirectURL, strings.TrimSuffix(f.URL(), "/v71")+"/checkoutshopper/threeDS/redirect") {
			t.Errorf("%s: redirect to %q", tc.number, res.RedirectURL)
		}
	}
}

func TestReturnURL(t *testing.T) {
	f := adyentest.NewServer(t)
	req := connectors.AuthorizeRequest{Reference: "pay_abc:authorize", Amount: 100, Currency: "USD", Method: card("4242424242424242"),
		Capture: true, ReturnURL: "https://shop.test/back"}
	if _, err := connector(t, f).Authorize(ctx, req); err != nil {
		t.Fatal(err)
	}
	if got := f.LastRequest(t).Body["returnUrl"]; got != "https://shop.test/back" {
		t.Errorf("without paygate's return page: %v", got)
	}
	c := connector(t, f, func(c *connectors.Config) { c.ReturnURL = "https://paygate.test/v1/return/{payment}" })
	req.Reference = "pay_def:authorize"
	if _, err := c.Authorize(ctx, req); err != nil {
		t.Fatal(err)
	}
	if got := f.LastRequest(t).Body["returnUrl"]; got != "https://paygate.test/v1/return/pay_def" {
		t.Errorf("with paygate's return page: %v", got)
	}
	// Adyen requires returnUrl: without any, it refuses the payment (422).
	req.Reference, req.ReturnURL = "pay_ghi:authorize", ""
	res, err := connector(t, f).Authorize(ctx, req)
	if err != nil || res.Outcome != connectors.Failed || res.FailureCode != "processing_error" || !strings.Contains(res.Message, "Return URL is missing") {
		t.Errorf("no return URL: %+v, %v", res, err)
	}
}

func TestRepeatedReference(t *testing.T) {
	f := adyentest.NewServer(t)
	c := connector(t, f)
	req := connectors.AuthorizeRequest{Reference: "pay_rep:authorize", Amount: 700, Currency: "USD", Method: card("4242424242424242"),
		Capture: true, ReturnURL: "https://shop.test/back"}
	first, err := c.Authorize(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.Authorize(ctx, req)
	if err != nil || again.ProcessorID != first.ProcessorID || f.Performed("authorize") != 1 {
		t.Errorf("retry %+v (%v), first %+v, %d authorizations", again, err, first, f.Performed("authorize"))
	}
	cr := connectors.CaptureRequest{Reference: "pay_rep:capture", ProcessorID: first.ProcessorID, Amount: 700, Currency: "USD"}
	c1, err1 := c.Capture(ctx, cr)
	c2, err2 := c.Capture(ctx, cr)
	if err1 != nil || err2 != nil || c1.ProcessorID != c2.ProcessorID || f.Performed("capture") != 1 {
		t.Errorf("captures %+v, %+v (%v, %v), %d performed", c1, c2, err1, err2, f.Performed("capture"))
	}
}

func TestInFlightRetryIsUnknown(t *testing.T) {
	f := adyentest.NewServer(t)
	c := connector(t, f)
	release := f.HoldNext()
	req := connectors.AuthorizeRequest{Reference: "pay_fly:authorize", Amount: 100, Currency: "USD", Method: card("4242424242424242"),
		Capture: true, ReturnURL: "https://shop.test/back"}
	var wg sync.WaitGroup
	wg.Add(1)
	var first connectors.Result
	var firstErr error
	go func() {
		defer wg.Done()
		first, firstErr = c.Authorize(ctx, req)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for f.InFlight() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	_, err := c.Authorize(ctx, req)
	release()
	wg.Wait()
	if err == nil || errors.Is(err, connectors.ErrNotProcessed) || !strings.Contains(err.Error(), "409") {
		t.Errorf("a retry while the first is in flight: %v, want an unknown outcome", err)
	}
	if firstErr != nil || first.Outcome != connectors.Succeeded || f.Performed("authorize") != 1 {
		t.Errorf("the first: %+v, %v; %d authorizations", first, firstErr, f.Performed("authorize"))
	}
}

func TestModifications(t *testing.T) {
	f := adyentest.NewServer(t)
	c := connector(t, f)
	auth, err := c.Authorize(ctx, connectors.AuthorizeRequest{Reference: "pay_mod:authorize", Amount: 5000, Currency: "USD",
		Method: card("4242424242424242"), ReturnURL: "https://shop.test/back"})
	if err != nil || auth.Outcome != connectors.Succeeded {
		t.Fatal(auth, err)
	}
	for _, tc := range []struct {
		name string
		call func() (connectors.Result, error)
		path string
		body map[string]any
	}{
		{"capture", func() (connectors.Result, error) {
			return c.Capture(ctx, connectors.CaptureRequest{Reference: "pay_mod:capture", ProcessorID: auth.ProcessorID, Amount: 3000, Currency: "usd"})
		}, "/captures", map[string]any{"merchantAccount": adyentest.MerchantAccount, "reference": "pay_mod:capture", "amount": map[string]any{"value": 3000.0, "currency": "USD"}}},
		{"refund", func() (connectors.Result, error) {
			return c.Refund(ctx, connectors.RefundRequest{Reference: "re_1", ProcessorID: auth.ProcessorID, Amount: 1000, Currency: "USD"})
		}, "/refunds", map[string]any{"merchantAccount": adyentest.MerchantAccount, "reference": "re_1", "amount": map[string]any{"value": 1000.0, "currency": "USD"}}},
		{"void", func() (connectors.Result, error) {
			return c.Void(ctx, connectors.VoidRequest{Reference: "pay_mod:void", ProcessorID: auth.ProcessorID})
		}, "/cancels", map[string]any{"merchantAccount": adyentest.MerchantAccount, "reference": "pay_mod:void"}},
	} {
		res, err := tc.call()
		if err != nil || res.Outcome != connectors.Pending || res.ProcessorID == "" || res.ProcessorID == auth.ProcessorID {
			t.Errorf("%s: %+v, %v; want pending with the modification's own pspReference", tc.name, res, err)
		}
		r := f.LastRequest(t)
		if r.Path != "/v71/payments/"+auth.ProcessorID+tc.path || !jsonEqual(r.Body, tc.body) ||
			r.Header.Get("Idempotency-Key") != "paygate:"+tc.body["reference"].(string) {
			t.Errorf("%s: sent %s %v %v", tc.name, r.Path, r.Body, r.Header)
		}
	}
	// Adyen refuses a modification of a payment it does not know (422).
	res, err := c.Capture(ctx, connectors.CaptureRequest{Reference: "pay_none:capture", ProcessorID: "NOPE", Amount: 1, Currency: "USD"})
	if err != nil || res.Outcome != connectors.Failed || !strings.Contains(res.Message, "167") {
		t.Errorf("capture of an unknown payment: %+v, %v", res, err)
	}
	n := len(f.Requests())
	if res, err := c.Void(ctx, connectors.VoidRequest{Reference: "pay_none:void"}); err != nil || res.Outcome != connectors.Failed || len(f.Requests()) != n {
		t.Errorf("void without a pspReference: %+v, %v", res, err)
	}
}

func TestLookupIsUnknown(t *testing.T) {
	f := adyentest.NewServer(t)
	c := connector(t, f)
	_, err := c.Lookup(ctx, "pay_1:authorize")
	if err == nil || !errors.Is(err, connectors.ErrNoLookup) || errors.Is(err, connectors.ErrNotFound) || errors.Is(err, connectors.ErrNotProcessed) {
		t.Errorf("lookup: %v; want an unknown outcome", err)
	}
	if len(f.Requests()) != 0 {
		t.Error("lookup sent a request: it could create what it looks for")
	}
}

func TestCompleteAction(t *testing.T) {
	f := adyentest.NewServer(t)
	c := connector(t, f)
	auth, err := c.Authorize(ctx, connectors.AuthorizeRequest{Reference: "pay_3ds:authorize", Amount: 2500, Currency: "USD",
		Method: card("4000000000003220"), Capture: true, ReturnURL: "https://shop.test/back"})
	if err != nil || auth.Outcome != connectors.ActionRequired {
		t.Fatal(auth, err)
	}
	n := len(f.Requests())
	res, err := c.CompleteAction(ctx, connectors.CompleteActionRequest{Reference: "pay_3ds:authenticate:approve", ActionReference: "pay_3ds:authorize", Approved: true, Capture: true})
	if err != nil || res.Outcome != connectors.Pending || len(f.Requests()) != n {
		t.Errorf("CompleteAction: %+v, %v, %d requests", res, err, len(f.Requests())-n)
	}

	rr := f.Authenticate(t, auth.RedirectURL, true)
	done, err := c.CompleteRedirect(ctx, connectors.CompleteActionRequest{Reference: "pay_3ds:authenticate:approve", ActionReference: "pay_3ds:authorize"}, rr)
	if err != nil || done.Outcome != connectors.Succeeded || done.ProcessorID == "" {
		t.Errorf("after authentication: %+v, %v", done, err)
	}
	r := f.LastRequest(t)
	if r.Path != "/v71/payments/details" || !jsonEqual(r.Body, map[string]any{"details": map[string]any{"redirectResult": rr}}) ||
		r.Header.Get("Idempotency-Key") != "paygate:pay_3ds:authenticate:approve" {
		t.Errorf("sent %s %v %v", r.Path, r.Body, r.Header)
	}

	// The customer failed the challenge.
	auth2, _ := c.Authorize(ctx, connectors.AuthorizeRequest{Reference: "pay_3ds2:authorize", Amount: 2500, Currency: "USD",
		Method: card("4000000000003220"), Capture: true, ReturnURL: "https://shop.test/back"})
	rr2 := f.Authenticate(t, auth2.RedirectURL, false)
	res, err = c.CompleteRedirect(ctx, connectors.CompleteActionRequest{Reference: "pay_3ds2:authenticate:approve", ActionReference: "pay_3ds2:authorize"}, rr2)
	if err != nil || res.Outcome != connectors.Declined || res.FailureCode != "authentication_failed" {
		t.Errorf("failed authentication: %+v, %v", res, err)
	}
	// A redirectResult brought to another payment.
	_, err = c.CompleteRedirect(ctx, connectors.CompleteActionRequest{Reference: "pay_other:authenticate:approve", ActionReference: "pay_other:authorize"}, rr)
	if err == nil || errors.Is(err, connectors.ErrNotProcessed) {
		t.Errorf("another payment's redirectResult: %v", err)
	}
}

// TestHTTPStatus checks what each error status of Adyen's proves, with
// Adyen's documented error bodies.
func TestHTTPStatus(t *testing.T) {
	for _, tc := range []struct {
		status       int
		fixture      string
		transient    bool
		notProcessed bool // else an unknown outcome, or a Failed result for 422
	}{
		{400, "error-400.json", false, true},
		{401, "error-401.json", false, true},
		{403, "error-403.json", false, true},
		{404, "", false, true},
		{409, "", true, false},
		{422, "error-422.json", false, false},
		{429, "", false, false},
		{500, "error-500.json", false, false},
		{502, "", false, false},
		{503, "", false, false},
	} {
		var body []byte
		if tc.fixture != "" {
			body = adyentest.Fixture(t, tc.fixture)
		}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if tc.transient {
				w.Header().Set("Transient-Error", "true")
			}
			w.WriteHeader(tc.status)
			_, _ = w.Write(body)
		}))
		c, err := New(connectors.Config{Credentials: map[string]string{"api_key": "AQE_secret_key_1234", "merchant_account": "m", "hmac_key": adyentest.HMACKey},
			BaseURL: srv.URL + "/v71", HTTP: srv.Client()})
		if err != nil {
			t.Fatal(err)
		}
		res, err := c.Authorize(ctx, connectors.AuthorizeRequest{Reference: "pay_1:authorize", Amount: 100, Currency: "USD",
			Method: card("4242424242424242"), Capture: true, ReturnURL: "https://shop.test/back"})
		switch {
		case tc.status == 422:
			if err != nil || res.Outcome != connectors.Failed || res.FailureCode != "processing_error" || !strings.Contains(res.Message, "Return URL is missing") {
				t.Errorf("422: %+v, %v; want a Failed result", res, err)
			}
		case tc.notProcessed:
			if !errors.Is(err, connectors.ErrNotProcessed) {
				t.Errorf("%d: %+v, %v; want ErrNotProcessed", tc.status, res, err)
			}
		default:
			if err == nil || errors.Is(err, connectors.ErrNotProcessed) {
				t.Errorf("%d: %+v, %v; want an unknown outcome", tc.status, res, err)
			}
		}
		if err != nil && strings.Contains(err.Error(), "AQE_secret_key_1234") {
			t.Errorf("%d: the error shows the API key: %v", tc.status, err)
		}
		srv.Close()
	}
	// A 2xx answer that cannot be read: Adyen did something; unknown.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("<html>")) }))
	defer srv.Close()
	c, _ := New(connectors.Config{Credentials: map[string]string{"api_key": "k", "merchant_account": "m", "hmac_key": adyentest.HMACKey},
		BaseURL: srv.URL, HTTP: srv.Client()})
	if _, err := c.Void(ctx, connectors.VoidRequest{Reference: "pay_1:void", ProcessorID: "X"}); err == nil || errors.Is(err, connectors.ErrNotProcessed) {
		t.Errorf("an unreadable 200: %v", err)
	}
}

func TestAuthenticationErrors(t *testing.T) {
	f := adyentest.NewServer(t)
	req := connectors.AuthorizeRequest{Reference: "pay_1:authorize", Amount: 100, Currency: "USD", Method: card("4242424242424242"),
		Capture: true, ReturnURL: "https://shop.test/back"}
	badKey := connector(t, f, func(c *connectors.Config) { c.Credentials["api_key"] = "wrong" })
	if _, err := badKey.Authorize(ctx, req); !errors.Is(err, connectors.ErrNotProcessed) || !strings.Contains(err.Error(), "401") {
		t.Errorf("wrong API key: %v", err)
	}
	badAccount := connector(t, f, func(c *connectors.Config) { c.Credentials["merchant_account"] = "Other" })
	if _, err := badAccount.Authorize(ctx, req); !errors.Is(err, connectors.ErrNotProcessed) || !strings.Contains(err.Error(), "Invalid Merchant Account") {
		t.Errorf("wrong merchant account: %v", err)
	}
	if f.Performed("authorize") != 0 {
		t.Error("the fake authorized a refused request")
	}
}

func TestTransport(t *testing.T) {
	f := adyentest.NewServer(t)
	req := connectors.AuthorizeRequest{Reference: "pay_1:authorize", Amount: 100, Currency: "USD", Method: card("4242424242424242"), Capture: true}
	slow := connector(t, f, func(c *connectors.Config) {
		c.BaseURL, c.HTTP = connectortest.SlowURL(t)+"/v71", &http.Client{Timeout: 50 * time.Millisecond}
	})
	if _, err := slow.Authorize(ctx, req); err == nil || errors.Is(err, connectors.ErrNotProcessed) {
		t.Errorf("timeout: %v, want an unknown outcome", err)
	}
	closed := connector(t, f, func(c *connectors.Config) { c.BaseURL = connectortest.ClosedURL(t) + "/v71" })
	if _, err := closed.Authorize(ctx, req); !errors.Is(err, connectors.ErrNotProcessed) {
		t.Errorf("refused connection: %v, want ErrNotProcessed", err)
	}
}

func TestResultCodes(t *testing.T) {
	redirect := &action{Type: "redirect", URL: "https://adyen.test/3ds", Method: "GET"}
	for _, tc := range []struct {
		name    string
		resp    paymentResponse
		outcome connectors.Outcome
		err     bool
		check   func(connectors.Result) bool
	}{
		{"authorised", paymentResponse{ResultCode: "Authorised", PSPReference: "P1", Amount: &amount{Value: 900}}, connectors.Succeeded, false,
			func(r connectors.Result) bool { return r.ProcessorID == "P1" && r.Amount == 900 }},
		{"authorised without pspReference", paymentResponse{ResultCode: "Authorised"}, "", true, nil},
		{"refused", paymentResponse{ResultCode: "Refused", RefusalReason: "Not enough balance", RefusalReasonCode: "12"}, connectors.Declined, false,
			func(r connectors.Result) bool { return r.DeclineCode == "insufficient_funds" }},
		{"cancelled", paymentResponse{ResultCode: "Cancelled", RefusalReason: "Shopper Cancelled", RefusalReasonCode: "16"}, connectors.Declined, false,
			func(r connectors.Result) bool { return r.FailureCode == "authentication_failed" }},
		{"error", paymentResponse{ResultCode: "Error"}, connectors.Failed, false,
			func(r connectors.Result) bool { return r.FailureCode == "processing_error" && r.Message != "" }},
		{"redirect GET", paymentResponse{ResultCode: "RedirectShopper", PSPReference: "P2", Action: redirect}, connectors.ActionRequired, false,
			func(r connectors.Result) bool { return r.RedirectURL == redirect.URL }},
		{"challenge by redirect", paymentResponse{ResultCode: "ChallengeShopper", Action: redirect}, connectors.ActionRequired, false, nil},
		{"identify by redirect", paymentResponse{ResultCode: "IdentifyShopper", Action: redirect}, connectors.ActionRequired, false, nil},
		{"redirect POST", paymentResponse{ResultCode: "RedirectShopper", Action: &action{Type: "redirect", URL: "https://adyen.test/3ds", Method: "POST"}},
			connectors.Failed, false, func(r connectors.Result) bool { return strings.Contains(r.Message, "POST") }},
		{"native 3-D Secure 2", paymentResponse{ResultCode: "IdentifyShopper", Action: &action{Type: "threeDS2"}}, connectors.Failed, false, nil},
		{"redirect without action", paymentResponse{ResultCode: "RedirectShopper"}, connectors.Failed, false, nil},
		{"pending", paymentResponse{ResultCode: "Pending", PSPReference: "P3"}, connectors.Pending, false,
			func(r connectors.Result) bool { return r.ProcessorID == "P3" }},
		{"received", paymentResponse{ResultCode: "Received", PSPReference: "P4"}, connectors.Pending, false, nil},
		{"present to shopper", paymentResponse{ResultCode: "PresentToShopper"}, connectors.Failed, false, nil},
		{"partially authorised", paymentResponse{ResultCode: "PartiallyAuthorised", PSPReference: "P5"}, "", true, nil},
		{"unknown", paymentResponse{ResultCode: "Whatever"}, "", true, nil},
	} {
		res, err := authorizationResult(tc.resp, 1000)
		if (err != nil) != tc.err || res.Outcome != tc.outcome || (tc.check != nil && !tc.check(res)) {
			t.Errorf("%s: %+v, %v", tc.name, res, err)
		}
	}
}

func TestRefusalReasons(t *testing.T) {
	for _, tc := range []struct{ code, reason, failure, decline string }{
		{"2", "Refused", "card_declined", "generic_decline"},
		{"12", "Not enough balance", "card_declined", "insufficient_funds"},
		{"6", "Expired Card", "expired_card", "expired_card"},
		{"24", "CVC Declined", "incorrect_cvc", "incorrect_cvc"},
		{"11", "3D Not Authenticated", "authentication_failed", "authentication_failed"},
		{"38", "Authentication required", "authentication_required", "authentication_required"},
		{"20", "FRAUD", "card_declined", "fraudulent"},
		{"9", "Issuer Unavailable", "card_declined", "generic_decline"}, // not in the table: generic
		{"", "CVC Declined", "incorrect_cvc", "incorrect_cvc"},          // a notification: text only
		{"", "not enough BALANCE", "card_declined", "insufficient_funds"},
		{"", "", "card_declined", "generic_decline"},
	} {
		r := declined(tc.code, tc.reason)
		if r.Outcome != connectors.Declined || r.FailureCode != tc.failure || r.DeclineCode != tc.decline || r.Message == "" ||
			(tc.reason != "" && r.Message != tc.reason) {
			t.Errorf("%q %q: %+v", tc.code, tc.reason, r)
		}
	}
}

// TestHMACVector checks the signature against the vector of Adyen's Go
// library (src/hmacvalidator/hmacvalidator_test.go).
func TestHMACVector(t *testing.T) {
	const key = "DFB1EB5485895CFA84146406857104ABB4CBCABDC8AAF103A624C8F6A3EAAB00"
	k, _ := hex.DecodeString(key)
	if got := base64.StdEncoding.EncodeToString(sign(k, "countryCode:currencyCode:merchantAccount:merchantReference:paymentAmount:sessionValidity:skinCode:NL:EUR:MagentoMerchantTest2:TEST-PAYMENT-2017-02-01-14\\:02\\:05:199:2017-02-02T14\\:02\\:05+01\\:00:PKz2KML1")); got != "34oR8T1whkQWTv9P+SzKyp8zhusf9n0dpqrm9nsqSJs=" {
		t.Errorf("HMAC of the library's string: %s", got)
	}
	item := notificationItem{PSPReference: "pspReference", OriginalReference: "originalReference", MerchantAccountCode: "merchantAccount",
		MerchantReference: "reference", Amount: amount{Value: 1000, Currency: "EUR"}, EventCode: "EVENT", Success: "true"}
	if got := signingString(item); got != "pspReference:originalReference:merchantAccount:reference:1000:EUR:EVENT:true" {
		t.Errorf("signing string %q", got)
	}
	const want = "ipnxGCaUZ4l8TUW75a71/ghd2Fe5ffvX0pV4TLTntIc="
	if got := base64.StdEncoding.EncodeToString(sign(k, signingString(item))); got != want {
		t.Errorf("signature %s, want %s", got, want)
	}
	c, err := New(connectors.Config{Credentials: map[string]string{"api_key": "k", "merchant_account": "merchantAccount", "hmac_key": key},
		BaseURL: "https://checkout-test.adyen.com/v71", HTTP: http.DefaultClient})
	if err != nil {
		t.Fatal(err)
	}
	body := func(eventCode, sig string) []byte {
		return []byte(`{"live":"false","notificationItems":[{"NotificationRequestItem":{"additionalData":{"hmacSignature":"` + sig +
			`"},"amount":{"currency":"EUR","value":1000},"eventCode":"` + eventCode + `","eventDate":"1970-01-01T00:00:00Z",` +
			`"merchantAccountCode":"merchantAccount","merchantReference":"reference","originalReference":"originalReference",` +
			`"paymentMethod":"VISA","pspReference":"pspReference","reason":"reason","success":"true"}}]}`)
	}
	if ns, err := c.ParseWebhook(nil, body("EVENT", want), time.Now()); err != nil || len(ns) != 0 {
		t.Errorf("the library's item: %v, %v (an unknown event gives no notification)", ns, err)
	}
	if _, err := c.ParseWebhook(nil, body("AUTHORISATION", want), time.Now()); !errors.Is(err, connectors.ErrBadSignature) {
		t.Errorf("a changed eventCode: %v", err)
	}
	if _, err := c.ParseWebhook(nil, body("EVENT", "InvalidSignature"), time.Now()); !errors.Is(err, connectors.ErrBadSignature) {
		t.Errorf("the library's invalid signature: %v", err)
	}
}

func TestParseWebhook(t *testing.T) {
	f := adyentest.NewServer(t)
	c := connector(t, f)
	key, _ := hex.DecodeString(adyentest.HMACKey)
	ours := func(it map[string]any) { it["merchantAccountCode"] = adyentest.MerchantAccount }
	for _, tc := range []struct {
		fixture string
		edit    func(map[string]any)
		want    connectors.Result
	}{
		{"notification-authorisation.json", ours, connectors.Result{Outcome: connectors.Succeeded, ProcessorID: "QFQTPCQ8HXSKGK82", Amount: 1000}},
		{"notification-authorisation.json", func(it map[string]any) { ours(it); it["success"], it["reason"] = "false", "CVC Declined" },
			connectors.Result{Outcome: connectors.Declined, ProcessorID: "QFQTPCQ8HXSKGK82", FailureCode: "incorrect_cvc", DeclineCode: "incorrect_cvc", Message: "CVC Declined"}},
		{"notification-capture.json", ours, connectors.Result{Outcome: connectors.Succeeded, ProcessorID: "QFQTPCQ8HXSKGK82", Amount: 1000}},
		{"notification-capture.json", func(it map[string]any) { ours(it); it["success"] = "false" },
			connectors.Result{Outcome: connectors.Failed, ProcessorID: "QFQTPCQ8HXSKGK82", Amount: 1000, FailureCode: "capture_failed", Message: "Adyen reported CAPTURE as unsuccessful."}},
		{"notification-capture-failed.json", ours, connectors.Result{Outcome: connectors.Failed, ProcessorID: "QFQTPCQ8HXSKGK82", Amount: 1000, FailureCode: "capture_failed", Message: "Capture Failed"}},
		{"notification-cancellation.json", ours, connectors.Result{Outcome: connectors.Succeeded, ProcessorID: "QFQTPCQ8HXSKGK82", Amount: 1000}},
		{"notification-cancellation.json", func(it map[string]any) { ours(it); it["success"] = "false" },
			connectors.Result{Outcome: connectors.Failed, ProcessorID: "QFQTPCQ8HXSKGK82", Amount: 1000, FailureCode: "cancel_failed", Message: "Adyen reported CANCELLATION as unsuccessful."}},
		{"notification-refund.json", func(it map[string]any) { ours(it); it["success"] = "true" }, connectors.Result{Outcome: connectors.Succeeded, ProcessorID: "QFQTPCQ8HXSKGK82", Amount: 1000}},
		{"notification-refund.json", ours, connectors.Result{Outcome: connectors.Failed, ProcessorID: "QFQTPCQ8HXSKGK82", Amount: 1000, FailureCode: "refund_failed",
			Message: "Transaction hasn't been captured, refund not possible"}},
		{"notification-refund-failed.json", ours, connectors.Result{Outcome: connectors.Failed, ProcessorID: "QFQTPCQ8HXSKGK82", Amount: 1000, FailureCode: "refund_failed", Message: "Refund Failed"}},
		{"notification-refunded-reversed.json", ours, connectors.Result{Outcome: connectors.Failed, ProcessorID: "QFQTPCQ8HXSKGK82", Amount: 1000, FailureCode: "refund_failed", Message: "test_AUTHORISATION_1"}},
	} {
		item := adyentest.SignedItem(t, key, tc.fixture, tc.edit)
		ns, err := c.ParseWebhook(http.Header{}, adyentest.Body(t, item), time.Now())
		if err != nil || len(ns) != 1 || ns[0].Reference != "YOUR_MERCHANT_REFERENCE" || ns[0].Result != tc.want {
			t.Errorf("%s: %+v, %v; want %+v", tc.fixture, ns, err, tc.want)
		}
	}

	// Other events, and other merchant accounts, give no notification.
	closed := adyentest.SignedItem(t, key, "notification-offer-closed.json", ours)
	theirs := adyentest.SignedItem(t, key, "notification-capture.json", func(map[string]any) {})
	if ns, err := c.ParseWebhook(http.Header{}, adyentest.Body(t, closed, theirs), time.Now()); err != nil || len(ns) != 0 {
		t.Errorf("OFFER_CLOSED and another account's CAPTURE: %+v, %v", ns, err)
	}

	// One item tampered with, or unsigned, fails the whole request.
	good := adyentest.SignedItem(t, key, "notification-capture.json", ours)
	for name, bad := range map[string]map[string]any{
		"tampered amount": func() map[string]any {
			it := adyentest.SignedItem(t, key, "notification-refund.json", ours)
			it["amount"] = map[string]any{"value": 999999, "currency": "EUR"}
			return it
		}(),
		"tampered success": func() map[string]any {
			it := adyentest.SignedItem(t, key, "notification-refund.json", ours)
			it["success"] = "true"
			return it
		}(),
		"no signature": func() map[string]any {
			it := adyentest.SignedItem(t, key, "notification-refund.json", ours)
			delete(it["additionalData"].(map[string]any), "hmacSignature")
			return it
		}(),
		"another key": adyentest.SignedItem(t, []byte("another key"), "notification-refund.json", ours),
		"not base64": func() map[string]any {
			it := adyentest.SignedItem(t, key, "notification-refund.json", ours)
			it["additionalData"].(map[string]any)["hmacSignature"] = "%%%"
			return it
		}(),
	} {
		if ns, err := c.ParseWebhook(http.Header{}, adyentest.Body(t, good, bad), time.Now()); !errors.Is(err, connectors.ErrBadSignature) || ns != nil {
			t.Errorf("%s: %+v, %v; want ErrBadSignature", name, ns, err)
		}
	}
	for name, body := range map[string]string{"not JSON": "<xml/>", "no items": `{"live":"false","notificationItems":[]}`} {
		if _, err := c.ParseWebhook(http.Header{}, []byte(body), time.Now()); !errors.Is(err, connectors.ErrBadSignature) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if string(c.AcceptResponse()) != "[accepted]" {
		t.Errorf("accept response %q", c.AcceptResponse())
	}
}

func jsonEqual(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}
