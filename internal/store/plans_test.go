package store_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"slices"
	"testing"

	"github.com/paygate/paygate/internal/store"
	"github.com/paygate/paygate/internal/store/storetest"
)

// A lookup by id within a tenant ("WHERE merchant_id = $1 AND id = $2",
// the shape of every get, lock and update by id) must find its row by a
// key that starts with id, or with merchant_id then id. On a young table,
// which has no statistics, the planner costs every index that starts with
// merchant_id alike; an index like (merchant_id, status, id) then made
// each update of a payment scan all the merchant's payments, and the
// prepared statement kept that plan. The test asks for the generic plan,
// the one a prepared statement keeps, on freshly migrated empty tables.
func TestLookupByIDUsesAKeyThatStartsWithID(t *testing.T) {
	conn := genericPlans(t)
	tables := strs(t, conn, `SELECT table_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND column_name IN ('id', 'merchant_id')
		GROUP BY table_name HAVING count(*) = 2 ORDER BY table_name`)
	for _, want := range []string{"payments", "refunds", "events", "payment_methods", "webhook_endpoints", "api_keys"} {
		if !slices.Contains(tables, want) {
			t.Fatalf("tenant tables %v: %s missing", tables, want)
		}
	}
	for _, table := range tables {
		index, plan := planIndex(t, conn, "lookup_"+table, `SELECT * FROM `+table+` WHERE merchant_id = $1 AND id = $2 FOR UPDATE`, `'m', 'x'`)
		if index == "" {
			t.Errorf("%s: a lookup by id scans the table: %s", table, plan)
			continue
		}
		cols := strs(t, conn, `SELECT a.attname FROM pg_index i
			CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)
			JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
			WHERE i.indexrelid = $1::regclass ORDER BY k.n`, index)
		ok := len(cols) > 0 && cols[0] == "id" || len(cols) > 1 && cols[0] == "merchant_id" && cols[1] == "id"
		if !ok {
			t.Errorf("%s: a lookup by id uses index %s %v, where id is not a leading key: it scans the merchant's rows", table, index, cols)
		}
	}
}

// genericPlans returns a connection to a freshly migrated PostgreSQL schema
// whose statements are planned as a prepared statement keeps them
// (the generic plan); it skips the test without PostgreSQL.
func genericPlans(t *testing.T) *sql.Conn {
	t.Helper()
	if !slices.Contains(storetest.Backends(t), store.Postgres) {
		t.Skip("PostgreSQL only: the plan is PostgreSQL's")
	}
	db := storetest.Open(t, store.Postgres)
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

// planIndex prepares query as name, two text parameters, and returns the
// index its plan for args scans ("" for none) and the plan.
func planIndex(t *testing.T, conn *sql.Conn, name, query, args string) (string, []byte) {
	t.Helper()
	ctx := context.Background()
	if _, err := conn.ExecContext(ctx, `PREPARE `+name+`(text, text) AS `+query); err != nil {
		t.Fatal(err)
	}
	var plan []byte
	if err := conn.QueryRowContext(ctx, `EXPLAIN (FORMAT JSON) EXECUTE `+name+`(`+args+`)`).Scan(&plan); err != nil {
		t.Fatal(err)
	}
	return indexOf(t, plan), plan
}

// strs runs a query of one text column and returns its values.
func strs(t *testing.T, conn *sql.Conn, query string, args ...any) []string {
	t.Helper()
	rows, err := conn.QueryContext(context.Background(), query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// indexOf returns the index an EXPLAIN (FORMAT JSON) plan scans, or "".
func indexOf(t *testing.T, plan []byte) string {
	t.Helper()
	var doc []struct{ Plan planNode }
	if err := json.Unmarshal(plan, &doc); err != nil || len(doc) != 1 {
		t.Fatalf("plan %s: %v", plan, err)
	}
	var find func(n planNode) string
	find = func(n planNode) string {
		if n.IndexName != "" {
			return n.IndexName
		}
		for _, c := range n.Plans {
			if name := find(c); name != "" {
				return name
			}
		}
		return ""
	}
	return find(doc[0].Plan)
}

type planNode struct {
	NodeType  string `json:"Node Type"`
	IndexName string `json:"Index Name"`
	IndexCond string `json:"Index Cond"`
	Relation  string `json:"Relation Name"`
	// EXPLAIN ANALYZE's counts.
	ActualRows  float64    `json:"Actual Rows"`
	Loops       float64    `json:"Actual Loops"`
	RowsRemoved float64    `json:"Rows Removed by Filter"`
	Plans       []planNode `json:"Plans"`
}
