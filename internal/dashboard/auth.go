package dashboard

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/audit"
	"github.com/paygate/paygate/internal/clock"
	"github.com/paygate/paygate/internal/logging"
	"github.com/paygate/paygate/internal/staff"
)

// Sessions are server-side: the cookie holds a random token, the database
// its hash (package staff). The cookie is HttpOnly, SameSite=Strict, and
// Secure whenever the server is reached over https; then its name has the
// __Host- prefix, which the browser accepts only from a secure origin, for
// the whole host, with no Domain. Every state-changing form carries a CSRF
// token: an HMAC of the session's token, which a page of another site can
// neither read nor compute. The sign-in form, before any session, carries
// a random token that must equal a cookie of its own (double submit).

const (
	sessionCookie       = "paygate_session"
	secureSessionCookie = "__Host-paygate_session"
	signInCookie        = "paygate_signin"
	csrfField           = "csrf_token"
)

type sessionKey struct{}

type signedInRequest struct {
	sess  *staff.Session
	token string
}

func (s *dashboard) secure(r *http.Request) bool { return s.opt.SecureCookies || r.TLS != nil }

func (s *dashboard) cookieName(r *http.Request) string {
	if s.secure(r) {
		return secureSessionCookie
	}
	return sessionCookie
}

func (s *dashboard) setSessionCookie(w http.ResponseWriter, r *http.Request, token string, expires time.Time) {
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(r), Value: token, Path: "/", Expires: expires,
		HttpOnly: true, Secure: s.secure(r), SameSite: http.SameSiteStrictMode})
}

func (s *dashboard) clearSessionCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(r), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.secure(r), SameSite: http.SameSiteStrictMode})
}

// csrfToken is the form token of a session token.
func csrfToken(token string) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("paygate dashboard csrf"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func equalTokens(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// pageFunc is a page of a signed-in user.
type pageFunc func(w http.ResponseWriter, r *http.Request, sess *staff.Session) error

// signedIn runs h for a signed-in user of at least role. Without a
// session a page sends the browser to sign in, and a form is refused. A
// form (POST) without the session's CSRF token is refused with 403 before
// anything runs; so is a viewer's form on an admin's route, whatever it
// carries. A user whose password is temporary sees only the page that
// changes it.
func (s *dashboard) signedIn(role staff.Role, h pageFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var token string
		if c, err := r.Cookie(s.cookieName(r)); err == nil {
			token = c.Value
		}
		sess, err := s.d.Staff.Session(r.Context(), token)
		if errors.Is(err, staff.ErrNotFound) {
			if token != "" {
				s.clearSessionCookie(w, r)
			}
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/dashboard/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			s.renderError(w, r, nil, http.StatusUnauthorized, "You are signed out. Sign in again, then repeat what you were doing.")
			return
		}
		if err != nil {
			s.fail(w, r, nil, err)
			return
		}
		if info := logging.Request(r.Context()); info != nil {
			info.MerchantID = sess.User.MerchantID
		}
		ctx := context.WithValue(r.Context(), sessionKey{}, signedInRequest{sess: sess, token: token})
		r = r.WithContext(ctx)
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if err := r.ParseForm(); err != nil {
				s.renderError(w, r, sess, http.StatusBadRequest, "The form could not be read.")
				return
			}
			if !equalTokens(r.PostForm.Get(csrfField), csrfToken(token)) {
				s.renderError(w, r, sess, http.StatusForbidden,
					"This form's security token is missing or out of date. Reload the page and try again.")
				return
			}
		}
		if sess.User.MustChangePassword && r.URL.Path != "/dashboard/password" && r.URL.Path != "/dashboard/signout" {
			http.Redirect(w, r, "/dashboard/password", http.StatusSeeOther)
			return
		}
		if role == staff.Admin && sess.User.Role != staff.Admin {
			s.renderError(w, r, sess, http.StatusForbidden, "Your role (viewer) can read but not change anything. Ask an admin.")
			return
		}
		if err := h(w, r, sess); err != nil {
			s.fail(w, r, sess, err)
		}
	})
}

