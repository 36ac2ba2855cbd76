package httpapi

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/idempotency"
	"github.com/paygate/paygate/internal/vault"
)

// IdempotencyStore keeps idempotency keys and the answers they replay.
type IdempotencyStore interface {
	ClaimIdempotencyKey(ctx context.Context, rec idempotency.Record) (idempotency.Claim, error)
	CompleteIdempotencyKey(ctx context.Context, merchantID, key string, resp idempotency.Response) error
	ReleaseIdempotencyKey(ctx context.Context, merchantID, key string) error
	ForgetIdempotencyKey(ctx context.Context, merchantID, key string) error
}

// bufferedWriter holds a handler's answer so that it is stored before the
// client sees it: a client that got an answer gets the same bytes on retry.
type bufferedWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header { return b.header }
func (b *bufferedWriter) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}
func (b *bufferedWriter) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

// keyed is how a mutating route of the merchant API (POST, PATCH, DELETE)
// runs. The request is detached from its client's connection and given a
// deadline of its own: a client that hangs up must not cut a payment off
// between its steps. The deadline is half the key lease, so a live request
// never loses its key to a retry.
//
// With an Idempotency-Key the request is claimed under the key first: a
// finished one is replayed, a running one is 409, one that died is run
// again, the services told to resume it (idempotency.Call.Resumed). A
// route that creates an object (creates) claims nothing first: the
// transaction that creates the object writes the key, and only when that
// finds the key taken (idempotency.ErrKeyTaken) does the request go
// through the claim. Answers that show a secret (a webhook signing secret,
// a customer link) are stored sealed, per sealing.
type keyed struct {
	log     *slog.Logger
	store   IdempotencyStore
	lease   time.Duration
	hasher  *idempotency.Hasher
	sealing answerSealing
	creates bool
}

// sealed is k with answers sealed per s.
func (k keyed) sealed(s answerSealing) keyed { k.sealing = s; return k }

// creating is k for a route that creates an object.
func (k keyed) creating() keyed { k.creates = true; return k }

// work is what a route does with a request's body: decode it and call the
// service, with the request's Call (nil without a key).
type work func(ctx context.Context, body []byte, call *idempotency.Call) (any, error)

// outcome is a request's answer, rendered but not yet sent, and the error
// it renders, if it failed.
type outcome struct {
	buf *bufferedWriter
	err error
}

