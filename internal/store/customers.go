package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/paygate/paygate/internal/customers"
	"github.com/paygate/paygate/internal/events"
	"github.com/paygate/paygate/internal/payments"
	"github.com/paygate/paygate/internal/store/sqldb"
	"github.com/paygate/paygate/internal/tenant"
)

// Customers and the payment methods saved to them (migration 13).
//
// Every change of what is saved to a customer takes the customer's row
// lock first (attach, a payment that saves its card, deletion), so that
// two savings of one card to one customer are one method: the second sees
// the first's and returns it. A method's row lock comes after its
// customer's, everywhere.

const customerColumns = `c.id, c.merchant_id, c.livemode, c.email, c.name, c.metadata, c.created_at, c.updated_at`

// customerOf selects one customer ($3) of a scope, not deleted.
const customerOf = ` FROM customers c WHERE c.merchant_id = $1 AND c.livemode = $2 AND c.id = $3 AND c.deleted_at IS NULL`

func scanCustomer(row sqldb.Scanner) (*customers.Customer, error) {
	c := customers.Customer{Object: "customer"}
	var md string
	if err := row.Scan(&c.ID, &c.MerchantID, &c.Livemode, &c.Email, &c.Name, &md, &c.CreatedAt, &c.UpdatedAt); err != nil {
		return nil, err
	}
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	if err := json.Unmarshal([]byte(md), &c.Metadata); err != nil {
		return nil, fmt.Errorf("customer %s metadata: %w", c.ID, err)
	}
	if c.Metadata == nil {
		c.Metadata = map[string]string{}
	}
	return &c, nil
}

// CreateCustomer implements customers.Store.
func (db *DB) CreateCustomer(ctx context.Context, c *customers.Customer, evs []events.Event) error {
	md, err := metadataJSON(c.Metadata)
	if err != nil {
		return err
	}
	return db.writer.Write(ctx, nil, func(q sqldb.Execer) error {
		if _, err := q.ExecContext(ctx, `INSERT INTO customers (id, merchant_id, livemode, email, name, metadata, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, c.ID, c.MerchantID, c.Livemode, c.Email, c.Name, md, c.CreatedAt, c.UpdatedAt); err != nil {
			return fmt.Errorf("insert customer: %w", err)
		}
		return db.insertEvents(ctx, q, evs)
	})
}

// Customer implements customers.Store.
func (db *DB) Customer(ctx context.Context, scope tenant.Scope, id string) (*customers.Customer, error) {
	return sqldb.QueryOne(ctx, db.r, scanCustomer, customers.ErrNotFound, `SELECT `+customerColumns+customerOf, scope.MerchantID, scope.Livemode, id)
}

// Customers implements customers.Store: a page, newest first, of one
// email when asked.
func (db *DB) Customers(ctx context.Context, scope tenant.Scope, q customers.ListQuery) ([]*customers.Customer, bool, error) {
	f := scopeFilter("c", scope)
	f.Const("c.deleted_at IS NULL")
	f.Eq("c.email", q.Email)
	return sqldb.List(ctx, db.lists, `SELECT `+customerColumns+` FROM customers c`, "c.id", f,
		sqldb.Page{Limit: q.Limit, After: q.StartingAfter, Before: q.EndingBefore}, scanCustomer)
}

// UpdateCustomer implements customers.Store.
func (db *DB) UpdateCustomer(ctx context.Context, scope tenant.Scope, id string, fn func(c *customers.Customer) ([]events.Event, error)) (*customers.Customer, error) {
	var c *customers.Customer
	lock := sqldb.Read{Query: `SELECT ` + customerColumns + customerOf + db.lockOf("c"), Args: []any{scope.MerchantID, scope.Livemode, id},
		Scan: scanInto(&c, scanCustomer, customers.ErrNotFound)}
	err := db.writer.Write(ctx, []sqldb.Read{lock}, func(q sqldb.Execer) error {
		evs, err := fn(c)
		if err != nil {
			return err
		}
		md, err := metadataJSON(c.Metadata)
		if err != nil {
			return err
		}
		if _, err := q.ExecContext(ctx, `UPDATE customers SET email = $2, name = $3, metadata = $4, updated_at = $5 WHERE id = $1`,
			c.ID, c.Email, c.Name, md, c.UpdatedAt); err != nil {
			return fmt.Errorf("update customer: %w", err)
		}
		return db.insertEvents(ctx, q, evs)
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// shredMethods detaches methods and destroys their sealed data: the data
// key (enc_dek) and the sealed number (enc_data) are deleted, so that no
// key of the ring opens them again (crypto-shredding). Brand, last four
// digits, expiry and fingerprint stay, for the payments they paid.
const shredMethods = `UPDATE payment_methods SET customer_id = NULL, network_transaction_id = NULL, detached_at = $2,
	enc_key_id = NULL, enc_dek = NULL, enc_data = NULL`

// DeleteCustomer implements customers.Store.
func (db *DB) DeleteCustomer(ctx context.Context, scope tenant.Scope, id string, now time.Time,
	fn func(c *customers.Customer, detached []*payments.Method) ([]events.Event, error)) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		c, err := sqldb.QueryOne(ctx, tx, scanCustomer, customers.ErrNotFound, `SELECT `+customerColumns+customerOf+db.lockOf("c"),
			scope.MerchantID, scope.Livemode, id)
		if err != nil {
			return err
		}
		ms, err := sqldb.QueryAll(ctx, tx, scanMethod, `SELECT `+methodColumns+` FROM payment_methods m WHERE m.customer_id = $1`+db.lockOf("m"), id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, shredMethods+` WHERE customer_id = $1`, id, now); err != nil {
			return fmt.Errorf("detach the customer's methods: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE customers SET deleted_at = $2, updated_at = $2 WHERE id = $1`, id, now); err != nil {
			return fmt.Errorf("delete customer: %w", err)
		}
		for _, m := range ms {
			shredded(m, now)
		}
		evs, err := fn(c, ms)
		if err != nil {
			return err
		}
		return db.insertEvents(ctx, tx, evs)
	})
}

