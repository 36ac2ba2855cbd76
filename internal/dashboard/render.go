package dashboard

import (
	"bytes"
	"embed"
	"errors"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/currency"
	"github.com/paygate/paygate/internal/payments"
	"github.com/paygate/paygate/internal/staff"
	"github.com/paygate/paygate/internal/webassets"
)

//go:embed templates
var templateFiles embed.FS

// contentSecurityPolicy allows the dashboard's own files and nothing else:
// no inline script or style, no other origin; forms post to the dashboard
// only.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

type templates struct {
	byName map[string]*template.Template
}

// pages are the templates of templates/, each rendered inside layout.html.
var pageNames = []string{"signin", "password", "error", "payments", "payment", "refunds", "balance",
	"customers", "customer", "checkout_sessions", "checkout_session", "webhooks", "webhook", "connectors", "keys"}

func parseTemplates(a *webassets.Set) *templates {
	funcs := template.FuncMap{
		"asset":   a.URL,
		"money":   money,
		"major":   majorUnits,
		"when":    when,
		"day":     func(t time.Time) string { return t.UTC().Format("2 Jan 2006") },
		"method":  describeMethod,
		"title":   title,
		"join":    strings.Join,
		"pending": func(p *payments.Payment) int64 { return p.AmountRefundPending },
	}
	base := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html"))
	t := &templates{byName: map[string]*template.Template{}}
	for _, name := range pageNames {
		t.byName[name] = template.Must(template.Must(base.Clone()).ParseFS(templateFiles, "templates/"+name+".html"))
	}
	return t
}

// view is what every page's template gets.
type view struct {
	Title   string
	Nav     string // the navigation entry to mark current
	Session *staff.Session
	CSRF    string
	Admin   bool
	Live    bool
	Flash   string
	Page    any
}

func (s *dashboard) viewOf(r *http.Request, sess *staff.Session, title, nav string, page any) view {
	v := view{Title: title, Nav: nav, Session: sess, Page: page}
	if sess != nil {
		v.CSRF, v.Admin, v.Live = csrfToken(tokenOf(r)), sess.User.Role == staff.Admin, sess.Livemode
	}
	v.Flash = flashes[r.URL.Query().Get("done")]
	return v
}

// flashes are the messages a redirect after an action may show: a fixed
// set, so a link cannot make the dashboard say anything else.
var flashes = map[string]string{
	"refund":    "Refund created.",
	"capture":   "Payment captured.",
	"cancel":    "Payment canceled.",
	"password":  "Your password is changed.",
	"enabled":   "Endpoint enabled.",
	"disabled":  "Endpoint disabled.",
	"redeliver": "The event is queued for delivery again.",
	"revoked":   "Key revoked.",
	"expired":   "Checkout session expired.",
}

func (s *dashboard) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	var buf bytes.Buffer
	if err := s.pages.byName[name].ExecuteTemplate(&buf, "layout.html", v); err != nil {
		s.log.ErrorContext(r.Context(), "dashboard template", "page", name, "error", err.Error())
		http.Error(w, "The page could not be shown.", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "same-origin")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

type errorView struct {
	Status  int
	Message string
}

func (s *dashboard) renderError(w http.ResponseWriter, r *http.Request, sess *staff.Session, status int, msg string) {
	title := http.StatusText(status)
	s.render(w, r, status, "error", s.viewOf(r, sess, title, "", errorView{Status: status, Message: msg}))
}

func (s *dashboard) notFound(w http.ResponseWriter, r *http.Request) {
	s.renderError(w, r, nil, http.StatusNotFound, "There is no such page.")
}

// fail renders a service's error: the API's error kinds, as pages.
func (s *dashboard) fail(w http.ResponseWriter, r *http.Request, sess *staff.Session, err error) {
	if e, ok := apierror.As(err); ok {
		switch e.Kind {
		case apierror.KindNotFound:
			s.renderError(w, r, sess, http.StatusNotFound, "Nothing here: no such object in this account and mode.")
			return
		case apierror.KindInvalidRequest, apierror.KindConflict, apierror.KindCardError:
			s.renderError(w, r, sess, http.StatusBadRequest, e.Message)
			return
		case apierror.KindUnavailable:
			s.renderError(w, r, sess, http.StatusServiceUnavailable, "The database is not answering. Try again in a moment.")
			return
		}
	}
	if errors.Is(err, staff.ErrNotFound) {
		s.renderError(w, r, sess, http.StatusNotFound, "Nothing here.")
		return
	}
	s.log.ErrorContext(r.Context(), "dashboard page", "path", r.URL.Path, "error", err.Error())
	s.renderError(w, r, sess, http.StatusInternalServerError, "Something went wrong; it is logged. Try again in a moment.")
}

// minorUnits is a currency's number of decimals (2 when unknown).
func minorUnits(code string) int {
	if c, ok := currency.Lookup(code); ok {
		return c.MinorUnits
	}
	return 2
}

// majorUnits writes an amount in the currency's main unit: 1050 USD is
// "10.50".
func majorUnits(amount int64, code string) string {
	return currency.Major(amount, minorUnits(code))
}

func money(amount int64, code string) string {
	return majorUnits(amount, code) + " " + strings.ToUpper(code)
}

// parseMajor reads an amount typed in the currency's main unit ("10.5",
// "10.50", "10") as minor units.
func parseMajor(s, code string) (int64, bool) {
	s = strings.TrimSpace(strings.ReplaceAll(s, ",", ""))
	units := minorUnits(code)
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || len(frac) > units || strings.ContainsAny(whole+frac, "+-") {
		return 0, false
	}
	for len(frac) < units {
		frac += "0"
	}
	n, err := strconv.ParseInt(whole+frac, 10, 64)
	if err != nil || n <= 0 {
		return 0, false
	}
	return n, true
}

func when(t time.Time) string { return t.UTC().Format("2 Jan 2006, 15:04:05 UTC") }

func title(s string) string {
	if s == "" {
		return s
	}
	s = strings.ReplaceAll(s, "_", " ")
	return strings.ToUpper(s[:1]) + s[1:]
}

// describeMethod is what the dashboard shows of a payment method: its
// brand and last 4, never more.
func describeMethod(m *payments.Method) string {
	card := func(c *payments.CardDetails) string {
		if c == nil {
			return ""
		}
		return title(c.Brand) + " •••• " + c.Last4
	}
	switch {
	case m == nil:
		return "—"
	case m.Card != nil:
		return card(m.Card)
	case m.Wallet != nil && m.Wallet.Card != nil:
		return title(m.Wallet.Type) + " (" + card(m.Wallet.Card) + ")"
	case m.Wallet != nil:
		return title(m.Wallet.Type)
	}
	return "—"
}
