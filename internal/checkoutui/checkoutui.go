// Package checkoutui serves the hosted checkout page of a checkout session
// (package checkout): the page at the session's url, where the customer
// types a card or picks a wallet, and where paygate sends them on (to the
// 3-D Secure page, to the shop's success_url) or back to try again.
//
// The page is server-rendered HTML that works without JavaScript: the
// server validates every field and is the authority. A small embedded
// script (checkout.js) adds brand detection, the Luhn check and input
// formatting as the customer types. The page loads nothing from another
// origin and runs no inline script or style, under a strict
// Content-Security-Policy; it cannot be framed.
package checkoutui

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/cards"
	"github.com/paygate/paygate/internal/checkout"
	"github.com/paygate/paygate/internal/currency"
	"github.com/paygate/paygate/internal/payments"
	"github.com/paygate/paygate/internal/webassets"
)

//go:embed assets templates
var files embed.FS

// AssetPrefix is where the page's style, script and icon are served.
const AssetPrefix = "/checkout-assets/"

// Sessions is what the page needs of the checkout service.
type Sessions interface {
	Page(ctx context.Context, token string) (*checkout.Session, error)
	Pay(ctx context.Context, sess *checkout.Session, in checkout.PayParams) (*checkout.Session, *payments.Payment, error)
	Payment(ctx context.Context, sess *checkout.Session) (*payments.Payment, error)
	SavedCards(ctx context.Context, sess *checkout.Session) ([]*payments.Method, error)
	MerchantName(ctx context.Context, sess *checkout.Session) (string, error)
	CSRFToken(sess *checkout.Session) string
	CheckCSRF(sess *checkout.Session, token string) bool
}

// Pages serves a session's page and its assets.
type Pages struct {
	log    *slog.Logger
	co     Sessions
	assets *webassets.Set
	tmpl   *template.Template
	now    func() time.Time
}

// New returns the pages of the sessions co manages.
func New(log *slog.Logger, co Sessions) *Pages {
	sub, err := fsSub()
	if err != nil {
		panic("checkoutui: " + err.Error())
	}
	assets, err := webassets.New(AssetPrefix, sub, nil)
	if err != nil {
		panic("checkoutui: " + err.Error()) // embedded: only a broken build gets here
	}
	tmpl := template.Must(template.New("page.html").Funcs(template.FuncMap{"asset": assets.URL}).ParseFS(files, "templates/page.html"))
	return &Pages{log: log, co: co, assets: assets, tmpl: tmpl, now: time.Now}
}

// Assets serves the page's files: GET /checkout-assets/{file...}.
func (p *Pages) Assets() http.Handler { return p.assets }

// view is what the template shows.
type view struct {
	Title, Heading, Merchant, Amount string
	Test                             bool
	Open                             bool // the page loads its script
	Form                             bool // the card form and the wallets
	Refresh                          bool // reload in a few seconds: a payment is in flight
	Notice                           string
	NoticeIsError                    bool
	NoticeLink, NoticeLinkText       string
	Action, CSRF                     string
	Attempt                          int
	Wallets                          []wallet
	Saved                            []savedCard
	CanSave                          bool
	Errors                           map[string]string
	Focus                            string
	Exp, Name                        string
	CancelURL                        string
	// RedirectTo, when set, sends the browser on at once ("0;url=…").
	RedirectTo string

	formOrigins []string // where the forms' answers may send the browser
}

type wallet struct{ Value, Label string }

type savedCard struct{ ID, Label string }

// contentSecurityPolicy: the page's own files only, nothing inline, no
// framing; forms post to the page, whose answer may send the browser on to
// the shop's success page.
func contentSecurityPolicy(formOrigins []string) string {
	formAction := "'self'"
	for _, o := range formOrigins {
		if o != "" {
			formAction += " " + o
		}
	}
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; base-uri 'none'; " +
		"form-action " + formAction + "; frame-ancestors 'none'"
}

