// Package idempotency holds what the services and the store need to know of
// a request made under an Idempotency-Key, passed to them explicitly as a
// *Call: the key's record, which the transaction that creates the request's
// object writes (the recovery point a retry resumes from), whether an
// earlier attempt with the key may have done part of the work already, and
// the answer to store in the transaction that records the result.
//
// The HTTP layer hashes requests, claims keys and replays stored answers.
package idempotency

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/paygate/paygate/internal/vault"
)

// Header names.
const (
	Header         = "Idempotency-Key"
	ReplayedHeader = "Idempotent-Replayed"
)

// MaxKeyLen is the longest key accepted.
const MaxKeyLen = 255

// Retention is the least time keys are kept, as the API promises
// (PAYGATE_IDEMPOTENCY_RETENTION may keep them longer).
const Retention = 24 * time.Hour

// Record is a claimed key, as stored.
type Record struct {
	MerchantID string
	// Livemode is the mode of the key that sent the request: a request of
	// the other mode under the same key is another request (a mismatch),
	// never its replay.
	Livemode    bool
	Key         string
	Method      string
	Path        string
	RequestHash []byte
	CreatedAt   time.Time
	LockedUntil time.Time
	// Unclaimed: the key is not in the database yet. The transaction that
	// creates the request's object inserts it, in the same commit, and
	// fails with ErrKeyTaken when another request has it: a create needs
	// no claim of its own before it runs.
	Unclaimed bool
}

// ErrKeyTaken is returned by a creating transaction whose unclaimed key
// turned out to be in the database already.
var ErrKeyTaken = errors.New("idempotency: the key is already in use")

// Response is a stored answer, replayed byte for byte.
type Response struct {
	Status int
	Body   []byte
	// KeyID is, for an answer that shows a secret, the ring key its Body
	// is sealed under (SealedBody); "" for an answer stored in clear.
	// `paygate keys rotate` re-seals such answers like every sealed record.
	KeyID string
}

// AnswerAAD is what a sealed answer is bound to: merchant, mode and key. An
// answer sealed for one of them does not open for another.
func AnswerAAD(merchantID string, livemode bool, key string) string {
	mode := "test"
	if livemode {
		mode = "live"
	}
	return "idempotency/" + merchantID + "/" + mode + "/" + key
}

// ParseAnswerAAD splits what AnswerAAD made.
func ParseAnswerAAD(aad string) (merchantID string, livemode bool, key string, ok bool) {
	rest, ok := strings.CutPrefix(aad, "idempotency/")
	if !ok {
		return "", false, "", false
	}
	parts := strings.SplitN(rest, "/", 3)
	if len(parts) != 3 || parts[0] == "" || (parts[1] != "test" && parts[1] != "live") || parts[2] == "" {
		return "", false, "", false
	}
	return parts[0], parts[1] == "live", parts[2], true
}

// sealedMark starts a stored answer that is sealed; a JSON answer never
// starts with it.
const sealedMark = 0

// SealedBody is how a sealed answer is stored.
func SealedBody(s vault.Sealed) ([]byte, error) {
	b, err := json.Marshal(s)
	return append([]byte{sealedMark}, b...), err
}

// OpenedBody reads a stored answer back: sealed tells whether it is a
// sealed one (then s is it); otherwise the body is the answer itself.
func OpenedBody(stored []byte) (s vault.Sealed, sealed bool, err error) {
	if len(stored) == 0 || stored[0] != sealedMark {
		return s, false, nil
	}
	return s, true, json.Unmarshal(stored[1:], &s)
}

// Outcome of claiming a key.
type Outcome int

const (
	Started  Outcome = iota // first use: run the request
	Resumed                 // an earlier attempt died: run it again, resuming
	Replay                  // an earlier attempt finished: answer with its response
	InUse                   // an earlier attempt is running now
	Mismatch                // the key was used for another request
)

// Claim is the result of claiming a key.
type Claim struct {
	Outcome    Outcome
	Response   Response // for Replay
	ResourceID string   // for Resumed
}

// Hasher identifies requests: two requests are the same request when their
// mode, method, path and body bytes are equal.
//
// The hash is keyed (HMAC-SHA256 with a server secret): a create or confirm
// body holds a card number and CVC, and the database keeps the card's first
// six and last four digits, so an unkeyed hash of the body would let a
// reader of the database (or of a backup) recover number and CVC by trying
// the few million candidates. Every field is length-prefixed, so no choice
// of body makes one mode's request look like the other's.
type Hasher struct {
	key []byte
}

