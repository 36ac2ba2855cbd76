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
