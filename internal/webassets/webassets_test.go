package webassets_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/paygate/paygate/internal/webassets"
)

func serve(t *testing.T, s *webassets.Set, path string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	resp := rec.Result()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

func TestCompressedOnceCachedForLong(t *testing.T) {
	js := []byte(strings.Repeat("console.log('paygate checkout');\n", 200))
	png := bytes.Repeat([]byte{0x89, 'P', 'N', 'G'}, 100)
	s, err := webassets.New("/a/", fstest.MapFS{"x/app.js": {Data: js}, "logo.png": {Data: png}, "skip.txt": {Data: []byte("no")}},
		func(name string) bool { return name == "skip.txt" })
	if err != nil {
		t.Fatal(err)
	}
	url, err := s.URL("app.js")
	if err != nil || !strings.HasPrefix(url, "/a/app.js?v=") {
		t.Fatalf("URL %q, %v", url, err)
	}
	if _, err := s.URL("skip.txt"); err == nil {
		t.Error("a skipped file has a URL")
	}

	resp, body := serve(t, s, url, "Accept-Encoding", "br, gzip;q=0.8")
	if resp.Header.Get("Content-Encoding") != "gzip" || resp.Header.Get("Vary") != "Accept-Encoding" ||
		resp.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" || resp.Header.Get("Content-Type") != "text/javascript; charset=utf-8" {
		t.Fatalf("gzip answer headers: %v", resp.Header)
	}
	if len(body) >= len(js)/4 {
		t.Errorf("compressed to %d of %d bytes", len(body), len(js))
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := io.ReadAll(zr)
	if !bytes.Equal(plain, js) {
		t.Error("the compressed answer is not the file")
	}
	gzETag := resp.Header.Get("ETag")
	// The compressed form is made once and kept: the same bytes again.
	_, again := serve(t, s, url, "Accept-Encoding", "gzip")
	if &again[0] == &body[0] || !bytes.Equal(again, body) {
		t.Error("a second request got other bytes")
	}

	// Without gzip (or refusing it): the file as it is, another ETag.
	for _, ae := range []string{"", "identity", "gzip;q=0", "br"} {
		resp, body = serve(t, s, url, "Accept-Encoding", ae)
		if resp.Header.Get("Content-Encoding") != "" || !bytes.Equal(body, js) || resp.Header.Get("ETag") == gzETag {
			t.Errorf("Accept-Encoding %q: %v, %d bytes", ae, resp.Header, len(body))
		}
	}
	// Revalidation by ETag, per representation.
	if resp, _ := serve(t, s, "/a/app.js", "Accept-Encoding", "gzip", "If-None-Match", gzETag); resp.StatusCode != 304 {
		t.Errorf("If-None-Match of the gzip form: %d", resp.StatusCode)
	}
	// Without the current version: revalidated, never cached for long.
	if resp, _ := serve(t, s, "/a/app.js?v=old"); resp.Header.Get("Cache-Control") != "no-cache" {
		t.Errorf("an old version: Cache-Control %q", resp.Header.Get("Cache-Control"))
	}
	// Images are not compressed again.
	if resp, body := serve(t, s, "/a/logo.png", "Accept-Encoding", "gzip"); resp.Header.Get("Content-Encoding") != "" || !bytes.Equal(body, png) {
		t.Errorf("png: %v", resp.Header)
	}
	if resp, _ := serve(t, s, "/a/nope.js"); resp.StatusCode != 404 {
		t.Errorf("unknown file: %d", resp.StatusCode)
	}
}

func TestAcceptsGzip(t *testing.T) {
	for h, want := range map[string]bool{"gzip": true, "GZIP": true, "deflate, gzip;q=1.0": true, "*": true, "x-gzip": true,
		"": false, "br": false, "gzip;q=0": false, "gzip; q=0.000": false, "identity": false} {
		if got := webassets.AcceptsGzip(h); got != want {
			t.Errorf("AcceptsGzip(%q) = %v", h, got)
		}
	}
}
