package dashboard

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// The dashboard's static files (its stylesheet and script, and the
// vendored htmx and uPlot, see static/VENDORED.md) are embedded in the
// binary, compressed once at start, and served with a long cache life:
// their URLs carry a hash of their content (?v=…), so a new build's file
// is a new URL. serveAsset is the one place that serves them (the
// project's shared webassets package can take its place).

//go:embed static
var staticFiles embed.FS

type asset struct {
	body, gz    []byte
	contentType string
	version     string
}

type assets map[string]*asset

func loadAssets() assets {
	a := assets{}
	err := fs.WalkDir(staticFiles, "static", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := staticFiles.ReadFile(name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		var gz bytes.Buffer
		w, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		_, _ = w.Write(body)
		_ = w.Close()
		a[path.Base(name)] = &asset{body: body, gz: gz.Bytes(), contentType: contentType(name), version: hex.EncodeToString(sum[:8])}
		return nil
	})
	if err != nil {
		panic("dashboard: " + err.Error()) // embedded: only a broken build gets here
	}
	return a
}

// url is the versioned URL of a static file.
func (a assets) url(name string) string {
	f, ok := a[name]
	if !ok {
		panic("dashboard: no static file " + name)
	}
	return "/dashboard/static/" + name + "?v=" + f.version
}

// serveAsset serves GET /dashboard/static/{name}: gzip-compressed when the
// client takes it, cached for a year when asked by its current version.
func (a assets) serveAsset(w http.ResponseWriter, r *http.Request) {
	f, ok := a[r.PathValue("name")]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("Vary", "Accept-Encoding")
	h.Set("ETag", `"`+f.version+`"`)
	if r.URL.Query().Get("v") == f.version {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	body := f.body
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		h.Set("Content-Encoding", "gzip")
		body = f.gz
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	default:
		return "text/plain; charset=utf-8"
	}
}
