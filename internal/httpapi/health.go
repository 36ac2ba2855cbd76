package httpapi

import (
	"github.com/paygate/paygate/internal/webassets"

	"context"
	"crypto/sha256"
	"crypto/subtle"
	"log/slog"
	"net/http"
	"time"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/logging"
)

type status struct {
	Status string `json:"status"`
}

// handleHealthz answers while the process serves: liveness.
func handleHealthz() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = encode(w, http.StatusOK, status{"ok"})
	})
}

// handleReadyz answers 200 only while the database answers: readiness.
func handleReadyz(log *slog.Logger, db Pinger) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := db.Ping(ctx); err != nil {
			log.ErrorContext(r.Context(), "database unavailable", "check", "readiness", "error", err.Error(), logging.Episode("database"))
			return &apierror.Error{Kind: apierror.KindUnavailable, Code: "database_unavailable", Message: "The database is unavailable."}
		}
		return encode(w, http.StatusOK, status{"ready"})
	})
}

// handleMetrics serves the Prometheus metrics; without an exporter it is a
// JSON 404 like any unknown route. With a token, a scraper must send it as
// a bearer token (compared in constant time): the metrics tell business
// volumes, and some deployments cannot keep the path off the internet.
func handleMetrics(exporter http.Handler, token string) http.Handler {
	if exporter != nil && token != "" {
		want := sha256.Sum256([]byte(token))
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got, _ := bearer(r)
			sum := sha256.Sum256([]byte(got))
			if subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
				respondErr(w, r, slog.New(slog.DiscardHandler), &apierror.Error{Kind: apierror.KindAuthentication,
					Code: "metrics_token_invalid", Message: "Send the metrics token: Authorization: Bearer $PAYGATE_METRICS_TOKEN."})
				return
			}
			exporter.ServeHTTP(w, r)
		})
	}
	if exporter != nil {
		return exporter
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		respondErr(w, r, slog.New(slog.DiscardHandler), apierror.NotFound("route", "/metrics"))
	})
}

// MetricsOnly is the handler of a listener of its own for the metrics
// (PAYGATE_METRICS_ADDR): GET /metrics, with the token when one is set, and
// nothing else.
func MetricsOnly(exporter http.Handler, token string) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", handleMetrics(exporter, token))
	return mux
}

// handleOpenAPI serves the OpenAPI document.
func handleOpenAPI(doc []byte) http.Handler {
	// About 200 KB: sent gzip-compressed (compressed once) with an ETag,
	// since Swagger UI at /docs loads it on every visit.
	return webassets.FromBytes("/", map[string][]byte{"openapi.json": doc})
}