func (p *Pages) render(w http.ResponseWriter, r *http.Request, status int, v view) {
	if v.Title == "" {
		v.Title = "Checkout"
	}
	var buf bytes.Buffer
	if err := p.tmpl.Execute(&buf, v); err != nil {
		p.log.ErrorContext(r.Context(), "render checkout page", "error", err.Error())
		http.Error(w, "Something went wrong.", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", contentSecurityPolicy(v.formOrigins))
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Robots-Tag", "noindex")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// base is the view of a session's page, without its form.
func (p *Pages) base(ctx context.Context, sess *checkout.Session) view {
	name, err := p.co.MerchantName(ctx, sess)
	if err != nil || name == "" {
		name = "the shop"
	}
	return view{Merchant: name, Amount: FormatAmount(sess.Amount, sess.Currency), Test: !sess.Livemode,
		Heading: "Pay", CancelURL: sess.CancelURL, Errors: map[string]string{}}
}

// form is the view of an open session's page: the wallets, the saved
// cards, the card form, for the session's next attempt.
func (p *Pages) form(ctx context.Context, r *http.Request, sess *checkout.Session) (view, error) {
	v := p.base(ctx, sess)
	v.Title, v.Open, v.Form = "Pay "+v.Amount, true, true
	v.Action, v.CSRF, v.Attempt = "/checkout/"+r.PathValue("token"), p.co.CSRFToken(sess), sess.Attempts+1
	v.formOrigins = []string{origin(sess.SuccessURL)}
	if sess.Attempts >= checkout.MaxAttempts {
		v.Form, v.NoticeIsError = false, true
		v.Notice = "This payment was tried too many times. Return to " + v.Merchant + " to start again."
		v.NoticeLink, v.NoticeLinkText = sess.CancelURL, "Return to "+v.Merchant
		v.CancelURL = ""
		return v, nil
	}
	if v.Test {
		// The sandbox's wallet tokens stand in for Apple Pay's and Google
		// Pay's sheets in test mode; PayPal goes through its approval page.
		v.Wallets = []wallet{{"apple_pay", "Apple Pay"}, {"google_pay", "Google Pay"}, {"paypal", "PayPal"}}
	}
	if sess.Customer != "" {
		v.CanSave = true
		cards, err := p.co.SavedCards(ctx, sess)
		if err != nil {
			return v, err
		}
		for _, m := range cards {
			v.Saved = append(v.Saved, savedCard{ID: m.ID, Label: describeCard(m.Card)})
		}
	}
	return v, nil
}

func describeCard(c *payments.CardDetails) string {
	brand := c.Brand
	if brand == "" || brand == "unknown" {
		brand = "card"
	}
	label := map[string]string{"visa": "Visa", "mastercard": "Mastercard", "amex": "American Express", "discover": "Discover",
		"jcb": "JCB", "unionpay": "UnionPay", "diners": "Diners Club"}[brand]
	if label == "" {
		label = "Card"
	}
	s := label + " ending " + c.Last4
	if c.ExpMonth > 0 {
		s += ", expires " + twoDigits(c.ExpMonth) + "/" + twoDigits(c.ExpYear%100)
	}
	return s
}

func twoDigits(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

// closed is the view of a complete or expired session: it says so and
// takes no card.
func (p *Pages) closed(ctx context.Context, sess *checkout.Session) (int, view) {
	v := p.base(ctx, sess)
	v.CancelURL = ""
	if sess.Status == checkout.Complete {
		v.Title, v.Heading = "Payment complete", "Paid"
		v.Notice = "Your payment is complete. Thank you!"
		v.NoticeLink, v.NoticeLinkText = successURL(sess), "Return to "+v.Merchant
		return http.StatusOK, v
	}
	v.Title, v.Heading = "Checkout expired", "Expired"
	v.Notice, v.NoticeIsError = "This checkout has expired and takes no payment. Return to "+v.Merchant+" to start again.", true
	v.NoticeLink, v.NoticeLinkText = sess.CancelURL, "Return to "+v.Merchant
	return http.StatusGone, v
}

func (p *Pages) notFound(w http.ResponseWriter, r *http.Request) {
	p.render(w, r, http.StatusNotFound, view{Title: "Not found", Merchant: "paygate", Heading: "Checkout", Amount: "",
		Notice: "This checkout link is not valid. Return to the shop and start again.", NoticeIsError: true})
}

func (p *Pages) failed(w http.ResponseWriter, r *http.Request, err error) {
	p.log.ErrorContext(r.Context(), "checkout page", "error", err.Error())
	p.render(w, r, http.StatusInternalServerError, view{Title: "Something went wrong", Merchant: "paygate", Heading: "Checkout",
		Notice: "Something went wrong on our side. Reload the page in a moment: you have not been charged twice.", NoticeIsError: true})
}

// session finds the path's session, or answers the request itself.
func (p *Pages) session(w http.ResponseWriter, r *http.Request) (*checkout.Session, bool) {
	sess, err := p.co.Page(r.Context(), r.PathValue("token"))
	if errors.Is(err, checkout.ErrPageNotFound) {
		p.notFound(w, r)
		return nil, false
	}
	if err != nil {
		p.failed(w, r, err)
		return nil, false
	}
	return sess, true
}

// Show serves GET /checkout/{token}: the page.
func (p *Pages) Show() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, ok := p.session(w, r)
		if !ok {
			return
		}
		if sess.Status != checkout.Open {
			status, v := p.closed(r.Context(), sess)
			p.render(w, r, status, v)
			return
		}
		v, err := p.form(r.Context(), r, sess)
		if err != nil {
			p.failed(w, r, err)
			return
		}
		// A payment of this session waiting for its customer (back from
		// the 3-D Secure page without finishing): paying again cancels it.
		if pay, err := p.co.Payment(r.Context(), sess); err == nil && pay != nil && pay.Status == payments.Processing {
			v = p.pending(v)
		}
		p.render(w, r, http.StatusOK, v)
	})
}

func (p *Pages) pending(v view) view {
	v.Form, v.Refresh, v.NoticeIsError = false, true, false
	v.Notice = "Your payment is being processed. This page updates by itself."
	return v
}

// Return serves GET /checkout/{token}/return: where the 3-D Secure page
// or PayPal's approval sends the customer back.
func (p *Pages) Return() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, ok := p.session(w, r)
		if !ok {
			return
		}
		if sess.Status == checkout.Complete {
			// The customer comes here at the end of a chain of redirects
			// that started with a form on the 3-D Secure page, whose
			// form-action allows this server only: a redirect on to the
			// shop would be blocked there. The shop is reached by a
			// refresh of this page instead, with a link.
			_, v := p.closed(r.Context(), sess)
			v.RedirectTo = "0;url=" + successURL(sess)
			p.render(w, r, http.StatusOK, v)
			return
		}
		if sess.Status != checkout.Open {
			status, v := p.closed(r.Context(), sess)
			p.render(w, r, status, v)
			return
		}
		pay, err := p.co.Payment(r.Context(), sess)
		if err != nil {
			p.failed(w, r, err)
			return
		}
		v, err := p.form(r.Context(), r, sess)
		if err != nil {
			p.failed(w, r, err)
			return
		}
		if pay != nil {
			v = p.outcome(v, pay)
		}
		p.render(w, r, http.StatusOK, v)
	})
}

