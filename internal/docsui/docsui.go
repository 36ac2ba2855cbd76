// Package docsui serves Swagger UI for the OpenAPI document at
// /openapi.json. Swagger UI's files are vendored and embedded, so the page
// works on a server without internet access.
package docsui

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/paygate/paygate/internal/webassets"
)

//go:embed page swagger-ui/*.js swagger-ui/*.css swagger-ui/*.png swagger-ui/*.txt swagger-ui/LICENSE swagger-ui/NOTICE
var files embed.FS

// Swagger UI needs data: images (its icons are in its CSS) and nothing
// from another host; its only script is ours, loaded from a file, so
// nothing inline runs even if the document's Markdown let it through.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

type site struct {
	page   []byte
	assets *webassets.Set
}

// Handler serves the page at GET /docs and its assets at
// GET /docs/{file...}. Register it for both patterns. The assets are sent
// gzip-compressed to browsers that accept it (Swagger UI's bundle is
// 1.7 MB, about 0.5 MB compressed), each compressed once.
func Handler() http.Handler {
	assets, err := webassets.New("/docs/", files, func(name string) bool { return name == "page/index.html" })
	if err != nil {
		panic("docsui: " + err.Error()) // the files are embedded: only a broken build gets here
	}
	s := &site{assets: assets}
	tmpl := template.Must(template.New("index.html").Funcs(template.FuncMap{"asset": assets.URL}).ParseFS(files, "page/index.html"))
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
	s.assets.ServeHTTP(w, r)
}
