package config

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/retention"
	"github.com/paygate/paygate/internal/vault"
)

func TestWeakSecret(t *testing.T) {
	for _, weak := range []string{
		"",
		"short-but-random-9f8e7d",
		strings.Repeat("a", 64),               // one character repeated
		strings.Repeat("ab", 32),              // too few distinct characters
		strings.Repeat("0123456789abcdef", 4), // a pattern repeated
		strings.Repeat("r3v0kXyZ19", 4),       // a pattern of 10 distinct characters
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", // long, nearly one character
	} {
		if WeakSecret(weak) == "" {
			t.Errorf("%q passed as strong", weak)
		}
	}
	for _, strong := range []string{
		"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", // openssl rand -hex 32
		"Zb8hKq2LmN4pQr7sTv9wXy3AcEfGiJk5",                                 // 32 random characters
	} {
		if why := WeakSecret(strong); why != "" {
			t.Errorf("%q refused: %s", strong, why)
		}
	}
}

// A production start refuses a weak admin token, even a long one (the
// length-only check let 32 "a"s through).
func TestProductionRefusesLowEntropyAdminToken(t *testing.T) {
	vars := map[string]string{
		"PAYGATE_ENV": "production", "PAYGATE_DATABASE_URL": "postgres://db/x",
		"PAYGATE_ENCRYPTION_KEYS": "k1:" + vault.NewKey(), "PAYGATE_FINGERPRINT_KEY": vault.NewKey(),
		"PAYGATE_METRICS_TOKEN": "Zb8hKq2LmN4pQr7sTv9wXy3AcEfGiJk5",
	}
	getenv := func(k string) string { return vars[k] }
	for _, tok := range []string{strings.Repeat("a", 40), strings.Repeat("abcd", 10), strings.Repeat("0123456789", 4)} {
		vars["PAYGATE_ADMIN_TOKEN"] = tok
		if _, err := Load(getenv); err == nil || !strings.Contains(err.Error(), "PAYGATE_ADMIN_TOKEN") {
			t.Errorf("admin token %q: %v", tok, err)
		}
	}
	vars["PAYGATE_ADMIN_TOKEN"] = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	if _, err := Load(getenv); err != nil {
		t.Fatalf("a random token: %v", err)
	}
	// A weak metrics token, and a remote sandbox without a token.
	vars["PAYGATE_METRICS_TOKEN"] = strings.Repeat("m", 40)
	if _, err := Load(getenv); err == nil || !strings.Contains(err.Error(), "PAYGATE_METRICS_TOKEN") {
		t.Errorf("weak metrics token: %v", err)
	}
	vars["PAYGATE_METRICS_TOKEN"] = "Zb8hKq2LmN4pQr7sTv9wXy3AcEfGiJk5"
	vars["PAYGATE_SANDBOX_URL"] = "http://sandbox:8090"
	if _, err := Load(getenv); err == nil || !strings.Contains(err.Error(), "PAYGATE_SANDBOX_TOKEN") {
		t.Errorf("remote sandbox without a token: %v", err)
	}
	vars["PAYGATE_SANDBOX_TOKEN"] = "Qw3eRt5yUi7oPa9sDf2gHj4kLz6xCv8b"
	if _, err := Load(getenv); err != nil {
		t.Errorf("remote sandbox with a token: %v", err)
	}
}

func TestServeChecksNeedMetricsProtection(t *testing.T) {
	c := Config{Env: "production"}
	if err := c.ServeChecks(); err == nil || !strings.Contains(err.Error(), "PAYGATE_METRICS_TOKEN") {
		t.Errorf("production without metrics protection: %v", err)
	}
	for _, ok := range []Config{{Env: "production", MetricsToken: "x"}, {Env: "production", MetricsAddr: "0.0.0.0:9090"}, {Env: "development"}} {
		if err := ok.ServeChecks(); err != nil {
			t.Errorf("%+v: %v", ok, err)
		}
	}
}

func TestSandboxServeChecks(t *testing.T) {
	for addr, wantErr := range map[string]bool{"127.0.0.1:8090": false, "localhost:8090": false, "[::1]:8090": false,
		"0.0.0.0:8090": true, "10.1.2.3:8090": true, ":8090": true} {
		err := Config{SandboxAddr: addr}.SandboxServeChecks()
		if (err != nil) != wantErr {
			t.Errorf("%s without a token: %v", addr, err)
		}
		if err := (Config{SandboxAddr: addr, SandboxToken: "Qw3eRt5yUi7oPa9sDf2gHj4kLz6xCv8b"}).SandboxServeChecks(); err != nil {
			t.Errorf("%s with a token: %v", addr, err)
		}
	}
}

