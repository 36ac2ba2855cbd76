package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/connectors/sandbox"
	"github.com/paygate/paygate/internal/connectors/stripe/stripetest"
	"github.com/paygate/paygate/internal/store"
	"github.com/paygate/paygate/internal/store/storetest"
	"github.com/paygate/paygate/internal/vault"
)

// crashRig is a sandbox process and a gateway process that the test kills
// with SIGKILL and starts again, on one database. With a fake Stripe (in the
// test's process, so that it outlives the gateway's restarts), merchants pay
// through a Stripe account pointed at it instead of the sandbox.
type crashRig struct {
	t       *testing.T
	bin     string
	dbURL   string
	sandbox *sandbox.Client
	stripe  *stripetest.Server // nil: the sandbox
	vars    map[string]string  // the gateway's environment
	gw      *process           // replaced at each start; only the test's goroutine and the killer touch it
	url     string             // the gateway's, the same across restarts
	token   string
}

// The processors a crash rig can pay through.
const (
	viaSandbox = "sandbox"
	viaStripe  = "stripe"
)

func newCrashRig(t *testing.T, backend, via string) *crashRig {
	t.Helper()
	return newCrashRigURL(t, storetest.NewURL(t, backend), via)
}

// newCrashRigURL is newCrashRig on the database at dbURL.
func newCrashRigURL(t *testing.T, dbURL, via string) *crashRig {
	t.Helper()
	bin := buildBinary(t)
	sb := startProcess(t, bin, map[string]string{"PAYGATE_SANDBOX_ADDR": freeAddr(t)}, "PAYGATE_SANDBOX_ADDR", "sandbox", "serve")
	r := &crashRig{t: t, bin: bin, dbURL: dbURL, sandbox: sandbox.NewClient(sb.url, 5*time.Second),
		token: strings.Repeat("crash", 8)}
	r.vars = map[string]string{
		"PAYGATE_ADDR": freeAddr(t), "PAYGATE_DATABASE_URL": r.dbURL, "PAYGATE_ADMIN_TOKEN": r.token,
		"PAYGATE_ENCRYPTION_KEYS": "k1:" + vault.NewKey(), "PAYGATE_SANDBOX_URL": sb.url, "PAYGATE_LOG_LEVEL": "warn",
		// Short timeouts, so that recovery starts soon after a crash.
		"PAYGATE_CONNECTOR_TIMEOUT": "500ms", "PAYGATE_RECOVERY_AFTER": "1s",
	}
	r.url = "http://" + r.vars["PAYGATE_ADDR"]
	if via == viaStripe {
		fake, err := stripetest.Start("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(fake.Close)
		r.stripe = fake
	}
	return r
}

// start starts the gateway, armed with a fault point when one is given.
func (r *crashRig) start(fault string) {
	r.t.Helper()
	if err := r.tryStart(fault); err != nil {
		r.t.Fatal(err)
	}
}

// tryStart is start for a goroutine other than the test's, which must not
// call t.Fatal: it returns the error.
func (r *crashRig) tryStart(fault string) error {
	vars := map[string]string{}
	for k, v := range r.vars {
		vars[k] = v
	}
	if fault != "" {
		vars["PAYGATE_TEST_FAULT_POINT"] = fault
	}
	gw, err := tryStartProcess(r.t, r.bin, vars, "PAYGATE_ADDR", "serve")
	if err != nil {
		return err
	}
	r.gw = gw
	return nil
}

// kill ends the gateway with SIGKILL: no deferred function, no shutdown.
func (r *crashRig) kill() {
	r.t.Helper()
	if err := r.tryKill(); err != nil {
		r.t.Fatal(err)
	}
}

// tryKill is kill for a goroutine other than the test's: it returns the
// error. The wait for the process to exit is bounded: SIGKILL cannot be
// caught.
func (r *crashRig) tryKill() error {
	if err := r.gw.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return fmt.Errorf("SIGKILL the gateway: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = r.gw.cmd.Wait(); close(exited) }()
	select {
	case <-exited:
		return nil
	case <-time.After(30 * time.Second):
		return errors.New("the gateway did not exit within 30 s of SIGKILL")
	}
}

// final reports whether a payment or refund status is one a retry or the
// recovery worker leaves as it is. A processor call that timed out (a slow
// machine) leaves a payment processing or a refund pending: no decision,
// which recovery makes later.
func final(status any) bool { return status != "processing" && status != "pending" }

// waitFinal polls the object at path until its status is final, and fails
// the test at the deadline.
func (r *crashRig) waitFinal(t *testing.T, path, key string, m map[string]any, deadline time.Time) map[string]any {
	t.Helper()
	for !final(m["status"]) {
		if time.Now().After(deadline) {
			t.Fatalf("%s still %v at the deadline: recovery did not finish it: %v", path, m["status"], m)
		}
		time.Sleep(100 * time.Millisecond)
		if s, g := r.call("GET", path, key, "", nil); s == 200 {
			m = g
		}
	}
	return m
}

// call sends one request; a transport error (the gateway died) is status 0.
func (r *crashRig) call(method, path, key, idemKey string, body any) (int, map[string]any) {
	raw, _ := json.Marshal(body)
	if string(raw) == "null" { // no body, or a nil map
		raw = nil
	}
	req, _ := http.NewRequest(method, r.url+path, bytes.NewReader(raw))
	req.Header.Set("Authorization", "Bearer "+key)
	if raw != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

// retry sends a request with an idempotency key until it gets an answer
// that is not "try again" (no connection, 409 key in use, 5xx).
func (r *crashRig) retry(method, path, key, idemKey string, body any, deadline time.Time) (int, map[string]any) {
	return retryUntil(deadline, 20*time.Millisecond, failedOrInUse, func() (int, map[string]any) {
		return r.call(method, path, key, idemKey, body)
	})
}

// retryUntil calls until again no longer holds of the answer or deadline
// passes, pausing between calls, and returns the last answer.
func retryUntil(deadline time.Time, pause time.Duration, again func(status int, m map[string]any) bool,
	call func() (int, map[string]any)) (int, map[string]any) {
	for {
		status, m := call()
		if !again(status, m) || time.Now().After(deadline) {
			return status, m
		}
		time.Sleep(pause)
	}
}

// keyInUse: a 409 for an Idempotency-Key whose first request still runs.
func keyInUse(status int, m map[string]any) bool {
	return status == 409 && strings.Contains(fmt.Sprint(m["error"]), "idempotency_key_in_use")
}

// failedOrInUse: no answer, any 5xx, or the key in use.
func failedOrInUse(status int, m map[string]any) bool {
	return status == 0 || status >= 500 || keyInUse(status, m)
}

// merchantKey creates a merchant; with a fake Stripe, its payments go to a
// Stripe account there.
func (r *crashRig) merchantKey() string {
	r.t.Helper()
	status, m := r.call("POST", "/v1/merchants", r.token, "", map[string]any{"name": "Crash"})
	if status != 201 {
		r.t.Fatalf("merchant: %d %v", status, m)
	}
	key := m["api_key"].(map[string]any)["secret"].(string)
	if r.stripe != nil {
		status, m = r.call("POST", "/v1/connector_accounts", key, "", map[string]any{"connector": "stripe", "base_url": r.stripe.URL(),
			"credentials": r.stripe.Credentials()})
		if status != 201 {
			r.t.Fatalf("Stripe account: %d %v", status, m)
		}
		if status, m = r.call("PUT", "/v1/routing", key, "", map[string]any{"fallback": []any{m["id"]}}); status != 200 {
			r.t.Fatalf("routing: %d %v", status, m)
		}
	}
	return key
}

// performed is how many operations of a kind the processor performed.
func (r *crashRig) performed(kind string) int {
	r.t.Helper()
	if r.stripe != nil {
		return r.stripe.Performed(kind)
	}
	n, err := r.sandbox.Performed(context.Background(), kind)
	if err != nil {
		r.t.Fatal(err)
	}
	return n
}

// checkCharged fails the test if Stripe received more for a payment than
// its amount: a double charge. The sandbox keeps no amounts: performed
// counts are its check.
func (r *crashRig) checkCharged(amount int64) {
	r.t.Helper()
	if r.stripe == nil {
		return
	}
	byPayment := map[string]int64{}
	for ref, n := range r.stripe.Charged() {
		id, _, _ := strings.Cut(ref, ":")
		byPayment[id] += n
	}
	for id, n := range byPayment {
		if n > amount {
			r.t.Errorf("Stripe received %d for payment %s of %d: charged twice", n, id, amount)
		}
	}
}

func (r *crashRig) verifyLedger() {
	r.t.Helper()
	cmd := exec.Command(r.bin, "ledger", "verify")
	cmd.Env = []string{"PAYGATE_DATABASE_URL=" + r.dbURL}
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "ledger verified") {
		r.t.Errorf("paygate ledger verify: %v\n%s", err, out)
	}
}

// waitSettled opens the rig's database (closed at the test's end), waits
// until deadline for no payment to be left processing, reports any that
// is, and returns the database with a counter of one-number queries.
func (r *crashRig) waitSettled(t *testing.T, deadline time.Time) (*store.DB, func(query string) int) {
	t.Helper()
	db, err := store.Open(context.Background(), r.dbURL, store.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	count := func(q string) int {
		var n int
		if err := db.SQL().QueryRow(q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	const processing = `SELECT count(*) FROM payments WHERE status = 'processing'`
	for count(processing) > 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if n := count(processing); n != 0 {
		t.Errorf("%d payments left processing", n)
	}
	return db, count
}

func cardPayment(capture string) map[string]any {
	return map[string]any{"amount": 1000, "currency": "eur", "confirm": true, "capture_method": capture,
		"payment_method": map[string]any{"type": "card", "card": map[string]any{"number": "4242424242424242", "exp_month": 12, "exp_year": 2040, "cvc": "123"}}}
}

func needPostgres(t *testing.T) {
	t.Helper()
	if os.Getenv(storetest.EnvURL) == "" {
		storetest.Backends(t) // fails under CI
		t.Skip("needs PostgreSQL")
	}
}

// TestKillAfterConnector kills the real binary with SIGKILL right after the
// processor performed an operation and before paygate recorded the answer,
// for confirm, capture and refund; after a restart the payment reaches a
// final status, by a retry of the request or by the recovery worker, and
// the processor performed the operation exactly once.
//
// It runs with the sandbox, and with a Stripe account (the fake Stripe).
func TestKillAfterConnector(t *testing.T) {
	needPostgres(t)
	t.Run(viaSandbox, func(t *testing.T) { killAfterConnector(t, viaSandbox) })
	t.Run(viaStripe, func(t *testing.T) { killAfterConnector(t, viaStripe) })
}

func killAfterConnector(t *testing.T, via string) {
	r := newCrashRig(t, store.Postgres, via)
	r.start("")
	key := r.merchantKey()
	_, manual := r.call("POST", "/v1/payments", key, "", cardPayment("manual"))
	_, auto := r.call("POST", "/v1/payments", key, "", cardPayment("automatic"))
	r.kill()

	cases := []struct {
		name, fault, kind, method, path string
		body                            map[string]any
		retry                           bool // false: leave it to the recovery worker
		object                          string
		want                            string
	}{
		{"confirm", "after_authorize", "authorize", "POST", "/v1/payments", cardPayment("automatic"), true, "", "succeeded"},
		{"capture", "after_capture", "capture", "POST", "/v1/payments/" + manual["id"].(string) + "/capture", nil, false, "/v1/payments/" + manual["id"].(string), "succeeded"},
		{"refund", "after_refund", "refund", "POST", "/v1/refunds", map[string]any{"payment_id": auto["id"], "amount": 400}, true, "", "succeeded"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r.t = t
			before := r.performed(tc.kind)
			r.start(tc.fault)
			type answer struct {
				status int
				body   map[string]any
			}
			// The goroutine only sends: it may outlive a failed subtest,
			// which it must not log to.
			answered := make(chan answer, 1)
			go func() {
				s, m := r.call(tc.method, tc.path, key, "idem-"+tc.name, tc.body)
				answered <- answer{s, m}
			}()
			deadline := time.Now().Add(15 * time.Second)
			for !strings.Contains(r.gw.stderr.String(), "fault point reached") {
				select {
				case a := <-answered:
					t.Fatalf("answered %d before the fault point: %v", a.status, a.body)
				default:
				}
				if time.Now().After(deadline) {
					t.Fatalf("fault point never reached: %s", r.gw.stderr.String())
				}
				time.Sleep(10 * time.Millisecond)
			}
			r.kill()
			select {
			case a := <-answered:
				if a.status != 0 {
					t.Fatalf("the killed gateway answered %d: %v", a.status, a.body)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("the request to the killed gateway did not end within 30 s")
			}
			if n := r.performed(tc.kind); n != before+1 {
				t.Fatalf("the processor performed %d %s operations, want 1", n-before, tc.kind)
			}
			r.start("")
			deadline = time.Now().Add(20 * time.Second)
			var status int
			var m map[string]any
			if tc.retry {
				status, m = r.retry(tc.method, tc.path, key, "idem-"+tc.name, tc.body, deadline)
				if status/100 != 2 {
					t.Fatalf("retry: %d %v", status, m)
				}
				// The retry's own processor call may time out on a slow
				// machine (processing, or a pending refund): not a failure;
				// recovery finishes it. Wait for the final status, as
				// soakRandomKills does.
				if !final(m["status"]) {
					id, _ := m["id"].(string)
					path := "/v1/payments/" + id
					if m["object"] == "refund" {
						path = "/v1/refunds/" + id
					}
					m = r.waitFinal(t, path, key, m, deadline)
				}
			} else {
				// Left to the recovery worker: the payment is processing
				// until it runs.
				_, m = r.call("GET", tc.object, key, "", nil)
				m = r.waitFinal(t, tc.object, key, m, deadline)
			}
			if m["status"] != tc.want {
				t.Errorf("status %v, want %s: %v", m["status"], tc.want, m)
			}
			if n := r.performed(tc.kind); n != before+1 {
				t.Errorf("the processor performed %d %s operations, want exactly 1", n-before, tc.kind)
			}
			r.kill()
		})
	}
	r.t = t
	r.checkCharged(1000)
	r.verifyLedger()
}

func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s: want a positive integer, got %q", name, v)
	}
	return n
}

// TestSoakRandomKills: a load of confirms with idempotency keys and
// retries, during which the gateway is killed with SIGKILL at random
// instants and started again. Afterwards every payment a client saw
// acknowledged exists and is final, no payment was authorized or captured
// twice, none is left processing, and the ledger verifies.
//
// It runs on both databases. CI runs 1,000 payments and 20 kills on each;
// PAYGATE_SOAK_PAYMENTS and PAYGATE_SOAK_KILLS make it longer by hand.
func TestSoakRandomKills(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		soakRandomKills(t, backend, viaSandbox, envInt(t, "PAYGATE_SOAK_PAYMENTS", 1000), envInt(t, "PAYGATE_SOAK_KILLS", 20))
	})
}

// TestSoakRandomKillsStripe is the soak once more with a Stripe account
// (the fake Stripe) as the connector: recovery asks Stripe by search, and
// Stripe must never have received more than a payment's amount. On
// PostgreSQL, with the same counts as the sandbox's soak.
func TestSoakRandomKillsStripe(t *testing.T) {
	needPostgres(t)
	soakRandomKills(t, store.Postgres, viaStripe, envInt(t, "PAYGATE_SOAK_PAYMENTS", 1000), envInt(t, "PAYGATE_SOAK_KILLS", 20))
}

func soakRandomKills(t *testing.T, backend, via string, total, kills int) {
	r := newCrashRig(t, backend, via)
	r.start("")
	key := r.merchantKey()
	deadline := time.Now().Add(time.Duration(total/4+kills*3+60) * time.Second)

	// One payment in four is captured by hand: a second operation, with
	// its own key, to be interrupted.
	type result struct {
		id     string
		status any
	}
	acked := make([]result, total)
	var done atomic.Int64
	var failures atomic.Int64
	var broken atomic.Bool // the gateway could not be restarted: drain the jobs
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := range jobs {
				if broken.Load() {
					continue
				}
				capture := "automatic"
				if i%4 == 0 {
					capture = "manual"
				}
				status, m := r.retry("POST", "/v1/payments", key, fmt.Sprintf("soak-%d", i), cardPayment(capture), deadline)
				if status != 201 {
					failures.Add(1)
					t.Errorf("payment %d: %d %v", i, status, m)
					continue
				}
				// A processor call that timed out (a slow machine) answers
				// processing: not a decline; recovery finishes it.
				for m["status"] == "processing" && time.Now().Before(deadline) {
					time.Sleep(50 * time.Millisecond)
					if s, g := r.call("GET", "/v1/payments/"+m["id"].(string), key, "", nil); s == 200 {
						m = g
					}
				}
				if capture == "manual" && m["status"] == "requires_capture" {
					status, m = r.retry("POST", "/v1/payments/"+m["id"].(string)+"/capture", key, fmt.Sprintf("soak-capture-%d", i), nil, deadline)
					if status != 200 {
						failures.Add(1)
						t.Errorf("capture %d: %d %v", i, status, m)
						continue
					}
				}
				acked[i] = result{id: m["id"].(string), status: m["status"]}
				done.Add(1)
			}
		})
	}
	// The killer strikes as the load passes evenly spaced marks, at a
	// random instant around each, so every kill falls during the load.
	var killed int
	var restarts sync.WaitGroup
	restarts.Go(func() {
		for k := 1; k <= kills; k++ {
			mark := int64(total * k / (kills + 1))
			for done.Load() < mark && failures.Load() == 0 && time.Now().Before(deadline) {
				time.Sleep(2 * time.Millisecond)
			}
			time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond)
			if done.Load() >= int64(total) {
				return
			}
			// Not the test's goroutine: errors go through t.Error.
			if err := r.tryKill(); err != nil {
				t.Error(err)
				broken.Store(true)
				return
			}
			killed++
			if err := r.tryStart(""); err != nil {
				t.Errorf("restart after kill %d: %v", killed, err)
				broken.Store(true)
				return
			}
		}
	})
	for i := range total {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	restarts.Wait()
	if t.Failed() {
		return
	}
	if killed != kills {
		t.Errorf("%d kills during the load, want %d", killed, kills)
	}

	// Recovery finishes whatever a kill left processing.
	db, count := r.waitSettled(t, deadline)
	if n := count(`SELECT count(*) FROM payments`); n != total {
		t.Errorf("%d payments for %d idempotency keys", n, total)
	}
	for i, a := range acked {
		var status string
		if err := db.SQL().QueryRow(`SELECT status FROM payments WHERE id = $1`, a.id).Scan(&status); err != nil {
			t.Fatalf("acknowledged payment %d (%s): %v", i, a.id, err)
		}
		if status != "succeeded" {
			t.Errorf("payment %d (%s): %s, acknowledged as %v", i, a.id, status, a.status)
		}
	}
	if n := r.performed("authorize"); n != total {
		t.Errorf("%d authorizations at the processor for %d payments", n, total)
	}
	if n := r.performed("capture"); n != (total+3)/4 {
		t.Errorf("%d captures at the processor, want %d", n, (total+3)/4)
	}
	r.checkCharged(1000)
	r.verifyLedger()
	t.Logf("%d payments through %s, %d kills", total, via, killed)
}