// outcome shows what became of a payment that did not pay the session.
func (p *Pages) outcome(v view, pay *payments.Payment) view {
	if !v.Form && v.NoticeIsError && pay.Status == payments.Failed {
		// No more attempts: the decline, and that the page is done.
		msg, _ := declineMessage(pay)
		v.Notice = msg + " " + v.Notice
		return v
	}
	switch pay.Status {
	case payments.Processing:
		return p.pending(v)
	case payments.Failed:
		msg, field := declineMessage(pay)
		v.Notice, v.NoticeIsError, v.Focus = msg, true, field
		if v.Focus == "" {
			v.Focus = "number"
		}
		if field != "" {
			v.Errors[field] = msg
		}
	case payments.Canceled:
		v.Notice, v.NoticeIsError, v.Focus = "The payment was not completed. Try again, or use another card.", true, "number"
	}
	if !v.Form {
		v.Focus = ""
	}
	return v
}

// declineMessage is what the customer reads of a failed payment, and the
// field it concerns, if one.
func declineMessage(p *payments.Payment) (string, string) {
	code := p.DeclineCode
	if code == "" {
		code = p.FailureCode
	}
	switch code {
	case "insufficient_funds":
		return "Your card was declined: insufficient funds. Try another card.", ""
	case "expired_card":
		return "Your card has expired. Try another card.", ""
	case "incorrect_cvc":
		return "The security code is incorrect. Check it, or try another card.", "cvc"
	case "processing_error":
		return "We could not reach your card's bank. Try again, or use another card.", ""
	case "authentication_failed", "authentication_required":
		return "Your bank did not confirm this payment. Try again, or use another card.", ""
	}
	if p.PaymentMethod != nil && p.PaymentMethod.Wallet != nil {
		return "Your payment was declined. Try another way to pay.", ""
	}
	return "Your card was declined. Try another card.", ""
}

