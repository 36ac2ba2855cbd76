package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/paygate/paygate/internal/idempotency"
	"github.com/paygate/paygate/internal/ids"
	"github.com/paygate/paygate/internal/payments"
	"github.com/paygate/paygate/internal/store/sqldb"
	"github.com/paygate/paygate/internal/tenant"
	"github.com/paygate/paygate/internal/vault"
)

const paymentColumns = `p.id, p.merchant_id, p.amount, p.currency, p.status, p.capture_method,
	p.amount_capturable, p.amount_received, p.amount_refunded, p.amount_refund_pending, p.description, p.metadata,
	p.payment_method_id, p.return_url, p.next_action_url, p.failure_code, p.decline_code,
	p.failure_message, p.cancellation_reason, p.connector, p.connector_reference, p.processor_id,
	p.pending_operation, p.pending_amount, p.resume_status, p.livemode, p.created_at, p.updated_at,
	p.canceled_at, p.action_token_hash, p.action_expires_at, p.connector_account,
	p.customer_id, p.setup_future_usage, p.off_session, ` + methodColumns

const methodColumns = `m.id, m.merchant_id, m.type, m.livemode, m.card_brand, m.card_funding, m.card_first6,
	m.card_last4, m.card_exp_month, m.card_exp_year, m.card_fingerprint, m.card_holder_name, m.wallet_type,
	m.enc_key_id, m.enc_dek, m.enc_data, m.created_at, m.customer_id, m.network_transaction_id, m.detached_at`

const paymentFrom = ` FROM payments p LEFT JOIN payment_methods m ON m.id = p.payment_method_id`

func scanPayment(row sqldb.Scanner) (*payments.Payment, error) {
	var p payments.Payment
	var pmID, nextURL sql.NullString
	var metadata string
	var canceled, actionExpires sql.NullTime
	var customer sql.NullString
	var m nullMethod
	dest := []any{&p.ID, &p.MerchantID, &p.Amount, &p.Currency, &p.Status, &p.CaptureMethod,
		&p.AmountCapturable, &p.AmountReceived, &p.AmountRefunded, &p.AmountRefundPending, &p.Description, &metadata,
		&pmID, &p.ReturnURL, &nextURL, &p.FailureCode, &p.DeclineCode,
		&p.FailureMessage, &p.CancellationReason, &p.Connector, &p.ConnectorReference, &p.ProcessorID,
		&p.PendingOperation, &p.PendingAmount, &p.ResumeStatus, &p.Livemode, &p.CreatedAt, &p.UpdatedAt,
		&canceled, &p.ActionTokenHash, &actionExpires, &p.ConnectorAccount,
		&customer, &p.SetupFutureUsage, &p.OffSession}
	if err := row.Scan(append(dest, m.dest()...)...); err != nil {
		return nil, err
	}
	p.Object = "payment"
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	p.CanceledAt, p.ActionExpiresAt = timePtr(canceled), timePtr(actionExpires)
	if err := json.Unmarshal([]byte(metadata), &p.Metadata); err != nil {
		return nil, fmt.Errorf("payment %s metadata: %w", p.ID, err)
	}
	if p.Metadata == nil {
		p.Metadata = map[string]string{}
	}
	p.PaymentMethodID = pmID.String
	p.PaymentMethod = m.method()
	p.Customer = customer.String
	if nextURL.String != "" {
		p.NextAction = &payments.NextAction{Type: "redirect_to_url", RedirectToURL: &payments.RedirectToURL{URL: nextURL.String, ReturnURL: p.ReturnURL}}
	}
	return &p, nil
}

// nullMethod scans a payment method that may be absent (a LEFT JOIN).
type nullMethod struct {
	id, merchantID, typ                    sql.NullString
	livemode                               sql.NullBool
	brand, funding, first6, last4          sql.NullString
	expMonth, expYear                      sql.NullInt64
	fingerprint, holder, walletType, keyID sql.NullString
	dek, data                              []byte
	created                                sql.NullTime
	customer, networkTx                    sql.NullString
	detached                               sql.NullTime
}

