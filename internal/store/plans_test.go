package store_test

import (
	"context"
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
	if !slices.Contains(storetest.Backends(t), store.Postgres) {
		t.Skip("PostgreSQL only: the plan is PostgreSQL's")
	}
	ctx := context.Background()
	db := storetest.Open(t, store.Postgres)
	conn, err := db.SQL().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rows, err := conn.QueryContext(ctx, `SELECT table_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND column_name IN ('id', 'merchant_id')
		GROUP BY table_name HAVING count(*) = 2 ORDER BY table_name`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"payments", "refunds", "events", "payment_methods", "webhook_endpoints", "api_keys"} {
		if !slices.Contains(tables, want) {
			t.Fatalf("tenant tables %v: %s missing", tables, want)
		}
	}
	if _, err := conn.ExecContext(ctx, `SET plan_cache_mode = force_generic_plan`); err != nil {
		t.Fatal(err)
	}
	for _, table := range tables {
		stmt := "lookup_" + table
		if _, err := conn.ExecContext(ctx, `PREPARE `+stmt+`(text, text) AS SELECT * FROM `+table+
			` WHERE merchant_id = $1 AND id = $2 FOR UPDATE`); err != nil {
			t.Fatal(err)
		}
		var plan []byte
		if err := conn.QueryRowContext(ctx, `EXPLAIN (FORMAT JSON) EXECUTE `+stmt+`('m', 'x')`).Scan(&plan); err != nil {
			t.Fatal(err)
		}
		index := indexOf(t, plan)
		if index == "" {
			t.Errorf("%s: a lookup by id scans the table: %s", table, plan)
			continue
		}
		var cols []string
		rows, err := conn.QueryContext(ctx, `SELECT a.attname FROM pg_index i
			CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)
			JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
			WHERE i.indexrelid = $1::regclass ORDER BY k.n`, index)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var c string
			if err := rows.Scan(&c); err != nil {
				t.Fatal(err)
			}
			cols = append(cols, c)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		ok := len(cols) > 0 && cols[0] == "id" || len(cols) > 1 && cols[0] == "merchant_id" && cols[1] == "id"
		if !ok {
			t.Errorf("%s: a lookup by id uses index %s %v, where id is not a leading key: it scans the merchant's rows", table, index, cols)
		}
	}
}

// A list filtered by a waiting status reads the partial index made for it:
// the store's condition must be one the planner proves the index's from.
func TestWaitingStatusListUsesItsIndex(t *testing.T) {
	if !slices.Contains(storetest.Backends(t), store.Postgres) {
		t.Skip("PostgreSQL only: the plan is PostgreSQL's")
	}
	ctx := context.Background()
	db := storetest.Open(t, store.Postgres)
	conn, err := db.SQL().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SET plan_cache_mode = force_generic_plan`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(ctx, `PREPARE waiting(text, text) AS SELECT p.id FROM payments p
		WHERE p.merchant_id = $1 AND p.status = $2 AND `+store.WaitingStatuses+` ORDER BY p.id DESC LIMIT 11`); err != nil {
		t.Fatal(err)
	}
	var plan []byte
	if err := conn.QueryRowContext(ctx, `EXPLAIN (FORMAT JSON) EXECUTE waiting('m', 'requires_capture')`).Scan(&plan); err != nil {
		t.Fatal(err)
	}
	if index := indexOf(t, plan); index != "payments_waiting" {
		t.Fatalf("a list of payments requiring capture reads %q, not payments_waiting: %s", index, plan)
	}
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
	IndexName string     `json:"Index Name"`
	Plans     []planNode `json:"Plans"`
}
