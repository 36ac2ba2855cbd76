package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/vault"
)

// send makes one request with raw method and headers and returns the
// status and body.
func send(t *testing.T, method, url string, header ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func devVars(t *testing.T, extra ...string) map[string]string {
	t.Helper()
	vars := map[string]string{"PAYGATE_ADDR": freeAddr(t), "PAYGATE_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "h.db"),
		"PAYGATE_LOG_LEVEL": "warn"}
	for i := 0; i+1 < len(extra); i += 2 {
		vars[extra[i]] = extra[i+1]
	}
	return vars
}

// TestClientInputDoesNotGrowMetrics: an unauthenticated client that makes
// up HTTP methods (each once a new metric series, kept for the life of the
// process) adds nothing to /metrics but the one "other" series, and a
// request's headers are capped at 64 KiB.
func TestClientInputDoesNotGrowMetrics(t *testing.T) {
	s := startServe(t, devVars(t, "PAYGATE_LOG_LEVEL", "info"))
	series := func() []string {
		_, text := send(t, "GET", s.url+"/metrics")
		return regexp.MustCompile(`(?m)^paygate_http_request_duration_seconds_count\{.*$`).FindAllString(text, -1)
	}
	before := len(series())
	for i := range 30 {
		send(t, "FOOBAR"+strings.Repeat("X", i*50)+string(rune('A'+i%26)), s.url+"/v1/payments")
	}
	after := series()
	text := strings.Join(after, "\n")
	if strings.Contains(text, "FOOBAR") {
		t.Fatalf("a made-up method became a label:\n%s", text)
	}
	// The scrapes themselves add a series; the 30 made-up methods add one.
	if len(after) > before+2 {
		t.Errorf("%d series after 30 made-up methods, %d before:\n%s", len(after), before, text)
	}
	if !regexp.MustCompile(`method="other",route="unmatched",status="405"\} 30\b`).MatchString(text) {
		t.Errorf("the made-up methods are not counted as other:\n%s", text)
	}
	for _, m := range regexp.MustCompile(`method="([^"]*)"`).FindAllStringSubmatch(text, -1) {
		switch m[1] {
		case "GET", "POST", "PATCH", "DELETE", "PUT", "HEAD", "OPTIONS", "other":
		default:
			t.Errorf("method label %q", m[1])
		}
	}
	if strings.Contains(s.stderr.String(), "FOOBAR") {
		t.Error("a made-up method reached the log")
	}
	// Headers beyond 64 KiB: 431, not read into memory.
	status, _ := send(t, "GET", s.url+"/healthz", "X-Padding", strings.Repeat("p", 100<<10))
	if status != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("a 100 KiB header: %d, want 431", status)
	}
	if status, _ := send(t, "GET", s.url+"/healthz", "X-Padding", strings.Repeat("p", 32<<10)); status != 200 {
		t.Errorf("a 32 KiB header: %d", status)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
}

// TestMetricsOnTheirOwnListener: with PAYGATE_METRICS_ADDR the metrics are
// served there (with the token, when one is set), and the API's listener,
// which the internet may reach, has none.
func TestMetricsOnTheirOwnListener(t *testing.T) {
	metricsAddr := freeAddr(t)
	token := "Zb8hKq2LmN4pQr7sTv9wXy3AcEfGiJk5"
	s := startServe(t, devVars(t, "PAYGATE_METRICS_ADDR", metricsAddr, "PAYGATE_METRICS_TOKEN", token))
	if status, body := send(t, "GET", s.url+"/metrics"); status != 404 || strings.Contains(body, "paygate_") {
		t.Errorf("the API's /metrics: %d %.200s", status, body)
	}
	if status, _ := send(t, "GET", "http://"+metricsAddr+"/metrics"); status != 401 {
		t.Errorf("metrics listener without the token: %d", status)
	}
	status, body := send(t, "GET", "http://"+metricsAddr+"/metrics", "Authorization", "Bearer "+token)
	if status != 200 || !strings.Contains(body, "paygate_http_request_duration_seconds") {
		t.Errorf("metrics listener with the token: %d %.200s", status, body)
	}
	if status, _ := send(t, "GET", "http://"+metricsAddr+"/v1/payments"); status != 404 {
		t.Errorf("the metrics listener serves the API: %d", status)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
}

// TestHSTSBehindTLSProxy: TLS ends at a proxy, and PAYGATE_PUBLIC_URL says
// customers reach paygate over https: every answer tells browsers to keep
// to https. Over plain http without it, no HSTS (it would be ignored, and
// wrong for a development server).
func TestHSTSBehindTLSProxy(t *testing.T) {
	s := startServe(t, devVars(t, "PAYGATE_PUBLIC_URL", "https://pay.example.com"))
	for _, path := range []string{"/healthz", "/v1/payments", "/docs"} {
		resp, err := http.Get(s.url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if h := resp.Header.Get("Strict-Transport-Security"); !strings.Contains(h, "max-age=63072000") {
			t.Errorf("%s: Strict-Transport-Security %q", path, h)
		}
	}
	plain := startServe(t, devVars(t))
	resp, err := http.Get(plain.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if h := resp.Header.Get("Strict-Transport-Security"); h != "" {
		t.Errorf("plain http server sends HSTS %q", h)
	}
}

// TestTrustedProxies: behind a proxy every client has the proxy's address.
// With PAYGATE_TRUSTED_PROXIES naming it, the per-address limit and the
// audit log see the address the proxy forwarded (the right-most entry of
// X-Forwarded-For it did not write itself); without it, the forwarded
// header is ignored, since any client can send one.
func TestTrustedProxies(t *testing.T) {
	admin := "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
	limited := func(trusted string) *server {
		return startServe(t, devVars(t, "PAYGATE_IP_RATE_LIMIT", "0.5", "PAYGATE_TRUSTED_PROXIES", trusted, "PAYGATE_ADMIN_TOKEN", admin))
	}
	// 0.5 a second, a burst of 2: the third request at once is refused.
	exhaust := func(s *server, xff string) int {
		var last int
		for range 3 {
			last, _ = send(t, "GET", s.url+"/healthz", "X-Forwarded-For", xff)
		}
		return last
	}

	s := limited("127.0.0.0/8, ::1")
	if got := exhaust(s, "203.0.113.7"); got != 429 {
		t.Fatalf("client 203.0.113.7 through the proxy: %d after its limit, want 429", got)
	}
	// Another client through the same proxy has a bucket of its own.
	if status, _ := send(t, "GET", s.url+"/healthz", "X-Forwarded-For", "203.0.113.8"); status != 200 {
		t.Errorf("another client through the proxy: %d", status)
	}
	// Entries the client wrote itself (left of what the proxy appended)
	// are not believed: a spoofed first entry does not escape the limit.
	if status, _ := send(t, "GET", s.url+"/healthz", "X-Forwarded-For", "198.51.100.1, 203.0.113.7"); status != 429 {
		t.Errorf("a spoofed entry left of the client's: %d, want 429", status)
	}
	// A trusted hop is skipped: the client is the right-most untrusted one.
	if status, _ := send(t, "GET", s.url+"/healthz", "X-Forwarded-For", "203.0.113.7, 127.0.0.9"); status != 429 {
		t.Errorf("the client behind two trusted hops: %d, want 429", status)
	}
	// The audit log records the same address.
	status, body := postJSON(t, s.url+"/v1/merchants", admin, map[string]any{"name": "Proxied"}, "X-Forwarded-For", "192.0.2.44")
	if status != 201 {
		t.Fatalf("merchant: %d %v", status, body)
	}
	_, list := send(t, "GET", s.url+"/v1/audit_events?limit=1", "Authorization", "Bearer "+admin, "X-Forwarded-For", "192.0.2.45")
	if !strings.Contains(list, `"source_ip":"192.0.2.44"`) {
		t.Errorf("audit entry: %s", list)
	}

	// Not trusted: the header is ignored, every request is the peer's.
	u := limited("")
	exhaust(u, "203.0.113.7")
	if status, _ := send(t, "GET", u.url+"/healthz", "X-Forwarded-For", "203.0.113.8"); status != 429 {
		t.Errorf("an untrusted X-Forwarded-For escaped the peer's limit: %d", status)
	}
}

// TestSandboxProcessToken: `paygate sandbox serve` receives card numbers.
// Beyond loopback it refuses to start without a strong token; with one it
// answers only the gateway that sends it, and a gateway with the wrong
// token gets no decision (the payment waits, it is not declined).
func TestSandboxProcessToken(t *testing.T) {
	var out, errOut bytes.Buffer
	_, port, _ := net.SplitHostPort(freeAddr(t))
	// Bounded: a sandbox that starts anyway is stopped, and the test fails.
	ctx0, cancel0 := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel0()
	err := run(ctx0, []string{"paygate", "sandbox", "serve"}, env(map[string]string{"PAYGATE_SANDBOX_ADDR": "0.0.0.0:" + port}), &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "PAYGATE_SANDBOX_TOKEN") {
		t.Fatalf("sandbox beyond loopback without a token: %v", err)
	}

	token := "Qw3eRt5yUi7oPa9sDf2gHj4kLz6xCv8b"
	sbAddr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"paygate", "sandbox", "serve"}, env(map[string]string{"PAYGATE_SANDBOX_ADDR": sbAddr, "PAYGATE_SANDBOX_TOKEN": token}), io.Discard, io.Discard)
	}()
	t.Cleanup(func() { cancel(); <-done })
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("tcp", sbAddr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("sandbox did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if status, _ := send(t, "GET", "http://"+sbAddr+"/stats"); status != 401 {
		t.Errorf("sandbox without the token: %d", status)
	}

	keys := "k1:" + vault.NewKey()
	good := startServe(t, devVars(t, "PAYGATE_SANDBOX_URL", "http://"+sbAddr, "PAYGATE_SANDBOX_TOKEN", token, "PAYGATE_ENCRYPTION_KEYS", keys))
	if p := pay(t, good.url, keyPattern.FindString(good.stdout.String())); p["status"] != "succeeded" {
		t.Errorf("payment through the sandbox process: %v", p)
	}
	bad := startServe(t, devVars(t, "PAYGATE_SANDBOX_URL", "http://"+sbAddr, "PAYGATE_SANDBOX_TOKEN", "wrong"+token, "PAYGATE_ENCRYPTION_KEYS", keys))
	if p := pay(t, bad.url, keyPattern.FindString(bad.stdout.String())); p["status"] != "processing" {
		t.Errorf("payment with the wrong sandbox token: %v, want processing (no decision)", p["status"])
	}
}
