package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/paygate/paygate/internal/connectors/sandbox"
	"github.com/paygate/paygate/internal/httpapi"
	"github.com/paygate/paygate/internal/idempotency"
	"github.com/paygate/paygate/internal/logging"
	"github.com/paygate/paygate/internal/payments"
	"github.com/paygate/paygate/internal/refunds"
	"github.com/paygate/paygate/internal/routing"
	"github.com/paygate/paygate/internal/store"
	"github.com/paygate/paygate/internal/vault"
	"github.com/paygate/paygate/internal/webhooks"
)

// TestDatabaseDown: with the database unreachable, requests get 503 with
// Retry-After and the error envelope; nothing leaks the cause.
func TestDatabaseDown(t *testing.T) {
	db, err := store.Open(context.Background(), "postgres://u@127.0.0.1:1/x?connect_timeout=2", store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	keys, _ := vault.ParseKeyring("t1:"+vault.NewKey(), "")
	log := logging.New(io.Discard, 0, "json")
	sb := sandbox.New("http://x")
	pay := payments.NewService(db, sb, keys, log)
	srv := httptest.NewServer(httpapi.NewServer(log, httpapi.Config{AdminToken: adminToken, OpenAPI: []byte("{}"),
		Hasher: idempotency.NewHasher(keys.DeriveKey(idempotency.HasherPurpose))},
		httpapi.Deps{Payments: pay, Refunds: refunds.NewService(db, sb, log), Webhooks: webhooks.NewService(db, keys, false),
			Routing: routing.NewService(db, keys, false), Processors: routing.NewRouter(db, keys, log, sb, nil),
			Accounts: db, Keys: db, Ledger: db, Events: db, DB: db}))
	defer srv.Close()
	for _, path := range []string{"/readyz", "/v1/payments"} {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer sk_test_AAAAAAAAAAAAAAAAAAAAAAAAAA")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var body struct {
			Error struct{ Type, Code, Message string }
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || body.Error.Code != "database_unavailable" {
			t.Errorf("%s: %d %q %+v", path, resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	}
}
