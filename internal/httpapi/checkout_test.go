package httpapi_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/store/storetest"
)

// Hosted checkout (issue 22): the sessions API and the page at a
// session's url, over HTTP on both databases. The browser tests
// (cmd/paygate/checkout_browser_test.go) drive the same page in Chromium.

const (
	shopSuccess = "https://shop.example/paid?order=42"
	shopCancel  = "https://shop.example/cart"
)

// session creates a checkout session of key's with extra fields.
func (h *harness) session(key string, kv ...any) map[string]any {
	h.t.Helper()
	body := map[string]any{"amount": 4200, "currency": "eur", "success_url": shopSuccess, "cancel_url": shopCancel}
	for i := 0; i+1 < len(kv); i += 2 {
		body[kv[i].(string)] = kv[i+1]
	}
	s := h.obj("POST", "/v1/checkout_sessions", key, body, 201)
	if id, _ := s["id"].(string); !strings.HasPrefix(id, "cs_") || s["status"] != "open" || s["object"] != "checkout_session" {
		h.t.Fatalf("checkout session %v", s)
	}
	return s
}

// pageURL is the path of a session's page.
func (h *harness) pagePath(s map[string]any) string {
	h.t.Helper()
	u, _ := s["url"].(string)
	path, ok := strings.CutPrefix(u, h.url)
	if !ok || !strings.HasPrefix(path, "/checkout/") {
		h.t.Fatalf("session url %q is not a page of this server", u)
	}
	return path
}

var (
	csrfField    = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	attemptField = regexp.MustCompile(`name="attempt" value="([0-9]+)"`)
)

// form is a page's card form, filled.
type form struct{ csrf, attempt string }

func (h *harness) readForm(body string) form {
	h.t.Helper()
	c, a := csrfField.FindStringSubmatch(body), attemptField.FindStringSubmatch(body)
	if c == nil || a == nil {
		h.t.Fatalf("no form on the page:\n%s", body)
	}
	return form{csrf: c[1], attempt: a[1]}
}

func (f form) card(number string, extra ...string) url.Values {
	v := url.Values{"csrf": {f.csrf}, "attempt": {f.attempt}, "method": {"card"}, "number": {number}, "exp": {"12 / 34"}, "cvc": {testCVC}, "name": {"Jane Doe"}}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	return v
}

// browse sends a request as the customer's browser would (a form post, no
// redirects followed), checks it against the OpenAPI document, and that
// no card number typed comes back.
func (h *harness) browse(method, path string, form url.Values, header ...string) (*http.Response, string) {
	h.t.Helper()
	resp, body, err := h.tryBrowse(method, path, form, header...)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp, body
}

var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func (h *harness) tryBrowse(method, path string, form url.Values, header ...string) (*http.Response, string, error) {
	var raw []byte
	if form != nil {
		raw = []byte(form.Encode())
	}
	req, err := http.NewRequest(method, h.url+path, strings.NewReader(string(raw)))
	if err != nil {
		return nil, "", err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, "", err
	}
	h.spec.check(h.t, method, path, raw, req.Header, resp, got)
	for _, pan := range testPANs {
		for _, f := range []string{pan, group(pan, " "), group(pan, "-")} {
			if strings.Contains(string(got), f) {
				h.t.Errorf("%s %s: the page echoes the card number %s", method, path, f)
			}
		}
	}
	return resp, string(got), nil
}

func (h *harness) countRows(query string, args ...any) int {
	h.t.Helper()
	var n int
	if err := h.db.SQL().QueryRow(query, args...).Scan(&n); err != nil {
		h.t.Fatal(err)
	}
	return n
}

