package sandbox

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/connectors"
)

const testToken = "s3cret-sandbox-token"

// do sends one request to srv with the Authorization header auth (none when
// empty) and returns the status and body.
func do(t *testing.T, srv *httptest.Server, method, path, auth, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestRequireToken(t *testing.T) {
	sb := New("http://gw.test")
	srv := httptest.NewServer(RequireToken(testToken, Handler(sb)))
	defer srv.Close()
	const authorize = `{"Reference":"a","Amount":1000,"Currency":"USD","Method":{"Card":{"Number":"4242424242424242","ExpMonth":12,"ExpYear":2040}}}`

	refused := []struct{ name, method, path, auth string }{
		{"no header", http.MethodPost, "/authorize", ""},
		{"wrong token", http.MethodPost, "/authorize", "Bearer not-the-token"},
		{"token's prefix", http.MethodPost, "/authorize", "Bearer " + testToken[:len(testToken)-1]},
		{"token and more", http.MethodPost, "/authorize", "Bearer " + testToken + "x"},
		{"empty bearer", http.MethodPost, "/authorize", "Bearer "},
		{"other scheme", http.MethodPost, "/authorize", "Basic " + testToken},
		{"token without scheme", http.MethodPost, "/authorize", testToken},
		{"stats", http.MethodGet, "/stats", ""},
		// Not a 404, which a client would read as "never saw it".
		{"lookup", http.MethodGet, "/lookup/a", ""},
		{"unknown route", http.MethodGet, "/nope", ""},
		{"healthz by POST", http.MethodPost, "/healthz", ""},
		{"healthz with a trailing slash", http.MethodGet, "/healthz/", ""},
	}
	for _, tc := range refused {
		code, body := do(t, srv, tc.method, tc.path, tc.auth, authorize)
		if code != http.StatusUnauthorized || strings.TrimSpace(body) != "unauthorized" {
			t.Errorf("%s: %s %s answered %d %q, want 401 unauthorized", tc.name, tc.method, tc.path, code, body)
		}
	}
	if n := sb.Performed("authorize"); n != 0 {
		t.Fatalf("refused requests reached the processor: %d authorizations", n)
	}

	if code, body := do(t, srv, http.MethodGet, "/healthz", "", ""); code != http.StatusOK || body != "ok" {
		t.Fatalf("healthz without a token: %d %q", code, body)
	}
	if code, body := do(t, srv, http.MethodGet, "/healthz", "Bearer wrong", ""); code != http.StatusOK || body != "ok" {
		t.Fatalf("healthz with a wrong token: %d %q", code, body)
	}
	if code, body := do(t, srv, http.MethodPost, "/authorize", "Bearer "+testToken, authorize); code != http.StatusOK || !strings.Contains(body, `"succeeded"`) {
		t.Fatalf("authorize with the token: %d %q", code, body)
	}
	// The scheme is case-insensitive.
	if code, body := do(t, srv, http.MethodGet, "/lookup/a", "bearer "+testToken, ""); code != http.StatusOK {
		t.Fatalf("lookup with the token: %d %q", code, body)
	}
	if n := sb.Performed("authorize"); n != 1 {
		t.Fatalf("authorizations performed: %d, want 1", n)
	}
}

func TestRequireTokenEmptyIsOpen(t *testing.T) {
	h := Handler(New("http://gw.test"))
	if RequireToken("", h) != h {
		t.Fatal("an empty token must leave the handler unchanged")
	}
	srv := httptest.NewServer(RequireToken("", h))
	defer srv.Close()
	if code, _ := do(t, srv, http.MethodGet, "/stats", "", ""); code != http.StatusOK {
		t.Fatalf("stats without a token on an open sandbox: %d", code)
	}
	if code, body := do(t, srv, http.MethodGet, "/healthz", "", ""); code != http.StatusOK || body != "ok" {
		t.Fatalf("healthz: %d %q", code, body)
	}
}

func TestClientToken(t *testing.T) {
	sb := New("http://gw.test")
	srv := httptest.NewServer(RequireToken(testToken, Handler(sb)))
	defer srv.Close()
	ctx := context.Background()

	good := NewClient(srv.URL, 5*time.Second).WithToken(testToken)
	a, err := good.Authorize(ctx, cardReq("a", "4242424242424242", false))
	if err != nil || a.Outcome != connectors.Succeeded {
		t.Fatalf("authorize with the token: %+v %v", a, err)
	}
	if got, err := good.Lookup(ctx, "a"); err != nil || got != a {
		t.Fatalf("lookup with the token: %+v %v", got, err)
	}
	if _, err := good.Lookup(ctx, "never-sent"); !errors.Is(err, connectors.ErrNotFound) {
		t.Fatalf("lookup of an unknown reference with the token: %v", err)
	}
	if n, err := good.Performed(ctx, "authorize"); err != nil || n != 1 {
		t.Fatalf("performed with the token: %d %v", n, err)
	}

	// A gateway whose token is missing or wrong gets an error, which the
	// Connector contract makes an unknown outcome (the payment stays
	// processing until recovery), never a Result, so never a decline; and
	// its lookups are errors, not ErrNotFound, so recovery does not take
	// the operation for one the processor never saw.
	for name, c := range map[string]*Client{
		"no token":    NewClient(srv.URL, 5*time.Second),
		"empty token": NewClient(srv.URL, 5*time.Second).WithToken(""),
		"wrong token": NewClient(srv.URL, 5*time.Second).WithToken("wrong"),
	} {
		res, err := c.Authorize(ctx, cardReq("b-"+name, "4242424242424242", false))
		if err == nil {
			t.Fatalf("%s: authorize returned a result: %+v", name, res)
		}
		if res != (connectors.Result{}) || !strings.Contains(err.Error(), "401") {
			t.Fatalf("%s: authorize: %+v %v", name, res, err)
		}
		if _, err := c.Lookup(ctx, "a"); err == nil || errors.Is(err, connectors.ErrNotFound) {
			t.Fatalf("%s: lookup: %v, want an error other than ErrNotFound", name, err)
		}
		if _, err := c.Performed(ctx, "authorize"); err == nil {
			t.Fatalf("%s: stats without the token succeeded", name)
		}
	}
	if n := sb.Performed("authorize"); n != 1 {
		t.Fatalf("unauthorized clients reached the processor: %d authorizations", n)
	}
}
