package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/paygate/paygate/internal/checkout"
	"github.com/paygate/paygate/internal/connectors"
	"github.com/paygate/paygate/internal/connectors/adyen"
	"github.com/paygate/paygate/internal/connectors/sandbox"
	"github.com/paygate/paygate/internal/connectors/stripe"
	"github.com/paygate/paygate/internal/customers"
	"github.com/paygate/paygate/internal/httpapi"
	"github.com/paygate/paygate/internal/idempotency"
	"github.com/paygate/paygate/internal/logging"
	"github.com/paygate/paygate/internal/openapi"
	"github.com/paygate/paygate/internal/payments"
	"github.com/paygate/paygate/internal/refunds"
	"github.com/paygate/paygate/internal/routing"
	"github.com/paygate/paygate/internal/staff"
	"github.com/paygate/paygate/internal/store"
	"github.com/paygate/paygate/internal/store/storetest"
	"github.com/paygate/paygate/internal/testutil"
	"github.com/paygate/paygate/internal/vault"
	"github.com/paygate/paygate/internal/webhooks"
)

const adminToken = "test-admin-token-0123456789abcdef0123456789"

// harness is a real paygate API on a loopback port, over a real database.
type harness struct {
	t        *testing.T
	url      string
	db       *store.DB
	logs     *testutil.SyncBuffer
	spec     *openapiChecker
	sandbox  *sandbox.Connector
	pay      *payments.Service
	refs     *refunds.Service
	keys     *vault.Keyring
	checkout *checkout.Service
	keyA     string
	keyB     string
	merchant string
}

func start(t *testing.T, backend string) *harness {
	t.Helper()
	return startWith(t, backend, options{})
}

// options change the harness for one test.
type options struct {
	// connector, when set, wraps the sandbox the API talks to.
	connector func(*sandbox.Connector) connectors.Connector
	lease     time.Duration
	limiter   httpapi.Limiter
	// keys, when set, wraps the idempotency store the API uses.
	keys func(httpapi.IdempotencyStore) httpapi.IdempotencyStore
	// builders, when set, adds connector builders to the router (a test
	// processor for stripe or adyen accounts).
	builders func(*routing.Router)
	// dbURL, when set, is the PostgreSQL database to use (through a
	// fault proxy, say) instead of a fresh one of the backend.
	dbURL          string
	requestTimeout time.Duration
}

func startWith(t *testing.T, backend string, opt options) *harness {
	t.Helper()
	var db *store.DB
	if opt.dbURL != "" {
		db = storetest.OpenURL(t, opt.dbURL)
	} else {
		db = storetest.Open(t, backend)
	}
	keys, err := vault.ParseKeyring("t1:"+vault.NewKey(), "")
	if err != nil {
		t.Fatal(err)
	}
	logs := &testutil.SyncBuffer{}
	log := logging.New(logs, -4, "json")
	doc, err := openapi.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	sb := sandbox.New(srv.URL)
	var conn connectors.Connector = sb
	if opt.connector != nil {
		conn = opt.connector(sb)
	}
	router := routing.NewRouter(db, keys, log, conn, map[string]routing.Builder{
		routing.Sandbox: func(c connectors.Config) (connectors.Connector, error) {
			return sandbox.NewClientHTTP(c.BaseURL, c.HTTP), nil
		},
		routing.Stripe: func(c connectors.Config) (connectors.Connector, error) { return stripe.New(c) },
		routing.Adyen:  func(c connectors.Config) (connectors.Connector, error) { return adyen.New(c) },
	})
	router.ReturnURL = srv.URL + "/return/{payment}"
	if opt.builders != nil {
		opt.builders(router)
	}
	pay := payments.NewService(db, conn, keys, log)
	pay.Routes = router
	if d, ok := opt.limiter.(payments.DeclineRecorder); ok {
		pay.Declines = d
	}
	refs := refunds.NewService(db, conn, log)
	refs.Routes = router
	hooks := webhooks.NewService(db, keys, false)
	var idem httpapi.IdempotencyStore = db
	if opt.keys != nil {
		idem = opt.keys(db)
	}
	co := checkout.NewService(db, pay, idem, keys.DeriveKey(checkout.KeyPurpose), srv.URL)
	handler = httpapi.NewServer(log, httpapi.Config{AdminToken: adminToken, OpenAPI: doc, Lease: opt.lease, RequestTimeout: opt.requestTimeout, Limiter: opt.limiter, Sealer: keys,
		Hasher: idempotency.NewHasher(keys.DeriveKey(idempotency.HasherPurpose))},
		httpapi.Deps{Payments: pay, Refunds: refs, Webhooks: hooks, Customers: customers.NewService(db), Routing: routing.NewService(db, keys, false), Processors: router,
			Accounts: db, Keys: idem, Ledger: db, Events: db, DB: db, Checkout: co,
			Staff: staff.NewService(db)})
	h := &harness{t: t, url: srv.URL, db: db, logs: logs, spec: newOpenAPIChecker(t), sandbox: sb, pay: pay, refs: refs, keys: keys, checkout: co}
	t.Cleanup(h.assertNoCardData)
	var m map[string]any
	h.do("POST", "/v1/merchants", adminToken, map[string]any{"name": "Merchant A"}, 201, &m)
	h.keyA, h.merchant = m["api_key"].(map[string]any)["secret"].(string), m["id"].(string)
	h.do("POST", "/v1/merchants", adminToken, map[string]any{"name": "Merchant B"}, 201, &m)
	h.keyB = m["api_key"].(map[string]any)["secret"].(string)
	return h
}