func TestCheckoutSessionsAPI(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := start(t, backend)
		before := time.Now()
		s := h.session(h.keyA, "metadata", map[string]string{"order": "42"})
		id := s["id"].(string)
		exp, _ := time.Parse(time.RFC3339Nano, s["expires_at"].(string))
		if d := exp.Sub(before); d < 24*time.Hour-time.Minute || d > 24*time.Hour+time.Minute {
			t.Errorf("default expiry in %v, want 24 h", d)
		}
		if s["currency"] != "EUR" || s["capture_method"] != "automatic" || s["attempts"] != 0.0 || s["payment_id"] != nil {
			t.Errorf("created session %v", s)
		}
		short := h.session(h.keyA, "expires_in", 600, "capture_method", "manual")
		exp, _ = time.Parse(time.RFC3339Nano, short["expires_at"].(string))
		if d := exp.Sub(before); d < 9*time.Minute || d > 11*time.Minute || short["capture_method"] != "manual" {
			t.Errorf("expires_in 600: expires in %v; %v", d, short)
		}

		// Bad input: 400 naming the field, and no session made.
		rows := h.countRows(`SELECT count(*) FROM checkout_sessions`)
		other := h.customer(h.keyB, "b@example.com")
		for _, c := range []struct {
			body        map[string]any
			status      int
			code, param string
		}{
			{map[string]any{"currency": "eur", "success_url": shopSuccess, "cancel_url": shopCancel}, 400, "parameter_missing", "amount"},
			{map[string]any{"amount": 0, "currency": "eur", "success_url": shopSuccess, "cancel_url": shopCancel}, 400, "amount_too_small", "amount"},
			{map[string]any{"amount": 100, "currency": "xxx", "success_url": shopSuccess, "cancel_url": shopCancel}, 400, "currency_invalid", "currency"},
			{map[string]any{"amount": 100, "currency": "eur", "cancel_url": shopCancel}, 400, "parameter_missing", "success_url"},
			{map[string]any{"amount": 100, "currency": "eur", "success_url": "javascript:alert(1)", "cancel_url": shopCancel}, 400, "parameter_invalid", "success_url"},
			{map[string]any{"amount": 100, "currency": "eur", "success_url": shopSuccess, "cancel_url": "/relative"}, 400, "parameter_invalid", "cancel_url"},
			{map[string]any{"amount": 100, "currency": "eur", "success_url": shopSuccess, "cancel_url": shopCancel, "expires_in": 59}, 400, "parameter_invalid", "expires_in"},
			{map[string]any{"amount": 100, "currency": "eur", "success_url": shopSuccess, "cancel_url": shopCancel, "expires_in": 86401}, 400, "parameter_invalid", "expires_in"},
			{map[string]any{"amount": 100, "currency": "eur", "success_url": shopSuccess, "cancel_url": shopCancel, "capture_method": "later"}, 400, "parameter_invalid", "capture_method"},
			{map[string]any{"amount": 100, "currency": "eur", "success_url": shopSuccess, "cancel_url": shopCancel, "customer": "bob"}, 400, "parameter_invalid", "customer"},
			{map[string]any{"amount": 100, "currency": "eur", "success_url": shopSuccess, "cancel_url": shopCancel, "customer": other}, 404, "resource_missing", "customer"},
			{map[string]any{"amount": 100, "currency": "eur", "success_url": shopSuccess, "cancel_url": shopCancel, "mode": "payment"}, 400, "parameter_unknown", "mode"},
		} {
			h.apiErr("POST", "/v1/checkout_sessions", h.keyA, c.body, c.status, c.code, c.param)
		}
		if n := h.countRows(`SELECT count(*) FROM checkout_sessions`); n != rows {
			t.Errorf("bad requests made %d sessions", n-rows)
		}

		// Tenancy: another merchant's session is a missing one.
		got := h.obj("GET", "/v1/checkout_sessions/"+id, h.keyA, nil, 200)
		if got["url"] != s["url"] || got["metadata"].(map[string]any)["order"] != "42" {
			t.Errorf("retrieved %v", got)
		}
		h.apiErr("GET", "/v1/checkout_sessions/"+id, h.keyB, nil, 404, "resource_missing", "")
		h.apiErr("POST", "/v1/checkout_sessions/"+id+"/expire", h.keyB, map[string]any{}, 404, "resource_missing", "")

		// Idempotency, as for every object.
		body := map[string]any{"amount": 100, "currency": "usd", "success_url": shopSuccess, "cancel_url": shopCancel}
		resp1, b1 := h.request("POST", "/v1/checkout_sessions", h.keyA, body, "Idempotency-Key", "co-1")
		resp2, b2 := h.request("POST", "/v1/checkout_sessions", h.keyA, body, "Idempotency-Key", "co-1")
		if resp1.StatusCode != 201 || string(b1) != string(b2) || resp2.Header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("replay: %d %s / %s %s", resp1.StatusCode, b1, resp2.Header.Get("Idempotent-Replayed"), b2)
		}
		// The stored answer holds the page's link: it is kept sealed.
		var stored []byte
		if err := h.db.SQL().QueryRow(`SELECT response_body FROM idempotency_keys WHERE key = $1`, "co-1").Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(stored), "/checkout/") {
			t.Errorf("the stored answer shows the page's link: %s", stored)
		}

		// Expire: the event once, the page closed.
		page := h.pagePath(s)
		e := h.obj("POST", "/v1/checkout_sessions/"+id+"/expire", h.keyA, map[string]any{}, 200)
		if e["status"] != "expired" || e["expired_at"] == nil || e["url"] != nil {
			t.Errorf("expired session %v", e)
		}
		h.obj("POST", "/v1/checkout_sessions/"+id+"/expire", h.keyA, map[string]any{}, 200)
		if n := h.eventCount(h.keyA, "checkout.session.expired", id); n != 1 {
			t.Errorf("checkout.session.expired events: %d", n)
		}
		resp, html := h.browse("GET", page, nil)
		if resp.StatusCode != 410 || !strings.Contains(html, "expired") || strings.Contains(html, `name="number"`) {
			t.Errorf("expired page: %d\n%s", resp.StatusCode, html)
		}
		payments := h.countRows(`SELECT count(*) FROM payments`)
		resp, _ = h.browse("POST", page, url.Values{"csrf": {"x"}, "attempt": {"1"}, "method": {"card"}, "number": {"4242424242424242"}, "exp": {"12/34"}, "cvc": {testCVC}, "name": {"J"}})
		if resp.StatusCode != 403 && resp.StatusCode != 410 {
			t.Errorf("a card posted to an expired page: %d", resp.StatusCode)
		}
		if n := h.countRows(`SELECT count(*) FROM payments`); n != payments {
			t.Errorf("an expired page made %d payments", n-payments)
		}
		if resp, _ := h.browse("GET", "/checkout/not-a-token", nil); resp.StatusCode != 404 {
			t.Errorf("unknown page token: %d", resp.StatusCode)
		}
	})
}

