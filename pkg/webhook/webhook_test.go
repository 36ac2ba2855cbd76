package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	testNow  = time.Unix(1_750_000_000, 0)
	testBody = []byte(`{"id":"evt_123","type":"payment.succeeded"}`)
)

func mustSecret(t *testing.T) string {
	t.Helper()
	s, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func signedHeader(t *testing.T, id string, ts time.Time, body []byte, secrets ...string) http.Header {
	t.Helper()
	s, err := NewSigner(secrets...)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	if err := s.SetHeaders(h, id, ts, body); err != nil {
		t.Fatal(err)
	}
	return h
}

func TestNewSecret(t *testing.T) {
	a, b := mustSecret(t), mustSecret(t)
	if a == b {
		t.Fatal("two secrets are equal")
	}
	enc, ok := strings.CutPrefix(a, "whsec_")
	if !ok {
		t.Fatalf("secret %q lacks the whsec_ prefix", a)
	}
	key, err := base64.StdEncoding.DecodeString(enc)
	if err != nil || len(key) != 32 {
		t.Fatalf("key: %d bytes, err %v; want 32 bytes", len(key), err)
	}
}

// TestKnownAnswer pins the exact construction independently of mac():
// HMAC-SHA256 keyed with the decoded secret over "id.timestamp.body", in
// padded standard base64.
func TestKnownAnswer(t *testing.T) {
	key := bytes.Repeat([]byte{0x0b}, 32)
	secret := "whsec_" + base64.StdEncoding.EncodeToString(key)
	h := hmac.New(sha256.New, key)
	h.Write([]byte("evt_1.1700000000.{\"a\":1}"))
	want := "v1," + base64.StdEncoding.EncodeToString(h.Sum(nil))

	got, err := Sign(secret, "evt_1", time.Unix(1_700_000_000, 999_000_000), []byte(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
}

// TestStandardWebhooksVector is the test vector published with the Standard
// Webhooks reference libraries.
func TestStandardWebhooksVector(t *testing.T) {
	const (
		secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		id     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
		want   = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
	)
	ts := time.Unix(1614265330, 0)
	body := []byte(`{"test": 2432232314}`)

	got, err := Sign(secret, id, ts, body)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
	h := http.Header{}
	h.Set(HeaderID, id)
	h.Set(HeaderTimestamp, "1614265330")
	h.Set(HeaderSignature, want)
	if err := Verify(secret, h, body, 0, ts.Add(time.Minute)); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

func TestVerify(t *testing.T) {
	secret, other := mustSecret(t), mustSecret(t)
	valid := signedHeader(t, "evt_123", testNow, testBody, secret)
	validSig := valid.Get(HeaderSignature)
	otherSig := signedHeader(t, "evt_123", testNow, testBody, other).Get(HeaderSignature)

	tests := []struct {
		name    string
		secret  string
		edit    func(h http.Header)
		body    []byte
		tol     time.Duration
		now     time.Time
		wantErr error
	}{
		{name: "round trip"},
		{name: "tampered body", body: []byte(`{"id":"evt_123","type":"payment.failed"}`), wantErr: ErrSignature},
		{name: "empty body", body: []byte{}, wantErr: ErrSignature},
		{name: "wrong secret", secret: other, wantErr: ErrSignature},
		{name: "tampered id", edit: func(h http.Header) { h.Set(HeaderID, "evt_124") }, wantErr: ErrSignature},
		{name: "tampered timestamp", edit: func(h http.Header) { h.Set(HeaderTimestamp, strconv.FormatInt(testNow.Unix()+1, 10)) }, wantErr: ErrSignature},
		{name: "at the tolerance edge, past", now: testNow.Add(DefaultTolerance)},
		{name: "at the tolerance edge, future", now: testNow.Add(-DefaultTolerance)},
		{name: "stale", now: testNow.Add(DefaultTolerance + time.Second), wantErr: ErrTimestamp},
		{name: "future", now: testNow.Add(-DefaultTolerance - time.Second), wantErr: ErrTimestamp},
		{name: "stale under a custom tolerance", now: testNow.Add(31 * time.Second), tol: 30 * time.Second, wantErr: ErrTimestamp},
		{name: "negative tolerance means default", now: testNow.Add(time.Minute), tol: -1},
		{name: "several signatures, one valid", edit: func(h http.Header) {
			h.Set(HeaderSignature, otherSig+" v1a,"+base64.StdEncoding.EncodeToString(make([]byte, 64))+" "+validSig)
		}},
		{name: "several signatures over several header lines", edit: func(h http.Header) {
			h.Set(HeaderSignature, otherSig)
			h.Add(HeaderSignature, validSig)
		}},
		{name: "several signatures, none valid", edit: func(h http.Header) { h.Set(HeaderSignature, otherSig+" "+otherSig) }, wantErr: ErrSignature},
		{name: "valid MAC under another version", edit: func(h http.Header) {
			h.Set(HeaderSignature, "v2"+strings.TrimPrefix(validSig, "v1"))
		}, wantErr: ErrSignature},
		{name: "truncated signature", edit: func(h http.Header) { h.Set(HeaderSignature, validSig[:len(validSig)-4]) }, wantErr: ErrSignature},
		{name: "signature without version", edit: func(h http.Header) { h.Set(HeaderSignature, strings.TrimPrefix(validSig, "v1,")) }, wantErr: ErrMalformedHeaders},
		{name: "signature not base64", edit: func(h http.Header) { h.Set(HeaderSignature, "v1,not*base64!") }, wantErr: ErrMalformedHeaders},
		{name: "signature empty after version", edit: func(h http.Header) { h.Set(HeaderSignature, "v1,") }, wantErr: ErrMalformedHeaders},
		{name: "timestamp not a number", edit: func(h http.Header) { h.Set(HeaderTimestamp, "yesterday") }, wantErr: ErrMalformedHeaders},
		{name: "timestamp in milliseconds", edit: func(h http.Header) { h.Set(HeaderTimestamp, strconv.FormatInt(testNow.UnixMilli(), 10)) }, wantErr: ErrTimestamp},
		{name: "timestamp with a plus sign", edit: func(h http.Header) { h.Set(HeaderTimestamp, "+"+strconv.FormatInt(testNow.Unix(), 10)) }, wantErr: ErrMalformedHeaders},
		{name: "timestamp with a leading zero", edit: func(h http.Header) { h.Set(HeaderTimestamp, "0"+strconv.FormatInt(testNow.Unix(), 10)) }, wantErr: ErrMalformedHeaders},
		{name: "negative timestamp", edit: func(h http.Header) { h.Set(HeaderTimestamp, "-1") }, wantErr: ErrMalformedHeaders},
		{name: "missing id", edit: func(h http.Header) { h.Del(HeaderID) }, wantErr: ErrMissingHeaders},
		{name: "missing timestamp", edit: func(h http.Header) { h.Del(HeaderTimestamp) }, wantErr: ErrMissingHeaders},
		{name: "missing signature", edit: func(h http.Header) { h.Del(HeaderSignature) }, wantErr: ErrMissingHeaders},
		{name: "blank signature", edit: func(h http.Header) { h.Set(HeaderSignature, "  ") }, wantErr: ErrMissingHeaders},
		{name: "secret without prefix", secret: strings.TrimPrefix(secret, "whsec_"), wantErr: ErrInvalidSecret},
		{name: "secret not base64", secret: "whsec_???", wantErr: ErrInvalidSecret},
		{name: "empty key", secret: "whsec_", wantErr: ErrInvalidSecret},
		{name: "invalid secret reported before missing headers", secret: "sk_test_123", edit: func(h http.Header) { h.Del(HeaderID) }, wantErr: ErrInvalidSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := valid.Clone()
			if tt.edit != nil {
				tt.edit(h)
			}
			s := secret
			if tt.secret != "" {
				s = tt.secret
			}
			body := testBody
			if tt.body != nil {
				body = tt.body
			}
			now := testNow
			if !tt.now.IsZero() {
				now = tt.now
			}
			err := Verify(s, h, body, tt.tol, now)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("Verify = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestSignerSeveralSecrets(t *testing.T) {
	oldS, newS, unrelated := mustSecret(t), mustSecret(t), mustSecret(t)
	h := signedHeader(t, "evt_9", testNow, testBody, oldS, newS)

	if n := len(strings.Fields(h.Get(HeaderSignature))); n != 2 {
		t.Fatalf("%d signatures, want 2: %q", n, h.Get(HeaderSignature))
	}
	for _, s := range []string{oldS, newS} {
		if err := Verify(s, h, testBody, 0, testNow); err != nil {
			t.Errorf("Verify with one of the signing secrets: %v", err)
		}
	}
	if err := Verify(unrelated, h, testBody, 0, testNow); !errors.Is(err, ErrSignature) {
		t.Errorf("Verify with an unrelated secret = %v, want ErrSignature", err)
	}
	if got, want := h.Get(HeaderTimestamp), strconv.FormatInt(testNow.Unix(), 10); got != want {
		t.Errorf("timestamp header = %q, want %q", got, want)
	}
	if got := h.Get(HeaderID); got != "evt_9" {
		t.Errorf("id header = %q", got)
	}
}

func TestSignRejects(t *testing.T) {
	secret := mustSecret(t)
	for _, tt := range []struct {
		name, secret, id string
		ts               time.Time
		want             error
	}{
		{"empty id", secret, "", testNow, ErrInvalidID},
		{"id with a newline", secret, "evt_1\r\nX-Evil: 1", testNow, ErrInvalidID},
		{"id with a space", secret, "evt 1", testNow, ErrInvalidID},
		{"secret without prefix", "c2VjcmV0", "evt_1", testNow, ErrInvalidSecret},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Sign(tt.secret, tt.id, tt.ts, testBody); !errors.Is(err, tt.want) {
				t.Fatalf("Sign = %v, want %v", err, tt.want)
			}
		})
	}
	if _, err := Sign(secret, "evt_1", time.Time{}, testBody); err == nil {
		t.Error("Sign accepted the zero time")
	}
	if _, err := NewSigner(); !errors.Is(err, ErrInvalidSecret) {
		t.Errorf("NewSigner() = %v, want ErrInvalidSecret", err)
	}
}

func TestVerifyRequest(t *testing.T) {
	secret := mustSecret(t)
	newReq := func(body []byte) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/webhooks", bytes.NewReader(body))
		s, err := NewSigner(secret)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetHeaders(r.Header, "evt_1", time.Now(), body); err != nil {
			t.Fatal(err)
		}
		return r
	}

	got, err := VerifyRequest(secret, newReq(testBody), 0)
	if err != nil || !bytes.Equal(got, testBody) {
		t.Fatalf("VerifyRequest = %q, %v; want the body", got, err)
	}

	big := bytes.Repeat([]byte("a"), MaxBodyBytes+1)
	if _, err := VerifyRequest(secret, newReq(big), 0); !errors.Is(err, ErrBodyTooLarge) {
		t.Fatalf("VerifyRequest(big) = %v, want ErrBodyTooLarge", err)
	}
	exact := bytes.Repeat([]byte("a"), MaxBodyBytes)
	if _, err := VerifyRequest(secret, newReq(exact), 0); err != nil {
		t.Fatalf("VerifyRequest(MaxBodyBytes) = %v", err)
	}

	r := newReq(testBody)
	r.Body = http.NoBody
	if _, err := VerifyRequest(secret, r, 0); !errors.Is(err, ErrSignature) {
		t.Fatalf("VerifyRequest with the body stripped = %v, want ErrSignature", err)
	}
}
