package routing

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/connectors"
)

func TestCandidates(t *testing.T) {
	gte := int64(10_000)
	r := &Rules{
		Rules: []Rule{
			{Conditions: Conditions{Currency: []string{"EUR"}}, Split: []Share{{"ca_eur", 1}}},
			{Conditions: Conditions{CardBrand: []string{"amex"}, AmountGTE: &gte}, Split: []Share{{"ca_amex", 1}}},
			{Split: []Share{{"ca_a", 3}, {"ca_b", 1}}},
		},
		Fallback: []string{"ca_b", "ca_z"},
	}
	for _, c := range []struct {
		p    Payment
		want []string // nil: only checks the first rule that holds is used
	}{
		{Payment{ID: "pay_1", Amount: 500, Currency: "EUR", CardBrand: "visa"}, []string{"ca_eur", "ca_b", "ca_z"}},
		{Payment{ID: "pay_2", Amount: 20_000, Currency: "USD", CardBrand: "amex"}, []string{"ca_amex", "ca_b", "ca_z"}},
		// Below amount_gte: the amex rule does not hold.
		{Payment{ID: "pay_3", Amount: 9_999, Currency: "USD", CardBrand: "amex"}, nil},
	} {
		got := r.Candidates(c.p)
		if c.want != nil && !slices.Equal(got, c.want) {
			t.Errorf("%+v: %v, want %v", c.p, got, c.want)
		}
		if c.want == nil && (got[0] != "ca_a" && got[0] != "ca_b") {
			t.Errorf("%+v: %v, want the split's pick first", c.p, got)
		}
	}
	// The split: 3:1 within bounds over 4,000 ids, and the same id always
	// the same pick; the fallback never repeats the pick.
	n := map[string]int{}
	for i := range 4000 {
		p := Payment{ID: fmt.Sprintf("pay_%06d", i), Amount: 100, Currency: "USD", CardBrand: "visa"}
		got := r.Candidates(p)
		if again := r.Candidates(p); !slices.Equal(got, again) {
			t.Fatalf("%s: %v then %v", p.ID, got, again)
		}
		seen := map[string]bool{}
		for _, id := range got {
			if seen[id] {
				t.Fatalf("%s: %s twice: %v", p.ID, id, got)
			}
			seen[id] = true
		}
		n[got[0]]++
	}
	// 3,000 expected at ca_a; standard deviation sqrt(4000 × ¾ × ¼) ≈ 27.
	if n["ca_a"] < 2860 || n["ca_a"] > 3140 {
		t.Errorf("split 3:1 gave %v", n)
	}
}

func TestBreaker(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	b := breaker{failures: map[string]int{}, until: map[string]time.Time{}, threshold: 3, cooldown: 30 * time.Second,
		now: func() time.Time { return now }}
	observe := func(notProcessed bool) (opened, closed bool) { return b.observe("ca_1", notProcessed) }

	for i := range 2 {
		if opened, _ := observe(true); opened || b.open("ca_1") {
			t.Fatalf("open after %d failures", i+1)
		}
	}
	// An answer (or a timeout: no proof) resets the count.
	observe(false)
	observe(true)
	observe(true)
	if b.open("ca_1") {
		t.Fatal("open although an answer came between the failures")
	}
	if opened, _ := observe(true); !opened || !b.open("ca_1") {
		t.Fatal("not open after 3 failures in a row")
	}
	// The cool-down ends; the probe fails: open again, but not counted as
	// opening a second time (the gauge of open breakers would drift).
	now = now.Add(31 * time.Second)
	if b.open("ca_1") {
		t.Fatal("still open after the cool-down")
	}
	if opened, _ := observe(true); opened || !b.open("ca_1") {
		t.Fatalf("a failed probe: opened %v, open %v; want open again, not opened", opened, b.open("ca_1"))
	}
	// A probe answered closes it, once.
	now = now.Add(31 * time.Second)
	if _, closed := observe(false); !closed || b.open("ca_1") {
		t.Fatal("an answer did not close the breaker")
	}
	if _, closed := observe(false); closed {
		t.Fatal("closed twice")
	}
}

// TestBaseURLGuard: in production a processor's address passes the same
// guard as webhook endpoints (https, a public host); in development a test
// server on loopback is allowed.
func TestBaseURLGuard(t *testing.T) {
	prod, dev := &Service{Production: true}, &Service{}
	for _, c := range []struct {
		url       string
		prod, dev bool // accepted
	}{
		{"https://api.stripe.com", true, true},
		{"https://checkout-test.adyen.com/v71/", true, true},
		{"http://127.0.0.1:12111", false, true},
		{"https://127.0.0.1:12111", false, true},
		{"https://10.1.2.3", false, true},
		{"https://169.254.169.254/latest", false, true},
		{"https://user:pw@api.stripe.com", false, false},
		{"https://api.stripe.com?x=1", false, false},
		{"ftp://api.stripe.com", false, false},
	} {
		u := c.url
		_, errP := prod.checkBaseURL(Stripe, &u)
		_, errD := dev.checkBaseURL(Stripe, &u)
		if (errP == nil) != c.prod || (errD == nil) != c.dev {
			t.Errorf("%s: production %v, development %v", c.url, errP, errD)
		}
	}
	if got, _ := dev.checkBaseURL(Adyen, strPtr("https://checkout-test.adyen.com/v71/")); got != "https://checkout-test.adyen.com/v71" {
		t.Errorf("trailing slash kept: %q", got)
	}
	if _, err := dev.checkBaseURL(Adyen, nil); err == nil {
		t.Error("an Adyen account without base_url")
	}
}

func strPtr(s string) *string { return &s }

// TestBreakerReported: the router logs an account it starts trying last,
// and tells OnBreaker (the metrics) once per opening and once per closing.
func TestBreakerReported(t *testing.T) {
	var logs bytes.Buffer
	r := NewRouter(nil, nil, slog.New(slog.NewTextHandler(&logs, nil)), nil, nil)
	var heard []bool
	r.OnBreaker = func(_ string, open bool) { heard = append(heard, open) }
	refused := connectors.NotProcessed(errors.New("connection refused"))
	for range 4 {
		r.Observe("ca_1", refused)
	}
	r.Observe("ca_1", nil)
	r.Observe("ca_1", nil)
	r.Observe("", refused) // the built-in sandbox has no breaker
	if !slices.Equal(heard, []bool{true, false}) {
		t.Errorf("OnBreaker heard %v, want [true false]", heard)
	}
	if !strings.Contains(logs.String(), "tried last for a cool-down") || !strings.Contains(logs.String(), "connector_account=ca_1") {
		t.Errorf("log:\n%s", logs.String())
	}
}