func TestCheckoutPagePays(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := start(t, backend)
		s := h.session(h.keyA)
		id, page := s["id"].(string), h.pagePath(s)
		resp, html := h.browse("GET", page, nil)
		if resp.StatusCode != 200 || !strings.Contains(html, "€42.00") || !strings.Contains(html, "Merchant A") {
			t.Fatalf("page: %d\n%s", resp.StatusCode, html)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "form-action 'self' https://shop.example"} {
			if !strings.Contains(csp, want) {
				t.Errorf("CSP %q lacks %q", csp, want)
			}
		}
		if bad := regexp.MustCompile(`<script>|<script [^>]*>[^<]|<style|style="|\son[a-z]+="|(?i)src="(https?:)?//|<link[^>]*href="(https?:)?//`).FindString(html); strings.Contains(csp, "unsafe") || bad != "" {
			t.Errorf("the page has inline script or style, or loads from elsewhere: %q", bad)
		}
		f := h.readForm(html)
		if f.attempt != "1" {
			t.Errorf("first attempt %s", f.attempt)
		}

		// A decline: the page again, the reason, the card not echoed, the
		// next attempt.
		resp, html = h.browse("POST", page, f.card("4000000000000002"))
		if resp.StatusCode != 200 || !strings.Contains(html, "declined") || !strings.Contains(html, `role="alert"`) {
			t.Fatalf("decline: %d\n%s", resp.StatusCode, html)
		}
		if regexp.MustCompile(`<input id="(number|cvc)"[^>]* value=`).MatchString(html) || strings.Contains(html, "ending 0002") {
			t.Errorf("the declined card shows on the page")
		}
		f2 := h.readForm(html)
		if f2.attempt != "2" {
			t.Errorf("after a decline, attempt %s", f2.attempt)
		}
		// Another card in the same session succeeds.
		resp, _ = h.browse("POST", page, f2.card("4242 4242 4242 4242"))
		if resp.StatusCode != 303 || resp.Header.Get("Location") != shopSuccess+"&session_id="+id {
			t.Fatalf("paid: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		got := h.obj("GET", "/v1/checkout_sessions/"+id, h.keyA, nil, 200)
		pay := h.obj("GET", "/v1/payments/"+got["payment_id"].(string), h.keyA, nil, 200)
		if got["status"] != "complete" || got["attempts"] != 2.0 || pay["status"] != "succeeded" || pay["amount"] != 4200.0 {
			t.Errorf("after paying: session %v, payment %v", got, pay)
		}
		if n := h.eventCount(h.keyA, "checkout.session.completed", id); n != 1 {
			t.Errorf("checkout.session.completed events: %d", n)
		}
		// A complete session's page says so and takes no card.
		resp, html = h.browse("GET", page, nil)
		if resp.StatusCode != 200 || !strings.Contains(html, "complete") || strings.Contains(html, `name="number"`) {
			t.Errorf("complete page: %d\n%s", resp.StatusCode, html)
		}
		n := h.countRows(`SELECT count(*) FROM payments`)
		if resp, _ := h.browse("POST", page, f2.card("4242424242424242", "attempt", "3")); resp.StatusCode != 303 {
			t.Errorf("a card posted to a complete session: %d", resp.StatusCode)
		}
		if m := h.countRows(`SELECT count(*) FROM payments`); m != n {
			t.Errorf("a complete session took another payment")
		}
		h.apiErr("POST", "/v1/checkout_sessions/"+id+"/expire", h.keyA, map[string]any{}, 409, "checkout_session_unexpected_state", "")
	})
}

