package vault

import (
	"bytes"
	"strings"
	"testing"
)

func ring(t *testing.T, spec string) *Keyring {
	t.Helper()
	k, err := ParseKeyring(spec, "")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpenAcrossRotation(t *testing.T) {
	k1, k2 := NewKey(), NewKey()
	old := ring(t, "v1:"+k1)
	s, err := old.Seal([]byte("4242424242424242"), "pm_1")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(s.Data, []byte("4242424242424242")) || s.KeyID != "v1" {
		t.Fatalf("bad sealed record: %+v", s)
	}
	rotated := ring(t, "v2:"+k2+",v1:"+k1)
	if rotated.ActiveID() != "v2" {
		t.Fatalf("active = %q", rotated.ActiveID())
	}
	pt, err := rotated.Open(s, "pm_1")
	if err != nil || string(pt) != "4242424242424242" {
		t.Fatalf("Open = %q, %v", pt, err)
	}
	if _, err := rotated.Open(s, "pm_2"); err == nil {
		t.Fatal("record opened under another id")
	}
	if _, err := ring(t, "v2:"+k2).Open(s, "pm_1"); err == nil || !strings.Contains(err.Error(), "v1") {
		t.Fatalf("want missing-key error, got %v", err)
	}
}

func TestParseKeyringErrors(t *testing.T) {
	for _, spec := range []string{"", "v1", "v1:", ":abc", "v1:not-base64!", "v1:YWJj", "v1:" + NewKey() + ",v1:" + NewKey()} {
		if _, err := ParseKeyring(spec, ""); err == nil {
			t.Errorf("ParseKeyring(%q) accepted", spec)
		}
	}
}

func TestWeakAndFingerprint(t *testing.T) {
	weak := ring(t, "v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	if weak.Weak() == "" {
		t.Fatal("all-zero key not reported weak")
	}
	k := ring(t, "v1:"+NewKey())
	if k.Weak() != "" {
		t.Fatal("random key reported weak")
	}
	a, b := k.Fingerprint("4242424242424242"), k.Fingerprint("4242424242424242")
	if a != b || a == k.Fingerprint("5555555555554444") {
		t.Fatalf("fingerprints: %s %s", a, b)
	}
}
