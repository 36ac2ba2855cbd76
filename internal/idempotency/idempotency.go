// Package idempotency holds what the domain packages need to know of an
// idempotent request: its key, and whether an earlier attempt with the same
// key may have done part of the work already (a retry after a crash or a
// failure), so that the retry resumes that work instead of repeating it.
//
// The HTTP layer claims keys and replays stored answers; the services only
// read the Attempt it puts in the request's context.
package idempotency

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
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

// Retention is how long keys are kept: at least 24 hours, as the API
// promises.
const Retention = 24 * time.Hour

// Attempt describes the request being served under an idempotency key.
type Attempt struct {
	// Resumed is set when an earlier attempt with this key started and did
	// not finish: it died (its lease ran out) or failed with a server
	// error. Its effects, if any, are in the database.
	Resumed bool
	// ResourceID is the object the earlier attempt created, if it got that
	// far: a payment or a refund.
	ResourceID string
	// Record is the key (empty Key: the request has none); the transaction
	// that creates an object writes it with the object's id (see the store).
	Record Record
}

type attemptKey struct{}

// With returns ctx carrying a.
func With(ctx context.Context, a Attempt) context.Context {
	return context.WithValue(ctx, attemptKey{}, a)
}

// From returns the attempt in ctx; the zero Attempt when the request has no
// idempotency key.
func From(ctx context.Context) Attempt {
	a, _ := ctx.Value(attemptKey{}).(Attempt)
	return a
}

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

// Unclaimed tells, for a request whose key was unclaimed, what became of
// it while the request ran: whether the creating transaction committed it,
// or found it taken.
type Unclaimed struct {
	inserted atomic.Bool
	taken    atomic.Bool
}

type unclaimedKey struct{}

// WithUnclaimed returns ctx carrying a fresh Unclaimed, and it.
func WithUnclaimed(ctx context.Context) (context.Context, *Unclaimed) {
	u := &Unclaimed{}
	return context.WithValue(ctx, unclaimedKey{}, u), u
}

// MarkInserted records that the creating transaction committed the key.
func MarkInserted(ctx context.Context) {
	if u, ok := ctx.Value(unclaimedKey{}).(*Unclaimed); ok {
		u.inserted.Store(true)
	}
}

// MarkTaken records that the key was found taken.
func MarkTaken(ctx context.Context) {
	if u, ok := ctx.Value(unclaimedKey{}).(*Unclaimed); ok {
		u.taken.Store(true)
	}
}

// Inserted and Taken read what was recorded.
func (u *Unclaimed) Inserted() bool { return u.inserted.Load() }
func (u *Unclaimed) Taken() bool    { return u.taken.Load() }

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
// Answers of requests that ran to a result are kept: successes and state
// conflicts. Validation failures are not (the key stays free for a
// corrected request), and neither are server errors: those release the key,
// so that a retry runs again and resumes whatever the failed attempt did.
func Stored(status int) bool {
	return status < 400 || status == http.StatusConflict
}

// Forgotten tells whether a response with this status deletes the key: a
// request that failed validation changed nothing.
func Forgotten(status int) bool {
	return status >= 400 && status < 500 && !Stored(status)
}

// Answer lets the transaction that writes a request's result store the
// request's answer as well, so that the answer needs no commit of its own
// after it. The HTTP layer puts an Answer in the context of a request with
// a key, and the handler says how it answers a result (Expect); a service
// writing the result it is about to return asks For the answer and writes
// it in that transaction, then reports the commit (Committed). The HTTP
// layer stores the answer it sends itself unless that very answer, byte
// for byte, was Written. One request's goroutine uses it: not safe for
// concurrent use.
type Answer struct {
	merchantID, key string
	status          int
	render          func(v any) ([]byte, error)
	written         *Response
	// secret tells whether an answer shows a secret (a customer link): such
	// an answer is stored sealed by the HTTP layer, never here in clear.
	secret func(body []byte) bool
}

// KeyResponse is an answer to write under a key.
type KeyResponse struct {
	MerchantID, Key string
	Response        Response
}

type answerKey struct{}

// WithAnswer returns ctx carrying a fresh Answer for the key, and it.
// secret, when not nil, tells which answers show a secret: those are not
// written with the result (the HTTP layer stores them sealed).
func WithAnswer(ctx context.Context, merchantID, key string, secret func(body []byte) bool) (context.Context, *Answer) {
	a := &Answer{merchantID: merchantID, key: key, secret: secret}
	return context.WithValue(ctx, answerKey{}, a), a
}

// AnswerFrom returns the Answer in ctx, or nil.
func AnswerFrom(ctx context.Context) *Answer {
	a, _ := ctx.Value(answerKey{}).(*Answer)
	return a
}

// Expect records how the handler answers a successful result: status, and
// the body render makes of the result.
func (a *Answer) Expect(status int, render func(v any) ([]byte, error)) {
	a.status, a.render = status, render
}

// For renders result as the answer; false when nothing is expected.
func (a *Answer) For(result any) (KeyResponse, bool) {
	if a == nil || a.render == nil {
		return KeyResponse{}, false
	}
	body, err := a.render(result)
	if err != nil || (a.secret != nil && a.secret(body)) {
		return KeyResponse{}, false
	}
	return KeyResponse{MerchantID: a.merchantID, Key: a.key, Response: Response{Status: a.status, Body: body}}, true
}

// Committed records that r is in the database, written with the result.
func (a *Answer) Committed(r KeyResponse) {
	if a != nil {
		a.written = &r.Response
	}
}

// Written tells whether this answer is the one committed with the result.
func (a *Answer) Written(status int, body []byte) bool {
	return a != nil && a.written != nil && a.written.Status == status && string(a.written.Body) == string(body)
}
