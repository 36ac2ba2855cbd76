package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBuckets(t *testing.T) {
	prev := -1
	for v := uint64(0); v < 1<<20; v++ {
		i := bucketOf(v)
		if i != prev && i != prev+1 {
			t.Fatalf("bucketOf(%d) = %d after %d: buckets must be contiguous", v, i, prev)
		}
		if high := bucketHigh(i); v > high || (i != prev && i > 0 && bucketHigh(i-1) != v-1) {
			t.Fatalf("value %d in bucket %d with high %d (previous high %d)", v, i, high, bucketHigh(i-1))
		}
		if v >= 256 && float64(bucketHigh(i)-v) > float64(v)/128 {
			t.Fatalf("bucket of %d reaches %d: more than 1/128 off", v, bucketHigh(i))
		}
		prev = i
	}
	if i := bucketOf(1 << 62); bucketHigh(i) < 1<<62 {
		t.Errorf("a huge value lands in bucket %d ending at %d", i, bucketHigh(i))
	}
}

func TestQuantilesMatchExactOnes(t *testing.T) {
	var h, a, b histogram
	var exact []uint64
	for i := range 100000 {
		us := uint64(rand.ExpFloat64()*5000) + 100 // a long tail, like latencies
		exact = append(exact, us)
		h.record(time.Duration(us) * time.Microsecond)
		if i%2 == 0 {
			a.record(time.Duration(us) * time.Microsecond)
		} else {
			b.record(time.Duration(us) * time.Microsecond)
		}
	}
	a.merge(&b)
	slices.Sort(exact)
	for _, q := range []float64{0, 0.5, 0.9, 0.95, 0.99, 0.999, 1} {
		rank := min(max(int(math.Ceil(q*float64(len(exact)))), 1), len(exact))
		want := exact[rank-1]
		for _, got := range []uint64{h.quantile(q), a.quantile(q)} {
			if got < want || float64(got-want) > float64(want)/128+1 {
				t.Errorf("q%g = %d, exact %d", q, got, want)
			}
		}
	}
	if h.min != exact[0] || h.max != exact[len(exact)-1] || a.min != h.min || a.max != h.max || a.n != h.n || a.sum != h.sum {
		t.Errorf("min/max/n/sum: %d %d %d %d, merged %d %d %d %d, exact %d %d", h.min, h.max, h.n, h.sum, a.min, a.max, a.n, a.sum, exact[0], exact[len(exact)-1])
	}
	var empty histogram
	if empty.quantile(0.5) != 0 || empty.mean() != 0 {
		t.Error("an empty histogram reports values")
	}
}
