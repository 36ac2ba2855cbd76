package store_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paygate/paygate/internal/checkout"
	"github.com/paygate/paygate/internal/customers"
	"github.com/paygate/paygate/internal/events"
	"github.com/paygate/paygate/internal/ids"
	"github.com/paygate/paygate/internal/payments"
	"github.com/paygate/paygate/internal/refunds"
	"github.com/paygate/paygate/internal/store"
	"github.com/paygate/paygate/internal/store/storetest"
	"github.com/paygate/paygate/internal/tenant"
)

// Every list filter of the API reads only about a page of rows, whatever
// the table holds: a page costs the same with a million rows as with ten.
// The test loads a skewed history (one merchant's 30,000 test payments, a
// few in each rare status, beside another merchant's 300 live ones), lets
// PostgreSQL gather statistics, runs the store's own list methods, catches
// the SQL they send, and runs it again under EXPLAIN ANALYZE as the store
// runs it (planned for its arguments). It fails if a list reads or
// filters out more than a few pages of rows.
func TestEveryListFilterReadsAboutAPage(t *testing.T) {
	if !slices.Contains(storetest.Backends(t), store.Postgres) {
		t.Skip("PostgreSQL only: the plan is PostgreSQL's")
	}
	ctx := context.Background()
	rec := &recorder{}
	db, err := store.Open(ctx, storetest.NewURL(t, store.Postgres), store.Options{Tracer: rec})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	big, small := newMerchant(t, db), newMerchant(t, db)
	end := time.Now().Add(-time.Hour)
	rare := map[int]string{7: "canceled", 8: "canceled", 9: "requires_capture", 10: "requires_action", 11: "requires_payment_method"}
	refunded := loadHistory(t, db, big.ID, false, 30000, end, func(i int) string {
		if s, ok := rare[i]; ok {
			return s
		}
		if i%50 == 49 {
			return "failed"
		}
		return "succeeded"
	})
	loadHistory(t, db, small.ID, true, 300, end, func(int) string { return "succeeded" })
	regular := loadCustomers(t, db, big.ID, false, 20000, end)
	loadCustomers(t, db, small.ID, true, 300, end)
	loadCheckoutSessions(t, db, big.ID, false, 20000, end)
	loadCheckoutSessions(t, db, small.ID, true, 300, end)
	if _, err := db.SQL().ExecContext(ctx, `ANALYZE`); err != nil {
		t.Fatal(err)
	}

	bigScope, smallScope := tenant.Scope{MerchantID: big.ID}, tenant.Scope{MerchantID: small.ID, Livemode: true}
	day := end.Add(-183 * 24 * time.Hour)
	dayEnd, lastHour, monthAgo := day.Add(24*time.Hour), end.Add(-time.Hour), end.Add(-30*24*time.Hour)
	type check struct {
		name string
		list func() error
	}
	var checks []check
	payList := func(name string, scope tenant.Scope, q payments.ListQuery) {
		q.Limit = 10
		checks = append(checks, check{"payments " + name, func() error { _, _, err := db.Payments(ctx, scope, q); return err }})
	}
	payList("all", bigScope, payments.ListQuery{})
	payList("all, the small merchant", smallScope, payments.ListQuery{})
	payList("all, the big merchant's live mode (none)", tenant.Scope{MerchantID: big.ID, Livemode: true}, payments.ListQuery{})
	payList("after a cursor", bigScope, payments.ListQuery{StartingAfter: refunded})
	payList("before a cursor", bigScope, payments.ListQuery{EndingBefore: refunded})
	payList("created_gte, the last hour", bigScope, payments.ListQuery{CreatedGTE: &lastHour})
	payList("created_lte, a month ago", bigScope, payments.ListQuery{CreatedLTE: &monthAgo})
	payList("created, a day half a year ago", bigScope, payments.ListQuery{CreatedGTE: &day, CreatedLTE: &dayEnd})
	for _, st := range []payments.Status{payments.RequiresPaymentMethod, payments.RequiresConfirmation, payments.RequiresAction,
		payments.Processing, payments.RequiresCapture, payments.Succeeded, payments.Failed, payments.Canceled} {
		payList("status="+string(st), bigScope, payments.ListQuery{Status: st})
		payList("status="+string(st)+", a day half a year ago", bigScope, payments.ListQuery{Status: st, CreatedGTE: &day, CreatedLTE: &dayEnd})
	}
	payList("status=failed, the small merchant", smallScope, payments.ListQuery{Status: payments.Failed})
	for _, scope := range []tenant.Scope{bigScope, smallScope} {
		checks = append(checks,
			check{"refunds all", func() error { _, _, err := db.Refunds(ctx, scope, refunds.ListQuery{Limit: 10}); return err }},
			check{"events all", func() error { _, _, err := db.Events(ctx, scope, events.ListQuery{Limit: 10}); return err }})
		for _, typ := range events.Types() {
			checks = append(checks, check{"events of type " + typ, func() error {
				_, _, err := db.Events(ctx, scope, events.ListQuery{Limit: 10, Type: typ})
				return err
			}})
		}
	}
	checks = append(checks,
		check{"refunds of a payment", func() error {
			_, _, err := db.Refunds(ctx, bigScope, refunds.ListQuery{Limit: 10, PaymentID: refunded})
			return err
		}},
		check{"events of an object", func() error {
			_, _, err := db.Events(ctx, bigScope, events.ListQuery{Limit: 10, ObjectID: refunded})
			return err
		}})
	for _, scope := range []tenant.Scope{bigScope, smallScope} {
		checks = append(checks,
			check{"customers all", func() error { _, _, err := db.Customers(ctx, scope, customers.ListQuery{Limit: 10}); return err }},
			check{"customers of a rare email", func() error {
				_, _, err := db.Customers(ctx, scope, customers.ListQuery{Limit: 10, Email: "rare@example.com"})
				return err
			}},
			check{"customers of a common email", func() error {
				_, _, err := db.Customers(ctx, scope, customers.ListQuery{Limit: 10, Email: "shared@example.com"})
				return err
			}})
	}
	for _, scope := range []tenant.Scope{bigScope, smallScope, {MerchantID: big.ID, Livemode: true}} {
		checks = append(checks, check{"checkout sessions all", func() error {
			_, _, err := db.CheckoutSessions(ctx, scope, checkout.ListQuery{Limit: 10})
			return err
		}})
	}
	checks = append(checks, check{"a customer's saved methods", func() error {
		_, _, err := db.CustomerMethods(ctx, bigScope, regular, payments.MethodListQuery{Limit: 10})
		return err
	}})
	for _, c := range checks {
		rec.reset()
		if err := c.list(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		q := rec.last(t)
		// A prepared statement would soon run a generic plan, made for no
		// argument in particular: the store must not prepare lists.
		if !slices.Contains(q.args, any(pgx.QueryExecModeExec)) {
			t.Errorf("%s: sent as a prepared statement (args %v)", c.name, q.args)
		}
		var raw []byte
		if err := db.SQL().QueryRowContext(ctx, `EXPLAIN (ANALYZE, FORMAT JSON) `+q.sql, append([]any{pgx.QueryExecModeExec}, args(q)...)...).Scan(&raw); err != nil {
			t.Fatalf("%s: explain: %v", c.name, err)
		}
		var doc []struct{ Plan planNode }
		if err := json.Unmarshal(raw, &doc); err != nil || len(doc) != 1 {
			t.Fatalf("plan %s: %v", raw, err)
		}
		if read := rowsRead(doc[0].Plan); read > 150 {
			t.Errorf("%s: reads %.0f rows:\n%s\n%s", c.name, read, q.sql, raw)
		}
	}
}

// loadHistory writes n payments of merchantID, one every 20 minutes up to
// end, with the status status(i) and an event each, and three refunds of
// the 100th payment, which it returns.
func loadHistory(t *testing.T, db *store.DB, merchantID string, livemode bool, n int, end time.Time, status func(i int) string) string {
	t.Helper()
	var pids, sts, eids, types []string
	var ats []time.Time
	for i := range n {
		at := end.Add(-time.Duration(n-i) * 20 * time.Minute).UTC().Truncate(time.Microsecond)
		pids = append(pids, ids.NewAt(ids.Payment, at))
		sts = append(sts, status(i))
		eids = append(eids, ids.NewAt(ids.Event, at))
		typ := "payment." + status(i)
		if !slices.Contains(events.Types(), typ) {
			typ = events.PaymentCreated
		}
		types = append(types, typ)
		ats = append(ats, at)
	}
	ctx := context.Background()
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO payments (id, merchant_id, amount, currency, status, capture_method, connector, livemode, created_at, updated_at)
			SELECT id, $1, 1000, 'USD', status, 'automatic', 'sandbox', $2, at, at FROM unnest($3::text[], $4::text[], $5::timestamptz[]) AS u(id, status, at)`,
			[]any{merchantID, livemode, pids, sts, ats}},
		{`INSERT INTO events (id, merchant_id, type, object_id, livemode, data, created_at)
			SELECT id, $1, type, object_id, $2, '{}', at FROM unnest($3::text[], $4::text[], $5::text[], $6::timestamptz[]) AS u(id, type, object_id, at)`,
			[]any{merchantID, livemode, eids, types, pids, ats}},
		{`INSERT INTO refunds (id, merchant_id, payment_id, amount, currency, status, livemode, created_at, updated_at)
			SELECT 're_' || substr(md5($3 || g::text), 1, 26), $1, $3, 100, 'USD', 'succeeded', $2, now(), now() FROM generate_series(1, 3) g`,
			[]any{merchantID, livemode, pids[100]}},
	} {
		if _, err := db.SQL().ExecContext(ctx, q.sql, q.args...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	return pids[100]
}

// loadCustomers writes n customers of merchantID, one every 30 minutes up
// to end (so two merchants' customers interleave, as they arrive), every
// third deleted, most sharing one email and one with a rare one, and a
// saved card for each; the 100th customer has three more, and is returned.
func loadCustomers(t *testing.T, db *store.DB, merchantID string, livemode bool, n int, end time.Time) string {
	t.Helper()
	var cids, emails, pmids, owners []string
	var deleted []bool
	at := end.UTC()
	for i := range n {
		cids = append(cids, ids.NewAt(ids.Customer, end.Add(-time.Duration(n-i)*30*time.Minute)))
		email := "shared@example.com"
		if i == 7 {
			email = "rare@example.com"
		}
		emails = append(emails, email)
		deleted = append(deleted, i%3 == 2)
		pmids = append(pmids, ids.New(ids.PaymentMethod))
		owners = append(owners, cids[i])
	}
	for range 3 {
		pmids = append(pmids, ids.New(ids.PaymentMethod))
		owners = append(owners, cids[100])
	}
	ctx := context.Background()
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO customers (id, merchant_id, livemode, email, created_at, updated_at, deleted_at)
			SELECT id, $1, $2, email, $5::timestamptz, $5::timestamptz, CASE WHEN del THEN $5::timestamptz END FROM unnest($3::text[], $4::text[], $6::boolean[]) AS u(id, email, del)`,
			[]any{merchantID, livemode, cids, emails, at, deleted}},
		{`INSERT INTO payment_methods (id, merchant_id, type, livemode, card_brand, card_last4, card_fingerprint, customer_id, attached_at, created_at)
			SELECT id, $1, 'card', $2, 'visa', '4242', md5(id), owner, $5, $5 FROM unnest($3::text[], $4::text[]) AS u(id, owner)`,
			[]any{merchantID, livemode, pmids, owners, at}},
	} {
		if _, err := db.SQL().ExecContext(ctx, q.sql, q.args...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	return cids[100]
}

// loadCheckoutSessions writes n checkout sessions of merchantID, one
// every 30 minutes up to end, most expired, a few still open.
func loadCheckoutSessions(t *testing.T, db *store.DB, merchantID string, livemode bool, n int, end time.Time) {
	t.Helper()
	var sids, sts []string
	var ats []time.Time
	for i := range n {
		at := end.Add(-time.Duration(n-i) * 30 * time.Minute).UTC().Truncate(time.Microsecond)
		sids = append(sids, ids.NewAt(ids.Checkout, at))
		st := "expired"
		if i >= n-5 {
			st = "open"
		}
		sts = append(sts, st)
		ats = append(ats, at)
	}
	if _, err := db.SQL().ExecContext(context.Background(), `INSERT INTO checkout_sessions (id, merchant_id, livemode, status, amount, currency,
		success_url, cancel_url, capture_method, token_hash, expires_at, created_at, updated_at)
		SELECT id, $1, $2, status, 1000, 'USD', 'https://shop.example/ok', 'https://shop.example/cart', 'automatic',
			sha256(id::bytea), at + interval '1 day', at, at FROM unnest($3::text[], $4::text[], $5::timestamptz[]) AS u(id, status, at)`,
		merchantID, livemode, sids, sts, ats); err != nil {
		t.Fatal(err)
	}
}

// args are a statement's arguments, without the driver's options.
func args(q query) []any {
	var out []any
	for _, a := range q.args {
		switch a.(type) {
		case pgx.QueryResultFormatsByOID, pgx.QueryResultFormats, pgx.QueryExecMode:
		default:
			out = append(out, a)
		}
	}
	return out
}

// rowsRead adds up the rows a plan's scans returned and filtered out.
func rowsRead(n planNode) float64 {
	read := n.RowsRemoved
	if strings.HasSuffix(n.NodeType, "Scan") {
		read += n.ActualRows * max(n.Loops, 1)
	}
	for _, c := range n.Plans {
		read += rowsRead(c)
	}
	return read
}

type query struct {
	sql  string
	args []any
}

// recorder is a pgx tracer that keeps the statements the store sends.
type recorder struct {
	mu      sync.Mutex
	queries []query
}

func (r *recorder) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.queries = append(r.queries, query{d.SQL, d.Args})
	return ctx
}

func (r *recorder) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.queries = nil
}

func (r *recorder) last(t *testing.T) query {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.queries) == 0 {
		t.Fatal("the store sent no statement")
	}
	return r.queries[len(r.queries)-1]
}
