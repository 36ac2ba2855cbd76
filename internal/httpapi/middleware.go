package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/ids"
	"github.com/paygate/paygate/internal/logging"
	"github.com/paygate/paygate/internal/merchants"
	"github.com/paygate/paygate/internal/tenant"
)

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logRequests gives every request an id, sends it back as Request-Id, and
// writes one log line when the request ends.
//
// metrics, when not nil, hears of every answered request.
func logRequests(log *slog.Logger, metrics RequestObserver, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &logging.RequestInfo{ID: ids.New(ids.Request)}
		w.Header().Set("Request-Id", info.ID)
		r = r.WithContext(logging.WithRequest(r.Context(), info))
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		level := slog.LevelInfo
		switch {
		case sw.status == http.StatusServiceUnavailable:
			// A fault outside the gateway (the database is away): its
			// cause is an error logged once per episode; each answer
			// is a warning.
			level = slog.LevelWarn
		case sw.status >= 500:
			level = slog.LevelError
		}
		method := methodLabel(r.Method)
		if metrics != nil {
			_, path, _ := strings.Cut(route, " ")
			if path == "" {
				path = route
			}
			metrics.ObserveRequest(path, method, sw.status, time.Since(start))
		}
		log.LogAttrs(r.Context(), level, "request",
			slog.String("method", method), slog.String("route", route), slog.Int("status", sw.status),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			slog.String("merchant_id", info.MerchantID), slog.Int("bytes", sw.bytes))
	})
}

// methodLabel is a request's method as logs and metrics show it: one of a
// fixed set. A client may send any token as a method; each new one would
// otherwise be a new metric series, kept for the life of the process.
// (The route is fixed too: a pattern of routes.go, or "unmatched".)
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete, http.MethodPut, http.MethodHead, http.MethodOptions:
		return m
	}
	return "other"
}

// RequestObserver records answered requests (package metrics).
type RequestObserver interface {
	ObserveRequest(route, method string, status int, d time.Duration)
}

// recoverPanics turns a panic into a logged 500 instead of a dropped
// connection.
func recoverPanics(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.ErrorContext(r.Context(), "panic", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				respondErr(w, r, log, errors.New("panic"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// discardWriter keeps the mux's plain-text 404 and 405 bodies from the
// client, keeping its status and headers (Allow) for a JSON error.
type discardWriter struct {
	header http.Header
	status int
}

func (d *discardWriter) Header() http.Header         { return d.header }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(code int)        { d.status = code }

// jsonErrorsForMux renders the mux's own 404 and 405 answers in the API's
// error format.
func jsonErrorsForMux(mux *http.ServeMux, log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			next.ServeHTTP(w, r)
			return
		}
		d := &discardWriter{header: http.Header{}}
		h.ServeHTTP(d, r)
		switch d.status {
		case http.StatusMethodNotAllowed:
			w.Header().Set("Allow", d.header.Get("Allow"))
			respondErr(w, r, log, &apierror.Error{Kind: apierror.KindMethodNotAllowed, Code: "method_not_allowed",
				Message: fmt.Sprintf("%s is not allowed on %s.", r.Method, r.URL.Path)})
		case http.StatusNotFound, 0:
			respondErr(w, r, log, &apierror.Error{Kind: apierror.KindNotFound, Code: "route_not_found",
				Message: fmt.Sprintf("Unrecognized request URL (%s %s).", r.Method, r.URL.Path)})
		default: // redirects to the clean path
			for k, v := range d.header {
				w.Header()[k] = v
			}
			w.WriteHeader(d.status)
		}
	})
}

type accountKey struct{}

// accountFrom is the merchant the request acts for; requireMerchant put
// it there.
func accountFrom(ctx context.Context) tenant.Account {
	a, _ := ctx.Value(accountKey{}).(tenant.Account)
	return a
}

func bearer(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// keyFinder finds a live key by the hash of its secret, and records its use.
type keyFinder interface {
	KeyBySecretHash(ctx context.Context, hash []byte) (*merchants.Key, error)
	TouchKey(ctx context.Context, id string, now time.Time) error
}

// Limiter decides whether a request may proceed; see package ratelimit.
type Limiter interface {
	AllowKey(keyID string) (bool, time.Duration)
	AllowAddress(addr string) (bool, time.Duration)
	AllowAttempt(keyID string) (bool, time.Duration)
}

// noLimits is the Limiter of a server configured without one.
type noLimits struct{}

func (noLimits) AllowKey(string) (bool, time.Duration)     { return true, 0 }
func (noLimits) AllowAddress(string) (bool, time.Duration) { return true, 0 }
func (noLimits) AllowAttempt(string) (bool, time.Duration) { return true, 0 }

func rateLimited(w http.ResponseWriter, r *http.Request, log *slog.Logger, wait time.Duration, msg string) {
	w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
	respondErr(w, r, log, &apierror.Error{Kind: apierror.KindRateLimited, Code: "rate_limited", Message: msg})
}

// findClient records the client's address in the request's info, for the
// per-address limit and audit entries. It is the TCP peer's, unless the
// peer is a trusted proxy (PAYGATE_TRUSTED_PROXIES): then it is the
// right-most X-Forwarded-For entry that is not itself a trusted proxy. The
// entries left of it are whatever the client wrote, so they are never
// believed. The address is parsed and printed anew, so what a client sends
// cannot become a key of any size.
func findClient(trusted []netip.Prefix, next http.Handler) http.Handler {
	isTrusted := func(a netip.Addr) bool {
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if info := logging.Request(r.Context()); info != nil {
			info.ClientIP = clientAddr(r, trusted, isTrusted)
		}
		next.ServeHTTP(w, r)
	})
}

// maxForwardHops bounds how far left in X-Forwarded-For the search goes.
const maxForwardHops = 16

func clientAddr(r *http.Request, trusted []netip.Prefix, isTrusted func(netip.Addr) bool) string {
	peer, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		return host
	}
	client := peer.Addr().Unmap()
	if len(trusted) == 0 || !isTrusted(client) {
		return client.String()
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0 && i >= len(hops)-maxForwardHops; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			break // not an address: the last trusted hop is what we know
		}
		client = a
		if !isTrusted(a) {
			break
		}
	}
	return client.String()
}

