package vault

import (
	"context"
	"fmt"
)

// Record is one stored secret: the id it is bound to (the additional data
// it was sealed with) and its sealed form.
type Record struct {
	ID     string
	Sealed Sealed
}

// RotationStore is where sealed records live.
type RotationStore interface {
	// SealedNotUnder returns up to limit records, in id order after
	// afterID, whose key is not keyID.
	SealedNotUnder(ctx context.Context, keyID, afterID string, limit int) ([]Record, error)
	// ReplaceSealed stores s for the record id if it still holds exactly
	// old (key id and bytes), and reports whether it did. Comparing the
	// bytes, not only the key id, matters: a server still running with the
	// old key active may have sealed a new value (a rotated webhook secret)
	// under that same key meanwhile, which must not be overwritten with
	// the value read before.
	ReplaceSealed(ctx context.Context, id string, old, s Sealed) (bool, error)
}

// Rotate re-encrypts every record not under the active key: each is opened
// and sealed again with a fresh data key wrapped by the active key. Each
// record is written on its own, only if no one changed it meanwhile, so
// Rotate can run while the server runs, and an interrupted run resumes
// where it stopped when started again. It returns how many records it
// re-encrypted; progress, if not nil, is told after every batch.
func (k *Keyring) Rotate(ctx context.Context, st RotationStore, progress func(done int)) (int, error) {
	done, after := 0, ""
	for {
		recs, err := st.SealedNotUnder(ctx, k.active, after, 100)
		if err != nil {
			return done, err
		}
		if len(recs) == 0 {
			return done, nil
		}
		for _, r := range recs {
			plain, err := k.Open(r.Sealed, r.ID)
			if err != nil {
				return done, fmt.Errorf("open %s: %w", r.ID, err)
			}
			s, err := k.Seal(plain, r.ID)
			clear(plain)
			if err != nil {
				return done, err
			}
			ok, err := st.ReplaceSealed(ctx, r.ID, r.Sealed, s)
			if err != nil {
				return done, err
			}
			if ok {
				done++
			}
			after = r.ID
		}
		if progress != nil {
			progress(done)
		}
	}
}
