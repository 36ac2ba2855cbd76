package store_test

import (
	"context"
	"testing"

	"github.com/paygate/paygate/internal/audit"
	"github.com/paygate/paygate/internal/clock"
	"github.com/paygate/paygate/internal/merchants"
	"github.com/paygate/paygate/internal/store"
	"github.com/paygate/paygate/internal/store/storetest"
)

// BenchmarkKeyBySecretHash is the API key look-up every authenticated
// request makes: hash the secret, find the live key by its hash. It runs on
// SQLite, and on PostgreSQL when PAYGATE_TEST_DATABASE_URL names a server.
// Only run with -bench: go test -run '^$' -bench KeyBySecretHash ./internal/store
func BenchmarkKeyBySecretHash(b *testing.B) {
	for _, backend := range storetest.Backends(b) {
		b.Run(backend, func(b *testing.B) {
			ctx := context.Background()
			db := storetest.Open(b, backend)
			secret := ""
			for i := range 100 { // a table with some keys in it, not one
				now := clock.Now()
				m := merchants.NewMerchant("bench", i%2 == 0, now)
				if err := db.CreateMerchant(ctx, m, audit.New(audit.ActorCLI, audit.MerchantCreated, m.ID, m.ID, now)); err != nil {
					b.Fatal(err)
				}
				secret = m.APIKey.Secret
			}
			b.Run("serial", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					lookUp(b, db, secret)
				}
			})
			b.Run("parallel", func(b *testing.B) {
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						lookUp(b, db, secret)
					}
				})
			})
		})
	}
}

func lookUp(b *testing.B, db *store.DB, secret string) {
	k, err := db.KeyBySecretHash(context.Background(), merchants.HashSecret(secret))
	if err != nil || k.ID == "" {
		b.Errorf("look-up: %v", err)
	}
}
