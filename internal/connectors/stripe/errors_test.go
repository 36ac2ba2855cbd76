package stripe

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/connectors"
	"github.com/paygate/paygate/internal/connectors/stripe/stripetest"
)

func TestDeclineMapping(t *testing.T) {
	for _, c := range []struct {
		code, decline         string
		outcome               connectors.Outcome
		wantCode, wantDecline string
	}{
		{"card_declined", "generic_decline", connectors.Declined, "card_declined", "generic_decline"},
		{"card_declined", "insufficient_funds", connectors.Declined, "card_declined", "insufficient_funds"},
		{"card_declined", "lost_card", connectors.Declined, "card_declined", "lost_card"},
		{"card_declined", "", connectors.Declined, "card_declined", "generic_decline"},
		{"expired_card", "expired_card", connectors.Declined, "expired_card", "expired_card"},
		{"expired_card", "", connectors.Declined, "expired_card", "expired_card"},
		{"incorrect_cvc", "incorrect_cvc", connectors.Declined, "incorrect_cvc", "incorrect_cvc"},
		{"incorrect_number", "", connectors.Declined, "incorrect_number", "incorrect_number"},
		{"processing_error", "processing_error", connectors.Failed, "processing_error", "processing_error"},
		{"processing_error", "", connectors.Failed, "processing_error", ""},
		{"payment_intent_authentication_failure", "", connectors.Declined, "authentication_failed", "authentication_failed"},
		{"authentication_required", "authentication_required", connectors.Declined, "authentication_required", "authentication_required"},
		{"", "", connectors.Declined, "card_declined", "generic_decline"},
	} {
		res := declineResult(c.code, c.decline, "Stripe's message.")
		if res.Outcome != c.outcome || res.FailureCode != c.wantCode || res.DeclineCode != c.wantDecline || res.Message != "Stripe's message." {
			t.Errorf("%s/%s: %+v, want %s %s/%s with Stripe's message", c.code, c.decline, res, c.outcome, c.wantCode, c.wantDecline)
		}
	}
	if res := declineResult("card_declined", "", ""); res.Message == "" {
		t.Errorf("a decline without Stripe's message has no message: %+v", res)
	}
}

// TestDeclinesFromDocumentedErrors sends every card-error body of
// errors.json (a 402 from the PaymentIntent's confirmation) through
// Authorize.
func TestDeclinesFromDocumentedErrors(t *testing.T) {
	for name, want := range map[string][3]string{
		"generic_decline":    {"declined", "card_declined", "generic_decline"},
		"insufficient_funds": {"declined", "card_declined", "insufficient_funds"},
		"expired_card":       {"declined", "expired_card", "expired_card"},
		"incorrect_cvc":      {"declined", "incorrect_cvc", "incorrect_cvc"},
		"processing_error":   {"failed", "processing_error", "processing_error"},
	} {
		status, body := stripetest.ErrorAnswer(t, name)
		srv := answering(t, status, nil, body)
		c := newTestConnector(t, srv.URL, srv.Client())
		res, err := c.Authorize(context.Background(), paypal("pay_decl:authorize"))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		msg := body["error"].(map[string]any)["message"].(string)
		if string(res.Outcome) != want[0] || res.FailureCode != want[1] || res.DeclineCode != want[2] || res.Message != msg {
			t.Errorf("%s: %+v, want %v and Stripe's message", name, res, want)
		}
	}
}

func paypal(reference string) connectors.AuthorizeRequest {
	return connectors.AuthorizeRequest{Reference: reference, Amount: 1000, Currency: "EUR", Capture: true,
		Method: connectors.Method{Wallet: &connectors.Wallet{Type: "paypal"}}, ReturnURL: "https://shop.test/back"}
}