// shredded makes m what shredMethods left of it.
func shredded(m *payments.Method, now time.Time) {
	m.Customer, m.NetworkTransactionID, m.DetachedAt = "", "", &now
	m.Secret.KeyID, m.Secret.DEK, m.Secret.Data = "", nil, nil
}

func scanMethod(row sqldb.Scanner) (*payments.Method, error) {
	var n nullMethod
	if err := row.Scan(n.dest()...); err != nil {
		return nil, err
	}
	return n.method(), nil
}

// CustomerExists implements payments.Store.
func (db *DB) CustomerExists(ctx context.Context, scope tenant.Scope, id string) error {
	var one int
	err := db.r.QueryRowContext(ctx, `SELECT 1`+customerOf, scope.MerchantID, scope.Livemode, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return payments.ErrCustomerNotFound
	}
	return err
}

// CustomerMethods implements payments.Store.
func (db *DB) CustomerMethods(ctx context.Context, scope tenant.Scope, customerID string, q payments.MethodListQuery) ([]*payments.Method, bool, error) {
	f := scopeFilter("m", scope)
	f.Add("m.customer_id = $%d", customerID)
	return sqldb.List(ctx, db.lists, `SELECT `+methodColumns+` FROM payment_methods m`, "m.id", f,
		sqldb.Page{Limit: q.Limit, After: q.StartingAfter, Before: q.EndingBefore}, scanMethod)
}

// SaveMethod implements payments.Store.
func (db *DB) SaveMethod(ctx context.Context, scope tenant.Scope, customerID string, m *payments.Method, isNew bool, now time.Time,
	fn func(saved *payments.Method, existed bool) ([]events.Event, error)) (*payments.Method, error) {
	var out *payments.Method
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1`+customerOf+db.lockOf("c"), scope.MerchantID, scope.Livemode, customerID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return payments.ErrCustomerNotFound
		}
		if err != nil {
			return err
		}
		if !isNew {
			cur, err := sqldb.QueryOne(ctx, tx, scanMethod, payments.ErrNotFound, `SELECT `+methodColumns+
				` FROM payment_methods m WHERE m.merchant_id = $1 AND m.livemode = $2 AND m.id = $3`+db.lockOf("m"), scope.MerchantID, scope.Livemode, m.ID)
			if err != nil {
				return err
			}
			switch {
			case cur.Shredded():
				return payments.ErrMethodDetached
			case cur.Customer == customerID:
				out = cur
				return nil
			case cur.Customer != "":
				return payments.ErrMethodAttached
			}
			m = cur
		}
		var fingerprint string
		if m.Card != nil {
			fingerprint = m.Card.Fingerprint
		}
		twin, err := sqldb.QueryOne(ctx, tx, scanMethod, sql.ErrNoRows, `SELECT `+methodColumns+
			` FROM payment_methods m WHERE m.customer_id = $1 AND m.card_fingerprint = $2 AND m.id <> $3`+db.lockOf("m"), customerID, fingerprint, m.ID)
		switch {
		case err == nil:
			// The customer has this card already: it stays the one
			// method, with the expiry and network transaction id of the
			// latest saving.
			if _, err := tx.ExecContext(ctx, `UPDATE payment_methods SET card_exp_month = $2, card_exp_year = $3,
				network_transaction_id = COALESCE($4, network_transaction_id) WHERE id = $1`,
				twin.ID, m.Card.ExpMonth, m.Card.ExpYear, nullString(m.NetworkTransactionID)); err != nil {
				return fmt.Errorf("refresh saved method: %w", err)
			}
			twin.Card.ExpMonth, twin.Card.ExpYear = m.Card.ExpMonth, m.Card.ExpYear
			if m.NetworkTransactionID != "" {
				twin.NetworkTransactionID = m.NetworkTransactionID
			}
			out = twin
			evs, err := fn(twin, true)
			if err != nil {
				return err
			}
			return db.insertEvents(ctx, tx, evs)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		if isNew {
			if err := insertMethod(ctx, tx, m); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE payment_methods SET customer_id = $2, attached_at = $3,
			network_transaction_id = COALESCE($4, network_transaction_id) WHERE id = $1`,
			m.ID, customerID, now, nullString(m.NetworkTransactionID)); err != nil {
			return fmt.Errorf("attach payment method: %w", err)
		}
		m.Customer = customerID
		out = m
		evs, err := fn(m, false)
		if err != nil {
			return err
		}
		return db.insertEvents(ctx, tx, evs)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DetachMethod implements payments.Store.
