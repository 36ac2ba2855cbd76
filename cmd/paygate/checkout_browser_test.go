package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	browsertest "github.com/paygate/paygate/internal/testutil/browser"
)

// TestCheckoutInBrowser drives the hosted checkout page in headless
// Chromium as a customer would, against a real server: pay with the
// success card and land on the shop's success_url; a decline, then another
// card in the same session; 3-D Secure through approve; a double click on
// Pay with JavaScript off (two submissions reach the server: one payment);
// the whole flow with JavaScript disabled; an expired session refusing.
// The session and its payment are checked through the API each time. With
// PAYGATE_SCREENSHOTS=1 it writes the phone and desktop screenshots of the
// README to docs/.
func TestCheckoutInBrowser(t *testing.T) {
	chrome := browsertest.Find(t)
	s := startServe(t, map[string]string{"PAYGATE_ADDR": freeAddr(t), "PAYGATE_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "c.db"),
		"PAYGATE_LOG_LEVEL": "warn", "PAYGATE_SANDBOX_LATENCY": "300ms"})
	key := keyPattern.FindString(s.stdout.String())

	var mu sync.Mutex
	landed := map[string]int{} // session id → times the shop saw the customer back
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		landed[r.URL.Query().Get("session_id")]++
		mu.Unlock()
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<!doctype html><title>Shop</title><h1 id=back>Back at the shop</h1>")
	}))
	t.Cleanup(shop.Close)

	var posts atomic.Int32 // form submissions to checkout pages
	b := openBrowser(t, chrome, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok && e.Request.Method == "POST" && strings.Contains(e.Request.URL, "/checkout/") {
			posts.Add(1)
		}
	})
	b.do("enable network events", func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{})
		return chromedp.Void{}, err
	})
	scripts := func(on bool) {
		b.do(fmt.Sprintf("scripts on: %v", on), func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
			_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: !on})
			return chromedp.Void{}, err
		})
	}
	newSession := func(extra ...any) (id, link string) {
		body := map[string]any{"amount": 4200, "currency": "eur", "success_url": shop.URL + "/paid?order=42", "cancel_url": shop.URL + "/cart"}
		for i := 0; i+1 < len(extra); i += 2 {
			body[extra[i].(string)] = extra[i+1]
		}
		status, m := postJSON(t, s.url+"/v1/checkout_sessions", key, body)
		if status != 201 {
			t.Fatalf("create session: %d %v", status, m)
		}
		return m["id"].(string), m["url"].(string)
	}
	get := func(path string) map[string]any {
		req, _ := http.NewRequest("GET", s.url+path, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return m
	}
	// paid checks that the session is complete, its payment succeeded,
	// the customer landed on the success page with the session's id, and
	// the session made want payments.
	paid := func(name, id string, want int) {
		t.Helper()
		loc := value(b, name+": where the customer landed", chromedp.Location())
		u, _ := url.Parse(loc)
		if !strings.HasPrefix(loc, shop.URL+"/paid") || u.Query().Get("session_id") != id || u.Query().Get("order") != "42" {
			t.Errorf("%s: landed at %s", name, loc)
		}
		sess := get("/v1/checkout_sessions/" + id)
		if sess["status"] != "complete" || sess["payment_id"] == nil {
			t.Fatalf("%s: session %v", name, sess)
		}
		if p := get("/v1/payments/" + sess["payment_id"].(string)); p["status"] != "succeeded" || p["amount"] != 4200.0 {
			t.Errorf("%s: payment %v", name, p)
		}
		n := 0
		for _, p := range get("/v1/payments?limit=100")["data"].([]any) {
			if p.(map[string]any)["description"] == "Checkout session "+id {
				n++
			}
		}
		if n != want {
			t.Errorf("%s: %d payments, want %d", name, n, want)
		}
	}
	fill := func(name, number string) {
		b.do(name+": type the card",
			chromedp.WaitVisible(chromedp.CSS("#number")),
			chromedp.SendKeys(chromedp.CSS("#number"), number),
			chromedp.SendKeys(chromedp.CSS("#exp"), "1234"),
			chromedp.SendKeys(chromedp.CSS("#cvc"), "737"),
			chromedp.SendKeys(chromedp.CSS("#name"), "Jane Doe"))
	}

	// 1. The success card, with the script: it formats and names the brand.
	id, link := newSession()
	b.do("open the page", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS("#pay")))
	fill("success card", "4242424242424242")
	if v := value(b, "read the number", chromedp.Value(chromedp.CSS("#number"))); v != "4242 4242 4242 4242" {
		t.Errorf("the script formats the number as %q", v)
	}
	if v := value(b, "read the brand", chromedp.Text(chromedp.CSS("#brand"))); v != "Visa" {
		t.Errorf("brand shown: %q", v)
	}
	if v := value(b, "read the expiry", chromedp.Value(chromedp.CSS("#exp"))); v != "12 / 34" {
		t.Errorf("the script formats the expiry as %q", v)
	}
	b.do("pay", chromedp.Click(chromedp.CSS("#pay")), chromedp.WaitVisible(chromedp.CSS("#back")))
	paid("success card", id, 1)

	// The script's Luhn check, as the customer types.
	_, link = newSession()
	b.do("a typo", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS("#number")),
		chromedp.SendKeys(chromedp.CSS("#number"), "4242424242424241"))
	if msg := value(b, "read the number's error", chromedp.Text(chromedp.CSS("#number-error"))); !strings.Contains(msg, "not valid") {
		t.Errorf("a number failing the Luhn check shows %q", msg)
	}
	if inv := value(b, "read aria-invalid", chromedp.AttributeValue(chromedp.CSS("#number"), "aria-invalid")); inv.Value != "true" {
		t.Errorf("aria-invalid %v", inv)
	}

	// 2. A decline, then another card in the same session.
	id, link = newSession()
	b.do("open for a decline", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS("#pay")))
	fill("declined card", "4000000000000002")
	b.do("pay, declined", chromedp.Click(chromedp.CSS("#pay")), chromedp.WaitVisible(chromedp.CSS("#notice")))
	if msg := value(b, "read the decline", chromedp.Text(chromedp.CSS("#notice"))); !strings.Contains(msg, "declined") {
		t.Errorf("decline notice %q", msg)
	}
	if v := value(b, "the number after a decline", chromedp.Value(chromedp.CSS("#number"))); v != "" {
		t.Errorf("the declined number is echoed: %q", v)
	}
	if html := value(b, "the page after a decline", chromedp.OuterHTML(chromedp.CSS("html"))); strings.Contains(html, "0000 0002") || strings.Contains(html, "0000000000000002") {
		t.Error("the declined card number is on the page")
	}
	fill("second card", "5555555555554444")
	b.do("pay again", chromedp.Click(chromedp.CSS("#pay")), chromedp.WaitVisible(chromedp.CSS("#back")))
	paid("declined, then another card", id, 2)

	// 3. 3-D Secure, approved on the sandbox's page.
	id, link = newSession()
	b.do("open for 3-D Secure", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS("#pay")))
	fill("3-D Secure card", "4000000000003220")
	b.do("pay, authenticate", chromedp.Click(chromedp.CSS("#pay")), chromedp.WaitVisible(chromedp.CSS("#approve")),
		chromedp.Click(chromedp.CSS("#approve")), chromedp.WaitVisible(chromedp.CSS("#back")))
	paid("3-D Secure", id, 1)

	// 4. Without JavaScript, a double click on Pay sends the form twice:
	// one payment.
	scripts(false)
	id, link = newSession()
	b.do("open without scripts", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS("#pay")))
	fill("double click", "4242424242424242")
	before := posts.Load()
	// Both clicks land on the page before its answer replaces it, as a
	// person's double click does: the second press counts two.
	// (The sandbox takes 300 ms per payment, so the page is still there.)
	at := value(b, "find Pay", chromedp.Evaluate[[]float64](`(r => [r.x + r.width/2, r.y + r.height/2])(document.getElementById("pay").getBoundingClientRect())`))
	b.do("double-click pay", chromedp.MouseClickXY(at[0], at[1]), chromedp.MouseClickXY(at[0], at[1], chromedp.ClickCount(2)),
		chromedp.WaitVisible(chromedp.CSS("#back")))
	// Chromium may fold the second click into the navigation in flight;
	// two submissions arriving at once are TestCheckoutDoubleSubmission's
	// (internal/httpapi), over HTTP.
	t.Logf("the double click sent %d submission(s)", posts.Load()-before)
	paid("double click", id, 1)

	// 5. The decline-then-success flow with JavaScript disabled: the
	// server's validation and answers alone.
	id, link = newSession()
	b.do("open, no scripts", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS("#pay")))
	fill("no scripts: a typo", "4242424242424241")
	b.do("submit a typo", chromedp.Click(chromedp.CSS("#pay")), chromedp.WaitVisible(`//p[@id="number-error"][normalize-space(.) != ""]`))
	if msg := value(b, "server's error", chromedp.Text(chromedp.CSS("#number-error"))); !strings.Contains(msg, "not valid") {
		t.Errorf("no scripts: the server's error under the number is %q", msg)
	}
	// The server keeps the expiry and the name, never the number or CVC.
	if v := value(b, "no scripts: the number after an error", chromedp.Value(chromedp.CSS("#number"))); v != "" {
		t.Errorf("no scripts: the number is echoed: %q", v)
	}
	retype := func(name, number string) {
		b.do(name, chromedp.SendKeys(chromedp.CSS("#number"), number), chromedp.SendKeys(chromedp.CSS("#cvc"), "737"))
	}
	retype("no scripts: declined card", "4000000000000002")
	// The page before had a notice too (the typo's): wait for the decline's.
	b.do("no scripts: declined", chromedp.Click(chromedp.CSS("#pay")), chromedp.WaitVisible(`//div[@id="notice"][contains(., "declined")]`))
	if msg := value(b, "no scripts: the decline", chromedp.Text(chromedp.CSS("#notice"))); !strings.Contains(msg, "declined") {
		t.Errorf("no scripts: decline notice %q", msg)
	}
	b.do("type the expiry and name again", chromedp.SendKeys(chromedp.CSS("#exp"), "12/34"), chromedp.SendKeys(chromedp.CSS("#name"), "Jane Doe"))
	retype("no scripts: good card", "4242424242424242")
	b.do("no scripts: pay", chromedp.Click(chromedp.CSS("#pay")), chromedp.WaitVisible(chromedp.CSS("#back")))
	paid("no scripts", id, 2)
	scripts(true)

	// 6. An expired session's page says so and takes no card.
	id, link = newSession()
	if status, m := postJSON(t, s.url+"/v1/checkout_sessions/"+id+"/expire", key, map[string]any{}); status != 200 || m["status"] != "expired" {
		t.Fatalf("expire: %d %v", status, m)
	}
	b.do("open an expired session", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS("#notice")))
	if msg := value(b, "read the expired page", chromedp.Text(chromedp.CSS("#notice"))); !strings.Contains(msg, "expired") {
		t.Errorf("expired page says %q", msg)
	}
	if n := value(b, "count card fields", chromedp.Evaluate[int](`document.querySelectorAll("input[name=number], #pay").length`)); n != 0 {
		t.Errorf("an expired session's page has %d card fields", n)
	}

	// 7. Screenshots: a phone (390×844) and a desktop.
	_, link = newSession()
	for _, shot := range []struct {
		name          string
		width, height int64
		mobile        bool
	}{{"checkout-mobile.png", 390, 844, true}, {"checkout-desktop.png", 1280, 900, false}} {
		opts := []chromedp.EmulateViewportOption{chromedp.EmulateScale(2)}
		if shot.mobile {
			opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait)
		}
		b.do("viewport for "+shot.name, chromedp.EmulateViewport(shot.width, shot.height, opts...), chromedp.Navigate(link), chromedp.WaitVisible(chromedp.CSS("#pay")))
		if w := value(b, "page width", chromedp.Evaluate[int](`document.documentElement.scrollWidth`)); w > int(shot.width) {
			t.Errorf("%s: the page is %d px wide in a %d px viewport", shot.name, w, shot.width)
		}
		png := value(b, "screenshot "+shot.name, chromedp.CaptureScreenshot())
		dir := t.ArtifactDir()
		if os.Getenv("PAYGATE_SCREENSHOTS") != "" {
			dir = "../../docs"
		}
		if err := os.WriteFile(filepath.Join(dir, shot.name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b.do("reset the viewport", chromedp.EmulateReset())

	mu.Lock()
	if len(landed) < 5 {
		t.Errorf("the shop saw %d sessions come back", len(landed))
	}
	mu.Unlock()
	for _, e := range b.pageErrors() {
		// The expired page (410) and the refused typo without scripts (400).
		if !strings.Contains(e, "status of 410") && !strings.Contains(e, "status of 400") {
			t.Errorf("error on a page: %s", e)
		}
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
}
