package docsui_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/paygate/paygate/internal/docsui"
)

func serve(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	docs := docsui.Handler()
	mux.Handle("GET /docs", docs)
	mux.Handle("GET /docs/{file...}", docs)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func TestPageAndAssets(t *testing.T) {
	srv := serve(t)
	resp, page := get(t, srv.URL+"/docs")
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("GET /docs: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") {
		t.Errorf("CSP allows unsafe sources: %q", csp)
	}
	if strings.Contains(page, "<script>") || regexp.MustCompile(`(?i)(src|href)="(https?:)?//`).MatchString(page) {
		t.Errorf("page has an inline script or loads from another host:\n%s", page)
	}

	refs := regexp.MustCompile(`(?:src|href)="(/docs/[^"?]+)\?v=([0-9a-f]+)"`).FindAllStringSubmatch(page, -1)
	want := map[string]string{
		"swagger-ui-bundle.js": "text/javascript; charset=utf-8",
		"docs.js":              "text/javascript; charset=utf-8",
		"swagger-ui.css":       "text/css; charset=utf-8",
		"docs.css":             "text/css; charset=utf-8",
		"favicon-32x32.png":    "image/png",
	}
	seen := map[string]bool{}
	for _, ref := range refs {
		path, version := ref[1], ref[2]
		name := strings.TrimPrefix(path, "/docs/")
		seen[name] = true
		resp, body := get(t, srv.URL+path+"?v="+version)
		if resp.StatusCode != 200 || len(body) == 0 {
			t.Errorf("%s: %d, %d bytes", path, resp.StatusCode, len(body))
			continue
		}
		if ct, ok := want[name]; ok && resp.Header.Get("Content-Type") != ct {
			t.Errorf("%s: Content-Type %q, want %q", path, resp.Header.Get("Content-Type"), ct)
		}
		if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "max-age=31536000") || !strings.Contains(cc, "immutable") {
			t.Errorf("%s?v=%s: Cache-Control %q, want a long immutable cache", path, version, cc)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", path)
		}
		// Without the current version the answer must be revalidated, or
		// a browser would keep an old file after an upgrade.
		resp, _ = get(t, srv.URL+path+"?v=0")
		if cc := resp.Header.Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("%s?v=0: Cache-Control %q, want no-cache", path, cc)
		}
		etag := resp.Header.Get("ETag")
		if resp, _ := get(t, srv.URL+path, "If-None-Match", etag); etag == "" || resp.StatusCode != http.StatusNotModified {
			t.Errorf("%s with If-None-Match %s: %d, want 304", path, etag, resp.StatusCode)
		}
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("the page does not load %s", name)
		}
	}
	for _, name := range []string{"LICENSE", "NOTICE", "swagger-ui-bundle.js.LICENSE.txt"} {
		if resp, body := get(t, srv.URL+"/docs/"+name); resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") || body == "" {
			t.Errorf("%s: %d %s", name, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
}

func TestInitScript(t *testing.T) {
	srv := serve(t)
	_, js := get(t, srv.URL+"/docs/docs.js")
	for _, want := range []string{`url: "/openapi.json"`, "persistAuthorization: false", "validatorUrl: null"} {
		if !strings.Contains(js, want) {
			t.Errorf("docs.js lacks %s", want)
		}
	}
}

func TestNotFoundAndRedirect(t *testing.T) {
	srv := serve(t)
	for _, path := range []string{"/docs/nope.js", "/docs/page/index.html", "/docs/index.html", "/docs/swagger-ui/LICENSE", "/docs/package.json"} {
		if resp, _ := get(t, srv.URL+path); resp.StatusCode != 404 {
			t.Errorf("%s: %d, want 404", path, resp.StatusCode)
		}
	}
	if resp, _ := get(t, srv.URL+"/docs/"); resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/docs" {
		t.Errorf("/docs/: %d to %q, want a redirect to /docs", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestBundleCompressed: Swagger UI's bundle (1.7 MB) goes out gzip-compressed
// to a browser that accepts it.
func TestBundleCompressed(t *testing.T) {
	srv := serve(t)
	_, page := get(t, srv.URL+"/docs")
	ref := regexp.MustCompile(`src="(/docs/swagger-ui-bundle\.js\?v=[0-9a-f]+)"`).FindStringSubmatch(page)
	if ref == nil {
		t.Fatal("no bundle on the page")
	}
	// Set by hand, the header makes the client leave the body compressed.
	resp, body := get(t, srv.URL+ref[1], "Accept-Encoding", "gzip")
	if resp.Header.Get("Content-Encoding") != "gzip" || len(body) > 700_000 || len(body) < 100_000 {
		t.Errorf("bundle: Content-Encoding %q, %d bytes", resp.Header.Get("Content-Encoding"), len(body))
	}
	if cc := resp.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
		t.Errorf("bundle: Cache-Control %q", cc)
	}
}
