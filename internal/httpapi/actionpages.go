package httpapi

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/paygate/paygate/internal/currency"
	"github.com/paygate/paygate/internal/payments"
)

// The sandbox's customer pages stand in for a bank's 3-D Secure challenge
// and a wallet's approval page. They are plain HTML forms: no JavaScript,
// no cookies. The link's single-use token is the only credential, so
// nothing on them reaches another payment.

const pageCSS = `body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1a1a1a}
main{max-width:28rem;margin:3rem auto;background:#fff;padding:2rem;border-radius:8px;border:1px solid #d0d4da}
h1{font-size:1.4rem;margin-top:0}.note{color:#4a4f57;font-size:.9rem}dl{display:grid;grid-template-columns:auto 1fr;gap:.25rem 1rem}
dt{font-weight:600}dd{margin:0}form{display:inline}button{font:inherit;padding:.6rem 1.4rem;margin:1rem .5rem 1rem 0;border-radius:6px;border:1px solid #1a1a1a;cursor:pointer}
#approve{background:#1a56db;color:#fff;border-color:#1a56db}#decline{background:#fff}a{color:#1a56db}
:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}`

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{.Title}} — paygate{{if .Payment}} sandbox{{end}}</title>
<style>{{.CSS}}</style>
</head>
<body>
<main>
<h1>{{.Title}}</h1>
{{if .Message}}<p role="status">{{.Message}}</p>{{end}}
{{if .Payment}}
<p class="note">paygate sandbox: this page stands in for {{if .Wallet}}PayPal's approval page{{else}}your card issuer's 3-D Secure check{{end}}. No real money moves.</p>
<dl>
<dt>Amount</dt><dd>{{.Amount}}</dd>
<dt>Paying with</dt><dd>{{.Method}}</dd>
</dl>
<form method="post"><input type="hidden" name="action" value="approve"><button type="submit" id="approve">Approve</button></form>
<form method="post"><input type="hidden" name="action" value="decline"><button type="submit" id="decline">Decline</button></form>
{{if .ReturnURL}}<p><a id="abandon" href="{{.ReturnURL}}">Cancel and return to the shop</a></p>{{end}}
{{end}}
</main>
</body>
</html>
`))

type pageData struct {
	Title, Message string
	CSS            template.CSS
	Payment        bool
	Wallet         bool
	Amount, Method string
	ReturnURL      string
	formOrigin     string
}

// actionPages serves GET (the page) and POST (the customer's choice) of
// /sandbox/authenticate/{token}.
type actionPages struct {
	log *slog.Logger
	pay *payments.Service
	csp string // without form-action, which depends on the payment
}

func newActionPages(log *slog.Logger, pay *payments.Service) *actionPages {
	sum := sha256.Sum256([]byte(pageCSS))
	return &actionPages{log: log, pay: pay,
		csp: "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; base-uri 'none'; frame-ancestors 'none'"}
}

func (a *actionPages) render(w http.ResponseWriter, status int, d pageData) {
	d.CSS = template.CSS(pageCSS)
	// A form may post here, and the answer may send the customer on to the
	// shop's return_url: form-action must allow both.
	formAction := "'self'"
	if d.formOrigin != "" {
		formAction += " " + d.formOrigin
	}
	w.Header().Set("Content-Security-Policy", a.csp+"; form-action "+formAction)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := pageTemplate.Execute(w, d); err != nil {
		a.log.Warn("render sandbox page", "error", err.Error())
	}
}

func (a *actionPages) unavailable(w http.ResponseWriter) {
	a.render(w, http.StatusNotFound, pageData{Title: "This link cannot be used",
		Message: "It has expired or was already used. Return to the shop to try again."})
}

func (a *actionPages) show() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := a.pay.ActionPayment(r.Context(), r.PathValue("token"))
		if errors.Is(err, payments.ErrActionUnavailable) {
			a.unavailable(w)
			return
		}
		if err != nil {
			a.log.ErrorContext(r.Context(), "sandbox page", "error", err.Error())
			a.render(w, http.StatusInternalServerError, pageData{Title: "Something went wrong", Message: "Try again in a moment."})
			return
		}
		d := pageData{Title: "Confirm your card payment", Payment: true, Amount: formatAmount(p.Amount, p.Currency), Method: describeMethod(p.PaymentMethod)}
		if p.PaymentMethod != nil && p.PaymentMethod.Wallet != nil {
			d.Title, d.Wallet = "Approve your PayPal payment", true
		}
		if p.ReturnURL != "" {
			d.ReturnURL = withPaymentID(p.ReturnURL, p.ID)
			d.formOrigin = origin(p.ReturnURL)
		}
		a.render(w, http.StatusOK, d)
	})
}

func (a *actionPages) complete() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
		if err := r.ParseForm(); err != nil {
			a.render(w, http.StatusBadRequest, pageData{Title: "Something went wrong", Message: "The form could not be read."})
			return
		}
		var approved bool
		switch r.PostForm.Get("action") {
		case "approve":
			approved = true
		case "decline":
		default:
			a.render(w, http.StatusBadRequest, pageData{Title: "Something went wrong", Message: "Choose Approve or Decline."})
			return
		}
		p, err := a.pay.CompleteAction(r.Context(), r.PathValue("token"), approved)
		if errors.Is(err, payments.ErrActionUnavailable) {
			a.unavailable(w)
			return
		}
		if err != nil {
			a.log.ErrorContext(r.Context(), "sandbox page", "error", err.Error())
			a.render(w, http.StatusInternalServerError, pageData{Title: "Something went wrong", Message: "Return to the shop: it will show how your payment ended."})
			return
		}
		if p.ReturnURL != "" {
			http.Redirect(w, r, withPaymentID(p.ReturnURL, p.ID), http.StatusSeeOther)
			return
		}
		msg := "You approved the payment. You can close this page."
		if !approved {
			msg = "You declined the payment. You can close this page."
		}
		a.render(w, http.StatusOK, pageData{Title: "Thank you", Message: msg})
	})
}

// withPaymentID adds payment_id to the shop's return URL, keeping its own
// query.
func withPaymentID(raw, id string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	q := u.Query()
	q.Set("payment_id", id)
	u.RawQuery = q.Encode()
	return u.String()
}

func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

func formatAmount(amount int64, code string) string {
	c, _ := currency.Lookup(code) // unknown: no decimals
	return currency.Major(amount, c.MinorUnits) + " " + code
}

func describeMethod(m *payments.Method) string {
	switch {
	case m == nil:
		return "—"
	case m.Card != nil && m.Card.Brand != "":
		return strings.ToUpper(m.Card.Brand[:1]) + m.Card.Brand[1:] + " card ending " + m.Card.Last4
	case m.Card != nil:
		return "Card ending " + m.Card.Last4
	case m.Wallet != nil && m.Wallet.Type == "paypal":
		return "PayPal"
	case m.Wallet != nil:
		return m.Wallet.Type
	}
	return "—"
}