// Submit serves POST /checkout/{token}: one attempt to pay.
func (p *Pages) Submit() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
		if err := r.ParseForm(); err != nil {
			p.render(w, r, http.StatusBadRequest, view{Merchant: "paygate", Heading: "Checkout", NoticeIsError: true,
				Notice: "The form could not be read. Go back and try again."})
			return
		}
		sess, ok := p.session(w, r)
		if !ok {
			return
		}
		// A form of this page, posted from this page: the CSRF token is
		// bound to the session, and a browser that tells where a request
		// comes from must say it is this site.
		if site := r.Header.Get("Sec-Fetch-Site"); (site != "" && site != "same-origin" && site != "none") || !p.co.CheckCSRF(sess, r.PostForm.Get("csrf")) {
			v := p.base(r.Context(), sess)
			v.Notice, v.NoticeIsError = "This form has expired. Reload the page and try again.", true
			v.NoticeLink, v.NoticeLinkText = "/checkout/"+r.PathValue("token"), "Reload the page"
			p.render(w, r, http.StatusForbidden, v)
			return
		}
		if sess.Status != checkout.Open {
			if sess.Status == checkout.Complete {
				http.Redirect(w, r, successURL(sess), http.StatusSeeOther)
				return
			}
			status, v := p.closed(r.Context(), sess)
			p.render(w, r, status, v)
			return
		}
		v, err := p.form(r.Context(), r, sess)
		if err != nil {
			p.failed(w, r, err)
			return
		}
		in, fieldErrs := p.parse(r, sess, v)
		if len(fieldErrs) > 0 {
			v.Errors = fieldErrs
			v.Exp, v.Name = r.PostForm.Get("exp"), r.PostForm.Get("name")
			v.Notice, v.NoticeIsError = "Check the highlighted fields.", true
			for _, f := range []string{"number", "exp", "cvc", "name", "method"} {
				if msg := fieldErrs[f]; msg != "" {
					if f == "method" {
						v.Notice = msg
					} else if v.Focus == "" {
						v.Focus = f
					}
				}
			}
			p.render(w, r, http.StatusBadRequest, v)
			return
		}
		// The payment runs to its end even if the customer leaves: it is
		// not cut off between its steps.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 45*time.Second)
		defer cancel()
		after, pay, err := p.co.Pay(ctx, sess, in)
		switch {
		case errors.Is(err, checkout.ErrClosed):
			if after.Status == checkout.Complete {
				http.Redirect(w, r, successURL(after), http.StatusSeeOther)
				return
			}
			status, cv := p.closed(r.Context(), after)
			p.render(w, r, status, cv)
			return
		case errors.Is(err, checkout.ErrStale):
			// An old copy of the form: show the page as it is now.
			http.Redirect(w, r, "/checkout/"+r.PathValue("token"), http.StatusSeeOther)
			return
		case errors.Is(err, checkout.ErrTooManyAttempts):
			after.Attempts = checkout.MaxAttempts
			v, _ = p.form(r.Context(), r, after)
			p.render(w, r, http.StatusTooManyRequests, v)
			return
		case errors.Is(err, checkout.ErrPending):
			p.render(w, r, http.StatusOK, p.pending(v))
			return
		case err != nil:
			if e, ok := apierror.As(err); ok && e.Kind == apierror.KindInvalidRequest {
				field := formField(e.Param)
				v.Notice, v.NoticeIsError = e.Message, true
				if field != "" {
					v.Errors[field], v.Focus = e.Message, field
				}
				p.render(w, r, http.StatusBadRequest, v)
				return
			}
			p.failed(w, r, err)
			return
		}
		if after.Status == checkout.Complete {
			http.Redirect(w, r, successURL(after), http.StatusSeeOther)
			return
		}
		if pay.Status == payments.RequiresAction && pay.NextAction != nil && pay.NextAction.RedirectToURL != nil {
			next := pay.NextAction.RedirectToURL.URL
			if sameOrigin(next, after.SuccessURL, r) {
				http.Redirect(w, r, next, http.StatusSeeOther)
				return
			}
			// A processor's own page: form-action does not allow it, so
			// the customer follows a link (and a refresh) instead.
			v.Form, v.Open = false, false
			v.Notice, v.NoticeLink, v.NoticeLinkText = "Your bank asks you to confirm this payment.", next, "Continue to your bank"
			p.render(w, r, http.StatusOK, v)
			return
		}
		// Declined (or still processing): the next attempt's form, with
		// nothing of the card typed echoed back.
		v, err = p.form(r.Context(), r, after)
		if err != nil {
			p.failed(w, r, err)
			return
		}
		p.render(w, r, http.StatusOK, p.outcome(v, pay))
	})
}