func (n *nullMethod) dest() []any {
	return []any{&n.id, &n.merchantID, &n.typ, &n.livemode, &n.brand, &n.funding, &n.first6,
		&n.last4, &n.expMonth, &n.expYear, &n.fingerprint, &n.holder, &n.walletType,
		&n.keyID, &n.dek, &n.data, &n.created, &n.customer, &n.networkTx, &n.detached}
}

func (n *nullMethod) method() *payments.Method {
	if !n.id.Valid {
		return nil
	}
	m := &payments.Method{ID: n.id.String, Object: "payment_method", Type: n.typ.String, Livemode: n.livemode.Bool,
		CreatedAt: n.created.Time.UTC(), MerchantID: n.merchantID.String, First6: n.first6.String}
	m.Secret.KeyID, m.Secret.DEK, m.Secret.Data = n.keyID.String, n.dek, n.data
	m.Customer, m.NetworkTransactionID, m.DetachedAt = n.customer.String, n.networkTx.String, timePtr(n.detached)
	card := func() *payments.CardDetails {
		return &payments.CardDetails{Brand: n.brand.String, Funding: n.funding.String, Last4: n.last4.String,
			ExpMonth: int(n.expMonth.Int64), ExpYear: int(n.expYear.Int64), Fingerprint: n.fingerprint.String, HolderName: n.holder.String}
	}
	switch m.Type {
	case "card":
		m.Card = card()
	case "wallet":
		m.Wallet = &payments.WalletDetails{Type: n.walletType.String}
		if n.brand.Valid {
			m.Wallet.Card = card()
		}
	}
	return m
}

func metadataJSON(md map[string]string) (string, error) {
	if md == nil {
		md = map[string]string{}
	}
	b, err := json.Marshal(md)
	return string(b), err
}