func tokenOf(r *http.Request) string {
	v, _ := r.Context().Value(sessionKey{}).(signedInRequest)
	return v.token
}

// event is the audit entry of an action of the signed-in user.
func (s *dashboard) event(r *http.Request, sess *staff.Session, action, objectID string) audit.Event {
	ev := audit.FromRequest(r, action, objectID, "", clock.Now())
	if sess != nil {
		ev.Actor, ev.MerchantID = staff.Actor(sess.User.ID), sess.User.MerchantID
		ev.Details["email"] = sess.User.Email
		ev.Details["mode"] = modeName(sess.Livemode)
	}
	return ev
}

// record writes the audit entry of a dashboard action the services
// committed: after it, so a failed action leaves no entry.
func (s *dashboard) record(r *http.Request, sess *staff.Session, action, objectID string, details map[string]string) {
	ev := s.event(r, sess, action, objectID)
	for k, v := range details {
		ev.Details[k] = v
	}
	if err := s.d.Audit.AppendAudit(context.WithoutCancel(r.Context()), ev); err != nil {
		s.log.ErrorContext(r.Context(), "dashboard audit entry not written", "action", action, "object_id", objectID, "error", err.Error())
	}
}

func modeName(live bool) string {
	if live {
		return "live"
	}
	return "test"
}

// safeNext is where to go after signing in: a dashboard path, never
// another site.
func safeNext(next string) string {
	if strings.HasPrefix(next, "/dashboard/") && !strings.HasPrefix(next, "/dashboard//") && !strings.ContainsAny(next, "\\\r\n") &&
		!strings.HasPrefix(next, "/dashboard/signin") {
		return next
	}
	return "/dashboard/payments"
}

func (s *dashboard) home(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, "/dashboard/payments", http.StatusSeeOther)
}

type signInView struct {
	Email, Next, Error string
	Token              string
}

func (s *dashboard) signInPage(w http.ResponseWriter, r *http.Request) {
	// Already signed in: on to the dashboard.
	if c, err := r.Cookie(s.cookieName(r)); err == nil {
		if _, err := s.d.Staff.Session(r.Context(), c.Value); err == nil {
			http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
			return
		}
	}
	s.renderSignIn(w, r, http.StatusOK, signInView{Next: r.URL.Query().Get("next")})
}

func (s *dashboard) renderSignIn(w http.ResponseWriter, r *http.Request, status int, v signInView) {
	v.Token = rand.Text()
	http.SetCookie(w, &http.Cookie{Name: signInCookie, Value: v.Token, Path: "/dashboard/signin",
		HttpOnly: true, Secure: s.secure(r), SameSite: http.SameSiteStrictMode})
	if v.Next != "" {
		v.Next = safeNext(v.Next)
	}
	s.render(w, r, status, "signin", view{Title: "Sign in", Page: v})
}

