package httpapi_test

import (
	"sync"
	"testing"

	"github.com/paygate/paygate/internal/store/storetest"
)

// race sends n copies of one request at once and counts the statuses.
func (h *harness) race(n int, method, path string, body any) map[int]int {
	h.t.Helper()
	var mu sync.Mutex
	counts := map[int]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			resp, _ := h.request(method, path, h.keyA, body)
			mu.Lock()
			counts[resp.StatusCode]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return counts
}

func TestConcurrentActions(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		h := start(t, backend)
		// 50 confirms of one payment: one authorization at the connector.
		id := h.paymentIn("requires_confirmation")
		counts := h.race(50, "POST", "/v1/payments/"+id+"/confirm", nil)
		if counts[200] != 1 || counts[409] != 49 {
			t.Errorf("concurrent confirms: %v", counts)
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
		if counts[200] != 1 || counts[409] != 49 || h.sandbox.Performed("capture") != 1 {
			t.Errorf("concurrent captures: %v, performed %d", counts, h.sandbox.Performed("capture"))
		}
		if p := h.obj("GET", "/v1/payments/"+id, h.keyA, nil, 200); p["amount_received"] != 700.0 {
			t.Errorf("after captures: %v", p)
		}
		// Capture racing cancel, many times: exactly one wins each time.
		for i := 0; i < 10; i++ {
			id := h.paymentIn("requires_capture")
			var wg sync.WaitGroup
			statuses := make([]int, 2)
			for j, action := range []string{"/capture", "/cancel"} {
				wg.Add(1)
				go func() {
					defer wg.Done()
					resp, _ := h.request("POST", "/v1/payments/"+id+action, h.keyA, nil)
					statuses[j] = resp.StatusCode
				}()
			}
			wg.Wait()
			p := h.obj("GET", "/v1/payments/"+id, h.keyA, nil, 200)
			switch {
			case statuses[0] == 200 && statuses[1] == 409 && p["status"] == "succeeded":
			case statuses[0] == 409 && statuses[1] == 200 && p["status"] == "canceled":
			default:
				t.Errorf("capture vs cancel: statuses %v, payment %v", statuses, p["status"])
			}
		}
	})
}