// serve answers a mutating request: do's result with status, or its error.
func (k keyed) serve(w http.ResponseWriter, r *http.Request, status int, do work) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), k.lease/2)
	defer cancel()
	r = r.WithContext(ctx)
	body, err := readBody(w, r)
	if err != nil {
		respondErr(w, r, k.log, err)
		return
	}
	vals, present := r.Header[http.CanonicalHeaderKey(idempotency.Header)]
	if !present {
		send(w, k.run(w, r, status, body, nil, do).buf)
		return
	}
	if len(vals) != 1 || len(vals[0]) == 0 || len(vals[0]) > idempotency.MaxKeyLen {
		respondErr(w, r, k.log, apierror.Invalid("idempotency_key_invalid", idempotency.Header,
			"The Idempotency-Key header must be given once, with 1 to %d characters.", idempotency.MaxKeyLen))
		return
	}
	key := vals[0]
	acct := accountFrom(ctx)
	// The key's mode is part of the request, stored and hashed: a live
	// request under a key a test request used is another request (422),
	// never its replay, and the other way round.
	now := time.Now().UTC()
	rec := idempotency.Record{
		MerchantID: acct.MerchantID, Livemode: acct.Livemode, Key: key, Method: r.Method, Path: r.URL.Path,
		RequestHash: k.hasher.Sum(acct.Livemode, r.Method, r.URL.Path, body), CreatedAt: now, LockedUntil: now.Add(k.lease),
	}
	aad := idempotency.AnswerAAD(acct.MerchantID, acct.Livemode, key)
	newCall := func(rec idempotency.Record) *idempotency.Call {
		return idempotency.NewCall(rec, func(result any) (idempotency.Response, error) {
			b, err := render(result)
			return idempotency.Response{Status: status, Body: b}, err
		}, k.sealing.secret())
	}

	if k.creates {
		unclaimed := rec
		unclaimed.Unclaimed = true
		call := newCall(unclaimed)
		o := k.run(w, r, status, body, call, do)
		switch {
		case errors.Is(o.err, idempotency.ErrKeyTaken):
			// Another request has the key: answer as the claim says.
		case call.KeyWritten():
			k.keep(w, r, o, call, rec, aad)
			return
		case !idempotency.Stored(o.buf.status):
			// Failed validation, or a server error before anything was
			// written: nothing to keep, and no key to let go.
			send(w, o.buf)
			return
		default:
			// An answer to keep (a state conflict) without an object:
			// claim the key now to keep it, unless another request took
			// the key meanwhile.
			claim, err := k.store.ClaimIdempotencyKey(ctx, rec)
			if err != nil {
				respondErr(w, r, k.log, err)
				return
			}
			if claim.Outcome == idempotency.Started {
				k.keep(w, r, o, nil, rec, aad)
				return
			}
		}
	}

	claim, err := k.store.ClaimIdempotencyKey(ctx, rec)
	if err != nil {
		respondErr(w, r, k.log, err)
		return
	}
	switch claim.Outcome {
	case idempotency.Replay:
		body, err := k.sealing.open(aad, claim.Response.Body)
		if err != nil {
			respondErr(w, r, k.log, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set(idempotency.ReplayedHeader, "true")
		w.WriteHeader(claim.Response.Status)
		_, _ = w.Write(body)
		return
	case idempotency.InUse:
		w.Header().Set("Retry-After", "1")
		respondErr(w, r, k.log, &apierror.Error{Kind: apierror.KindConflict, Code: "idempotency_key_in_use",
			Message: "A request with this Idempotency-Key is still being processed; retry after it finishes."})
		return
	case idempotency.Mismatch:
		respondErr(w, r, k.log, &apierror.Error{Kind: apierror.KindIdempotencyReused, Code: "idempotency_key_reused",
			Message: "This Idempotency-Key was already used with a different request (method, path or body)."})
		return
	}
	call := newCall(rec)
	call.Resumed, call.ResourceID = claim.Outcome == idempotency.Resumed, claim.ResourceID
	if call.Resumed {
		k.log.InfoContext(ctx, "resuming an interrupted request", "idempotency_key", key, "resource_id", claim.ResourceID)
	}
	k.keep(w, r, k.run(w, r, status, body, call, do), call, rec, aad)
}

// run does the request's work and renders its answer into a buffer, so
// that the answer is stored before the client sees it: a client that got
// an answer gets the same bytes on retry. A panic that leaves a key row of
// this request's lets the key go first, so that a retry resumes at once.
func (k keyed) run(w http.ResponseWriter, r *http.Request, status int, body []byte, call *idempotency.Call, do work) outcome {
	completed := false
	defer func() {
		if !completed && call.KeyWritten() {
			_ = k.store.ReleaseIdempotencyKey(context.WithoutCancel(r.Context()), call.Record.MerchantID, call.Record.Key)
		}
	}()
	result, err := do(r.Context(), body, call)
	completed = true
	buf := &bufferedWriter{header: w.Header()}
	if err != nil {
		respondErr(buf, r, k.log, err)
	} else if err := encode(buf, status, result); err != nil {
		buf = &bufferedWriter{header: w.Header()}
		respondErr(buf, r, k.log, err)
	}
	return outcome{buf: buf, err: err}
}

// keep stores the answer under the key (or lets the key go), then sends
// it. An answer the service already wrote with the result (call.Stored)
// is the answer: it is sent as it was committed.
func (k keyed) keep(w http.ResponseWriter, r *http.Request, o outcome, call *idempotency.Call, rec idempotency.Record, aad string) {
	if stored, ok := call.Stored(); ok && o.err == nil {
		send(w, &bufferedWriter{header: w.Header(), status: stored.Status, body: *bytes.NewBuffer(stored.Body)})
		return
	}
	// The answer is kept (or the key let go) even if the deadline passed.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	buf, merchantID, key := o.buf, rec.MerchantID, rec.Key
	var err error
	switch {
	case idempotency.Stored(buf.status):
		var resp idempotency.Response
		if resp, err = k.sealing.store(aad, buf.status, buf.body.Bytes()); err == nil {
			err = k.store.CompleteIdempotencyKey(ctx, merchantID, key, resp)
		}
	case idempotency.Forgotten(buf.status):
		err = k.store.ForgetIdempotencyKey(ctx, merchantID, key)
	default:
		err = k.store.ReleaseIdempotencyKey(ctx, merchantID, key)
	}
	if err != nil {
		// The answer was not stored: a retry resumes the request, which
		// finds its work done and answers the same.
		k.log.WarnContext(ctx, "idempotency key not updated", "idempotency_key", key, "error", err.Error())
	}
	send(w, buf)
}

// send writes a buffered answer.
func send(w http.ResponseWriter, buf *bufferedWriter) {
	w.Header().Set("Content-Length", strconv.Itoa(buf.body.Len()))
	w.WriteHeader(buf.status)
	_, _ = w.Write(buf.body.Bytes())
}

// Sealer encrypts data bound to a name (vault.Keyring).
type Sealer interface {
	Seal(plaintext []byte, aad string) (vault.Sealed, error)
	Open(s vault.Sealed, aad string) ([]byte, error)
}

// answerSealing says which stored answers of a route are sealed: all of
// them (always), those when tells (a customer link in a payment), or none.
// The others may be written with the result (idempotency.Call.AnswerFor).
type answerSealing struct {
	sealer Sealer
	always bool
	when   func(body []byte) bool
}

// secret tells which answers show a secret, for the Call.
func (s answerSealing) secret() func(body []byte) bool {
	if s.always {
		return func([]byte) bool { return true }
	}
	return s.when
}

// store is the response to keep for an answer: sealed, bound to aad (its
// merchant, mode and key), when it shows a secret.
func (s answerSealing) store(aad string, status int, body []byte) (idempotency.Response, error) {
	if !s.always && (s.when == nil || !s.when(body)) {
		return idempotency.Response{Status: status, Body: body}, nil
	}
	if s.sealer == nil {
		return idempotency.Response{}, errors.New("an answer to seal on a server without a sealer")
	}
	sealed, err := s.sealer.Seal(body, aad)
	if err != nil {
		return idempotency.Response{}, err
	}
	b, err := idempotency.SealedBody(sealed)
	return idempotency.Response{Status: status, Body: b, KeyID: sealed.KeyID}, err
}

// open is the answer a stored response replays.
func (s answerSealing) open(aad string, stored []byte) ([]byte, error) {
	sealed, isSealed, err := idempotency.OpenedBody(stored)
	if err != nil || !isSealed {
		return stored, err
	}
	if s.sealer == nil {
		return nil, errors.New("a sealed idempotent answer on a server without a sealer")
	}
	return s.sealer.Open(sealed, aad)
}

// showsCustomerLink tells whether a payment answer holds the customer's
// single-use link (next_action): a bearer credential, kept only sealed.
func showsCustomerLink(body []byte) bool {
	return bytes.Contains(body, []byte(`"next_action":{`))
}
