// Package webassets serves the static files embedded in the binary (the
// checkout page's style and script, Swagger UI's bundle) as a browser
// wants them: each under a URL that carries a hash of its content, cached
// for a year as immutable under that URL (and revalidated by ETag without
// it), and sent gzip-compressed to clients that accept it. A file is
// compressed once, the first time it is asked for, and kept: no request
// pays for compression after the first.
package webassets

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

// Set is a set of files served under one path prefix.
type Set struct {
	prefix string
	files  map[string]*file
}

type file struct {
	body        []byte
	contentType string
	version     string // a hash of body: URLs carry it, so a cached copy is never stale

	once sync.Once
	gz   []byte // body gzip-compressed, when that is smaller; nil otherwise
}

// New serves every regular file of fsys under prefix (which ends with
// "/"), by its base name; two files of one name are an error. skip, when
// not nil, leaves out the files it names (by path in fsys).
func New(prefix string, fsys fs.FS, skip func(name string) bool) (*Set, error) {
	s := &Set{prefix: prefix, files: map[string]*file{}}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || (skip != nil && skip(name)) {
			return err
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		base := path.Base(name)
		if _, dup := s.files[base]; dup {
			return fmt.Errorf("webassets: two files named %s", base)
		}
		sum := sha256.Sum256(body)
		s.files[base] = &file{body: body, contentType: ContentType(base), version: hex.EncodeToString(sum[:8])}
		return nil
	})
	return s, err
}

// FromBytes serves files given by name and content under prefix (a
// document built at start, such as /openapi.json).
func FromBytes(prefix string, files map[string][]byte) *Set {
	s := &Set{prefix: prefix, files: map[string]*file{}}
	for name, body := range files {
		sum := sha256.Sum256(body)
		s.files[name] = &file{body: body, contentType: ContentType(name), version: hex.EncodeToString(sum[:8])}
	}
	return s
}

// URL is the address of a file: the prefix, its name and its version.
func (s *Set) URL(name string) (string, error) {
	f, ok := s.files[name]
	if !ok {
		return "", fmt.Errorf("webassets: no file %s", name)
	}
	return s.prefix + name + "?v=" + f.version, nil
}

// Body is a file's content as embedded.
func (s *Set) Body(name string) ([]byte, bool) {
	f, ok := s.files[name]
	if !ok {
		return nil, false
	}
	return f.body, true
}

// compressed is the file's gzip form, made the first time it is needed.
func (f *file) compressed() []byte {
	f.once.Do(func() {
		if !compressible(f.contentType) || len(f.body) < 256 {
			return
		}
		var b bytes.Buffer
		w, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		_, _ = w.Write(f.body)
		if w.Close() == nil && b.Len() < len(f.body) {
			f.gz = b.Bytes()
		}
	})
	return f.gz
}

func compressible(contentType string) bool {
	return strings.HasPrefix(contentType, "text/") || strings.HasPrefix(contentType, "image/svg") || strings.Contains(contentType, "json")
}

// ServeHTTP serves the file the path names after the prefix.
func (s *Set) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name, ok := strings.CutPrefix(r.URL.Path, s.prefix)
	f := s.files[name]
	if !ok || f == nil {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Type", f.contentType)
	if r.URL.Query().Get("v") == f.version {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	body, etag := f.body, f.version
	if compressible(f.contentType) {
		h.Add("Vary", "Accept-Encoding")
		if gz := f.compressed(); gz != nil && AcceptsGzip(r.Header.Get("Accept-Encoding")) {
			// The compressed form is another representation: its own ETag.
			body, etag = gz, f.version+"-gz"
			h.Set("Content-Encoding", "gzip")
		}
	}
	h.Set("ETag", `"`+etag+`"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// AcceptsGzip tells whether an Accept-Encoding header value admits gzip
// (gzip or *, without q=0).
func AcceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		if coding != "gzip" && coding != "x-gzip" && coding != "*" {
			continue
		}
		q := strings.ReplaceAll(strings.ToLower(params), " ", "")
		if q == "q=0" || q == "q=0.0" || q == "q=0.00" || q == "q=0.000" {
			continue
		}
		return true
	}
	return false
}

// ContentType is decided here rather than by the mime package, whose
// answers depend on the host's MIME tables.
func ContentType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".png":
		return "image/png"
	case ".svg":
		return "image/svg+xml"
	case ".json":
		return "application/json"
	case ".html":
		return "text/html; charset=utf-8"
	default: // licence texts
		return "text/plain; charset=utf-8"
	}
}
