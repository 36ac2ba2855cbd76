package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/store/storetest"
	"github.com/paygate/paygate/internal/vault"
)

// TestMetricsMove scrapes /metrics after a payment lifecycle and finds the
// counters moved.
func TestMetricsMove(t *testing.T) {
	vars := map[string]string{"PAYGATE_ADDR": freeAddr(t), "PAYGATE_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "m.db"),
		"PAYGATE_LOG_LEVEL": "warn", "PAYGATE_WEBHOOK_POLL": "20ms"}
	s := startServe(t, vars)
	key := keyPattern.FindString(s.stdout.String())
	if status, _ := postJSON(t, s.url+"/v1/webhook_endpoints", key, map[string]any{"url": "http://127.0.0.1:9/nowhere", "enabled_events": []string{"*"}}); status != 201 {
		t.Fatalf("endpoint: %d", status)
	}
	p := pay(t, s.url, key)
	if status, _ := postJSON(t, s.url+"/v1/refunds", key, map[string]any{"payment_id": p["id"], "amount": 100}); status != 201 {
		t.Fatalf("refund: %d", status)
	}
	var text string
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(s.url + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		text = string(b)
		// The endpoint refuses connections: attempts are retried.
		if regexp.MustCompile(`paygate_webhook_attempts_total\{result="retry"\} [1-9]`).MatchString(text) || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, want := range []string{
		`paygate_http_request_duration_seconds_count\{method="POST",route="/v1/payments",status="201"\} 1\b`,
		`paygate_http_request_duration_seconds_count\{method="POST",route="/v1/refunds",status="201"\} 1\b`,
		`paygate_payment_transitions_total\{payment_method_type="card",status="succeeded"\} 1\b`,
		`paygate_payment_transitions_total\{payment_method_type="card",status="processing"\} 1\b`,
		`paygate_connector_duration_seconds_count\{connector="sandbox",operation="authorize"\} 1\b`,
		`paygate_connector_duration_seconds_count\{connector="sandbox",operation="refund"\} 1\b`,
		`paygate_webhook_attempts_total\{result="retry"\} [1-9]`,
		`paygate_webhook_queue_depth [1-9]`,
		`go_sql_open_connections\{db_name="paygate_write"\} [0-9]`,
		`go_goroutines [0-9]`,
	} {
		if !regexp.MustCompile(want).MatchString(text) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
}

// TestGracefulShutdownUnderLoad sends SIGTERM to the binary during a load
// of payments: every request that reached the server gets a complete
// answer, and the process exits 0.
func TestGracefulShutdownUnderLoad(t *testing.T) {
	bin := buildBinary(t)
	vars := map[string]string{"PAYGATE_ADDR": freeAddr(t), "PAYGATE_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "g.db"),
		"PAYGATE_ENCRYPTION_KEYS": "k1:" + vault.NewKey(), "PAYGATE_LOG_LEVEL": "warn"}
	p := startProcess(t, bin, vars, "PAYGATE_ADDR", "serve")
	key := keyPattern.FindString(p.stdout.String())
	if key == "" {
		t.Fatal("no demo key")
	}
	// A new connection per request: a request either reaches the server
	// (and must be answered in full) or is refused at connect.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}
	body, _ := json.Marshal(cardPayment("automatic"))
	var answered, refused, broken atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest("POST", p.url+"/v1/payments", bytes.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+key)
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					// Refused at connect, or dropped unread from the
					// listen queue when the listener closed: the server
					// never started these (checked below: every payment
					// made was answered).
					if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
						refused.Add(1)
						time.Sleep(5 * time.Millisecond)
						continue
					}
					broken.Add(1)
					t.Errorf("a request was cut off: %v", err)
					continue
				}
				var m map[string]any
				err = json.NewDecoder(resp.Body).Decode(&m)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 201 || m["status"] != "succeeded" {
					broken.Add(1)
					t.Errorf("incomplete answer: %d %v %v", resp.StatusCode, m, err)
					continue
				}
				answered.Add(1)
			}
		})
	}
	time.Sleep(500 * time.Millisecond)
	before := answered.Load()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- p.cmd.Wait() }()
	var exitErr error
	select {
	case exitErr = <-exited:
	case <-time.After(30 * time.Second):
		t.Fatal("no exit within 30 s of SIGTERM")
	}
	time.Sleep(50 * time.Millisecond)
	close(stop)
	wg.Wait()
	if exitErr != nil {
		t.Errorf("exit after SIGTERM: %v\n%s", exitErr, p.stderr.String())
	}
	// Every request the server started was answered: as many payments
	// exist as answers arrived.
	db := storetest.OpenURL(t, vars["PAYGATE_DATABASE_URL"])
	var made int64
	if err := db.SQL().QueryRow(`SELECT count(*) FROM payments`).Scan(&made); err != nil {
		t.Fatal(err)
	}
	if made != answered.Load() {
		t.Errorf("%d payments made, %d answered: a started request lost its answer", made, answered.Load())
	}
	if before == 0 || refused.Load() == 0 {
		t.Errorf("the load did not span the shutdown: %d answered before, %d refused after", before, refused.Load())
	}
	t.Logf("%d answered (%d before SIGTERM), %d refused after, %d broken", answered.Load(), before, refused.Load(), broken.Load())
}
