package cards

import "testing"

func TestFundingTableEntries(t *testing.T) {
	for p, f := range fundingByPrefix {
		if len(p) < minBINLen || len(p) > maxBINLen || !isDigits(p) {
			t.Errorf("prefix %q: want %d-%d digits", p, minBINLen, maxBINLen)
		}
		if BrandOf(p) == Unknown {
			t.Errorf("prefix %q: unknown brand", p)
		}
		if f != Credit && f != Debit && f != Prepaid {
			t.Errorf("prefix %q: funding %q", p, f)
		}
		// Full-length entries pin specific cards, so they must be real numbers.
		if validLength(BrandOf(p), len(p)) && len(p) > 8 && !Luhn(p) {
			t.Errorf("prefix %q: full number fails Luhn", p)
		}
	}
}

func TestLongestPrefixWins(t *testing.T) {
	table := map[string]Funding{
		"411111":           Debit,
		"41111122":         Prepaid,
		"4111112233334444": Credit,
	}
	tests := []struct {
		digits string
		want   Funding
	}{
		{"4111110000000000", Debit},
		{"4111112200000000", Prepaid},
		{"4111112233334444", Credit},
		{"4111112233334445", Prepaid},
		{"4111112233334444000", Credit},
		{"41111", Credit}, // shorter than any BIN
		{"4222220000000000", Credit},
	}
	for _, tc := range tests {
		if got := longestPrefixFunding(table, tc.digits); got != tc.want {
			t.Errorf("longestPrefixFunding(%q) = %q, want %q", tc.digits, got, tc.want)
		}
	}
}
