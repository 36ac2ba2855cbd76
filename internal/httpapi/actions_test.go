package httpapi_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/clock"
	"github.com/paygate/paygate/internal/store/storetest"
)

// page fetches a customer page with a plain client that does not follow
// redirects (the answer to a choice is a redirect to the shop).
func page(t *testing.T, method, link string, form url.Values) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, link, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestCustomerActions(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := start(t, backend)
		create := func(pm any, capture string) (string, string) {
			p := h.obj("POST", "/v1/payments", h.keyA, newPayment(pm, "capture_method", capture, "return_url", "https://shop.example/back?order=7"), 201)
			if p["status"] != "requires_action" {
				t.Fatalf("status %v", p["status"])
			}
			link := p["next_action"].(map[string]any)["redirect_to_url"].(map[string]any)["url"].(string)
			if !strings.HasPrefix(link, h.url+"/sandbox/authenticate/") || strings.Contains(link, "{token}") {
				t.Fatalf("link %s", link)
			}
			return p["id"].(string), link
		}

		// Approve a 3-D Secure card: the page, then a redirect to the shop.
		id, link := create(card("4000000000003220"), "automatic")
		resp, body := page(t, "GET", link, nil)
		if resp.StatusCode != 200 || !strings.Contains(body, `id="approve"`) || !strings.Contains(body, "20.00 USD") ||
			!strings.Contains(body, "Visa card ending 3220") || strings.Contains(body, "<script") {
			t.Fatalf("page: %d %s", resp.StatusCode, body)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "form-action 'self' https://shop.example") {
			t.Errorf("CSP %q", csp)
		}
		resp, _ = page(t, "POST", link, url.Values{"action": {"approve"}})
		if loc := resp.Header.Get("Location"); resp.StatusCode != 303 || loc != "https://shop.example/back?order=7&payment_id="+id {
			t.Errorf("approve: %d to %q", resp.StatusCode, loc)
		}
		if p := h.obj("GET", "/v1/payments/"+id, h.keyA, nil, 200); p["status"] != "succeeded" || p["next_action"] != nil {
			t.Errorf("after approval: %v", p)
		}
		// Single use: the link is dead now, for reading and for acting.
		if resp, _ := page(t, "GET", link, nil); resp.StatusCode != 404 {
			t.Errorf("used link: %d", resp.StatusCode)
		}
		if resp, _ := page(t, "POST", link, url.Values{"action": {"decline"}}); resp.StatusCode != 404 {
			t.Errorf("used link, posted: %d", resp.StatusCode)
		}

		// Decline: failed with authentication_failed.
		id, link = create(card("4000000000003220"), "automatic")
		page(t, "POST", link, url.Values{"action": {"decline"}})
		if p := h.obj("GET", "/v1/payments/"+id, h.keyA, nil, 200); p["status"] != "failed" || p["failure_code"] != "authentication_failed" {
			t.Errorf("after decline: %v", p)
		}
		// PayPal, manual capture: approved, it waits for capture.
		id, link = create(wallet("paypal", ""), "manual")
		if _, body := page(t, "GET", link, nil); !strings.Contains(body, "PayPal") {
			t.Errorf("paypal page %s", body)
		}
		page(t, "POST", link, url.Values{"action": {"approve"}})
		if p := h.obj("GET", "/v1/payments/"+id, h.keyA, nil, 200); p["status"] != "requires_capture" {
			t.Errorf("paypal approved: %v", p["status"])
		}
		// A forged or garbled token, or a bad choice, changes nothing.
		id, link = create(card("4000000000003220"), "automatic")
		for _, bad := range []string{h.url + "/sandbox/authenticate/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", link + "x"} {
			if resp, _ := page(t, "POST", bad, url.Values{"action": {"approve"}}); resp.StatusCode != 404 {
				t.Errorf("forged link: %d", resp.StatusCode)
			}
		}
		if resp, _ := page(t, "POST", link, url.Values{"action": {"maybe"}}); resp.StatusCode != 400 {
			t.Errorf("bad choice: %d", resp.StatusCode)
		}
		if p := h.obj("GET", "/v1/payments/"+id, h.keyA, nil, 200); p["status"] != "requires_action" {
			t.Errorf("after forged attempts: %v", p["status"])
		}
		// Abandoned: once the link expires, the payment is canceled with
		// its event, and the link is dead.
		if n, err := h.pay.ExpireActions(context.Background(), clock.Now()); err != nil || n != 0 {
			t.Errorf("expired early: %d %v", n, err)
		}
		if n, err := h.pay.ExpireActions(context.Background(), clock.Now().Add(31*time.Minute)); err != nil || n != 1 {
			t.Errorf("expired %d (%v), want 1", n, err)
		}
		if p := h.obj("GET", "/v1/payments/"+id, h.keyA, nil, 200); p["status"] != "canceled" || p["cancellation_reason"] != "abandoned" {
			t.Errorf("abandoned: %v", p)
		}
		if n := h.countEvents(id, "payment.canceled"); n != 1 {
			t.Errorf("%d payment.canceled events", n)
		}
		if resp, _ := page(t, "GET", link, nil); resp.StatusCode != 404 {
			t.Errorf("expired link: %d", resp.StatusCode)
		}
		h.verifyLedger()
	})
}
