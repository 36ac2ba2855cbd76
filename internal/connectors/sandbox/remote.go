package sandbox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/paygate/paygate/internal/connectors"
)

// The sandbox can run as its own process (`paygate sandbox serve`), so that
// several gateway instances share one processor, and so that the processor's
// memory outlives a crash of the gateway, as a real processor's does.

// Handler serves a sandbox over HTTP, for Client. It authenticates nobody:
// wrap it in RequireToken wherever anything but the gateway can reach it.
// GET /healthz answers 200 without touching the processor, for a readiness
// probe. c's latency is spent here, under the request's context: a caller
// that gives up ends the wait, and the operation is not performed.
func Handler(c *Connector) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok")
	})
	serve := func(op func(ctx context.Context, body []byte) (connectors.Result, error)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<16))
			if err != nil {
				http.Error(w, "bad body", http.StatusBadRequest)
				return
			}
			res, err := op(r.Context(), body)
			switch {
			case errors.Is(err, connectors.ErrNotFound):
				http.Error(w, "not found", http.StatusNotFound)
			case err != nil:
				http.Error(w, err.Error(), http.StatusBadRequest)
			default:
				w.Header().Set("Content-Type", "application/json")
				_ = json.NewEncoder(w).Encode(res)
			}
		}
	}
	mux.Handle("POST /authorize", serve(func(ctx context.Context, b []byte) (connectors.Result, error) {
		var req connectors.AuthorizeRequest
		if err := json.Unmarshal(b, &req); err != nil {
			return connectors.Result{}, err
		}
		return c.Authorize(ctx, req)
	}))
	mux.Handle("POST /capture", serve(func(ctx context.Context, b []byte) (connectors.Result, error) {
		var req connectors.CaptureRequest
		if err := json.Unmarshal(b, &req); err != nil {
			return connectors.Result{}, err
		}
		return c.Capture(ctx, req)
	}))
	mux.Handle("POST /void", serve(func(ctx context.Context, b []byte) (connectors.Result, error) {
		var req connectors.VoidRequest
		if err := json.Unmarshal(b, &req); err != nil {
			return connectors.Result{}, err
		}
		return c.Void(ctx, req)
	}))
	mux.Handle("POST /refund", serve(func(ctx context.Context, b []byte) (connectors.Result, error) {
		var req connectors.RefundRequest
		if err := json.Unmarshal(b, &req); err != nil {
			return connectors.Result{}, err
		}
		return c.Refund(ctx, req)
	}))
	mux.Handle("POST /complete_action", serve(func(ctx context.Context, b []byte) (connectors.Result, error) {
		var req connectors.CompleteActionRequest
		if err := json.Unmarshal(b, &req); err != nil {
			return connectors.Result{}, err
		}
		return c.CompleteAction(ctx, req)
	}))
	mux.HandleFunc("GET /lookup/{ref}", func(w http.ResponseWriter, r *http.Request) {
		res, err := c.Lookup(r.Context(), r.PathValue("ref"))
		switch {
		case errors.Is(err, connectors.ErrNotFound):
			http.Error(w, "not found", http.StatusNotFound)
			return
		case err != nil:
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(res)
	})
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		defer c.mu.Unlock()
		_ = json.NewEncoder(w).Encode(c.calls)
	})
	return mux
}

