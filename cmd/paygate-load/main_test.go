package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/audit"
	"github.com/paygate/paygate/internal/clock"
	"github.com/paygate/paygate/internal/connectors/sandbox"
	"github.com/paygate/paygate/internal/httpapi"
	"github.com/paygate/paygate/internal/idempotency"
	"github.com/paygate/paygate/internal/logging"
	"github.com/paygate/paygate/internal/merchants"
	"github.com/paygate/paygate/internal/openapi"
	"github.com/paygate/paygate/internal/payments"
	"github.com/paygate/paygate/internal/refunds"
	"github.com/paygate/paygate/internal/routing"
	"github.com/paygate/paygate/internal/store"
	"github.com/paygate/paygate/internal/store/storetest"
	"github.com/paygate/paygate/internal/vault"
	"github.com/paygate/paygate/internal/webhooks"
)

// server is a real paygate API on a loopback port over a fresh database,
// wired as the serve command wires it, with one merchant.
type server struct {
	url string
	key string
	db  *store.DB
}

func startServer(t *testing.T, backend string) *server {
	t.Helper()
	db := storetest.Open(t, backend)
	keys, err := vault.ParseKeyring("t1:"+vault.NewKey(), "")
	if err != nil {
		t.Fatal(err)
	}
	log := logging.New(io.Discard, slog.LevelWarn, "json")
	doc, err := openapi.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var handler http.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	sb := sandbox.New(srv.URL)
	pay := payments.NewService(db, sb, keys, log)
	refs := refunds.NewService(db, sb, log)
	hooks := webhooks.NewService(db, keys, false)
	handler = httpapi.NewServer(log, httpapi.Config{OpenAPI: doc, Sealer: keys, Hasher: idempotency.NewHasher(keys.DeriveKey(idempotency.HasherPurpose))},
		httpapi.Deps{Payments: pay, Refunds: refs, Webhooks: hooks, Routing: routing.NewService(db, keys, false),
			Processors: routing.NewRouter(db, keys, log, sb, nil), Accounts: db, Keys: db, Ledger: db, Events: db, DB: db})

	now := clock.Now()
	m := merchants.NewMerchant("Load test", false, now)
	if err := db.CreateMerchant(context.Background(), m, audit.New(audit.ActorCLI, audit.MerchantCreated, m.ID, m.ID, now)); err != nil {
		t.Fatal(err)
	}
	return &server{url: srv.URL, key: m.APIKey.Secret, db: db}
}

func (s *server) count(t *testing.T, query string) int64 {
	t.Helper()
	var n int64
	if err := s.db.SQL().QueryRow(query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// load runs the tool with args and decodes its -json report.
func load(t *testing.T, args ...string) *report {
	t.Helper()
	var out, errs bytes.Buffer
	if err := run(context.Background(), append(args, "-json"), &out, &errs); err != nil {
		t.Fatalf("run %v: %v\nstderr: %s\nstdout: %s", args, err, errs.String(), out.String())
	}
	var rep report
	dec := json.NewDecoder(&out)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("decode the JSON report: %v\n%s", err, out.String())
	}
	return &rep
}

// checkSane asserts what holds of any clean run; nothing about speed.
func checkSane(t *testing.T, rep *report) {
	t.Helper()
	if rep.Requests <= 0 || rep.ElapsedS <= 0 || rep.Throughput <= 0 {
		t.Errorf("requests %d in %g s at %g req/s: want all positive", rep.Requests, rep.ElapsedS, rep.Throughput)
	}
	if rep.ErrorCount != 0 || len(rep.Errors) != 0 || rep.Succeeded != rep.Requests {
		t.Errorf("errors %d %v (examples %v), succeeded %d of %d: want none", rep.ErrorCount, rep.Errors, rep.ErrorExamples, rep.Succeeded, rep.Requests)
	}
	var statuses, opRequests int64
	for _, n := range rep.StatusCodes {
		statuses += n
	}
	for _, o := range rep.Operations {
		opRequests += o.Requests
	}
	if statuses != rep.Requests || opRequests != rep.Requests {
		t.Errorf("status codes %v and operations add up to %d and %d, want %d", rep.StatusCodes, statuses, opRequests, rep.Requests)
	}
	l := rep.Latency
	if !(0 <= l.Min && l.Min <= l.P50 && l.P50 <= l.P90 && l.P90 <= l.P95 && l.P95 <= l.P99 && l.P99 <= l.P999 && l.P999 <= l.Max) || l.Max <= 0 {
		t.Errorf("latencies out of order: %+v", l)
	}
	if l.Mean < l.Min || l.Mean > l.Max {
		t.Errorf("mean %g outside [%g, %g]", l.Mean, l.Min, l.Max)
	}
}

func TestConfirmFlow(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		s := startServer(t, backend)
		rep := load(t, "-url", s.url, "-key", s.key, "-flow", "confirm", "-c", "4", "-d", "1s", "-warmup", "200ms")
		checkSane(t, rep)
		if rep.Flow != "confirm" || rep.Concurrency != 4 || rep.DurationS != 1 || rep.URL != s.url {
			t.Errorf("report header %q %d %g %q", rep.Flow, rep.Concurrency, rep.DurationS, rep.URL)
		}
		if rep.StatusCodes["201"] != rep.Requests || rep.Flows != rep.Requests || rep.Operations["create_confirm"].Requests != rep.Requests {
			t.Errorf("want every request a 201 create_confirm and a flow: %+v", rep)
		}
		// Warm-up and measured payments all succeeded, each with its own key.
		succeeded := s.count(t, `SELECT count(*) FROM payments WHERE status = 'succeeded' AND capture_method = 'automatic'`)
		if succeeded < rep.Requests || succeeded != s.count(t, `SELECT count(*) FROM payments`) {
			t.Errorf("%d succeeded payments in the database of %d; the report counts %d", succeeded, s.count(t, `SELECT count(*) FROM payments`), rep.Requests)
		}
		if keys := s.count(t, `SELECT count(*) FROM idempotency_keys`); keys != succeeded {
			t.Errorf("%d idempotency keys for %d payments", keys, succeeded)
		}
	})
}