// parse reads the submitted method; errors are per form field.
func (p *Pages) parse(r *http.Request, sess *checkout.Session, v view) (checkout.PayParams, map[string]string) {
	f := r.PostForm
	errs := map[string]string{}
	in := checkout.PayParams{}
	attempt, err := strconv.Atoi(f.Get("attempt"))
	if err != nil || attempt < 1 {
		errs["method"] = "The form could not be read. Reload the page and try again."
		return in, errs
	}
	in.Attempt = attempt
	switch method := f.Get("method"); method {
	case "apple_pay", "google_pay":
		if !v.Test {
			errs["method"] = "This way to pay is not available."
			break
		}
		in.Method.Inline = &payments.MethodData{Type: "wallet", Wallet: &payments.WalletData{Type: method, Token: "tok_" + method}}
	case "paypal":
		if !v.Test {
			errs["method"] = "This way to pay is not available."
			break
		}
		in.Method.Inline = &payments.MethodData{Type: "wallet", Wallet: &payments.WalletData{Type: "paypal"}}
	case "saved":
		id := f.Get("payment_method")
		found := false
		for _, c := range v.Saved {
			found = found || c.ID == id
		}
		if !found {
			errs["method"] = "That saved card cannot be used. Pay with another card."
			break
		}
		in.Method.ID = id
	case "card":
		card, cardErrs := parseCard(f, p.now())
		if len(cardErrs) > 0 {
			return in, cardErrs
		}
		in.Method.Inline = &payments.MethodData{Type: "card", Card: card}
		in.Save = f.Get("save") == "1" && sess.Customer != ""
	default:
		errs["method"] = "Choose a way to pay."
	}
	return in, errs
}

// parseCard reads and checks the card fields; the card package is the
// authority on the number, the expiry and the CVC.
func parseCard(f url.Values, now time.Time) (*payments.CardData, map[string]string) {
	errs := map[string]string{}
	number := cards.Normalize(f.Get("number"))
	name := strings.TrimSpace(f.Get("name"))
	cvc := strings.TrimSpace(f.Get("cvc"))
	if number == "" {
		errs["number"] = "Enter your card number."
	}
	month, year, ok := parseExpiry(f.Get("exp"))
	if !ok {
		errs["exp"] = "Enter the expiry date as MM / YY."
	}
	if cvc == "" {
		errs["cvc"] = "Enter the security code."
	}
	if name == "" {
		errs["name"] = "Enter the name on the card."
	}
	card := &payments.CardData{Number: number, ExpMonth: month, ExpYear: year, CVC: cvc, HolderName: name}
	if len(errs) > 0 {
		return nil, errs
	}
	if _, err := payments.ValidateMethod(&payments.MethodData{Type: "card", Card: card}, true, "", now); err != nil {
		e, ok := apierror.As(err)
		field := ""
		if ok {
			field = formField(e.Param)
		}
		if field == "" {
			field = "number"
		}
		errs[field] = fieldMessage(field, e)
		return nil, errs
	}
	return card, nil
}

