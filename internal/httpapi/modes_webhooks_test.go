package httpapi_test

import (
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/paygate/paygate/internal/ids"
	"github.com/paygate/paygate/internal/store/storetest"
)

// answersAsMissing checks that the request req(id), about an object of the
// other mode, fails exactly as req(unknown) does, unknown being an id that
// exists nowhere: same status, code, param, type and message (but the id).
func (h *harness) answersAsMissing(key, method string, req func(id string) (string, any), id, unknown string) {
	h.t.Helper()
	path, body := req(unknown)
	want := h.apiErr(method, path, key, body, 404, "resource_missing", "")
	path, body = req(id)
	got := h.apiErr(method, path, key, body, 404, "resource_missing", "")
	delete(want, "request_id")
	delete(got, "request_id")
	want["message"] = strings.ReplaceAll(want["message"].(string), unknown, id)
	if !reflect.DeepEqual(got, want) {
		h.t.Errorf("%s %s: answered %v, unlike a missing id: %v", method, path, got, want)
	}
}

// eventsOf lists the events a key sees (oldest first), checking that every
// one is of the key's mode and about objectID.
func (h *harness) eventsOf(key string, livemode bool, objectID string) []string {
	h.t.Helper()
	var out []string
	for _, e := range h.obj("GET", "/v1/events?limit=100", key, nil, 200)["data"].([]any) {
		ev := e.(map[string]any)
		if ev["livemode"] != livemode || ev["data"].(map[string]any)["object"].(map[string]any)["id"] != objectID {
			h.t.Errorf("a key of livemode %v lists event %v", livemode, ev)
		}
		out = append(out, ev["id"].(string))
	}
	if len(out) == 0 {
		h.t.Fatalf("a key of livemode %v lists no event", livemode)
	}
	slices.Reverse(out)
	return out
}

// deliveredEvents lists the event ids of an endpoint's deliveries, sorted.
func (h *harness) deliveredEvents(key, endpointID string) []string {
	h.t.Helper()
	var out []string
	for _, d := range h.obj("GET", "/v1/webhook_endpoints/"+endpointID+"/deliveries?limit=100", key, nil, 200)["data"].([]any) {
		out = append(out, d.(map[string]any)["event_id"].(string))
	}
	slices.Sort(out)
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// A test key and a live key of one merchant see each its own event log:
// the other mode's events are left out of lists and answer like unknown
// ids.
func TestModesEvents(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := start(t, backend)
		live := h.liveKey()
		testPay := h.paymentIn("succeeded")
		livePay := h.obj("POST", "/v1/payments", live, newPayment(card("4242424242424242")), 201)["id"].(string)

		testEvents := h.eventsOf(h.keyA, false, testPay)
		liveEvents := h.eventsOf(live, true, livePay)

		// Filters do not reach across modes either.
		for _, c := range []struct {
			key, query string
		}{
			{live, "object_id=" + testPay},
			{h.keyA, "object_id=" + livePay},
			{live, "starting_after=" + testEvents[len(testEvents)-1] + "&object_id=" + testPay},
		} {
			if l := h.obj("GET", "/v1/events?"+c.query, c.key, nil, 200)["data"].([]any); len(l) != 0 {
				t.Errorf("GET /v1/events?%s: events of the other mode: %v", c.query, l)
			}
		}
		if l := h.obj("GET", "/v1/events?type=payment.succeeded", live, nil, 200)["data"].([]any); len(l) != 1 ||
			l[0].(map[string]any)["livemode"] != true {
			t.Errorf("live payment.succeeded events: %v", l)
		}

		// Retrieval: one's own mode only.
		get := func(id string) (string, any) { return "/v1/events/" + id, nil }
		for _, id := range testEvents {
			h.obj("GET", "/v1/events/"+id, h.keyA, nil, 200)
			h.answersAsMissing(live, "GET", get, id, ids.New(ids.Event))
		}
		for _, id := range liveEvents {
			h.obj("GET", "/v1/events/"+id, live, nil, 200)
			h.answersAsMissing(h.keyA, "GET", get, id, ids.New(ids.Event))
		}
	})
}

