package httpapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/ids"
	"github.com/paygate/paygate/internal/logging"
	"github.com/paygate/paygate/internal/merchants"
	"github.com/paygate/paygate/internal/payments"
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
func logRequests(log *slog.Logger, next http.Handler) http.Handler {
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
		if sw.status >= 500 {
			level = slog.LevelError
		}
		log.LogAttrs(r.Context(), level, "request",
			slog.String("method", r.Method), slog.String("route", route), slog.Int("status", sw.status),
			slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
			slog.String("merchant_id", info.MerchantID), slog.Int("bytes", sw.bytes))
	})
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
func accountFrom(ctx context.Context) payments.Account {
	a, _ := ctx.Value(accountKey{}).(payments.Account)
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

// keyFinder finds a live key by the hash of its secret.
type keyFinder interface {
	KeyBySecretHash(ctx context.Context, hash []byte) (*merchants.Key, error)
}

// requireMerchant authenticates a secret API key.
func requireMerchant(log *slog.Logger, keys keyFinder, next http.Handler) http.Handler {
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
		ctx := context.WithValue(r.Context(), accountKey{}, payments.Account{MerchantID: k.MerchantID, Livemode: k.Livemode})
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
