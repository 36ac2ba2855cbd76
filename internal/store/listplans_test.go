package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/paygate/paygate/internal/events"
	"github.com/paygate/paygate/internal/payments"
	"github.com/paygate/paygate/internal/refunds"
	"github.com/paygate/paygate/internal/store"
	"github.com/paygate/paygate/internal/store/storetest"
	"github.com/paygate/paygate/internal/tenant"
)

// Every list filter of the API reads an index whose leading columns are
// the filter's, in the list's order: a page then costs the same with a
// million rows as with ten. The test runs the store's own list methods,
// catches the SQL they send, and reads the generic plan of each (the one a
// prepared statement keeps) on freshly migrated, empty tables, where the
// planner has no statistics to lean on. It fails if a list scans a table,
// sorts, or reads an index that does not take all of its equality filters.
func TestEveryListFilterReadsItsIndex(t *testing.T) {
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
	conn := genericPlansOf(t, db)
	scope := tenant.Scope{MerchantID: "mer_x", Livemode: false}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t1 := t0.Add(24 * time.Hour)
	const after = "pay_0000000000000000000000000A"

	type check struct {
		name  string
		list  func() error
		index string
		// cond must appear in the index condition, beyond the tenant's.
		cond []string
	}
	var checks []check
	payList := func(name string, q payments.ListQuery, index string, cond ...string) {
		q.Limit = 10
		checks = append(checks, check{"payments " + name, func() error { _, _, err := db.Payments(ctx, scope, q); return err }, index, cond})
	}
	payList("all", payments.ListQuery{}, "payments")
	payList("after a cursor", payments.ListQuery{StartingAfter: after}, "payments", "id <")
	payList("created_gte", payments.ListQuery{CreatedGTE: &t0}, "payments", "id >=")
	payList("created_lte", payments.ListQuery{CreatedLTE: &t1}, "payments", "id <=")
	payList("created range", payments.ListQuery{CreatedGTE: &t0, CreatedLTE: &t1}, "payments", "id >=", "id <=")
	for _, st := range []payments.Status{payments.RequiresPaymentMethod, payments.RequiresConfirmation, payments.RequiresAction,
		payments.Processing, payments.RequiresCapture, payments.Succeeded, payments.Failed, payments.Canceled} {
		payList("status="+string(st), payments.ListQuery{Status: st}, "payments_status", "status =")
	}
	payList("status and created range", payments.ListQuery{Status: payments.Failed, CreatedGTE: &t0, CreatedLTE: &t1}, "payments_status", "status =", "id >=", "id <=")
	checks = append(checks,
		check{"refunds all", func() error { _, _, err := db.Refunds(ctx, scope, refunds.ListQuery{Limit: 10}); return err }, "refunds", nil},
		check{"refunds of a payment", func() error {
			_, _, err := db.Refunds(ctx, scope, refunds.ListQuery{Limit: 10, PaymentID: "pay_x"})
			return err
		}, "refunds_payment", []string{"payment_id ="}},
		check{"events all", func() error { _, _, err := db.Events(ctx, scope, events.ListQuery{Limit: 10}); return err }, "events", nil},
		check{"events of a type", func() error {
			_, _, err := db.Events(ctx, scope, events.ListQuery{Limit: 10, Type: events.PaymentFailed})
			return err
		}, "events_type", []string{"type ="}},
		check{"events of an object", func() error {
			_, _, err := db.Events(ctx, scope, events.ListQuery{Limit: 10, ObjectID: "pay_x"})
			return err
		}, "events_object", []string{"object_id ="}},
	)
	for _, live := range []bool{false, true} {
		scope.Livemode = live
		for i, c := range checks {
			c.index += map[bool]string{false: "_test", true: "_live"}[live]
			checkList(t, conn, rec, fmt.Sprintf("list_%t_%d", live, i), c.name, c.list, c.index, c.cond)
		}
	}
}

// checkList runs list and checks that its statement's generic plan reads
// index in order, with cond in its index condition.
func checkList(t *testing.T, conn *sqlConn, rec *recorder, stmt, name string, list func() error, index string, cond []string) {
	t.Helper()
	{
		rec.reset()
		if err := list(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		q := rec.last(t)
		plan := explainGeneric(t, conn, stmt, q)
		scan := findScan(plan.Plan)
		if scan == nil || scan.IndexName != index || hasNode(plan.Plan, "Sort") {
			t.Errorf("%s: the plan does not read %s in order:\n%s\n%s", name, index, q.sql, plan.raw)
			return
		}
		for _, want := range append([]string{"merchant_id ="}, cond...) {
			if !strings.Contains(scan.IndexCond, want) {
				t.Errorf("%s: %s's condition %q lacks %q: the rest is filtered row by row", name, index, scan.IndexCond, want)
			}
		}
	}
}

// genericPlansOf is genericPlans for a store opened by the test.
func genericPlansOf(t *testing.T, db *store.DB) *sqlConn {
	t.Helper()
	conn, err := db.SQL().Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := conn.ExecContext(context.Background(), `SET plan_cache_mode = force_generic_plan`); err != nil {
		t.Fatal(err)
	}
	return conn
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

type plan struct {
	Plan planNode
	raw  string
}

// explainGeneric prepares q and returns its generic plan with q's
// arguments, written as literals (EXPLAIN EXECUTE takes no parameters).
func explainGeneric(t *testing.T, conn *sqlConn, name string, q query) plan {
	t.Helper()
	ctx := context.Background()
	if _, err := conn.ExecContext(ctx, `PREPARE `+name+` AS `+q.sql); err != nil {
		t.Fatalf("prepare %s: %v", q.sql, err)
	}
	var lits []string
	for _, a := range q.args {
		switch v := a.(type) {
		case pgx.QueryResultFormatsByOID, pgx.QueryResultFormats, pgx.QueryExecMode:
			continue // the driver's options, not arguments
		case string:
			lits = append(lits, "'"+strings.ReplaceAll(v, "'", "''")+"'")
		case time.Time:
			lits = append(lits, "'"+v.UTC().Format(time.RFC3339Nano)+"'")
		default:
			lits = append(lits, fmt.Sprint(v))
		}
	}
	var raw []byte
	if err := conn.QueryRowContext(ctx, `EXPLAIN (FORMAT JSON) EXECUTE `+name+`(`+strings.Join(lits, ", ")+`)`).Scan(&raw); err != nil {
		t.Fatalf("explain %s %v: %v", q.sql, lits, err)
	}
	var doc []struct{ Plan planNode }
	if err := json.Unmarshal(raw, &doc); err != nil || len(doc) != 1 {
		t.Fatalf("plan %s: %v", raw, err)
	}
	return plan{Plan: doc[0].Plan, raw: string(raw)}
}

// findScan returns the first scan of a table in the plan.
func findScan(n planNode) *planNode {
	if strings.HasSuffix(n.NodeType, "Scan") {
		return &n
	}
	for _, c := range n.Plans {
		if s := findScan(c); s != nil {
			return s
		}
	}
	return nil
}

func hasNode(n planNode, nodeType string) bool {
	if n.NodeType == nodeType {
		return true
	}
	return slices.ContainsFunc(n.Plans, func(c planNode) bool { return hasNode(c, nodeType) })
}
