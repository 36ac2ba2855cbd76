package httpapi

import (
	"log/slog"
	"net/http"

	"github.com/paygate/paygate/internal/audit"
	"github.com/paygate/paygate/internal/clock"
	"github.com/paygate/paygate/internal/staff"
)

// The admin API's staff users (the dashboard's, SPEC §10): created with a
// temporary password shown once, removed with their sessions.

func handleUserCreate(log *slog.Logger, users *staff.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		in, err := decode[staff.CreateParams](w, r)
		if err != nil {
			return err
		}
		id := r.PathValue("id")
		u, err := users.CreateUser(r.Context(), id, in, audit.FromRequest(r, staff.UserCreated, "", id, clock.Now()))
		if err != nil {
			return err
		}
		log.InfoContext(r.Context(), "staff user created", "merchant_id", id, "user_id", u.ID, "role", string(u.Role))
		return encode(w, http.StatusCreated, u)
	})
}

func handleUserRemove(log *slog.Logger, users *staff.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		id := r.PathValue("id")
		u, err := users.RemoveUser(r.Context(), id, audit.FromRequest(r, staff.UserRemoved, id, "", clock.Now()))
		if err != nil {
			return err
		}
		log.InfoContext(r.Context(), "staff user removed", "merchant_id", u.MerchantID, "user_id", u.ID)
		return encode(w, http.StatusOK, struct {
			ID      string `json:"id"`
			Object  string `json:"object"`
			Deleted bool   `json:"deleted"`
		}{u.ID, "staff_user", true})
	})
}
