package httpapi

import (
	"log/slog"
	"net/http"

	"github.com/paygate/paygate/internal/payments"
	"github.com/paygate/paygate/internal/refunds"
)

// addRoutes lists every route of the API.
func addRoutes(mux *http.ServeMux, log *slog.Logger, cfg Config, pay *payments.Service, refs *refunds.Service, accounts Accounts, books LedgerReader, db Pinger) {
	merchant := func(h http.Handler) http.Handler { return requireMerchant(log, accounts, h) }
	admin := func(h http.Handler) http.Handler { return requireAdmin(log, cfg.AdminToken, h) }

	mux.Handle("POST /v1/payments", merchant(handlePaymentCreate(log, pay)))
	mux.Handle("GET /v1/payments", merchant(handlePaymentList(log, pay)))
	mux.Handle("GET /v1/payments/{id}", merchant(handlePaymentGet(log, pay)))
	mux.Handle("PATCH /v1/payments/{id}", merchant(handlePaymentUpdate(log, pay)))
	mux.Handle("POST /v1/payments/{id}/confirm", merchant(handlePaymentConfirm(log, pay)))
	mux.Handle("POST /v1/payments/{id}/capture", merchant(handlePaymentCapture(log, pay)))
	mux.Handle("POST /v1/payments/{id}/cancel", merchant(handlePaymentCancel(log, pay)))

	mux.Handle("POST /v1/payment_methods", merchant(handleMethodCreate(log, pay)))
	mux.Handle("GET /v1/payment_methods/{id}", merchant(handleMethodGet(log, pay)))

	mux.Handle("POST /v1/refunds", merchant(handleRefundCreate(log, refs)))
	mux.Handle("GET /v1/refunds", merchant(handleRefundList(log, refs)))
	mux.Handle("GET /v1/refunds/{id}", merchant(handleRefundGet(log, refs)))

	mux.Handle("GET /v1/balance", merchant(handleBalance(log, books)))

	mux.Handle("POST /v1/merchants", admin(handleMerchantCreate(log, accounts)))
	mux.Handle("POST /v1/merchants/{id}/api_keys", admin(handleKeyCreate(log, accounts)))
	mux.Handle("DELETE /v1/api_keys/{id}", admin(handleKeyRevoke(log, accounts)))

	mux.Handle("GET /healthz", handleHealthz())
	mux.Handle("GET /readyz", handleReadyz(log, db))
	mux.Handle("GET /openapi.json", handleOpenAPI(cfg.OpenAPI))
}
