// Package ids makes the prefixed, time-ordered identifiers of every object.
//
// An id is a type prefix ("pay_", "re_", …) and 26 characters of Crockford
// base32 encoding 128 bits: 64 bits of Unix time in nanoseconds, then 64
// random bits. Ids therefore sort by creation time (to the nanosecond
// within one process, which keeps a client's sequential requests in order),
// and list endpoints paginate by id alone.
package ids

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"strings"
	"time"
)

// Prefixes of every object type.
const (
	Payment        = "pay_"
	Refund         = "re_"
	PaymentMethod  = "pm_"
	Event          = "evt_"
	WebhookEnd     = "we_"
	Merchant       = "mer_"
	APIKey         = "key_"
	Request        = "req_"
	Audit          = "aud_"
	WebhookAttempt = "wha_"
	Connector      = "ca_"
	PaymentAttempt = "pa_"
	Customer       = "cus_"
	Checkout       = "cs_"
	StaffUser      = "usr_"
)

// encodedLen is the length of an id after its prefix.
const encodedLen = 26

// crockford sorts in ASCII order, so encoded ids sort like their bytes.
var crockford = base32.NewEncoding("0123456789ABCDEFGHJKMNPQRSTVWXYZ").WithPadding(base32.NoPadding)

// New returns a fresh id with the given prefix.
func New(prefix string) string { return NewAt(prefix, time.Now()) }

// Valid reports whether s is a well-formed id with the given prefix.
func Valid(prefix, s string) bool {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok || len(rest) != encodedLen {
		return false
	}
	b, err := crockford.DecodeString(rest)
	// The last character carries 3 bits of data; its 2 low bits must be 0
	// for the id to have exactly one spelling.
	return err == nil && len(b) == 16 && crockford.EncodeToString(b) == rest
}

// Bound returns the id with the given prefix at instant t and the least
// (upper false) or greatest (upper true) random part: every id made at t
// sorts between the two. A list filtered by creation time uses these
// bounds to walk its id index from the right place.
func Bound(prefix string, t time.Time, upper bool) string {
	b := timeBits(t)
	if upper {
		for i := 8; i < 16; i++ {
			b[i] = 0xff
		}
	}
	return prefix + crockford.EncodeToString(b[:])
}

// NewAt returns a fresh id made as if at instant t: for loading history
// (the growth benchmark), where rows must sort by the time they claim.
func NewAt(prefix string, t time.Time) string {
	b := timeBits(t)
	_, _ = rand.Read(b[8:])
	return prefix + crockford.EncodeToString(b[:])
}

// timeBits is an id's 16 bytes with t's Unix nanoseconds in the first 8,
// held within UnixNano's range (1970 to 2262), and the rest zero.
func timeBits(t time.Time) [16]byte {
	var b [16]byte
	ns := t.UnixNano()
	switch {
	case t.Before(time.Unix(0, 0)):
		ns = 0
	case t.Year() >= 2262:
		ns = 1<<63 - 1
	}
	binary.BigEndian.PutUint64(b[:8], uint64(ns))
	return b
}
