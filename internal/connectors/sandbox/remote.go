package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/paygate/paygate/internal/connectors"
)

// The sandbox can run as its own process (`paygate sandbox serve`), so that
// several gateway instances share one processor, and so that the processor's
// memory outlives a crash of the gateway, as a real processor's does.

// Handler serves a sandbox over HTTP, for Client.
func Handler(c *Connector) http.Handler {
	mux := http.NewServeMux()
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
		if errors.Is(err, connectors.ErrNotFound) {
			http.Error(w, "not found", http.StatusNotFound)
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

// Client is a connectors.Connector that talks to a sandbox process.
type Client struct {
	base string
	http *http.Client
}

// NewClient returns a client of the sandbox at base; every call times out
// after timeout, and a timeout is an unknown outcome, never a decline.
func NewClient(base string, timeout time.Duration) *Client {
	return &Client{base: base, http: &http.Client{Timeout: timeout}}
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
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return connectors.Result{}, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return connectors.Result{}, fmt.Errorf("sandbox: %w", err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return connectors.Result{}, connectors.ErrNotFound
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
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/stats", nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var calls map[string]int
	err = json.NewDecoder(resp.Body).Decode(&calls)
	return calls[kind], err
}
