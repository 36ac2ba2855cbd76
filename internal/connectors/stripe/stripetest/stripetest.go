// Package stripetest is a fake Stripe API for tests: the PaymentIntents,
// PaymentMethods, SetupIntents and Refunds endpoints paygate's Stripe
// connector calls, for the connector's own tests and for those that run
// paygate against a Stripe account (the HTTP API end to end, the crash
// tests and the soak of cmd/paygate). It answers with bodies built from
// Stripe's documented examples (testdata, see its README), with just
// enough state to behave: PaymentMethods whose card number or token picks
// the outcome (Stripe's test cards), PaymentIntents, SetupIntents (card
// verifications), captures, cancels and refunds, idempotency
// keys (a repeated key replays the first answer; the same key with other
// parameters is refused, as Stripe does), search by metadata and lists,
// the secret key in the Authorization header, redirects to pass, and the
// signed events Stripe would send.
//
// Its state is in memory behind one lock, so it serves any number of
// requests at once. NewServer starts one for a test; Start, one on a
// loopback address that outlives the paygate processes pointed at it.
//
// It does not import package stripe, whose tests use it: it signs events
// on its own (HMAC-SHA256 as Stripe documents it), so a test checks the
// connector against Stripe's scheme rather than against itself.
package stripetest

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// The fake's account: what Credentials gives, for a test that builds a
// configuration, or signs an event, by hand.
const (
	SecretKey     = "sk_test_paygateFakeStripeKey"
	WebhookSecret = "whsec_paygateFakeStripeSigningSecret"
)

// Metadata keys paygate's connector writes on Stripe's objects (the
// reference of the operation that created or changed them).
const (
	metaReference = "paygate_reference"         // PaymentIntent (authorization), Refund
	metaCapture   = "paygate_capture_reference" // PaymentIntent, set by the capture
	metaVoid      = "paygate_void_reference"    // PaymentIntent, set just before the cancel
)

// redirectPath starts the path of the fake's 3-D Secure and PayPal pages:
// redirectPath + "three_d_secure/" or "paypal/" + the PaymentIntent's id.
const redirectPath = "/fake/"

// Server is a fake Stripe on loopback.
type Server struct {
	url       string
	stop      func()
	done      chan struct{} // closed by Close: ends the delays
	closeOnce sync.Once

	mu          sync.Mutex
	key         string
	delay       time.Duration
	drop        int // answers still to lose; < 0: every one
	seq         int
	clock       int64             // "created" of the next object: strictly increasing
	cards       map[string]string // PaymentMethod id → card number
	intents     map[string]*intent
	intentIDs   []string // in creation order
	refunds     map[string]*refund
	setups      map[string]*setupIntent
	refundIDs   []string
	idem        map[string]idemEntry // by Idempotency-Key
	performed   map[string]int
	requests    []Request
	searchLags  bool // the search index shows nothing (it lags writes)
	refundsPend bool // new refunds stay pending (settled by a refund.updated event)
}

// Request is a request the fake received, for a test to check what the
// connector sent.
type Request struct {
	Method, Path   string
	IdempotencyKey string // the Idempotency-Key header
	Header         http.Header
	Form           url.Values // the query's and the form body's parameters
}

type intent struct {
	id, currency, captureMethod, status, paymentMethod, returnURL string
	amount, capturable, received, refunded                        int64
	created                                                       int64
	metadata                                                      map[string]string
	lastError                                                     map[string]any
	nextAction                                                    map[string]any
	types                                                         []string
	cancellationReason                                            string
}

type refund struct {
	id, intent, status string
	amount, created    int64
	metadata           map[string]string
}

type idemEntry struct {
	fingerprint string
	status      int
	body        []byte
}

func newServer() *Server {
	return &Server{done: make(chan struct{}), key: SecretKey, clock: time.Now().Unix(),
		cards: map[string]string{}, intents: map[string]*intent{}, refunds: map[string]*refund{}, setups: map[string]*setupIntent{},
		idem: map[string]idemEntry{}, performed: map[string]int{}}
}

// NewServer starts a fake Stripe, closed when t ends.
func NewServer(t testing.TB) *Server {
	t.Helper()
	s := newServer()
	srv := httptest.NewServer(s)
	s.url, s.stop = srv.URL, srv.Close
	t.Cleanup(s.Close)
	return s
}

// Start starts a fake Stripe on addr ("127.0.0.1:0" for a port of the
// system's choice), which must be a loopback address, without a test to
// end it: for a test that points paygate processes, restarted as it goes,
// at one fake. The caller closes it.
func Start(addr string) (*Server, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("stripetest: %w", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("stripetest: %s is not a loopback address", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("stripetest: %w", err)
	}
	s := newServer()
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	s.url = "http://" + ln.Addr().String()
	s.stop = func() { _ = srv.Close() }
	return s, nil
}

// Close stops the fake; answers it delays are given at once. Closing again
// does nothing.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done)
		s.stop()
	})
}

// URL is the fake's address: a Stripe account's base_url (the client adds
// /v1/…).
func (s *Server) URL() string { return s.url }

// Credentials are the fake's account as a Stripe account's credentials
// (secret_key, webhook_secret); a new map each time, for a test to change.
func (s *Server) Credentials() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return map[string]string{"secret_key": s.key, "webhook_secret": WebhookSecret}
}

// SetSecretKey makes key (sk_test_…) the only secret key the fake accepts
// from now on, instead of SecretKey: another account, for a test of two.
func (s *Server) SetSecretKey(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.key = key
}

// Performed counts the operations of a kind ("authorize", "capture",
// "void", "refund", "verify") the fake performed. An authorization is a
// confirmed PaymentIntent, declined or not, a verification a confirmed
// SetupIntent; a request Stripe refuses, or one answered again under its
// Idempotency-Key, is not one.
func (s *Server) Performed(kind string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.performed[kind]
}

