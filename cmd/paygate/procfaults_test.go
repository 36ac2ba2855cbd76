package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/connectors/sandbox"
	"github.com/paygate/paygate/internal/store"
	"github.com/paygate/paygate/internal/store/storetest"
	"github.com/paygate/paygate/internal/testutil/faults"
	"github.com/paygate/paygate/internal/vault"
)

// fault is one kind of fault a proxy can put on a connection: on starts
// it, and returns what ends it.
type fault struct {
	name string
	on   func(p *faults.Proxy) (off func())
}

// The processor faults of TestProcessorFaults: each is put on the proxy
// between the gateway and the sandbox process while clients pay, and
// taken off after faultWindow.
var processorFaults = []fault{
	// Answers late, some later than the connector timeout (1 s): those
	// operations happened, their outcome unknown to paygate.
	{"latency", func(p *faults.Proxy) func() {
		return p.Latency(faults.Downstream, 700*time.Millisecond, 400*time.Millisecond).Remove
	}},
	// A slow link both ways: about half a second a call.
	{"bandwidth", func(p *faults.Proxy) func() {
		up, down := p.Bandwidth(faults.Upstream, 1), p.Bandwidth(faults.Downstream, 1)
		return func() { up.Remove(); down.Remove() }
	}},
	// Connections reset: some before the request reaches the sandbox,
	// more after it acted and before its answer came back.
	{"resets", func(p *faults.Proxy) func() {
		up, down := p.ResetPeer(faults.Upstream, 0.2, 0), p.ResetPeer(faults.Downstream, 0.4, 0)
		return func() { up.Remove(); down.Remove() }
	}},
	// Half-open: the sandbox gets the requests and acts; no answer ever
	// comes back on the connection, which stays open.
	{"half-open", func(p *faults.Proxy) func() { return p.HalfOpen(faults.Downstream).Remove }},
	// The sandbox unreachable: connections closed, new ones refused.
	{"outage", func(p *faults.Proxy) func() { p.Down(); return p.Up }},
}

// The faults of TestDatabaseNetworkFaults, on the network between the
// gateway and PostgreSQL (the server itself runs on).
var databaseFaults = []fault{
	{"db-latency", func(p *faults.Proxy) func() {
		return p.Latency(faults.Downstream, 30*time.Millisecond, 20*time.Millisecond).Remove
	}},
	{"db-resets", func(p *faults.Proxy) func() { return p.ResetPeer(faults.Downstream, 0.2, 0).Remove }},
	{"db-half-open", func(p *faults.Proxy) func() { return p.HalfOpen(faults.Downstream).Remove }},
	{"db-outage", func(p *faults.Proxy) func() { p.Down(); return p.Up }},
}

// TestDatabaseNetworkFaults is TestProcessorFaults with the proxy between
// the gateway and PostgreSQL: latency, connection resets, half-open
// connections and a network outage of three seconds, during which the
// clients are told 503 and retry. The same checks hold afterwards.
func TestDatabaseNetworkFaults(t *testing.T) {
	runFaults(t, viaDatabase, databaseFaults)
}

const (
	faultWindow      = 3 * time.Second // each fault's time in force
	faultConnTimeout = time.Second     // PAYGATE_CONNECTOR_TIMEOUT
)

// TestProcessorFaults runs the real binary with its processor, a `paygate
// sandbox serve` process, behind a fault-injecting proxy. Clients pay
// (confirm, half of them captured by hand), and refund part of every
// succeeded payment, with idempotency keys, retrying on a lost answer, 409
// (key in use), 502 and 503, while the proxy adds latency and jitter, then
// limits bandwidth, resets connections, leaves them half-open, and cuts the
// sandbox off, each for three seconds. Afterwards:
//   - every payment and refund a client was told about has the status it
//     was told, and every idempotency key made one payment;
//   - the sandbox performed exactly the authorizations, captures and
//     refunds paygate recorded as done (no double charge, none lost);
//   - nothing is left processing or pending once recovery has run;
//   - no request took much longer than the connector timeout, none was
//     answered 500, and `paygate ledger verify` passes.
//
// It prints `faults=N payments=N lost=0 double=0`. CI runs each fault
// once (about 30 s); PAYGATE_FAULT_SOAK=2m keeps injecting them, in random
// order, for that long.
func TestProcessorFaults(t *testing.T) {
	runFaults(t, viaProcessor, processorFaults)
}