// HasherPurpose names the key a Hasher is given (vault.Keyring.DeriveKey).
const HasherPurpose = "idempotency request hash v1"

// NewHasher returns a Hasher keyed with key (at least 32 bytes).
func NewHasher(key []byte) *Hasher {
	if len(key) < 32 {
		panic("idempotency: the request hash key must have at least 32 bytes")
	}
	return &Hasher{key: bytes.Clone(key)}
}

// Sum is the request's hash.
func (h *Hasher) Sum(livemode bool, method, path string, body []byte) []byte {
	m := hmac.New(sha256.New, h.key)
	mode := "test"
	if livemode {
		mode = "live"
	}
	var n [8]byte
	for _, part := range [][]byte{[]byte(mode), []byte(method), []byte(path), body} {
		binary.BigEndian.PutUint64(n[:], uint64(len(part)))
		m.Write(n[:])
		m.Write(part)
	}
	return m.Sum(nil)
}

// Stored tells whether a response with this status is kept for replay.
// Answers of requests that ran to a result are kept: successes, state
// conflicts and card declines (402: a card verification the processor
// refused). Validation failures are not (the key stays free for a
// corrected request), and neither are server errors: those release the key,
// so that a retry runs again and resumes whatever the failed attempt did.
func Stored(status int) bool {
	return status < 400 || status == http.StatusConflict || status == http.StatusPaymentRequired
}

// Forgotten tells whether a response with this status deletes the key: a
// request that failed validation changed nothing.
func Forgotten(status int) bool {
	return status >= 400 && status < 500 && !Stored(status)
}

// Call is one request made under an Idempotency-Key, as the services and
// the store see it. A nil *Call is a request without a key; its methods
// are safe to call on nil.
type Call struct {
	// Record is the key. When Record.Unclaimed, the transaction that
	// creates the request's object inserts it (and fails with ErrKeyTaken
	// when another request has it).
	Record Record
	// Resumed: an earlier attempt with this key started and did not
	// finish: it died (its lease ran out) or failed with a server error.
	// Its effects, if any, are in the database.
	Resumed bool
	// ResourceID is the object the earlier attempt created, if it got that
	// far: a payment or a refund.
	ResourceID string
	// render is how the request answers a result: its status and body.
	// secret tells which answers show a secret (stored sealed, by the HTTP
	// layer, never with the result).
	render             func(result any) (Response, error)
	secret             func(body []byte) bool
	created, hasStored bool
	stored             Response
}

// NewCall is a call under the key rec, answering a result with render:
// status and body; secret, when not nil, tells which bodies show a secret.
func NewCall(rec Record, render func(result any) (Response, error), secret func(body []byte) bool) *Call {
	return &Call{Record: rec, render: render, secret: secret}
}

// Key is the key's record, or nil for a request without a key.
func (c *Call) Key() *Record {
	if c == nil {
		return nil
	}
	return &c.Record
}

// AnswerFor is the request's answer to result, to write under its key in
// the transaction that records result; false when it is not written there
// (no key, no way to render it, or it shows a secret).
func (c *Call) AnswerFor(result any) (KeyResponse, bool) {
	if c == nil || c.render == nil {
		return KeyResponse{}, false
	}
	resp, err := c.render(result)
	if err != nil || (c.secret != nil && c.secret(resp.Body)) {
		return KeyResponse{}, false
	}
	return KeyResponse{MerchantID: c.Record.MerchantID, Key: c.Record.Key, Response: resp}, true
}

// KeyResponse is an answer to write under a key.
type KeyResponse struct {
	MerchantID, Key string
	Response        Response
}

// Answered records that r is in the database, committed with the result.
func (c *Call) Answered(r KeyResponse) {
	if c != nil {
		c.stored, c.hasStored = r.Response, true
	}
}

// Stored is the answer committed with the result, if one was.
func (c *Call) Stored() (Response, bool) {
	if c == nil {
		return Response{}, false
	}
	return c.stored, c.hasStored
}

// Created records that the transaction creating the request's object
// committed the (unclaimed) key.
func (c *Call) Created() {
	if c != nil {
		c.created = true
	}
}

// KeyWritten tells whether the key's row is this request's: claimed
// before the request ran, or inserted by its creating transaction.
func (c *Call) KeyWritten() bool {
	return c != nil && (!c.Record.Unclaimed || c.created)
}
