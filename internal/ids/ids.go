// Package ids makes the prefixed, time-ordered identifiers of every object.
//
// Identifiers are a type prefix ("pay_", "re_", …) followed by a ULID: 48 bits
// of millisecond time and 80 random bits. Sorting ids sorts objects by
// creation time, which lets list endpoints paginate by id alone.
package ids

import (
	"crypto/rand"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"
)

// Prefixes of every object type.
const (
	Payment       = "pay_"
	Refund        = "re_"
	PaymentMethod = "pm_"
	Event         = "evt_"
	WebhookEnd    = "we_"
	Merchant      = "mer_"
	APIKey        = "key_"
	Request       = "req_"
)

// New returns a fresh id with the given prefix.
func New(prefix string) string {
	return prefix + ulid.MustNew(ulid.Timestamp(time.Now()), rand.Reader).String()
}

// Valid reports whether s is a well-formed id with the given prefix.
func Valid(prefix, s string) bool {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok || len(rest) != ulid.EncodedSize {
		return false
	}
	_, err := ulid.ParseStrict(rest)
	return err == nil
}
