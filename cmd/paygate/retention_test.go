package main

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/audit"
	"github.com/paygate/paygate/internal/clock"
	"github.com/paygate/paygate/internal/merchants"
	"github.com/paygate/paygate/internal/store"
)

// TestServeRunsRetention: a serving instance deletes the idempotency keys
// older than PAYGATE_IDEMPOTENCY_RETENTION by itself, and keeps the others.
func TestServeRunsRetention(t *testing.T) {
	ctx := context.Background()
	url := "sqlite:" + filepath.Join(t.TempDir(), "p.db")
	db, err := store.Open(ctx, url, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	m := merchants.NewMerchant("m", false, clock.Now())
	if err := db.CreateMerchant(ctx, m, audit.New(audit.ActorCLI, audit.MerchantCreated, m.ID, m.ID, m.CreatedAt)); err != nil {
		t.Fatal(err)
	}
	for key, age := range map[string]time.Duration{"older": 49 * time.Hour, "younger": 25 * time.Hour} {
		if _, err := db.SQL().Exec(`INSERT INTO idempotency_keys (merchant_id, key, livemode, method, path, request_hash, created_at, response_status)
			VALUES ($1, $2, false, 'POST', '/v1/payments', $3, $4, 200)`, m.ID, key, []byte{1}, clock.Now().Add(-age)); err != nil {
			t.Fatal(err)
		}
	}
	keys := func() []string {
		t.Helper()
		rows, err := db.SQL().Query(`SELECT key FROM idempotency_keys ORDER BY key`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				t.Fatal(err)
			}
			out = append(out, k)
		}
		return out
	}

	s := startServe(t, map[string]string{"PAYGATE_ADDR": freeAddr(t), "PAYGATE_DATABASE_URL": url, "PAYGATE_IDEMPOTENCY_RETENTION": "48h"})
	for deadline := time.Now().Add(30 * time.Second); !slices.Equal(keys(), []string{"younger"}); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("keys after 30 s of serving: %v, want only the younger\n%s", keys(), s.stderr.String())
		}
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	if logs := s.stderr.String(); !strings.Contains(logs, `"msg":"retention: deleted expired rows","idempotency_keys":1,`) {
		t.Errorf("no log of the deletion:\n%s", logs)
	}
}
