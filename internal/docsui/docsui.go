// Package docsui serves Swagger UI for the OpenAPI document at
// /openapi.json. Swagger UI's files are vendored and embedded, so the page
// works on a server without internet access.
package docsui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed page swagger-ui/*.js swagger-ui/*.css swagger-ui/*.png swagger-ui/*.txt swagger-ui/LICENSE swagger-ui/NOTICE
var files embed.FS

// Swagger UI needs data: images (its icons are in its CSS) and nothing
// from another host; its only script is ours, loaded from a file, so
// nothing inline runs even if the document's Markdown let it through.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

type asset struct {
	body        []byte
	contentType string
	version     string // a hash of body: asset URLs carry it, so a cached copy is never stale
}

type site struct {
	page   []byte
	assets map[string]asset
}

// Handler serves the page at GET /docs and its assets at
// GET /docs/{file...}. Register it for both patterns.
func Handler() http.Handler {
	s := &site{assets: map[string]asset{}}
	err := fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || name == "page/index.html" {
			return err
		}
		body, err := files.ReadFile(name)
		if err != nil {
			return err
		}
		base := path.Base(name)
		if _, dup := s.assets[base]; dup {
			return fmt.Errorf("two assets named %s", base)
		}
		sum := sha256.Sum256(body)
		s.assets[base] = asset{body: body, contentType: contentType(base), version: hex.EncodeToString(sum[:8])}
		return nil
	})
	if err != nil {
		panic("docsui: " + err.Error()) // the files are embedded: only a broken build gets here
	}
	url := func(name string) (string, error) {
		a, ok := s.assets[name]
		if !ok {
			return "", fmt.Errorf("no asset %s", name)
		}
		return "/docs/" + name + "?v=" + a.version, nil
	}
	tmpl := template.Must(template.New("index.html").Funcs(template.FuncMap{"asset": url}).ParseFS(files, "page/index.html"))
	var page bytes.Buffer
	if err := tmpl.Execute(&page, nil); err != nil {
		panic("docsui: " + err.Error())
	}
	s.page = page.Bytes()
	return s
}

func (s *site) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	name, isAsset := strings.CutPrefix(r.URL.Path, "/docs/")
	if !isAsset {
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(s.page))
		return
	}
	if name == "" {
		http.Redirect(w, r, "/docs", http.StatusMovedPermanently)
		return
	}
	a, ok := s.assets[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h.Set("Content-Type", a.contentType)
	h.Set("ETag", `"`+a.version+`"`)
	if r.URL.Query().Get("v") == a.version {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}

// contentType is decided here rather than by the mime package, whose
// answers depend on the host's MIME tables.
func contentType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".png":
		return "image/png"
	default: // licence texts
		return "text/plain; charset=utf-8"
	}
}
