package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/store/storetest"
	"github.com/paygate/paygate/internal/testutil"
	"github.com/paygate/paygate/internal/vault"
)

func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestVersionAndUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"paygate", "version"}, env(nil), &out, &errOut); err != nil || !strings.HasPrefix(out.String(), "paygate ") {
		t.Fatalf("version: %v %q", err, out.String())
	}
	if err := run(context.Background(), []string{"paygate"}, env(nil), &out, &errOut); err == nil || !strings.Contains(errOut.String(), "usage") {
		t.Fatalf("no command: %v", err)
	}
	if err := run(context.Background(), []string{"paygate", "fly"}, env(nil), &out, &errOut); err == nil || !strings.Contains(err.Error(), "fly") {
		t.Fatalf("unknown command: %v", err)
	}
}

func TestConfigErrorsNameTheVariable(t *testing.T) {
	strong := "k1:" + vault.NewKey()
	fp := vault.NewKey()
	admin := "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	prod := func(extra ...string) map[string]string {
		m := map[string]string{"PAYGATE_ENV": "production", "PAYGATE_ENCRYPTION_KEYS": strong, "PAYGATE_FINGERPRINT_KEY": fp,
			"PAYGATE_ADMIN_TOKEN": admin, "PAYGATE_DATABASE_URL": "postgres://db/x", "PAYGATE_METRICS_ADDR": "127.0.0.1:0"}
		for i := 0; i+1 < len(extra); i += 2 {
			if extra[i+1] == "" {
				delete(m, extra[i])
			} else {
				m[extra[i]] = extra[i+1]
			}
		}
		return m
	}
	cases := []struct {
		vars map[string]string
		want string
	}{
		{map[string]string{"PAYGATE_ENV": "staging"}, "PAYGATE_ENV"},
		{map[string]string{"PAYGATE_ADDR": "nonsense"}, "PAYGATE_ADDR"},
		{map[string]string{"PAYGATE_DATABASE_URL": "mysql://x"}, "PAYGATE_DATABASE_URL"},
		{map[string]string{"PAYGATE_DATABASE_URL": "sqlite:"}, "PAYGATE_DATABASE_URL"},
		{map[string]string{"PAYGATE_LOG_LEVEL": "loud"}, "PAYGATE_LOG_LEVEL"},
		{map[string]string{"PAYGATE_LOG_FORMAT": "xml"}, "PAYGATE_LOG_FORMAT"},
		{map[string]string{"PAYGATE_ENCRYPTION_KEYS": "k1:short"}, "PAYGATE_ENCRYPTION_KEYS"},
		{map[string]string{"PAYGATE_TLS_CERT_FILE": "/nonexistent/cert.pem"}, "PAYGATE_TLS_CERT_FILE"},
		{map[string]string{"PAYGATE_AUTO_MIGRATE": "maybe"}, "PAYGATE_AUTO_MIGRATE"},
		{map[string]string{"PAYGATE_PUBLIC_URL": "not a url"}, "PAYGATE_PUBLIC_URL"},
		{map[string]string{"PAYGATE_CONNECTOR_TIMEOUT": "soon"}, "PAYGATE_CONNECTOR_TIMEOUT"},
		{map[string]string{"PAYGATE_SANDBOX_LATENCY": "-300ms"}, "PAYGATE_SANDBOX_LATENCY"},
		{map[string]string{"PAYGATE_SANDBOX_LATENCY": "10s"}, "PAYGATE_SANDBOX_LATENCY"}, // not below the 10 s connector timeout
		{map[string]string{"PAYGATE_DATABASE_MAX_CONNS": "0"}, "PAYGATE_DATABASE_MAX_CONNS"},
		{map[string]string{"PAYGATE_DATABASE_MAX_CONNS": "many"}, "PAYGATE_DATABASE_MAX_CONNS"},
		{map[string]string{"PAYGATE_PPROF_ADDR": "0.0.0.0:6060"}, "PAYGATE_PPROF_ADDR"},
		{map[string]string{"PAYGATE_PPROF_ADDR": "6060"}, "PAYGATE_PPROF_ADDR"},
		{map[string]string{"PAYGATE_RECOVERY_AFTER": "-1s"}, "PAYGATE_RECOVERY_AFTER"},
		{map[string]string{"PAYGATE_RECOVERY_AFTER": "15s"}, "PAYGATE_RECOVERY_AFTER"}, // under twice the 10 s connector timeout
		{map[string]string{"PAYGATE_ENV": "production", "PAYGATE_ENCRYPTION_KEYS": strong, "PAYGATE_ADMIN_TOKEN": admin, "PAYGATE_DATABASE_URL": "postgres://db/x", "PAYGATE_TEST_FAULT_POINT": "after_authorize"}, "PAYGATE_TEST_FAULT_POINT"},
		{map[string]string{"PAYGATE_ENV": "production", "PAYGATE_ADMIN_TOKEN": admin, "PAYGATE_DATABASE_URL": "postgres://db/x"}, "PAYGATE_ENCRYPTION_KEYS"},
		{map[string]string{"PAYGATE_ENV": "production", "PAYGATE_ENCRYPTION_KEYS": strong, "PAYGATE_ADMIN_TOKEN": admin, "PAYGATE_DATABASE_URL": "postgres://db/x"}, "PAYGATE_FINGERPRINT_KEY"},
		{map[string]string{"PAYGATE_ENV": "production", "PAYGATE_ENCRYPTION_KEYS": "k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "PAYGATE_ADMIN_TOKEN": admin, "PAYGATE_DATABASE_URL": "postgres://db/x"}, "PAYGATE_ENCRYPTION_KEYS"},
		{map[string]string{"PAYGATE_ENV": "production", "PAYGATE_ENCRYPTION_KEYS": strong, "PAYGATE_FINGERPRINT_KEY": fp, "PAYGATE_DATABASE_URL": "postgres://db/x"}, "PAYGATE_ADMIN_TOKEN"},
		{map[string]string{"PAYGATE_ENV": "production", "PAYGATE_ENCRYPTION_KEYS": strong, "PAYGATE_FINGERPRINT_KEY": fp, "PAYGATE_ADMIN_TOKEN": "short", "PAYGATE_DATABASE_URL": "postgres://db/x"}, "PAYGATE_ADMIN_TOKEN"},
		{map[string]string{"PAYGATE_ENV": "production", "PAYGATE_ENCRYPTION_KEYS": strong, "PAYGATE_FINGERPRINT_KEY": fp, "PAYGATE_ADMIN_TOKEN": admin}, "PAYGATE_DATABASE_URL"},
		// Long enough, but not random.
		{prod("PAYGATE_ADMIN_TOKEN", strings.Repeat("a", 48)), "PAYGATE_ADMIN_TOKEN"},
		{prod("PAYGATE_ADMIN_TOKEN", strings.Repeat("a1b2", 10)), "PAYGATE_ADMIN_TOKEN"},
		// /metrics needs a token or a listener of its own.
		{prod("PAYGATE_METRICS_ADDR", ""), "PAYGATE_METRICS_TOKEN"},
		{prod("PAYGATE_METRICS_ADDR", "", "PAYGATE_METRICS_TOKEN", "secret"), "PAYGATE_METRICS_TOKEN"},
		{prod("PAYGATE_SANDBOX_URL", "http://sandbox:8090"), "PAYGATE_SANDBOX_TOKEN"},
		{map[string]string{"PAYGATE_METRICS_ADDR": "9090"}, "PAYGATE_METRICS_ADDR"},
		{map[string]string{"PAYGATE_TRUSTED_PROXIES": "10.0.0.0/8,ingress"}, "PAYGATE_TRUSTED_PROXIES"},
	}
	for _, c := range cases {
		var out, errOut bytes.Buffer
		err := run(context.Background(), []string{"paygate", "serve"}, env(c.vars), &out, &errOut)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error %v, want one line naming %s", c.vars, err, c.want)
		}
		if k := c.vars["PAYGATE_ENCRYPTION_KEYS"]; k != "" && err != nil && strings.Contains(err.Error(), strings.TrimPrefix(k, "k1:")) {
			t.Errorf("error reveals the key: %v", err)
		}
	}
}

