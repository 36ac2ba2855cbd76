package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/paygate/paygate/internal/events"
	"github.com/paygate/paygate/internal/store/sqldb"
	"github.com/paygate/paygate/internal/tenant"
	"github.com/paygate/paygate/internal/webhooks"
)

// insertEvents writes events and, in the same transaction, one pending
// delivery per enabled endpoint of the merchant subscribed to the type (and
// of the event's mode): an event is never committed without its deliveries.
func (db *DB) insertEvents(ctx context.Context, q sqldb.Execer, evs []events.Event) error {
	const fanOut = `INSERT INTO webhook_deliveries (endpoint_id, event_id, merchant_id, status, next_attempt_at, created_at, updated_at)
		SELECT w.id, $1, w.merchant_id, 'pending', $7, $7, $7 FROM webhook_endpoints w
		WHERE w.merchant_id = $2 AND w.status = 'enabled' AND w.livemode = $5 AND (w.enabled_events = '*' OR w.enabled_events LIKE $8)`
	for _, e := range evs {
		data, err := json.Marshal(e.Data)
		if err != nil {
			return err
		}
		args := []any{e.ID, e.MerchantID, e.Type, e.ObjectID, e.Livemode, string(data), e.CreatedAt, "%," + e.Type + ",%"}
		if db.eventWithFanOut {
			// One round trip: the event and its deliveries in one statement.
			if _, err := q.ExecContext(ctx, `WITH ev AS (INSERT INTO events (id, merchant_id, type, object_id, livemode, data, created_at)
				VALUES ($1, $2, $3, $4, $5, $6, $7)) `+fanOut, args...); err != nil {
				return fmt.Errorf("insert event: %w", err)
			}
			continue
		}
		if _, err := q.ExecContext(ctx, `INSERT INTO events (id, merchant_id, type, object_id, livemode, data, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, args[:7]...); err != nil {
			return fmt.Errorf("insert event: %w", err)
		}
		if _, err := q.ExecContext(ctx, fanOut, args...); err != nil {
			return fmt.Errorf("insert webhook deliveries: %w", err)
		}
	}
	return nil
}

// insertEventIf writes e and its webhook deliveries only if cond holds,
// checked when the statement runs: for an event that statements queued
// before it (pipelined, their outcome unknown to the caller) decide. cond
// names its parameters from $9, given in args.
func (db *DB) insertEventIf(ctx context.Context, q sqldb.Execer, e events.Event, cond string, args ...any) error {
	data, err := json.Marshal(e.Data)
	if err != nil {
		return err
	}
	all := append([]any{e.ID, e.MerchantID, e.Type, e.ObjectID, e.Livemode, string(data), e.CreatedAt, "%," + e.Type + ",%"}, args...)
	const endpoints = ` FROM webhook_endpoints w
		WHERE w.merchant_id = $2 AND w.status = 'enabled' AND w.livemode = $5 AND (w.enabled_events = '*' OR w.enabled_events LIKE $8)`
	if db.eventWithFanOut {
		// PostgreSQL: one statement; the values are typed, as no column
		// of a VALUES list tells their types here.
		if _, err := q.ExecContext(ctx, `WITH ev AS (INSERT INTO events (id, merchant_id, type, object_id, livemode, data, created_at)
			SELECT $1::text, $2::text, $3::text, $4::text, $5::boolean, $6::jsonb, $7::timestamptz WHERE `+cond+` RETURNING id)
			INSERT INTO webhook_deliveries (endpoint_id, event_id, merchant_id, status, next_attempt_at, created_at, updated_at)
			SELECT w.id, ev.id, w.merchant_id, 'pending', $7::timestamptz, $7::timestamptz, $7::timestamptz FROM ev, webhook_endpoints w
			WHERE w.merchant_id = $2::text AND w.status = 'enabled' AND w.livemode = $5::boolean
			AND (w.enabled_events = '*' OR w.enabled_events LIKE $8::text)`, all...); err != nil {
			return fmt.Errorf("insert event: %w", err)
		}
		return nil
	}
	if _, err := q.ExecContext(ctx, `INSERT INTO events (id, merchant_id, type, object_id, livemode, data, created_at)
		SELECT $1, $2, $3, $4, $5, $6, $7 WHERE `+cond, append(all[:7:7], append(make([]any, 1), args...)...)...); err != nil {
		return fmt.Errorf("insert event: %w", err)
	}
	if _, err := q.ExecContext(ctx, `INSERT INTO webhook_deliveries (endpoint_id, event_id, merchant_id, status, next_attempt_at, created_at, updated_at)
		SELECT w.id, $1, w.merchant_id, 'pending', $7, $7, $7`+endpoints+` AND EXISTS (SELECT 1 FROM events WHERE id = $1)`, all[:8]...); err != nil {
		return fmt.Errorf("insert webhook deliveries: %w", err)
	}
	return nil
}

const eventColumns = `e.id, e.merchant_id, e.type, e.object_id, e.livemode, e.data, e.created_at`

func scanEvent(row sqldb.Scanner) (*events.Event, error) { return scanEventAfter(row) }

// scanEventAfter scans a row whose last columns are eventColumns, the
// columns before them into before.
func scanEventAfter(row sqldb.Scanner, before ...any) (*events.Event, error) {
	var e events.Event
	var data string
	if err := row.Scan(append(before, &e.ID, &e.MerchantID, &e.Type, &e.ObjectID, &e.Livemode, &data, &e.CreatedAt)...); err != nil {
		return nil, err
	}
	e.Object, e.CreatedAt = "event", e.CreatedAt.UTC()
	if err := json.Unmarshal([]byte(data), &e.Data); err != nil {
		return nil, fmt.Errorf("event %s data: %w", e.ID, err)
	}
	return &e, nil
}

// Event returns one of a merchant's events.
func (db *DB) Event(ctx context.Context, scope tenant.Scope, id string) (*events.Event, error) {
	return sqldb.QueryOne(ctx, db.r, scanEvent, events.ErrNotFound, `SELECT `+eventColumns+` FROM events e
		WHERE e.merchant_id = $1 AND e.livemode = $2 AND e.id = $3`, scope.MerchantID, scope.Livemode, id)
}

// Events returns a page of a merchant's events, newest first.
func (db *DB) Events(ctx context.Context, scope tenant.Scope, q events.ListQuery) ([]*events.Event, bool, error) {
	f := scopeFilter("e", scope)
	f.Eq("e.type", q.Type)
	f.Eq("e.object_id", q.ObjectID)
	return sqldb.List(ctx, db.lists, `SELECT `+eventColumns+` FROM events e`, "e.id", f, sqldb.Page{Limit: q.Limit, After: q.StartingAfter, Before: q.EndingBefore}, scanEvent)
}

const endpointColumns = `w.id, w.merchant_id, w.url, w.description, w.enabled_events, w.status, w.livemode,
	w.secret_key_id, w.secret_dek, w.secret_data, w.previous_key_id, w.previous_dek, w.previous_data, w.previous_expires_at,
	w.created_at, w.updated_at`

func encodeTypes(types []string) string {
	if len(types) == 1 && types[0] == "*" {
		return "*"
	}
	return "," + strings.Join(types, ",") + ","
}

func decodeTypes(s string) []string {
	if s == "*" {
		return []string{"*"}
	}
	return strings.Split(strings.Trim(s, ","), ",")
}

func scanEndpoint(row sqldb.Scanner) (*webhooks.Endpoint, error) {
	var e webhooks.Endpoint
	var types string
	var prevKey sql.NullString
	var prevExp sql.NullTime
	if err := row.Scan(&e.ID, &e.MerchantID, &e.URL, &e.Description, &types, &e.Status, &e.Livemode,
		&e.Sealed.KeyID, &e.Sealed.DEK, &e.Sealed.Data, &prevKey, &e.Previous.DEK, &e.Previous.Data, &prevExp,
		&e.CreatedAt, &e.UpdatedAt); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, webhooks.ErrNotFound
		}
		return nil, err
	}
	e.Object, e.EnabledEvents = "webhook_endpoint", decodeTypes(types)
	e.Previous.KeyID, e.PreviousExpiresAt = prevKey.String, timePtr(prevExp)
	e.CreatedAt, e.UpdatedAt = e.CreatedAt.UTC(), e.UpdatedAt.UTC()
	return &e, nil
}

// CreateEndpoint implements webhooks.Store.
func (db *DB) CreateEndpoint(ctx context.Context, e *webhooks.Endpoint) error {
	_, err := db.w.ExecContext(ctx, `INSERT INTO webhook_endpoints (id, merchant_id, url, description, enabled_events, status, livemode,
		secret_key_id, secret_dek, secret_data, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		e.ID, e.MerchantID, e.URL, e.Description, encodeTypes(e.EnabledEvents), e.Status, e.Livemode,
		e.Sealed.KeyID, e.Sealed.DEK, e.Sealed.Data, e.CreatedAt, e.UpdatedAt)
	return err
}

// Endpoint implements webhooks.Store.
func (db *DB) Endpoint(ctx context.Context, scope tenant.Scope, id string) (*webhooks.Endpoint, error) {
	return scanEndpoint(db.r.QueryRowContext(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints w`+endpointOf, scope.MerchantID, scope.Livemode, id))
}

// endpointOf selects one endpoint ($3) of a scope ($1, $2).
const endpointOf = ` WHERE w.merchant_id = $1 AND w.livemode = $2 AND w.id = $3`

// Endpoints implements webhooks.Store: the endpoints of q.Livemode only.
func (db *DB) Endpoints(ctx context.Context, scope tenant.Scope, q webhooks.ListQuery) ([]*webhooks.Endpoint, bool, error) {
	f := scopeFilter("w", scope)
	return sqldb.List(ctx, db.lists, `SELECT `+endpointColumns+` FROM webhook_endpoints w`, "w.id", f,
		sqldb.Page{Limit: q.Limit, After: q.StartingAfter, Before: q.EndingBefore}, scanEndpoint)
}

// UpdateEndpoint implements webhooks.Store.
func (db *DB) UpdateEndpoint(ctx context.Context, scope tenant.Scope, id string, fn func(e *webhooks.Endpoint) error) (*webhooks.Endpoint, error) {
	var out *webhooks.Endpoint
	err := db.tx(ctx, func(tx *sql.Tx) error {
		e, err := scanEndpoint(tx.QueryRowContext(ctx, `SELECT `+endpointColumns+` FROM webhook_endpoints w`+endpointOf+db.lockOf("w"),
			scope.MerchantID, scope.Livemode, id))
		if err != nil {
			return err
		}
		if err := fn(e); err != nil {
			return err
		}
		var prevKey any
		if e.Previous.KeyID != "" {
			prevKey = e.Previous.KeyID
		}
		if _, err := tx.ExecContext(ctx, `UPDATE webhook_endpoints SET url = $3, description = $4, enabled_events = $5, status = $6,
			secret_key_id = $7, secret_dek = $8, secret_data = $9, previous_key_id = $10, previous_dek = $11, previous_data = $12,
			previous_expires_at = $13, updated_at = $14 WHERE merchant_id = $1 AND id = $2`,
			e.MerchantID, e.ID, e.URL, e.Description, encodeTypes(e.EnabledEvents), e.Status,
			e.Sealed.KeyID, e.Sealed.DEK, e.Sealed.Data, prevKey, e.Previous.DEK, e.Previous.Data, nullTime(e.PreviousExpiresAt), e.UpdatedAt); err != nil {
			return fmt.Errorf("update webhook endpoint: %w", err)
		}
		out = e
		return nil
	})
	return out, err
}

// DeleteEndpoint implements webhooks.Store; its deliveries and attempts go
// with it.
func (db *DB) DeleteEndpoint(ctx context.Context, scope tenant.Scope, id string) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		// SQLite enforces ON DELETE CASCADE only per connection setting;
		// deleting children first works the same on both.
		const ofScope = `EXISTS (SELECT 1 FROM webhook_endpoints WHERE id = $3 AND merchant_id = $1 AND livemode = $2)`
		for _, q := range []string{`DELETE FROM webhook_attempts WHERE endpoint_id = $3 AND ` + ofScope,
			`DELETE FROM webhook_deliveries WHERE endpoint_id = $3 AND ` + ofScope} {
			if _, err := tx.ExecContext(ctx, q, scope.MerchantID, scope.Livemode, id); err != nil {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM webhook_endpoints WHERE merchant_id = $1 AND livemode = $2 AND id = $3`, scope.MerchantID, scope.Livemode, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return webhooks.ErrNotFound
		}
		return nil
	})
}

const deliveryColumns = `d.endpoint_id, d.event_id, e.type, d.status, d.attempts, d.next_attempt_at, d.last_status_code, d.last_error, d.created_at, d.updated_at`

func scanDelivery(row sqldb.Scanner) (*webhooks.Delivery, error) {
	d := webhooks.Delivery{Object: "webhook_delivery"}
	var next time.Time
	if err := row.Scan(&d.EndpointID, &d.EventID, &d.EventType, &d.Status, &d.Attempts, &next, &d.LastStatusCode, &d.LastError, &d.CreatedAt, &d.UpdatedAt); err != nil {
		return nil, err
	}
	d.CreatedAt, d.UpdatedAt = d.CreatedAt.UTC(), d.UpdatedAt.UTC()
	if d.Status == webhooks.Pending {
		next = next.UTC()
		d.NextAttemptAt = &next
	}
	return &d, nil
}

// Deliveries implements webhooks.Store: newest event first.
func (db *DB) Deliveries(ctx context.Context, scope tenant.Scope, endpointID string, q webhooks.ListQuery) ([]*webhooks.Delivery, bool, error) {
	f := endpointFilter("d", scope, endpointID)
	f.Eq("d.event_id", q.EventID)
	f.Eq("d.status", q.Status)
	return sqldb.List(ctx, db.lists, `SELECT `+deliveryColumns+` FROM webhook_deliveries d JOIN events e ON e.id = d.event_id`, "d.event_id", f,
		sqldb.Page{Limit: q.Limit, After: q.StartingAfter, Before: q.EndingBefore}, scanDelivery)
}

// Attempts implements webhooks.Store: newest first.
func (db *DB) Attempts(ctx context.Context, scope tenant.Scope, endpointID string, q webhooks.ListQuery) ([]*webhooks.Attempt, bool, error) {
	f := endpointFilter("a", scope, endpointID)
	f.Eq("a.event_id", q.EventID)
	return sqldb.List(ctx, db.lists, `SELECT a.id, a.endpoint_id, a.event_id, a.attempted_at, a.status_code, a.duration_ms, a.error FROM webhook_attempts a`,
		"a.id", f, sqldb.Page{Limit: q.Limit, After: q.StartingAfter, Before: q.EndingBefore}, func(row sqldb.Scanner) (*webhooks.Attempt, error) {
			a := webhooks.Attempt{Object: "webhook_attempt"}
			if err := row.Scan(&a.ID, &a.EndpointID, &a.EventID, &a.AttemptedAt, &a.StatusCode, &a.DurationMS, &a.Error); err != nil {
				return nil, err
			}
			a.AttemptedAt = a.AttemptedAt.UTC()
			return &a, nil
		})
}

// endpointFilter starts the WHERE clause of a list of rows (deliveries,
// attempts) of one endpoint, by the table's alias, that belongs to scope.
func endpointFilter(alias string, scope tenant.Scope, endpointID string) sqldb.Filter {
	var f sqldb.Filter
	f.Add(alias+".endpoint_id = $%d", endpointID)
	f.Args = append(f.Args, scope.MerchantID, scope.Livemode)
	f.Const(fmt.Sprintf("EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.id = %s.endpoint_id AND w.merchant_id = $%d AND w.livemode = $%d)",
		alias, len(f.Args)-1, len(f.Args)))
	return f
}

// Redeliver implements webhooks.Store.
func (db *DB) Redeliver(ctx context.Context, scope tenant.Scope, endpointID, eventID string, now time.Time) (*webhooks.Delivery, error) {
	var out *webhooks.Delivery
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var one int
		// The endpoint and the event both of the scope: test events go to
		// test endpoints, a merchant's events to its own.
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM events e JOIN webhook_endpoints w ON w.id = $4 AND w.merchant_id = e.merchant_id AND w.livemode = e.livemode
			WHERE e.merchant_id = $1 AND e.livemode = $2 AND e.id = $3`, scope.MerchantID, scope.Livemode, eventID, endpointID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return webhooks.ErrNotFound
		}
		if err != nil {
			return err
		}
		// A fresh delivery: due now, with a full MaxAge of retries from now.
		if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_deliveries (endpoint_id, event_id, merchant_id, status, next_attempt_at, created_at, updated_at)
			VALUES ($1, $2, $3, 'pending', $4, $4, $4)
			ON CONFLICT (endpoint_id, event_id) DO UPDATE SET status = 'pending', attempts = 0, next_attempt_at = $4, created_at = $4,
				updated_at = $4, locked_until = NULL`,
			endpointID, eventID, scope.MerchantID, now); err != nil {
			return fmt.Errorf("redeliver: %w", err)
		}
		out, err = scanDelivery(tx.QueryRowContext(ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries d JOIN events e ON e.id = d.event_id
			WHERE d.endpoint_id = $1 AND d.event_id = $2`, endpointID, eventID))
		return err
	})
	return out, err
}

// ClaimDeliveries implements webhooks.Queue: due deliveries, leased to
// this worker; the workers of several instances claim disjoint rows
// (dialect.skipLocked).
func (db *DB) ClaimDeliveries(ctx context.Context, now, leaseUntil time.Time, limit int) ([]webhooks.Due, error) {
	var out []webhooks.Due
	err := db.tx(ctx, func(tx *sql.Tx) error {
		// A disabled endpoint's deliveries wait; they go when it is enabled again.
		rows, err := tx.QueryContext(ctx, `SELECT d.endpoint_id, d.event_id FROM webhook_deliveries d
			WHERE d.status = 'pending' AND d.next_attempt_at <= $1 AND (d.locked_until IS NULL OR d.locked_until < $1)
			AND EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.id = d.endpoint_id AND w.status = 'enabled')
			ORDER BY d.next_attempt_at LIMIT $2`+db.skipLocked, now, limit)
		if err != nil {
			return err
		}
		type key struct{ endpoint, event string }
		keys, err := func() ([]key, error) {
			defer rows.Close()
			var keys []key
			for rows.Next() {
				var k key
				if err := rows.Scan(&k.endpoint, &k.event); err != nil {
					return nil, err
				}
				keys = append(keys, k)
			}
			return keys, rows.Err()
		}()
		if err != nil {
			return err
		}
		for _, k := range keys {
			if _, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET locked_until = $3, attempts = attempts + 1, updated_at = $4
				WHERE endpoint_id = $1 AND event_id = $2`, k.endpoint, k.event, leaseUntil, now); err != nil {
				return err
			}
			var d webhooks.Due
			var prevKey sql.NullString
			var prevExp sql.NullTime
			e, err := scanEventAfter(tx.QueryRowContext(ctx, `SELECT d.attempts, d.created_at, w.url, w.secret_key_id, w.secret_dek, w.secret_data,
				w.previous_key_id, w.previous_dek, w.previous_data, w.previous_expires_at, `+eventColumns+`
				FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id JOIN events e ON e.id = d.event_id
				WHERE d.endpoint_id = $1 AND d.event_id = $2`, k.endpoint, k.event),
				&d.Attempt, &d.CreatedAt, &d.URL, &d.Sealed.KeyID, &d.Sealed.DEK, &d.Sealed.Data,
				&prevKey, &d.Previous.DEK, &d.Previous.Data, &prevExp)
			if err != nil {
				return err
			}
			d.EndpointID, d.Event = k.endpoint, *e
			d.Previous.KeyID, d.PreviousExpiresAt = prevKey.String, timePtr(prevExp)
			out = append(out, d)
		}
		return nil
	})
	return out, err
}

