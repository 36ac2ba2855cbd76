package store

import (
	"database/sql"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/pressly/goose/v3"

	"github.com/paygate/paygate/internal/store/sqldb"
)

// dialect is everything that differs between PostgreSQL and SQLite beyond
// the migrations, chosen once in Open: the statements elsewhere are the
// same for both.
type dialect struct {
	name  string
	goose goose.Dialect
	// forUpdate locks the rows a transaction read; SQLite needs none,
	// since its write transactions are exclusive (BEGIN IMMEDIATE).
	forUpdate string
	// forShare locks rows against deletion, not against readers.
	forShare string
	// skipLocked lets the workers of several instances claim disjoint rows
	// at once; on SQLite the claiming transaction is exclusive anyway.
	skipLocked string
	// writer runs write transactions: pipelined on PostgreSQL.
	writer sqldb.Writer
	// eventWithFanOut: an event and its webhook deliveries go in one
	// statement (a writable CTE), one round trip.
	eventWithFanOut bool
	// snapshot makes a read-only transaction see one snapshot of every
	// table; "" where every transaction already does.
	snapshot string
	// tables lists the database's tables.
	tables string
	// uniqueViolation tells whether err is a duplicate key in table.
	uniqueViolation func(err error, table string) bool
	// balanceSlots is how many rows each running balance is spread over
	// (see ledger_balances): enough that concurrent payments of one
	// merchant rarely wait for each other's commit. SQLite has one writer.
	balanceSlots int
}

func postgresDialect(w *sql.DB) dialect {
	return dialect{
		name: Postgres, goose: goose.DialectPostgres,
		forUpdate: " FOR UPDATE", forShare: " FOR SHARE", skipLocked: " FOR UPDATE SKIP LOCKED",
		writer: sqldb.PipelineWriter{DB: w}, eventWithFanOut: true, balanceSlots: 16,
		snapshot: `SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY`,
		tables:   `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`,
		uniqueViolation: func(err error, table string) bool {
			var pgErr *pgconn.PgError
			// Constraint names start with their table's: idempotency_keys_pkey.
			return errors.As(err, &pgErr) && pgErr.Code == "23505" && strings.HasPrefix(pgErr.ConstraintName, table)
		},
	}
}

func sqliteDialect(w *sql.DB) dialect {
	return dialect{
		name: SQLite, goose: goose.DialectSQLite3,
		writer: sqldb.TxWriter{DB: w}, balanceSlots: 1,
		tables: `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`,
		uniqueViolation: func(err error, table string) bool {
			return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed: "+table+".")
		},
	}
}

// lockOf is the row-lock clause for the table alias given.
func (d dialect) lockOf(alias string) string {
	if d.forUpdate == "" {
		return ""
	}
	return d.forUpdate + " OF " + alias
}

// shareOf is the share-lock clause for the table alias given.
func (d dialect) shareOf(alias string) string {
	if d.forShare == "" {
		return ""
	}
	return d.forShare + " OF " + alias
}
