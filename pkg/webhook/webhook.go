// Package webhook signs and verifies webhooks the way the Standard Webhooks
// specification describes, which is how paygate signs the events it sends.
//
// Every delivery carries three headers:
//
//	webhook-id:        the event id, the same on every retry of one event
//	webhook-timestamp: the attempt's time, in Unix seconds
//	webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">
//
// The HMAC key is the base64 (standard alphabet, padded) text that follows
// "whsec_" in the endpoint's secret. While a secret is being rotated the
// signature header holds one signature per secret, separated by spaces, and a
// request is authentic when any "v1" signature in it matches.
//
// A merchant's handler calls [VerifyRequest] (or [Verify] when it has read the
// body itself) with the endpoint's secret and rejects the request on any
// error. The raw body must be verified as received: parsing and re-encoding
// JSON before verifying changes the bytes and breaks the signature.
//
// The package uses only the standard library so that merchants can vendor or
// copy it freely.
package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Header names. Go canonicalises header keys, so these work with any
// http.Header method whatever their case on the wire.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

const (
	// SecretPrefix starts every secret; the rest is the base64 key.
	SecretPrefix = "whsec_"

	// DefaultTolerance is how far a timestamp may be from the verifier's
	// clock when the caller passes a tolerance of zero.
	DefaultTolerance = 5 * time.Minute

	// MaxBodyBytes bounds the body [VerifyRequest] reads, so a forged
	// request cannot make the receiver buffer an unbounded amount of data
	// before the signature check rejects it. paygate's events are far
	// smaller.
	MaxBodyBytes = 1 << 20

	secretBytes = 32
	version     = "v1"
)

// Errors returned by this package, wrapped with detail; compare with
// errors.Is.
var (
	// ErrInvalidSecret means the secret is not "whsec_" followed by
	// non-empty standard base64: a configuration problem, not a bad request.
	ErrInvalidSecret = errors.New("webhook: invalid secret")
	// ErrMissingHeaders means webhook-id, webhook-timestamp or
	// webhook-signature is absent or empty.
	ErrMissingHeaders = errors.New("webhook: missing webhook headers")
	// ErrMalformedHeaders means a header is present but unparseable: a
	// timestamp that is not Unix seconds, or a signature header without a
	// single well-formed "version,base64" entry.
	ErrMalformedHeaders = errors.New("webhook: malformed webhook headers")
	// ErrTimestamp means the timestamp is further from now than the
	// tolerance, in the past (a possible replay) or in the future.
	ErrTimestamp = errors.New("webhook: timestamp outside tolerance")
	// ErrSignature means no v1 signature matches: the body, id or timestamp
	// were altered, or the secret is not the one the sender used.
	ErrSignature = errors.New("webhook: no matching signature")
	// ErrBodyTooLarge means the body exceeds MaxBodyBytes.
	ErrBodyTooLarge = errors.New("webhook: body too large")
	// ErrInvalidID means Sign was given an id that cannot travel in a
	// header.
	ErrInvalidID = errors.New("webhook: invalid id")
)

// NewSecret returns a fresh secret: "whsec_" and the standard base64 of 32
// random bytes.
func NewSecret() (string, error) {
	key := make([]byte, secretBytes)
	if _, err := rand.Read(key); err != nil {
		return "", fmt.Errorf("webhook: generate secret: %w", err)
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(key), nil
}

// decodeSecret insists on the prefix: paygate always issues prefixed
// secrets, so an unprefixed string is far more likely a pasted API key or a
// different provider's secret than a bare key, and guessing would turn that
// mistake into a stream of puzzling signature failures.
func decodeSecret(secret string) ([]byte, error) {
	enc, ok := strings.CutPrefix(secret, SecretPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: it must start with %q", ErrInvalidSecret, SecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return nil, fmt.Errorf("%w: the part after %q is not standard base64", ErrInvalidSecret, SecretPrefix)
	}
	if len(key) == 0 {
		return nil, fmt.Errorf("%w: the key is empty", ErrInvalidSecret)
	}
	return key, nil
}

func mac(key []byte, id, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(id)) // a hash.Hash never returns an error
	h.Write([]byte{'.'})
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// validID keeps ids to visible ASCII so a signed id can never smuggle a
// header break or be altered by a proxy's whitespace handling.
func validID(id string) error {
	if id == "" {
		return fmt.Errorf("%w: empty", ErrInvalidID)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c >= 0x7f {
			return fmt.Errorf("%w: byte %#x at %d is not visible ASCII", ErrInvalidID, c, i)
		}
	}
	return nil
}

func timestamp(ts time.Time) (string, error) {
	if ts.Unix() <= 0 {
		return "", fmt.Errorf("webhook: timestamp %v is not after the Unix epoch", ts)
	}
	return strconv.FormatInt(ts.Unix(), 10), nil
}

// Sign returns the webhook-signature header value ("v1,<base64>") for one
// secret. Only ts's whole seconds are signed.
func Sign(secret, id string, ts time.Time, body []byte) (string, error) {
	s, err := NewSigner(secret)
	if err != nil {
		return "", err
	}
	return s.Sign(id, ts, body)
}

// Signer signs with one or more secrets. Several secrets let a sender
// overlap an old and a new secret during rotation, so receivers verifying
// with either keep working. A Signer is safe for concurrent use.
type Signer struct {
	keys [][]byte
}

// NewSigner decodes the secrets once, for repeated signing.
func NewSigner(secrets ...string) (*Signer, error) {
	if len(secrets) == 0 {
		return nil, fmt.Errorf("%w: no secret given", ErrInvalidSecret)
	}
	keys := make([][]byte, 0, len(secrets))
	for i, s := range secrets {
		k, err := decodeSecret(s)
		if err != nil {
			return nil, fmt.Errorf("secret %d: %w", i, err)
		}
		keys = append(keys, k)
	}
	return &Signer{keys: keys}, nil
}

// Sign returns the webhook-signature header value: one "v1,<base64>" entry
// per secret, in the order given to NewSigner, separated by spaces.
func (s *Signer) Sign(id string, ts time.Time, body []byte) (string, error) {
	if err := validID(id); err != nil {
		return "", err
	}
	t, err := timestamp(ts)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for i, k := range s.keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(version)
		b.WriteByte(',')
		b.WriteString(base64.StdEncoding.EncodeToString(mac(k, id, t, body)))
	}
	return b.String(), nil
}

