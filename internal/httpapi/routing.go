package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/connectors"
	"github.com/paygate/paygate/internal/idempotency"
	"github.com/paygate/paygate/internal/ids"
	"github.com/paygate/paygate/internal/payments"
	"github.com/paygate/paygate/internal/refunds"
	"github.com/paygate/paygate/internal/routing"
	"github.com/paygate/paygate/internal/tenant"
)

func handleConnectorAccountList(log *slog.Logger, svc *routing.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		pg, err := parseList(r.URL.Query(), ids.Connector, func(string, string) (bool, error) { return false, nil })
		if err != nil {
			return err
		}
		as, more, err := svc.List(r.Context(), accountFrom(r.Context()), routing.ListQuery{Limit: pg.Limit, StartingAfter: pg.StartingAfter, EndingBefore: pg.EndingBefore})
		if err != nil {
			return err
		}
		return encode(w, http.StatusOK, list[*routing.Account]{Object: "list", Data: orEmpty(as), HasMore: more, URL: "/v1/connector_accounts"})
	})
}

// handlePut decodes the body and replaces the request's resource with it,
// answering 200 with it; under k.
func handlePut[In, Out any](k keyed, put func(context.Context, tenant.Account, In) (Out, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.serve(w, r, http.StatusOK, func(ctx context.Context, body []byte, _ *idempotency.Call) (any, error) {
			in, err := decodeBody[In](r, body)
			if err != nil {
				return nil, err
			}
			return put(ctx, accountFrom(ctx), in)
		})
	})
}

// handleRead answers 200 with the request's one resource (no id).
func handleRead[Out any](log *slog.Logger, read func(context.Context, tenant.Account) (Out, error)) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		for name := range r.URL.Query() {
			return apierror.Invalid("parameter_unknown", name, "Received unknown parameter: %s.", apierror.Truncate(name, 40))
		}
		out, err := read(r.Context(), accountFrom(r.Context()))
		if err != nil {
			return err
		}
		return encode(w, http.StatusOK, out)
	})
}

func handleAttemptsOfPayment(log *slog.Logger, pay *payments.Service) http.Handler {
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		for name := range r.URL.Query() {
			return apierror.Invalid("parameter_unknown", name, "Received unknown parameter: %s.", apierror.Truncate(name, 40))
		}
		id := r.PathValue("id")
		as, err := pay.Attempts(r.Context(), accountFrom(r.Context()), id)
		if err != nil {
			return err
		}
		return encode(w, http.StatusOK, list[*payments.Attempt]{Object: "list", Data: orEmpty(as), URL: "/v1/payments/" + id + "/attempts"})
	})
}

// ProcessorAccounts finds a processor account by the id a processor's
// webhook URL names, with its connector.
type ProcessorAccounts interface {
	Account(ctx context.Context, id string) (*routing.Account, connectors.Connector, error)
}

// handleConnectorWebhook takes a processor's own notifications for one
// account: no API key, the processor's signature (verified in constant
// time by the connector). An unknown account, an account whose processor
// sends none, or a request that is not validly signed is 400 and changes
// nothing; a duplicate changes nothing either (each notification goes
// through the transition of the operation it names, which applies once).
func handleConnectorWebhook(log *slog.Logger, accounts ProcessorAccounts, pay *payments.Service, refs *refunds.Service) http.Handler {
	invalid := &apierror.Error{Kind: apierror.KindInvalidRequest, Code: "webhook_invalid",
		Message: "Not a valid notification for this connector account (unknown account, or a missing or wrong signature)."}
	return handle(log, func(w http.ResponseWriter, r *http.Request) error {
		body, err := readBody(w, r)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 20*time.Second)
		defer cancel()
		a, c, err := accounts.Account(ctx, r.PathValue("ca_id"))
		if errors.Is(err, routing.ErrNotFound) {
			return invalid
		}
		if err != nil {
			return err
		}
		parser, ok := c.(connectors.WebhookParser)
		if !ok {
			return invalid
		}
		ns, err := parser.ParseWebhook(r.Header, body, time.Now())
		if errors.Is(err, connectors.ErrBadSignature) {
			log.WarnContext(ctx, "processor webhook refused: bad signature", "connector_account", a.ID)
			return invalid
		}
		if err != nil {
			return invalid
		}
		applied := 0
		for _, n := range ns {
			var known bool
			if strings.HasPrefix(n.Reference, "re_") {
				known, err = refs.Notify(ctx, a.Scope(), a.ID, n)
			} else {
				known, err = pay.Notify(ctx, a.Scope(), a.ID, n)
			}
			if err != nil {
				return err // the processor sends it again
			}
			if known {
				applied++
			}
		}
		log.InfoContext(ctx, "processor webhook", "connector_account", a.ID, "notifications", len(ns), "applied", applied)
		if a.Connector == routing.Adyen {
			// Adyen retries until it reads this answer.
			w.Header().Set("Content-Type", "text/plain")
			_, err := w.Write([]byte("[accepted]"))
			return err
		}
		return encode(w, http.StatusOK, map[string]bool{"received": true})
	})
}

// processorReturn is where a customer comes back from a processor's own
// page (3-D Secure, a wallet's approval): paygate asks the processor how it
// went, then sends the customer on to the merchant's return_url, or shows
// a closing page.
func (a *actionPages) processorReturn() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := a.pay.ProcessorReturn(r.Context(), r.PathValue("payment"), returnDetails(r.URL.Query()))
		if errors.Is(err, payments.ErrActionUnavailable) {
			a.render(w, http.StatusNotFound, pageData{Title: "This payment is not waiting for you",
				Message: "Return to the shop to see how your payment ended."})
			return
		}
		if err != nil {
			a.log.ErrorContext(r.Context(), "processor return", "error", err.Error())
			a.render(w, http.StatusInternalServerError, pageData{Title: "Something went wrong",
				Message: "The shop will see how your payment ended."})
			return
		}
		if p.ReturnURL == "" {
			a.render(w, http.StatusOK, pageData{Title: "Done", Message: "You may close this page."})
			return
		}
		http.Redirect(w, r, withPaymentID(p.ReturnURL, p.ID), http.StatusSeeOther)
	})
}

// returnDetails are the parameters a processor added to the return URL
// (Adyen's redirectResult), for the processor to read back: single values
// of bounded size, the rest dropped.
func returnDetails(q url.Values) map[string]string {
	d := map[string]string{}
	size := 0
	for k, v := range q {
		if len(v) != 1 || len(k) > 64 || size+len(k)+len(v[0]) > 16<<10 {
			continue
		}
		d[k] = v[0]
		size += len(k) + len(v[0])
	}
	return d
}
