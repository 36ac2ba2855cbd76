package dashboard

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/audit"
	"github.com/paygate/paygate/internal/clock"
	"github.com/paygate/paygate/internal/customers"
	"github.com/paygate/paygate/internal/events"
	"github.com/paygate/paygate/internal/ids"
	"github.com/paygate/paygate/internal/ledger"
	"github.com/paygate/paygate/internal/merchants"
	"github.com/paygate/paygate/internal/payments"
	"github.com/paygate/paygate/internal/refunds"
	"github.com/paygate/paygate/internal/routing"
	"github.com/paygate/paygate/internal/staff"
	"github.com/paygate/paygate/internal/tenant"
	"github.com/paygate/paygate/internal/webhooks"
)

const pageSize = 25

func account(sess *staff.Session) tenant.Account { return sess.Scope().Acting() }

// pager is a list's links to the pages beside it: ids to walk from, in
// the API's starting_after and ending_before.
type pager struct {
	Prev, Next string // query strings, "" when there is none
}

// pageOf works out a list page's neighbours. after and before are the
// request's cursors; more says whether rows lie beyond the page in the
// direction it walked.
func pageOf(q url.Values, first, last string, after, before string, more bool) pager {
	var p pager
	link := func(key, id string) string {
		v := url.Values{}
		for k, vs := range q {
			if k != "after" && k != "before" && k != "done" {
				v[k] = vs
			}
		}
		v.Set(key, id)
		return "?" + v.Encode()
	}
	if first == "" {
		return p
	}
	backward := before != ""
	if (backward && more) || (!backward && after != "") {
		p.Prev = link("before", first)
	}
	if backward || more {
		p.Next = link("after", last)
	}
	return p
}

func cursor(q url.Values, prefix string) (after, before string) {
	if a := q.Get("after"); ids.Valid(prefix, a) {
		after = a
	}
	if b := q.Get("before"); ids.Valid(prefix, b) && after == "" {
		before = b
	}
	return after, before
}

var last4Pattern = regexp.MustCompile(`^[0-9]{4}$`)

type paymentsView struct {
	Q, Amount, Status, From, To string
	Statuses                    []payments.Status
	Payments                    []*payments.Payment
	Pager                       pager
	Error                       string
}

func (s *dashboard) paymentList(w http.ResponseWriter, r *http.Request, sess *staff.Session) error {
	q := r.URL.Query()
	v := paymentsView{Q: strings.TrimSpace(q.Get("q")), Amount: strings.TrimSpace(q.Get("amount")), Status: q.Get("status"),
		From: q.Get("from"), To: q.Get("to"), Statuses: payments.AllStatuses}
	lq := payments.ListQuery{Limit: pageSize}
	lq.StartingAfter, lq.EndingBefore = cursor(q, ids.Payment)
	status := http.StatusOK
	bad := func(msg string) { v.Error, status = msg, http.StatusBadRequest }
	switch {
	case v.Q == "":
	case strings.HasPrefix(v.Q, ids.Payment):
		// An id is one payment: its page, if this account has it.
		if _, err := s.d.Payments.Get(r.Context(), account(sess), v.Q); err == nil {
			http.Redirect(w, r, "/dashboard/payments/"+url.PathEscape(v.Q), http.StatusSeeOther)
			return nil
		} else if e, ok := apierror.As(err); !ok || e.Kind != apierror.KindNotFound {
			return err
		}
		bad("No payment " + v.Q + " in " + modeName(sess.Livemode) + " mode.")
	case strings.Contains(v.Q, "@"):
		lq.Email = v.Q
	case last4Pattern.MatchString(v.Q):
		lq.Last4 = v.Q
	default:
		bad("Search by a payment id (pay_…), a customer's email, or a card's last 4 digits.")
	}
	if v.Amount != "" {
		// Typed in the main unit; which currency is unknown, so two decimals.
		if n, ok := parseMajor(v.Amount, "USD"); ok {
			lq.Amount = &n
		} else {
			bad("An amount is a positive number, like 20 or 20.00.")
		}
	}
	if v.Status != "" {
		if st := payments.Status(v.Status); st.Valid() {
			lq.Status = st
		} else {
			bad("Unknown status.")
		}
	}
	if v.From != "" {
		if t, err := time.Parse(time.DateOnly, v.From); err == nil {
			lq.CreatedGTE = &t
		} else {
			bad("A date is YYYY-MM-DD.")
		}
	}
	if v.To != "" {
		if t, err := time.Parse(time.DateOnly, v.To); err == nil {
			end := t.Add(24*time.Hour - time.Microsecond)
			lq.CreatedLTE = &end
		} else {
			bad("A date is YYYY-MM-DD.")
		}
	}
	if v.Error == "" {
		ps, more, err := s.d.Payments.List(r.Context(), account(sess), lq)
		if err != nil {
			return err
		}
		v.Payments = ps
		if len(ps) > 0 {
			v.Pager = pageOf(q, ps[0].ID, ps[len(ps)-1].ID, lq.StartingAfter, lq.EndingBefore, more)
		}
	}
	s.render(w, r, status, "payments", s.viewOf(r, sess, "Payments", "payments", v))
	return nil
}

