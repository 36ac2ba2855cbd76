// Package httpapi is paygate's HTTP interface: routing, authentication,
// request decoding, error rendering and request logging. Business rules
// live in the domain packages it calls.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/paygate/paygate/internal/audit"
	"github.com/paygate/paygate/internal/checkout"
	"github.com/paygate/paygate/internal/customers"
	"github.com/paygate/paygate/internal/idempotency"
	"github.com/paygate/paygate/internal/merchants"
	"github.com/paygate/paygate/internal/payments"
	"github.com/paygate/paygate/internal/refunds"
	"github.com/paygate/paygate/internal/routing"
	"github.com/paygate/paygate/internal/staff"
	"github.com/paygate/paygate/internal/webhooks"
)

// Config is what the HTTP layer needs to know of the configuration.
type Config struct {
	AdminToken string // empty: the admin API is off
	OpenAPI    []byte // the OpenAPI document, as JSON
	// Lease is how long an idempotency key stays locked by its request; a
	// mutating request gets half of it to finish. 0 means 30 seconds.
	Lease time.Duration
	// Limiter applies rate limits; nil means none.
	Limiter Limiter
	// Metrics, when set, hears of every answered request, and Exporter
	// serves GET /metrics.
	Metrics  RequestObserver
	Exporter http.Handler
	// MetricsToken, when set, is the bearer token /metrics requires.
	MetricsToken string
	// TrustedProxies are the peers whose X-Forwarded-For names the client.
	TrustedProxies []netip.Prefix
	// HSTS sends Strict-Transport-Security on every answer: the server is
	// reached over https (its own TLS, or a proxy's: PAYGATE_PUBLIC_URL).
	HSTS bool
	// Sealer encrypts the stored answers that show a secret (a webhook
	// endpoint's signing secret, a payment's customer link), for
	// idempotent replay.
	Sealer Sealer
	// RequestTimeout bounds a request's use of the database (default
	// 10 s): past it, a read stalled on a connection that stopped
	// answering is 503. A mutating request runs under its own deadline,
	// half the Lease, once it is authenticated.
	RequestTimeout time.Duration
	// Hasher identifies requests under an Idempotency-Key (required): a
	// keyed hash, so the stored hash of a body holding a card number tells
	// a reader of the database nothing.
	Hasher *idempotency.Hasher
}

// Accounts is the merchant and key storage the API uses.
type Accounts interface {
	KeyBySecretHash(ctx context.Context, hash []byte) (*merchants.Key, error)
	TouchKey(ctx context.Context, id string, now time.Time) error
	CreateMerchant(ctx context.Context, m *merchants.Merchant, ev audit.Event) error
	CreateKey(ctx context.Context, k *merchants.Key, ev audit.Event) error
	RevokeKey(ctx context.Context, id string, ev audit.Event) (*merchants.Key, error)
	AuditEvents(ctx context.Context, q audit.ListQuery) ([]*audit.Event, bool, error)
}

// Pinger reports whether the database answers.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Deps are the services and stores the API calls. One database usually
// serves as all of Accounts, Keys, Ledger, Events and DB.
type Deps struct {
	Payments *payments.Service
	Refunds  *refunds.Service
	Webhooks *webhooks.Service
	Routing  *routing.Service // connector accounts and routing
	// Customers manages customers; their saved methods are Payments'.
	Customers *customers.Service
	// Processors finds the account a processor's webhook names.
	Processors ProcessorAccounts
	Accounts   Accounts         // merchants, API keys, the audit log
	Keys       IdempotencyStore // Idempotency-Key records and their answers
	Ledger     LedgerReader     // balances
	Events     EventStore       // the event log
	DB         Pinger           // readiness

	// Checkout manages checkout sessions and their pages (issue 22).
	Checkout *checkout.Service
	// The dashboard (issue 23): its staff users for the admin API, and
	// its handler, served under /dashboard; nil: no dashboard.
	Staff     *staff.Service
	Dashboard http.Handler
}

// NewServer returns the API's root handler.
func NewServer(log *slog.Logger, cfg Config, deps Deps) http.Handler {
	if cfg.Lease <= 0 {
		cfg.Lease = 30 * time.Second
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	if cfg.Hasher == nil {
		panic("httpapi: Config.Hasher is required")
	}
	if cfg.Limiter == nil {
		cfg.Limiter = noLimits{}
	}
	mux := http.NewServeMux()
	addRoutes(mux, log, cfg, deps)
	var h http.Handler = mux
	h = jsonErrorsForMux(mux, log, h)
	h = limitAddresses(log, cfg.Limiter, h)
	h = secureHeaders(cfg.HSTS, h)
	h = recoverPanics(log, h)
	h = findClient(cfg.TrustedProxies, h)
	h = logRequests(log, cfg.Metrics, h)
	// Outermost: between logRequests and the mux, no handler may replace
	// the request (the mux records the route on the one it is given).
	h = bounded(cfg.RequestTimeout, h)
	return h
}