func TestSandboxLatency(t *testing.T) {
	load := func(vars map[string]string) (Config, error) { return Load(func(k string) string { return vars[k] }) }
	for in, want := range map[string]time.Duration{"": 0, "0": 0, "0s": 0, "300ms": 300 * time.Millisecond, " 2s ": 2 * time.Second, "1m": time.Minute} {
		c, err := load(map[string]string{"PAYGATE_SANDBOX_LATENCY": in})
		if err != nil || c.SandboxLatency != want {
			t.Errorf("%q: %s, %v; want %s", in, c.SandboxLatency, err, want)
		}
	}
	for _, in := range []string{"-1ms", "300", "soon", "61s", "1h"} {
		if _, err := load(map[string]string{"PAYGATE_SANDBOX_LATENCY": in}); err == nil || !strings.Contains(err.Error(), "PAYGATE_SANDBOX_LATENCY") {
			t.Errorf("%q: %v, want an error naming PAYGATE_SANDBOX_LATENCY", in, err)
		}
	}
	// The built-in sandbox answers within the connector timeout; a
	// sandbox process may be slower (the gateway then times out).
	for _, tc := range []struct {
		vars    map[string]string
		refused bool
	}{
		{map[string]string{"PAYGATE_SANDBOX_LATENCY": "9s"}, false},
		{map[string]string{"PAYGATE_SANDBOX_LATENCY": "10s"}, true},
		{map[string]string{"PAYGATE_SANDBOX_LATENCY": "3s", "PAYGATE_CONNECTOR_TIMEOUT": "2s"}, true},
		{map[string]string{"PAYGATE_SANDBOX_LATENCY": "30s", "PAYGATE_CONNECTOR_TIMEOUT": "2s", "PAYGATE_SANDBOX_URL": "http://127.0.0.1:8090"}, false},
	} {
		c, err := load(tc.vars)
		if err != nil {
			t.Fatalf("%v: %v", tc.vars, err)
		}
		if err := c.ServeChecks(); (err != nil) != tc.refused || (err != nil && !strings.Contains(err.Error(), "PAYGATE_CONNECTOR_TIMEOUT")) {
			t.Errorf("%v: serve checks %v, want refused %v", tc.vars, err, tc.refused)
		}
		if err := c.SandboxServeChecks(); err != nil {
			t.Errorf("%v: the sandbox process refused it: %v", tc.vars, err)
		}
	}
}

func TestParsePrefixes(t *testing.T) {
	got, err := ParsePrefixes(" 10.0.0.0/8, 192.168.1.7 ,fd00::/8, ::ffff:172.16.0.0/108,")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.0/8", "192.168.1.7/32", "fd00::/8", "172.16.0.0/12"}
	if len(got) != len(want) {
		t.Fatalf("%v", got)
	}
	for i, p := range got {
		if p.String() != want[i] {
			t.Errorf("%d: %s, want %s", i, p, want[i])
		}
	}
	if !got[3].Contains(netip.MustParseAddr("172.20.1.1")) {
		t.Error("the mapped prefix does not hold a plain IPv4 address")
	}
	for _, bad := range []string{"10.0.0.0/33", "proxy.internal", "10.0.0/8"} {
		if _, err := ParsePrefixes(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestRetentionConfig(t *testing.T) {
	vars := map[string]string{}
	getenv := func(k string) string { return vars[k] }
	c, err := Load(getenv)
	if err != nil {
		t.Fatal(err)
	}
	if want := (retention.Config{IdempotencyKeys: 24 * time.Hour, WebhookAttempts: 30 * 24 * time.Hour, Interval: time.Minute}); c.Retention != want {
		t.Errorf("defaults: %+v, want %+v", c.Retention, want)
	}
	vars["PAYGATE_IDEMPOTENCY_RETENTION"], vars["PAYGATE_WEBHOOK_ATTEMPT_RETENTION"], vars["PAYGATE_RETENTION_INTERVAL"] = "48h", "2h", "10s"
	if c, err = Load(getenv); err != nil {
		t.Fatal(err)
	}
	if want := (retention.Config{IdempotencyKeys: 48 * time.Hour, WebhookAttempts: 2 * time.Hour, Interval: 10 * time.Second}); c.Retention != want {
		t.Errorf("set: %+v, want %+v", c.Retention, want)
	}
	for _, bad := range []struct{ name, value, says string }{
		// The API promises keys are kept at least 24 hours.
		{"PAYGATE_IDEMPOTENCY_RETENTION", "23h59m", "at least 24h"},
		{"PAYGATE_IDEMPOTENCY_RETENTION", "0", "positive duration"},
		{"PAYGATE_IDEMPOTENCY_RETENTION", "1d", "positive duration"},
		{"PAYGATE_WEBHOOK_ATTEMPT_RETENTION", "59m", "at least 1h"},
		{"PAYGATE_WEBHOOK_ATTEMPT_RETENTION", "-720h", "positive duration"},
		{"PAYGATE_RETENTION_INTERVAL", "100ms", "at least 1s"},
		{"PAYGATE_RETENTION_INTERVAL", "often", "positive duration"},
	} {
		old := vars[bad.name]
		vars[bad.name] = bad.value
		_, err := Load(getenv)
		if err == nil || !strings.Contains(err.Error(), bad.name) || !strings.Contains(err.Error(), bad.says) {
			t.Errorf("%s=%s: %v, want an error saying %q", bad.name, bad.value, err, bad.says)
		}
		vars[bad.name] = old
	}
}
