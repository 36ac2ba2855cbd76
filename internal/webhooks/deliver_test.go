package webhooks_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/audit"
	"github.com/paygate/paygate/internal/clock"
	"github.com/paygate/paygate/internal/events"
	"github.com/paygate/paygate/internal/ids"
	"github.com/paygate/paygate/internal/merchants"
	"github.com/paygate/paygate/internal/payments"
	"github.com/paygate/paygate/internal/store/storetest"
	"github.com/paygate/paygate/internal/tenant"
	"github.com/paygate/paygate/internal/testutil"
	"github.com/paygate/paygate/internal/vault"
	"github.com/paygate/paygate/internal/webhooks"
)

const notAllowed = "destination not allowed: the endpoint's address is not public"

var addressLike = regexp.MustCompile(`\d{1,3}(\.\d{1,3}){3}|[0-9A-Fa-f]*:[0-9A-Fa-f]*:[0-9A-Fa-f:.]*|:\d+`)

// A production worker refuses a receiver on loopback, and the attempt the
// merchant reads says so in a fixed phrase: not the address the host name
// resolved to, nor the port, which would let a merchant map paygate's
// network. The operator's log keeps the detail.
func TestProductionAttemptHidesRefusedAddress(t *testing.T) {
	storetest.ForEach(t, func(t *testing.T, backend string) {
		ctx := context.Background()
		db := storetest.Open(t, backend)
		keys, err := vault.ParseKeyring("t1:"+vault.NewKey(), "")
		if err != nil {
			t.Fatal(err)
		}
		m := merchants.NewMerchant("m", false, clock.Now())
		if err := db.CreateMerchant(ctx, m, audit.New(audit.ActorCLI, audit.MerchantCreated, m.ID, m.ID, m.CreatedAt)); err != nil {
			t.Fatal(err)
		}
		var hits atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
		t.Cleanup(srv.Close)
		port := strconv.Itoa(srv.Listener.Addr().(*net.TCPAddr).Port)

		// A development service lets loopback URLs in (as a URL whose name
		// is re-pointed after creation would get in); the production worker
		// must still refuse them when it connects.
		svc := webhooks.NewService(db, keys, false)
		acct := tenant.Account{Scope: tenant.Scope{MerchantID: m.ID}}
		endpoints := map[string]string{} // id: host
		for _, host := range []string{"localhost", "127.0.0.1"} {
			u := "http://" + net.JoinHostPort(host, port) + "/hooks"
			ep, err := svc.Create(ctx, acct, webhooks.CreateParams{URL: &u, EnabledEvents: []string{"*"}})
			if err != nil {
				t.Fatal(err)
			}
			endpoints[ep.ID] = host
		}
		now := clock.Now()
		p := &payments.Payment{ID: ids.New(ids.Payment), Object: "payment", Amount: 500, Currency: "EUR",
			Status: payments.RequiresPaymentMethod, CaptureMethod: payments.CaptureManual,
			Connector: "sandbox", CreatedAt: now, UpdatedAt: now, MerchantID: m.ID}
		ev, err := events.New(m.ID, events.PaymentCreated, p.ID, false, p, now)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.CreatePayment(ctx, p, payments.Change{Events: []events.Event{ev}}, nil); err != nil {
			t.Fatal(err)
		}

		cfg := webhooks.DefaultConfig()
		cfg.Production = true
		// One attempt each: the retry is an hour away.
		cfg.Poll, cfg.Timeout, cfg.RetryBase = 10*time.Millisecond, 2*time.Second, time.Hour
		logs := &testutil.SyncBuffer{}
		wctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			webhooks.NewWorker(db, keys, cfg, slog.New(slog.NewJSONHandler(logs, nil))).Run(wctx)
		}()
		defer func() { cancel(); <-done }()

		for id, host := range endpoints {
			var atts []*webhooks.Attempt
			deadline := time.Now().Add(10 * time.Second)
			for len(atts) == 0 {
				if time.Now().After(deadline) {
					t.Fatalf("%s: no attempt recorded", host)
				}
				time.Sleep(10 * time.Millisecond)
				if atts, _, err = db.Attempts(ctx, tenant.Scope{MerchantID: m.ID}, id, webhooks.ListQuery{Limit: 10}); err != nil {
					t.Fatal(err)
				}
			}
			dels, _, err := db.Deliveries(ctx, tenant.Scope{MerchantID: m.ID}, id, webhooks.ListQuery{Limit: 10})
			if err != nil || len(dels) != 1 {
				t.Fatalf("%s: deliveries %v %v", host, dels, err)
			}
			for what, msg := range map[string]string{"attempt error": atts[0].Error, "delivery last_error": dels[0].LastError} {
				if msg != notAllowed {
					t.Errorf("%s: %s %q, want %q", host, what, msg, notAllowed)
				}
				if strings.Contains(msg, "127.0.0.1") || strings.Contains(msg, "::1") || strings.Contains(msg, port) {
					t.Errorf("%s: %s %q names the resolved address or port", host, what, msg)
				}
				if a := addressLike.FindString(msg); a != "" {
					t.Errorf("%s: %s %q holds %q, which looks like an address", host, what, msg, a)
				}
			}
			if atts[0].StatusCode != 0 {
				t.Errorf("%s: status code %d, want 0 (no answer)", host, atts[0].StatusCode)
			}
		}
		if n := hits.Load(); n != 0 {
			t.Errorf("the receiver on loopback got %d requests", n)
		}
		cancel()
		<-done
		// The operator still learns what was refused, and why.
		if l := logs.String(); !strings.Contains(l, "refused to connect to") || !strings.Contains(l, "loopback") || !strings.Contains(l, ":"+port) {
			t.Errorf("the log lacks the detail of the refused connection:\n%s", l)
		}
	})
}
