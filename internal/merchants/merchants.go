// Package merchants holds the tenants of paygate and their secret API keys.
//
// A secret key is 130 random bits, shown once when issued; only its SHA-256
// hash is stored. A fast hash is enough because the secret is random, not a
// password: there is nothing to guess from a dictionary.
package merchants

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"strings"
	"time"

	"github.com/paygate/paygate/internal/ids"
)

// ErrNotFound is returned by stores for a missing merchant or key.
var ErrNotFound = errors.New("merchants: not found")

// Merchant is a tenant. APIKey is set only in the answer that creates it.
type Merchant struct {
	ID        string    `json:"id"`
	Object    string    `json:"object"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	APIKey    *Key      `json:"api_key,omitempty"`
}

// Key is a secret API key. Secret is set only in the answer that issues it.
type Key struct {
	ID         string     `json:"id"`
	Object     string     `json:"object"`
	MerchantID string     `json:"merchant_id"`
	Prefix     string     `json:"prefix"`
	Livemode   bool       `json:"livemode"`
	Secret     string     `json:"secret,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	Hash       []byte     `json:"-"`
}

// prefixLen is how much of a secret stays visible, for support and logs.
const prefixLen = 12

// NewMerchant makes a merchant with its first key.
func NewMerchant(name string, livemode bool, now time.Time) *Merchant {
	m := &Merchant{ID: ids.New(ids.Merchant), Object: "merchant", Name: name, CreatedAt: now}
	m.APIKey = NewKey(m.ID, livemode, now)
	return m
}

// NewKey issues a key for a merchant.
func NewKey(merchantID string, livemode bool, now time.Time) *Key {
	mode := "sk_test_"
	if livemode {
		mode = "sk_live_"
	}
	secret := mode + rand.Text()
	return &Key{
		ID: ids.New(ids.APIKey), Object: "api_key", MerchantID: merchantID, Prefix: secret[:prefixLen],
		Livemode: livemode, Secret: secret, CreatedAt: now, Hash: HashSecret(secret),
	}
}

// HashSecret is how a secret is stored and looked up.
func HashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// LooksLikeSecret reports whether s has the shape of a secret key, so that
// garbage is refused without a database look-up.
func LooksLikeSecret(s string) bool {
	rest, ok := strings.CutPrefix(s, "sk_test_")
	if !ok {
		rest, ok = strings.CutPrefix(s, "sk_live_")
	}
	return ok && len(rest) >= 20 && len(rest) <= 128
}
