// Package logging builds paygate's structured logger. Every record made
// with a request's context carries that request's id and merchant, so a
// line can be tied to the request that caused it, and no record can write
// a card number (see redactHandler).
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

type ctxKey struct{}

// RequestInfo is what a request's log lines share. The merchant is filled
// in by authentication, after the request started; the route by the mux.
type RequestInfo struct {
	ID         string
	MerchantID string
	Route      string
	// ClientIP is the client's address: the TCP peer's, or, behind a
	// trusted proxy, the one it forwarded (httpapi finds it). Rate limits
	// per address and audit entries use it.
	ClientIP string
}

// WithRequest returns a context that carries info.
func WithRequest(ctx context.Context, info *RequestInfo) context.Context {
	return context.WithValue(ctx, ctxKey{}, info)
}

// Request returns the info a context carries, or nil.
func Request(ctx context.Context) *RequestInfo {
	info, _ := ctx.Value(ctxKey{}).(*RequestInfo)
	return info
}

// ParseLevel parses debug, info, warn or error.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "", "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("must be debug, info, warn or error, not %q", s)
}

// New returns a logger writing format ("json" or "text") to w. Every
// record passes the card-number filter (redactHandler) last, so attributes
// added on the way, such as the request id, are filtered too. A record
// marked with Episode is written once per episode of its fault.
func New(w io.Writer, level slog.Level, format string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	if format == "text" {
		h = slog.NewTextHandler(w, opts)
	} else {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(episodeHandler{requestHandler{redactHandler{next: h, json: format != "text"}}, &episodes{last: map[string]time.Time{}}})
}

// requestHandler adds the request id to records made within a request.
type requestHandler struct{ slog.Handler }

func (h requestHandler) Handle(ctx context.Context, r slog.Record) error {
	if info := Request(ctx); info != nil {
		r.AddAttrs(slog.String("request_id", info.ID))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestHandler) WithGroup(name string) slog.Handler {
	return requestHandler{h.Handler.WithGroup(name)}
}
