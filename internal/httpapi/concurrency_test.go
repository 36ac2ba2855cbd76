package httpapi_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"strconv"
	"sync"
	"testing"

	"github.com/paygate/paygate/internal/store/storetest"
)

// race sends n copies of one request at once and counts the answers: a
// success by its status ("200"), an error by its status and code ("409
// payment_unexpected_state"), so that a losing request is held to the exact
// error it must get, not just to its status.
func (h *harness) race(n int, method, path string, body any) map[string]int {
	h.t.Helper()
	var mu sync.Mutex
	counts := map[string]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, got, err := h.tryRequest(method, path, h.keyA, body)
			if err != nil {
				h.t.Error(err)
				return
			}
			mu.Lock()
			counts[answerKey(resp.StatusCode, got)]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return counts
}

// answerKey is "STATUS" for a success, "STATUS CODE" for an error answer.
func answerKey(status int, body []byte) string {
	if status < 400 {
		return strconv.Itoa(status)
	}
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Code == "" {
		return fmt.Sprintf("%d (no error code: %.100s)", status, body)
	}
	return fmt.Sprintf("%d %s", status, e.Error.Code)
}

func TestConcurrentActions(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := start(t, backend)
		// 50 confirms of one payment: one authorization at the connector.
		id := h.paymentIn("requires_confirmation")
		counts := h.race(50, "POST", "/v1/payments/"+id+"/confirm", nil)
		if want := map[string]int{"200": 1, "409 payment_unexpected_state": 49}; !maps.Equal(counts, want) {
			t.Errorf("concurrent confirms: %v, want %v", counts, want)
		}
		if n := h.sandbox.Performed("authorize"); n != 1 {
			t.Errorf("authorizations at the connector: %d, want 1", n)
		}
		if p := h.obj("GET", "/v1/payments/"+id, h.keyA, nil, 200); p["status"] != "succeeded" || p["amount_received"] != 1000.0 {
			t.Errorf("after confirms: %v", p)
		}
		// 50 captures of one authorization: one capture.
		id = h.paymentIn("requires_capture")
		counts = h.race(50, "POST", "/v1/payments/"+id+"/capture", map[string]any{"amount": 700})
		if want := map[string]int{"200": 1, "409 payment_unexpected_state": 49}; !maps.Equal(counts, want) || h.sandbox.Performed("capture") != 1 {
			t.Errorf("concurrent captures: %v, want %v; performed %d", counts, want, h.sandbox.Performed("capture"))
		}
		if p := h.obj("GET", "/v1/payments/"+id, h.keyA, nil, 200); p["amount_received"] != 700.0 {
			t.Errorf("after captures: %v", p)
		}
		// Capture racing cancel, many times: exactly one wins each time.
		for i := 0; i < 10; i++ {
			id := h.paymentIn("requires_capture")
			var wg sync.WaitGroup
			answers := make([]string, 2)
			for j, action := range []string{"/capture", "/cancel"} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					resp, got, err := h.tryRequest("POST", "/v1/payments/"+id+action, h.keyA, nil)
					if err != nil {
						t.Error(err)
						return
					}
					answers[j] = answerKey(resp.StatusCode, got)
				}()
			}
			wg.Wait()
			p := h.obj("GET", "/v1/payments/"+id, h.keyA, nil, 200)
			const lost = "409 payment_unexpected_state"
			switch {
			case answers[0] == "200" && answers[1] == lost && p["status"] == "succeeded":
			case answers[0] == lost && answers[1] == "200" && p["status"] == "canceled":
			default:
				t.Errorf("capture vs cancel: answers %q, payment %v", answers, p["status"])
			}
		}
	})
}
