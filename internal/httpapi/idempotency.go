package httpapi

import (
	"bytes"
	"context"
	"errors"
	"io"
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

// idempotent runs the merchant's mutating requests (POST, PATCH, DELETE).
//
// Every such request is detached from its client's connection and given
// its own deadline: a client that hangs up must not cut a payment off
// between its steps. The deadline is shorter than the key lease, so a live
// request never loses its key to a retry.
//
// With an Idempotency-Key the request is claimed under the key first: a
// finished one is replayed, a running one is 409, one that died is run
// again with idempotency.Attempt telling the services to resume it.
//
// Answers are stored sealed when sealing says they show a secret (a
// webhook signing secret, a customer link), so that none sits in the
// database in clear.
//
// deferClaim, for routes that create an object, leaves the claim to the
// transaction that creates it (see idempotency.Record.Unclaimed).
func idempotent(log *slog.Logger, keys IdempotencyStore, lease time.Duration, hasher *idempotency.Hasher, sealing answerSealing,
	deferClaim bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != http.MethodPatch && r.Method != http.MethodDelete {
			next.ServeHTTP(w, r)
			return
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), lease/2)
		defer cancel()
		r = r.WithContext(ctx)
		vals, present := r.Header[http.CanonicalHeaderKey(idempotency.Header)]
		if !present {
			next.ServeHTTP(w, r)
			return
		}
		if len(vals) != 1 || len(vals[0]) == 0 || len(vals[0]) > idempotency.MaxKeyLen {
			respondErr(w, r, log, apierror.Invalid("idempotency_key_invalid", idempotency.Header,
				"The Idempotency-Key header must be given once, with 1 to %d characters.", idempotency.MaxKeyLen))
			return
		}
		key := vals[0]
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
		if err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				respondErr(w, r, log, &apierror.Error{Kind: apierror.KindTooLarge, Code: "body_too_large", Message: "The request body is larger than 1 MiB."})
				return
			}
			respondErr(w, r, log, &apierror.Error{Kind: apierror.KindInvalidRequest, Code: "invalid_body", Message: "The request body could not be read."})
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		acct := accountFrom(ctx)
		merchantID := acct.MerchantID
		// The key's mode is part of the request, stored and hashed: a live
		// request under a key a test request used is another request (422),
		// never its replay, and the other way round.
		now := time.Now().UTC()
		rec := idempotency.Record{
			MerchantID: merchantID, Livemode: acct.Livemode, Key: key, Method: r.Method, Path: r.URL.Path,
			RequestHash: hasher.Sum(acct.Livemode, r.Method, r.URL.Path, body), CreatedAt: now, LockedUntil: now.Add(lease),
		}
		aad := idempotency.AnswerAAD(merchantID, acct.Livemode, key)
		// run serves the request under attempt into a buffer. owns tells
		// whether this request's key row exists (claimed, or inserted by
		// the creating transaction), so that a panic releases only a row
		// of its own.
		run := func(ctx context.Context, attempt idempotency.Attempt, owns func() bool) (*bufferedWriter, *idempotency.Answer) {
			var answer *idempotency.Answer
			if !sealing.always { // a sealed answer is stored only here, sealed
				ctx, answer = idempotency.WithAnswer(ctx, merchantID, key, sealing.when)
			}
			buf := &bufferedWriter{header: w.Header()}
			r.Body = io.NopCloser(bytes.NewReader(body)) // each run reads it anew
			completed := false
			defer func() {
				if !completed && owns() { // a panic: let a retry resume at once
					_ = keys.ReleaseIdempotencyKey(context.WithoutCancel(ctx), merchantID, key)
				}
			}()
			next.ServeHTTP(buf, r.WithContext(idempotency.With(ctx, attempt)))
			completed = true
			if buf.status == 0 {
				buf.status = http.StatusOK
			}
			return buf, answer
		}
		// keep stores the answer (or lets the key go), then sends it.
		keep := func(buf *bufferedWriter, answer *idempotency.Answer) {
			if answer.Written(buf.status, buf.body.Bytes()) {
				send(w, buf) // stored in the result's own transaction
				return
			}
			// The answer is kept (or the key let go) even if the deadline passed.
			sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer scancel()
			var err error
			switch {
			case idempotency.Stored(buf.status):
				var resp idempotency.Response
				if resp, err = sealing.store(aad, buf.status, buf.body.Bytes()); err == nil {
					err = keys.CompleteIdempotencyKey(sctx, merchantID, key, resp)
				}
			case idempotency.Forgotten(buf.status):
				err = keys.ForgetIdempotencyKey(sctx, merchantID, key)
			default:
				err = keys.ReleaseIdempotencyKey(sctx, merchantID, key)
			}
			if err != nil {
				// The answer was not stored: a retry resumes the request, which
				// finds its work done and answers the same.
				log.WarnContext(ctx, "idempotency key not updated", "idempotency_key", key, "error", err.Error())
			}
			send(w, buf)
		}

		if deferClaim {
			// A create claims its key in the transaction that creates the
			// object: no commit of its own before the request runs. Only
			// when that transaction finds the key taken does the request
			// go through the claim below.
			urec := rec
			urec.Unclaimed = true
			uctx, u := idempotency.WithUnclaimed(ctx)
			buf, answer := run(uctx, idempotency.Attempt{Record: urec}, u.Inserted)
			switch {
			case u.Taken():
				// Another request has the key: answer as the claim says.
			case u.Inserted():
				keep(buf, answer)
				return
			case !idempotency.Stored(buf.status):
				// Failed validation, or a server error before anything was
				// written: nothing to keep, and no key to let go.
				send(w, buf)
				return
			default:
				// An answer to keep (a state conflict) without an object:
				// claim the key now to keep it, unless another request
				// took the key meanwhile.
				claim, err := keys.ClaimIdempotencyKey(ctx, rec)
				if err != nil {
					respondErr(w, r, log, err)
					return
				}
				if claim.Outcome == idempotency.Started {
					keep(buf, nil)
					return
				}
			}
		}

		claim, err := keys.ClaimIdempotencyKey(ctx, rec)
		if err != nil {
			respondErr(w, r, log, err)
			return
		}
		switch claim.Outcome {
		case idempotency.Replay:
			body, err := sealing.open(aad, claim.Response.Body)
			if err != nil {
				respondErr(w, r, log, err)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set(idempotency.ReplayedHeader, "true")
			w.WriteHeader(claim.Response.Status)
			_, _ = w.Write(body)
			return
		case idempotency.InUse:
			w.Header().Set("Retry-After", "1")
			respondErr(w, r, log, &apierror.Error{Kind: apierror.KindConflict, Code: "idempotency_key_in_use",
				Message: "A request with this Idempotency-Key is still being processed; retry after it finishes."})
			return
		case idempotency.Mismatch:
			respondErr(w, r, log, &apierror.Error{Kind: apierror.KindIdempotencyReused, Code: "idempotency_key_reused",
				Message: "This Idempotency-Key was already used with a different request (method, path or body)."})
			return
		}
		attempt := idempotency.Attempt{Resumed: claim.Outcome == idempotency.Resumed, ResourceID: claim.ResourceID, Record: rec}
		if attempt.Resumed {
			log.InfoContext(ctx, "resuming an interrupted request", "idempotency_key", key, "resource_id", claim.ResourceID)
		}
		keep(run(ctx, attempt, func() bool { return true }))
	})
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
type answerSealing struct {
	sealer Sealer
	always bool
	when   func(body []byte) bool
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