// Where a fault test puts its proxy.
const (
	viaProcessor = "processor"
	viaDatabase  = "database"
)

// runFaults runs the clients of TestProcessorFaults while each fault is
// put on the proxy in front of the processor or the database, and checks
// what they were told against paygate's records and the sandbox's.
func runFaults(t *testing.T, via string, list []fault) {
	needPostgres(t)
	soak := faultSoak(t)
	bin := buildBinary(t)
	sb, token := startSandbox(t, bin)
	dbURL := storetest.NewURL(t, store.Postgres)
	// The gateway reaches one of them through the proxy; the test's own
	// checks go straight to both.
	sandboxURL, gwDB := sb.url, dbURL
	var proxy *faults.Proxy
	switch via {
	case viaProcessor:
		proxy = faults.New(t, strings.TrimPrefix(sb.url, "http://"))
		sandboxURL = "http://" + proxy.Addr()
	case viaDatabase:
		gwDB, proxy = faults.InFront(t, dbURL)
	}
	r := faultRig(t, bin, dbURL, gwDB, sb, sandboxURL, token)
	r.start("")
	key := r.merchantKey()

	l := startFaultLoad(r, key, 8)
	injected := 0
	inject := func(i int) {
		f := list[i]
		time.Sleep(time.Second) // a clean second between faults
		t.Logf("fault %s on at %d flows", f.name, l.next.Load())
		off := f.on(proxy)
		time.Sleep(faultWindow / 2)
		probeHealth(t, r.url, f.name, via)
		time.Sleep(faultWindow / 2)
		off()
		injected++
	}
	if soak == 0 {
		for i := range list {
			inject(i)
		}
	} else {
		for end := time.Now().Add(soak); time.Now().Before(end); {
			inject(rand.IntN(len(list)))
		}
	}
	time.Sleep(time.Second)
	l.stop()
	l.check(t, via)
	lost, double := l.reconcile(t)
	r.verifyLedger()
	byStatus := map[string]int{}
	for _, st := range l.told {
		byStatus[st]++
	}
	logged := map[string]int{}
	for _, line := range strings.Split(r.gw.stderr.String(), "\n") {
		var e struct{ Level, Msg string }
		if json.Unmarshal([]byte(line), &e) == nil && e.Msg != "" {
			logged[e.Level+" "+e.Msg]++
			if e.Msg == "internal error" && logged[e.Level+" "+e.Msg] <= 5 {
				t.Logf("gateway: %s", line)
			}
		}
	}
	t.Logf("told: %v; logged: %v", byStatus, logged)
	// A processor's trouble is told once per outage, not per payment: two
	// lines (its start and end) per fault at most, the faults being apart
	// by less than the quiet spell that ends an outage.
	warnings := 0
	for msg, n := range logged {
		if !strings.HasPrefix(msg, "INFO ") && !strings.HasPrefix(msg, "DEBUG ") {
			warnings += n
		}
	}
	if via == viaProcessor && warnings > 2*injected {
		t.Errorf("%d warnings and errors logged for %d faults: %v", warnings, injected, logged)
	}
	t.Logf("faults=%d payments=%d refunds=%d lost=%d double=%d answers=%v slowest=%s (%s)", injected, l.next.Load(), len(l.refunds()), lost, double,
		l.statuses, time.Duration(l.slowest.Load()), l.slowestCall)
	fmt.Printf("faults=%d payments=%d lost=%d double=%d\n", injected, l.next.Load(), lost, double)
}