func (db *DB) DetachMethod(ctx context.Context, scope tenant.Scope, id string, now time.Time, fn func(m *payments.Method) ([]events.Event, error)) (*payments.Method, error) {
	var out *payments.Method
	err := db.tx(ctx, func(tx *sql.Tx) error {
		m, err := sqldb.QueryOne(ctx, tx, scanMethod, payments.ErrNotFound, `SELECT `+methodColumns+
			` FROM payment_methods m WHERE m.merchant_id = $1 AND m.livemode = $2 AND m.id = $3`+db.lockOf("m"), scope.MerchantID, scope.Livemode, id)
		if err != nil {
			return err
		}
		if m.Customer == "" {
			return payments.ErrMethodNotAttached
		}
		if _, err := tx.ExecContext(ctx, shredMethods+` WHERE id = $1`, id, now); err != nil {
			return fmt.Errorf("detach payment method: %w", err)
		}
		shredded(m, now)
		out = m
		evs, err := fn(m)
		if err != nil {
			return err
		}
		return db.insertEvents(ctx, tx, evs)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// saveMethod writes a payment's Change.Save with the payment's change, in
// statements that need no answer (PostgreSQL pipelines them): lock the
// customer, so that a concurrent saving of the same card waits and then
// sees this one; refresh the customer's method of the same card, if any;
// else attach the payment's method, unless the customer was deleted
// meanwhile; and write payment_method.attached only if it was attached.
func (db *DB) saveMethod(ctx context.Context, q sqldb.Execer, p *payments.Payment, s *payments.MethodSave) error {
	if db.forUpdate != "" {
		if _, err := q.ExecContext(ctx, `SELECT 1 FROM customers WHERE id = $1`+db.forUpdate, s.CustomerID); err != nil {
			return fmt.Errorf("lock customer: %w", err)
		}
	}
	ntid := nullString(s.NetworkTransactionID)
	if _, err := q.ExecContext(ctx, `UPDATE payment_methods SET card_exp_month = $3, card_exp_year = $4,
		network_transaction_id = COALESCE($5, network_transaction_id)
		WHERE customer_id = $1 AND card_fingerprint = $2 AND id <> $6`,
		s.CustomerID, s.Fingerprint, s.ExpMonth, s.ExpYear, ntid, s.MethodID); err != nil {
		return fmt.Errorf("refresh saved method: %w", err)
	}
	if _, err := q.ExecContext(ctx, `UPDATE payment_methods SET customer_id = $1, attached_at = $2, network_transaction_id = $3
		WHERE id = $4 AND customer_id IS NULL AND detached_at IS NULL
		AND EXISTS (SELECT 1 FROM customers c WHERE c.id = $1 AND c.merchant_id = $6 AND c.livemode = $7 AND c.deleted_at IS NULL)
		AND NOT EXISTS (SELECT 1 FROM payment_methods o WHERE o.customer_id = $1 AND o.card_fingerprint = $5)`,
		s.CustomerID, s.At, ntid, s.MethodID, s.Fingerprint, p.MerchantID, p.Livemode); err != nil {
		return fmt.Errorf("attach payment method: %w", err)
	}
	return db.insertEventIf(ctx, q, s.Event, `EXISTS (SELECT 1 FROM payment_methods WHERE id = $9 AND customer_id = $10 AND attached_at = $11)`,
		s.MethodID, s.CustomerID, s.At)
}
