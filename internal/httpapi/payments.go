package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/idempotency"
	"github.com/paygate/paygate/internal/ids"
	"github.com/paygate/paygate/internal/payments"
	"github.com/paygate/paygate/internal/tenant"
)

// apiFunc is a handler that returns its error for respondErr to render.
type apiFunc func(w http.ResponseWriter, r *http.Request) error

func handle(log *slog.Logger, f apiFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := f(w, r); err != nil {
			respondErr(w, r, log, err)
		}
	})
}

// handleCreate decodes the body, calls create for the request's merchant,
// and answers 201 with what it made; under k (its Idempotency-Key).
func handleCreate[In, Out any](k keyed, create func(context.Context, tenant.Account, In, *idempotency.Call) (Out, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.serve(w, r, http.StatusCreated, func(ctx context.Context, body []byte, call *idempotency.Call) (any, error) {
			in, err := decodeBody[In](r, body)
			if err != nil {
				return nil, err
			}
			return create(ctx, accountFrom(ctx), in, call)
		})
	})
}

// handleAction decodes the body and applies act to the object named by the
// path's {id}, answering 200 with the object after the action; under k.
func handleAction[In, Out any](k keyed, act func(context.Context, tenant.Account, string, In, *idempotency.Call) (Out, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.serve(w, r, http.StatusOK, func(ctx context.Context, body []byte, call *idempotency.Call) (any, error) {
			in, err := decodeBody[In](r, body)
			if err != nil {
				return nil, err
			}
			return act(ctx, accountFrom(ctx), r.PathValue("id"), in, call)
		})
	})
}

// keyless adapts a create that has no use for the request's key (no
// object it makes needs to be found again by the key: the stored answer
// is the replay).
func keyless[In, Out any](f func(context.Context, tenant.Account, In) (Out, error)) func(context.Context, tenant.Account, In, *idempotency.Call) (Out, error) {
	return func(ctx context.Context, acct tenant.Account, in In, _ *idempotency.Call) (Out, error) {
		return f(ctx, acct, in)
	}
}

// keylessAction is keyless for an action on an object.
func keylessAction[In, Out any](f func(context.Context, tenant.Account, string, In) (Out, error)) func(context.Context, tenant.Account, string, In, *idempotency.Call) (Out, error) {
	return func(ctx context.Context, acct tenant.Account, id string, in In, _ *idempotency.Call) (Out, error) {
		return f(ctx, acct, id, in)
	}
}

// handleGet answers 200 with the object named by the path's {id}.
func handleGet[Out any](log *slog.Logger, get func(context.Context, tenant.Account, string) (Out, error)) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		out, err := get(r.Context(), accountFrom(r.Context()), r.PathValue("id"))
		if err != nil {
			return err
		}
		return encode(w, http.StatusOK, out)
	})
}

// list is the envelope of every list endpoint.
type list[T any] struct {
	Object  string `json:"object"`
	Data    []T    `json:"data"`
	HasMore bool   `json:"has_more"`
	URL     string `json:"url"`
}

func handlePaymentList(log *slog.Logger, pay *payments.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		q, err := parsePaymentList(r.URL.Query())
		if err != nil {
			return err
		}
		ps, more, err := pay.List(r.Context(), accountFrom(r.Context()), q)
		if err != nil {
			return err
		}
		if ps == nil {
			ps = []*payments.Payment{}
		}
		return encode(w, http.StatusOK, list[*payments.Payment]{Object: "list", Data: ps, HasMore: more, URL: "/v1/payments"})
	})
}

// page is the cursor part of every list's parameters.
type page struct {
	Limit                       int
	StartingAfter, EndingBefore string
}

// parseList reads list parameters strictly: limit and the cursors (ids
// with idPrefix) here, the rest by filter, which reports whether it knew
// the parameter. An unknown or malformed parameter is a 400 naming it.
func parseList(v url.Values, idPrefix string, filter func(name, val string) (bool, error)) (page, error) {
	p := page{Limit: 10}
	for name, vals := range v {
		if len(vals) != 1 {
			return p, apierror.Invalid("parameter_invalid", name, "%s may be given once.", name)
		}
		val := vals[0]
		switch name {
		case "limit":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 || n > 100 {
				return p, apierror.Invalid("parameter_invalid", "limit", "limit must be an integer from 1 to 100.")
			}
			p.Limit = n
		case "starting_after", "ending_before":
			if !ids.Valid(idPrefix, val) {
				return p, apierror.Invalid("parameter_invalid", name, "%s must be an id (%s…).", name, idPrefix)
			}
			if name == "starting_after" {
				p.StartingAfter = val
			} else {
				p.EndingBefore = val
			}
		default:
			known, err := filter(name, val)
			if err != nil {
				return p, err
			}
			if !known {
				return p, apierror.Invalid("parameter_unknown", name, "Received unknown parameter: %s.", apierror.Truncate(name, 40))
			}
		}
	}
	if p.StartingAfter != "" && p.EndingBefore != "" {
		return p, apierror.Invalid("parameter_invalid", "ending_before", "Give starting_after or ending_before, not both.")
	}
	return p, nil
}

// stringFilters is a parseList filter for parameters taken as given.
func stringFilters(fields map[string]*string) func(name, val string) (bool, error) {
	return func(name, val string) (bool, error) {
		dst, ok := fields[name]
		if ok {
			*dst = val
		}
		return ok, nil
	}
}

func parsePaymentList(v url.Values) (payments.ListQuery, error) {
	var q payments.ListQuery
	pg, err := parseList(v, ids.Payment, func(name, val string) (bool, error) {
		switch name {
		case "status":
			if !payments.Status(val).Valid() {
				return true, apierror.Invalid("parameter_invalid", "status", "status %q is not a payment status.", apierror.Truncate(val, 40))
			}
			q.Status = payments.Status(val)
		case "created_gte", "created_lte":
			t, err := parseTime(val)
			if err != nil {
				return true, apierror.Invalid("parameter_invalid", name, "%s must be an RFC 3339 time or Unix seconds.", name)
			}
			if name == "created_gte" {
				q.CreatedGTE = &t
			} else {
				q.CreatedLTE = &t
			}
		default:
			return false, nil
		}
		return true, nil
	})
	q.Limit, q.StartingAfter, q.EndingBefore = pg.Limit, pg.StartingAfter, pg.EndingBefore
	return q, err
}

func parseTime(s string) (time.Time, error) {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t.UTC(), err
}