// server runs `paygate serve` in-process and stops it at the end.
type server struct {
	url    string
	stdout *testutil.SyncBuffer
	stderr *testutil.SyncBuffer
	stop   func() error
}

func startServe(t *testing.T, vars map[string]string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{url: "http://" + vars["PAYGATE_ADDR"], stdout: &testutil.SyncBuffer{}, stderr: &testutil.SyncBuffer{}}
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"paygate", "serve"}, env(vars), s.stdout, s.stderr) }()
	s.stop = func() error { cancel(); return <-done }
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(s.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited: %v\n%s", err, s.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("server not ready: %s", s.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Cleanup(func() { cancel() })
	return s
}

var keyPattern = regexp.MustCompile(`sk_test_[A-Z0-9]+`)

func pay(t *testing.T, url, key string) map[string]any {
	t.Helper()
	body := `{"amount":1000,"currency":"usd","confirm":true,"payment_method":{"type":"card","card":{"number":"4242424242424242","exp_month":12,"exp_year":2040,"cvc":"123"}}}`
	req, _ := http.NewRequest("POST", url+"/v1/payments", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil || resp.StatusCode != 201 {
		t.Fatalf("payment: %d %v %v", resp.StatusCode, p, err)
	}
	return p
}

func TestServeDevelopmentSQLite(t *testing.T) {
	dir := t.TempDir()
	vars := map[string]string{"PAYGATE_ADDR": freeAddr(t), "PAYGATE_DATABASE_URL": "sqlite:" + filepath.Join(dir, "paygate.db")}
	s := startServe(t, vars)
	key := keyPattern.FindString(s.stdout.String())
	if key == "" {
		t.Fatalf("no demo key printed: %q", s.stdout.String())
	}
	if p := pay(t, s.url, key); p["status"] != "succeeded" {
		t.Fatalf("payment %v", p)
	}
	if _, err := os.Stat(filepath.Join(dir, "paygate.db.keys")); err != nil {
		t.Fatalf("no development key file: %v", err)
	}
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"paygate", "healthcheck"}, env(vars), &out, &errOut); err != nil {
		t.Fatalf("healthcheck against a running server: %v", err)
	}
	if err := s.stop(); err != nil {
		t.Fatalf("graceful stop: %v", err)
	}
	if err := run(context.Background(), []string{"paygate", "healthcheck"}, env(vars), &out, &errOut); err == nil {
		t.Fatal("healthcheck passed with the server down")
	}
	if strings.Contains(s.stderr.String(), key) {
		t.Fatal("the demo key reached the logs")
	}
	// A second start on the same database creates no second demo merchant,
	// and card data sealed under the key file still decrypts.
	s2 := startServe(t, vars)
	if keyPattern.MatchString(s2.stdout.String()) {
		t.Fatal("demo key printed twice")
	}
	if p := pay(t, s2.url, key); p["status"] != "succeeded" {
		t.Fatalf("payment after restart %v", p)
	}
	if err := s2.stop(); err != nil {
		t.Fatal(err)
	}
}

