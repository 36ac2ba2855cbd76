package main

import (
	"bytes"
	"context"
	crand "crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Operations, the requests the flows send.
const (
	opCreateConfirm = iota // POST /v1/payments, confirm, automatic capture
	opCreateManual         // POST /v1/payments, confirm, manual capture
	opCapture              // POST /v1/payments/{id}/capture
	opRefund               // POST /v1/refunds
	opGet                  // GET /v1/payments/{id}
	opList                 // GET /v1/payments?limit=10
	numOps
)

var opNames = [numOps]string{"create_confirm", "create_manual", "capture", "refund", "get", "list"}

// loader runs a load test.
type loader struct {
	cfg    config
	client *http.Client
	stderr io.Writer
	runID  string // makes this run's Idempotency-Keys unique
	phases int    // phases begun; a phase's keys are its own

	confirmBody, manualBody []byte

	mu    sync.Mutex
	ids   []string // payments the reads flow reads
	acked []string // payments answered 201, with -ids

	pace float64 // flows a second in the current phase; 0: unpaced (warm-up)
}

func newLoader(cfg config, stderr io.Writer) *loader {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	if !cfg.allowRemote {
		// Whatever a host name resolves to, connect only to loopback.
		dialer.Control = func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil || !ap.Addr().Unmap().IsLoopback() {
				return fmt.Errorf("connect to %s: %w", address, errNotLoopback)
			}
			return nil
		}
	}
	tr := &http.Transport{
		Proxy:                 nil, // straight to the target, whatever the environment says
		DialContext:           dialer.DialContext,
		MaxIdleConns:          cfg.concurrency,
		MaxIdleConnsPerHost:   cfg.concurrency,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
	}
	client := &http.Client{
		Transport: tr,
		Timeout:   cfg.timeout,
		// Only the URL given: never follow a redirect elsewhere.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	l := &loader{cfg: cfg, client: client, stderr: stderr, runID: crand.Text()[:10]}
	l.confirmBody = paymentBody(cfg, "automatic")
	l.manualBody = paymentBody(cfg, "manual")
	return l
}

// paymentBody is a payment confirmed at once with the success card.
func paymentBody(cfg config, captureMethod string) []byte {
	b, _ := json.Marshal(map[string]any{
		"amount": cfg.amount, "currency": cfg.currency, "confirm": true, "capture_method": captureMethod,
		"payment_method": map[string]any{"type": "card", "card": map[string]any{
			"number": "4242424242424242", "exp_month": 12, "exp_year": time.Now().Year() + 3, "cvc": "123"}},
	})
	return b
}

// run warms up, measures, and reports.
func (l *loader) run(ctx context.Context) (*report, error) {
	defer l.client.CloseIdleConnections()
	warm := l.cfg.flow
	if warm == flowReads {
		warm = flowConfirm // the reads flow reads what its warm-up creates
	}
	if l.cfg.warmup > 0 {
		fmt.Fprintf(l.stderr, "paygate-load: warming up for %s (%s flow)\n", l.cfg.warmup, warm)
		l.phase(ctx, warm, time.Now().Add(l.cfg.warmup), 0)
	}
	if l.cfg.flow == flowReads {
		if n := minReadIDs - len(l.ids); n > 0 && ctx.Err() == nil {
			l.phase(ctx, flowConfirm, time.Time{}, int64(n))
		}
		if len(l.ids) == 0 {
			return nil, errors.New("reads flow: no payment could be created to read")
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	fmt.Fprintf(l.stderr, "paygate-load: measuring the %s flow, %d clients, %s\n", l.cfg.flow, l.cfg.concurrency, l.bound())
	var deadline time.Time
	if l.cfg.duration > 0 {
		deadline = time.Now().Add(l.cfg.duration)
	}
	l.pace = l.cfg.rate
	res, elapsed := l.phase(ctx, l.cfg.flow, deadline, l.cfg.requests)
	return newReport(l.cfg, res, elapsed, ctx.Err() != nil), nil
}

func (l *loader) bound() string {
	switch {
	case l.cfg.duration > 0 && l.cfg.requests > 0:
		return fmt.Sprintf("for %s or %d requests", l.cfg.duration, l.cfg.requests)
	case l.cfg.duration > 0:
		return "for " + l.cfg.duration.String()
	}
	return fmt.Sprintf("for %d requests", l.cfg.requests)
}

// results are what a phase recorded.
type results struct {
	ops      [numOps]opResults
	flows    int64 // flows run to their end, successfully
	examples map[string]string
}

type opResults struct {
	hist   histogram
	ok     int64
	status map[int]int64
	errors map[string]int64
}

func (r *results) merge(o *results) {
	for i := range r.ops {
		a, b := &r.ops[i], &o.ops[i]
		a.hist.merge(&b.hist)
		a.ok += b.ok
		for k, v := range b.status {
			if a.status == nil {
				a.status = map[int]int64{}
			}
			a.status[k] += v
		}
		for k, v := range b.errors {
			if a.errors == nil {
				a.errors = map[string]int64{}
			}
			a.errors[k] += v
		}
	}
	r.flows += o.flows
	for k, v := range o.examples {
		if r.examples == nil {
			r.examples = map[string]string{}
		}
		if _, ok := r.examples[k]; !ok {
			r.examples[k] = v
		}
	}
}

// phase runs flow from every client until ctx ends, deadline passes (when
// not zero) or limit requests were sent (when not zero). A request in
// flight at the deadline finishes and counts; elapsed runs to the last.
func (l *loader) phase(ctx context.Context, flow string, deadline time.Time, limit int64) (*results, time.Duration) {
	var sent atomic.Int64
	l.phases++
	phaseID := strconv.Itoa(l.phases)
	start := time.Now()
	all := &results{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	// At a fixed rate, a ticker hands out one start per interval; a start
	// no client is free to take is dropped (the load cannot exceed what the
	// clients can carry), which the report shows as a lower throughput.
	var starts chan struct{}
	if l.pace > 0 {
		starts = make(chan struct{}, l.cfg.concurrency)
		tctx, stop := context.WithCancel(ctx)
		defer stop()
		go func() {
			t := time.NewTicker(time.Duration(float64(time.Second) / l.pace))
			defer t.Stop()
			for {
				select {
				case <-tctx.Done():
					return
				case <-t.C:
					select {
					case starts <- struct{}{}:
					default:
					}
				}
			}
		}()
	}
	for i := range l.cfg.concurrency {
		wg.Go(func() {
			w := &worker{l: l, ctx: ctx, id: i, phase: phaseID, deadline: deadline, limit: limit, sent: &sent, res: &results{}}
			for w.more() {
				if starts != nil && !w.await(starts) {
					break
				}
				w.runFlow(flow)
			}
			mu.Lock()
			all.merge(w.res)
			mu.Unlock()
		})
	}
	wg.Wait()
	return all, time.Since(start)
}

// worker is one client: one request in flight at a time.
type worker struct {
	l        *loader
	ctx      context.Context
	id       int
	phase    string
	seq      int
	deadline time.Time
	limit    int64
	sent     *atomic.Int64
	res      *results
	buf      bytes.Buffer
}

// await waits for the next start of a paced load, until the deadline.
func (w *worker) await(starts <-chan struct{}) bool {
	var timeout <-chan time.Time
	if !w.deadline.IsZero() {
		t := time.NewTimer(time.Until(w.deadline))
		defer t.Stop()
		timeout = t.C
	}
	select {
	case <-starts:
		return true
	case <-timeout:
		return false
	case <-w.ctx.Done():
		return false
	}
}

// more reports whether another request may start.
func (w *worker) more() bool {
	return w.ctx.Err() == nil && (w.deadline.IsZero() || time.Now().Before(w.deadline)) &&
		(w.limit == 0 || w.sent.Load() < w.limit)
}

// claim takes one request from the budget.
func (w *worker) claim() bool {
	if w.ctx.Err() != nil || (!w.deadline.IsZero() && !time.Now().Before(w.deadline)) {
		return false
	}
	return w.limit == 0 || w.sent.Add(1) <= w.limit
}

func (w *worker) runFlow(flow string) {
	switch flow {
	case flowConfirm:
		p, ok := w.do(opCreateConfirm, http.MethodPost, "/v1/payments", w.l.confirmBody, http.StatusCreated, w.l.cfg.expect)
		w.acked(p)
		if ok {
			w.res.flows++
			if w.l.cfg.flow == flowReads { // the warm-up of the reads flow
				w.l.mu.Lock()
				w.l.ids = append(w.l.ids, p.ID)
				w.l.mu.Unlock()
			}
		}
	case flowLifecycle:
		p, ok := w.do(opCreateManual, http.MethodPost, "/v1/payments", w.l.manualBody, http.StatusCreated, "requires_capture")
		w.acked(p)
		if !ok {
			return
		}
		if _, ok = w.do(opCapture, http.MethodPost, "/v1/payments/"+p.ID+"/capture", []byte("{}"), http.StatusOK, "succeeded"); !ok {
			return
		}
		body, _ := json.Marshal(map[string]string{"payment_id": p.ID})
		if _, ok = w.do(opRefund, http.MethodPost, "/v1/refunds", body, http.StatusCreated, "succeeded", "pending"); ok {
			w.res.flows++
		}
	case flowReads:
		w.seq++
		var ok bool
		if w.seq%10 == 0 {
			_, ok = w.do(opList, http.MethodGet, "/v1/payments?limit=10", nil, http.StatusOK)
		} else {
			// ids was filled by the warm-up, which ended before this phase began.
			id := w.l.ids[rand.IntN(len(w.l.ids))]
			_, ok = w.do(opGet, http.MethodGet, "/v1/payments/"+id, nil, http.StatusOK)
		}
		if ok {
			w.res.flows++
		}
	}
}

// acked keeps the id of a payment paygate answered with, for -ids.
func (w *worker) acked(p object) {
	if w.l.cfg.ids == "" || p.ID == "" {
		return
	}
	w.l.mu.Lock()
	w.l.acked = append(w.l.acked, p.ID)
	w.l.mu.Unlock()
}

// writeIDs writes the acknowledged payments' ids to path, one a line.
func (l *loader) writeIDs(path string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b bytes.Buffer
	for _, id := range l.acked {
		b.WriteString(id)
		b.WriteByte('\n')
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("-ids: %w", err)
	}
	return nil
}

// object is what the flows read of an answer.
type object struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// do sends one request, POSTs with a fresh Idempotency-Key, and records
// its latency, status and error kind. ok means the answer had status want
// and, when wantStatus are given, an object status among them. Nothing is
// sent, and ok is false, when the phase is over.
func (w *worker) do(op int, method, path string, body []byte, want int, wantStatus ...string) (obj object, ok bool) {
	if !w.claim() {
		return obj, false
	}
	r := &w.res.ops[op]
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(w.ctx, method, w.l.cfg.bases[w.id%len(w.l.cfg.bases)]+path, rd)
	if err != nil {
		w.fail(r, "request", err.Error())
		return obj, false
	}
	req.Header.Set("Authorization", "Bearer "+w.l.cfg.key)
	req.Header.Set("User-Agent", "paygate-load")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if method == http.MethodPost {
		w.seq++
		req.Header.Set("Idempotency-Key", "load-"+w.l.runID+"-"+w.phase+"-"+strconv.Itoa(w.id)+"-"+strconv.Itoa(w.seq))
	}
	start := time.Now()
	resp, err := w.l.client.Do(req)
	if err == nil {
		w.buf.Reset()
		_, err = w.buf.ReadFrom(resp.Body)
		resp.Body.Close()
	}
	r.hist.record(time.Since(start))
	if resp != nil {
		if r.status == nil {
			r.status = map[int]int64{}
		}
		r.status[resp.StatusCode]++
	}
	if err != nil {
		w.fail(r, errorKind(err), err.Error())
		return obj, false
	}
	if resp.StatusCode != want {
		w.fail(r, "http_"+strconv.Itoa(resp.StatusCode), firstLine(w.buf.Bytes()))
		return obj, false
	}
	if len(wantStatus) > 0 {
		if err := json.Unmarshal(w.buf.Bytes(), &obj); err != nil {
			w.fail(r, "bad_json", err.Error())
			return obj, false
		}
		good := false
		for _, s := range wantStatus {
			good = good || obj.Status == s
		}
		if !good {
			w.fail(r, "status_"+obj.Status, firstLine(w.buf.Bytes()))
			return obj, false
		}
	}
	r.ok++
	return obj, true
}

func (w *worker) fail(r *opResults, kind, example string) {
	if r.errors == nil {
		r.errors = map[string]int64{}
	}
	r.errors[kind]++
	if w.res.examples == nil {
		w.res.examples = map[string]string{}
	}
	if _, ok := w.res.examples[kind]; !ok {
		w.res.examples[kind] = example
	}
}

// firstLine is the start of an answer, for an error's example.
func firstLine(b []byte) string {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	if len(b) > 300 {
		b = b[:300]
	}
	return string(b)
}

// errorKind names a transport error.
func errorKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, errNotLoopback):
		return "not_loopback"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection_refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection_reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "eof"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "no_local_port"
	}
	return "other"
}
