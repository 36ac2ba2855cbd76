// Package idempotency holds what the domain packages need to know of an
// idempotent request: its key, and whether an earlier attempt with the same
// key may have done part of the work already (a retry after a crash or a
// failure), so that the retry resumes that work instead of repeating it.
//
// The HTTP layer claims keys and replays stored answers; the services only
// read the Attempt it puts in the request's context.
package idempotency

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"sync/atomic"
	"time"
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
	MerchantID  string
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

// Hash identifies a request body; two requests are the same request when
// their method, path and body bytes are equal.
func Hash(body []byte) []byte {
	h := sha256.Sum256(body)
	return h[:]
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
}

// KeyResponse is an answer to write under a key.
type KeyResponse struct {
	MerchantID, Key string
	Response        Response
}

type answerKey struct{}

// WithAnswer returns ctx carrying a fresh Answer for the key, and it.
func WithAnswer(ctx context.Context, merchantID, key string) (context.Context, *Answer) {
	a := &Answer{merchantID: merchantID, key: key}
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
	if err != nil {
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
