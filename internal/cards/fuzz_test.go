package cards_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/cards"
)

// referenceLuhn is the Luhn check as the ISO/IEC 7812 text words it.
func referenceLuhn(s string) bool {
	if s == "" {
		return false
	}
	sum := 0
	for i := 0; i < len(s); i++ {
		c := s[len(s)-1-i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if i%2 == 1 {
			d = [...]int{0, 2, 4, 6, 8, 1, 3, 5, 7, 9}[d]
		}
		sum += d
	}
	return sum%10 == 0
}

func allDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

// expectedError is the first problem Validate must report, derived from
// the documented order of checks (number, exp_month, exp_year, expiry,
// cvc), or "" when the card is valid.
func expectedError(in cards.Input, now time.Time) (field, code string) {
	switch {
	case in.Number == "":
		return "number", cards.CodeParameterMissing
	case strings.Trim(in.Number, "0123456789 -") != "":
		return "number", cards.CodeInvalidNumber
	}
	digits := strings.NewReplacer(" ", "", "-", "").Replace(in.Number)
	brand := cards.BrandOf(digits)
	if !slices.Contains(cards.ValidLengths(brand), len(digits)) || !referenceLuhn(digits) {
		return "number", cards.CodeInvalidNumber
	}
	now = now.UTC()
	switch {
	case in.ExpMonth == 0:
		return "exp_month", cards.CodeParameterMissing
	case in.ExpMonth < 1 || in.ExpMonth > 12:
		return "exp_month", cards.CodeInvalidExpiryMonth
	case in.ExpYear == 0:
		return "exp_year", cards.CodeParameterMissing
	case in.ExpYear < 2000 || in.ExpYear > now.Year()+50:
		return "exp_year", cards.CodeInvalidExpiryYear
	case in.ExpYear < now.Year():
		return "exp_year", cards.CodeInvalidExpiryYear
	case in.ExpYear == now.Year() && in.ExpMonth < int(now.Month()):
		return "exp_month", cards.CodeInvalidExpiryMonth
	case in.CVC == "" && in.RequireCVC:
		return "cvc", cards.CodeParameterMissing
	case in.CVC != "" && (len(in.CVC) != cards.CVCLength(brand) || !allDigits(in.CVC)):
		return "cvc", cards.CodeInvalidCVC
	}
	return "", ""
}

// FuzzValidateAt checks Validate against its documented rules at any
// moment (FuzzValidate fixes the clock), and the number helpers against
// their contracts on the same input.
func FuzzValidateAt(f *testing.F) {
	march2026 := time.Date(2026, time.March, 15, 12, 0, 0, 0, time.UTC).Unix()
	for _, n := range []string{
		"4242424242424242", "4242 4242 4242 4242", "4242-4242-4242-4242", "378282246310005", "3782 822463 10005",
		"5555555555554444", "2223003122003222", "6011111111111117", "3566002020360505", "6205500000000000004",
		"36227206271667", "4222222222222", "4242424242424241", "424242424242424", "", "4242 4242 4242 424x",
		"--", "٤٢٤٢", "0000000000000000",
	} {
		f.Add(n, 12, 2030, "123", true, march2026)
	}
	f.Add("4242424242424242", 3, 2026, "", false, march2026) // expires this month: valid
	f.Add("4242424242424242", 2, 2026, "", false, march2026) // expired last month
	f.Add("4242424242424242", 12, 2025, "123", true, march2026)
	f.Add("4242424242424242", 1, 2076, "123", true, march2026) // 50 years ahead
	f.Add("4242424242424242", 1, 2077, "123", true, march2026)
	f.Add("378282246310005", 12, 2030, "123", true, march2026) // Amex needs four
	f.Add("378282246310005", 12, 2030, "1234", true, march2026)
	f.Add("4242424242424242", 0, 0, "12a", false, march2026)
	f.Add("4242424242424242", -1, -2030, "", false, march2026)
	f.Add("4242424242424242", 1, 2000, "123", true, int64(-1<<40))        // the clock far in the past
	f.Add("4242424242424242", 12, 9999, "123", true, int64(253402300799)) // 9999-12-31
	f.Add("4242424242424242", 1, 2000, "123", true, time.Date(1999, 12, 31, 23, 59, 59, 0, time.FixedZone("x", 3600)).Unix())

	brands := []cards.Brand{cards.Visa, cards.Mastercard, cards.Amex, cards.Discover, cards.JCB, cards.UnionPay, cards.Diners, cards.Unknown}
	fundings := []cards.Funding{cards.Credit, cards.Debit, cards.Prepaid, cards.FundingUnknown}

	f.Fuzz(func(t *testing.T, number string, month, year int, cvc string, requireCVC bool, unix int64) {
		// The helpers, on the number as given and as normalized.
		norm := cards.Normalize(number)
		if strings.ContainsAny(norm, " -") || norm != strings.NewReplacer(" ", "", "-", "").Replace(number) {
			t.Fatalf("Normalize(%q) = %q", number, norm)
		}
		for _, s := range []string{number, norm} {
			if got, want := cards.Luhn(s), referenceLuhn(s); got != want {
				t.Fatalf("Luhn(%q) = %v, want %v", s, got, want)
			}
			brand := cards.BrandOf(s)
			if !slices.Contains(brands, brand) || (!allDigits(s) && brand != cards.Unknown) {
				t.Fatalf("BrandOf(%q) = %q", s, brand)
			}
			lengths := cards.ValidLengths(brand)
			if len(lengths) == 0 || !slices.IsSorted(lengths) || lengths[0] < 12 || lengths[len(lengths)-1] > 19 {
				t.Fatalf("ValidLengths(%q) = %v", brand, lengths)
			}
			if c := cards.CVCLength(brand); c != 3 && c != 4 {
				t.Fatalf("CVCLength(%q) = %d", brand, c)
			}
			funding := cards.FundingOf(s)
			if !slices.Contains(fundings, funding) || (brand == cards.Unknown) != (funding == cards.FundingUnknown) {
				t.Fatalf("FundingOf(%q) = %q for brand %q", s, funding, brand)
			}
			d := cards.Describe(s)
			if d.Brand != brand || d.Funding != funding {
				t.Fatalf("Describe(%q) = %+v", s, d)
			}
			if len(s) >= 12 && allDigits(s) {
				if d.First6 != s[:6] || d.Last4 != s[len(s)-4:] {
					t.Fatalf("Describe(%q) = %+v", s, d)
				}
			} else if d.First6 != "" || d.Last4 != "" {
				t.Fatalf("Describe(%q) reveals %q/%q of a short or non-digit input", s, d.First6, d.Last4)
			}
		}

		now := time.Unix(unix, 0)
		in := cards.Input{Number: number, ExpMonth: month, ExpYear: year, CVC: cvc, RequireCVC: requireCVC}
		digits, err := cards.Validate(in, now)
		field, code := expectedError(in, now)
		if err == nil {
			if field != "" {
				t.Fatalf("Validate(%+v, %v) accepted, want %s/%s", in, now, field, code)
			}
			if digits != norm {
				t.Fatalf("Validate(%+v) = %q, want %q", in, digits, norm)
			}
			return
		}
		var fe *cards.FieldError
		if !errors.As(err, &fe) {
			t.Fatalf("Validate error %T is not a *cards.FieldError", err)
		}
		if digits != "" || fe.Field != field || fe.Code != code {
			t.Fatalf("Validate(%+v, %v) = %q, %s/%s; want %s/%s", in, now, digits, fe.Field, fe.Code, field, code)
		}
		if fe.Message == "" || strings.ContainsAny(fe.Error(), "0123456789") {
			t.Fatalf("error text %q: empty or with digits", fe.Error())
		}
	})
}