// Webhook endpoints belong to one mode: the other mode's key can neither
// see nor change them, and an event goes only to the endpoints of its own
// mode.
func TestModesWebhookEndpoints(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := start(t, backend)
		live := h.liveKey()
		rcTest, rcLive := newReceiver(t), newReceiver(t)
		testEp := h.obj("POST", "/v1/webhook_endpoints", h.keyA, map[string]any{"url": rcTest.srv.URL, "enabled_events": []string{"*"}}, 201)
		liveEp := h.obj("POST", "/v1/webhook_endpoints", live, map[string]any{"url": rcLive.srv.URL, "enabled_events": []string{"*"}}, 201)
		if testEp["livemode"] != false || liveEp["livemode"] != true {
			t.Fatalf("endpoints: test %v, live %v", testEp, liveEp)
		}
		testID, liveID := testEp["id"].(string), liveEp["id"].(string)
		for key, want := range map[string]string{h.keyA: testID, live: liveID} {
			l := h.obj("GET", "/v1/webhook_endpoints", key, nil, 200)["data"].([]any)
			if len(l) != 1 || l[0].(map[string]any)["id"] != want {
				t.Errorf("endpoint list: %v, want only %s", l, want)
			}
		}

		// Fan-out: each payment's events are due at its own mode's
		// endpoint only.
		testPay := h.paymentIn("succeeded")
		livePay := h.obj("POST", "/v1/payments", live, newPayment(card("4242424242424242")), 201)["id"].(string)
		testEvents := h.eventsOf(h.keyA, false, testPay)
		liveEvents := h.eventsOf(live, true, livePay)
		if got := h.deliveredEvents(h.keyA, testID); !slices.Equal(got, sorted(testEvents)) {
			t.Errorf("test endpoint's deliveries %v, want the test events %v", got, testEvents)
		}
		if got := h.deliveredEvents(live, liveID); !slices.Equal(got, sorted(liveEvents)) {
			t.Errorf("live endpoint's deliveries %v, want the live events %v", got, liveEvents)
		}

		// Every operation on the other mode's endpoint answers as for an
		// unknown id, and changes nothing.
		before := storetest.Dump(t, h.db)
		ops := []struct {
			method string
			req    func(epID, evID string) (string, any)
		}{
			{"GET", func(ep, _ string) (string, any) { return "/v1/webhook_endpoints/" + ep, nil }},
			{"GET", func(ep, _ string) (string, any) { return "/v1/webhook_endpoints/" + ep + "/deliveries", nil }},
			{"GET", func(ep, _ string) (string, any) { return "/v1/webhook_endpoints/" + ep + "/attempts", nil }},
			{"PATCH", func(ep, _ string) (string, any) {
				return "/v1/webhook_endpoints/" + ep, map[string]any{"disabled": true, "description": "changed", "enabled_events": []string{"payment.failed"}}
			}},
			{"POST", func(ep, _ string) (string, any) {
				return "/v1/webhook_endpoints/" + ep + "/rotate_secret", map[string]any{"expire_previous_in": 0}
			}},
			{"POST", func(ep, ev string) (string, any) {
				return "/v1/webhook_endpoints/" + ep + "/redeliver", map[string]any{"event_id": ev}
			}},
			{"DELETE", func(ep, _ string) (string, any) { return "/v1/webhook_endpoints/" + ep, nil }},
		}
		for _, c := range []struct {
			key, epID, evID string // evID: an event of the endpoint's mode
		}{
			{live, testID, testEvents[0]},
			{h.keyA, liveID, liveEvents[0]},
		} {
			for _, op := range ops {
				h.answersAsMissing(c.key, op.method, func(id string) (string, any) { return op.req(id, c.evID) }, c.epID, ids.New(ids.WebhookEnd))
			}
		}
		// Nor is an event redelivered to an endpoint of the other mode: the
		// event is missing as far as that endpoint's key can tell.
		for _, c := range []struct {
			key, epID string
			evs       []string
		}{
			{h.keyA, testID, liveEvents},
			{live, liveID, testEvents},
		} {
			for _, ev := range c.evs {
				redeliver := func(id string) (string, any) {
					return "/v1/webhook_endpoints/" + c.epID + "/redeliver", map[string]any{"event_id": id}
				}
				h.answersAsMissing(c.key, "POST", redeliver, ev, ids.New(ids.Event))
			}
		}
		if after := storetest.Dump(t, h.db); after != before {
			t.Fatal("requests about the other mode's endpoints changed the database")
		}

		// The worker sends each mode's events to that mode's receiver only.
		h.runWorker(t)
		waitFor(t, "the deliveries", func() bool {
			return len(rcTest.received()) >= len(testEvents) && len(rcLive.received()) >= len(liveEvents)
		})
		if got := sorted(rcTest.eventIDs()); !slices.Equal(got, sorted(testEvents)) {
			t.Errorf("test receiver got %v, want the test events %v", got, testEvents)
		}
		if got := sorted(rcLive.eventIDs()); !slices.Equal(got, sorted(liveEvents)) {
			t.Errorf("live receiver got %v, want the live events %v", got, liveEvents)
		}
		// Both endpoints are as they were created.
		for key, ep := range map[string]map[string]any{h.keyA: testEp, live: liveEp} {
			got := h.obj("GET", "/v1/webhook_endpoints/"+ep["id"].(string), key, nil, 200)
			want := maps.Clone(ep)
			delete(want, "secret")
			if !reflect.DeepEqual(got, want) {
				t.Errorf("endpoint %v, want %v", got, want)
			}
		}
	})
}