// TestSeveralURLs: the clients spread over every URL given, and -ids lists
// every payment acknowledged, each once, as the database has them. The
// URLs are two proxies in front of one server, counting what they pass.
func TestSeveralURLs(t *testing.T) {
	s := startServer(t, store.SQLite)
	target, err := url.Parse(s.url)
	if err != nil {
		t.Fatal(err)
	}
	var passed [2]atomic.Int64
	var fronts []string
	for i := range passed {
		proxy := httputil.NewSingleHostReverseProxy(target)
		front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			passed[i].Add(1)
			proxy.ServeHTTP(w, r)
		}))
		t.Cleanup(front.Close)
		fronts = append(fronts, front.URL)
	}
	ids := filepath.Join(t.TempDir(), "ids")
	rep := load(t, "-url", strings.Join(fronts, ","), "-key", s.key, "-c", "4", "-n", "40", "-warmup", "100ms", "-ids", ids)
	checkSane(t, rep)
	if rep.URL != strings.Join(fronts, ",") {
		t.Errorf("report url %q", rep.URL)
	}
	if passed[0].Load() == 0 || passed[1].Load() == 0 {
		t.Errorf("requests through each URL: %d and %d, want both some", passed[0].Load(), passed[1].Load())
	}
	b, err := os.ReadFile(ids)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Fields(string(b))
	seen := map[string]bool{}
	for _, id := range lines {
		if seen[id] {
			t.Errorf("%s listed twice", id)
		}
		seen[id] = true
		if n := s.count(t, `SELECT count(*) FROM payments WHERE id = '`+id+`' AND status = 'succeeded'`); n != 1 {
			t.Errorf("acknowledged payment %s: %d succeeded in the database", id, n)
		}
	}
	if all := s.count(t, `SELECT count(*) FROM payments`); int64(len(lines)) != all || all != passed[0].Load()+passed[1].Load() || all < 40 {
		t.Errorf("%d ids listed, %d payments in the database, %d requests passed: want all equal, at least 40", len(lines), all, passed[0].Load()+passed[1].Load())
	}
}

// TestPacedFlow: at a fixed rate the clients start no more flows than the
// ticker hands out (a slow machine may start fewer, never more).
func TestPacedFlow(t *testing.T) {
	s := startServer(t, "sqlite")
	rep := load(t, "-url", s.url, "-key", s.key, "-flow", "confirm", "-c", "4", "-d", "1s", "-warmup", "0", "-rate", "20")
	checkSane(t, rep)
	if rep.Rate != 20 || rep.Flows < 1 || rep.Flows > 21 {
		t.Errorf("paced at 20/s for 1 s: rate %g, %d flows", rep.Rate, rep.Flows)
	}
}

func TestLifecycleFlow(t *testing.T) {
	s := startServer(t, store.SQLite)
	rep := load(t, "-url", s.url, "-key", s.key, "-flow", "lifecycle", "-c", "3", "-n", "30", "-warmup", "0")
	checkSane(t, rep)
	if rep.Requests != 30 || rep.DurationS != 0 {
		t.Errorf("-n 30 alone: %d requests, duration %g; want 30 and 0", rep.Requests, rep.DurationS)
	}
	create, capture, refund := rep.Operations["create_manual"], rep.Operations["capture"], rep.Operations["refund"]
	if create.Requests == 0 || capture.Requests > create.Requests || refund.Requests > capture.Requests || rep.Flows != refund.Succeeded {
		t.Errorf("operations %+v, flows %d: want creates ≥ captures ≥ refunds = flows", rep.Operations, rep.Flows)
	}
	if n := s.count(t, `SELECT count(*) FROM refunds WHERE status = 'succeeded'`); n != refund.Succeeded {
		t.Errorf("%d refunds in the database, %d in the report", n, refund.Succeeded)
	}
}