type paymentView struct {
	P                                *payments.Payment
	Attempts                         []*payments.Attempt
	Refunds                          []*refunds.Refund
	Events                           []*events.Event
	Customer                         *customers.Customer
	Remaining                        int64 // refundable
	Changed                          int64 // refunded and pending, as shown: a refund form's check
	CanCapture, CanCancel, CanRefund bool
	Error                            string
}

func (s *dashboard) loadPayment(r *http.Request, sess *staff.Session, id string) (*paymentView, error) {
	ctx, acct := r.Context(), account(sess)
	p, err := s.d.Payments.Get(ctx, acct, id)
	if err != nil {
		return nil, err
	}
	v := &paymentView{P: p}
	if v.Attempts, err = s.d.Payments.Attempts(ctx, acct, id); err != nil {
		return nil, err
	}
	if v.Refunds, _, err = s.d.Refunds.List(ctx, acct, refunds.ListQuery{Limit: 100, PaymentID: id}); err != nil {
		return nil, err
	}
	if v.Events, _, err = s.d.Events.Events(ctx, sess.Scope(), events.ListQuery{Limit: 100, ObjectID: id}); err != nil {
		return nil, err
	}
	slices.Reverse(v.Events) // a timeline reads oldest first
	if p.Customer != "" {
		if c, err := s.d.Customers.Get(ctx, acct, p.Customer); err == nil {
			v.Customer = c
		}
	}
	v.Changed = p.AmountRefunded + p.AmountRefundPending
	v.Remaining = p.AmountReceived - v.Changed
	v.CanCapture = p.Status == payments.RequiresCapture
	v.CanCancel = !p.Status.Final() && p.Status != payments.Processing
	v.CanRefund = p.Status == payments.Succeeded && v.Remaining > 0
	return v, nil
}

func (s *dashboard) paymentPage(w http.ResponseWriter, r *http.Request, sess *staff.Session) error {
	v, err := s.loadPayment(r, sess, r.PathValue("id"))
	if err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "payment", s.viewOf(r, sess, "Payment "+v.P.ID, "payments", v))
	return nil
}

// actionFailed shows the payment again with what went wrong.
func (s *dashboard) actionFailed(w http.ResponseWriter, r *http.Request, sess *staff.Session, id string, cause error) error {
	e, ok := apierror.As(cause)
	if !ok || (e.Kind != apierror.KindInvalidRequest && e.Kind != apierror.KindConflict && e.Kind != apierror.KindCardError) {
		return cause
	}
	v, err := s.loadPayment(r, sess, id)
	if err != nil {
		return err
	}
	v.Error = e.Message
	status := http.StatusBadRequest
	if e.Kind == apierror.KindConflict {
		status = http.StatusConflict
	}
	s.render(w, r, status, "payment", s.viewOf(r, sess, "Payment "+v.P.ID, "payments", v))
	return nil
}