// request sends one request and returns the response and its body. body is
// JSON-encoded unless it is a string or []byte, sent as is. It stops the
// test when the request cannot be made: call it from the test's goroutine
// only (others use tryRequest).
func (h *harness) request(method, path, key string, body any, header ...string) (*http.Response, []byte) {
	h.t.Helper()
	resp, got, err := h.tryRequest(method, path, key, body, header...)
	if err != nil {
		h.t.Fatal(err)
	}
	return resp, got
}

// tryRequest is request for any goroutine: a request that cannot be made
// (or whose answer cannot be read) is returned as an error, for the caller
// to report with t.Error, since t.Fatal must not be called outside the
// test's goroutine. The answer's checks (Request-Id, the OpenAPI document,
// card data) report with t.Errorf, as in request.
func (h *harness) tryRequest(method, path, key string, body any, header ...string) (*http.Response, []byte, error) {
	h.t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case map[string]any:
		if b != nil {
			raw, _ = json.Marshal(b)
		}
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			return nil, nil, err
		}
	}
	req, err := http.NewRequest(method, h.url+path, bytes.NewReader(raw))
	if err != nil {
		return nil, nil, err
	}
	if raw != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			req.Header.Del(header[i])
		} else {
			req.Header.Set(header[i], header[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: read the answer: %w", method, path, err)
	}
	if resp.Header.Get("Request-Id") == "" {
		h.t.Errorf("%s %s: no Request-Id header", method, path)
	}
	h.spec.check(h.t, method, path, raw, req.Header, resp, got)
	// The API document's examples show test cards on purpose.
	if leak := cardData(string(got)); leak != "" && path != "/openapi.json" {
		h.t.Errorf("%s %s: the answer holds card data (%s): %.300s", method, path, leak, got)
	}
	return resp, got, nil
}

// do sends a request, checks the status and decodes the answer into out.
func (h *harness) do(method, path, key string, body any, want int, out any) {
	h.t.Helper()
	resp, got := h.request(method, path, key, body)
	if resp.StatusCode != want {
		h.t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, got)
	}
	if out != nil {
		if err := json.Unmarshal(got, out); err != nil {
			h.t.Fatalf("%s %s: decode %s: %v", method, path, got, err)
		}
	}
}

// obj sends a request that must answer want and returns the JSON object.
func (h *harness) obj(method, path, key string, body any, want int) map[string]any {
	h.t.Helper()
	var m map[string]any
	h.do(method, path, key, body, want, &m)
	return m
}

// apiErr sends a request that must fail with status and code (and param,
// when not empty), and returns the error object.
func (h *harness) apiErr(method, path, key string, body any, status int, code, param string) map[string]any {
	h.t.Helper()
	m := h.obj(method, path, key, body, status)
	e, _ := m["error"].(map[string]any)
	if e == nil {
		h.t.Fatalf("%s %s: no error object: %v", method, path, m)
	}
	if code != "" && e["code"] != code { // "": any code
		h.t.Errorf("%s %s: code %v, want %s (%v)", method, path, e["code"], code, e["message"])
	}
	if param != "" && e["param"] != param {
		h.t.Errorf("%s %s: param %v, want %s", method, path, e["param"], param)
	}
	if e["request_id"] == nil || e["type"] == nil || e["message"] == nil {
		h.t.Errorf("%s %s: incomplete error %v", method, path, e)
	}
	return e
}

// openapiChecker validates traffic against the OpenAPI document: every
// response, and every request the server accepted, must match it.
type openapiChecker struct {
	doc    *openapi3.T
	router routers.Router
}

func newOpenAPIChecker(t *testing.T) *openapiChecker {
	t.Helper()
	doc, err := openapi.Load()
	if err != nil {
		t.Fatal(err)
	}
	doc.Servers = nil // match paths on any host
	// The customer pages answer HTML: checked as text.
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &openapiChecker{doc: doc, router: r}
}

func (c *openapiChecker) check(t *testing.T, method, path string, body []byte, hdr http.Header, resp *http.Response, respBody []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://paygate.test"+path, bytes.NewReader(body))
	req.Header = hdr.Clone()
	route, params, err := c.router.FindRoute(req)
	if err != nil {
		if resp.StatusCode == 404 || resp.StatusCode == 405 {
			return // an undocumented path answered as such: fine
		}
		t.Errorf("openapi: %s %s answered %d but the document has no such operation: %v", method, path, resp.StatusCode, err)
		return
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true, MultiError: true}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	if resp.StatusCode < 400 {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			t.Errorf("openapi: request %s %s does not match the document: %v", method, path, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header, Options: opts}
	out.SetBodyBytes(respBody)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		msg := err.Error()
		if len(msg) > 2000 {
			msg = msg[:2000]
		}
		t.Errorf("openapi: response %d to %s %s does not match the document: %s\nbody: %s", resp.StatusCode, method, path, msg, strings.TrimSpace(string(respBody)))
	}
}