func TestReadsFlow(t *testing.T) {
	s := startServer(t, store.SQLite)
	defer func(n int) { minReadIDs = n }(minReadIDs)
	minReadIDs = 20                // fewer creations: the test runs under the race detector too
	t.Setenv("PAYGATE_KEY", s.key) // the key from the environment
	rep := load(t, "-url", s.url, "-flow", "reads", "-c", "2", "-n", "50", "-warmup", "0")
	checkSane(t, rep)
	if rep.Requests != 50 || rep.StatusCodes["200"] != 50 || rep.Operations["get"].Requests == 0 || rep.Operations["list"].Requests == 0 {
		t.Errorf("want 50 reads, gets and lists, all 200: %+v", rep)
	}
	if n := s.count(t, `SELECT count(*) FROM payments`); n < int64(minReadIDs) {
		t.Errorf("the reads flow created %d payments to read, want at least %d", n, minReadIDs)
	}
}

func TestTextReport(t *testing.T) {
	s := startServer(t, store.SQLite)
	var out, errs bytes.Buffer
	if err := run(context.Background(), []string{"-url", s.url + "/", "-key", s.key, "-c", "2", "-n", "10", "-warmup", "0"}, &out, &errs); err != nil {
		t.Fatalf("%v\n%s", err, errs.String())
	}
	for _, want := range []string{"flow confirm: 2 clients", "requests    10 in", "latency ms  p50 ", "status      201: 10", "errors      0"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, out.String())
		}
	}
}

func TestFailuresAreReported(t *testing.T) {
	s := startServer(t, store.SQLite)
	var out, errs bytes.Buffer
	err := run(context.Background(), []string{"-url", s.url, "-key", "sk_test_" + strings.Repeat("x", 26), "-c", "2", "-n", "4", "-warmup", "0", "-json"}, &out, &errs)
	if err == nil || !strings.Contains(err.Error(), "no request succeeded") {
		t.Errorf("a wrong key: err = %v, want no request succeeded", err)
	}
	var rep report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("the report is still written: %v\n%s", err, out.String())
	}
	if rep.Requests != 4 || rep.ErrorCount != 4 || rep.Errors["http_401"] != 4 || rep.StatusCodes["401"] != 4 || rep.ErrorExamples["http_401"] == "" {
		t.Errorf("want four 401 errors with an example: %+v", rep)
	}
}

func TestFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-url", "http://192.0.2.1:8080"}, "loopback"},
		{[]string{"-url", "http://example.com"}, "loopback"},
		{[]string{"-url", "http://[2001:db8::1]:80"}, "loopback"},
		{[]string{"-url", "ftp://127.0.0.1"}, "http or https"},
		{[]string{"-url", "http://127.0.0.1:8080/v1"}, "base URL"},
		{[]string{"-url", "http://127.0.0.1:8080,http://192.0.2.1:8080"}, "loopback"},
		{[]string{"-url", "http://127.0.0.1:8080,http://127.0.0.1:8081", "-c", "1"}, "fewer clients"},
		{[]string{"-flow", "writes"}, "-flow"},
		{[]string{"-expect", "pending"}, "-expect"},
		{[]string{"-c", "0"}, "-c"},
		{[]string{"-d", "0"}, "end by itself"},
		{[]string{"-d", "-1s"}, "negative"},
		{[]string{"extra"}, "unexpected argument"},
	} {
		var out, errs bytes.Buffer
		err := run(context.Background(), append([]string{"-key", "sk_test_x"}, tc.args...), &out, &errs)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want one mentioning %q", tc.args, err, tc.want)
		}
		if out.Len() != 0 {
			t.Errorf("%v: wrote %q", tc.args, out.String())
		}
	}
	t.Setenv("PAYGATE_KEY", "")
	if err := run(context.Background(), nil, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "no key") {
		t.Errorf("no key: err = %v", err)
	}
	// Accepted without a connection being made: loopback in every spelling,
	// and anything with -allow-remote.
	for _, u := range []string{"http://127.0.0.1:1", "http://127.3.4.5", "https://localhost:8443", "http://[::1]:8080/", "http://[::ffff:127.0.0.1]:80"} {
		if _, err := parseFlags([]string{"-url", u, "-key", "k"}, io.Discard); err != nil {
			t.Errorf("%s refused: %v", u, err)
		}
	}
	if _, err := parseFlags([]string{"-url", "http://192.0.2.1:8080", "-key", "k", "-allow-remote"}, io.Discard); err != nil {
		t.Errorf("-allow-remote: %v", err)
	}
}

// The dialer itself refuses a non-loopback address, whatever a host name
// resolved to: nothing is sent.
func TestDialerStaysOnLoopback(t *testing.T) {
	cfg := config{bases: []string{"http://192.0.2.1:9"}, key: "k", flow: flowConfirm, concurrency: 1, requests: 1,
		timeout: 5 * time.Second, amount: 1, currency: "usd"}
	rep, err := newLoader(cfg, io.Discard).run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Errors["not_loopback"] != 1 {
		t.Errorf("errors %v (%v), want one not_loopback", rep.Errors, rep.ErrorExamples)
	}
}