func (s *dashboard) done(w http.ResponseWriter, r *http.Request, path, flash string) {
	http.Redirect(w, r, path+"?done="+flash, http.StatusSeeOther)
}

func (s *dashboard) capture(w http.ResponseWriter, r *http.Request, sess *staff.Session) error {
	id := r.PathValue("id")
	p, err := s.d.Payments.Get(r.Context(), account(sess), id)
	if err != nil {
		return err
	}
	var in payments.CaptureParams
	if a := strings.TrimSpace(r.PostForm.Get("amount")); a != "" {
		n, ok := parseMajor(a, p.Currency)
		if !ok {
			return s.actionFailed(w, r, sess, id, apierror.Invalid("parameter_invalid", "amount", "The amount to capture must be a positive number."))
		}
		in.Amount = &n
	}
	p, err = s.d.Payments.Capture(r.Context(), account(sess), id, in, nil)
	if err != nil {
		return s.actionFailed(w, r, sess, id, err)
	}
	s.record(r, sess, "dashboard.payment_captured", id, map[string]string{"amount": strconv.FormatInt(p.AmountReceived, 10), "currency": p.Currency})
	s.done(w, r, "/dashboard/payments/"+id, "capture")
	return nil
}

func (s *dashboard) cancel(w http.ResponseWriter, r *http.Request, sess *staff.Session) error {
	id := r.PathValue("id")
	reason := "requested_by_customer"
	if _, err := s.d.Payments.Cancel(r.Context(), account(sess), id, payments.CancelParams{CancellationReason: &reason}, nil); err != nil {
		return s.actionFailed(w, r, sess, id, err)
	}
	s.record(r, sess, "dashboard.payment_canceled", id, nil)
	s.done(w, r, "/dashboard/payments/"+id, "cancel")
	return nil
}

var refundReasons = map[string]bool{"": true, "duplicate": true, "fraudulent": true, "requested_by_customer": true}

// refund refunds a payment, fully or partly. The form carries what was
// refunded when it was shown: a second submission of it (a double click,
// a resent form) finds the payment changed and refunds nothing more.
func (s *dashboard) refund(w http.ResponseWriter, r *http.Request, sess *staff.Session) error {
	id := r.PathValue("id")
	f := r.PostForm
	p, err := s.d.Payments.Get(r.Context(), account(sess), id)
	if err != nil {
		return err
	}
	if f.Get("seen") != strconv.FormatInt(p.AmountRefunded+p.AmountRefundPending, 10) {
		return s.actionFailed(w, r, sess, id, &apierror.Error{Kind: apierror.KindConflict, Code: "payment_changed",
			Message: "The payment changed since this page was shown (another refund?). Check it, then refund again if you still mean to."})
	}
	in := refunds.CreateParams{PaymentID: &id}
	if a := strings.TrimSpace(f.Get("amount")); a != "" {
		n, ok := parseMajor(a, p.Currency)
		if !ok {
			return s.actionFailed(w, r, sess, id, apierror.Invalid("parameter_invalid", "amount",
				"The amount to refund must be a positive number, like 5 or 5.00; leave it empty to refund all that remains."))
		}
		in.Amount = &n
	}
	if reason := f.Get("reason"); reason != "" {
		if !refundReasons[reason] {
			return s.actionFailed(w, r, sess, id, apierror.Invalid("parameter_invalid", "reason", "Unknown reason."))
		}
		in.Reason = &reason
	}
	ref, err := s.d.Refunds.Create(r.Context(), account(sess), in, nil)
	if err != nil {
		return s.actionFailed(w, r, sess, id, err)
	}
	s.record(r, sess, "dashboard.refund_created", ref.ID, map[string]string{"payment_id": id, "amount": strconv.FormatInt(ref.Amount, 10), "currency": ref.Currency})
	s.done(w, r, "/dashboard/payments/"+id, "refund")
	return nil
}