// TestCheckoutDoubleSubmission posts one form many times at once, as a
// double click without JavaScript does: one payment, one charge, and every
// answer sends the customer to the same success page.
func TestCheckoutDoubleSubmission(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := start(t, backend)
		s := h.session(h.keyA)
		id, page := s["id"].(string), h.pagePath(s)
		_, html := h.browse("GET", page, nil)
		f := h.readForm(html)
		auths := h.sandbox.Performed("authorize")
		var wg sync.WaitGroup
		locs := make([]string, 6)
		errs := make([]error, 6)
		for i := range locs {
			wg.Go(func() {
				resp, body, err := h.tryBrowse("POST", page, f.card("4242424242424242"))
				if err != nil {
					errs[i] = err
					return
				}
				if resp.StatusCode != 303 {
					errs[i] = fmt.Errorf("status %d: %.500s", resp.StatusCode, body)
				}
				locs[i] = resp.Header.Get("Location")
			})
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("submission %d: %v", i, err)
			} else if locs[i] != shopSuccess+"&session_id="+id {
				t.Errorf("submission %d went to %q", i, locs[i])
			}
		}
		if n := h.sandbox.Performed("authorize") - auths; n != 1 {
			t.Errorf("%d authorizations for one form posted 6 times", n)
		}
		if n := h.countRows(`SELECT count(*) FROM payments WHERE description = $1`, "Checkout session "+id); n != 1 {
			t.Errorf("%d payments for one form posted 6 times", n)
		}
		if got := h.obj("GET", "/v1/checkout_sessions/"+id, h.keyA, nil, 200); got["status"] != "complete" || got["attempts"] != 1.0 {
			t.Errorf("session %v", got)
		}
	})
}

