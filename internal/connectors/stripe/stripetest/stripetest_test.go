package stripetest

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v82/webhook"

	"github.com/paygate/paygate/internal/connectors"
)

// call sends a request to s as Stripe's clients do (the key in
// Authorization, a form body for a POST) with client (nil: a default one).
func call(client *http.Client, s *Server, method, path, key string, form url.Values) (int, http.Header, map[string]any, error) {
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader(form.Encode())
	} else if len(form) > 0 {
		path += "?" + form.Encode()
	}
	req, err := http.NewRequest(method, s.URL()+path, body)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+SecretKey)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return resp.StatusCode, resp.Header, nil, err
	}
	return resp.StatusCode, resp.Header, out, nil
}

// mustCall is call that fails the test on an error or a status other than
// 200.
func mustCall(t *testing.T, s *Server, method, path, key string, form url.Values) (http.Header, map[string]any) {
	t.Helper()
	status, h, out, err := call(nil, s, method, path, key, form)
	if err != nil || status != http.StatusOK {
		t.Fatalf("%s %s: %d %v, %v", method, path, status, out, err)
	}
	return h, out
}

func paymentMethod(t *testing.T, s *Server) string {
	t.Helper()
	_, pm := mustCall(t, s, http.MethodPost, "/v1/payment_methods", "", url.Values{"type": {"card"}, "card[number]": {"4242424242424242"},
		"card[exp_month]": {"12"}, "card[exp_year]": {"2040"}})
	return pm["id"].(string)
}

// sale is the form of a confirmed, automatically captured PaymentIntent.
func sale(pm, reference string, amount int64) url.Values {
	return url.Values{"amount": {fmt.Sprint(amount)}, "currency": {"usd"}, "confirm": {"true"}, "capture_method": {"automatic"},
		"payment_method": {pm}, "metadata[paygate_reference]": {reference}}
}

// TestSignature checks the fake's signing, written from Stripe's
// documented scheme, against stripe-go's own (webhook.ComputeSignature and
// the verification of webhook.ValidatePayload), on an event of Notify's.
func TestSignature(t *testing.T) {
	s := NewServer(t)
	h, body := s.Notify(t, connectors.Notification{Reference: "pay_sig:authorize", Result: connectors.Result{Outcome: connectors.Succeeded, ProcessorID: "pi_sig"}})
	if err := webhook.ValidatePayload(body, h.Get("Stripe-Signature"), WebhookSecret); err != nil {
		t.Errorf("stripe-go refuses the fake's signature: %v", err)
	}
	at := time.Unix(1700000000, 0)
	want := fmt.Sprintf("t=1700000000,v1=%s", hex.EncodeToString(webhook.ComputeSignature(at, body, WebhookSecret)))
	if got := Signature(WebhookSecret, at, body); got != want {
		t.Errorf("signature %s, want %s", got, want)
	}
	if uh, ub := Unsigned(t, h, body); uh.Get("Stripe-Signature") != "" || string(ub) != string(body) || h.Get("Stripe-Signature") == "" {
		t.Errorf("Unsigned: %v", uh)
	}
}