type refundsView struct {
	Refunds []*refunds.Refund
	Pager   pager
}

func (s *dashboard) refundList(w http.ResponseWriter, r *http.Request, sess *staff.Session) error {
	q := r.URL.Query()
	lq := refunds.ListQuery{Limit: pageSize}
	lq.StartingAfter, lq.EndingBefore = cursor(q, ids.Refund)
	rs, more, err := s.d.Refunds.List(r.Context(), account(sess), lq)
	if err != nil {
		return err
	}
	v := refundsView{Refunds: rs}
	if len(rs) > 0 {
		v.Pager = pageOf(q, rs[0].ID, rs[len(rs)-1].ID, lq.StartingAfter, lq.EndingBefore, more)
	}
	s.render(w, r, http.StatusOK, "refunds", s.viewOf(r, sess, "Refunds", "refunds", v))
	return nil
}

type chart struct {
	Currency string
	Total    int64
	Data     string // JSON for the chart's script: days (Unix seconds) and amounts (main unit)
	Days     []ledger.DayVolume
}

type balanceView struct {
	Balances []ledger.Balance
	Charts   []chart
}

// chartDays is how many days the volume chart shows, today included.
const chartDays = 30

func (s *dashboard) balancePage(w http.ResponseWriter, r *http.Request, sess *staff.Session) error {
	sums, err := s.d.Ledger.LedgerSums(r.Context(), sess.Scope())
	if err != nil {
		return err
	}
	now := clock.Now()
	vols, err := s.d.Ledger.DailyVolumes(r.Context(), sess.Scope(), chartDays, now)
	if err != nil {
		return err
	}
	v := balanceView{Balances: ledger.Balances(sums)}
	byCur := map[string]map[string]ledger.DayVolume{}
	for _, d := range vols {
		if byCur[d.Currency] == nil {
			byCur[d.Currency] = map[string]ledger.DayVolume{}
		}
		byCur[d.Currency][d.Day] = d
	}
	first := now.UTC().Truncate(24*time.Hour).AddDate(0, 0, -(chartDays - 1))
	for cur, days := range byCur {
		c := chart{Currency: cur}
		var xs []int64
		var ys []float64
		units := minorUnits(cur)
		scale := 1.0
		for range units {
			scale *= 10
		}
		for i := range chartDays {
			d := first.AddDate(0, 0, i)
			dv := days[d.Format(time.DateOnly)]
			dv.Day, dv.Currency = d.Format(time.DateOnly), cur
			c.Total += dv.Amount
			c.Days = append(c.Days, dv)
			xs = append(xs, d.Unix())
			ys = append(ys, float64(dv.Amount)/scale)
		}
		b, err := json.Marshal(map[string]any{"currency": cur, "days": xs, "amounts": ys})
		if err != nil {
			return err
		}
		c.Data = string(b)
		v.Charts = append(v.Charts, c)
	}
	sort.Slice(v.Charts, func(i, j int) bool { return v.Charts[i].Total > v.Charts[j].Total })
	s.render(w, r, http.StatusOK, "balance", s.viewOf(r, sess, "Balance", "balance", v))
	return nil
}

type customersView struct {
	Email     string
	Customers []*customers.Customer
	Pager     pager
}

func (s *dashboard) customerList(w http.ResponseWriter, r *http.Request, sess *staff.Session) error {
	q := r.URL.Query()
	lq := customers.ListQuery{Limit: pageSize, Email: strings.TrimSpace(q.Get("email"))}
	lq.StartingAfter, lq.EndingBefore = cursor(q, ids.Customer)
	cs, more, err := s.d.Customers.List(r.Context(), account(sess), lq)
	if err != nil {
		return err
	}
	v := customersView{Email: lq.Email, Customers: cs}
	if len(cs) > 0 {
		v.Pager = pageOf(q, cs[0].ID, cs[len(cs)-1].ID, lq.StartingAfter, lq.EndingBefore, more)
	}
	s.render(w, r, http.StatusOK, "customers", s.viewOf(r, sess, "Customers", "customers", v))
	return nil
}