// faultSoak is how long the fault tests keep injecting faults when run by
// hand (PAYGATE_FAULT_SOAK=10m); 0, unset, is CI's run: each fault once.
func faultSoak(t *testing.T) time.Duration {
	t.Helper()
	v := os.Getenv("PAYGATE_FAULT_SOAK")
	if v == "" {
		return 0
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("PAYGATE_FAULT_SOAK: want a duration like 10m, got %q", v)
	}
	return d
}

// startSandbox starts a `paygate sandbox serve` process with a token.
func startSandbox(t *testing.T, bin string) (*process, string) {
	t.Helper()
	token := strings.Repeat("sbtok", 8)
	return startProcess(t, bin, map[string]string{"PAYGATE_SANDBOX_ADDR": freeAddr(t), "PAYGATE_SANDBOX_TOKEN": token},
		"PAYGATE_SANDBOX_ADDR", "sandbox", "serve"), token
}

// faultRig is the crash rig of the fault tests, not started: the gateway
// reaches its database at gwDB and the sandbox process sb at sandboxURL
// (through a proxy, or straight); the test's own checks go to dbURL and
// sb. Its timeouts are short, so that an unknown outcome is asked about
// again soon and webhooks are retried within the test.
func faultRig(t *testing.T, bin, dbURL, gwDB string, sb *process, sandboxURL, sbToken string) *crashRig {
	r := &crashRig{t: t, bin: bin, dbURL: dbURL, sandbox: sandbox.NewClient(sb.url, 5*time.Second).WithToken(sbToken),
		token: strings.Repeat("fault", 8)}
	r.vars = map[string]string{
		"PAYGATE_ADDR": freeAddr(t), "PAYGATE_DATABASE_URL": gwDB, "PAYGATE_ADMIN_TOKEN": r.token,
		"PAYGATE_ENCRYPTION_KEYS": "k1:" + vault.NewKey(), "PAYGATE_LOG_LEVEL": "warn",
		"PAYGATE_SANDBOX_URL": sandboxURL, "PAYGATE_SANDBOX_TOKEN": sbToken,
		"PAYGATE_CONNECTOR_TIMEOUT": faultConnTimeout.String(), "PAYGATE_RECOVERY_AFTER": (2 * faultConnTimeout).String(),
		"PAYGATE_WEBHOOK_POLL": "50ms", "PAYGATE_WEBHOOK_TIMEOUT": "2s", "PAYGATE_WEBHOOK_RETRY_BASE": "200ms", "PAYGATE_WEBHOOK_RETRY_CAP": "2s",
	}
	r.url = "http://" + r.vars["PAYGATE_ADDR"]
	return r
}

