package main

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/testutil/faults"
	"github.com/paygate/paygate/internal/testutil/pgcluster"
)

// soakFault is one fault of the soak's schedule: on puts it on and
// returns what takes it off, faultWindow later (the health endpoints are
// probed meanwhile); a fault over in one step (a restart, a failover)
// returns nil.
type soakFault struct {
	name string
	// unready: /readyz must answer 503 while it holds (the database is
	// unreachable); otherwise any answer but none at all.
	unready bool
	on      func() (off func())
}

// TestFaultSoak is every fault of the other fault tests on one schedule,
// in random order, while clients pay, capture and refund with idempotency
// keys (retrying on 503, 409 and no answer) and a merchant's webhook
// endpoint receives every event. paygate runs on a private primary with a
// synchronous replica (both in its database URL, target_session_attrs=
// read-write), each behind a fault proxy, and reaches a `paygate sandbox
// serve` process through a third. The faults: the processor slow, reset,
// half-open and unreachable; the network to the database slow, reset,
// half-open and cut; the primary restarted (a crash), stopped for 5 s, and
// killed with its replica promoted; the webhook endpoint answering 503.
// Afterwards:
//   - every payment and refund a client was told about has that status,
//     and every idempotency key made one payment (lost=0);
//   - the processor performed exactly the authorizations, captures and
//     refunds paygate recorded (double=0);
//   - nothing is left processing or pending, and `paygate ledger verify`
//     passes;
//   - every event was delivered to the endpoint at least once;
//   - no answer broke the contract: 503s carry Retry-After, no 500, no
//     stack trace, no request without an answer within 15 s;
//   - the gateway never restarted, and logged each fault once per episode.
//
// CI puts on each fault once (about 90 s in all); PAYGATE_FAULT_SOAK=10m
// keeps picking them at random for that long. It prints
// `faults=N payments=N lost=0 double=0`.
func TestFaultSoak(t *testing.T) {
	needPostgres(t)
	if raceEnabled {
		// The binary under test is built without the race detector, and
		// the clients' side is the same as TestProcessorFaults': the plain
		// pass runs it.
		t.Skip("runs in the plain pass (the gateway under test is not race-instrumented)")
	}
	soak := faultSoak(t)
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, 0))
	t.Logf("schedule seed %d", seed)

	began := time.Now()
	bin := buildBinary(t)
	sb, token := startSandbox(t, bin)
	toSandbox := faults.New(t, strings.TrimPrefix(sb.url, "http://"))
	primary := pgcluster.Start(t)
	replica := primary.Replica()
	// The proxies stay in front of the two ports: after a failover, a new
	// replica takes the port of the primary that died.
	toDB := []*faults.Proxy{faults.New(t, primary.Host()), faults.New(t, replica.Host())}
	hosts := func(a, b string) string {
		return "postgres://postgres@" + a + "," + b + "/postgres?sslmode=disable&target_session_attrs=read-write&connect_timeout=5"
	}
	r := faultRig(t, bin, hosts(primary.Host(), replica.Host()), hosts(toDB[0].Addr(), toDB[1].Addr()), sb, "http://"+toSandbox.Addr(), token)
	r.start("")
	key := r.merchantKey()
	receiver := newCountingReceiver(t, 0)
	status, ep := r.call("POST", "/v1/webhook_endpoints", key, "", map[string]any{"url": receiver.srv.URL, "enabled_events": []string{"*"}})
	if status != 201 {
		t.Fatalf("webhook endpoint: %d %v", status, ep)
	}
	receiver.mu.Lock()
	receiver.secret = ep["secret"].(string)
	receiver.mu.Unlock()

	var schedule []soakFault
	for _, f := range processorFaults {
		schedule = append(schedule, soakFault{name: f.name, on: func() func() { return f.on(toSandbox) }})
	}
	for _, f := range databaseFaults {
		schedule = append(schedule, soakFault{name: f.name, unready: f.name == "db-outage", on: func() func() {
			a, b := f.on(toDB[0]), f.on(toDB[1])
			return func() { a(); b() }
		}})
	}
	schedule = append(schedule,
		soakFault{name: "db-restart", on: func() func() { primary.Restart(pgcluster.Immediate); return nil }},
		soakFault{name: "db-stop", unready: true, on: func() func() {
			primary.Stop(pgcluster.Fast)
			return primary.Start
		}},
		soakFault{name: "failover", on: func() func() {
			primary.Stop(pgcluster.Immediate)
			replica.Promote()
			primary, replica = replica, replica.ReplicaAt(primary)
			return nil
		}},
		soakFault{name: "webhooks-down", on: func() func() {
			receiver.down.Store(true)
			return func() { receiver.down.Store(false) }
		}},
	)

	t.Logf("ready to pay after %s (build, sandbox, primary and replica)", time.Since(began).Round(time.Millisecond))
	began = time.Now()
	l := startFaultLoad(r, key, 8)
	injected := map[string]int{}
	inject := func(f soakFault) {
		time.Sleep(time.Second) // a clean second between faults
		t.Logf("fault %s on at %d flows", f.name, l.next.Load())
		off := f.on()
		if off != nil {
			time.Sleep(faultWindow / 2)
			if s := probe(r.url + "/healthz"); s != 200 {
				t.Errorf("%s: /healthz answered %d", f.name, s)
			}
			if s := probe(r.url + "/readyz"); s == 0 || (f.unready && s != 503) {
				t.Errorf("%s: /readyz answered %d", f.name, s)
			}
			time.Sleep(faultWindow / 2)
			off()
		}
		injected[f.name]++
	}
	if soak == 0 {
		for _, i := range rng.Perm(len(schedule)) {
			inject(schedule[i])
		}
	} else {
		for end := time.Now().Add(soak); time.Now().Before(end); {
			inject(schedule[rng.IntN(len(schedule))])
		}
	}
	time.Sleep(time.Second)
	l.stop()
	t.Logf("faults over after %s", time.Since(began).Round(time.Millisecond))
	began = time.Now()
	l.check(t, viaDatabase)
	lost, double := l.reconcile(t)
	r.verifyLedger()
	settled := time.Since(began)
	waitDelivered(t, r, receiver, 60*time.Second)
	t.Logf("settled and reconciled in %s, every event delivered %s later", settled.Round(time.Millisecond), (time.Since(began) - settled).Round(time.Millisecond))
	if r.gw.cmd.ProcessState != nil {
		t.Errorf("the gateway exited: %v", r.gw.cmd.ProcessState)
	}
	n := 0
	for _, c := range injected {
		n += c
	}
	checkFaultLogs(t, r, n)
	t.Logf("faults %v; answers %v; %d refunds; %d answers 503; slowest %s (%s)", injected, l.statuses, len(l.refunds()),
		l.c.unavail.Load(), time.Duration(l.slowest.Load()), l.slowestCall)
	fmt.Printf("faults=%d payments=%d lost=%d double=%d\n", n, l.next.Load(), lost, double)
}

// waitDelivered waits until the receiver has had every event of the
// database at least once, and fails the test for those it still lacks at
// the deadline.
func waitDelivered(t *testing.T, r *crashRig, rc *countingReceiver, within time.Duration) {
	t.Helper()
	all := eventIDs(t, r.dbURL)
	var missing []string
	for deadline := time.Now().Add(within); ; time.Sleep(200 * time.Millisecond) {
		got, bad := rc.snapshot()
		missing = missing[:0]
		for _, id := range all {
			if got[id] == 0 {
				missing = append(missing, id)
			}
		}
		if len(missing) == 0 || time.Now().After(deadline) {
			if bad > 0 {
				t.Errorf("%d deliveries with a bad signature", bad)
			}
			break
		}
	}
	if len(missing) > 0 {
		t.Errorf("%d of %d events never delivered, such as %v", len(missing), len(all), missing[:min(5, len(missing))])
	}
	t.Logf("%d events, each delivered at least once: %v", len(all), len(missing) == 0)
}
