package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/paygate/paygate/internal/store"
	"github.com/paygate/paygate/internal/store/storetest"
	"github.com/paygate/paygate/internal/tenant"
	"github.com/paygate/paygate/internal/vault"
	"github.com/paygate/paygate/internal/webhooks"
)

// racingStore lets a server rotate a webhook endpoint's secret between the
// moment `paygate keys rotate` reads the old sealed secret and the moment it
// writes the re-sealed one.
type racingStore struct {
	*store.DB
	before func()
}

func (r *racingStore) ReplaceSealed(ctx context.Context, id string, old, s vault.Sealed) (bool, error) {
	if r.before != nil && strings.HasPrefix(id, "we_") && !strings.HasSuffix(id, "#previous") {
		r.before()
		r.before = nil
	}
	return r.DB.ReplaceSealed(ctx, id, old, s)
}

// TestRotationKeepsAConcurrentSecretRotation: a server still running with
// the old key active rotates a webhook secret (sealing the new one under
// that same old key) while `paygate keys rotate` runs. The rotation must not
// write back the secret it read before: the endpoint keeps its new secret.
func TestRotationKeepsAConcurrentSecretRotation(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		ctx := context.Background()
		db := storetest.Open(t, backend)
		k1, k2 := "k1:"+vault.NewKey(), "k2:"+vault.NewKey()
		fp := vault.NewKey()
		server, err := vault.ParseKeyring(k1, fp) // the running server: k1 active
		if err != nil {
			t.Fatal(err)
		}
		cli, err := vault.ParseKeyring(k2+","+k1, fp) // keys rotate: k2 active
		if err != nil {
			t.Fatal(err)
		}
		m := newMerchant(t, db)
		acct := tenant.Account{Scope: tenant.Scope{MerchantID: m.ID}}
		hooks := webhooks.NewService(db, server, false)
		url := "https://example.com/hooks"
		ep, err := hooks.Create(ctx, acct, webhooks.CreateParams{URL: &url, EnabledEvents: []string{"*"}})
		if err != nil {
			t.Fatal(err)
		}
		var rotated string
		rs := &racingStore{DB: db, before: func() {
			e, err := hooks.RotateSecret(ctx, acct, ep.ID, webhooks.RotateParams{})
			if err != nil {
				t.Error(err)
				return
			}
			rotated = e.Secret
		}}
		if _, err := cli.Rotate(ctx, rs, nil); err != nil {
			t.Fatal(err)
		}
		if rotated == "" || rotated == ep.Secret {
			t.Fatalf("the concurrent rotation did not happen (%q)", rotated)
		}
		got, err := db.Endpoint(ctx, tenant.Scope{MerchantID: m.ID}, ep.ID)
		if err != nil {
			t.Fatal(err)
		}
		secret, err := cli.Open(got.Sealed, ep.ID)
		if err != nil {
			t.Fatal(err)
		}
		if string(secret) != rotated {
			t.Fatalf("after keys rotate the endpoint signs with %q: the secret rotated meanwhile (%q) was reverted to the old one (%q)",
				secret, rotated, ep.Secret)
		}
		// What the race left under k1 is re-sealed by the next run.
		if _, err := cli.Rotate(ctx, db, nil); err != nil {
			t.Fatal(err)
		}
		if recs, err := db.SealedNotUnder(ctx, "k2", "", 100); err != nil || len(recs) != 0 {
			t.Fatalf("records left under k1 after a second run: %v %v", recs, err)
		}
	})
}
