package store

import "context"

// MigrateTo applies the migrations up to version, for tests of what a
// migration does to the rows written before it.
func (db *DB) MigrateTo(ctx context.Context, version int64) error {
	p, err := db.migrations()
	if err != nil {
		return err
	}
	_, err = p.UpTo(ctx, version)
	return err
}

// SetSearchIDs sets how many customers or cards a payment search reads
// the payments of before it walks the list instead.
func (db *DB) SetSearchIDs(n int) { db.searchIDs = n }
