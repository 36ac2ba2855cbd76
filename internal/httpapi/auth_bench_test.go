package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/audit"
	"github.com/paygate/paygate/internal/clock"
	"github.com/paygate/paygate/internal/connectors/sandbox"
	"github.com/paygate/paygate/internal/httpapi"
	"github.com/paygate/paygate/internal/idempotency"
	"github.com/paygate/paygate/internal/merchants"
	"github.com/paygate/paygate/internal/payments"
	"github.com/paygate/paygate/internal/refunds"
	"github.com/paygate/paygate/internal/routing"
	"github.com/paygate/paygate/internal/store/storetest"
	"github.com/paygate/paygate/internal/vault"
	"github.com/paygate/paygate/internal/webhooks"
)

// BenchmarkAuthenticatedRead is what the API key costs a request, over
// loopback HTTP against the real database: GET /v1/payments/{id} without a
// key (refused before any query), with a well-formed unknown key (refused
// after the key lookup, one query) and with the merchant's key (the lookup,
// then the payment's read). unknown_key minus no_key is the lookup's price;
// retrieve shows what share of a read it is. Runs on SQLite, and on
// PostgreSQL when PAYGATE_TEST_DATABASE_URL names a server.
// Only run with -bench: go test -run '^$' -bench AuthenticatedRead ./internal/httpapi
func BenchmarkAuthenticatedRead(b *testing.B) {
	for _, backend := range storetest.Backends(b) {
		b.Run(backend, func(b *testing.B) {
			url, secret, id := benchServer(b, backend)
			unknown := merchants.NewKey("mer_unknown", false, clock.Now()).Secret
			for _, c := range []struct {
				name, key string
				want      int
			}{{"no_key", "", 401}, {"unknown_key", unknown, 401}, {"retrieve", secret, 200}} {
				b.Run(c.name+"/serial", func(b *testing.B) { // latency: round trips count
					b.ReportAllocs()
					for b.Loop() {
						benchGet(b, url+"/v1/payments/"+id, c.key, c.want)
					}
				})
				b.Run(c.name+"/parallel", func(b *testing.B) { // throughput: CPU counts
					b.ReportAllocs()
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							benchGet(b, url+"/v1/payments/"+id, c.key, c.want)
						}
					})
				})
			}
		})
	}
}

// benchServer serves the API on loopback and returns its URL, a merchant's
// key and one of its payments.
func benchServer(b *testing.B, backend string) (url, secret, paymentID string) {
	b.Helper()
	ctx := context.Background()
	db := storetest.Open(b, backend)
	keys, err := vault.ParseKeyring("b1:"+vault.NewKey(), "")
	if err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	b.Cleanup(srv.Close)
	sb := sandbox.New(srv.URL)
	router := routing.NewRouter(db, keys, log, sb, nil)
	pay := payments.NewService(db, sb, keys, log)
	pay.Routes = router
	refs := refunds.NewService(db, sb, log)
	refs.Routes = router
	handler = httpapi.NewServer(log, httpapi.Config{AdminToken: adminToken, Sealer: keys,
		Hasher: idempotency.NewHasher(keys.DeriveKey(idempotency.HasherPurpose))},
		httpapi.Deps{Payments: pay, Refunds: refs, Webhooks: webhooks.NewService(db, keys, false), Routing: routing.NewService(db, keys, false),
			Processors: router, Accounts: db, Keys: db, Ledger: db, Events: db, DB: db})
	for i := range 100 { // a key table with some keys in it, not one
		m := merchants.NewMerchant("bench", i%2 == 0, clock.Now())
		if err := db.CreateMerchant(ctx, m, audit.New(audit.ActorCLI, audit.MerchantCreated, m.ID, m.ID, clock.Now())); err != nil {
			b.Fatal(err)
		}
		secret = m.APIKey.Secret
	}
	body, _ := json.Marshal(map[string]any{"amount": 2000, "currency": "usd", "confirm": true,
		"payment_method": map[string]any{"type": "card", "card": map[string]any{
			"number": "4242424242424242", "exp_month": 12, "exp_year": time.Now().Year() + 3, "cvc": "123"}}})
	req, _ := http.NewRequest("POST", srv.URL+"/v1/payments", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+secret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var p struct{ ID string }
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil || resp.StatusCode != 201 {
		b.Fatalf("create a payment: %d %v", resp.StatusCode, err)
	}
	return srv.URL, secret, p.ID
}

func benchGet(b *testing.B, url, key string, want int) {
	req, _ := http.NewRequest("GET", url, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Error(err)
		return
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		b.Errorf("GET %s: %d, want %d", url, resp.StatusCode, want)
	}
}