type customerView struct {
	C       *customers.Customer
	Methods []*payments.Method
}

func (s *dashboard) customerPage(w http.ResponseWriter, r *http.Request, sess *staff.Session) error {
	id := r.PathValue("id")
	c, err := s.d.Customers.Get(r.Context(), account(sess), id)
	if err != nil {
		return err
	}
	ms, _, err := s.d.Payments.CustomerMethods(r.Context(), account(sess), id, payments.MethodListQuery{Limit: 100})
	if err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "customer", s.viewOf(r, sess, "Customer "+c.ID, "customers", customerView{C: c, Methods: ms}))
	return nil
}

type endpointsView struct {
	Endpoints  []*webhooks.Endpoint
	EventTypes []string
	Created    *webhooks.Endpoint // with its secret, shown once
	Error      string
	URL        string
}

func (s *dashboard) endpointList(w http.ResponseWriter, r *http.Request, sess *staff.Session) error {
	return s.showEndpoints(w, r, sess, http.StatusOK, endpointsView{})
}

func (s *dashboard) showEndpoints(w http.ResponseWriter, r *http.Request, sess *staff.Session, status int, v endpointsView) error {
	es, _, err := s.d.Webhooks.List(r.Context(), account(sess), webhooks.ListQuery{Limit: 100})
	if err != nil {
		return err
	}
	v.Endpoints, v.EventTypes = es, events.Types()
	s.render(w, r, status, "webhooks", s.viewOf(r, sess, "Webhooks", "webhooks", v))
	return nil
}

func (s *dashboard) createEndpoint(w http.ResponseWriter, r *http.Request, sess *staff.Session) error {
	u := strings.TrimSpace(r.PostForm.Get("url"))
	types := r.PostForm["events"]
	if len(types) == 0 {
		types = []string{"*"}
	}
	e, err := s.d.Webhooks.Create(r.Context(), account(sess), webhooks.CreateParams{URL: &u, EnabledEvents: types})
	if ae, ok := apierror.As(err); ok && ae.Kind == apierror.KindInvalidRequest {
		return s.showEndpoints(w, r, sess, http.StatusBadRequest, endpointsView{Error: ae.Message, URL: u})
	}
	if err != nil {
		return err
	}
	s.record(r, sess, "dashboard.webhook_endpoint_created", e.ID, map[string]string{"url": e.URL})
	return s.showEndpoints(w, r, sess, http.StatusCreated, endpointsView{Created: e})
}

type endpointView struct {
	E          *webhooks.Endpoint
	Deliveries []*webhooks.Delivery
	Attempts   []*webhooks.Attempt
	Secret     string // after a rotation, shown once
}

func (s *dashboard) endpointPage(w http.ResponseWriter, r *http.Request, sess *staff.Session) error {
	return s.showEndpoint(w, r, sess, r.PathValue("id"), "")
}

func (s *dashboard) showEndpoint(w http.ResponseWriter, r *http.Request, sess *staff.Session, id, secret string) error {
	ctx, acct := r.Context(), account(sess)
	e, err := s.d.Webhooks.Get(ctx, acct, id)
	if err != nil {
		return err
	}
	v := endpointView{E: e, Secret: secret}
	if v.Deliveries, _, err = s.d.Webhooks.Deliveries(ctx, acct, id, webhooks.ListQuery{Limit: pageSize}); err != nil {
		return err
	}
	if v.Attempts, _, err = s.d.Webhooks.Attempts(ctx, acct, id, webhooks.ListQuery{Limit: pageSize}); err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "webhook", s.viewOf(r, sess, "Webhook endpoint "+e.ID, "webhooks", v))
	return nil
}

func (s *dashboard) setEndpointStatus(w http.ResponseWriter, r *http.Request, sess *staff.Session) error {
	id := r.PathValue("id")
	disabled := r.PostForm.Get("status") == "disabled"
	if _, err := s.d.Webhooks.Update(r.Context(), account(sess), id, webhooks.UpdateParams{Disabled: &disabled}); err != nil {
		return err
	}
	flash := "enabled"
	if disabled {
		flash = "disabled"
	}
	s.record(r, sess, "dashboard.webhook_endpoint_"+flash, id, nil)
	s.done(w, r, "/dashboard/webhooks/"+id, flash)
	return nil
}

