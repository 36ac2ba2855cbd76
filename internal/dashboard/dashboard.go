// Package dashboard is the merchant dashboard at /dashboard (SPEC §10):
// server-rendered pages (html/template) for a merchant's staff, with htmx
// for partial updates and uPlot for the volume chart, both vendored and
// embedded. It reads and changes nothing itself: every page calls the same
// services as the API (payments, refunds, webhooks, routing, customers,
// checkout sessions), scoped to the signed-in user's merchant and the
// session's mode, so another merchant's object, or the other mode's, is a
// 404 here as there.
package dashboard

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/paygate/paygate/internal/audit"
	"github.com/paygate/paygate/internal/checkout"
	"github.com/paygate/paygate/internal/customers"
	"github.com/paygate/paygate/internal/events"
	"github.com/paygate/paygate/internal/ledger"
	"github.com/paygate/paygate/internal/merchants"
	"github.com/paygate/paygate/internal/payments"
	"github.com/paygate/paygate/internal/refunds"
	"github.com/paygate/paygate/internal/routing"
	"github.com/paygate/paygate/internal/staff"
	"github.com/paygate/paygate/internal/tenant"
	"github.com/paygate/paygate/internal/webassets"
	"github.com/paygate/paygate/internal/webhooks"
)

// Ledger reads balances and daily volumes.
type Ledger interface {
	LedgerSums(ctx context.Context, scope tenant.Scope) ([]ledger.Sum, error)
	DailyVolumes(ctx context.Context, scope tenant.Scope, days int, now time.Time) ([]ledger.DayVolume, error)
}

// Events reads the event log.
type Events interface {
	Events(ctx context.Context, scope tenant.Scope, q events.ListQuery) ([]*events.Event, bool, error)
}

// Keys manages a merchant's API keys.
type Keys interface {
	APIKeys(ctx context.Context, scope tenant.Scope) ([]*merchants.Key, error)
	APIKey(ctx context.Context, scope tenant.Scope, id string) (*merchants.Key, error)
	CreateKey(ctx context.Context, k *merchants.Key, ev audit.Event) error
	RevokeKey(ctx context.Context, id string, ev audit.Event) (*merchants.Key, error)
}

// Auditor records the dashboard's actions.
type Auditor interface {
	AppendAudit(ctx context.Context, ev audit.Event) error
}

// Deps are the services the dashboard calls.
type Deps struct {
	Payments  *payments.Service
	Refunds   *refunds.Service
	Webhooks  *webhooks.Service
	Routing   *routing.Service
	Customers *customers.Service
	Checkout  *checkout.Service
	Staff     *staff.Service
	Ledger    Ledger
	Events    Events
	Keys      Keys
	Audit     Auditor
}

// Options configure the dashboard.
type Options struct {
	// SecureCookies marks cookies Secure: the server is reached over
	// https (its own TLS, or an https PAYGATE_PUBLIC_URL). Requests that
	// arrive over TLS get Secure cookies anyway.
	SecureCookies bool
}

type dashboard struct {
	log    *slog.Logger
	d      Deps
	opt    Options
	assets *webassets.Set
	pages  *templates
}

// New returns the dashboard's handler, for /dashboard and /dashboard/.
func New(log *slog.Logger, opt Options, d Deps) http.Handler {
	s := &dashboard{log: log, d: d, opt: opt, assets: loadAssets()}
	s.pages = parseTemplates(s.assets)
	mux := http.NewServeMux()
	viewer := func(h pageFunc) http.Handler { return s.signedIn(staff.Viewer, h) }
	admin := func(h pageFunc) http.Handler { return s.signedIn(staff.Admin, h) }

	mux.Handle("GET /dashboard/static/{name}", s.assets)
	mux.HandleFunc("GET /dashboard", s.home)
	mux.HandleFunc("GET /dashboard/{$}", s.home)
	mux.HandleFunc("GET /dashboard/signin", s.signInPage)
	mux.HandleFunc("POST /dashboard/signin", s.signIn)
	mux.Handle("POST /dashboard/signout", viewer(s.signOut))
	mux.Handle("GET /dashboard/password", viewer(s.passwordPage))
	mux.Handle("POST /dashboard/password", viewer(s.changePassword))
	mux.Handle("POST /dashboard/mode", viewer(s.switchMode))

	mux.Handle("GET /dashboard/payments", viewer(s.paymentList))
	mux.Handle("GET /dashboard/payments/{id}", viewer(s.paymentPage))
	mux.Handle("POST /dashboard/payments/{id}/capture", admin(s.capture))
	mux.Handle("POST /dashboard/payments/{id}/cancel", admin(s.cancel))
	mux.Handle("POST /dashboard/payments/{id}/refund", admin(s.refund))
	mux.Handle("GET /dashboard/refunds", viewer(s.refundList))
	mux.Handle("GET /dashboard/balance", viewer(s.balancePage))
	mux.Handle("GET /dashboard/customers", viewer(s.customerList))
	mux.Handle("GET /dashboard/customers/{id}", viewer(s.customerPage))
	mux.Handle("GET /dashboard/webhooks", viewer(s.endpointList))
	mux.Handle("POST /dashboard/webhooks", admin(s.createEndpoint))
	mux.Handle("GET /dashboard/webhooks/{id}", viewer(s.endpointPage))
	mux.Handle("POST /dashboard/webhooks/{id}/status", admin(s.setEndpointStatus))
	mux.Handle("POST /dashboard/webhooks/{id}/rotate", admin(s.rotateSecret))
	mux.Handle("POST /dashboard/webhooks/{id}/redeliver", admin(s.redeliver))
	mux.Handle("GET /dashboard/connectors", viewer(s.connectorsPage))
	mux.Handle("GET /dashboard/keys", viewer(s.keysPage))
	mux.Handle("POST /dashboard/keys", admin(s.issueKey))
	mux.Handle("POST /dashboard/keys/{id}/revoke", admin(s.revokeKey))
	mux.Handle("GET /dashboard/checkout_sessions", viewer(s.checkoutSessionList))
	mux.Handle("GET /dashboard/checkout_sessions/{id}", viewer(s.checkoutSessionPage))
	mux.Handle("POST /dashboard/checkout_sessions/{id}/expire", admin(s.expireCheckoutSession))

	mux.HandleFunc("/dashboard/", s.notFound)
	return mux
}