// parseHop reads one X-Forwarded-For entry: an address, perhaps with a port.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

// limitAddresses applies the per-address limit to every request, before
// authentication, so that a scan of keys is slowed too. The address is
// the client's as findClient found it.
func limitAddresses(log *slog.Logger, limits Limiter, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var host string
		if info := logging.Request(r.Context()); info != nil {
			host = info.ClientIP
		}
		if host == "" {
			host, _, _ = net.SplitHostPort(r.RemoteAddr)
		}
		if ok, wait := limits.AllowAddress(host); !ok {
			rateLimited(w, r, log, wait, "Too many requests from this address; slow down and retry after Retry-After seconds.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// limitAttempts slows down payment attempts of a key whose payments are
// declined again and again: the pattern of card testing.
func limitAttempts(log *slog.Logger, limits Limiter, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ok, wait := limits.AllowAttempt(accountFrom(r.Context()).KeyID); !ok {
			rateLimited(w, r, log, wait, "Too many declined payments with this API key recently; payment attempts are slowed down.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// secureHeaders sets the headers every answer carries: API answers are
// never sniffed, framed, cached or sent as a referrer; over https, browsers
// are told to keep to it. hsts says the server is reached over https even
// when the request is not TLS here (a proxy in front ends TLS, and
// PAYGATE_PUBLIC_URL is https). A handler may set its own (the docs page
// sets a policy that lets its scripts run).
func secureHeaders(hsts bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		if hsts || r.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}

// bounded puts a deadline on every request's context, so that no request
// waits for ever on a database that stopped answering (a half-open
// connection: no reset, no refusal); the store reports the deadline as the
// database unavailable (503).
func bounded(d time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), d)
		defer cancel()
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// requireMerchant authenticates a secret API key and applies its rate limit.
func requireMerchant(log *slog.Logger, keys keyFinder, limits Limiter, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secret, ok := bearer(r)
		if !ok {
			respondErr(w, r, log, &apierror.Error{Kind: apierror.KindAuthentication, Code: "api_key_missing",
				Message: "No API key provided: send Authorization: Bearer sk_test_…"})
			return
		}
		invalid := &apierror.Error{Kind: apierror.KindAuthentication, Code: "api_key_invalid", Message: "Invalid API key provided."}
		if !merchants.LooksLikeSecret(secret) {
			respondErr(w, r, log, invalid)
			return
		}
		k, err := keys.KeyBySecretHash(r.Context(), merchants.HashSecret(secret))
		if errors.Is(err, merchants.ErrNotFound) {
			respondErr(w, r, log, invalid)
			return
		}
		if err != nil {
			respondErr(w, r, log, err)
			return
		}
		if info := logging.Request(r.Context()); info != nil {
			info.MerchantID = k.MerchantID
		}
		if ok, wait := limits.AllowKey(k.ID); !ok {
			rateLimited(w, r, log, wait, "Too many requests with this API key; slow down and retry after Retry-After seconds.")
			return
		}
		// Recorded at most once a minute, so authentication stays a read.
		if now := time.Now(); k.LastUsedAt == nil || now.Sub(*k.LastUsedAt) > time.Minute {
			if err := keys.TouchKey(r.Context(), k.ID, now.UTC()); err != nil {
				log.WarnContext(r.Context(), "api key last use not recorded", "api_key_id", k.ID, "error", err.Error())
			}
		}
		ctx := context.WithValue(r.Context(), accountKey{}, tenant.Account{Scope: tenant.Of(k.MerchantID, k.Livemode), KeyID: k.ID})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// requireAdmin checks the admin token in constant time (comparing hashes,
// so not even the token's length leaks).
func requireAdmin(log *slog.Logger, token string, next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token == "" {
			respondErr(w, r, log, &apierror.Error{Kind: apierror.KindAuthentication, Code: "admin_api_disabled",
				Message: "The admin API is disabled: set PAYGATE_ADMIN_TOKEN to enable it."})
			return
		}
		got, ok := bearer(r)
		sum := sha256.Sum256([]byte(got))
		if !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			respondErr(w, r, log, &apierror.Error{Kind: apierror.KindAuthentication, Code: "admin_token_invalid",
				Message: "Invalid or missing admin token."})
			return
		}
		next.ServeHTTP(w, r)
	})
}
