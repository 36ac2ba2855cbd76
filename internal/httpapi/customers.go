package httpapi

import (
	"log/slog"
	"net/http"

	"github.com/paygate/paygate/internal/customers"
	"github.com/paygate/paygate/internal/ids"
	"github.com/paygate/paygate/internal/payments"
)

func handleCustomerList(log *slog.Logger, cust *customers.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		var q customers.ListQuery
		pg, err := parseList(r.URL.Query(), ids.Customer, stringFilters(map[string]*string{"email": &q.Email}))
		if err != nil {
			return err
		}
		q.Limit, q.StartingAfter, q.EndingBefore = pg.Limit, pg.StartingAfter, pg.EndingBefore
		cs, more, err := cust.List(r.Context(), accountFrom(r.Context()), q)
		if err != nil {
			return err
		}
		return encode(w, http.StatusOK, list[*customers.Customer]{Object: "list", Data: orEmpty(cs), HasMore: more, URL: "/v1/customers"})
	})
}

func handleCustomerMethods(log *slog.Logger, pay *payments.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		pg, err := parseList(r.URL.Query(), ids.PaymentMethod, func(string, string) (bool, error) { return false, nil })
		if err != nil {
			return err
		}
		id := r.PathValue("id")
		ms, more, err := pay.CustomerMethods(r.Context(), accountFrom(r.Context()), id,
			payments.MethodListQuery{Limit: pg.Limit, StartingAfter: pg.StartingAfter, EndingBefore: pg.EndingBefore})
		if err != nil {
			return err
		}
		return encode(w, http.StatusOK, list[*payments.Method]{Object: "list", Data: orEmpty(ms), HasMore: more, URL: "/v1/customers/" + id + "/payment_methods"})
	})
}
