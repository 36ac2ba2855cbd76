package staff

import (
	"strings"
	"testing"
)

func TestPasswordHash(t *testing.T) {
	h, err := hashPassword("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") || strings.Contains(h, "horse") {
		t.Fatalf("hash %q", h)
	}
	if h2, _ := hashPassword("correct horse battery staple"); h2 == h {
		t.Error("two hashes of one password are equal: no salt")
	}
	for pw, want := range map[string]bool{"correct horse battery staple": true, "correct horse battery stapl": false, "": false} {
		if ok, err := checkPassword(h, pw); ok != want || err != nil {
			t.Errorf("check %q: %v %v, want %v", pw, ok, err, want)
		}
	}
	for _, bad := range []string{"", "$2a$10$abc", "$argon2id$v=18$m=1,t=1,p=1$AAAA$AAAA", "$argon2id$v=19$m=0,t=1,p=1$AAAA$AAAA", "$argon2id$v=19$m=8,t=1,p=1$!!$AAAA"} {
		if ok, err := checkPassword(bad, "x"); ok || err == nil {
			t.Errorf("malformed %q: %v %v", bad, ok, err)
		}
	}
	if a, b := temporaryPassword(), temporaryPassword(); a == b || len(a) != 26 {
		t.Errorf("temporary passwords %q %q", a, b)
	}
	if a, b := newToken(), newToken(); a == b || len(a) != 43 {
		t.Errorf("tokens %q %q", a, b)
	}
}
