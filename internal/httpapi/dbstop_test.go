package httpapi_test

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/store"
	"github.com/paygate/paygate/internal/testutil/pgcluster"
)

// TestDatabaseStopsUnderWrites: the database stops (fast, which ends every
// session with an error, and immediate, a crash) and starts again, over
// and over, while clients pay and refund. Whatever statement a stop
// interrupts, in or out of a transaction, the answer is 503, never 500.
func TestDatabaseStopsUnderWrites(t *testing.T) {
	pg := pgcluster.Start(t)
	h := startWith(t, store.Postgres, options{dbURL: pg.URL()})
	var stop atomic.Bool
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for c := range 6 {
		wg.Go(func() {
			for i := 0; !stop.Load(); i++ {
				key := fmt.Sprintf("stop-%d-%d", c, i)
				resp, body, err := h.tryRequest("POST", "/v1/payments", h.keyA, map[string]any{"amount": 1000, "currency": "usd",
					"payment_method": card("4242424242424242"), "confirm": true}, "Idempotency-Key", key)
				if err != nil {
					continue
				}
				status := resp.StatusCode
				if status == 201 {
					id := string(body[strings.Index(string(body), `"id":"`)+6:])
					id = id[:strings.Index(id, `"`)]
					if r, _, err := h.tryRequest("POST", "/v1/refunds", h.keyA, map[string]any{"payment_id": id, "amount": 100},
						"Idempotency-Key", "re-"+key); err == nil {
						status = r.StatusCode
					}
				}
				mu.Lock()
				statuses[status]++
				mu.Unlock()
			}
		})
	}
	for round := range 6 {
		time.Sleep(700 * time.Millisecond)
		mode := pgcluster.Fast
		if round%2 == 1 {
			mode = pgcluster.Immediate
		}
		pg.Stop(mode)
		time.Sleep(300 * time.Millisecond)
		pg.Start()
	}
	time.Sleep(700 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	t.Logf("answers: %v", statuses)
	if statuses[500] > 0 {
		for _, line := range strings.Split(h.logs.String(), "\n") {
			if strings.Contains(line, `"internal error"`) {
				t.Log(line)
			}
		}
		t.Errorf("%d answers 500", statuses[500])
	}
}
