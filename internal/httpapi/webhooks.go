package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/events"
	"github.com/paygate/paygate/internal/ids"
	"github.com/paygate/paygate/internal/tenant"
	"github.com/paygate/paygate/internal/webhooks"
)

// EventStore reads the event log.
type EventStore interface {
	Event(ctx context.Context, scope tenant.Scope, id string) (*events.Event, error)
	Events(ctx context.Context, scope tenant.Scope, q events.ListQuery) ([]*events.Event, bool, error)
}

func getEvent(st EventStore) func(ctx context.Context, acct tenant.Account, id string) (*events.Event, error) {
	return func(ctx context.Context, acct tenant.Account, id string) (*events.Event, error) {
		e, err := st.Event(ctx, acct.Scope, id)
		if errors.Is(err, events.ErrNotFound) {
			return nil, apierror.NotFound("event", id)
		}
		return e, err
	}
}

func handleEventList(log *slog.Logger, st EventStore) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		var q events.ListQuery
		pg, err := parseList(r.URL.Query(), ids.Event, stringFilters(map[string]*string{"type": &q.Type, "object_id": &q.ObjectID}))
		if err != nil {
			return err
		}
		if q.Type != "" && !slices.Contains(events.Types(), q.Type) {
			return apierror.Invalid("parameter_invalid", "type", "%q is not an event type.", apierror.Truncate(q.Type, 60))
		}
		q.Limit, q.StartingAfter, q.EndingBefore = pg.Limit, pg.StartingAfter, pg.EndingBefore
		evs, more, err := st.Events(r.Context(), accountFrom(r.Context()).Scope, q)
		if err != nil {
			return err
		}
		return encode(w, http.StatusOK, list[*events.Event]{Object: "list", Data: orEmpty(evs), HasMore: more, URL: "/v1/events"})
	})
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func handleEndpointList(log *slog.Logger, hooks *webhooks.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		pg, err := parseList(r.URL.Query(), ids.WebhookEnd, func(string, string) (bool, error) { return false, nil })
		if err != nil {
			return err
		}
		es, more, err := hooks.List(r.Context(), accountFrom(r.Context()), webhooks.ListQuery{Limit: pg.Limit, StartingAfter: pg.StartingAfter, EndingBefore: pg.EndingBefore})
		if err != nil {
			return err
		}
		return encode(w, http.StatusOK, list[*webhooks.Endpoint]{Object: "list", Data: orEmpty(es), HasMore: more, URL: "/v1/webhook_endpoints"})
	})
}

// deliveryFilter reads the filters of the delivery and attempt lists.
func deliveryFilter(q *webhooks.ListQuery, statuses bool) func(name, val string) (bool, error) {
	return func(name, val string) (bool, error) {
		switch {
		case name == "event_id":
			if !ids.Valid(ids.Event, val) {
				return true, apierror.Invalid("parameter_invalid", "event_id", "event_id must be an event id (evt_…).")
			}
			q.EventID = val
		case name == "status" && statuses:
			if val != webhooks.Pending && val != webhooks.Succeeded && val != webhooks.Failed {
				return true, apierror.Invalid("parameter_invalid", "status", "status must be pending, succeeded or failed.")
			}
			q.Status = val
		default:
			return false, nil
		}
		return true, nil
	}
}

func handleDeliveryList(log *slog.Logger, hooks *webhooks.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		var q webhooks.ListQuery
		// Deliveries are paged by their event's id.
		pg, err := parseList(r.URL.Query(), ids.Event, deliveryFilter(&q, true))
		if err != nil {
			return err
		}
		q.Limit, q.StartingAfter, q.EndingBefore = pg.Limit, pg.StartingAfter, pg.EndingBefore
		id := r.PathValue("id")
		ds, more, err := hooks.Deliveries(r.Context(), accountFrom(r.Context()), id, q)
		if err != nil {
			return err
		}
		return encode(w, http.StatusOK, list[*webhooks.Delivery]{Object: "list", Data: orEmpty(ds), HasMore: more, URL: "/v1/webhook_endpoints/" + id + "/deliveries"})
	})
}

func handleAttemptList(log *slog.Logger, hooks *webhooks.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		var q webhooks.ListQuery
		pg, err := parseList(r.URL.Query(), ids.WebhookAttempt, deliveryFilter(&q, false))
		if err != nil {
			return err
		}
		q.Limit, q.StartingAfter, q.EndingBefore = pg.Limit, pg.StartingAfter, pg.EndingBefore
		id := r.PathValue("id")
		as, more, err := hooks.Attempts(r.Context(), accountFrom(r.Context()), id, q)
		if err != nil {
			return err
		}
		return encode(w, http.StatusOK, list[*webhooks.Attempt]{Object: "list", Data: orEmpty(as), HasMore: more, URL: "/v1/webhook_endpoints/" + id + "/attempts"})
	})
}