// SetHeaders signs body and sets webhook-id, webhook-timestamp and
// webhook-signature on h, replacing any previous values.
func (s *Signer) SetHeaders(h http.Header, id string, ts time.Time, body []byte) error {
	sig, err := s.Sign(id, ts, body)
	if err != nil {
		return err
	}
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, sig)
	return nil
}

// Verify checks that h and body were signed with secret, and that the
// signed timestamp is within tolerance of now, either way. A tolerance of
// zero or less means DefaultTolerance (the check cannot be switched off:
// without it a captured request could be replayed forever). A zero now means
// time.Now().
//
// The secret is checked first so that a misconfigured receiver fails the
// same way on every request; then the headers, the timestamp, and last the
// signatures, compared in constant time.
func Verify(secret string, h http.Header, body []byte, tolerance time.Duration, now time.Time) error {
	key, err := decodeSecret(secret)
	if err != nil {
		return err
	}
	// Signatures may arrive split over several header lines by an
	// intermediary; together they are still one space-separated list.
	id, ts, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), strings.Join(h.Values(HeaderSignature), " ")
	var missing []string
	for _, f := range []struct{ name, v string }{{HeaderID, id}, {HeaderTimestamp, ts}, {HeaderSignature, sigs}} {
		if strings.TrimSpace(f.v) == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s", ErrMissingHeaders, strings.Join(missing, ", "))
	}

	// Only the canonical decimal form is accepted: the signature covers the
	// header text, and "+17…" or "017…" would let one signature stand for
	// several spellings of the same instant.
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || secs <= 0 || strconv.FormatInt(secs, 10) != ts {
		return fmt.Errorf("%w: %s %q is not Unix seconds", ErrMalformedHeaders, HeaderTimestamp, ts)
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	if now.IsZero() {
		now = time.Now()
	}
	// Compared as instants, not via now.Sub, which saturates for absurd
	// timestamps (milliseconds sent as seconds) and would then wrap on
	// negation.
	switch signed := time.Unix(secs, 0); {
	case signed.Before(now.Add(-tolerance)):
		return fmt.Errorf("%w: signed at %s, more than %s before %s", ErrTimestamp, signed.UTC().Format(time.RFC3339), tolerance, now.UTC().Format(time.RFC3339))
	case signed.After(now.Add(tolerance)):
		return fmt.Errorf("%w: signed at %s, more than %s after %s", ErrTimestamp, signed.UTC().Format(time.RFC3339), tolerance, now.UTC().Format(time.RFC3339))
	}

	want := mac(key, id, ts, body)
	wellFormed := false
	for entry := range strings.FieldsSeq(sigs) {
		ver, enc, ok := strings.Cut(entry, ",")
		if !ok || ver == "" || enc == "" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			continue
		}
		wellFormed = true
		// Other versions (e.g. v1a, asymmetric) are legitimate entries this
		// package does not verify; skipping them lets senders add schemes.
		if ver == version && hmac.Equal(got, want) {
			return nil
		}
	}
	if !wellFormed {
		return fmt.Errorf("%w: %s has no \"version,base64\" entry", ErrMalformedHeaders, HeaderSignature)
	}
	return ErrSignature
}

// VerifyRequest reads r's body, at most MaxBodyBytes of it, and verifies it
// against r's headers with time.Now() as the clock. It returns the body on
// success, for the handler to parse; r.Body is consumed either way.
func VerifyRequest(secret string, r *http.Request, tolerance time.Duration) ([]byte, error) {
	if r.Body == nil {
		return nil, Verify(secret, r.Header, nil, tolerance, time.Now())
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("webhook: read body: %w", err)
	}
	if len(body) > MaxBodyBytes {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrBodyTooLarge, MaxBodyBytes)
	}
	if err := Verify(secret, r.Header, body, tolerance, time.Now()); err != nil {
		return nil, err
	}
	return body, nil
}
