package dashboard

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestParseMajor(t *testing.T) {
	for _, c := range []struct {
		in, cur string
		want    int64
		ok      bool
	}{
		{"5", "USD", 500, true}, {"5.5", "USD", 550, true}, {"5.05", "usd", 505, true}, {"1,000.00", "USD", 100000, true},
		{"500", "JPY", 500, true}, {"1.234", "KWD", 1234, true},
		{"5.005", "USD", 0, false}, {"-5", "USD", 0, false}, {"0", "USD", 0, false}, {"", "USD", 0, false}, {"5.5", "JPY", 0, false},
		{"abc", "USD", 0, false}, {"+5", "USD", 0, false},
	} {
		got, ok := parseMajor(c.in, c.cur)
		if got != c.want || ok != c.ok {
			t.Errorf("parseMajor(%q, %s) = %d %v, want %d %v", c.in, c.cur, got, ok, c.want, c.ok)
		}
	}
	if got := money(123456, "usd"); got != "1234.56 USD" {
		t.Errorf("money: %q", got)
	}
	if got := majorUnits(5, "USD"); got != "0.05" {
		t.Errorf("majorUnits: %q", got)
	}
}

// TestSafeNext: after signing in, the browser goes to a dashboard page of
// this server, never elsewhere.
func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/dashboard/payments?q=4242": "/dashboard/payments?q=4242",
		"https://evil.example/":      "/dashboard/payments",
		"//evil.example/dashboard/":  "/dashboard/payments",
		"/dashboard//evil.example":   "/dashboard/payments",
		"/dashboard/\\evil":          "/dashboard/payments",
		"/dashboard/signin":          "/dashboard/payments",
		"":                           "/dashboard/payments",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestAssets: each static file is served compressed to a client that takes
// gzip, cached for a year at its versioned URL only, and under nosniff's
// exact type.
func TestAssets(t *testing.T) {
	a := loadAssets()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /dashboard/static/{name}", a.serveAsset)
	for _, name := range []string{"htmx.min.js", "uPlot.iife.min.js", "uPlot.min.css", "dashboard.css", "dashboard.js"} {
		u := a.url(name)
		req := httptest.NewRequest("GET", u, nil)
		req.Header.Set("Accept-Encoding", "gzip, br")
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		if rec.Code != 200 || rec.Header().Get("Content-Encoding") != "gzip" || !strings.Contains(rec.Header().Get("Cache-Control"), "immutable") ||
			rec.Body.Len() >= len(a[name].body) {
			t.Errorf("%s: %d %v, %d bytes of %d", u, rec.Code, rec.Header(), rec.Body.Len(), len(a[name].body))
		}
		rec = httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", "/dashboard/static/"+name, nil))
		if rec.Header().Get("Cache-Control") != "no-cache" || rec.Header().Get("Content-Encoding") != "" || rec.Body.Len() != len(a[name].body) {
			t.Errorf("%s without its version or gzip: %v", name, rec.Header())
		}
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/dashboard/static/nothing.js", nil))
	if rec.Code != 404 {
		t.Errorf("an unknown file: %d", rec.Code)
	}
}
