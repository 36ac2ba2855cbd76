package ids

import (
	"sort"
	"testing"
	"time"
)

func TestNewIsValidAndOrdered(t *testing.T) {
	var got []string
	for i := 0; i < 5; i++ {
		got = append(got, New(Payment))
		time.Sleep(2 * time.Millisecond)
	}
	if !sort.StringsAreSorted(got) {
		t.Fatalf("ids not time ordered: %v", got)
	}
	for _, id := range got {
		if !Valid(Payment, id) {
			t.Fatalf("Valid(%q) = false", id)
		}
	}
}

func TestValidRejects(t *testing.T) {
	for _, s := range []string{"", "pay_", "pay_123", "re_" + New(Payment)[4:], New(Payment) + "x", "pay_0000000000000000000000000!"} {
		if Valid(Payment, s) {
			t.Errorf("Valid(%q) = true", s)
		}
	}
}
