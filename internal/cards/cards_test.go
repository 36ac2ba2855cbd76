package cards_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/cards"
)

// now is fixed so expiry tests do not drift with the calendar.
var now = time.Date(2026, time.March, 15, 12, 0, 0, 0, time.UTC)

var knownCards = []struct {
	number  string
	brand   cards.Brand
	funding cards.Funding
}{
	{"4242424242424242", cards.Visa, cards.Credit},
	{"5555555555554444", cards.Mastercard, cards.Credit},
	{"4000056655665556", cards.Visa, cards.Debit},
	{"5200828282828210", cards.Mastercard, cards.Debit},
	{"378282246310005", cards.Amex, cards.Credit},
	{"4000000000000002", cards.Visa, cards.Credit},
	{"4000000000009995", cards.Visa, cards.Debit},
	{"4000000000000069", cards.Visa, cards.Credit},
	{"4000000000000127", cards.Visa, cards.Credit},
	{"4000000000000119", cards.Visa, cards.Credit},
	{"4000000000003220", cards.Visa, cards.Credit},
	{"4000000000005126", cards.Visa, cards.Credit},
	{"5105105105105100", cards.Mastercard, cards.Prepaid},
	{"6011111111111117", cards.Discover, cards.Credit},
	{"3566002020360505", cards.JCB, cards.Credit},
	{"6200000000000005", cards.UnionPay, cards.Credit},
	{"36227206271667", cards.Diners, cards.Credit},
	{"6555900000604105", cards.Discover, cards.Debit},
	{"2223003122003222", cards.Mastercard, cards.Credit},
	{"371449635398431", cards.Amex, cards.Credit},
	{"6011000990139424", cards.Discover, cards.Credit},
	{"3056930009020004", cards.Diners, cards.Credit},
	{"6200000000000047", cards.UnionPay, cards.Debit},
	{"6205500000000000004", cards.UnionPay, cards.Credit},
	{"4222222222222", cards.Visa, cards.Credit},
}

func TestKnownCards(t *testing.T) {
	for _, tc := range knownCards {
		t.Run(tc.number, func(t *testing.T) {
			if !cards.Luhn(tc.number) {
				t.Errorf("Luhn = false, want true")
			}
			if got := cards.BrandOf(tc.number); got != tc.brand {
				t.Errorf("BrandOf = %q, want %q", got, tc.brand)
			}
			if got := cards.FundingOf(tc.number); got != tc.funding {
				t.Errorf("FundingOf = %q, want %q", got, tc.funding)
			}
			d := cards.Describe(tc.number)
			want := cards.Details{Brand: tc.brand, Funding: tc.funding, First6: tc.number[:6], Last4: tc.number[len(tc.number)-4:]}
			if d != want {
				t.Errorf("Describe = %+v, want %+v", d, want)
			}
			cvc := strings.Repeat("1", cards.CVCLength(tc.brand))
			got, err := cards.Validate(cards.Input{Number: tc.number, ExpMonth: 12, ExpYear: 2030, CVC: cvc, RequireCVC: true}, now)
			if err != nil || got != tc.number {
				t.Errorf("Validate = %q, %v; want %q, nil", got, err, tc.number)
			}
		})
	}
}

func TestLuhnDetectsSingleDigitChanges(t *testing.T) {
	for _, tc := range knownCards {
		for i := range len(tc.number) {
			b := []byte(tc.number)
			b[i] = '0' + (b[i]-'0'+1)%10
			if cards.Luhn(string(b)) {
				t.Errorf("Luhn(%s) = true after changing digit %d", b, i)
			}
		}
	}
}