// RequireToken lets a request through to h only when it carries
// "Authorization: Bearer <token>"; any other gets 401. GET /healthz is the
// one exception, for probes that cannot carry the token. The comparison is
// of SHA-256 digests in constant time, so neither the token's bytes nor its
// length leak through timing. An empty token returns h unchanged (no
// authentication), which only development should run with.
func RequireToken(token string, h http.Handler) http.Handler {
	if token == "" {
		return h
	}
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && r.URL.Path == "/healthz" {
			h.ServeHTTP(w, r)
			return
		}
		got, ok := bearer(r.Header.Get("Authorization"))
		sum := sha256.Sum256([]byte(got))
		if subtle.ConstantTimeCompare(sum[:], want[:]) != 1 || !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="paygate-sandbox"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// bearer returns the credentials of an "Authorization: Bearer ..." header;
// the scheme is case-insensitive (RFC 9110 section 11.1).
func bearer(header string) (string, bool) {
	scheme, cred, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	cred = strings.TrimSpace(cred)
	return cred, cred != ""
}

// Client is a connectors.Connector that talks to a sandbox process.
type Client struct {
	base  string
	http  *http.Client
	token string
}

// NewClient returns a client of the sandbox at base; every call times out
// after timeout, and a timeout is an unknown outcome, never a decline.
func NewClient(base string, timeout time.Duration) *Client {
	return &Client{base: base, http: &http.Client{Timeout: timeout}}
}

// NewClientHTTP is NewClient with an HTTP client of the caller's (a
// connector account's: outgoing-request guard, timeout).
func NewClientHTTP(base string, hc *http.Client) *Client {
	return &Client{base: strings.TrimSuffix(base, "/"), http: hc}
}

// WithToken makes c send "Authorization: Bearer <token>" on every request,
// for a sandbox behind RequireToken; empty sends none. It returns c, so that
// it chains after NewClient, and must be called before c is used.
func (c *Client) WithToken(token string) *Client {
	c.token = token
	return c
}

// newRequest builds a request to the sandbox, with the token when there is one.
func (c *Client) newRequest(ctx context.Context, method, path string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	return req, nil
}

// Name implements connectors.Connector.
func (c *Client) Name() string { return "sandbox" }

// DecodeWallet tells which card a wallet token stands for, without a call.
func (c *Client) DecodeWallet(walletType, token string) (brand, funding, last4 string, ok bool) {
	return decodeWallet(walletType, token)
}

func (c *Client) call(ctx context.Context, method, path string, body any) (connectors.Result, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return connectors.Result{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := c.newRequest(ctx, method, path, rd)
	if err != nil {
		return connectors.Result{}, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return connectors.Result{}, connectors.Transport(fmt.Errorf("sandbox: %w", err))
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return connectors.Result{}, connectors.ErrNotFound
	case http.StatusUnauthorized, http.StatusForbidden:
		// A token missing or wrong on either side: a configuration error,
		// and like any other error an unknown outcome, never a decline.
		return connectors.Result{}, fmt.Errorf("sandbox: %s answered %d: the sandbox token (PAYGATE_SANDBOX_TOKEN) is missing or differs", path, resp.StatusCode)
	default:
		return connectors.Result{}, fmt.Errorf("sandbox: %s answered %d", path, resp.StatusCode)
	}
	var res connectors.Result
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		return connectors.Result{}, fmt.Errorf("sandbox: %w", err)
	}
	return res, nil
}

// Authorize implements connectors.Connector.
func (c *Client) Authorize(ctx context.Context, req connectors.AuthorizeRequest) (connectors.Result, error) {
	return c.call(ctx, http.MethodPost, "/authorize", req)
}

// Capture implements connectors.Connector.
func (c *Client) Capture(ctx context.Context, req connectors.CaptureRequest) (connectors.Result, error) {
	return c.call(ctx, http.MethodPost, "/capture", req)
}

// Void implements connectors.Connector.
func (c *Client) Void(ctx context.Context, req connectors.VoidRequest) (connectors.Result, error) {
	return c.call(ctx, http.MethodPost, "/void", req)
}

// Refund implements connectors.Connector.
func (c *Client) Refund(ctx context.Context, req connectors.RefundRequest) (connectors.Result, error) {
	return c.call(ctx, http.MethodPost, "/refund", req)
}

// CompleteAction implements connectors.Connector.
func (c *Client) CompleteAction(ctx context.Context, req connectors.CompleteActionRequest) (connectors.Result, error) {
	return c.call(ctx, http.MethodPost, "/complete_action", req)
}

// Lookup implements connectors.Connector.
func (c *Client) Lookup(ctx context.Context, reference string) (connectors.Result, error) {
	return c.call(ctx, http.MethodGet, "/lookup/"+url.PathEscape(reference), nil)
}

// Performed asks the sandbox process how many operations of a kind it did.
func (c *Client) Performed(ctx context.Context, kind string) (int, error) {
	req, err := c.newRequest(ctx, http.MethodGet, "/stats", nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("sandbox: /stats answered %d", resp.StatusCode)
	}
	var calls map[string]int
	err = json.NewDecoder(resp.Body).Decode(&calls)
	return calls[kind], err
}
