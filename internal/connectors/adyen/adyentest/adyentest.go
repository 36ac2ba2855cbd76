// Package adyentest is a fake Adyen Checkout API (v71) for tests: the
// connector's own, and those of the packages that run paygate against an
// Adyen account (the HTTP API end to end, the crash tests). It answers
// with bodies built from Adyen's documented examples (testdata, see its
// README), with just enough state: paygate's test cards, idempotency,
// authorizations to modify, redirects to pass, and the signed standard
// notifications Adyen would send.
//
// It does not import package adyen, whose tests use it: what it signs, it
// signs on its own, so a test checks the connector against Adyen's
// algorithm rather than against itself.
package adyentest

import (
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// The fake's account: what Credentials gives, for a test that builds a
// configuration, or signs a notification, by hand.
const (
	APIKey          = "AQE_test_api_key"
	MerchantAccount = "PaygateTestECOM"
	// HMACKey is the account's standard webhook key, hexadecimal as the
	// hmac_key credential takes it.
	HMACKey = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"
)

// prefix is the Checkout API's version in the paths the connector calls.
const prefix = "/v71"

// Server is a fake Adyen on loopback, for one test.
type Server struct {
	srv *httptest.Server

	mu        sync.Mutex
	idem      map[string]*storedAnswer // by Idempotency-Key
	payments  map[string]*payment      // by pspReference
	refs      map[string]op            // by merchant reference, for Notify
	redirects map[string]*redirect     // by the token in the redirect URL
	results   map[string]string        // redirectResult -> redirect token
	performed map[string]int
	requests  []Request
	holdNext  chan struct{} // when set, the next request under an Idempotency-Key waits on it
	releases  []func()      // of every hold, for the cleanup
}

// Request is a request the fake received, for a test to check what the
// connector sent.
type Request struct {
	Path   string // with the /v71 prefix
	Header http.Header
	Body   map[string]any // the JSON body; nil when it was not JSON
}

type storedAnswer struct {
	done   bool
	status int
	body   []byte
}

type payment struct {
	reference string
	amount    int64
	currency  string
}

type op struct {
	kind     string // authorize, capture, void, refund
	original string // the payment's pspReference, for a modification
	amount   int64
	currency string
}

type redirect struct {
	psp, reference string
	amount         int64
	passed         bool
}

// NewServer starts a fake Adyen, closed when t ends.
func NewServer(t testing.TB) *Server {
	t.Helper()
	s := &Server{idem: map[string]*storedAnswer{}, payments: map[string]*payment{}, refs: map[string]op{},
		redirects: map[string]*redirect{}, results: map[string]string{}, performed: map[string]int{}}
	s.srv = httptest.NewServer(s)
	t.Cleanup(func() {
		s.mu.Lock()
		releases := s.releases
		s.mu.Unlock()
		for _, r := range releases {
			r()
		}
		s.srv.Close()
	})
	return s
}

// URL is the Checkout API's base on the fake (with its /v71 prefix): an
// Adyen account's base_url.
func (s *Server) URL() string { return s.srv.URL + prefix }

// Credentials are the fake's account as an Adyen account's credentials
// (api_key, merchant_account, hmac_key); a new map each time, for a test
// to change.
func (s *Server) Credentials() map[string]string {
	return map[string]string{"api_key": APIKey, "merchant_account": MerchantAccount, "hmac_key": HMACKey}
}

// Performed counts the operations of a kind ("authorize", "capture",
// "void", "refund") the fake performed: a request Adyen refuses, or one
// answered again under its Idempotency-Key, is not one.
func (s *Server) Performed(kind string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.performed[kind]
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
		t.Fatal("the fake Adyen received no request")
	}
	return rs[len(rs)-1]
}

// HoldNext makes the next request that carries an Idempotency-Key wait,
// taken and unanswered, until release is called (at the latest when the
// test ends): an answer still in flight, which a retry under the same key
// meets as Adyen's 409 with Transient-Error. InFlight tells when it waits.
func (s *Server) HoldNext() (release func()) {
	ch := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(ch) }) }
	s.mu.Lock()
	s.holdNext = ch
	s.releases = append(s.releases, release)
	s.mu.Unlock()
	return release
}

// InFlight counts the requests taken under an Idempotency-Key and not yet
// answered.
func (s *Server) InFlight() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, a := range s.idem {
		if !a.done {
			n++
		}
	}
	return n
}

