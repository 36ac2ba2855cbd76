// Package clock is paygate's notion of now.
package clock

import "time"

// Now is the time every record is stamped with: UTC, at the microsecond
// precision both databases keep, so a value read back equals the one
// written.
func Now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }
