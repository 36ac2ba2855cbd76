package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/store/storetest"
	"github.com/paygate/paygate/internal/webhooks"
	"github.com/paygate/paygate/pkg/webhook"
)

// receiver is a merchant's webhook endpoint on loopback that records what
// arrives, and can be told to fail for a while.
type receiver struct {
	srv      *httptest.Server
	mu       sync.Mutex
	got      []received
	failing  atomic.Bool
	failures atomic.Int64
}

type received struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if rc.failing.Load() {
			rc.failures.Add(1)
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
			return
		}
		rc.mu.Lock()
		rc.got = append(rc.got, received{header: r.Header.Clone(), body: body})
		rc.mu.Unlock()
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) received() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

// eventIDs are the ids of the events received, in arrival order.
func (rc *receiver) eventIDs() []string {
	var out []string
	for _, r := range rc.received() {
		out = append(out, r.header.Get("webhook-id"))
	}
	return out
}

// runWorker runs a delivery worker with a fast schedule for the test.
func (h *harness) runWorker(t *testing.T) {
	cfg := webhooks.DefaultConfig()
	cfg.Poll, cfg.RetryBase, cfg.RetryCap, cfg.Timeout = 10*time.Millisecond, 50*time.Millisecond, 200*time.Millisecond, 2*time.Second
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		webhooks.NewWorker(h.db, h.keys, cfg, slog.New(slog.DiscardHandler)).Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })
}

// waitFor polls cond for up to 10 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitIdle waits until no delivery to the endpoint is claimed and not yet
// recorded: every attempt in flight has had its answer, and its result is
// stored. (A lease that ran out, of an attempt never recorded, does not
// count.)
func (h *harness) waitIdle(t *testing.T, endpointID string) {
	t.Helper()
	waitFor(t, "no attempt in flight to "+endpointID, func() bool {
		return h.count(`SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = $1 AND locked_until IS NOT NULL AND locked_until >= $2`,
			endpointID, time.Now().UTC()) == 0
	})
}

// probe is merchant B's endpoint for payment.created, with a receiver of
// its own. The arrival of a delivery to it proves that the worker has
// claimed after a given moment: runWorker's worker claims in one goroutine,
// one claim after another, the oldest due deliveries first; so once a
// delivery due at a moment has arrived, every delivery that was due and
// claimable at that moment has been claimed too. A check that nothing
// arrived somewhere then cannot pass just because the worker had not come
// round yet.
type probe struct {
	h  *harness
	rc *receiver
}

func (h *harness) newProbe(t *testing.T) *probe {
	t.Helper()
	rc := newReceiver(t)
	h.obj("POST", "/v1/webhook_endpoints", h.keyB, map[string]any{"url": rc.srv.URL, "enabled_events": []string{"payment.created"}}, 201)
	return &probe{h: h, rc: rc}
}

// pass makes a delivery to the probe due now and waits until it arrived.
func (p *probe) pass(t *testing.T) {
	t.Helper()
	before := len(p.rc.received())
	p.h.paymentInB()
	waitFor(t, "the probe's delivery", func() bool { return len(p.rc.received()) > before })
}

// bystander is merchant B's endpoint subscribed to every event type, with a
// receiver of its own: a test that drives merchant A checks with
// assertUntouched that none of A's events reached it.
type bystander struct {
	id string
	rc *receiver
}

func (h *harness) newBystander(t *testing.T) *bystander {
	t.Helper()
	rc := newReceiver(t)
	ep := h.obj("POST", "/v1/webhook_endpoints", h.keyB, map[string]any{"url": rc.srv.URL, "enabled_events": []string{"*"}}, 201)
	return &bystander{id: ep["id"].(string), rc: rc}
}