func (s *dashboard) rotateSecret(w http.ResponseWriter, r *http.Request, sess *staff.Session) error {
	id := r.PathValue("id")
	e, err := s.d.Webhooks.RotateSecret(r.Context(), account(sess), id, webhooks.RotateParams{})
	if err != nil {
		return err
	}
	s.record(r, sess, "dashboard.webhook_secret_rotated", id, nil)
	return s.showEndpoint(w, r, sess, id, e.Secret)
}

func (s *dashboard) redeliver(w http.ResponseWriter, r *http.Request, sess *staff.Session) error {
	id := r.PathValue("id")
	ev := r.PostForm.Get("event_id")
	if _, err := s.d.Webhooks.Redeliver(r.Context(), account(sess), id, webhooks.RedeliverParams{EventID: &ev}); err != nil {
		return err
	}
	s.record(r, sess, "dashboard.webhook_redelivered", id, map[string]string{"event_id": ev})
	s.done(w, r, "/dashboard/webhooks/"+id, "redeliver")
	return nil
}

type connectorsView struct {
	Accounts []*routing.Account
	Routing  *routing.Rules
}

func (s *dashboard) connectorsPage(w http.ResponseWriter, r *http.Request, sess *staff.Session) error {
	as, _, err := s.d.Routing.List(r.Context(), account(sess), routing.ListQuery{Limit: 100})
	if err != nil {
		return err
	}
	rules, err := s.d.Routing.Routing(r.Context(), account(sess))
	if err != nil {
		return err
	}
	s.render(w, r, http.StatusOK, "connectors", s.viewOf(r, sess, "Connectors and routing", "connectors", connectorsView{Accounts: as, Routing: rules}))
	return nil
}

type keysView struct {
	Keys   []*merchants.Key
	Issued *merchants.Key // with its secret, shown once
}

func (s *dashboard) keysPage(w http.ResponseWriter, r *http.Request, sess *staff.Session) error {
	return s.showKeys(w, r, sess, http.StatusOK, nil)
}

func (s *dashboard) showKeys(w http.ResponseWriter, r *http.Request, sess *staff.Session, status int, issued *merchants.Key) error {
	ks, err := s.d.Keys.APIKeys(r.Context(), sess.Scope())
	if err != nil {
		return err
	}
	s.render(w, r, status, "keys", s.viewOf(r, sess, "API keys", "keys", keysView{Keys: ks, Issued: issued}))
	return nil
}

func (s *dashboard) issueKey(w http.ResponseWriter, r *http.Request, sess *staff.Session) error {
	k := merchants.NewKey(sess.User.MerchantID, sess.Livemode, clock.Now())
	ev := s.event(r, sess, audit.APIKeyCreated, k.ID)
	ev.Details["api_key_prefix"] = k.Prefix
	if err := s.d.Keys.CreateKey(r.Context(), k, ev); err != nil {
		return err
	}
	return s.showKeys(w, r, sess, http.StatusCreated, k)
}

func (s *dashboard) revokeKey(w http.ResponseWriter, r *http.Request, sess *staff.Session) error {
	id := r.PathValue("id")
	// The key must be this account's: the store's revocation is the
	// admin API's, which spans merchants.
	if _, err := s.d.Keys.APIKey(r.Context(), sess.Scope(), id); errors.Is(err, merchants.ErrNotFound) {
		return apierror.NotFound("api_key", id)
	} else if err != nil {
		return err
	}
	if _, err := s.d.Keys.RevokeKey(r.Context(), id, s.event(r, sess, audit.APIKeyRevoked, id)); err != nil {
		return err
	}
	s.done(w, r, "/dashboard/keys", "revoked")
	return nil
}
