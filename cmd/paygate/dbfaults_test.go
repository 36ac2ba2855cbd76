package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/testutil/pgcluster"
)

// Database faults: the tests below run paygate (the real binary, through
// the crash rig) on a private PostgreSQL (internal/testutil/pgcluster) that
// they restart, stop, or fail over while a few clients pay. The gateway is
// never restarted: it must answer 503 with Retry-After while the database
// is away, and serve again by itself when it is back.
//
// Each fault happens once by default, which keeps a test within about 40 s
// on two cores. PAYGATE_FAULT_SOAK=10m repeats the faults for about that
// long, by hand:
//
//	PAYGATE_FAULT_SOAK=10m go test ./cmd/paygate -run 'TestDatabase' -timeout 1h

// client sends the fault tests' requests, and checks the contract of every
// answer while faults are on: a 503 with Retry-After and the error
// envelope, never a 500, never a stack trace, never a request held past
// the client's timeout. What breaks it is counted by kind, with the first
// example of each.
type client struct {
	r       *crashRig
	key     string
	unavail atomic.Int64 // 503 answers, each checked

	mu    sync.Mutex
	bad   map[string]int
	first map[string]string
}

func newClient(r *crashRig, key string) *client {
	return &client{r: r, key: key, bad: map[string]int{}, first: map[string]string{}}
}

// dbLoad is a few clients paying with idempotency keys. Each key is retried
// until it gets its payment, whatever the database does meanwhile; one
// payment in four is captured by hand, under a key of its own.
type dbLoad struct {
	*client
	next     atomic.Int64 // the last key handed out
	done     atomic.Int64 // payments acknowledged and final
	stopping atomic.Bool
	wg       sync.WaitGroup
	deadline time.Time

	mu    sync.Mutex
	acked map[int64]ackedPayment
}

type ackedPayment struct {
	id      string
	status  any
	capture bool
}

func startDBLoad(r *crashRig, key string, clients int, deadline time.Time) *dbLoad {
	l := &dbLoad{client: newClient(r, key), deadline: deadline, acked: map[int64]ackedPayment{}}
	for range clients {
		l.wg.Go(func() {
			for !l.stopping.Load() && time.Now().Before(deadline) {
				l.pay(l.next.Add(1))
			}
		})
	}
	return l
}

// pay makes payment i, captures it when it is a manual one, and records
// what the client was told.
func (l *dbLoad) pay(i int64) {
	manual := i%4 == 0
	capture := "automatic"
	if manual {
		capture = "manual"
	}
	status, m := l.retry("POST", "/v1/payments", fmt.Sprintf("fault-%d", i), cardPayment(capture))
	if status != 201 {
		l.fail("payment not made by the deadline", fmt.Sprintf("payment %d: %d %v", i, status, m))
		return
	}
	id := m["id"].(string)
	m = l.final(id, m)
	if manual && m["status"] == "requires_capture" {
		if status, m = l.retry("POST", "/v1/payments/"+id+"/capture", fmt.Sprintf("fault-capture-%d", i), nil); status != 200 {
			l.fail("capture not made by the deadline", fmt.Sprintf("capture %d: %d %v", i, status, m))
			return
		}
		m = l.final(id, m)
	}
	l.mu.Lock()
	l.acked[i] = ackedPayment{id: id, status: m["status"], capture: manual}
	l.mu.Unlock()
	l.done.Add(1)
}

// final polls a payment left processing (its processor call was cut by
// the fault) until a retry or the recovery worker finishes it.
func (l *dbLoad) final(id string, m map[string]any) map[string]any {
	for m["status"] == "processing" && time.Now().Before(l.deadline) {
		time.Sleep(50 * time.Millisecond)
		if s, g := l.call("GET", "/v1/payments/"+id, "", nil); s == 200 {
			m = g
		}
	}
	return m
}

// retry sends a request until its answer is not "try again": 503, a 409
// for a key still in use. Anything else of 500 or more, or no answer, is
// a breach of the contract, recorded, and retried too.
func (l *dbLoad) retry(method, path, idemKey string, body any) (int, map[string]any) {
	return retryUntil(l.deadline, 50*time.Millisecond, failedOrInUse, func() (int, map[string]any) {
		return l.call(method, path, idemKey, body)
	})
}

