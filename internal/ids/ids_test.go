package ids

import (
	"sort"
	"testing"
)

func TestNewIsValidAndOrdered(t *testing.T) {
	var got []string
	for i := 0; i < 1000; i++ {
		got = append(got, New(Payment))
	}
	if !sort.StringsAreSorted(got) {
		t.Fatal("ids made one after another are not in order")
	}
	seen := map[string]bool{}
	for _, id := range got {
		if !Valid(Payment, id) || seen[id] {
			t.Fatalf("Valid(%q) = false, or duplicate", id)
		}
		seen[id] = true
	}
}

func TestValidRejects(t *testing.T) {
	good := New(Payment)
	for _, s := range []string{"", "pay_", "pay_123", "re_" + good[4:], good + "x", good[:len(good)-1] + "!", good[:len(good)-1] + "1", "pay_0000000000000000000000000U"} {
		if Valid(Payment, s) {
			t.Errorf("Valid(%q) = true", s)
		}
	}
}