// probe checks the health endpoints in the middle of a fault: the process
// is alive whatever happens; it stays ready through a processor's trouble
// (which another instance would meet as well), and is unready while the
// database cannot be reached.
func probeHealth(t *testing.T, base, fault, via string) {
	t.Helper()
	get := func(path string) int {
		resp, err := (&http.Client{Timeout: 5 * time.Second}).Get(base + path)
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := get("/healthz"); s != 200 {
		t.Errorf("%s: /healthz answered %d", fault, s)
	}
	want := 0
	switch {
	case via == viaProcessor:
		want = 200
	case fault == "db-outage":
		want = 503
	}
	if s := get("/readyz"); want != 0 && s != want {
		t.Errorf("%s: /readyz answered %d, want %d", fault, s, want)
	}
}

// faultLoad is the clients' side: what they were told, and how.
type faultLoad struct {
	c    *client
	next atomic.Int64 // flows started: one payment each
	done chan struct{}
	wg   sync.WaitGroup

	mu       sync.Mutex
	told     map[string]string // payment or refund id: the last status a client was told
	statuses map[int]int       // answers by HTTP status (0: none within the client's timeout)
	failures []string
	slowest  atomic.Int64 // the longest request, in nanoseconds
	// slowestCall is which it was.
	slowestCall string
}

// startFaultLoad starts clients, each running one flow after another at
// a client's pace (not a benchmark's) until stop.
func startFaultLoad(r *crashRig, key string, clients int) *faultLoad {
	l := &faultLoad{c: newClient(r, key), told: map[string]string{}, statuses: map[int]int{}, done: make(chan struct{})}
	for range clients {
		l.wg.Go(func() {
			for {
				select {
				case <-l.done:
					return
				default:
				}
				l.flow(l.next.Add(1))
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
	return l
}

// stop ends the clients once their flows in progress are over.
func (l *faultLoad) stop() {
	close(l.done)
	l.wg.Wait()
}

func (l *faultLoad) fail(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failures = append(l.failures, fmt.Sprintf(format, args...))
}

// call is one request, timed and counted.
func (l *faultLoad) call(method, path, idemKey string, body any) (int, map[string]any) {
	start := time.Now()
	status, m := l.c.call(method, path, idemKey, body)
	took := int64(time.Since(start))
	l.mu.Lock()
	l.statuses[status]++
	if took > l.slowest.Load() {
		l.slowest.Store(took)
		l.slowestCall = fmt.Sprintf("%s %s answered %d", method, path, status)
	}
	l.mu.Unlock()
	return status, m
}

// send retries a request under its idempotency key while the answer says
// to (none, 409 key in use, 502, 503), for up to 30 s.
func (l *faultLoad) send(method, path, idemKey string, body any) (int, map[string]any) {
	again := func(status int, m map[string]any) bool {
		return status == 0 || status == 502 || status == 503 || keyInUse(status, m)
	}
	return retryUntil(time.Now().Add(30*time.Second), 50*time.Millisecond, again, func() (int, map[string]any) {
		return l.call(method, path, idemKey, body)
	})
}

// settled polls an object whose operation's outcome paygate does not know
// yet (processing, pending) until recovery decides it, for up to 30 s.
func (l *faultLoad) settled(path string, m map[string]any) map[string]any {
	deadline := time.Now().Add(30 * time.Second)
	for !final(m["status"]) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		if s, g := l.call("GET", path, "", nil); s == 200 {
			m = g
		}
	}
	return m
}

func (l *faultLoad) tell(m map[string]any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.told[m["id"].(string)] = fmt.Sprint(m["status"])
}

// flow is one customer's payment: confirmed; captured by hand for odd i;
// 300 of it refunded once it succeeded.
func (l *faultLoad) flow(i int64) {
	capture := "automatic"
	if i%2 == 1 {
		capture = "manual"
	}
	status, p := l.send("POST", "/v1/payments", fmt.Sprintf("pay-%d", i), cardPayment(capture))
	if status != 201 {
		l.fail("payment %d: %d %v", i, status, p)
		return
	}
	id := p["id"].(string)
	p = l.settled("/v1/payments/"+id, p)
	l.tell(p)
	if p["status"] == "requires_capture" {
		// A capture the processor provably did not take (an outage) is
		// refused, the payment back to requires_capture: the client
		// tries again later, under a new key.
		for try := 0; p["status"] == "requires_capture"; try++ {
			if try == 10 {
				l.fail("payment %d (%s): not captured in 10 tries", i, id)
				return
			}
			if try > 0 {
				time.Sleep(500 * time.Millisecond)
			}
			status, c := l.send("POST", "/v1/payments/"+id+"/capture", fmt.Sprintf("capture-%d-%d", i, try), nil)
			switch {
			case status == 200:
				p = l.settled("/v1/payments/"+id, c)
			case status == 402 || status == 409:
				if s, g := l.call("GET", "/v1/payments/"+id, "", nil); s == 200 {
					p = l.settled("/v1/payments/"+id, g)
				}
			default:
				l.fail("capture %d (%s): %d %v", i, id, status, c)
				return
			}
			l.tell(p)
		}
	}
	if p["status"] != "succeeded" {
		return
	}
	status, rf := l.send("POST", "/v1/refunds", fmt.Sprintf("refund-%d", i), map[string]any{"payment_id": id, "amount": 300})
	if status != 201 {
		l.fail("refund %d (%s): %d %v", i, id, status, rf)
		return
	}
	l.tell(l.settled("/v1/refunds/"+rf["id"].(string), rf))
}

func (l *faultLoad) refunds() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var ids []string
	for id := range l.told {
		if strings.HasPrefix(id, "re_") {
			ids = append(ids, id)
		}
	}
	return ids
}

// check fails the test for what the clients saw go wrong.
func (l *faultLoad) check(t *testing.T, via string) {
	t.Helper()
	for i, f := range l.failures {
		if i == 20 {
			t.Errorf("and %d more", len(l.failures)-i)
			break
		}
		t.Error(f)
	}
	l.c.report(t)
	// A keyed request's deadline is half the recovery lease (one connector
	// timeout here); the rest is the database's, on a busy machine. With
	// the database's connections half-open, a request also waits for its
	// bounded last writes: a processor's answer is recorded for up to
	// 10 s (payments.finish), the key's answer stored for up to 5 s.
	bound := faultConnTimeout + 4*time.Second
	if via == viaDatabase {
		bound = faultConnTimeout + 15*time.Second + 4*time.Second
	}
	if slowest := time.Duration(l.slowest.Load()); slowest > bound {
		t.Errorf("the slowest request (%s) took %s, beyond %s", l.slowestCall, slowest, bound)
	}
}

// reconcile waits for recovery to settle every operation, then compares
// the clients' view, paygate's records and the sandbox's: it returns the
// acknowledged objects lost or changed, and the operations done twice.
func (l *faultLoad) reconcile(t *testing.T) (lost, double int) {
	t.Helper()
	db, err := store.Open(context.Background(), l.c.r.dbURL, store.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	count := func(q string) int {
		t.Helper()
		var n int
		if err := db.SQL().QueryRow(q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	unsettled := `SELECT (SELECT count(*) FROM payments WHERE status = 'processing') + (SELECT count(*) FROM refunds WHERE status = 'pending')`
	for deadline := time.Now().Add(20 * time.Second); count(unsettled) > 0 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	if n := count(unsettled); n != 0 {
		t.Errorf("%d payments and refunds left processing or pending after recovery", n)
	}
	if n, want := count(`SELECT count(*) FROM payments`), int(l.next.Load()); n != want {
		t.Errorf("%d payments for %d idempotency keys", n, want)
		double += max(n-want, 0)
	}
	for id, told := range l.told {
		table := "payments"
		if strings.HasPrefix(id, "re_") {
			table = "refunds"
		}
		var status string
		if err := db.SQL().QueryRow(`SELECT status FROM `+table+` WHERE id = $1`, id).Scan(&status); err != nil {
			t.Errorf("%s, told %s: %v", id, told, err)
			lost++
			continue
		}
		if status != told {
			t.Errorf("%s: %s, told %s", id, status, told)
			lost++
		}
	}
	// The sandbox performs an operation once per reference: more
	// operations there than paygate recorded is a charge paygate does not
	// know of, or a second reference for one operation.
	for _, c := range []struct{ kind, recorded string }{
		{"authorize", `SELECT count(*) FROM payments WHERE status IN ('succeeded', 'requires_capture')`},
		{"capture", `SELECT count(*) FROM payments WHERE capture_method = 'manual' AND status = 'succeeded'`},
		{"refund", `SELECT count(*) FROM refunds WHERE status = 'succeeded'`},
	} {
		performed, recorded := l.c.r.performed(c.kind), count(c.recorded)
		if performed != recorded {
			t.Errorf("the sandbox performed %d %s operations, paygate recorded %d", performed, c.kind, recorded)
			if performed > recorded {
				double += performed - recorded
			} else {
				lost += recorded - performed
			}
		}
	}
	return lost, double
}