// assertUntouched checks that merchant B's endpoint has no delivery (in the
// database, or as B's key lists them) and no attempt, and that its receiver
// got nothing. Call it once the worker has attempted every delivery of A's
// events (and settled B's endpoint with waitSettled), so that the
// receiver's silence means something.
func (b *bystander) assertUntouched(t *testing.T, h *harness) {
	t.Helper()
	if n := h.count(`SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = $1`, b.id); n != 0 {
		t.Errorf("%d deliveries for merchant B's endpoint, of merchant A's events", n)
	}
	for _, list := range []string{"deliveries", "attempts"} {
		if l := h.obj("GET", "/v1/webhook_endpoints/"+b.id+"/"+list+"?limit=100", h.keyB, nil, 200)["data"].([]any); len(l) != 0 {
			t.Errorf("merchant B's endpoint lists %s: %v", list, l)
		}
	}
	if got := b.rc.eventIDs(); len(got) != 0 {
		t.Errorf("merchant B's receiver got events %v", got)
	}
}

// waitSettled waits until the endpoints have no delivery left pending and
// no attempt in flight: whatever was to be sent to them has been sent and
// answered.
func (h *harness) waitSettled(t *testing.T, endpointIDs ...string) {
	t.Helper()
	for _, id := range endpointIDs {
		waitFor(t, "the deliveries to "+id+" settled", func() bool {
			return h.count(`SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = $1 AND status = 'pending'`, id) == 0
		})
		h.waitIdle(t, id)
	}
}

// merchantEvents lists every event id of merchant A, oldest first.
func (h *harness) merchantEvents() []string {
	l := h.obj("GET", "/v1/events?limit=100", h.keyA, nil, 200)
	var out []string
	for _, e := range l["data"].([]any) {
		out = append(out, e.(map[string]any)["id"].(string))
	}
	slices.Reverse(out)
	return out
}

func (h *harness) lifecycle() {
	h.t.Helper()
	id := h.paymentIn("requires_capture")
	h.obj("POST", "/v1/payments/"+id+"/capture", h.keyA, nil, 200)
	h.obj("POST", "/v1/refunds", h.keyA, map[string]any{"payment_id": id, "amount": 300}, 201)
}

func TestWebhookDelivery(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := start(t, backend)
		rc := newReceiver(t)
		ep := h.obj("POST", "/v1/webhook_endpoints", h.keyA, map[string]any{"url": rc.srv.URL + "/hooks", "enabled_events": []string{"*"}}, 201)
		secret := ep["secret"].(string)
		if !strings.HasPrefix(secret, "whsec_") || ep["status"] != "enabled" {
			t.Fatalf("endpoint %v", ep)
		}
		// Merchant B subscribes to every type too: it must get none of A's.
		b := h.newBystander(t)
		h.runWorker(t)
		h.lifecycle()
		want := h.merchantEvents()
		if len(want) != 5 {
			t.Fatalf("events %v", want)
		}
		waitFor(t, "every event", func() bool { return len(rc.received()) >= len(want) })
		for _, r := range rc.received() {
			// Webhook bodies are part of the card-data sweep too.
			if leak := cardData(string(r.body)); leak != "" {
				t.Errorf("a webhook body holds card data (%s): %.300s", leak, r.body)
			}
			if err := webhook.Verify(secret, r.header, r.body, 5*time.Minute, time.Now()); err != nil {
				t.Errorf("signature of %s: %v", r.header.Get("webhook-id"), err)
			}
			var ev map[string]any
			if err := json.Unmarshal(r.body, &ev); err != nil || ev["id"] != r.header.Get("webhook-id") || ev["object"] != "event" ||
				ev["data"].(map[string]any)["object"] == nil {
				t.Errorf("body %s", r.body)
			}
		}
		got := rc.eventIDs()
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("received %v, want each of %v once", got, want)
		}
		// Every delivery succeeded, with its one attempt recorded.
		epID := ep["id"].(string)
		waitFor(t, "deliveries recorded", func() bool {
			l := h.obj("GET", "/v1/webhook_endpoints/"+epID+"/deliveries?status=succeeded", h.keyA, nil, 200)
			return len(l["data"].([]any)) == 5
		})
		atts := h.obj("GET", "/v1/webhook_endpoints/"+epID+"/attempts?limit=100", h.keyA, nil, 200)["data"].([]any)
		if len(atts) != 5 || atts[0].(map[string]any)["status_code"] != 200.0 {
			t.Errorf("attempts %v", atts)
		}
		h.waitSettled(t, epID, b.id)
		b.assertUntouched(t, h)
		// The secret is shown once; the endpoint keeps it sealed.
		if g := h.obj("GET", "/v1/webhook_endpoints/"+epID, h.keyA, nil, 200); g["secret"] != nil {
			t.Errorf("secret shown again: %v", g)
		}
		if strings.Contains(storetest.Dump(t, h.db), secret[len("whsec_"):]) {
			t.Error("the signing secret is stored in clear")
		}
	})
}