func TestLuhnRejectsNonDigits(t *testing.T) {
	for _, s := range []string{"", "4242 4242 4242 4242", "4242-4242-4242-4242", "424242424242424a", "٤٢٤٢"} {
		if cards.Luhn(s) {
			t.Errorf("Luhn(%q) = true, want false", s)
		}
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"4242424242424242", "4242424242424242"},
		{"4242 4242 4242 4242", "4242424242424242"},
		{"4242-4242-4242-4242", "4242424242424242"},
		{" 4242 - 4242\t4242 ", "42424242\t4242"},
		{"abc", "abc"},
	}
	for _, tc := range tests {
		if got := cards.Normalize(tc.in); got != tc.want {
			t.Errorf("Normalize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestBrandOf(t *testing.T) {
	tests := []struct {
		prefix string
		want   cards.Brand
	}{
		{"4", cards.Visa},
		{"34", cards.Amex},
		{"37", cards.Amex},
		{"35", cards.Unknown},
		{"51", cards.Mastercard},
		{"55", cards.Mastercard},
		{"56", cards.Unknown},
		{"2220", cards.Unknown},
		{"2221", cards.Mastercard},
		{"2720", cards.Mastercard},
		{"2721", cards.Unknown},
		{"6011", cards.Discover},
		{"6012", cards.Unknown},
		{"643", cards.Unknown},
		{"644", cards.Discover},
		{"649", cards.Discover},
		{"65", cards.Discover},
		{"622125", cards.UnionPay},
		{"622126", cards.Discover},
		{"622925", cards.Discover},
		{"622926", cards.UnionPay},
		{"62", cards.UnionPay},
		{"81", cards.UnionPay},
		{"3527", cards.Unknown},
		{"3528", cards.JCB},
		{"3589", cards.JCB},
		{"3590", cards.Unknown},
		{"300", cards.Diners},
		{"305", cards.Diners},
		{"306", cards.Unknown},
		{"3095", cards.Diners},
		{"3096", cards.Unknown},
		{"36", cards.Diners},
		{"38", cards.Diners},
		{"39", cards.Diners},
		{"1", cards.Unknown},
		{"", cards.Unknown},
		{"4242 4242", cards.Unknown},
	}
	for _, tc := range tests {
		// Pad to a realistic length so range checks see enough digits.
		n := tc.prefix
		if n != "" && !strings.ContainsRune(n, ' ') {
			n += strings.Repeat("0", 16-len(n))
		}
		if got := cards.BrandOf(n); got != tc.want {
			t.Errorf("BrandOf(%q) = %q, want %q", n, got, tc.want)
		}
	}
}

func TestFundingOf(t *testing.T) {
	tests := []struct {
		number string
		want   cards.Funding
	}{
		{"4000051234567890", cards.Debit},             // 6-digit BIN 400005
		{"5200821234567890", cards.Debit},             // 6-digit BIN 520082
		{"5105101234567890", cards.Prepaid},           // 6-digit BIN 510510
		{"4111111111111111", cards.Credit},            // known brand, no entry
		{"1234567890123456", cards.FundingUnknown},    // unknown brand
		{"", cards.FundingUnknown},                    // not a number
		{"4242 4242 4242 4242", cards.FundingUnknown}, // not normalized
	}
	for _, tc := range tests {
		if got := cards.FundingOf(tc.number); got != tc.want {
			t.Errorf("FundingOf(%q) = %q, want %q", tc.number, got, tc.want)
		}
	}
}

func TestDescribeShortInput(t *testing.T) {
	for _, s := range []string{"", "42424242424", "4242x4242424242"} {
		d := cards.Describe(s)
		if d.First6 != "" || d.Last4 != "" {
			t.Errorf("Describe(%q) exposed digits: %+v", s, d)
		}
	}
}

func TestCVCLength(t *testing.T) {
	for _, b := range []cards.Brand{cards.Visa, cards.Mastercard, cards.Discover, cards.JCB, cards.UnionPay, cards.Diners, cards.Unknown} {
		if got := cards.CVCLength(b); got != 3 {
			t.Errorf("CVCLength(%q) = %d, want 3", b, got)
		}
	}
	if got := cards.CVCLength(cards.Amex); got != 4 {
		t.Errorf("CVCLength(amex) = %d, want 4", got)
	}
}

func TestValidLengths(t *testing.T) {
	tests := []struct {
		brand cards.Brand
		want  []int
	}{
		{cards.Visa, []int{13, 16, 19}},
		{cards.Mastercard, []int{16}},
		{cards.Amex, []int{15}},
		{cards.Discover, []int{16, 17, 18, 19}},
		{cards.JCB, []int{16, 17, 18, 19}},
		{cards.UnionPay, []int{16, 17, 18, 19}},
		{cards.Diners, []int{14, 15, 16, 17, 18, 19}},
		{cards.Unknown, []int{12, 13, 14, 15, 16, 17, 18, 19}},
	}
	for _, tc := range tests {
		if got := cards.ValidLengths(tc.brand); !slices.Equal(got, tc.want) {
			t.Errorf("ValidLengths(%q) = %v, want %v", tc.brand, got, tc.want)
		}
	}
}

// withCheckDigit pads prefix with zeros to n-1 digits and appends the Luhn
// check digit, giving a number whose only possible fault is its length.
func withCheckDigit(prefix string, n int) string {
	body := prefix + strings.Repeat("0", n-1-len(prefix))
	for d := byte('0'); d <= '9'; d++ {
		if s := body + string(d); cards.Luhn(s) {
			return s
		}
	}
	panic("unreachable")
}

func TestValidateNumberLength(t *testing.T) {
	tests := []struct {
		prefix string
		n      int
		ok     bool
	}{
		{"4", 12, false},
		{"4", 13, true},
		{"4", 14, false},
		{"4", 16, true},
		{"4", 19, true},
		{"51", 15, false},
		{"51", 16, true},
		{"51", 19, false},
		{"37", 15, true},
		{"37", 16, false},
		{"6011", 15, false},
		{"6011", 19, true},
		{"3528", 17, true},
		{"62", 18, true},
		{"36", 13, false},
		{"36", 14, true},
		{"1", 11, false},
		{"1", 12, true},
		{"1", 19, true},
		{"1", 20, false},
	}
	for _, tc := range tests {
		number := withCheckDigit(tc.prefix, tc.n)
		_, err := cards.Validate(cards.Input{Number: number, ExpMonth: 1, ExpYear: 2030}, now)
		if tc.ok && err != nil {
			t.Errorf("Validate(%s) = %v, want ok", number, err)
		}
		if !tc.ok {
			assertFieldError(t, err, "number", cards.CodeInvalidNumber)
		}
	}
}

func TestValidateErrors(t *testing.T) {
	visa := cards.Input{Number: "4242424242424242", ExpMonth: 3, ExpYear: 2026, CVC: "123", RequireCVC: true}
	amex := cards.Input{Number: "378282246310005", ExpMonth: 3, ExpYear: 2026, CVC: "1234", RequireCVC: true}
	with := func(in cards.Input, f func(*cards.Input)) cards.Input { f(&in); return in }

	tests := []struct {
		name  string
		in    cards.Input
		now   time.Time
		field string // empty means valid
		code  string
	}{
		{"valid visa", visa, now, "", ""},
		{"valid amex", amex, now, "", ""},
		{"valid with separators", with(visa, func(in *cards.Input) { in.Number = "4242 4242-4242 4242" }), now, "", ""},

		{"number missing", with(visa, func(in *cards.Input) { in.Number = "" }), now, "number", cards.CodeParameterMissing},
		{"number only separators", with(visa, func(in *cards.Input) { in.Number = " - " }), now, "number", cards.CodeInvalidNumber},
		{"number with letter", with(visa, func(in *cards.Input) { in.Number = "424242424242424a" }), now, "number", cards.CodeInvalidNumber},
		{"number with dot", with(visa, func(in *cards.Input) { in.Number = "4242.4242.4242.4242" }), now, "number", cards.CodeInvalidNumber},
		{"number with tab", with(visa, func(in *cards.Input) { in.Number = "4242\t4242424242424" }), now, "number", cards.CodeInvalidNumber},
		{"number with unicode digit", with(visa, func(in *cards.Input) { in.Number = "424242424242424٢" }), now, "number", cards.CodeInvalidNumber},
		{"number too short", with(visa, func(in *cards.Input) { in.Number = "4242" }), now, "number", cards.CodeInvalidNumber},
		{"number luhn failure", with(visa, func(in *cards.Input) { in.Number = "4242424242424241" }), now, "number", cards.CodeInvalidNumber},
		{"number checked before month", with(visa, func(in *cards.Input) { in.Number = "4242424242424241"; in.ExpMonth = 0 }), now, "number", cards.CodeInvalidNumber},

		{"month missing", with(visa, func(in *cards.Input) { in.ExpMonth = 0 }), now, "exp_month", cards.CodeParameterMissing},
		{"month 13", with(visa, func(in *cards.Input) { in.ExpMonth = 13 }), now, "exp_month", cards.CodeInvalidExpiryMonth},
		{"month negative", with(visa, func(in *cards.Input) { in.ExpMonth = -1 }), now, "exp_month", cards.CodeInvalidExpiryMonth},
		{"month checked before year", with(visa, func(in *cards.Input) { in.ExpMonth = 13; in.ExpYear = 0 }), now, "exp_month", cards.CodeInvalidExpiryMonth},

		{"year missing", with(visa, func(in *cards.Input) { in.ExpYear = 0 }), now, "exp_year", cards.CodeParameterMissing},
		{"two-digit year", with(visa, func(in *cards.Input) { in.ExpYear = 30 }), now, "exp_year", cards.CodeInvalidExpiryYear},
		{"year 1999", with(visa, func(in *cards.Input) { in.ExpYear = 1999 }), now, "exp_year", cards.CodeInvalidExpiryYear},
		{"year negative", with(visa, func(in *cards.Input) { in.ExpYear = -2030 }), now, "exp_year", cards.CodeInvalidExpiryYear},
		{"year now+50", with(visa, func(in *cards.Input) { in.ExpYear = 2076 }), now, "", ""},
		{"year now+51", with(visa, func(in *cards.Input) { in.ExpYear = 2077 }), now, "exp_year", cards.CodeInvalidExpiryYear},
		{"year checked before cvc", with(visa, func(in *cards.Input) { in.ExpYear = 2077; in.CVC = "" }), now, "exp_year", cards.CodeInvalidExpiryYear},

		{"expired: last year", with(visa, func(in *cards.Input) { in.ExpYear = 2025; in.ExpMonth = 12 }), now, "exp_year", cards.CodeInvalidExpiryYear},
		{"expired: year 2000", with(visa, func(in *cards.Input) { in.ExpYear = 2000 }), now, "exp_year", cards.CodeInvalidExpiryYear},
		{"expired: last month", with(visa, func(in *cards.Input) { in.ExpMonth = 2 }), now, "exp_month", cards.CodeInvalidExpiryMonth},
		{"expiry month is current", visa, now, "", ""},
		{"last instant of expiry month", visa, time.Date(2026, time.March, 31, 23, 59, 59, 999999999, time.UTC), "", ""},
		{"expired: first instant after expiry month", visa, time.Date(2026, time.April, 1, 0, 0, 0, 0, time.UTC), "exp_month", cards.CodeInvalidExpiryMonth},
		{"expired: in UTC though March locally", visa, time.Date(2026, time.March, 31, 20, 0, 0, 0, time.FixedZone("UTC-4", -4*3600)), "exp_month", cards.CodeInvalidExpiryMonth},
		{"valid in UTC though April locally", visa, time.Date(2026, time.April, 1, 1, 0, 0, 0, time.FixedZone("UTC+2", 2*3600)), "", ""},
		{"expired: december, at new year", with(visa, func(in *cards.Input) { in.ExpMonth = 12; in.ExpYear = 2025 }), time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC), "exp_year", cards.CodeInvalidExpiryYear},
		{"december valid on new year's eve", with(visa, func(in *cards.Input) { in.ExpMonth = 12; in.ExpYear = 2025 }), time.Date(2025, time.December, 31, 23, 59, 59, 0, time.UTC), "", ""},
		{"expired: checked before cvc", with(visa, func(in *cards.Input) { in.ExpMonth = 2; in.CVC = "x" }), now, "exp_month", cards.CodeInvalidExpiryMonth},

		{"cvc missing required", with(visa, func(in *cards.Input) { in.CVC = "" }), now, "cvc", cards.CodeParameterMissing},
		{"cvc missing optional", with(visa, func(in *cards.Input) { in.CVC = ""; in.RequireCVC = false }), now, "", ""},
		{"cvc checked when optional", with(visa, func(in *cards.Input) { in.CVC = "12"; in.RequireCVC = false }), now, "cvc", cards.CodeInvalidCVC},
		{"visa cvc 4 digits", with(visa, func(in *cards.Input) { in.CVC = "1234" }), now, "cvc", cards.CodeInvalidCVC},
		{"visa cvc 2 digits", with(visa, func(in *cards.Input) { in.CVC = "12" }), now, "cvc", cards.CodeInvalidCVC},
		{"amex cvc 3 digits", with(amex, func(in *cards.Input) { in.CVC = "123" }), now, "cvc", cards.CodeInvalidCVC},
		{"amex cvc 5 digits", with(amex, func(in *cards.Input) { in.CVC = "12345" }), now, "cvc", cards.CodeInvalidCVC},
		{"cvc letters", with(visa, func(in *cards.Input) { in.CVC = "12a" }), now, "cvc", cards.CodeInvalidCVC},
		{"cvc space", with(visa, func(in *cards.Input) { in.CVC = " 12" }), now, "cvc", cards.CodeInvalidCVC},
		{"cvc unicode digits", with(visa, func(in *cards.Input) { in.CVC = "١٢٣" }), now, "cvc", cards.CodeInvalidCVC},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			digits, err := cards.Validate(tc.in, tc.now)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want ok", err)
				}
				if want := cards.Normalize(tc.in.Number); digits != want {
					t.Fatalf("digits = %q, want %q", digits, want)
				}
				return
			}
			if digits != "" {
				t.Errorf("digits = %q on error, want empty", digits)
			}
			fe := assertFieldError(t, err, tc.field, tc.code)
			if fe == nil {
				return
			}
			if want := strings.HasPrefix(tc.name, "expired:"); strings.Contains(fe.Message, "expired") != want {
				t.Errorf("Message = %q, saying expired: want %v", fe.Message, want)
			}
		})
	}
}

