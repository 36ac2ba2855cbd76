package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/paygate/paygate/internal/store"
	"github.com/paygate/paygate/internal/store/storetest"
	"github.com/paygate/paygate/internal/vault"
)

// TestKeysRotate: cards stored under key 1, `paygate keys rotate` to key 2,
// key 1 removed from the ring: every stored card still pays, and its
// fingerprint is unchanged.
func TestKeysRotate(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		url := storetest.NewURL(t, backend)
		k1, k2, fp := "k1:"+vault.NewKey(), "k2:"+vault.NewKey(), vault.NewKey()
		vars := func(keys string) map[string]string {
			return map[string]string{"PAYGATE_DATABASE_URL": url, "PAYGATE_ADDR": freeAddr(t), "PAYGATE_ENCRYPTION_KEYS": keys,
				"PAYGATE_FINGERPRINT_KEY": fp, "PAYGATE_LOG_LEVEL": "warn"}
		}
		s := startServe(t, vars(k1))
		key := keyPattern.FindString(s.stdout.String())
		var methods, fingerprints []string
		for _, number := range []string{"4242424242424242", "5555555555554444", "4000056655665556"} {
			status, m := postJSON(t, s.url+"/v1/payment_methods", key, map[string]any{"type": "card",
				"card": map[string]any{"number": number, "exp_month": 12, "exp_year": 2040}})
			if status != 201 {
				t.Fatalf("payment method: %d %v", status, m)
			}
			methods = append(methods, m["id"].(string))
			fingerprints = append(fingerprints, m["card"].(map[string]any)["fingerprint"].(string))
		}
		// A webhook endpoint's signing secret, mid-rotation: two sealed
		// secrets; and the answer of its create, which shows the secret,
		// sealed under its Idempotency-Key for replay.
		epBody := map[string]any{"url": "http://127.0.0.1:9/hooks", "enabled_events": []string{"*"}}
		status, epRaw, _ := postRaw(t, s.url+"/v1/webhook_endpoints", key, epBody, "Idempotency-Key", "endpoint-1")
		var ep map[string]any
		if err := json.Unmarshal(epRaw, &ep); err != nil || status != 201 {
			t.Fatalf("webhook endpoint: %d %s (%v)", status, epRaw, err)
		}
		if status, _ := postJSON(t, s.url+"/v1/webhook_endpoints/"+ep["id"].(string)+"/rotate_secret", key, map[string]any{}); status != 200 {
			t.Fatalf("rotate_secret: %d", status)
		}
		if err := s.stop(); err != nil {
			t.Fatal(err)
		}

		var out, errOut bytes.Buffer
		if err := run(context.Background(), []string{"paygate", "keys", "rotate"}, env(vars(k2+","+k1)), &out, &errOut); err != nil {
			t.Fatalf("keys rotate: %v\n%s", err, errOut.String())
		}
		if !strings.Contains(out.String(), "done: 6 record(s) re-encrypted") {
			t.Errorf("keys rotate printed %q", out.String())
		}
		// Run again: nothing left, it resumes without harm.
		out.Reset()
		if err := run(context.Background(), []string{"paygate", "keys", "rotate"}, env(vars(k2+","+k1)), &out, &errOut); err != nil || !strings.Contains(out.String(), "done: 0 record(s)") {
			t.Errorf("second rotate: %v %q", err, out.String())
		}
		db := storetest.OpenURL(t, url)
		var n int
		if err := db.SQL().QueryRow(`SELECT (SELECT count(*) FROM payment_methods WHERE enc_key_id <> 'k2') +
			(SELECT count(*) FROM webhook_endpoints WHERE secret_key_id <> 'k2' OR previous_key_id <> 'k2') +
			(SELECT count(*) FROM idempotency_keys WHERE response_key_id <> 'k2')`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("%d records not under k2 (%v)", n, err)
		}
		var actions int
		if err := db.SQL().QueryRow(`SELECT count(*) FROM audit_events WHERE action = 'encryption_keys.rotated' AND actor = 'cli'`).Scan(&actions); err != nil || actions != 1 {
			t.Errorf("%d rotation audit entries (%v)", actions, err)
		}

		s = startServe(t, vars(k2)) // key 1 is gone
		for i, pm := range methods {
			status, p := postJSON(t, s.url+"/v1/payments", key, map[string]any{"amount": 700, "currency": "usd", "confirm": true, "payment_method": pm})
			if status != 201 || p["status"] != "succeeded" {
				t.Fatalf("paying with %s after rotation: %d %v", pm, status, p)
			}
			got := p["payment_method"].(map[string]any)["card"].(map[string]any)["fingerprint"]
			if got != fingerprints[i] {
				t.Errorf("fingerprint changed: %v, was %s", got, fingerprints[i])
			}
		}
		// The sealed answer opens under key 2 alone: the retry replays it.
		status, again, hdr := postRaw(t, s.url+"/v1/webhook_endpoints", key, epBody, "Idempotency-Key", "endpoint-1")
		if status != 201 || !bytes.Equal(again, epRaw) || hdr.Get("Idempotent-Replayed") != "true" {
			t.Errorf("replay after key rotation: %d %s, want the first answer %s", status, again, epRaw)
		}
		// The endpoint's secret opens under key 2 alone: it rotates again.
		if status, _ := postJSON(t, s.url+"/v1/webhook_endpoints/"+ep["id"].(string)+"/rotate_secret", key, map[string]any{}); status != 200 {
			t.Errorf("rotate_secret after key rotation: %d", status)
		}
		if err := s.stop(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestRevokedKeyOnEveryInstance: a key revoked through one instance is
// refused by another on its very next request (no cache anywhere).
func TestRevokedKeyOnEveryInstance(t *testing.T) {
	needPostgres(t)
	bin := buildBinary(t)
	dbURL := storetest.NewURL(t, store.Postgres)
	token := strings.Repeat("r3v0k", 8)
	base := map[string]string{"PAYGATE_DATABASE_URL": dbURL, "PAYGATE_ADMIN_TOKEN": token,
		"PAYGATE_ENCRYPTION_KEYS": "k1:" + vault.NewKey(), "PAYGATE_LOG_LEVEL": "warn"}
	var gws []*process
	for range 2 {
		vars := map[string]string{"PAYGATE_ADDR": freeAddr(t)}
		for k, v := range base {
			vars[k] = v
		}
		gws = append(gws, startProcess(t, bin, vars, "PAYGATE_ADDR", "serve"))
	}
	status, m := postJSON(t, gws[0].url+"/v1/merchants", token, map[string]any{"name": "Revoke"})
	if status != 201 {
		t.Fatalf("merchant: %d %v", status, m)
	}
	k := m["api_key"].(map[string]any)
	get := func(url string) int {
		req, _ := http.NewRequest("GET", url+"/v1/payments", nil)
		req.Header.Set("Authorization", "Bearer "+k["secret"].(string))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, g := range gws {
		if s := get(g.url); s != 200 {
			t.Fatalf("before revocation: %d", s)
		}
	}
	req, _ := http.NewRequest("DELETE", gws[0].url+"/v1/api_keys/"+k["id"].(string), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("revoke: %v %v", resp, err)
	}
	resp.Body.Close()
	for i, g := range gws {
		if s := get(g.url); s != 401 {
			t.Errorf("instance %d after revocation: %d, want 401", i, s)
		}
	}
}