// answering is a server that answers every request with status, headers
// and body (JSON unless a string).
func answering(t *testing.T, status int, header http.Header, body any) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for k, v := range header {
			w.Header()[k] = v
		}
		if s, ok := body.(string); ok {
			w.WriteHeader(status)
			w.Write([]byte(s))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestErrorClassification: which of Stripe's error answers prove that the
// operation was not processed (failover allowed), which leave it unknown,
// and which are definitive results.
func TestErrorClassification(t *testing.T) {
	type want int
	const (
		notProcessed want = iota
		unknown
		result
	)
	cases := []struct {
		name   string
		status int
		header http.Header
		body   any
		want   want
	}{
		{"401 invalid API key", 0, nil, "invalid_api_key", notProcessed},
		{"403 key without the permission", 0, nil, "permission", notProcessed},
		{"429 rate limit", 0, nil, "rate_limit", notProcessed},
		{"429 lock timeout", 0, nil, "lock_timeout", unknown},
		{"500 api_error", 0, nil, "api_error", unknown},
		{"500 api_error with Stripe-Should-Retry: false", 0, http.Header{"Stripe-Should-Retry": {"false"}}, "api_error", unknown},
		{"503 with Stripe-Should-Retry: true", 503, http.Header{"Stripe-Should-Retry": {"true"}}, "api_error", unknown},
		{"502 not JSON (a proxy)", 502, nil, raw("<html>Bad Gateway</html>"), unknown},
		{"429 not JSON", 429, nil, raw("Too Many Requests"), unknown},
		{"409 idempotency key in use", 0, nil, "idempotency_key_in_use", unknown},
		{"400 invalid request", 0, nil, "amount_too_large", result},
		{"404 no such object", 0, nil, "resource_missing", result},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := c.status, c.body
			if name, ok := c.body.(string); ok {
				s, b := stripetest.ErrorAnswer(t, name)
				if status == 0 {
					status = s
				}
				body = b
			}
			if r, ok := body.(raw); ok {
				body = string(r)
			}
			srv := answering(t, status, c.header, body)
			conn := newTestConnector(t, srv.URL, srv.Client())
			ctx := context.Background()
			// One call (a capture), and an authorization whose first call
			// (the PaymentMethod) gets the answer.
			cres, cerr := conn.Capture(ctx, connectors.CaptureRequest{Reference: "pay_x:capture", ProcessorID: "pi_x", Amount: 100, Currency: "USD"})
			ares, aerr := conn.Authorize(ctx, connectors.AuthorizeRequest{Reference: "pay_x:authorize", Amount: 100, Currency: "USD", Capture: true, Method: card("4242424242424242")})
			for _, got := range []struct {
				op  string
				res connectors.Result
				err error
			}{{"capture", cres, cerr}, {"authorize", ares, aerr}} {
				switch c.want {
				case notProcessed:
					if !errors.Is(got.err, connectors.ErrNotProcessed) {
						t.Errorf("%s: %+v, %v; want ErrNotProcessed", got.op, got.res, got.err)
					}
				case unknown:
					if got.err == nil || errors.Is(got.err, connectors.ErrNotProcessed) {
						t.Errorf("%s: %+v, %v; want an unknown outcome (an error, not ErrNotProcessed)", got.op, got.res, got.err)
					}
				case result:
					if got.err != nil || got.res.Outcome != connectors.Failed || got.res.FailureCode == "" || got.res.Message == "" {
						t.Errorf("%s: %+v, %v; want a failed result with Stripe's code and message", got.op, got.res, got.err)
					}
				}
			}
		})
	}
}

type raw string

func TestTransportClassification(t *testing.T) {
	ctx := context.Background()
	req := connectors.CaptureRequest{Reference: "pay_t:capture", ProcessorID: "pi_t", Amount: 100, Currency: "USD"}
	if _, err := closedConnector(t).Capture(ctx, req); !errors.Is(err, connectors.ErrNotProcessed) {
		t.Errorf("refused connection: %v, want ErrNotProcessed", err)
	}
	if _, err := slowConnector(t).Capture(ctx, req); err == nil || errors.Is(err, connectors.ErrNotProcessed) {
		t.Errorf("timeout: %v, want an unknown outcome", err)
	}
	// A connection that dies after the request was sent: unknown.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	}))
	t.Cleanup(srv.Close)
	c := newTestConnector(t, srv.URL, &http.Client{Timeout: 5 * time.Second})
	if _, err := c.Capture(ctx, req); err == nil || errors.Is(err, connectors.ErrNotProcessed) {
		t.Errorf("connection closed mid-request: %v, want an unknown outcome", err)
	}
}
