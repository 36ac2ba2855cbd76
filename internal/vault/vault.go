// Package vault encrypts card data at rest.
//
// Envelope encryption: each record gets its own random 256-bit data key
// (DEK); the data is sealed with the DEK under AES-256-GCM, and the DEK is
// sealed with the active key-encryption key (KEK) of the key ring. The KEK's
// id is stored beside the record, so old records stay readable while keys
// rotate. The record id is bound in as additional data, so a ciphertext
// copied onto another record does not decrypt.
package vault

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the size of every key: AES-256.
const KeySize = 32

// Keyring holds the key-encryption keys; the first one parsed is active.
type Keyring struct {
	active      string
	keys        map[string][]byte
	fingerprint []byte
}

// Sealed is an encrypted record.
type Sealed struct {
	KeyID string // KEK that wrapped the DEK
	DEK   []byte // nonce || AES-GCM(KEK, DEK)
	Data  []byte // nonce || AES-GCM(DEK, plaintext)
}

// ParseKeyring parses "ID:BASE64KEY[,ID:BASE64KEY…]". fingerprintKey, if
// not empty, is the base64 HMAC key for card fingerprints; when empty the
// fingerprint key is derived from the active key.
func ParseKeyring(spec, fingerprintKey string) (*Keyring, error) {
	k := &Keyring{keys: map[string][]byte{}}
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		id, b64, ok := strings.Cut(part, ":")
		if !ok || id == "" || b64 == "" {
			return nil, errors.New("each key must be ID:BASE64KEY")
		}
		if _, dup := k.keys[id]; dup {
			return nil, fmt.Errorf("key id %q appears twice", id)
		}
		key, err := decodeKey(b64)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", id, err)
		}
		if k.active == "" {
			k.active = id
		}
		k.keys[id] = key
	}
	if fingerprintKey != "" {
		fk, err := decodeKey(fingerprintKey)
		if err != nil {
			return nil, fmt.Errorf("fingerprint key: %w", err)
		}
		k.fingerprint = fk
	} else {
		fk, err := hkdf.Key(sha256.New, k.keys[k.active], nil, "paygate card fingerprint", KeySize)
		if err != nil {
			return nil, err
		}
		k.fingerprint = fk
	}
	return k, nil
}

func decodeKey(b64 string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, errors.New("not valid base64")
	}
	if len(key) != KeySize {
		return nil, fmt.Errorf("must be %d bytes, got %d", KeySize, len(key))
	}
	return key, nil
}

// Weak reports why a key ring is unfit for production, or "" when it is fit.
func (k *Keyring) Weak() string {
	for id, key := range k.keys {
		distinct := map[byte]bool{}
		for _, b := range key {
			distinct[b] = true
		}
		if len(distinct) < 16 {
			return fmt.Sprintf("key %q has too little entropy; generate one with: openssl rand -base64 32", id)
		}
	}
	return ""
}

// ActiveID is the id of the key new records are sealed with.
func (k *Keyring) ActiveID() string { return k.active }

// NewKey returns a fresh random key, base64 encoded.
func NewKey() string {
	b := make([]byte, KeySize)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// Seal encrypts plaintext for the record named by aad.
func (k *Keyring) Seal(plaintext []byte, aad string) (Sealed, error) {
	dek := make([]byte, KeySize)
	if _, err := rand.Read(dek); err != nil {
		return Sealed{}, err
	}
	data, err := gcmSeal(dek, plaintext, aad)
	if err != nil {
		return Sealed{}, err
	}
	wrapped, err := gcmSeal(k.keys[k.active], dek, aad)
	if err != nil {
		return Sealed{}, err
	}
	return Sealed{KeyID: k.active, DEK: wrapped, Data: data}, nil
}

// Open decrypts a record sealed by Seal.
func (k *Keyring) Open(s Sealed, aad string) ([]byte, error) {
	kek, ok := k.keys[s.KeyID]
	if !ok {
		return nil, fmt.Errorf("vault: key %q is not in the key ring", s.KeyID)
	}
	dek, err := gcmOpen(kek, s.DEK, aad)
	if err != nil {
		return nil, err
	}
	return gcmOpen(dek, s.Data, aad)
}

// DeriveKey returns a key of its own for the named purpose (HKDF-SHA256
// from the fingerprint key). Like fingerprints, it stays the same when the
// encryption keys rotate, so what it keys (the hashes of idempotent
// requests, customer links) survives a rotation; unlike an unkeyed hash, it
// cannot be computed, nor brute-forced, by a reader of the database.
func (k *Keyring) DeriveKey(purpose string) []byte {
	key, err := hkdf.Key(sha256.New, k.fingerprint, nil, "paygate "+purpose, KeySize)
	if err != nil { // only for lengths HKDF cannot produce; KeySize is not one
		panic(err)
	}
	return key
}

// Fingerprint is a keyed hash of a card number: equal for equal numbers,
// useless for recovering the number without the key.
func (k *Keyring) Fingerprint(number string) string {
	m := hmac.New(sha256.New, k.fingerprint)
	m.Write([]byte(number))
	return hex.EncodeToString(m.Sum(nil))[:16]
}

func gcmSeal(key, plaintext []byte, aad string) ([]byte, error) {
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return aead.Seal(nonce, nonce, plaintext, []byte(aad)), nil
}

func gcmOpen(key, sealed []byte, aad string) ([]byte, error) {
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < aead.NonceSize() {
		return nil, errors.New("vault: ciphertext too short")
	}
	nonce, ct := sealed[:aead.NonceSize()], sealed[aead.NonceSize():]
	pt, err := aead.Open(nil, nonce, ct, []byte(aad))
	if err != nil {
		return nil, errors.New("vault: cannot decrypt record")
	}
	return pt, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// Equal reports whether two sealed records are byte-identical (for tests of
// re-encryption).
func (s Sealed) Equal(o Sealed) bool {
	return s.KeyID == o.KeyID && bytes.Equal(s.DEK, o.DEK) && bytes.Equal(s.Data, o.Data)
}