func TestCheckoutPageGuards(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := start(t, backend)
		s, other := h.session(h.keyA), h.session(h.keyA)
		page := h.pagePath(s)
		_, html := h.browse("GET", page, nil)
		f := h.readForm(html)
		_, otherHTML := h.browse("GET", h.pagePath(other), nil)
		fo := h.readForm(otherHTML)
		payments := h.countRows(`SELECT count(*) FROM payments`)

		// CSRF: a missing token, another session's, a post from another site.
		for name, c := range map[string]struct {
			form   url.Values
			header []string
		}{
			"no token":           {f.card("4242424242424242", "csrf", ""), nil},
			"another session's":  {f.card("4242424242424242", "csrf", fo.csrf), nil},
			"from another site":  {f.card("4242424242424242"), []string{"Sec-Fetch-Site", "cross-site"}},
			"from a sub-site":    {f.card("4242424242424242"), []string{"Sec-Fetch-Site", "same-site"}},
			"a forged attempt 0": {f.card("4242424242424242", "attempt", "0"), nil},
		} {
			resp, html := h.browse("POST", page, c.form, c.header...)
			if resp.StatusCode != 403 && resp.StatusCode != 400 {
				t.Errorf("%s: %d\n%s", name, resp.StatusCode, html)
			}
		}
		// Server-side validation, tied to its field, before any attempt.
		for _, c := range []struct{ field, value, id string }{
			{"number", "4242424242424241", "number"},
			{"number", "", "number"},
			{"exp", "13/30", "exp"},
			{"exp", "01/20", "exp"},
			{"cvc", "12", "cvc"},
			{"name", "", "name"},
		} {
			resp, html := h.browse("POST", page, f.card("4242424242424242", c.field, c.value))
			if resp.StatusCode != 400 || !regexp.MustCompile(`id="`+c.id+`"[^>]*aria-describedby="`+c.id+`-error" aria-invalid="true"`).MatchString(html) ||
				!regexp.MustCompile(`<p class="error" id="`+c.id+`-error">[^<]+</p>`).MatchString(html) {
				t.Errorf("%s=%q: %d, no error tied to the field\n%s", c.field, c.value, resp.StatusCode, html)
			}
		}
		if n := h.countRows(`SELECT count(*) FROM payments`); n != payments {
			t.Errorf("refused forms made %d payments", n-payments)
		}
		if got := h.obj("GET", "/v1/checkout_sessions/"+s["id"].(string), h.keyA, nil, 200); got["attempts"] != 0.0 {
			t.Errorf("refused forms counted as attempts: %v", got["attempts"])
		}

		// Card testing: five attempts, then no more cards.
		for i := 1; i <= 5; i++ {
			resp, html := h.browse("POST", page, f.card("4000000000000002", "attempt", fmt.Sprint(i)))
			if resp.StatusCode != 200 || !strings.Contains(html, "declined") {
				t.Fatalf("attempt %d: %d", i, resp.StatusCode)
			}
			if i == 5 && (strings.Contains(html, `name="number"`) || !strings.Contains(html, "too many times")) {
				t.Errorf("after 5 attempts the page still takes cards:\n%s", html)
			}
		}
		auths := h.sandbox.Performed("authorize")
		resp, _ := h.browse("POST", page, f.card("4242424242424242", "attempt", "6"))
		if resp.StatusCode != 429 || h.sandbox.Performed("authorize") != auths {
			t.Errorf("a sixth attempt: %d", resp.StatusCode)
		}
		// An old copy of the form (attempt 2, answered) charges nothing.
		resp, _ = h.browse("POST", page, f.card("4242424242424242", "attempt", "2"))
		if resp.StatusCode != 303 || h.sandbox.Performed("authorize") != auths {
			t.Errorf("an old form: %d", resp.StatusCode)
		}
	})
}