func nextActionURL(p *payments.Payment) string {
	if p.NextAction != nil && p.NextAction.RedirectToURL != nil {
		return p.NextAction.RedirectToURL.URL
	}
	return ""
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// CreatePayment implements payments.Store.
func (db *DB) CreatePayment(ctx context.Context, p *payments.Payment, ch payments.Change, call *idempotency.Call) error {
	md, err := metadataJSON(p.Metadata)
	if err != nil {
		return err
	}
	write := func(tx sqldb.Execer) error {
		if ch.NewMethod != nil {
			if err := insertMethod(ctx, tx, ch.NewMethod); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO payments (id, merchant_id, amount, currency, status, capture_method,
			amount_capturable, amount_received, amount_refunded, description, metadata, payment_method_id,
			return_url, next_action_url, connector, connector_account, livemode, created_at, updated_at,
			connector_reference, pending_operation, resume_status, customer_id, setup_future_usage, off_session)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)`,
			p.ID, p.MerchantID, p.Amount, p.Currency, p.Status, p.CaptureMethod,
			p.AmountCapturable, p.AmountReceived, p.AmountRefunded, p.Description, md, nullString(p.PaymentMethodID),
			p.ReturnURL, nextActionURL(p), p.Connector, p.ConnectorAccount, p.Livemode, p.CreatedAt, p.UpdatedAt,
			p.ConnectorReference, p.PendingOperation, p.ResumeStatus, nullString(p.Customer), p.SetupFutureUsage, p.OffSession)
		if err != nil {
			return fmt.Errorf("insert payment: %w", err)
		}
		if err := linkIdempotencyKey(ctx, tx, call.Key(), p.ID); err != nil {
			return err
		}
		if err := writeAttempts(ctx, tx, p, ch); err != nil {
			return err
		}
		return db.insertWrites(ctx, tx, ch.Events, nil)
	}
	return db.keyResult(call, db.writer.Write(ctx, nil, write)) // PostgreSQL: one round trip
}

// Payment implements payments.Store.
func (db *DB) Payment(ctx context.Context, scope tenant.Scope, id string) (*payments.Payment, error) {
	return sqldb.QueryOne(ctx, db.r, scanPayment, payments.ErrNotFound, `SELECT `+paymentColumns+paymentFrom+
		` WHERE p.merchant_id = $1 AND p.livemode = $2 AND p.id = $3`, scope.MerchantID, scope.Livemode, id)
}

// Payments implements payments.Store: a page of payments, newest first, and
// whether more lie beyond it in the direction of travel.
func (db *DB) Payments(ctx context.Context, scope tenant.Scope, q payments.ListQuery) ([]*payments.Payment, bool, error) {
	f := scopeFilter("p", scope)
	f.Eq("p.status", string(q.Status))
	// An id holds the time it was made, within moments of created_at, so
	// a time range is also an id range: the list walks its id index from
	// the first row that can match, not from the newest.
	if q.CreatedGTE != nil {
		f.Add("p.created_at >= $%d", *q.CreatedGTE)
		f.Add("p.id >= $%d", ids.Bound(ids.Payment, q.CreatedGTE.Add(-createdSlack), false))
	}
	if q.CreatedLTE != nil {
		f.Add("p.created_at <= $%d", *q.CreatedLTE)
		f.Add("p.id <= $%d", ids.Bound(ids.Payment, q.CreatedLTE.Add(createdSlack), true))
	}
	if err := db.searchPayments(ctx, &f, scope, q); err != nil {
		return nil, false, err
	}
	return sqldb.List(ctx, db.lists, `SELECT `+paymentColumns+paymentFrom, "p.id", f,
		sqldb.Page{Limit: q.Limit, After: q.StartingAfter, Before: q.EndingBefore}, scanPayment)
}

// createdSlack bounds how far apart a payment's id time and created_at
// may be: both are read from the same process's clock while the request
// builds the payment, microseconds apart. A minute is a wide margin that
// costs a page a minute's worth of extra index entries at most.
const createdSlack = time.Minute

func nullBytes(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// writeAttempts settles the payment's attempt in flight and records a new
// one, in that order (a failover does both).
func writeAttempts(ctx context.Context, q sqldb.Execer, p *payments.Payment, ch payments.Change) error {
	if o := ch.Settle; o != nil {
		if _, err := q.ExecContext(ctx, `UPDATE payment_attempts SET status = $2, failure_code = $3, updated_at = $4
			WHERE payment_id = $1 AND status IN ('processing', 'requires_action')`, p.ID, o.Status, o.FailureCode, p.UpdatedAt); err != nil {
			return fmt.Errorf("settle payment attempt: %w", err)
		}
	}
	if a := ch.Attempt; a != nil {
		if _, err := q.ExecContext(ctx, `INSERT INTO payment_attempts (id, payment_id, connector_account, connector, status, failure_code, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, a.ID, a.Payment, a.ConnectorAccount, a.Connector, a.Status, a.FailureCode, a.CreatedAt, a.UpdatedAt); err != nil {
			return fmt.Errorf("insert payment attempt: %w", err)
		}
	}
	return nil
}

// scopeFilter starts the WHERE clause of a list of one tenant's objects:
// the table (by its alias) has merchant_id and livemode columns.
func scopeFilter(alias string, scope tenant.Scope) sqldb.Filter {
	var f sqldb.Filter
	f.Add(alias+".merchant_id = $%d", scope.MerchantID)
	// The mode is a constant, not a parameter, so that the planner can use
	// the list indexes made for one mode (migration 10) in any plan.
	if scope.Livemode {
		f.Const(alias + ".livemode")
	} else {
		f.Const("NOT " + alias + ".livemode")
	}
	return f
}

// PaymentByActionToken implements payments.Store: the payment whose
// customer link holds the token with this hash, of any merchant (the token
// is the credential).
func (db *DB) PaymentByActionToken(ctx context.Context, hash []byte) (*payments.Payment, error) {
	return sqldb.QueryOne(ctx, db.r, scanPayment, payments.ErrNotFound, `SELECT `+paymentColumns+paymentFrom+` WHERE p.action_token_hash = $1`, hash)
}

// ExpiredActions implements payments.Store: payments whose customer link
// expired before cutoff, of every merchant, oldest first.
func (db *DB) ExpiredActions(ctx context.Context, cutoff time.Time, limit int) ([]*payments.Payment, error) {
	return sqldb.QueryAll(ctx, db.r, scanPayment, `SELECT `+paymentColumns+paymentFrom+
		` WHERE p.status = 'requires_action' AND p.action_expires_at < $1 ORDER BY p.action_expires_at LIMIT $2`, cutoff, limit)
}

// UpdatePayment implements payments.Store. The row lock (PostgreSQL) or the
// exclusive write transaction (SQLite) makes read-check-write atomic, so of
// many concurrent actions on one payment each sees the previous one's result.
// On PostgreSQL it is two round trips: BEGIN and the row lock; then the
// writes and COMMIT.
func (db *DB) UpdatePayment(ctx context.Context, scope tenant.Scope, id string, fn func(p *payments.Payment) (payments.Change, error)) (*payments.Payment, error) {
	var p *payments.Payment
	err := db.writer.Write(ctx, []sqldb.Read{db.lockPayment(scope, id, &p, payments.ErrNotFound)}, func(q sqldb.Execer) error {
		ch, err := fn(p)
		if err != nil {
			return err
		}
		return db.writePaymentChange(ctx, q, p, ch)
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// lockPayment is the read that locks a payment for a write transaction and
// scans it into *p; a missing payment is notFound. Every change of a
// payment or of its refunds takes this lock first, so they are serialized
// per payment. Only the payment row is locked: the method row never changes
// with a payment.
func (db *DB) lockPayment(scope tenant.Scope, id string, p **payments.Payment, notFound error) sqldb.Read {
	return sqldb.Read{
		Query: `SELECT ` + paymentColumns + paymentFrom + ` WHERE p.merchant_id = $1 AND p.livemode = $2 AND p.id = $3` + db.lockOf("p"),
		Args:  []any{scope.MerchantID, scope.Livemode, id},
		Scan:  scanInto(p, scanPayment, notFound),
	}
}

// scanInto is a Read's Scan that stores what scan makes of the row in *dst;
// a missing row is notFound.
func scanInto[T any](dst *T, scan func(sqldb.Scanner) (T, error), notFound error) func(sqldb.Scanner) error {
	return func(row sqldb.Scanner) error {
		v, err := scan(row)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound
		}
		*dst = v
		return err
	}
}

// writePaymentChange stores a locked payment as fn left it, with the
// change's new method, events and ledger transactions.
func (db *DB) writePaymentChange(ctx context.Context, tx sqldb.Execer, p *payments.Payment, ch payments.Change) error {
	if ch.NewMethod != nil {
		if err := insertMethod(ctx, tx, ch.NewMethod); err != nil {
			return err
		}
	}
	md, err := metadataJSON(p.Metadata)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE payments SET amount = $3, currency = $4, status = $5, capture_method = $6,
		amount_capturable = $7, amount_received = $8, amount_refunded = $9, description = $10, metadata = $11,
		payment_method_id = $12, return_url = $13, next_action_url = $14, failure_code = $15, decline_code = $16,
		failure_message = $17, cancellation_reason = $18, connector_reference = $19, processor_id = $20,
		pending_operation = $21, pending_amount = $22, resume_status = $23, updated_at = $24, canceled_at = $25,
		action_token_hash = $26, action_expires_at = $27, connector = $28, connector_account = $29
		WHERE merchant_id = $1 AND id = $2`,
		p.MerchantID, p.ID, p.Amount, p.Currency, p.Status, p.CaptureMethod,
		p.AmountCapturable, p.AmountReceived, p.AmountRefunded, p.Description, md,
		nullString(p.PaymentMethodID), p.ReturnURL, nextActionURL(p), p.FailureCode, p.DeclineCode,
		p.FailureMessage, p.CancellationReason, p.ConnectorReference, p.ProcessorID,
		p.PendingOperation, p.PendingAmount, p.ResumeStatus, p.UpdatedAt, nullTime(p.CanceledAt),
		nullBytes(p.ActionTokenHash), nullTime(p.ActionExpiresAt), p.Connector, p.ConnectorAccount)
	if err != nil {
		return fmt.Errorf("update payment: %w", err)
	}
	if err := writeAttempts(ctx, tx, p, ch); err != nil {
		return err
	}
	if err := db.insertWrites(ctx, tx, ch.Events, ch.Ledger); err != nil {
		return err
	}
	if ch.Save != nil {
		if err := db.saveMethod(ctx, tx, p, ch.Save); err != nil {
			return err
		}
	}
	if a := ch.Answer; a != nil {
		if _, err := tx.ExecContext(ctx, completeKey, a.MerchantID, a.Key, a.Response.Status, a.Response.Body, nullString(a.Response.KeyID)); err != nil {
			return fmt.Errorf("store the answer: %w", err)
		}
	}
	return nil
}

func insertMethod(ctx context.Context, q sqldb.Execer, m *payments.Method) error {
	var brand, funding, last4, fingerprint, holder, walletType any
	var expMonth, expYear any
	card := m.Card
	if m.Wallet != nil {
		walletType = m.Wallet.Type
		card = m.Wallet.Card
	}
	if card != nil {
		brand, funding, last4 = card.Brand, card.Funding, card.Last4
		fingerprint, holder = nullString(card.Fingerprint), nullString(card.HolderName)
		if card.ExpMonth != 0 {
			expMonth, expYear = card.ExpMonth, card.ExpYear
		}
	}
	_, err := q.ExecContext(ctx, `INSERT INTO payment_methods (id, merchant_id, type, livemode, card_brand, card_funding,
		card_first6, card_last4, card_exp_month, card_exp_year, card_fingerprint, card_holder_name, wallet_type,
		enc_key_id, enc_dek, enc_data, created_at, network_transaction_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
		m.ID, m.MerchantID, m.Type, m.Livemode, brand, funding, nullString(m.First6), last4, expMonth, expYear,
		fingerprint, holder, walletType, nullString(m.Secret.KeyID), m.Secret.DEK, m.Secret.Data, m.CreatedAt, nullString(m.NetworkTransactionID))
	if err != nil {
		return fmt.Errorf("insert payment method: %w", err)
	}
	return nil
}

// CreateMethod implements payments.Store.
func (db *DB) CreateMethod(ctx context.Context, m *payments.Method) error {
	return insertMethod(ctx, db.w, m)
}

// Method implements payments.Store.
func (db *DB) Method(ctx context.Context, scope tenant.Scope, id string) (*payments.Method, error) {
	var n nullMethod
	err := db.r.QueryRowContext(ctx, `SELECT `+methodColumns+` FROM payment_methods m WHERE m.merchant_id = $1 AND m.livemode = $2 AND m.id = $3`,
		scope.MerchantID, scope.Livemode, id).Scan(n.dest()...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, payments.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return n.method(), nil
}

// StalePayments returns payments, of every merchant, that have been
// processing since before cutoff: their request died or lost its answer.
// The recovery worker finishes them.
func (db *DB) StalePayments(ctx context.Context, cutoff time.Time, limit int) ([]*payments.Payment, error) {
	return sqldb.QueryAll(ctx, db.r, scanPayment, `SELECT `+paymentColumns+paymentFrom+
		` WHERE p.status = 'processing' AND p.updated_at < $1 ORDER BY p.updated_at LIMIT $2`, cutoff, limit)
}

// SealedNotUnder implements vault.RotationStore over every sealed secret:
// payment methods' card numbers and wallet tokens ("pm_…"), webhook
// endpoints' signing secrets ("we_…") and their previous secrets during a
// rotation overlap ("we_…#previous"), processor credentials ("ca_…"), and
// the idempotent answers that show
// a secret ("idempotency/MERCHANT/MODE/KEY", idempotency.AnswerAAD). The
// record id is also the additional data each was sealed with.
func (db *DB) SealedNotUnder(ctx context.Context, keyID, afterID string, limit int) ([]vault.Record, error) {
	mode := `CASE WHEN livemode THEN 'live' ELSE 'test' END`
	rows, err := db.r.QueryContext(ctx, `SELECT id, k, d, c FROM (
		SELECT id, enc_key_id AS k, enc_dek AS d, enc_data AS c FROM payment_methods WHERE enc_key_id IS NOT NULL
		UNION ALL SELECT id, secret_key_id, secret_dek, secret_data FROM webhook_endpoints
		UNION ALL SELECT id || '#previous', previous_key_id, previous_dek, previous_data FROM webhook_endpoints WHERE previous_key_id IS NOT NULL
		UNION ALL SELECT id, cred_key_id, cred_dek, cred_data FROM connector_accounts
		UNION ALL SELECT 'idempotency/' || merchant_id || '/' || `+mode+` || '/' || key, response_key_id, NULL, response_body
			FROM idempotency_keys WHERE response_key_id IS NOT NULL
		) r WHERE k <> $1 AND id > $2 ORDER BY id LIMIT $3`, keyID, afterID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []vault.Record
	for rows.Next() {
		var r vault.Record
		if err := rows.Scan(&r.ID, &r.Sealed.KeyID, &r.Sealed.DEK, &r.Sealed.Data); err != nil {
			return nil, err
		}
		if strings.HasPrefix(r.ID, "idempotency/") {
			// The answer's body is the whole sealed record.
			s, sealed, err := idempotency.OpenedBody(r.Sealed.Data)
			if err != nil || !sealed {
				return nil, fmt.Errorf("sealed answer %s: not a sealed record", r.ID)
			}
			r.Sealed = s
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ReplaceSealed implements vault.RotationStore.
func (db *DB) ReplaceSealed(ctx context.Context, id string, old, s vault.Sealed) (bool, error) {
	if merchantID, _, key, ok := idempotency.ParseAnswerAAD(id); ok {
		oldBody, err := idempotency.SealedBody(old)
		if err != nil {
			return false, err
		}
		body, err := idempotency.SealedBody(s)
		if err != nil {
			return false, err
		}
		res, err := db.w.ExecContext(ctx, `UPDATE idempotency_keys SET response_key_id = $3, response_body = $4
			WHERE merchant_id = $1 AND key = $2 AND response_key_id = $5 AND response_body = $6`,
			merchantID, key, s.KeyID, body, old.KeyID, oldBody)
		if err != nil {
			return false, err
		}
		n, err := res.RowsAffected()
		return n == 1, err
	}
	q := `UPDATE payment_methods SET enc_key_id = $3, enc_dek = $4, enc_data = $5 WHERE id = $1 AND enc_key_id = $2 AND enc_dek = $6 AND enc_data = $7`
	switch endpoint, previous := strings.CutSuffix(id, "#previous"); {
	case previous:
		id = endpoint
		q = `UPDATE webhook_endpoints SET previous_key_id = $3, previous_dek = $4, previous_data = $5
			WHERE id = $1 AND previous_key_id = $2 AND previous_dek = $6 AND previous_data = $7`
	case strings.HasPrefix(id, "ca_"):
		q = `UPDATE connector_accounts SET cred_key_id = $3, cred_dek = $4, cred_data = $5
			WHERE id = $1 AND cred_key_id = $2 AND cred_dek = $6 AND cred_data = $7`
	case strings.HasPrefix(id, "we_"):
		q = `UPDATE webhook_endpoints SET secret_key_id = $3, secret_dek = $4, secret_data = $5
			WHERE id = $1 AND secret_key_id = $2 AND secret_dek = $6 AND secret_data = $7`
	}
	res, err := db.w.ExecContext(ctx, q, id, old.KeyID, s.KeyID, s.DEK, s.Data, old.DEK, old.Data)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}