// call sends one request and checks the contract of its answer.
func (l *client) call(method, path, idemKey string, body any) (int, map[string]any) {
	status, header, raw := l.send(method, path, idemKey, body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	e, _ := m["error"].(map[string]any)
	switch {
	case status == 0:
		l.fail("no answer within the client's timeout", string(raw))
	case bytes.Contains(raw, []byte("goroutine ")) || bytes.Contains(raw, []byte("panic")):
		l.fail("a stack trace in an answer", string(raw))
	case status == 503:
		l.unavail.Add(1)
		if header.Get("Retry-After") == "" || e["code"] == nil || e["message"] == nil {
			l.fail("503 without Retry-After or the error envelope", fmt.Sprintf("%v %s", header, raw))
		}
	case status >= 500:
		l.fail(fmt.Sprintf("%d answer", status), string(raw))
	}
	return status, m
}

func (l *client) send(method, path, idemKey string, body any) (int, http.Header, []byte) {
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, l.r.url+path, rd)
	req.Header.Set("Authorization", "Bearer "+l.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	resp, err := (&http.Client{Timeout: 15 * time.Second}).Do(req)
	if err != nil {
		return 0, nil, []byte(err.Error())
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return resp.StatusCode, resp.Header, buf.Bytes()
}

func (l *client) fail(kind, example string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.bad[kind] == 0 {
		l.first[kind] = example
	}
	l.bad[kind]++
}

// report fails the test for every answer that broke the contract.
func (l *client) report(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	for kind, n := range l.bad {
		t.Errorf("%d× %s, for example: %s", n, kind, l.first[kind])
	}
}

// waitMore waits until n more payments than now are acknowledged: the
// gateway serves.
func (l *dbLoad) waitMore(t *testing.T, n int64, what string) {
	t.Helper()
	want := l.done.Load() + n
	deadline := time.Now().Add(30 * time.Second)
	for l.done.Load() < want {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d payments in 30 s, want %d more; gateway log:\n%s", what, l.done.Load(), n, tail(l.r.gw.stderr.String()))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// finish stops handing out keys and waits for every client to get the
// payment of its last key.
func (l *dbLoad) finish() {
	l.stopping.Store(true)
	l.wg.Wait()
}

// probe answers the status of an unauthenticated GET.
func probe(url string) int {
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(url)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waitReady waits until /readyz answers 200 again.
func waitReady(t *testing.T, r *crashRig, what string) time.Duration {
	t.Helper()
	start := time.Now()
	for probe(r.url+"/readyz") != 200 {
		if time.Since(start) > 30*time.Second {
			t.Fatalf("%s: /readyz not ready 30 s after the database came back; gateway log:\n%s", what, tail(r.gw.stderr.String()))
		}
		time.Sleep(50 * time.Millisecond)
	}
	return time.Since(start)
}

// outage checks, for d while the database is away, that /healthz stays
// 200 and /readyz answers 503, and that the clients meet 503s.
func outage(t *testing.T, r *crashRig, l *dbLoad, d time.Duration) {
	t.Helper()
	before := l.unavail.Load()
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if s := probe(r.url + "/healthz"); s != 200 {
			t.Errorf("/healthz answered %d while the database was away", s)
		}
		if s := probe(r.url + "/readyz"); s != 503 {
			t.Errorf("/readyz answered %d while the database was away, want 503", s)
		}
		time.Sleep(250 * time.Millisecond)
	}
	if l.unavail.Load() == before {
		t.Errorf("no client met a 503 in %v without a database", d)
	}
}

func tail(s string) string {
	if len(s) > 3000 {
		return "…" + s[len(s)-3000:]
	}
	return s
}

// checkAfterFaults checks the invariants once the load is over: no answer
// broke the contract; every payment a client was told about exists with
// the status it was told; nothing stays processing (the recovery worker
// finishes it); the processor authorized every payment once and captured
// every one once (no double charge); and the ledger verifies.
func checkAfterFaults(t *testing.T, r *crashRig, l *dbLoad) {
	t.Helper()
	l.report(t)
	if t.Failed() {
		for _, line := range strings.Split(r.gw.stderr.String(), "\n") {
			if strings.Contains(line, `"level":"ERROR"`) {
				t.Log(line)
			}
		}
		return
	}
	db, count := r.waitSettled(t, time.Now().Add(20*time.Second))
	keys := int(l.next.Load())
	if n := count(`SELECT count(*) FROM payments`); n != keys || len(l.acked) != keys {
		t.Errorf("%d payments, %d acknowledged, for %d idempotency keys", n, len(l.acked), keys)
	}
	captures := 0
	for i, a := range l.acked {
		var status string
		if err := db.SQL().QueryRow(`SELECT status FROM payments WHERE id = $1`, a.id).Scan(&status); err != nil {
			t.Errorf("acknowledged payment %d (%s): %v", i, a.id, err)
			continue
		}
		if status != "succeeded" || a.status != "succeeded" {
			t.Errorf("payment %d (%s): %s, acknowledged as %v", i, a.id, status, a.status)
		}
		if a.capture {
			captures++
		}
	}
	if n := r.performed("authorize"); n != keys {
		t.Errorf("%d authorizations at the processor for %d payments", n, keys)
	}
	if n := r.performed("capture"); n != captures {
		t.Errorf("%d captures at the processor for %d payments captured by hand", n, captures)
	}
	r.verifyLedger()
	if r.gw.cmd.ProcessState != nil {
		t.Errorf("the gateway exited: %v", r.gw.cmd.ProcessState)
	}
}

// checkFaultLogs checks that the gateway logged each fault once per
// episode (logging.Episode), not once per request or per round of a
// background job: besides the request log, a few warnings and errors per
// fault (the requests in flight when it struck may each log one), however
// long it lasts and however many requests meet it.
func checkFaultLogs(t *testing.T, r *crashRig, faults int) {
	t.Helper()
	byMsg := map[string]int{}
	total := 0
	for _, line := range strings.Split(r.gw.stderr.String(), "\n") {
		var rec struct{ Level, Msg string }
		if json.Unmarshal([]byte(line), &rec) != nil || rec.Msg == "request" || (rec.Level != "WARN" && rec.Level != "ERROR") {
			continue
		}
		byMsg[rec.Level+" "+rec.Msg]++
		total++
		if rec.Level == "ERROR" && rec.Msg != "database unavailable" && byMsg[rec.Level+" "+rec.Msg] <= 5 {
			t.Logf("gateway: %s", line)
		}
	}
	if total > 30*faults {
		t.Errorf("%d warnings and errors for %d faults, want at most %d: %v", total, faults, 30*faults, byMsg)
	}
	t.Logf("warnings and errors logged: %v", byMsg)
}

// TestDatabaseRestartAndOutage: while clients pay, the database restarts
// (an immediate stop: a crash, with recovery at the next start), and then
// stops for 10 s. Meanwhile the gateway answers 503 with Retry-After,
// /healthz stays 200 and /readyz 503; afterwards it serves again without a
// restart of its own, and the invariants of checkAfterFaults hold.
func TestDatabaseRestartAndOutage(t *testing.T) {
	pg := pgcluster.Start(t)
	rounds := max(1, int(faultSoak(t)/(40*time.Second)))
	r := newCrashRigURL(t, pg.URL(), viaSandbox)
	r.start("")
	key := r.merchantKey()
	l := startDBLoad(r, key, 4, time.Now().Add(time.Duration(60+rounds*40)*time.Second))
	defer l.finish()
	l.waitMore(t, 20, "before the faults")
	for round := 1; round <= rounds; round++ {
		pg.Restart(pgcluster.Immediate)
		l.waitMore(t, 20, "after a restart of the database")

		pg.Stop(pgcluster.Fast)
		outage(t, r, l, 10*time.Second)
		pg.Start()
		back := waitReady(t, r, "after the outage")
		l.waitMore(t, 20, "after the outage")
		t.Logf("round %d: ready %v after the database came back", round, back.Round(time.Millisecond))
	}
	l.finish()
	checkAfterFaults(t, r, l)
	checkFaultLogs(t, r, rounds)
	t.Logf("%d payments, %d answers 503, %d rounds", l.next.Load(), l.unavail.Load(), rounds)
}

// TestDatabaseFailover: paygate is given a primary and its synchronous
// replica (two hosts, target_session_attrs=read-write). While clients pay,
// the primary is killed (an immediate stop) and the replica promoted: the
// gateway answers 503 meanwhile, then writes to the new primary without a
// restart of its own, and the invariants of checkAfterFaults hold. With
// PAYGATE_FAULT_SOAK=10m, it fails over every 30 s or so: each time the old primary
// comes back as a fresh replica of the new one.
func TestDatabaseFailover(t *testing.T) {
	primary := pgcluster.Start(t)
	replica := primary.Replica()
	rounds := max(1, int(faultSoak(t)/(30*time.Second)))
	r := newCrashRigURL(t, "postgres://postgres@"+primary.Host()+","+replica.Host()+
		"/postgres?sslmode=disable&target_session_attrs=read-write&connect_timeout=5", viaSandbox)
	r.start("")
	key := r.merchantKey()
	l := startDBLoad(r, key, 4, time.Now().Add(time.Duration(60+rounds*30)*time.Second))
	defer l.finish()
	l.waitMore(t, 20, "before the failover")
	for round := 1; round <= rounds; round++ {
		primary.Stop(pgcluster.Immediate)
		replica.Promote()
		back := waitReady(t, r, "after the failover")
		l.waitMore(t, 20, "after the failover")
		t.Logf("round %d: ready %v after the promotion", round, back.Round(time.Millisecond))
		if round < rounds {
			// The gateway's URL names two hosts: the next primary's
			// replica takes the port of the one that died.
			primary, replica = replica, replica.ReplicaAt(primary)
		}
	}
	l.finish()
	checkAfterFaults(t, r, l)
	checkFaultLogs(t, r, rounds)
	t.Logf("%d payments, %d answers 503, %d failovers", l.next.Load(), l.unavail.Load(), rounds)
}
