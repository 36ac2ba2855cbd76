package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/ids"
	"github.com/paygate/paygate/internal/ledger"
	"github.com/paygate/paygate/internal/refunds"
	"github.com/paygate/paygate/internal/tenant"
)

func handleRefundList(log *slog.Logger, refs *refunds.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		q, err := parseRefundList(r.URL.Query())
		if err != nil {
			return err
		}
		rs, more, err := refs.List(r.Context(), accountFrom(r.Context()), q)
		if err != nil {
			return err
		}
		if rs == nil {
			rs = []*refunds.Refund{}
		}
		return encode(w, http.StatusOK, list[*refunds.Refund]{Object: "list", Data: rs, HasMore: more, URL: "/v1/refunds"})
	})
}

func parseRefundList(v url.Values) (refunds.ListQuery, error) {
	var q refunds.ListQuery
	pg, err := parseList(v, ids.Refund, func(name, val string) (bool, error) {
		if name != "payment_id" {
			return false, nil
		}
		if !ids.Valid(ids.Payment, val) {
			return true, apierror.Invalid("parameter_invalid", name, "payment_id must be a payment id (pay_…).")
		}
		q.PaymentID = val
		return true, nil
	})
	q.Limit, q.StartingAfter, q.EndingBefore = pg.Limit, pg.StartingAfter, pg.EndingBefore
	return q, err
}

// LedgerReader totals a merchant's ledger.
type LedgerReader interface {
	LedgerSums(ctx context.Context, scope tenant.Scope) ([]ledger.Sum, error)
}

type balance struct {
	Object   string           `json:"object"`
	Balances []ledger.Balance `json:"balances"`
}

func handleBalance(log *slog.Logger, books LedgerReader) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		for name := range r.URL.Query() {
			return apierror.Invalid("parameter_unknown", name, "Received unknown parameter: %s.", apierror.Truncate(name, 40))
		}
		sums, err := books.LedgerSums(r.Context(), accountFrom(r.Context()).Scope)
		if err != nil {
			return err
		}
		return encode(w, http.StatusOK, balance{Object: "balance", Balances: ledger.Balances(sums)})
	})
}