func TestWebhookRetriesUntilReceiverIsBack(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := start(t, backend)
		rc := newReceiver(t)
		rc.failing.Store(true)
		ep := h.obj("POST", "/v1/webhook_endpoints", h.keyA, map[string]any{"url": rc.srv.URL, "enabled_events": []string{"*"}}, 201)
		h.runWorker(t)
		h.lifecycle()
		waitFor(t, "failed attempts", func() bool { return rc.failures.Load() >= 10 })
		rc.failing.Store(false)
		want := h.merchantEvents()
		waitFor(t, "every event after the receiver came back", func() bool { return len(rc.received()) >= len(want) })
		got := rc.eventIDs()
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("received %v, want %v", got, want)
		}
		atts := h.obj("GET", "/v1/webhook_endpoints/"+ep["id"].(string)+"/attempts?limit=100", h.keyA, nil, 200)["data"].([]any)
		failed := 0
		for _, a := range atts {
			if a.(map[string]any)["status_code"] == 503.0 && strings.Contains(a.(map[string]any)["error"].(string), "503") {
				failed++
			}
		}
		if failed < 5 {
			t.Errorf("only %d failed attempts recorded: %v", failed, atts)
		}
	})
}

// Deliveries pending when their endpoint is disabled wait, however long,
// and go out once it is enabled again; nothing is lost and nothing is sent
// while it is off.
func TestWebhookDisabledEndpointHoldsItsDeliveries(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := start(t, backend)
		rc := newReceiver(t)
		rc.failing.Store(true)
		id := h.obj("POST", "/v1/webhook_endpoints", h.keyA, map[string]any{"url": rc.srv.URL, "enabled_events": []string{"*"}}, 201)["id"].(string)
		pr := h.newProbe(t)
		h.runWorker(t)
		h.paymentIn("succeeded")
		want := h.merchantEvents()
		waitFor(t, "failed attempts", func() bool { return rc.failures.Load() >= 2 })
		h.obj("PATCH", "/v1/webhook_endpoints/"+id, h.keyA, map[string]any{"disabled": true}, 200)
		rc.failing.Store(false)
		// An attempt that was in flight when the endpoint was disabled may
		// still land. A claim after the PATCH (the probe's) means that every
		// claim made before it is committed; then wait for their attempts.
		pr.pass(t)
		h.waitIdle(t, id)
		n := len(rc.received())
		attempts := h.count(`SELECT count(*) FROM webhook_attempts WHERE endpoint_id = $1`, id)
		// After that, nothing: wait until every held delivery is due again
		// (its retry time has passed), make the worker claim after that,
		// and let any attempt it made finish. Had it taken a held delivery,
		// the receiver (answering 2xx now) would have it.
		pending := h.obj("GET", "/v1/webhook_endpoints/"+id+"/deliveries?status=pending&limit=100", h.keyA, nil, 200)["data"].([]any)
		var due time.Time
		for _, d := range pending {
			next, err := time.Parse(time.RFC3339Nano, d.(map[string]any)["next_attempt_at"].(string))
			if err != nil {
				t.Fatalf("delivery %v: %v", d, err)
			}
			if next.After(due) {
				due = next
			}
		}
		if wait := time.Until(due); wait > 5*time.Second {
			t.Fatalf("a held delivery is due in %v, beyond the retry cap of the test's worker", wait)
		} else if wait > 0 {
			time.Sleep(wait + 10*time.Millisecond)
		}
		pr.pass(t)
		h.waitIdle(t, id)
		if got := len(rc.received()); got != n || n >= len(want) {
			t.Fatalf("a disabled endpoint received %d, then %d, of %d events", n, got, len(want))
		}
		if got := h.count(`SELECT count(*) FROM webhook_attempts WHERE endpoint_id = $1`, id); got != attempts {
			t.Fatalf("%d attempts to a disabled endpoint after its deliveries were due, before %d", got, attempts)
		}
		if len(pending) != len(want)-n {
			t.Fatalf("%d deliveries pending while disabled, want %d", len(pending), len(want)-n)
		}
		if again := h.obj("GET", "/v1/webhook_endpoints/"+id+"/deliveries?status=pending&limit=100", h.keyA, nil, 200)["data"].([]any); len(again) != len(pending) {
			t.Fatalf("%d deliveries pending while disabled, then %d", len(pending), len(again))
		}
		h.obj("PATCH", "/v1/webhook_endpoints/"+id, h.keyA, map[string]any{"disabled": false}, 200)
		waitFor(t, "every event after the endpoint was enabled", func() bool { return len(rc.received()) >= len(want) })
		got := rc.eventIDs()
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("received %v, want %v", got, want)
		}
	})
}