// fieldMessage is what the customer reads of a card field the card
// package refused.
func fieldMessage(field string, e *apierror.Error) string {
	switch field {
	case "number":
		return "This card number is not valid: check it for a typo."
	case "exp":
		if e != nil && strings.Contains(e.Code, "expired") {
			return "This card has expired."
		}
		return "Enter a valid expiry date as MM / YY."
	case "cvc":
		return "The security code is not valid."
	case "name":
		return "The name on the card is too long."
	}
	if e != nil {
		return e.Message
	}
	return "Check this field."
}

// formField maps an API parameter to the page's field.
func formField(param string) string {
	switch {
	case strings.HasSuffix(param, "card.number"):
		return "number"
	case strings.HasSuffix(param, "card.exp_month"), strings.HasSuffix(param, "card.exp_year"):
		return "exp"
	case strings.HasSuffix(param, "card.cvc"):
		return "cvc"
	case strings.HasSuffix(param, "card.holder_name"):
		return "name"
	}
	return ""
}

// parseExpiry reads "MM/YY", "MM / YY", "MMYY", "MM/YYYY".
func parseExpiry(s string) (month, year int, ok bool) {
	s = strings.TrimSpace(s)
	var m, y string
	if i := strings.IndexAny(s, "/-"); i >= 0 {
		m, y = strings.TrimSpace(s[:i]), strings.TrimSpace(s[i+1:])
	} else {
		s = strings.ReplaceAll(s, " ", "")
		if len(s) != 4 && len(s) != 6 {
			return 0, 0, false
		}
		m, y = s[:2], s[2:]
	}
	month, err1 := strconv.Atoi(m)
	year, err2 := strconv.Atoi(y)
	if err1 != nil || err2 != nil || len(m) < 1 || len(m) > 2 || (len(y) != 2 && len(y) != 4) || month < 1 || month > 12 {
		return 0, 0, false
	}
	if len(y) == 2 {
		year += 2000
	}
	return month, year, true
}

// successURL is the shop's success page with the session's id added.
func successURL(sess *checkout.Session) string {
	u, err := url.Parse(sess.SuccessURL)
	if err != nil {
		return sess.SuccessURL
	}
	q := u.Query()
	q.Set("session_id", sess.ID)
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

// sameOrigin tells whether next is on this server (the sandbox's page),
// or on the shop's success origin: places form-action lets the answer go.
func sameOrigin(next, success string, r *http.Request) bool {
	u, err := url.Parse(next)
	if err != nil {
		return false
	}
	if u.Host == "" || u.Host == r.Host {
		return true
	}
	return origin(next) == origin(success)
}

// FormatAmount shows an amount in its currency: "$42.00", "€42.00",
// "¥4,200", "42.000 KWD".
func FormatAmount(amount int64, code string) string {
	c, _ := currency.Lookup(code) // unknown: no decimals
	whole, frac, hasFrac := strings.Cut(currency.Major(amount, c.MinorUnits), ".")
	var b strings.Builder
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	num := b.String()
	if hasFrac {
		num += "." + frac
	}
	switch code {
	case "USD":
		return "$" + num
	case "EUR":
		return "€" + num
	case "GBP":
		return "£" + num
	case "JPY":
		return "¥" + num
	}
	return num + " " + code
}

// fsSub is the assets directory of the embedded files.
func fsSub() (fs.FS, error) { return fs.Sub(files, "assets") }