// TestConcurrentRequests: hundreds of requests at once, half of them under
// one Idempotency-Key, make one PaymentIntent of that key and one of each
// other, every answer under the key the same.
func TestConcurrentRequests(t *testing.T) {
	s := NewServer(t)
	pm := paymentMethod(t, s)
	const n = 200
	ids := make([]string, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key, ref := "paygate:pay_same:authorize", "pay_same:authorize"
			if i%2 == 1 {
				key, ref = fmt.Sprintf("paygate:pay_%d:authorize", i), fmt.Sprintf("pay_%d:authorize", i)
			}
			status, _, out, err := call(nil, s, http.MethodPost, "/v1/payment_intents", key, sale(pm, ref, 1000))
			if err != nil || status != http.StatusOK {
				errs <- fmt.Errorf("%s: %d %v, %v", key, status, out, err)
				return
			}
			ids[i], _ = out["id"].(string)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i := 2; i < n; i += 2 {
		if ids[i] != ids[0] {
			t.Fatalf("answers under one key name %s and %s", ids[0], ids[i])
		}
	}
	if got := s.Performed("authorize"); got != n/2+1 {
		t.Errorf("%d authorizations, want %d", got, n/2+1)
	}
	charged := s.Charged()
	if len(charged) != n/2+1 || charged["pay_same:authorize"] != 1000 {
		t.Errorf("charged %d references, pay_same %d; want %d and 1000", len(charged), charged["pay_same:authorize"], n/2+1)
	}
	if got := len(s.Requests()); got != n+1 {
		t.Errorf("%d requests recorded, want %d", got, n+1)
	}
}

// TestStart: a fake on a loopback address of the caller's, alive until
// Close; no other address.
func TestStart(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", "example.com:80", ":0", "no port"} {
		if s, err := Start(addr); err == nil {
			s.Close()
			t.Errorf("Start(%q) listened", addr)
		}
	}
	s, err := Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s.URL(), "http://127.0.0.1:") {
		t.Errorf("URL %s", s.URL())
	}
	paymentMethod(t, s)
	s.Close()
	s.Close()
	if _, _, _, err := call(nil, s, http.MethodGet, "/v1/payment_intents", "", nil); err == nil {
		t.Error("a closed fake answered")
	}
}

// TestLostAndLateAnswers: a request whose answer is lost, or comes after
// the client gave up, was performed; its resend under the same key gets
// the first answer, and charges nothing more.
func TestLostAndLateAnswers(t *testing.T) {
	s := NewServer(t)
	pm := paymentMethod(t, s)
	s.DropAnswers(1)
	// A new connection: on a reused one, Go's client would resend the
	// request itself (it has an Idempotency-Key) and get the replay.
	fresh := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	if status, _, _, err := call(fresh, s, http.MethodPost, "/v1/payment_intents", "paygate:pay_drop:authorize", sale(pm, "pay_drop:authorize", 500)); err == nil {
		t.Fatalf("a dropped answer came: %d", status)
	}
	h, out := mustCall(t, s, http.MethodPost, "/v1/payment_intents", "paygate:pay_drop:authorize", sale(pm, "pay_drop:authorize", 500))
	if h.Get("Idempotent-Replayed") != "true" || out["status"] != "succeeded" {
		t.Errorf("the resend: %v %v, want the first answer replayed", h, out)
	}
	if s.Performed("authorize") != 1 || s.Charged()["pay_drop:authorize"] != 500 {
		t.Errorf("%d authorizations, charged %v; want one of 500", s.Performed("authorize"), s.Charged())
	}

	s.SetDelay(5 * time.Second)
	start := time.Now()
	impatient := &http.Client{Timeout: 100 * time.Millisecond}
	if status, _, _, err := call(impatient, s, http.MethodPost, "/v1/payment_intents", "paygate:pay_late:authorize", sale(pm, "pay_late:authorize", 600)); err == nil {
		t.Fatalf("a delayed answer came in time: %d", status)
	}
	s.SetDelay(0)
	if s.Performed("authorize") != 2 || s.Charged()["pay_late:authorize"] != 600 {
		t.Errorf("the late request was not performed: %d authorizations, charged %v", s.Performed("authorize"), s.Charged())
	}
	mustCall(t, s, http.MethodGet, "/v1/payment_intents", "", nil)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the delayed answer held the fake %v after its client left", d)
	}
}

// TestNotifyNoEvent: Stripe sends no event for a capture or a void that
// failed; Notify makes none.
func TestNotifyNoEvent(t *testing.T) {
	s := NewServer(t)
	for _, ref := range []string{"pay_x:capture", "pay_x:void"} {
		if typ, _, err := s.event(connectors.Notification{Reference: ref, Result: connectors.Result{Outcome: connectors.Failed}}); err == nil {
			t.Errorf("%s failed: event %s", ref, typ)
		}
	}
}