func TestWebhookEndpoints(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := start(t, backend)
		rc := newReceiver(t)
		h.apiErr("POST", "/v1/webhook_endpoints", h.keyA, map[string]any{"enabled_events": []string{"*"}}, 400, "parameter_missing", "url")
		h.apiErr("POST", "/v1/webhook_endpoints", h.keyA, map[string]any{"url": "ftp://x", "enabled_events": []string{"*"}}, 400, "url_invalid", "url")
		h.apiErr("POST", "/v1/webhook_endpoints", h.keyA, map[string]any{"url": rc.srv.URL}, 400, "parameter_missing", "enabled_events")
		h.apiErr("POST", "/v1/webhook_endpoints", h.keyA, map[string]any{"url": rc.srv.URL, "enabled_events": []string{"payment.succeeded", "payment.exploded"}}, 400, "parameter_invalid", "enabled_events[1]")
		h.apiErr("POST", "/v1/webhook_endpoints", h.keyA, map[string]any{"url": rc.srv.URL, "enabled_events": []string{"*", "payment.succeeded"}}, 400, "parameter_invalid", "enabled_events")

		// Only subscribed types are delivered.
		ep := h.obj("POST", "/v1/webhook_endpoints", h.keyA, map[string]any{"url": rc.srv.URL, "enabled_events": []string{"payment.succeeded"}, "description": "orders"}, 201)
		id := ep["id"].(string)
		pr := h.newProbe(t)
		h.runWorker(t)
		h.paymentIn("succeeded")
		waitFor(t, "payment.succeeded", func() bool { return len(rc.received()) == 1 })
		var ev map[string]any
		_ = json.Unmarshal(rc.received()[0].body, &ev)
		if ev["type"] != "payment.succeeded" {
			t.Errorf("delivered %v", ev["type"])
		}

		// Disabled: nothing is delivered. Enabled again: it is.
		if e := h.obj("PATCH", "/v1/webhook_endpoints/"+id, h.keyA, map[string]any{"disabled": true}, 200); e["status"] != "disabled" {
			t.Errorf("disable: %v", e)
		}
		h.paymentIn("succeeded")
		// A disabled endpoint is not subscribed: the new events make no
		// delivery to it. The worker has claimed since they were made (the
		// probe) and no attempt is in flight, so had they made one, it
		// would have arrived.
		pr.pass(t)
		h.waitIdle(t, id)
		if n := len(rc.received()); n != 1 {
			t.Errorf("a disabled endpoint got %d events", n)
		}
		if l := h.obj("GET", "/v1/webhook_endpoints/"+id+"/deliveries", h.keyA, nil, 200)["data"].([]any); len(l) != 1 {
			t.Errorf("deliveries of the endpoint: %v, want only the one made before it was disabled", l)
		}
		h.obj("PATCH", "/v1/webhook_endpoints/"+id, h.keyA, map[string]any{"disabled": false, "enabled_events": []string{"*"}}, 200)

		// Secret rotation: the old and the new secret both sign for the
		// overlap, so the receiver can switch at its own pace.
		old := ep["secret"].(string)
		rot := h.obj("POST", "/v1/webhook_endpoints/"+id+"/rotate_secret", h.keyA, map[string]any{"expire_previous_in": 3600}, 200)
		secret := rot["secret"].(string)
		if secret == old || !strings.HasPrefix(secret, "whsec_") {
			t.Fatalf("rotated secret %q", secret)
		}
		pid := h.paymentIn("succeeded")
		waitFor(t, "events after rotation", func() bool { return len(rc.received()) >= 3 })
		last := rc.received()[len(rc.received())-1]
		if len(strings.Fields(last.header.Get("webhook-signature"))) != 2 {
			t.Errorf("signatures during the overlap: %q", last.header.Get("webhook-signature"))
		}
		for _, s := range []string{old, secret} {
			if err := webhook.Verify(s, last.header, last.body, time.Minute, time.Now()); err != nil {
				t.Errorf("verify with a secret of the overlap: %v", err)
			}
		}

		// Redelivery on request.
		evs := h.obj("GET", "/v1/events?type=payment.succeeded&object_id="+pid, h.keyA, nil, 200)["data"].([]any)
		if len(evs) != 1 {
			t.Fatalf("events of %s: %v", pid, evs)
		}
		evID := evs[0].(map[string]any)["id"].(string)
		before := len(rc.received())
		if d := h.obj("POST", "/v1/webhook_endpoints/"+id+"/redeliver", h.keyA, map[string]any{"event_id": evID}, 200); d["status"] != "pending" {
			t.Errorf("redeliver: %v", d)
		}
		waitFor(t, "the redelivery", func() bool { return len(rc.received()) > before })
		if got := rc.received()[len(rc.received())-1].header.Get("webhook-id"); got != evID {
			t.Errorf("redelivered %s, want %s", got, evID)
		}
		h.apiErr("POST", "/v1/webhook_endpoints/"+id+"/redeliver", h.keyA, map[string]any{"event_id": "evt_00000000000000000000000000"}, 404, "resource_missing", "event_id")
		h.obj("GET", "/v1/events/"+evID, h.keyA, nil, 200)
		h.apiErr("GET", "/v1/events/"+evID, h.keyB, nil, 404, "resource_missing", "")

		// Another merchant cannot see or touch the endpoint.
		for _, c := range [][2]string{{"GET", ""}, {"PATCH", ""}, {"DELETE", ""}, {"POST", "/rotate_secret"}, {"GET", "/attempts"}, {"GET", "/deliveries"}} {
			var body any
			if c[0] != "GET" {
				body = map[string]any{}
			}
			h.apiErr(c[0], "/v1/webhook_endpoints/"+id+c[1], h.keyB, body, 404, "resource_missing", "")
		}
		if l := h.obj("GET", "/v1/webhook_endpoints", h.keyA, nil, 200); len(l["data"].([]any)) != 1 {
			t.Errorf("list %v", l)
		}
		if d := h.obj("DELETE", "/v1/webhook_endpoints/"+id, h.keyA, nil, 200); d["deleted"] != true || d["id"] != id {
			t.Errorf("delete %v", d)
		}
		h.apiErr("GET", "/v1/webhook_endpoints/"+id, h.keyA, nil, 404, "resource_missing", "")

		// An idempotent create replays the secret, which is stored sealed.
		body := map[string]any{"url": rc.srv.URL, "enabled_events": []string{"*"}}
		r1, b1 := h.request("POST", "/v1/webhook_endpoints", h.keyA, body, "Idempotency-Key", "ep-1")
		r2, b2 := h.request("POST", "/v1/webhook_endpoints", h.keyA, body, "Idempotency-Key", "ep-1")
		if r1.StatusCode != 201 || r2.StatusCode != 201 || string(b1) != string(b2) || r2.Header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("replay: %d %s / %d %s", r1.StatusCode, b1, r2.StatusCode, b2)
		}
		var created map[string]any
		_ = json.Unmarshal(b1, &created)
		if s := created["secret"].(string); strings.Contains(storetest.Dump(t, h.db), s[len("whsec_"):]) {
			t.Error("the replayable answer holds the secret in clear")
		}
	})
}
