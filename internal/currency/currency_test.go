package currency_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/paygate/paygate/internal/currency"
)

func TestLookupMinorUnits(t *testing.T) {
	tests := map[string]int{
		"USD": 2, "EUR": 2, "GBP": 2, "CHF": 2, "CNY": 2, "INR": 2, "HUF": 2, "IDR": 2,
		"JPY": 0, "KRW": 0, "CLP": 0, "ISK": 0, "VND": 0, "XOF": 0, "XAF": 0, "XPF": 0,
		"UGX": 0, "PYG": 0, "RWF": 0, "BIF": 0, "DJF": 0, "GNF": 0, "KMF": 0, "VUV": 0, "UYI": 0,
		"KWD": 3, "BHD": 3, "JOD": 3, "OMR": 3, "TND": 3, "LYD": 3, "IQD": 3,
		"CLF": 4, "UYW": 4,
		"SLE": 2, "VES": 2, "VED": 2, "ZWG": 2, "XCG": 2, "MRU": 2, "STN": 2,
	}
	for code, want := range tests {
		c, ok := currency.Lookup(code)
		if !ok {
			t.Errorf("Lookup(%q) not found", code)
			continue
		}
		if c.Code != code || c.MinorUnits != want || c.Name == "" {
			t.Errorf("Lookup(%q) = %+v, want code %s, minor units %d, a name", code, c, code, want)
		}
	}
}

func TestLookupCaseInsensitive(t *testing.T) {
	for _, in := range []string{"usd", "Usd", "uSD", "USD", "usD"} {
		c, ok := currency.Lookup(in)
		if !ok || c.Code != "USD" {
			t.Errorf("Lookup(%q) = %+v, %v; want USD", in, c, ok)
		}
	}
}

func TestLookupRejects(t *testing.T) {
	for _, in := range []string{
		"", "XYZ", "US", "USDD", " USD", "USD ", "U$D", "123", "uſd", "ＵＳＤ",
		// Minor unit N.A.
		"XAU", "XAG", "XPT", "XPD", "XDR", "XSU", "XUA", "XBA", "XBB", "XBC", "XBD", "XTS", "XXX",
		// Withdrawn.
		"HRK", "SLL", "ZWL", "ANG", "BGN", "VEF", "MRO", "STD", "BYR", "LTL",
	} {
		if c, ok := currency.Lookup(in); ok {
			t.Errorf("Lookup(%q) = %+v, want not found", in, c)
		}
	}
}

func TestAll(t *testing.T) {
	all := currency.All()
	if n := len(all); n < 150 || n > 170 {
		t.Errorf("len(All()) = %d, want the ISO 4217 active list (~165)", n)
	}
	for i, c := range all {
		if len(c.Code) != 3 || strings.Trim(c.Code, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
			t.Errorf("code %q is not three upper-case letters", c.Code)
		}
		if c.Name == "" {
			t.Errorf("%s has no name", c.Code)
		}
		if c.MinorUnits < 0 || c.MinorUnits > 4 {
			t.Errorf("%s minor units %d", c.Code, c.MinorUnits)
		}
		if i > 0 && all[i-1].Code >= c.Code {
			t.Errorf("not sorted or duplicate: %s before %s", all[i-1].Code, c.Code)
		}
		if got, ok := currency.Lookup(strings.ToLower(c.Code)); !ok || got != c {
			t.Errorf("Lookup(%s) = %+v, %v; want %+v", c.Code, got, ok, c)
		}
	}
}

func TestAllReturnsFreshSlice(t *testing.T) {
	a := currency.All()
	a[0].Code = "ZZZ"
	a[0].MinorUnits = 9
	if b := currency.All(); b[0].Code == "ZZZ" || slices.Equal(a, b) {
		t.Fatalf("All() shares its backing array")
	}
	if _, ok := currency.Lookup("ZZZ"); ok {
		t.Fatalf("mutating All() changed Lookup")
	}
}

func BenchmarkLookup(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_, _ = currency.Lookup("usd")
	}
}

func TestMajor(t *testing.T) {
	for _, c := range []struct {
		amount int64
		digits int
		want   string
	}{{1050, 2, "10.50"}, {5, 2, "0.05"}, {-5, 2, "-0.05"}, {4200, 0, "4200"}, {42000, 3, "42.000"}, {0, 2, "0.00"}} {
		if got := currency.Major(c.amount, c.digits); got != c.want {
			t.Errorf("Major(%d, %d) = %q, want %q", c.amount, c.digits, got, c.want)
		}
	}
}
