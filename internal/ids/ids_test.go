package ids

import (
	"sort"
	"testing"
	"time"
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

func TestBoundBracketsIDsMadeAtThatTime(t *testing.T) {
	before := time.Now()
	id := New(Payment)
	after := time.Now()
	lo, hi := Bound(Payment, before, false), Bound(Payment, after, true)
	if !(lo <= id && id <= hi) {
		t.Fatalf("id %s not within [%s, %s]", id, lo, hi)
	}
	if !Valid(Payment, lo) || !Valid(Payment, hi) {
		t.Fatalf("bounds %s %s are not valid ids", lo, hi)
	}
	if later := Bound(Payment, after.Add(time.Microsecond), false); later <= id {
		t.Fatalf("the lower bound a microsecond later, %s, is not after %s", later, id)
	}
	if earlier := Bound(Payment, before.Add(-time.Microsecond), true); earlier >= id {
		t.Fatalf("the upper bound a microsecond earlier, %s, is not before %s", earlier, id)
	}
	if lo, hi := Bound(Payment, time.Unix(-5, 0), false), Bound(Payment, time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC), true); lo >= id || hi <= id {
		t.Fatalf("out-of-range times: %s %s around %s", lo, hi, id)
	}
}

func TestNewAtSortsByItsTime(t *testing.T) {
	at := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	a, b := NewAt(Payment, at), NewAt(Payment, at.Add(time.Nanosecond))
	if !Valid(Payment, a) || !(a < b) || !(Bound(Payment, at, false) <= a && a <= Bound(Payment, at, true)) || a >= New(Payment) {
		t.Fatalf("NewAt: %s, %s", a, b)
	}
}
