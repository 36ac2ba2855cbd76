package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/paygate/paygate/internal/connectors"
	"github.com/paygate/paygate/internal/connectors/sandbox"
	"github.com/paygate/paygate/internal/store"
	"github.com/paygate/paygate/internal/store/storetest"
	"github.com/paygate/paygate/internal/vault"
)

// TestNoConnectionHeldDuringProcessorCall: a payment's processor call runs
// between two transactions, and holds no database connection. With a pool
// of 2 (and 2 for idempotency answers) and a sandbox that takes 4 s a
// call, 20 payments are at the processor at once, all processing in the
// database, which they could not be if each held a connection through its
// call; meanwhile PostgreSQL shows no transaction of paygate's left open,
// and the pools' figures show no connection in use.
func TestNoConnectionHeldDuringProcessorCall(t *testing.T) {
	needPostgres(t)
	const (
		n       = 20
		latency = 4 * time.Second
		pool    = 2 + 2 // PAYGATE_DATABASE_MAX_CONNS, and the answers' pool of at least 2
	)
	dbURL := storetest.NewURL(t, store.Postgres)
	app := "paygate-nohold-" + strings.ToLower(rand.Text()[:8])
	s := startServe(t, map[string]string{"PAYGATE_ADDR": freeAddr(t), "PAYGATE_DATABASE_URL": dbURL + "&application_name=" + app,
		"PAYGATE_DATABASE_MAX_CONNS": "2", "PAYGATE_SANDBOX_LATENCY": latency.String(), "PAYGATE_LOG_LEVEL": "warn",
		"PAYGATE_ENCRYPTION_KEYS": "k1:" + vault.NewKey()})
	key := keyPattern.FindString(s.stdout.String())
	if key == "" {
		t.Fatalf("no demo key printed: %q", s.stdout.String())
	}
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["application_name"] = app + "-observer"
	observer := stdlib.OpenDB(*cfg)
	defer observer.Close()
	observer.SetMaxOpenConns(1)

	var wg sync.WaitGroup
	statuses := make(chan string, n)
	for i := range n {
		wg.Go(func() {
			status, p := postJSON(t, s.url+"/v1/payments", key, map[string]any{"amount": 1000 + i, "currency": "usd", "confirm": true,
				"payment_method": map[string]any{"type": "card", "card": map[string]any{"number": "4242424242424242", "exp_month": 12, "exp_year": 2040, "cvc": "123"}}},
				"Idempotency-Key", fmt.Sprintf("nohold-%d", i))
			statuses <- fmt.Sprint(status, " ", p["status"])
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	// Until every payment is at the processor at once, or the first calls
	// have ended (then some request waited for a connection another held).
	most := 0
	var first time.Time // when the first call had begun, at the latest
	for most < n {
		var processing int
		if err := observer.QueryRow(`SELECT count(*) FROM payments WHERE status = 'processing'`).Scan(&processing); err != nil {
			t.Fatal(err)
		}
		if processing > 0 && first.IsZero() {
			first = time.Now()
		}
		most = max(most, processing)
		select {
		case <-done:
			t.Fatalf("at most %d of %d payments were at the processor at once: a request waited for a connection held through another's call", most, n)
		case <-time.After(20 * time.Millisecond):
		}
	}
	// All n calls are in flight (each lasts 4 s): look at paygate's
	// connections from both sides, ten times over a second, from 1.5 s
	// into the first call, when a transaction open since before it would
	// be that old.
	time.Sleep(time.Until(first.Add(1500 * time.Millisecond)))
	idleSamples := 0
	for range 10 {
		rows, err := observer.Query(`SELECT state, coalesce(extract(epoch FROM now() - xact_start), 0), query FROM pg_stat_activity
			WHERE application_name = $1`, app)
		if err != nil {
			t.Fatal(err)
		}
		backends := 0
		for rows.Next() {
			var state, query string
			var inTx float64
			if err := rows.Scan(&state, &inTx, &query); err != nil {
				t.Fatal(err)
			}
			backends++
			// A background job's short query may be caught running; a
			// transaction of a request open across its call would be
			// seconds old.
			if state != "idle" && inTx > 1 {
				t.Errorf("a connection of paygate is %s, in a transaction for %.1f s, while the payments wait for the processor: %s", state, inTx, query)
			}
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		if backends > pool {
			t.Errorf("paygate has %d connections to PostgreSQL, above its pool of %d", backends, pool)
		}
		if inUse(t, s.url) == 0 {
			idleSamples++
		}
		time.Sleep(100 * time.Millisecond)
	}
	if idleSamples == 0 {
		t.Errorf("a pool connection was in use in every sample while %d payments waited for the processor", n)
	}
	select {
	case <-done:
	case <-time.After(3 * latency):
		t.Fatal("the payments did not finish")
	}
	close(statuses)
	for st := range statuses {
		if st != "201 succeeded" {
			t.Errorf("payment answered %s, want 201 succeeded", st)
		}
	}
}

// inUse is the connections paygate's pools have lent out, from /metrics.
func inUse(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	n, found := 0, 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || !strings.HasPrefix(name, "go_sql_in_use_connections{") {
			continue
		}
		v, err := strconv.Atoi(value)
		if err != nil {
			t.Fatalf("%s: %v", sc.Text(), err)
		}
		n += v
		found++
	}
	if found != 2 {
		t.Fatalf("/metrics shows %d pools' connections in use, want 2 (%d)", found, resp.StatusCode)
	}
	return n
}

// `paygate sandbox serve` spends PAYGATE_SANDBOX_LATENCY on every call,
// and /healthz none.
func TestSandboxProcessLatency(t *testing.T) {
	const latency = 300 * time.Millisecond
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"paygate", "sandbox", "serve"}, env(map[string]string{"PAYGATE_SANDBOX_ADDR": addr, "PAYGATE_SANDBOX_LATENCY": latency.String()}),
			io.Discard, io.Discard)
	}()
	t.Cleanup(func() { cancel(); <-done })
	deadline := time.Now().Add(10 * time.Second)
	for {
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("sandbox did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	c := sandbox.NewClient("http://"+addr, 5*time.Second)
	start := time.Now()
	res, err := c.Authorize(context.Background(), connectors.AuthorizeRequest{Reference: "slow", Amount: 100, Currency: "usd", Capture: true,
		Method: connectors.Method{Card: &connectors.Card{Number: "4242424242424242", ExpMonth: 12, ExpYear: 2040}}})
	if took := time.Since(start); err != nil || res.Outcome != connectors.Succeeded || took < latency {
		t.Errorf("authorize: %+v %v after %s, want success after at least %s", res, err, took, latency)
	}
}