// TestCheckoutAuthenticationAndWallets pays through 3-D Secure (approve,
// and a decline followed by another card) and with each test wallet.
func TestCheckoutAuthenticationAndWallets(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := start(t, backend)
		s := h.session(h.keyA)
		id, page := s["id"].(string), h.pagePath(s)
		_, html := h.browse("GET", page, nil)
		f := h.readForm(html)
		// 3-D Secure declined at the bank: back on the page, another try.
		resp, _ := h.browse("POST", page, f.card("4000000000003220"))
		loc := resp.Header.Get("Location")
		if resp.StatusCode != 303 || !strings.HasPrefix(loc, h.url+"/sandbox/authenticate/") {
			t.Fatalf("3-D Secure: %d to %q", resp.StatusCode, loc)
		}
		action := strings.TrimPrefix(loc, h.url)
		resp, _ = h.browse("POST", action, url.Values{"action": {"decline"}})
		back := strings.TrimPrefix(resp.Header.Get("Location"), h.url)
		if resp.StatusCode != 303 || !strings.HasPrefix(back, page+"/return") {
			t.Fatalf("declined at the bank: %d to %q", resp.StatusCode, back)
		}
		resp, html = h.browse("GET", back, nil)
		if resp.StatusCode != 200 || !strings.Contains(html, "did not confirm") {
			t.Fatalf("back from a declined 3-D Secure: %d\n%s", resp.StatusCode, html)
		}
		f = h.readForm(html)
		resp, _ = h.browse("POST", page, f.card("4000000000003220"))
		action = strings.TrimPrefix(resp.Header.Get("Location"), h.url)
		resp, _ = h.browse("POST", action, url.Values{"action": {"approve"}})
		back = strings.TrimPrefix(resp.Header.Get("Location"), h.url)
		resp, html = h.browse("GET", back, nil)
		if resp.StatusCode != 200 || !strings.Contains(html, `<meta http-equiv="refresh" content="0;url=https://shop.example/paid?order=42&amp;session_id=`+id+`">`) {
			t.Fatalf("approved: %d\n%s", resp.StatusCode, html)
		}
		if got := h.obj("GET", "/v1/checkout_sessions/"+id, h.keyA, nil, 200); got["status"] != "complete" {
			t.Errorf("session %v", got)
		}

		for _, w := range []string{"apple_pay", "google_pay"} {
			s := h.session(h.keyA)
			_, html := h.browse("GET", h.pagePath(s), nil)
			f := h.readForm(html)
			resp, _ := h.browse("POST", h.pagePath(s), url.Values{"csrf": {f.csrf}, "attempt": {"1"}, "method": {w}})
			if resp.StatusCode != 303 || !strings.Contains(resp.Header.Get("Location"), "session_id="+s["id"].(string)) {
				t.Errorf("%s: %d to %q", w, resp.StatusCode, resp.Header.Get("Location"))
			}
			got := h.obj("GET", "/v1/checkout_sessions/"+s["id"].(string), h.keyA, nil, 200)
			pay := h.obj("GET", "/v1/payments/"+got["payment_id"].(string), h.keyA, nil, 200)
			if pm := pay["payment_method"].(map[string]any); pm["type"] != "wallet" || pm["wallet"].(map[string]any)["type"] != w {
				t.Errorf("%s: paid with %v", w, pm)
			}
		}
		// PayPal, with manual capture: approved, the session complete and
		// the payment authorized.
		s = h.session(h.keyA, "capture_method", "manual")
		_, html = h.browse("GET", h.pagePath(s), nil)
		f = h.readForm(html)
		resp, _ = h.browse("POST", h.pagePath(s), url.Values{"csrf": {f.csrf}, "attempt": {"1"}, "method": {"paypal"}})
		action = strings.TrimPrefix(resp.Header.Get("Location"), h.url)
		resp, _ = h.browse("POST", action, url.Values{"action": {"approve"}})
		resp, _ = h.browse("GET", strings.TrimPrefix(resp.Header.Get("Location"), h.url), nil)
		got := h.obj("GET", "/v1/checkout_sessions/"+s["id"].(string), h.keyA, nil, 200)
		pay := h.obj("GET", "/v1/payments/"+got["payment_id"].(string), h.keyA, nil, 200)
		if resp.StatusCode != 200 || got["status"] != "complete" || pay["status"] != "requires_capture" {
			t.Errorf("paypal: %d, session %v, payment %v", resp.StatusCode, got["status"], pay["status"])
		}
	})
}