// Charged is what Stripe received (captured, by a sale or a capture;
// refunds not deducted) by the paygate reference of the authorization, the
// PaymentIntents' metadata paygate_reference. A payment charged twice (two
// PaymentIntents of one reference) shows twice its amount; one never
// captured is absent.
func (s *Server) Charged() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int64{}
	for _, id := range s.intentIDs {
		if pi := s.intents[id]; pi.received > 0 {
			out[pi.metadata[metaReference]] += pi.received
		}
	}
	return out
}

// Requests are the requests the fake received, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// LastRequest is the latest request the fake received; the test fails
// when there is none.
func (s *Server) LastRequest(t testing.TB) Request {
	t.Helper()
	rs := s.Requests()
	if len(rs) == 0 {
		t.Fatal("the fake Stripe received no request")
	}
	return rs[len(rs)-1]
}

// SetDelay makes every answer wait d after the request was performed (0:
// none), or until the client gives up: an operation done whose answer
// comes late, or never, for a client with a shorter timeout.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// SetRefundsPending makes new refunds answer status pending, as Stripe's
// do for some payment methods and banks: their outcome comes later, in a
// refund.updated event (Notify).
func (s *Server) SetRefundsPending(pending bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refundsPend = pending
}

// DropAnswers loses the answers of the next n requests (n < 0: of every
// request, until DropAnswers(0)): each is performed, and its connection
// closed without an answer, as when a network drops Stripe's answer. On a
// reused connection Go's HTTP client resends a request with an
// Idempotency-Key by itself, and the resend gets the stored answer.
func (s *Server) DropAnswers(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drop = n
}

// SetSearchLags makes the search of PaymentIntents find nothing while
// lags is true, as Stripe's search index does for a while after a write.
func (s *Server) SetSearchLags(lags bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.searchLags = lags
}

// ForgetKeys drops the idempotency keys, as Stripe does after 24 hours.
func (s *Server) ForgetKeys() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.idem = map[string]idemEntry{}
}

// ConflictKey records key as used before with other parameters: the fake
// refuses a request under it (400 idempotency_error), as Stripe refuses a
// retry that changed, here one whose first request left nothing behind.
func (s *Server) ConflictKey(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.idem[key] = idemEntry{fingerprint: "another request", status: http.StatusOK, body: []byte("{}")}
}

// Authenticate is the customer on the fake's 3-D Secure or PayPal page
// (redirectURL, of an authorization answered requires_action): passed, the
// PaymentIntent is authorized (and captured, for automatic capture);
// failed, it is refused as Stripe refuses a failed challenge. It returns
// the parameters Stripe adds to the return URL as it sends the customer
// back (payment_intent, payment_intent_client_secret, redirect_status).
func (s *Server) Authenticate(t testing.TB, redirectURL string, pass bool) map[string]string {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	rest, ok := strings.CutPrefix(redirectURL, s.url+redirectPath)
	pi := s.intents[rest[strings.LastIndex(rest, "/")+1:]]
	switch {
	case !ok || pi == nil:
		t.Fatalf("no redirect of the fake Stripe at %q", redirectURL)
	case pi.status != "requires_action":
		t.Fatalf("the PaymentIntent %s is %s, not waiting for the customer", pi.id, pi.status)
	}
	pi.nextAction = nil
	status := "succeeded"
	if pass {
		s.authorized(pi)
	} else {
		pi.status, pi.lastError, status = "requires_payment_method", errorObject("authentication_failure"), "failed"
	}
	return map[string]string{"payment_intent": pi.id, "payment_intent_client_secret": clientSecret(pi), "redirect_status": status}
}

// ServeHTTP is the fake's API: the request is performed at once, under the
// lock; its answer then waits out the delay, or is lost.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	rec, delay, drop := s.perform(r)
	if delay > 0 {
		timer := time.NewTimer(delay)
		select {
		case <-timer.C:
		case <-r.Context().Done():
		case <-s.done:
		}
		timer.Stop()
	}
	if drop {
		if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
			_ = conn.Close()
			return
		}
		panic(http.ErrAbortHandler) // a connection that cannot be taken over: abort it
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// perform records and performs r, answering into a recorder; with it, the
// delay and whether the answer is lost.
func (s *Server) perform(r *http.Request) (rec *httptest.ResponseRecorder, delay time.Duration, drop bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec = httptest.NewRecorder()
	key := r.Header.Get("Idempotency-Key")
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, IdempotencyKey: key, Header: r.Header.Clone(), Form: r.Form})
	s.serve(rec, r, key)
	if s.drop > 0 {
		s.drop--
		return rec, s.delay, true
	}
	return rec, s.delay, s.drop < 0
}

// serve checks the key and idempotency, then routes.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, key string) {
	if r.Header.Get("Authorization") != "Bearer "+s.key {
		s.writeError(w, "invalid_api_key", nil)
		return
	}
	if r.Method != http.MethodPost || key == "" {
		s.route(w, r)
		return
	}
	fp := r.Method + " " + r.URL.Path + "?" + r.PostForm.Encode()
	if e, ok := s.idem[key]; ok {
		if e.fingerprint != fp {
			s.writeError(w, "idempotency_error", nil)
			return
		}
		w.Header().Set("Idempotent-Replayed", "true")
		writeBody(w, e.status, e.body)
		return
	}
	rec := httptest.NewRecorder()
	s.route(rec, r)
	s.idem[key] = idemEntry{fingerprint: fp, status: rec.Code, body: rec.Body.Bytes()}
	writeBody(w, rec.Code, rec.Body.Bytes())
}

func writeBody(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
