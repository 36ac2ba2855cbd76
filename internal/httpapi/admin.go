package httpapi

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/audit"
	"github.com/paygate/paygate/internal/clock"
	"github.com/paygate/paygate/internal/ids"
	"github.com/paygate/paygate/internal/merchants"
)

type merchantParams struct {
	Name     *string `json:"name"`
	Livemode bool    `json:"livemode"`
}

type keyParams struct {
	Livemode bool `json:"livemode"`
}

func handleMerchantCreate(log *slog.Logger, accounts Accounts) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		in, err := decode[merchantParams](w, r)
		if err != nil {
			return err
		}
		if in.Name == nil || strings.TrimSpace(*in.Name) == "" {
			return apierror.Missing("name")
		}
		if utf8.RuneCountInString(*in.Name) > 200 {
			return apierror.Invalid("parameter_invalid", "name", "name must be at most 200 characters.")
		}
		now := clock.Now()
		m := merchants.NewMerchant(strings.TrimSpace(*in.Name), in.Livemode, now)
		ev := audit.FromRequest(r, audit.MerchantCreated, m.ID, m.ID, now)
		ev.Details["api_key_id"], ev.Details["api_key_prefix"] = m.APIKey.ID, m.APIKey.Prefix
		if err := accounts.CreateMerchant(r.Context(), m, ev); err != nil {
			return err
		}
		log.InfoContext(r.Context(), "merchant created", "merchant_id", m.ID, "api_key_id", m.APIKey.ID, "api_key_prefix", m.APIKey.Prefix)
		return encode(w, http.StatusCreated, m)
	})
}

func handleKeyCreate(log *slog.Logger, accounts Accounts) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		in, err := decode[keyParams](w, r)
		if err != nil {
			return err
		}
		id := r.PathValue("id")
		now := clock.Now()
		k := merchants.NewKey(id, in.Livemode, now)
		ev := audit.FromRequest(r, audit.APIKeyCreated, k.ID, id, now)
		ev.Details["api_key_prefix"] = k.Prefix
		if err := accounts.CreateKey(r.Context(), k, ev); errors.Is(err, merchants.ErrNotFound) {
			return apierror.NotFound("merchant", id)
		} else if err != nil {
			return err
		}
		log.InfoContext(r.Context(), "api key issued", "merchant_id", id, "api_key_id", k.ID, "api_key_prefix", k.Prefix)
		return encode(w, http.StatusCreated, k)
	})
}

func handleKeyRevoke(log *slog.Logger, accounts Accounts) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		id := r.PathValue("id")
		k, err := accounts.RevokeKey(r.Context(), id, audit.FromRequest(r, audit.APIKeyRevoked, id, "", clock.Now()))
		if errors.Is(err, merchants.ErrNotFound) {
			return apierror.NotFound("api_key", id)
		}
		if err != nil {
			return err
		}
		log.InfoContext(r.Context(), "api key revoked", "merchant_id", k.MerchantID, "api_key_id", k.ID)
		return encode(w, http.StatusOK, k)
	})
}

func handleAuditList(log *slog.Logger, lister audit.Lister) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		var q audit.ListQuery
		pg, err := parseList(r.URL.Query(), ids.Audit, stringFilters(map[string]*string{"action": &q.Action, "object_id": &q.ObjectID}))
		if err != nil {
			return err
		}
		q.Limit, q.StartingAfter, q.EndingBefore = pg.Limit, pg.StartingAfter, pg.EndingBefore
		evs, more, err := lister.AuditEvents(r.Context(), q)
		if err != nil {
			return err
		}
		if evs == nil {
			evs = []*audit.Event{}
		}
		return encode(w, http.StatusOK, list[*audit.Event]{Object: "list", Data: evs, HasMore: more, URL: "/v1/audit_events"})
	})
}
