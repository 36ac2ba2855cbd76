package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	browsertest "github.com/paygate/paygate/internal/testutil/browser"
)

// TestDashboardInBrowser uses the dashboard as a merchant's staff would,
// in headless Chromium, against a real server: the demo admin signs in,
// finds a payment by its card's last 4, refunds part of it, and sees the
// refund and the new balance; checkout sessions made through the API are
// listed newest first, a paid one linking its payment, and the admin
// expires an open one; a viewer made through the admin API changes its
// temporary password and sees no refund or Expire button; five wrong
// passwords lock an account with a message that says so. Beside the
// browser, a plain HTTP client checks what a browser would not let a
// person try: a viewer's forged refund or Expire is 403 and changes
// nothing, a form without its CSRF token is 403, a session's cookie stops
// working at sign-out, another merchant's ids are 404, and test and live
// objects never show in the other mode. With
// PAYGATE_DASHBOARD_SCREENSHOTS=DIR it writes the main pages' screenshots
// there, at desktop and phone widths (docs/ keeps them).
func TestDashboardInBrowser(t *testing.T) {
	chrome := browsertest.Find(t)
	const adminToken = "dashboard-test-admin-token-0123456789"
	s := startServe(t, map[string]string{"PAYGATE_ADDR": freeAddr(t), "PAYGATE_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "d.db"),
		"PAYGATE_LOG_LEVEL": "warn", "PAYGATE_ADMIN_TOKEN": adminToken})
	out := s.stdout.String()
	key := keyPattern.FindString(out)
	merchant := regexp.MustCompile(`mer_[0-9A-Z]+`).FindString(out)
	password := regexp.MustCompile(`(?s)demo@paygate\.example with the password, shown only this once:\s+(\S+)`).FindStringSubmatch(out)
	if key == "" || merchant == "" || password == nil {
		t.Fatalf("no demo key, merchant or user printed:\n%s", out)
	}
	adminPassword := password[1]

	// Test data, through the API.
	card := func(number string, amount int, capture string) map[string]any {
		status, p := postJSON(t, s.url+"/v1/payments", key, map[string]any{"amount": amount, "currency": "usd", "confirm": true, "capture_method": capture,
			"payment_method": map[string]any{"type": "card", "card": map[string]any{"number": number, "exp_month": 12, "exp_year": 2040, "cvc": "123"}}})
		if status != 201 {
			t.Fatalf("payment: %d %v", status, p)
		}
		return p
	}
	card("4242424242424242", 2000, "automatic")
	mastercard := card("5555555555554444", 2000, "automatic")["id"].(string)
	card("4000000000000002", 1500, "automatic")
	card("4242424242424242", 3000, "manual")
	if st, c := postJSON(t, s.url+"/v1/customers", key, map[string]any{"email": "test-customer@shop.example"}); st != 201 {
		t.Fatalf("customer: %d %v", st, c)
	}
	st, live := postJSON(t, s.url+"/v1/merchants/"+merchant+"/api_keys", adminToken, map[string]any{"livemode": true})
	if st != 201 {
		t.Fatalf("live key: %d %v", st, live)
	}
	st, liveCustomer := postJSON(t, s.url+"/v1/customers", live["secret"].(string), map[string]any{"email": "live-customer@shop.example"})
	if st != 201 {
		t.Fatalf("live customer: %d %v", st, liveCustomer)
	}
	st, viewer := postJSON(t, s.url+"/v1/merchants/"+merchant+"/users", adminToken, map[string]any{"email": "Viewer@Shop.example", "role": "viewer"})
	if st != 201 || viewer["password"] == nil || viewer["must_change_password"] != true || viewer["email"] != "viewer@shop.example" {
		t.Fatalf("viewer: %d %v", st, viewer)
	}

	shots := os.Getenv("PAYGATE_DASHBOARD_SCREENSHOTS")
	b := openBrowser(t, chrome)
	shoot := func(name string) {
		if shots == "" {
			return
		}
		for _, size := range []struct {
			suffix string
			w, h   int64
			mobile bool
		}{{"desktop", 1280, 800, false}, {"phone", 390, 844, true}} {
			opts := []chromedp.EmulateViewportOption{chromedp.EmulateScale(1)}
			if size.mobile {
				opts = append(opts, chromedp.EmulateMobile)
			}
			b.do("size for "+name, chromedp.EmulateViewport(size.w, size.h, opts...), chromedp.Sleep(300e6))
			png := value(b, "screenshot "+name, chromedp.FullScreenshot(100))
			if err := os.WriteFile(filepath.Join(shots, "dashboard-"+name+"-"+size.suffix+".png"), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		b.do("back to desktop", chromedp.EmulateViewport(1280, 800))
	}

	// The admin signs in: the dashboard sends an unknown browser to sign in.
	b.do("open the dashboard", chromedp.Navigate(s.url+"/dashboard"), chromedp.WaitVisible(chromedp.CSS("#signin")))
	shoot("signin")
	b.do("sign in",
		chromedp.SendKeys(chromedp.CSS("#email"), "demo@paygate.example"),
		chromedp.SendKeys(chromedp.CSS("#password"), adminPassword),
		chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS("#results table")))
	if mode := value(b, "read the mode", chromedp.Text(chromedp.CSS("#mode"))); mode != "Test mode" {
		t.Errorf("mode shown: %q", mode)
	}
	shoot("payments")

	// Finds the Mastercard payment by its last 4 (an htmx search).
	b.do("search by last 4",
		chromedp.SendKeys(chromedp.CSS("#q"), "4444"),
		chromedp.Click(chromedp.CSS("#search")),
		// The unfiltered list shows the payment too: wait for htmx to
		// swap in the search's results (one row), for up to 10 s.
		chromedp.Poll[chromedp.Void](`document.querySelectorAll("#results tbody tr").length === 1`, chromedp.WithPollingTimeout(10*time.Second)),
		chromedp.WaitVisible(chromedp.CSS(`#results a[href="/dashboard/payments/`+mastercard+`"]`)))
	b.do("open the payment", chromedp.Click(chromedp.CSS(`#results td.id a`)), chromedp.WaitVisible(chromedp.CSS("#refund")))
	if m := value(b, "read the method", chromedp.Text(chromedp.CSS("#method"))); m != "Mastercard •••• 4444" {
		t.Errorf("method shown: %q", m)
	}
	shoot("payment")

	// Refunds part of it, and sees the refund.
	b.do("refund 5.00",
		chromedp.SendKeys(chromedp.CSS("#refund-amount"), "5.00"),
		chromedp.Click(chromedp.CSS("#refund")),
		chromedp.WaitVisible(chromedp.CSS("#refunds")))
	if got := value(b, "read the refunded amount", chromedp.Text(chromedp.CSS("#refunded"))); got != "5.00 USD" {
		t.Errorf("refunded shown: %q", got)
	}
	if got := value(b, "read the refunds", chromedp.Text(chromedp.CSS("#refunds tbody"))); !strings.Contains(got, "5.00 USD") || !strings.Contains(got, "Succeeded") {
		t.Errorf("refunds shown: %q", got)
	}
	if got := value(b, "read the flash", chromedp.Text(chromedp.CSS(".flash"))); got != "Refund created." {
		t.Errorf("flash: %q", got)
	}
	apiObject := func(path string) map[string]any {
		t.Helper()
		req, _ := http.NewRequest("GET", s.url+path, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var p map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&p)
		return p
	}
	apiPayment := func(id string) map[string]any { t.Helper(); return apiObject("/v1/payments/" + id) }
	apiSession := func(id string) map[string]any { t.Helper(); return apiObject("/v1/checkout_sessions/" + id) }
	if p := apiPayment(mastercard); p["amount_refunded"] != float64(500) {
		t.Fatalf("the API shows amount_refunded %v after the dashboard's refund", p["amount_refunded"])
	}

	// The refund is in the audit log, with the user who made it.
	req, _ := http.NewRequest("GET", s.url+"/v1/audit_events?action=dashboard.refund_created", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var audits struct {
		Data []struct {
			Actor   string
			Details map[string]string
		}
	}
	_ = json.NewDecoder(resp.Body).Decode(&audits)
	resp.Body.Close()
	if len(audits.Data) != 1 || !strings.HasPrefix(audits.Data[0].Actor, "user:usr_") || audits.Data[0].Details["email"] != "demo@paygate.example" ||
		audits.Data[0].Details["payment_id"] != mastercard || audits.Data[0].Details["amount"] != "500" {
		t.Errorf("audit of the refund: %+v", audits.Data)
	}

	// The new balance: 20.00 + 20.00 captured, 5.00 refunded; the chart drawn.
	b.do("open the balance", chromedp.Click(chromedp.CSS(`nav a[href="/dashboard/balance"]`)), chromedp.WaitVisible(chromedp.CSS("#balance-USD")),
		chromedp.WaitVisible(chromedp.CSS(".chart canvas")))
	if got := value(b, "read the balance", chromedp.Text(chromedp.CSS("#balance-USD"))); got != "35.00 USD" {
		t.Errorf("balance shown: %q, want 35.00 USD", got)
	}
	shoot("balance")
	for _, page := range []string{"refunds", "customers", "webhooks", "connectors", "keys"} {
		b.do("open "+page, chromedp.Navigate(s.url+"/dashboard/"+page), chromedp.WaitVisible(chromedp.CSS("main h1")))
		if page == "webhooks" || page == "keys" {
			shoot(page)
		}
	}

	// Checkout sessions made through the API, newest first in the
	// dashboard: a paid one links its payment; the admin expires an open
	// one with the page's button.
	newSession := func(amount int) (id, path string) {
		t.Helper()
		st, cs := postJSON(t, s.url+"/v1/checkout_sessions", key, map[string]any{"amount": amount, "currency": "usd",
			"success_url": "https://shop.example/ok", "cancel_url": "https://shop.example/cart"})
		if st != 201 {
			t.Fatalf("checkout session: %d %v", st, cs)
		}
		path, ok := strings.CutPrefix(cs["url"].(string), s.url)
		if !ok {
			t.Fatalf("checkout session url %v is not this server's", cs["url"])
		}
		return cs["id"].(string), path
	}
	paidSession, paidPage := newSession(4200)
	customer := newDashClient(t, s.url)
	form := customer.get(paidPage)
	csrf, attempt := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(form.body),
		regexp.MustCompile(`name="attempt" value="([0-9]+)"`).FindStringSubmatch(form.body)
	if csrf == nil || attempt == nil {
		t.Fatalf("no card form on the checkout page: %d", form.status)
	}
	if st, _ := customer.post(paidPage, url.Values{"csrf": {csrf[1]}, "attempt": {attempt[1]}, "method": {"card"}, "number": {"4242424242424242"},
		"exp": {"12 / 34"}, "cvc": {"123"}, "name": {"Jane Doe"}}); st != http.StatusSeeOther {
		t.Fatalf("paying the checkout session: %d", st)
	}
	paidPayment, _ := apiSession(paidSession)["payment_id"].(string)
	if paidPayment == "" {
		t.Fatalf("the paid session has no payment: %v", apiSession(paidSession))
	}
	openSession, _ := newSession(1234)
	keptSession, _ := newSession(5678)
	b.do("open checkout sessions", chromedp.Click(chromedp.CSS(`nav a[href="/dashboard/checkout_sessions"]`)), chromedp.WaitVisible(chromedp.CSS("#sessions")))
	listed := value(b, "read the sessions", chromedp.Evaluate[[]string](`[...document.querySelectorAll("#sessions td.id:last-child a")].map(a => a.textContent)`))
	if strings.Join(listed, " ") != strings.Join([]string{keptSession, openSession, paidSession}, " ") {
		t.Errorf("sessions listed %v, want %v newest first", listed, []string{keptSession, openSession, paidSession})
	}
	if got := value(b, "read the payment link", chromedp.Evaluate[string](`document.querySelector("#sessions a[href^='/dashboard/payments/']").textContent`)); got != paidPayment {
		t.Errorf("the list links payment %q, want %s", got, paidPayment)
	}
	b.do("open the paid session", chromedp.Navigate(s.url+"/dashboard/checkout_sessions/"+paidSession), chromedp.WaitVisible(chromedp.CSS("#payment a")))
	if got := value(b, "read the paid session", chromedp.Text(chromedp.CSS("#status"))); got != "Complete" {
		t.Errorf("the paid session shows %q", got)
	}
	if n := value(b, "look for Expire", chromedp.Evaluate[int](`document.querySelectorAll("#expire").length`)); n != 0 {
		t.Errorf("a complete session has an Expire button")
	}
	b.do("open the open session", chromedp.Navigate(s.url+"/dashboard/checkout_sessions/"+openSession), chromedp.WaitVisible(chromedp.CSS("#expire")))
	shoot("checkout_session")
	b.do("expire it", chromedp.Click(chromedp.CSS("#expire")), chromedp.WaitVisible(chromedp.CSS(".flash")))
	if got := value(b, "read the expired session", chromedp.Text(chromedp.CSS("#status"))); got != "Expired" {
		t.Errorf("after Expire the session shows %q", got)
	}
	if got := value(b, "read the timeline", chromedp.Text(chromedp.CSS("#timeline"))); !strings.Contains(got, "checkout.session.expired") {
		t.Errorf("timeline after Expire: %q", got)
	}
	if cs := apiSession(openSession); cs["status"] != "expired" {
		t.Errorf("the API shows the dashboard's expired session as %v", cs["status"])
	}
	req, _ = http.NewRequest("GET", s.url+"/v1/audit_events?action=dashboard.checkout_session_expired", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	if resp, err = http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	}
	var expiries struct {
		Data []struct {
			Actor    string
			ObjectID string `json:"object_id"`
		}
	}
	_ = json.NewDecoder(resp.Body).Decode(&expiries)
	resp.Body.Close()
	if len(expiries.Data) != 1 || !strings.HasPrefix(expiries.Data[0].Actor, "user:usr_") || expiries.Data[0].ObjectID != openSession {
		t.Errorf("audit of the expiry: %+v", expiries.Data)
	}
	b.do("sign out", chromedp.Click(chromedp.CSS("#signout")), chromedp.WaitVisible(chromedp.CSS("#signin")))
	b.do("signed out for good", chromedp.Navigate(s.url+"/dashboard/payments"), chromedp.WaitVisible(chromedp.CSS("#signin")))

	// The viewer: a temporary password to change, then no refund button.
	b.do("viewer signs in",
		chromedp.SendKeys(chromedp.CSS("#email"), "viewer@shop.example"),
		chromedp.SendKeys(chromedp.CSS("#password"), viewer["password"].(string)),
		chromedp.Click(chromedp.CSS("#signin")),
		chromedp.WaitVisible(chromedp.CSS("#change")))
	const viewerPassword = "a long viewer passphrase"
	b.do("viewer changes the password",
		chromedp.SendKeys(chromedp.CSS("#current_password"), viewer["password"].(string)),
		chromedp.SendKeys(chromedp.CSS("#new_password"), viewerPassword),
		chromedp.SendKeys(chromedp.CSS("#confirm_password"), viewerPassword),
		chromedp.Click(chromedp.CSS("#change")),
		chromedp.WaitVisible(chromedp.CSS("#results table")))
	b.do("viewer opens the payment", chromedp.Navigate(s.url+"/dashboard/payments/"+mastercard), chromedp.WaitVisible(chromedp.CSS("#refunds")))
	if n := value(b, "look for buttons", chromedp.Evaluate[int](`document.querySelectorAll("#refund, #capture, #cancel, #refund-form").length`)); n != 0 {
		t.Errorf("a viewer sees %d action controls", n)
	}
	b.do("viewer opens an open checkout session", chromedp.Navigate(s.url+"/dashboard/checkout_sessions/"+keptSession), chromedp.WaitVisible(chromedp.CSS("#status")))
	if n := value(b, "look for Expire", chromedp.Evaluate[int](`document.querySelectorAll("#expire, #page-url").length`)); n != 0 {
		t.Errorf("a viewer sees %d of Expire and the page's link", n)
	}
	b.do("viewer signs out", chromedp.Click(chromedp.CSS("#signout")), chromedp.WaitVisible(chromedp.CSS("#signin")))

	// A viewer's forged refund, with a valid token of its own: 403, and
	// nothing changed.
	forger := newDashClient(t, s.url)
	if st, _ := forger.signIn("viewer@shop.example", viewerPassword); st != http.StatusSeeOther {
		t.Fatalf("viewer sign-in: %d", st)
	}
	vp := forger.get("/dashboard/payments/" + mastercard)
	vtoken := csrfPattern.FindStringSubmatch(vp.body)[1]
	if st, _ := forger.post("/dashboard/payments/"+mastercard+"/refund", url.Values{"csrf_token": {vtoken}, "seen": {"500"}}); st != http.StatusForbidden {
		t.Errorf("a viewer's refund: %d, want 403", st)
	}
	if st, _ := forger.post("/dashboard/keys", url.Values{"csrf_token": {vtoken}}); st != http.StatusForbidden {
		t.Errorf("a viewer's new API key: %d, want 403", st)
	}
	if p := apiPayment(mastercard); p["amount_refunded"] != float64(500) {
		t.Errorf("a viewer's refund changed the payment: amount_refunded %v", p["amount_refunded"])
	}
	if st, _ := forger.post("/dashboard/checkout_sessions/"+keptSession+"/expire", url.Values{"csrf_token": {vtoken}}); st != http.StatusForbidden {
		t.Errorf("a viewer's Expire: %d, want 403", st)
	}
	if cs := apiSession(keptSession); cs["status"] != "open" {
		t.Errorf("a viewer's Expire changed the session: %v", cs["status"])
	}

	// Another merchant's admin: every id of this merchant is 404.
	st, other := postJSON(t, s.url+"/v1/merchants", adminToken, map[string]any{"name": "Other shop"})
	if st != 201 {
		t.Fatalf("other merchant: %d %v", st, other)
	}
	st, otherUser := postJSON(t, s.url+"/v1/merchants/"+other["id"].(string)+"/users", adminToken, map[string]any{"email": "admin@other.example", "role": "admin"})
	if st != 201 {
		t.Fatalf("other user: %d %v", st, otherUser)
	}
	outsider := newDashClient(t, s.url)
	if st, _ := outsider.signIn("admin@other.example", otherUser["password"].(string)); st != http.StatusSeeOther {
		t.Fatalf("other admin sign-in: %d", st)
	}
	if p := outsider.get("/dashboard/payments"); p.status != http.StatusSeeOther || p.location != "/dashboard/password" {
		t.Errorf("a temporary password leads to %d %s, want the password page", p.status, p.location)
	}
	otoken := csrfPattern.FindStringSubmatch(outsider.get("/dashboard/password").body)[1]
	if st, _ := outsider.post("/dashboard/password", url.Values{"csrf_token": {otoken}, "current_password": {otherUser["password"].(string)},
		"new_password": {"another long passphrase"}, "confirm_password": {"another long passphrase"}}); st != http.StatusSeeOther {
		t.Fatalf("other admin's new password: %d", st)
	}
	for _, path := range []string{"/dashboard/payments/" + mastercard, "/dashboard/customers/" + liveCustomer["id"].(string), "/dashboard/checkout_sessions/" + keptSession} {
		if p := outsider.get(path); p.status != http.StatusNotFound {
			t.Errorf("another merchant's %s: %d, want 404", path, p.status)
		}
	}
	if p := outsider.get("/dashboard/payments?q=4444"); strings.Contains(p.body, mastercard) {
		t.Error("another merchant's search finds this merchant's payment")
	}
	if st, _ := outsider.post("/dashboard/payments/"+mastercard+"/refund", url.Values{"csrf_token": {otoken}, "seen": {"500"}}); st != http.StatusNotFound {
		t.Errorf("another merchant's refund: %d, want 404", st)
	}
	if p := apiPayment(mastercard); p["amount_refunded"] != float64(500) {
		t.Errorf("another merchant's refund changed the payment: amount_refunded %v", p["amount_refunded"])
	}
	if p := outsider.get("/dashboard/checkout_sessions"); strings.Contains(p.body, keptSession) {
		t.Error("another merchant's list shows this merchant's checkout session")
	}
	if st, _ := outsider.post("/dashboard/checkout_sessions/"+keptSession+"/expire", url.Values{"csrf_token": {otoken}}); st != http.StatusNotFound {
		t.Errorf("another merchant's Expire: %d, want 404", st)
	}

	// Five wrong passwords lock the account, with a message that says so.
	for i := range 5 {
		b.do(fmt.Sprintf("wrong password %d", i+1),
			chromedp.Navigate(s.url+"/dashboard/signin"), chromedp.WaitVisible(chromedp.CSS("#signin")),
			chromedp.SendKeys(chromedp.CSS("#email"), "viewer@shop.example"),
			chromedp.SendKeys(chromedp.CSS("#password"), "not the password"),
			chromedp.Click(chromedp.CSS("#signin")),
			chromedp.WaitVisible(chromedp.CSS("#error")))
	}
	msg := value(b, "read the lockout", chromedp.Text(chromedp.CSS("#error")))
	if !strings.Contains(msg, "Too many failed sign-ins") || !strings.Contains(msg, "this account") {
		t.Errorf("after 5 wrong passwords: %q", msg)
	}
	// The right password is refused too while the lock holds.
	viewerClient := newDashClient(t, s.url)
	if st, body := viewerClient.signIn("viewer@shop.example", viewerPassword); st != http.StatusTooManyRequests || !strings.Contains(body, "locked") {
		t.Errorf("the right password during the lockout: %d", st)
	}

	// A plain client, as a forger would be.
	admin := newDashClient(t, s.url)
	if st, _ := admin.signIn("demo@paygate.example", adminPassword); st != http.StatusSeeOther {
		t.Fatalf("admin sign-in: %d", st)
	}
	page := admin.get("/dashboard/payments/" + mastercard)
	// No CSRF token: refused, nothing changed.
	if st, _ := admin.post("/dashboard/payments/"+mastercard+"/refund", url.Values{"amount": {"1.00"}, "seen": {"500"}}); st != http.StatusForbidden {
		t.Errorf("refund without a CSRF token: %d, want 403", st)
	}
	if st, _ := admin.post("/dashboard/payments/"+mastercard+"/refund", url.Values{"amount": {"1.00"}, "seen": {"500"}, "csrf_token": {"forged"}}); st != http.StatusForbidden {
		t.Errorf("refund with a wrong CSRF token: %d, want 403", st)
	}
	if p := apiPayment(mastercard); p["amount_refunded"] != float64(500) {
		t.Errorf("refused forms changed the payment: amount_refunded %v", p["amount_refunded"])
	}
	// Resending the page's form once it was used refunds nothing more.
	token := csrfPattern.FindStringSubmatch(page.body)[1]
	if st, _ := admin.post("/dashboard/payments/"+mastercard+"/refund", url.Values{"amount": {"1.00"}, "seen": {"0"}, "csrf_token": {token}}); st != http.StatusConflict {
		t.Errorf("a stale refund form: %d, want 409", st)
	}
	if p := apiPayment(mastercard); p["amount_refunded"] != float64(500) {
		t.Errorf("a stale refund form changed the payment: amount_refunded %v", p["amount_refunded"])
	}
	// Expire without a CSRF token: refused; a complete session: 409.
	if st, _ := admin.post("/dashboard/checkout_sessions/"+keptSession+"/expire", url.Values{}); st != http.StatusForbidden {
		t.Errorf("Expire without a CSRF token: %d, want 403", st)
	}
	if cs := apiSession(keptSession); cs["status"] != "open" {
		t.Errorf("a refused Expire changed the session: %v", cs["status"])
	}
	if st, body := admin.post("/dashboard/checkout_sessions/"+paidSession+"/expire", url.Values{"csrf_token": {token}}); st != http.StatusConflict ||
		!strings.Contains(body, "complete") {
		t.Errorf("Expire of a complete session: %d, want 409 saying it is complete", st)
	}

	// Test and live never mix: live mode shows live objects only.
	if st, _ := admin.post("/dashboard/mode", url.Values{"mode": {"live"}, "csrf_token": {token}}); st != http.StatusSeeOther {
		t.Fatalf("switch to live: %d", st)
	}
	if p := admin.get("/dashboard/payments"); p.status != 200 || strings.Contains(p.body, "/dashboard/payments/pay_") || !strings.Contains(p.body, "Live mode") {
		t.Errorf("live payments list: %d, shows a test payment or no live badge", p.status)
	}
	if p := admin.get("/dashboard/payments/" + mastercard); p.status != 404 {
		t.Errorf("a test payment in live mode: %d, want 404", p.status)
	}
	if p := admin.get("/dashboard/checkout_sessions"); p.status != 200 || strings.Contains(p.body, keptSession) {
		t.Errorf("live checkout sessions list: %d, or shows a test session", p.status)
	}
	if p := admin.get("/dashboard/checkout_sessions/" + keptSession); p.status != 404 {
		t.Errorf("a test checkout session in live mode: %d, want 404", p.status)
	}
	if p := admin.get("/dashboard/customers"); !strings.Contains(p.body, "live-customer@shop.example") || strings.Contains(p.body, "test-customer@shop.example") {
		t.Errorf("live customers list mixes modes")
	}
	if st, _ := admin.post("/dashboard/mode", url.Values{"mode": {"test"}, "csrf_token": {token}}); st != http.StatusSeeOther {
		t.Fatalf("switch to test: %d", st)
	}
	if p := admin.get("/dashboard/customers/" + liveCustomer["id"].(string)); p.status != 404 {
		t.Errorf("a live customer in test mode: %d, want 404", p.status)
	}
	if p := admin.get("/dashboard/customers"); strings.Contains(p.body, "live-customer@shop.example") || !strings.Contains(p.body, "test-customer@shop.example") {
		t.Errorf("test customers list mixes modes")
	}

	// Sign-out ends the session: the old cookie no longer works.
	old := admin.sessionCookie()
	if st, _ := admin.post("/dashboard/signout", url.Values{"csrf_token": {token}}); st != http.StatusSeeOther {
		t.Fatalf("sign out: %d", st)
	}
	replay := newDashClient(t, s.url)
	replay.setSession(old)
	if p := replay.get("/dashboard/payments"); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/dashboard/signin") {
		t.Errorf("the signed-out cookie: %d %s, want a redirect to sign in", p.status, p.location)
	}
	if st, _ := replay.post("/dashboard/payments/"+mastercard+"/refund", url.Values{"csrf_token": {token}, "seen": {"500"}}); st != http.StatusUnauthorized {
		t.Errorf("a form with the signed-out cookie: %d, want 401", st)
	}

	if errs := b.pageErrors(); len(errs) > 0 {
		for _, e := range errs {
			if !strings.Contains(e, "status of 401") && !strings.Contains(e, "status of 429") {
				t.Errorf("error on a page: %s", e)
			}
		}
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
}

var csrfPattern = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// dashClient is a browser without a browser: a cookie jar, and redirects
// left for the test to see.
type dashClient struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newDashClient(t *testing.T, base string) *dashClient {
	jar, _ := cookiejar.New(nil)
	return &dashClient{t: t, base: base, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type dashPage struct {
	status         int
	body, location string
}

func (d *dashClient) get(path string) dashPage {
	d.t.Helper()
	resp, err := d.c.Get(d.base + path)
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return dashPage{status: resp.StatusCode, body: string(b), location: resp.Header.Get("Location")}
}

func (d *dashClient) post(path string, form url.Values) (int, string) {
	d.t.Helper()
	resp, err := d.c.PostForm(d.base+path, form)
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (d *dashClient) signIn(email, password string) (int, string) {
	d.t.Helper()
	p := d.get("/dashboard/signin")
	m := csrfPattern.FindStringSubmatch(p.body)
	if m == nil {
		d.t.Fatalf("no CSRF token on the sign-in page: %d", p.status)
	}
	return d.post("/dashboard/signin", url.Values{"csrf_token": {m[1]}, "email": {email}, "password": {password}})
}

func (d *dashClient) sessionCookie() string {
	u, _ := url.Parse(d.base + "/dashboard/")
	for _, c := range d.c.Jar.Cookies(u) {
		if c.Name == "paygate_session" {
			return c.Value
		}
	}
	d.t.Fatal("no session cookie")
	return ""
}

func (d *dashClient) setSession(v string) {
	u, _ := url.Parse(d.base + "/")
	d.c.Jar.SetCookies(u, []*http.Cookie{{Name: "paygate_session", Value: v, Path: "/"}})
}
