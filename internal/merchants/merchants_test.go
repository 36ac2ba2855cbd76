package merchants

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestNewKey(t *testing.T) {
	now := time.Now()
	a, b := NewKey("mer_1", false, now), NewKey("mer_1", true, now)
	if !strings.HasPrefix(a.Secret, "sk_test_") || !strings.HasPrefix(b.Secret, "sk_live_") {
		t.Fatalf("secrets %q %q", a.Secret, b.Secret)
	}
	if len(a.Secret)-len("sk_test_") < 26 { // 26 base32 characters = 130 bits
		t.Fatalf("secret too short: %d", len(a.Secret))
	}
	if !bytes.Equal(a.Hash, HashSecret(a.Secret)) || bytes.Equal(a.Hash, b.Hash) {
		t.Fatal("hash mismatch")
	}
	if !strings.HasPrefix(a.Secret, a.Prefix) || a.Prefix == a.Secret {
		t.Fatalf("prefix %q", a.Prefix)
	}
	if !LooksLikeSecret(a.Secret) || LooksLikeSecret("sk_test_short") || LooksLikeSecret("pk_test_"+strings.Repeat("A", 26)) {
		t.Fatal("LooksLikeSecret wrong")
	}
}