// TestCheckoutSavedCards: a session with a customer offers to save the
// card, and the next session offers it.
func TestCheckoutSavedCards(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := start(t, backend)
		cus := h.customer(h.keyA, "jane@example.com")
		s := h.session(h.keyA, "customer", cus)
		_, html := h.browse("GET", h.pagePath(s), nil)
		if !strings.Contains(html, `name="save"`) {
			t.Fatalf("no save option for a customer's session")
		}
		f := h.readForm(html)
		if resp, _ := h.browse("POST", h.pagePath(s), f.card("4242424242424242", "save", "1")); resp.StatusCode != 303 {
			t.Fatalf("pay and save: %d", resp.StatusCode)
		}
		saved := h.savedMethods(h.keyA, cus)
		if len(saved) != 1 {
			t.Fatalf("saved methods %v", saved)
		}
		s2 := h.session(h.keyA, "customer", cus, "amount", 1500)
		_, html = h.browse("GET", h.pagePath(s2), nil)
		if !strings.Contains(html, "Visa ending 4242") || !strings.Contains(html, saved[0]) {
			t.Fatalf("the saved card is not offered:\n%s", html)
		}
		f = h.readForm(html)
		resp, _ := h.browse("POST", h.pagePath(s2), url.Values{"csrf": {f.csrf}, "attempt": {"1"}, "method": {"saved"}, "payment_method": {saved[0]}})
		if resp.StatusCode != 303 {
			t.Fatalf("pay with the saved card: %d", resp.StatusCode)
		}
		got := h.obj("GET", "/v1/checkout_sessions/"+s2["id"].(string), h.keyA, nil, 200)
		pay := h.obj("GET", "/v1/payments/"+got["payment_id"].(string), h.keyA, nil, 200)
		if pay["payment_method"].(map[string]any)["id"] != saved[0] || pay["amount"] != 1500.0 {
			t.Errorf("paid with %v", pay["payment_method"])
		}
		// A session without a customer neither offers nor takes saved cards.
		s3 := h.session(h.keyA)
		_, html = h.browse("GET", h.pagePath(s3), nil)
		if strings.Contains(html, `name="save"`) || strings.Contains(html, saved[0]) {
			t.Errorf("a session without a customer offers saved cards")
		}
		f = h.readForm(html)
		resp, _ = h.browse("POST", h.pagePath(s3), url.Values{"csrf": {f.csrf}, "attempt": {"1"}, "method": {"saved"}, "payment_method": {saved[0]}})
		if resp.StatusCode != 400 {
			t.Errorf("another customer's saved card: %d", resp.StatusCode)
		}
	})
}

// TestCheckoutExpiresByItself: past its expiry a session expires when read
// and in the background round, with its event once.
func TestCheckoutExpiresByItself(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := start(t, backend)
		a, b := h.session(h.keyA, "expires_in", 60), h.session(h.keyA, "expires_in", 60)
		open := h.session(h.keyA)
		later := time.Now().Add(2 * time.Minute)
		h.checkout.SetClock(func() time.Time { return later })
		if got := h.obj("GET", "/v1/checkout_sessions/"+a["id"].(string), h.keyA, nil, 200); got["status"] != "expired" {
			t.Errorf("read past expiry: %v", got["status"])
		}
		n, err := h.checkout.ExpireDue(context.Background())
		if err != nil || n != 1 {
			t.Errorf("background round: %d, %v", n, err)
		}
		for _, s := range []map[string]any{a, b} {
			if c := h.eventCount(h.keyA, "checkout.session.expired", s["id"].(string)); c != 1 {
				t.Errorf("%s: %d expired events", s["id"], c)
			}
		}
		if got := h.obj("GET", "/v1/checkout_sessions/"+open["id"].(string), h.keyA, nil, 200); got["status"] != "open" {
			t.Errorf("a session within its expiry: %v", got["status"])
		}
		if resp, _ := h.browse("GET", h.pagePath(open), nil); resp.StatusCode != 200 {
			t.Errorf("open page: %d", resp.StatusCode)
		}
	})
}

// TestCheckoutFormMarkup checks what browsers and assistive technology
// rely on: every field labelled, the autocomplete tokens for cards, errors
// tied to fields, the language and the viewport.
func TestCheckoutFormMarkup(t *testing.T) {
	h := start(t, "sqlite")
	_, html := h.browse("GET", h.pagePath(h.session(h.keyA)), nil)
	for id, ac := range map[string]string{"number": "cc-number", "exp": "cc-exp", "cvc": "cc-csc", "name": "cc-name"} {
		if !regexp.MustCompile(`<label for="` + id + `">[^<]+`).MatchString(html) {
			t.Errorf("field %s has no label", id)
		}
		input := regexp.MustCompile(`<input id="` + id + `"[^>]*>`).FindString(html)
		if !strings.Contains(input, `autocomplete="`+ac+`"`) || !strings.Contains(input, `aria-describedby="`+id+`-error"`) || !strings.Contains(input, `name="`+id+`"`) {
			t.Errorf("field %s: %s", id, input)
		}
		if !strings.Contains(html, `id="`+id+`-error"`) {
			t.Errorf("field %s: no error element", id)
		}
	}
	for _, want := range []string{`<html lang="en">`, `name="viewport" content="width=device-width, initial-scale=1"`, `inputmode="numeric"`, `<h1>`, `<main>`} {
		if !strings.Contains(html, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
}
