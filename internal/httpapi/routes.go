package httpapi

import (
	"log/slog"
	"net/http"

	"github.com/paygate/paygate/internal/checkoutui"
	"github.com/paygate/paygate/internal/docsui"
)

// addRoutes lists every route of the API.
func addRoutes(mux *http.ServeMux, log *slog.Logger, cfg Config, d Deps) {
	pay, refs, hooks, accounts, books, evs, cust := d.Payments, d.Refunds, d.Webhooks, d.Accounts, d.Ledger, d.Events, d.Customers
	merchant := func(h http.Handler) http.Handler { return requireMerchant(log, accounts, cfg.Limiter, h) }
	attempt := func(h http.Handler) http.Handler { return limitAttempts(log, cfg.Limiter, h) }
	admin := func(h http.Handler) http.Handler { return requireAdmin(log, cfg.AdminToken, h) }
	// Every mutating merchant route takes Idempotency-Key. Answers that
	// show a secret are stored sealed: a webhook endpoint's signing secret
	// always, a payment's customer link when it has one. A create's key is
	// written by the transaction that creates the object (one commit fewer
	// on the hottest calls).
	keys := keyed{log: log, store: d.Keys, lease: cfg.Lease, hasher: cfg.Hasher}
	plain := keys
	payment := keys.sealed(answerSealing{sealer: cfg.Sealer, when: showsCustomerLink})
	secret := keys.sealed(answerSealing{sealer: cfg.Sealer, always: true})

	mux.Handle("POST /v1/payments", merchant(attempt(handleCreate(payment.creating(), pay.Create))))
	mux.Handle("GET /v1/payments", merchant(handlePaymentList(log, pay)))
	mux.Handle("GET /v1/payments/{id}", merchant(handleGet(log, pay.Get)))
	mux.Handle("PATCH /v1/payments/{id}", merchant(handleAction(payment, keylessAction(pay.Update))))
	mux.Handle("POST /v1/payments/{id}/confirm", merchant(attempt(handleAction(payment, pay.Confirm))))
	mux.Handle("POST /v1/payments/{id}/capture", merchant(handleAction(payment, pay.Capture)))
	mux.Handle("POST /v1/payments/{id}/cancel", merchant(handleAction(payment, pay.Cancel)))

	mux.Handle("POST /v1/payment_methods", merchant(handleCreate(plain, keyless(pay.CreateMethod))))
	mux.Handle("GET /v1/payment_methods/{id}", merchant(handleGet(log, pay.Method)))
	mux.Handle("POST /v1/payment_methods/{id}/attach", merchant(handleAction(plain, keylessAction(pay.AttachMethod))))
	mux.Handle("POST /v1/payment_methods/{id}/detach", merchant(handleAction(plain, keylessAction(pay.DetachMethod))))

	mux.Handle("POST /v1/customers", merchant(handleCreate(plain, keyless(cust.Create))))
	mux.Handle("GET /v1/customers", merchant(handleCustomerList(log, cust)))
	mux.Handle("GET /v1/customers/{id}", merchant(handleGet(log, cust.Get)))
	mux.Handle("PATCH /v1/customers/{id}", merchant(handleAction(plain, keylessAction(cust.Update))))
	mux.Handle("DELETE /v1/customers/{id}", merchant(handleAction(plain, keylessAction(cust.Delete))))
	mux.Handle("GET /v1/customers/{id}/payment_methods", merchant(handleCustomerMethods(log, pay)))

	mux.Handle("POST /v1/refunds", merchant(handleCreate(plain.creating(), refs.Create)))
	mux.Handle("GET /v1/refunds", merchant(handleRefundList(log, refs)))
	mux.Handle("GET /v1/refunds/{id}", merchant(handleGet(log, refs.Get)))

	mux.Handle("GET /v1/payments/{id}/attempts", merchant(handleAttemptsOfPayment(log, pay)))

	mux.Handle("POST /v1/connector_accounts", merchant(handleCreate(plain, keyless(d.Routing.Create))))
	mux.Handle("GET /v1/connector_accounts", merchant(handleConnectorAccountList(log, d.Routing)))
	mux.Handle("GET /v1/connector_accounts/{id}", merchant(handleGet(log, d.Routing.Get)))
	mux.Handle("PATCH /v1/connector_accounts/{id}", merchant(handleAction(plain, keylessAction(d.Routing.Update))))
	mux.Handle("DELETE /v1/connector_accounts/{id}", merchant(handleAction(plain, keylessAction(d.Routing.Delete))))
	mux.Handle("PUT /v1/routing", merchant(handlePut(plain, d.Routing.PutRouting)))
	mux.Handle("GET /v1/routing", merchant(handleRead(log, d.Routing.Routing)))
	// A processor's own notifications: verified by its signature, no key.
	mux.Handle("POST /v1/connector_webhooks/{ca_id}", handleConnectorWebhook(log, d.Processors, pay, refs))

	mux.Handle("GET /v1/balance", merchant(handleBalance(log, books)))

	mux.Handle("GET /v1/events", merchant(handleEventList(log, evs)))
	mux.Handle("GET /v1/events/{id}", merchant(handleGet(log, getEvent(evs))))

	mux.Handle("POST /v1/webhook_endpoints", merchant(handleCreate(secret, keyless(hooks.Create))))
	mux.Handle("GET /v1/webhook_endpoints", merchant(handleEndpointList(log, hooks)))
	mux.Handle("GET /v1/webhook_endpoints/{id}", merchant(handleGet(log, hooks.Get)))
	mux.Handle("PATCH /v1/webhook_endpoints/{id}", merchant(handleAction(plain, keylessAction(hooks.Update))))
	mux.Handle("DELETE /v1/webhook_endpoints/{id}", merchant(handleAction(plain, keylessAction(hooks.Delete))))
	mux.Handle("POST /v1/webhook_endpoints/{id}/rotate_secret", merchant(handleAction(secret, keylessAction(hooks.RotateSecret))))
	mux.Handle("GET /v1/webhook_endpoints/{id}/deliveries", merchant(handleDeliveryList(log, hooks)))
	mux.Handle("GET /v1/webhook_endpoints/{id}/attempts", merchant(handleAttemptList(log, hooks)))
	mux.Handle("POST /v1/webhook_endpoints/{id}/redeliver", merchant(handleAction(plain, keylessAction(hooks.Redeliver))))

	mux.Handle("POST /v1/merchants", admin(handleMerchantCreate(log, accounts)))
	mux.Handle("POST /v1/merchants/{id}/api_keys", admin(handleKeyCreate(log, accounts)))
	mux.Handle("DELETE /v1/api_keys/{id}", admin(handleKeyRevoke(log, accounts)))
	mux.Handle("GET /v1/audit_events", admin(handleAuditList(log, accounts)))

	mux.Handle("GET /healthz", handleHealthz())
	mux.Handle("GET /readyz", handleReadyz(log, d.DB))
	mux.Handle("GET /openapi.json", handleOpenAPI(cfg.OpenAPI))
	mux.Handle("GET /metrics", handleMetrics(cfg.Exporter, cfg.MetricsToken))

	// The sandbox's customer pages (3-D Secure, PayPal approval).
	pages := newActionPages(log, pay)
	mux.Handle("GET /sandbox/authenticate/{token}", pages.show())
	mux.Handle("POST /sandbox/authenticate/{token}", pages.complete())
	// Where customers come back from a processor's own page.
	mux.Handle("GET /return/{payment}", pages.processorReturn())
	docs := docsui.Handler()
	mux.Handle("GET /docs", docs)
	mux.Handle("GET /docs/{file...}", docs)

	// Hosted checkout (issue 22): checkout sessions, whose create answer
	// shows the page's url (a bearer link: stored sealed), and the page at
	// that url, public, its token the credential, with its assets.
	co := d.Checkout
	mux.Handle("POST /v1/checkout_sessions", merchant(handleCreate(secret, keyless(co.Create))))
	mux.Handle("GET /v1/checkout_sessions/{id}", merchant(handleGet(log, co.Get)))
	mux.Handle("POST /v1/checkout_sessions/{id}/expire", merchant(handleAction(secret, keylessAction(co.Expire))))
	checkoutPage := checkoutui.New(log, co)
	mux.Handle("GET /checkout/{token}", checkoutPage.Show())
	mux.Handle("POST /checkout/{token}", checkoutPage.Submit())
	mux.Handle("GET /checkout/{token}/return", checkoutPage.Return())
	mux.Handle("GET /checkout-assets/{file...}", checkoutPage.Assets())
	// The dashboard (issue 23): staff users of the admin API, the
	// dashboard's pages, and the root page a browser lands on.
	if d.Staff != nil {
		mux.Handle("POST /v1/merchants/{id}/users", admin(handleUserCreate(log, d.Staff)))
		mux.Handle("DELETE /v1/users/{id}", admin(handleUserRemove(log, d.Staff)))
	}
	if d.Dashboard != nil { // its pages sign staff in with a session of their own
		mux.Handle("GET /dashboard", d.Dashboard)
		mux.Handle("GET /dashboard/", d.Dashboard)
		mux.Handle("POST /dashboard/", d.Dashboard)
	}
	mux.Handle("GET /{$}", handleRoot(log))
}