// The profiler answers on its own loopback address, and not on the API's.
func TestServeProfiles(t *testing.T) {
	pprofAddr := freeAddr(t)
	s := startServe(t, map[string]string{"PAYGATE_ADDR": freeAddr(t), "PAYGATE_PPROF_ADDR": pprofAddr,
		"PAYGATE_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "p.db")})
	get := func(url string) (int, string) {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("http://" + pprofAddr + "/debug/pprof/goroutine?debug=1"); code != 200 || !strings.Contains(body, "goroutine profile:") {
		t.Fatalf("goroutine profile: %d %.200s", code, body)
	}
	if code, body := get("http://" + pprofAddr + "/debug/pprof/profile?seconds=1"); code != 200 || len(body) == 0 {
		t.Fatalf("CPU profile: %d, %d bytes", code, len(body))
	}
	if code, _ := get(s.url + "/debug/pprof/goroutine?debug=1"); code != 404 {
		t.Fatalf("the API's address serves profiles: %d", code)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get("http://" + pprofAddr + "/debug/pprof/"); err == nil {
		t.Fatal("the profiler still answers after the server stopped")
	}
}

func TestMigrateAndMerchantsCreate(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		url := storetest.NewURL(t, backend)
		vars := map[string]string{"PAYGATE_DATABASE_URL": url, "PAYGATE_ADDR": freeAddr(t), "PAYGATE_ENCRYPTION_KEYS": "k1:" + vault.NewKey(),
			"PAYGATE_ADMIN_TOKEN": strings.Repeat("z9", 20)}
		var out, errOut bytes.Buffer
		if err := run(context.Background(), []string{"paygate", "migrate"}, env(vars), &out, &errOut); err != nil || strings.Contains(out.String(), "applied 0 ") || !strings.Contains(out.String(), "applied ") {
			t.Fatalf("migrate: %v %q", err, out.String())
		}
		out.Reset()
		if err := run(context.Background(), []string{"paygate", "migrate"}, env(vars), &out, &errOut); err != nil || !strings.Contains(out.String(), "applied 0 ") {
			t.Fatalf("second migrate: %v %q", err, out.String())
		}
		out.Reset()
		if err := run(context.Background(), []string{"paygate", "merchants", "create", "--name", "Acme"}, env(vars), &out, &errOut); err != nil {
			t.Fatal(err)
		}
		key := keyPattern.FindString(out.String())
		if key == "" || !strings.Contains(out.String(), "merchant_id: mer_") {
			t.Fatalf("merchants create printed %q", out.String())
		}
		if err := run(context.Background(), []string{"paygate", "merchants", "create"}, env(vars), &out, &errOut); err == nil {
			t.Fatal("merchants create without --name succeeded")
		}
		s := startServe(t, vars)
		if p := pay(t, s.url, key); p["status"] != "succeeded" {
			t.Fatalf("payment %v", p)
		}
		// An existing merchant means no demo merchant.
		if keyPattern.MatchString(s.stdout.String()) {
			t.Fatal("demo merchant created on a non-empty database")
		}
		if err := s.stop(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestServeRefusesBusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	vars := map[string]string{"PAYGATE_ADDR": ln.Addr().String(), "PAYGATE_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "p.db")}
	var out, errOut bytes.Buffer
	err = run(context.Background(), []string{"paygate", "serve"}, env(vars), &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "listen") {
		t.Fatalf("want a listen error, got %v", err)
	}
}

func TestLedgerVerifyCommand(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		url := storetest.NewURL(t, backend)
		vars := map[string]string{"PAYGATE_DATABASE_URL": url, "PAYGATE_ADDR": freeAddr(t), "PAYGATE_ENCRYPTION_KEYS": "k1:" + vault.NewKey()}
		var out, errOut bytes.Buffer
		if err := run(context.Background(), []string{"paygate", "merchants", "create", "--name", "L"}, env(vars), &out, &errOut); err != nil {
			t.Fatal(err)
		}
		key := keyPattern.FindString(out.String())
		s := startServe(t, vars)
		pay(t, s.url, key)
		if err := s.stop(); err != nil {
			t.Fatal(err)
		}
		out.Reset()
		if err := run(context.Background(), []string{"paygate", "ledger", "verify"}, env(vars), &out, &errOut); err != nil || !strings.Contains(out.String(), "ledger verified") {
			t.Fatalf("verify: %v %s", err, out.String())
		}
		// Tamper with an entry: verify must notice.
		db := storetest.OpenURL(t, url)
		if _, err := db.SQL().Exec(`UPDATE ledger_entries SET amount = amount + 1 WHERE account = 'merchant_balance'`); err != nil {
			t.Fatal(err)
		}
		out.Reset()
		if err := run(context.Background(), []string{"paygate", "ledger", "verify"}, env(vars), &out, &errOut); err == nil || !strings.Contains(out.String(), "VIOLATION") {
			t.Fatalf("tampered ledger verified: %v %s", err, out.String())
		}
	})
}