// Authenticate is the customer on Adyen's redirect page (redirectURL, of
// an authorization answered RedirectShopper): pass or fail the challenge.
// It returns the redirectResult Adyen appends to the return URL, for
// /payments/details.
func (s *Server) Authenticate(t testing.TB, redirectURL string, pass bool) (redirectResult string) {
	t.Helper()
	_, token, ok := strings.Cut(redirectURL, "?MD=")
	s.mu.Lock()
	defer s.mu.Unlock()
	rd := s.redirects[token]
	if !ok || rd == nil {
		t.Fatalf("no redirect of the fake Adyen at %q", redirectURL)
	}
	rd.passed = pass
	rr := "X6XtfGC3!" + newPSP()
	s.results[rr] = token
	return rr
}

func newPSP() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// ServeHTTP is the Checkout API: authentication, merchant account and
// idempotency first, then route.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var in map[string]any
	_ = json.Unmarshal(body, &in)
	s.mu.Lock()
	s.requests = append(s.requests, Request{Path: r.URL.Path, Header: r.Header.Clone(), Body: in})
	s.mu.Unlock()
	path := strings.TrimPrefix(r.URL.Path, prefix)

	switch {
	case r.Method != http.MethodPost:
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	case r.Header.Get("X-API-Key") != APIKey:
		write(w, http.StatusUnauthorized, fixture("error-401.json"))
		return
	case in == nil:
		write(w, http.StatusBadRequest, fixture("error-400.json"))
		return
	case path != "/payments/details" && in["merchantAccount"] != MerchantAccount:
		write(w, http.StatusForbidden, fixture("error-403.json"))
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		status, out := s.route(path, in)
		write(w, status, out)
		return
	}
	// Idempotency ("API idempotency"): a key already answered gets the
	// first answer again, whatever the body; a key still in flight is a
	// 409 with Transient-Error.
	s.mu.Lock()
	a, seen := s.idem[key]
	if !seen {
		a = &storedAnswer{}
		s.idem[key] = a
	}
	hold := s.holdNext
	if !seen {
		s.holdNext = nil
	}
	done := a.done
	s.mu.Unlock()
	switch {
	case seen && !done:
		w.Header().Set("Transient-Error", "true")
		write(w, http.StatusConflict, serviceError(http.StatusConflict, "704", "request already processed or in progress", "validation"))
		return
	case !seen:
		if hold != nil {
			<-hold
		}
		status, out := s.route(path, in)
		b, _ := json.Marshal(out)
		s.mu.Lock()
		a.done, a.status, a.body = true, status, b
		s.mu.Unlock()
	}
	w.Header().Set("Idempotency-Key", key)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.status)
	_, _ = w.Write(a.body)
}

func write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// serviceError is an error body in the shape of the ServiceError schema,
// for the cases Adyen's examples do not cover.
func serviceError(status int, code, message, typ string) map[string]any {
	return map[string]any{"status": status, "errorCode": code, "message": message, "errorType": typ}
}

func (s *Server) route(path string, in map[string]any) (int, any) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case path == "/payments":
		return s.payment(in)
	case path == "/payments/details":
		return s.details(in)
	case len(parts) == 3 && parts[0] == "payments":
		switch parts[2] {
		case "captures":
			return s.modification(parts[1], "capture", "captures-201.json", in)
		case "cancels":
			return s.modification(parts[1], "void", "cancels-201.json", in)
		case "refunds":
			return s.modification(parts[1], "refund", "refunds-201.json", in)
		}
	}
	return http.StatusNotFound, map[string]any{"status": 404, "message": "Not Found"}
}

func amountOf(in map[string]any) (int64, string) {
	a, _ := in["amount"].(map[string]any)
	v, _ := a["value"].(float64)
	cur, _ := a["currency"].(string)
	return int64(v), cur
}

// refusals are paygate's test cards that Adyen refuses, with the refusal
// reason code and text of Adyen's "Refusal reasons" page.
var refusals = map[string]refusal{
	"4000000000000002": genericRefusal,
	"4000000000009995": {"12", "Not enough balance"},
	"4000000000000069": {"6", "Expired Card"},
	"4000000000000127": {"24", "CVC Declined"},
}

type refusal struct{ code, reason string }

var genericRefusal = refusal{"2", "Refused"}

// Paygate's test cards that are not refused but answered otherwise.
const (
	errorCard    = "4000000000000119" // resultCode Error, Acquirer Error
	redirectCard = "4000000000003220" // RedirectShopper: 3-D Secure
)