// assertFieldError checks err's field and code and that neither its message
// nor Error() contains any digit, so no part of a number or CVC can leak.
func assertFieldError(t *testing.T, err error, field, code string) *cards.FieldError {
	t.Helper()
	var fe *cards.FieldError
	if !errors.As(err, &fe) {
		t.Errorf("err = %v, want *cards.FieldError{%s, %s}", err, field, code)
		return nil
	}
	if fe.Field != field || fe.Code != code {
		t.Errorf("err = {%s, %s}, want {%s, %s}", fe.Field, fe.Code, field, code)
	}
	if fe.Message == "" {
		t.Errorf("empty message")
	}
	for _, s := range []string{fe.Message, fe.Error()} {
		if strings.ContainsAny(s, "0123456789") {
			t.Errorf("error text %q contains digits", s)
		}
	}
	return fe
}

func FuzzValidate(f *testing.F) {
	for _, tc := range knownCards {
		f.Add(tc.number, 12, 2030, "123", true)
	}
	f.Add("", 0, 0, "", false)
	f.Add("4242 4242-4242 4242", 3, 2026, "1234", true)
	f.Add("4242424242424241", 13, 26, "abc", false)
	f.Add("٤٢٤٢٤٢٤٢٤٢٤٢٤٢٤٢", 1, 2030, "", true)
	f.Add("6221260000000000", 2, 2026, "12", true)
	f.Add("1234567890123456789012", -1, -1, "\x00", true)

	validFields := map[string]bool{"number": true, "exp_month": true, "exp_year": true, "cvc": true}
	validCodes := map[string]bool{
		cards.CodeParameterMissing: true, cards.CodeInvalidNumber: true, cards.CodeInvalidExpiryMonth: true,
		cards.CodeInvalidExpiryYear: true, cards.CodeInvalidCVC: true,
	}

	f.Fuzz(func(t *testing.T, number string, month, year int, cvc string, requireCVC bool) {
		in := cards.Input{Number: number, ExpMonth: month, ExpYear: year, CVC: cvc, RequireCVC: requireCVC}
		digits, err := cards.Validate(in, now)
		if err == nil {
			if digits != cards.Normalize(number) || !cards.Luhn(digits) {
				t.Fatalf("accepted %q as %q", number, digits)
			}
			if !slices.Contains(cards.ValidLengths(cards.BrandOf(digits)), len(digits)) {
				t.Fatalf("accepted %q with invalid length", number)
			}
			return
		}
		var fe *cards.FieldError
		if !errors.As(err, &fe) {
			t.Fatalf("err %T is not *cards.FieldError", err)
		}
		if digits != "" {
			t.Fatalf("digits returned with error")
		}
		if !validFields[fe.Field] || !validCodes[fe.Code] {
			t.Fatalf("unexpected field/code %q/%q", fe.Field, fe.Code)
		}
		var onlyDigits strings.Builder
		for _, r := range number {
			if r >= '0' && r <= '9' {
				onlyDigits.WriteRune(r)
			}
		}
		if d := onlyDigits.String(); len(d) >= 12 {
			for _, s := range []string{fe.Message, err.Error()} {
				if strings.Contains(s, d) || strings.Contains(s, number) {
					t.Fatalf("error text leaks the card number")
				}
			}
		}
	})
}

func BenchmarkValidate(b *testing.B) {
	inputs := map[string]cards.Input{
		"plain":      {Number: "4242424242424242", ExpMonth: 12, ExpYear: 2030, CVC: "123", RequireCVC: true},
		"separators": {Number: "4242 4242 4242 4242", ExpMonth: 12, ExpYear: 2030, CVC: "123", RequireCVC: true},
		"invalid":    {Number: "4242424242424241", ExpMonth: 12, ExpYear: 2030, CVC: "123", RequireCVC: true},
	}
	for name, in := range inputs {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = cards.Validate(in, now)
			}
		})
	}
}
