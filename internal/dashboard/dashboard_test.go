package dashboard

import (
	"html"
	"log/slog"
	"net/http/httptest"
	"path"
	"regexp"
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

// TestAssets: the pages' asset URLs work, and each static file is served
// compressed to a client that takes gzip, cached for a year at its
// versioned URL only, and under nosniff's exact type.
func TestAssets(t *testing.T) {
	h := New(slog.New(slog.DiscardHandler), Options{}, Deps{})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/dashboard/signin", nil))
	if rec.Code != 200 {
		t.Fatalf("sign-in page: %d", rec.Code)
	}
	var urls []string
	for _, m := range regexp.MustCompile(`(?:href|src)="(/dashboard/static/[^"]+)"`).FindAllStringSubmatch(rec.Body.String(), -1) {
		urls = append(urls, html.UnescapeString(m[1]))
	}
	if len(urls) != 3 {
		t.Errorf("the sign-in page links %v, want its stylesheet, htmx and its script", urls)
	}
	a := loadAssets()
	for _, name := range []string{"uPlot.iife.min.js", "uPlot.min.css"} { // the balance page's
		u, err := a.URL(name)
		if err != nil {
			t.Fatal(err)
		}
		urls = append(urls, u)
	}
	types := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
	for _, u := range urls {
		name := strings.TrimPrefix(u[:strings.Index(u, "?v=")], "/dashboard/static/")
		body, ok := a.Body(name)
		if !ok {
			t.Fatalf("%s: no such file", u)
		}
		req := httptest.NewRequest("GET", u, nil)
		req.Header.Set("Accept-Encoding", "gzip, br")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 || rec.Header().Get("Content-Encoding") != "gzip" || !strings.Contains(rec.Header().Get("Cache-Control"), "immutable") ||
			rec.Header().Get("Content-Type") != types[path.Ext(name)] || rec.Header().Get("X-Content-Type-Options") != "nosniff" || rec.Body.Len() >= len(body) {
			t.Errorf("%s: %d %v, %d bytes of %d", u, rec.Code, rec.Header(), rec.Body.Len(), len(body))
		}
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/dashboard/static/"+name, nil))
		if rec.Header().Get("Cache-Control") != "no-cache" || rec.Header().Get("Content-Encoding") != "" || rec.Body.Len() != len(body) {
			t.Errorf("%s without its version or gzip: %v", name, rec.Header())
		}
	}
	for _, p := range []string{"/dashboard/static/nothing.js", "/dashboard/static/static/dashboard.js"} {
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", p, nil))
		if rec.Code != 404 {
			t.Errorf("%s: %d, want 404", p, rec.Code)
		}
	}
}