func (s *dashboard) signIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		s.renderSignIn(w, r, http.StatusBadRequest, signInView{Error: "The form could not be read."})
		return
	}
	email, next := r.PostForm.Get("email"), r.PostForm.Get("next")
	c, err := r.Cookie(signInCookie)
	if err != nil || !equalTokens(r.PostForm.Get(csrfField), c.Value) {
		s.renderSignIn(w, r, http.StatusForbidden, signInView{Email: email, Next: next,
			Error: "This form's security token is missing or out of date. Try again."})
		return
	}
	sess, token, err := s.d.Staff.SignIn(r.Context(), email, r.PostForm.Get("password"), clientAddr(r),
		audit.FromRequest(r, staff.SignedIn, "", "", clock.Now()))
	var locked *staff.LockedError
	switch {
	case errors.As(err, &locked):
		who := "this account"
		if locked.Address {
			who = "your network address"
		}
		wait := time.Until(locked.Until).Round(time.Minute)
		if wait < time.Minute {
			wait = time.Minute
		}
		w.Header().Set("Retry-After", formatSeconds(time.Until(locked.Until)))
		s.renderSignIn(w, r, http.StatusTooManyRequests, signInView{Email: email, Next: next,
			Error: "Too many failed sign-ins: sign-in is locked for " + who + " until " + locked.Until.Format("15:04") +
				" UTC (about " + wait.String() + "). Try again then, or ask an admin."})
		return
	case errors.Is(err, staff.ErrBadCredentials):
		s.renderSignIn(w, r, http.StatusUnauthorized, signInView{Email: email, Next: next, Error: "Wrong email or password."})
		return
	case err != nil:
		s.fail(w, r, nil, err)
		return
	}
	s.setSessionCookie(w, r, token, sess.ExpiresAt)
	http.SetCookie(w, &http.Cookie{Name: signInCookie, Value: "", Path: "/dashboard/signin", MaxAge: -1,
		HttpOnly: true, Secure: s.secure(r), SameSite: http.SameSiteStrictMode})
	if sess.User.MustChangePassword {
		http.Redirect(w, r, "/dashboard/password", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, safeNext(next), http.StatusSeeOther)
}

func formatSeconds(d time.Duration) string {
	secs := int(d.Seconds()) + 1
	if secs < 1 {
		secs = 1
	}
	return strconv.Itoa(secs)
}

// clientAddr is the client's address as the HTTP layer found it (behind a
// trusted proxy, the one it forwarded), else the TCP peer's.
func clientAddr(r *http.Request) string {
	if info := logging.Request(r.Context()); info != nil && info.ClientIP != "" {
		return info.ClientIP
	}
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	return host
}

func (s *dashboard) signOut(w http.ResponseWriter, r *http.Request, sess *staff.Session) error {
	if err := s.d.Staff.SignOut(r.Context(), sess, s.event(r, sess, staff.SignedOut, sess.User.ID)); err != nil {
		return err
	}
	s.clearSessionCookie(w, r)
	http.Redirect(w, r, "/dashboard/signin", http.StatusSeeOther)
	return nil
}

type passwordView struct {
	Forced bool
	Error  string
}

func (s *dashboard) passwordPage(w http.ResponseWriter, r *http.Request, sess *staff.Session) error {
	s.render(w, r, http.StatusOK, "password", s.viewOf(r, sess, "Change your password", "", passwordView{Forced: sess.User.MustChangePassword}))
	return nil
}

func (s *dashboard) changePassword(w http.ResponseWriter, r *http.Request, sess *staff.Session) error {
	f := r.PostForm
	err := s.d.Staff.ChangePassword(r.Context(), sess, f.Get("current_password"), f.Get("new_password"), f.Get("confirm_password"),
		s.event(r, sess, staff.PasswordChanged, sess.User.ID))
	if e, ok := apierror.As(err); ok && e.Kind == apierror.KindInvalidRequest {
		s.render(w, r, http.StatusBadRequest, "password", s.viewOf(r, sess, "Change your password", "",
			passwordView{Forced: sess.User.MustChangePassword, Error: e.Message}))
		return nil
	}
	if err != nil {
		return err
	}
	http.Redirect(w, r, "/dashboard/payments?done=password", http.StatusSeeOther)
	return nil
}

func (s *dashboard) switchMode(w http.ResponseWriter, r *http.Request, sess *staff.Session) error {
	live := r.PostForm.Get("mode") == "live"
	if err := s.d.Staff.SetMode(r.Context(), sess, live); err != nil {
		return err
	}
	s.record(r, sess, "dashboard.mode_switched", sess.User.ID, map[string]string{"to": modeName(live)})
	// The other mode has other objects: its payments list, not this page.
	http.Redirect(w, r, "/dashboard/payments", http.StatusSeeOther)
	return nil
}
