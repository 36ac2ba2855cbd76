package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	browsertest "github.com/paygate/paygate/internal/testutil/browser"
)

// TestCustomerActionsInBrowser goes through the sandbox's customer pages in
// headless Chromium, as a shopper would, for the 3-D Secure test card and
// for PayPal: approve, decline, and abandon (leave for the shop; the link
// expires and the payment is canceled). Each ends at the shop's return_url
// with the payment id, and the final status shows in the API and in the
// webhook events.
func TestCustomerActionsInBrowser(t *testing.T) {
	chrome := browsertest.Find(t)
	s := startServe(t, map[string]string{"PAYGATE_ADDR": freeAddr(t), "PAYGATE_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "a.db"),
		"PAYGATE_LOG_LEVEL": "warn", "PAYGATE_ACTION_EXPIRY": "3s", "PAYGATE_CONNECTOR_TIMEOUT": "1s", "PAYGATE_RECOVERY_AFTER": "2s",
		"PAYGATE_WEBHOOK_POLL": "20ms"})
	key := keyPattern.FindString(s.stdout.String())

	// The merchant's site: the return page, and the webhook endpoint.
	var mu sync.Mutex
	landed := map[string]bool{}
	events := map[string][]string{} // payment id → event types
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.Method == http.MethodPost { // webhooks
			var ev struct {
				Type string
				Data struct{ Object struct{ ID string } }
			}
			b, _ := io.ReadAll(r.Body)
			_ = json.Unmarshal(b, &ev)
			events[ev.Data.Object.ID] = append(events[ev.Data.Object.ID], ev.Type)
			return
		}
		landed[r.URL.Query().Get("payment_id")] = r.URL.Query().Get("order") == "42"
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<!doctype html><title>Shop</title><h1 id=back>Back at the shop</h1>")
	}))
	t.Cleanup(shop.Close)
	if status, m := postJSON(t, s.url+"/v1/webhook_endpoints", key, map[string]any{"url": shop.URL + "/hooks", "enabled_events": []string{"*"}}); status != 201 {
		t.Fatalf("webhook endpoint: %d %v", status, m)
	}

	b := openBrowser(t, chrome)
	card := map[string]any{"type": "card", "card": map[string]any{"number": "4000000000003220", "exp_month": 12, "exp_year": 2040, "cvc": "737"}}
	paypal := map[string]any{"type": "wallet", "wallet": map[string]any{"type": "paypal"}}
	for _, c := range []struct {
		name    string
		method  map[string]any
		capture string
		click   string
		status  string // final
		event   string
	}{
		{"3ds approve", card, "automatic", "#approve", "succeeded", "payment.succeeded"},
		{"3ds decline", card, "automatic", "#decline", "failed", "payment.failed"},
		{"3ds abandon", card, "automatic", "#abandon", "canceled", "payment.canceled"},
		{"paypal approve", paypal, "manual", "#approve", "requires_capture", "payment.requires_capture"},
		{"paypal decline", paypal, "automatic", "#decline", "failed", "payment.failed"},
		{"paypal abandon", paypal, "automatic", "#abandon", "canceled", "payment.canceled"},
	} {
		status, p := postJSON(t, s.url+"/v1/payments", key, map[string]any{"amount": 4200, "currency": "eur", "confirm": true,
			"capture_method": c.capture, "payment_method": c.method, "return_url": shop.URL + "/return?order=42"})
		if status != 201 || p["status"] != "requires_action" {
			t.Fatalf("%s: %d %v", c.name, status, p)
		}
		id := p["id"].(string)
		link := p["next_action"].(map[string]any)["redirect_to_url"].(map[string]any)["url"].(string)
		b.do(c.name+": open the page", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS(c.click)))
		title := value(b, c.name+": read the title", chromedp.Text(chromedp.CSS("h1")))
		if want := map[bool]string{true: "PayPal", false: "card"}[c.method["type"] == "wallet"]; !strings.Contains(title, want) {
			t.Errorf("%s: page title %q", c.name, title)
		}
		b.do(c.name+": choose", chromedp.Click(chromedp.CSS(c.click)), chromedp.WaitVisible(chromedp.CSS("#back")))
		loc := value(b, c.name+": where the customer landed", chromedp.Location())
		u, _ := url.Parse(loc)
		if !strings.HasPrefix(loc, shop.URL+"/return") || u.Query().Get("payment_id") != id || u.Query().Get("order") != "42" {
			t.Errorf("%s: landed at %s", c.name, loc)
		}
		// The final status, through the API (an abandoned link expires
		// and the payment is canceled by the background job).
		deadline := time.Now().Add(15 * time.Second)
		var got map[string]any
		for {
			req, _ := http.NewRequest("GET", s.url+"/v1/payments/"+id, nil)
			req.Header.Set("Authorization", "Bearer "+key)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = json.NewDecoder(resp.Body).Decode(&got)
			resp.Body.Close()
			if got["status"] == c.status || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if got["status"] != c.status {
			t.Errorf("%s: status %v, want %s", c.name, got["status"], c.status)
		}
		switch c.status {
		case "failed":
			if got["failure_code"] != "authentication_failed" {
				t.Errorf("%s: failure_code %v", c.name, got["failure_code"])
			}
		case "canceled":
			if got["cancellation_reason"] != "abandoned" {
				t.Errorf("%s: cancellation_reason %v", c.name, got["cancellation_reason"])
			}
		}
		// The link works once: opening it again shows that it cannot be used.
		b.do(c.name+": reopen the link", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS("h1")))
		if h := value(b, c.name+": read the title again", chromedp.Text(chromedp.CSS("h1"))); !strings.Contains(h, "cannot be used") {
			t.Errorf("%s: a used link shows %q", c.name, h)
		}
		// And the webhook events tell the same story.
		deadline = time.Now().Add(10 * time.Second)
		for {
			mu.Lock()
			evs := strings.Join(events[id], " ")
			mu.Unlock()
			if strings.Contains(evs, c.event) || time.Now().After(deadline) {
				if !strings.Contains(evs, "payment.requires_action") || !strings.Contains(evs, c.event) {
					t.Errorf("%s: webhook events %q, want payment.requires_action and %s", c.name, evs, c.event)
				}
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		mu.Lock()
		if !landed[id] {
			t.Errorf("%s: the shop never saw the customer come back", c.name)
		}
		mu.Unlock()
	}
	for _, e := range b.pageErrors() {
		if !strings.Contains(e, "status of 404") { // the used links, on purpose
			t.Errorf("error on a page: %s", e)
		}
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
}
