package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/connectors/sandbox"
	"github.com/paygate/paygate/internal/store"
	"github.com/paygate/paygate/internal/store/storetest"
	"github.com/paygate/paygate/internal/testutil"
	"github.com/paygate/paygate/internal/vault"
)

// buildBinary builds the real paygate binary, as the Dockerfile does.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "paygate")
	cmd := exec.Command("go", "build", "-trimpath", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// process is a running paygate binary, killed at the end of the test.
type process struct {
	cmd    *exec.Cmd
	url    string
	stdout *testutil.SyncBuffer
	stderr *testutil.SyncBuffer
}

func startProcess(t *testing.T, bin string, vars map[string]string, addrVar string, args ...string) *process {
	t.Helper()
	p, err := tryStartProcess(t, bin, vars, addrVar, args...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// tryStartProcess is startProcess for any goroutine: a process that does
// not start, or is not ready within 20 seconds, is an error to report (a
// goroutine other than the test's must not call t.Fatal).
func tryStartProcess(t *testing.T, bin string, vars map[string]string, addrVar string, args ...string) (*process, error) {
	p := &process{cmd: exec.Command(bin, args...), url: "http://" + vars[addrVar], stdout: &testutil.SyncBuffer{}, stderr: &testutil.SyncBuffer{}}
	for k, v := range vars {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = p.cmd.Process.Kill(); _ = p.cmd.Wait() })
	ready := "/readyz"
	if args[0] == "sandbox" {
		ready = "/healthz" // open without the sandbox's token
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(p.url + ready)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%v not ready within 20 s: %s", args, p.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// postJSON posts body as JSON with the bearer token, and headers given as
// name, value pairs. A request that fails is reported with t.Error (safe
// from any goroutine) and answers status 0.
func postJSON(t *testing.T, url, token string, body any, header ...string) (int, map[string]any) {
	t.Helper()
	status, raw, _ := postRaw(t, url, token, body, header...)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return status, m
}

// postRaw is postJSON answering the body as sent, byte for byte, and the
// headers.
func postRaw(t *testing.T, url, token string, body any, header ...string) (int, []byte, http.Header) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", url, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return 0, nil, nil
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Error(err)
		return 0, nil, nil
	}
	return resp.StatusCode, raw, resp.Header
}

// TestThreeInstancesRefundRace runs three `paygate serve` processes on one
// PostgreSQL database with one sandbox process, and spreads 200 concurrent
// 1-unit refunds of a 100-unit payment over them.
func TestThreeInstancesRefundRace(t *testing.T) {
	if os.Getenv(storetest.EnvURL) == "" {
		storetest.Backends(t) // fails under CI
		t.Skip("needs PostgreSQL")
	}
	bin := buildBinary(t)
	dbURL := storetest.NewURL(t, store.Postgres)
	token := strings.Repeat("t0k3n", 8)
	sb := startProcess(t, bin, map[string]string{"PAYGATE_SANDBOX_ADDR": freeAddr(t)}, "PAYGATE_SANDBOX_ADDR", "sandbox", "serve")
	base := map[string]string{"PAYGATE_DATABASE_URL": dbURL, "PAYGATE_ADMIN_TOKEN": token,
		"PAYGATE_ENCRYPTION_KEYS": "k1:" + vault.NewKey(), "PAYGATE_SANDBOX_URL": sb.url, "PAYGATE_LOG_LEVEL": "warn"}
	var gws []*process
	for i := 0; i < 3; i++ {
		vars := map[string]string{"PAYGATE_ADDR": freeAddr(t)}
		for k, v := range base {
			vars[k] = v
		}
		gws = append(gws, startProcess(t, bin, vars, "PAYGATE_ADDR", "serve"))
	}
	status, m := postJSON(t, gws[0].url+"/v1/merchants", token, map[string]any{"name": "Multi"})
	if status != 201 {
		t.Fatalf("merchant: %d %v", status, m)
	}
	key := m["api_key"].(map[string]any)["secret"].(string)
	status, p := postJSON(t, gws[1].url+"/v1/payments", key, map[string]any{"amount": 100, "currency": "usd", "confirm": true,
		"payment_method": map[string]any{"type": "card", "card": map[string]any{"number": "4242424242424242", "exp_month": 12, "exp_year": 2040, "cvc": "123"}}})
	if status != 201 || p["status"] != "succeeded" {
		t.Fatalf("payment: %d %v", status, p)
	}
	// Answers by status, and for an error by its code too: every loser
	// must find nothing left to refund (with refunds of 1, never
	// amount_too_large).
	var mu sync.Mutex
	counts := map[string]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			s, m := postJSON(t, gws[i%3].url+"/v1/refunds", key, map[string]any{"payment_id": p["id"], "amount": 1})
			answer := fmt.Sprint(s)
			if s >= 400 {
				e, _ := m["error"].(map[string]any)
				code, _ := e["code"].(string)
				answer += " " + code
			}
			mu.Lock()
			counts[answer]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	if want := map[string]int{"201": 100, "409 charge_already_refunded": 100}; !maps.Equal(counts, want) {
		t.Errorf("refund race over three instances: %v, want %v", counts, want)
	}
	req, _ := http.NewRequest("GET", gws[2].url+"/v1/payments/"+p["id"].(string), nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if got["amount_refunded"] != 100.0 {
		t.Errorf("amount_refunded %v", got["amount_refunded"])
	}
	if n, err := sandbox.NewClient(sb.url, 5*time.Second).Performed(context.Background(), "refund"); err != nil || n != 100 {
		t.Errorf("refunds at the sandbox: %d %v", n, err)
	}
	cmd := exec.Command(bin, "ledger", "verify")
	cmd.Env = []string{"PAYGATE_DATABASE_URL=" + dbURL}
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "ledger verified") {
		t.Errorf("paygate ledger verify: %v\n%s", err, out)
	}
	for _, g := range gws {
		if strings.Contains(g.stderr.String(), `"level":"ERROR"`) {
			t.Errorf("errors logged: %s", g.stderr.String())
		}
	}
}
