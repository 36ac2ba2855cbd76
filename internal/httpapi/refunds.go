package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/ids"
	"github.com/paygate/paygate/internal/ledger"
	"github.com/paygate/paygate/internal/refunds"
)

func handleRefundCreate(log *slog.Logger, refs *refunds.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		in, err := decode[refunds.CreateParams](w, r)
		if err != nil {
			return err
		}
		ref, err := refs.Create(r.Context(), accountFrom(r.Context()), in)
		if err != nil {
			return err
		}
		return encode(w, http.StatusCreated, ref)
	})
}

func handleRefundGet(log *slog.Logger, refs *refunds.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		ref, err := refs.Get(r.Context(), accountFrom(r.Context()), r.PathValue("id"))
		if err != nil {
			return err
		}
		return encode(w, http.StatusOK, ref)
	})
}

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
	q := refunds.ListQuery{Limit: 10}
	for name, vals := range v {
		if len(vals) != 1 {
			return q, apierror.Invalid("parameter_invalid", name, "%s may be given once.", name)
		}
		val := vals[0]
		switch name {
		case "limit":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 || n > 100 {
				return q, apierror.Invalid("parameter_invalid", "limit", "limit must be an integer from 1 to 100.")
			}
			q.Limit = n
		case "starting_after", "ending_before":
			if !ids.Valid(ids.Refund, val) {
				return q, apierror.Invalid("parameter_invalid", name, "%s must be a refund id (re_…).", name)
			}
			if name == "starting_after" {
				q.StartingAfter = val
			} else {
				q.EndingBefore = val
			}
		case "payment_id":
			if !ids.Valid(ids.Payment, val) {
				return q, apierror.Invalid("parameter_invalid", name, "payment_id must be a payment id (pay_…).")
			}
			q.PaymentID = val
		default:
			return q, apierror.Invalid("parameter_unknown", name, "Received unknown parameter: %s.", truncate(name, 40))
		}
	}
	if q.StartingAfter != "" && q.EndingBefore != "" {
		return q, apierror.Invalid("parameter_invalid", "ending_before", "Give starting_after or ending_before, not both.")
	}
	return q, nil
}

// LedgerReader totals a merchant's ledger.
type LedgerReader interface {
	LedgerSums(ctx context.Context, merchantID string, livemode bool) ([]ledger.Sum, error)
}

type balance struct {
	Object   string           `json:"object"`
	Balances []ledger.Balance `json:"balances"`
}

func handleBalance(log *slog.Logger, books LedgerReader) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		if len(r.URL.Query()) > 0 {
			for name := range r.URL.Query() {
				return apierror.Invalid("parameter_unknown", name, "Received unknown parameter: %s.", truncate(name, 40))
			}
		}
		acct := accountFrom(r.Context())
		sums, err := books.LedgerSums(r.Context(), acct.MerchantID, acct.Livemode)
		if err != nil {
			return err
		}
		return encode(w, http.StatusOK, balance{Object: "balance", Balances: ledger.Balances(sums)})
	})
}