// payment is POST /payments: paygate's test cards and wallet tokens decide.
func (s *Server) payment(in map[string]any) (int, any) {
	if u, _ := in["returnUrl"].(string); u == "" {
		return http.StatusUnprocessableEntity, fixture("error-422.json")
	}
	ref, _ := in["reference"].(string)
	amt, cur := amountOf(in)
	pm, _ := in["paymentMethod"].(map[string]any)
	psp := newPSP()
	s.mu.Lock()
	s.performed["authorize"]++
	s.mu.Unlock()

	typ, _ := pm["type"].(string)
	number, _ := pm["number"].(string)
	switch {
	case typ == "scheme" && refusals[number] != refusal{}:
		return refused(psp, ref, refusals[number])
	case typ == "scheme" && number == errorCard:
		return http.StatusOK, withReferences(fixture("payments-error.json"), psp, ref)
	case typ == "scheme" && number == redirectCard, typ == "paypal":
		return s.redirect(psp, ref, amt, typ)
	case typ == "applepay" || typ == "googlepay":
		if pm["applePayToken"] == "tok_wallet_declined" || pm["googlePayToken"] == "tok_wallet_declined" {
			return refused(psp, ref, genericRefusal)
		}
	case typ != "scheme":
		return http.StatusUnprocessableEntity, serviceError(http.StatusUnprocessableEntity, "905", "Payment details are not supported", "configuration")
	}
	s.mu.Lock()
	s.payments[psp] = &payment{reference: ref, amount: amt, currency: cur}
	s.refs[ref] = op{kind: "authorize", amount: amt, currency: cur}
	s.mu.Unlock()
	return http.StatusOK, withReferences(fixture("payments-card-direct-200.json"), psp, ref)
}

func withReferences(out map[string]any, psp, ref string) map[string]any {
	out["pspReference"], out["merchantReference"] = psp, ref
	return out
}

// refused is a Refused payment with a refusal reason.
func refused(psp, ref string, r refusal) (int, any) {
	out := withReferences(fixture("payments-refused.json"), psp, ref)
	out["refusalReasonCode"], out["refusalReason"] = r.code, r.reason
	return http.StatusOK, out
}

// redirect answers RedirectShopper, to a page of the fake's that
// Authenticate passes or fails.
func (s *Server) redirect(psp, ref string, amt int64, methodType string) (int, any) {
	token := newPSP()
	s.mu.Lock()
	s.redirects[token] = &redirect{psp: psp, reference: ref, amount: amt}
	s.mu.Unlock()
	out := fixture("payments-card-3d-secure-redirect-200.json")
	out["pspReference"] = psp
	a := out["action"].(map[string]any)
	a["url"] = s.srv.URL + "/checkoutshopper/threeDS/redirect?MD=" + token
	a["paymentMethodType"] = methodType
	return http.StatusOK, out
}

// details is POST /payments/details with the redirectResult the customer
// brought back.
func (s *Server) details(in map[string]any) (int, any) {
	d, _ := in["details"].(map[string]any)
	rr, _ := d["redirectResult"].(string)
	s.mu.Lock()
	defer s.mu.Unlock()
	rd := s.redirects[s.results[rr]]
	switch {
	case rd == nil:
		return http.StatusUnprocessableEntity, serviceError(http.StatusUnprocessableEntity, "14_018", "Invalid payload provided", "validation")
	case !rd.passed:
		return refused(rd.psp, rd.reference, refusal{"11", "3D Not Authenticated"})
	}
	s.payments[rd.psp] = &payment{reference: rd.reference, amount: rd.amount, currency: "USD"}
	return http.StatusOK, withReferences(fixture("payments-details-redirect-200.json"), rd.psp, rd.reference)
}

// modification is a capture, cancel or refund of a payment: Adyen only
// acknowledges it.
func (s *Server) modification(psp, kind, name string, in map[string]any) (int, any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.payments[psp]
	if p == nil {
		return http.StatusUnprocessableEntity, serviceError(http.StatusUnprocessableEntity, "167", "Original pspReference required for this operation", "validation")
	}
	amt, cur := amountOf(in)
	if kind == "capture" && amt > p.amount {
		return http.StatusUnprocessableEntity, serviceError(http.StatusUnprocessableEntity, "137", "Invalid amount specified", "validation")
	}
	ref, _ := in["reference"].(string)
	s.performed[kind]++
	s.refs[ref] = op{kind: kind, original: psp, amount: amt, currency: cur}
	out := fixture(name)
	out["merchantAccount"], out["paymentPspReference"], out["reference"], out["pspReference"] = MerchantAccount, psp, ref, newPSP()
	if _, ok := out["amount"]; ok {
		out["amount"] = map[string]any{"value": amt, "currency": cur}
	}
	delete(out, "platformChargebackLogic")
	return http.StatusCreated, out
}