// RecordAttempt implements webhooks.Queue.
func (db *DB) RecordAttempt(ctx context.Context, a webhooks.Attempt, r webhooks.Result) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		code := 0
		if a.StatusCode > 0 {
			code = a.StatusCode
		}
		next := a.AttemptedAt
		if r.Status == webhooks.Pending {
			next = r.NextAttemptAt
		}
		// Only while the delivery is still under this attempt's claim: a
		// redelivery meanwhile (Redeliver: attempts 0, no lease) must
		// not be marked done by the attempt that was already on its way.
		res, err := tx.ExecContext(ctx, `UPDATE webhook_deliveries SET status = $3, next_attempt_at = $4, locked_until = NULL,
			last_status_code = $5, last_error = $6, updated_at = $7 WHERE endpoint_id = $1 AND event_id = $2
			AND ($8 = 0 OR (attempts = $8 AND locked_until IS NOT NULL))`,
			a.EndpointID, a.EventID, r.Status, next, code, a.Error, a.AttemptedAt, r.Claim)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			// The endpoint was deleted meanwhile (nothing to record), or the
			// claim is stale (the attempt happened: it is recorded).
			var one int
			err := tx.QueryRowContext(ctx, `SELECT 1 FROM webhook_deliveries WHERE endpoint_id = $1 AND event_id = $2`, a.EndpointID, a.EventID).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return nil
			}
			if err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO webhook_attempts (id, endpoint_id, event_id, attempted_at, status_code, duration_ms, error)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, a.ID, a.EndpointID, a.EventID, a.AttemptedAt, code, a.DurationMS, a.Error)
		return err
	})
}

// PendingDeliveries counts deliveries not yet succeeded or failed, for the
// queue-depth metric.
func (db *DB) PendingDeliveries(ctx context.Context) (int, error) {
	var n int
	err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'`).Scan(&n)
	return n, err
}
