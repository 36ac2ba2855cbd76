package dashboard

import (
	"net/http"
	"slices"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/checkout"
	"github.com/paygate/paygate/internal/events"
	"github.com/paygate/paygate/internal/ids"
	"github.com/paygate/paygate/internal/staff"
)

// Checkout sessions (issue 22): their list and a session's page, with an
// admin's Expire, which calls the API's checkout.Service.Expire.

type checkoutSessionsView struct {
	Sessions []*checkout.Session
	Pager    pager
}

func (s *dashboard) checkoutSessionList(w http.ResponseWriter, r *http.Request, sess *staff.Session) error {
	q := r.URL.Query()
	lq := checkout.ListQuery{Limit: pageSize}
	lq.StartingAfter, lq.EndingBefore = cursor(q, ids.Checkout)
	cs, more, err := s.d.Checkout.List(r.Context(), account(sess), lq)
	if err != nil {
		return err
	}
	v := checkoutSessionsView{Sessions: cs}
	if len(cs) > 0 {
		v.Pager = pageOf(q, cs[0].ID, cs[len(cs)-1].ID, lq.StartingAfter, lq.EndingBefore, more)
	}
	s.render(w, r, http.StatusOK, "checkout_sessions", s.viewOf(r, sess, "Checkout sessions", "checkout", v))
	return nil
}

type checkoutSessionView struct {
	S         *checkout.Session
	Events    []*events.Event
	CanExpire bool
	Error     string
}

func (s *dashboard) showCheckoutSession(w http.ResponseWriter, r *http.Request, sess *staff.Session, status int, id, msg string) error {
	ctx := r.Context()
	// Get settles the session first, as the API's read does: one past
	// its expiry shows expired, one whose payment succeeded complete.
	cs, err := s.d.Checkout.Get(ctx, account(sess), id)
	if err != nil {
		return err
	}
	v := checkoutSessionView{S: cs, CanExpire: cs.Status == checkout.Open, Error: msg}
	if v.Events, _, err = s.d.Events.Events(ctx, sess.Scope(), events.ListQuery{Limit: 100, ObjectID: id}); err != nil {
		return err
	}
	slices.Reverse(v.Events) // a timeline reads oldest first
	s.render(w, r, status, "checkout_session", s.viewOf(r, sess, "Checkout session "+cs.ID, "checkout", v))
	return nil
}

func (s *dashboard) checkoutSessionPage(w http.ResponseWriter, r *http.Request, sess *staff.Session) error {
	return s.showCheckoutSession(w, r, sess, http.StatusOK, r.PathValue("id"), "")
}

// expireCheckoutSession ends an open session, as POST
// /v1/checkout_sessions/{id}/expire does. A complete session, or one whose
// payment is still in flight, is 409 with the service's reason.
func (s *dashboard) expireCheckoutSession(w http.ResponseWriter, r *http.Request, sess *staff.Session) error {
	id := r.PathValue("id")
	if _, err := s.d.Checkout.Expire(r.Context(), account(sess), id, checkout.ExpireParams{}); err != nil {
		if e, ok := apierror.As(err); ok && e.Kind == apierror.KindConflict {
			return s.showCheckoutSession(w, r, sess, http.StatusConflict, id, e.Message)
		}
		return err
	}
	s.record(r, sess, "dashboard.checkout_session_expired", id, nil)
	s.done(w, r, "/dashboard/checkout_sessions/"+id, "expired")
	return nil
}
