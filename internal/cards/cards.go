// Package cards validates payment card numbers and derives the brand and
// funding type from the number's issuer identification number (IIN/BIN).
//
// Nothing in this package ever puts card data (number or CVC) into an error
// message, because error messages end up in logs and API responses.
package cards

import "time"

// Brand is a card network.
type Brand string

// Card brands.
const (
	Visa       Brand = "visa"
	Mastercard Brand = "mastercard"
	Amex       Brand = "amex"
	Discover   Brand = "discover"
	JCB        Brand = "jcb"
	UnionPay   Brand = "unionpay"
	Diners     Brand = "diners"
	Unknown    Brand = "unknown"
)

// Funding is the kind of account a card draws on.
type Funding string

// Funding types.
const (
	Credit         Funding = "credit"
	Debit          Funding = "debit"
	Prepaid        Funding = "prepaid"
	FundingUnknown Funding = "unknown"
)

// Error codes carried by FieldError.Code; they are part of the public API.
const (
	CodeParameterMissing   = "parameter_missing"
	CodeInvalidNumber      = "invalid_number"
	CodeInvalidExpiryMonth = "invalid_expiry_month"
	CodeInvalidExpiryYear  = "invalid_expiry_year"
	CodeInvalidCVC         = "invalid_cvc"
)

// KnownBrand tells whether b names a card network paygate recognizes.
func KnownBrand(b string) bool {
	switch Brand(b) {
	case Visa, Mastercard, Amex, Discover, JCB, UnionPay, Diners:
		return true
	}
	return false
}

// Normalize strips spaces and dashes; it does not validate.
func Normalize(number string) string {
	n := 0
	for i := 0; i < len(number); i++ {
		if number[i] == ' ' || number[i] == '-' {
			n++
		}
	}
	if n == 0 {
		return number
	}
	// Byte-wise is safe: ' ' and '-' never occur inside a multi-byte UTF-8 sequence.
	buf := make([]byte, 0, len(number)-n)
	for i := 0; i < len(number); i++ {
		if c := number[i]; c != ' ' && c != '-' {
			buf = append(buf, c)
		}
	}
	return string(buf)
}

// Luhn reports whether digits (only 0-9) pass the Luhn check. An empty
// string or any non-digit fails.
func Luhn(digits string) bool {
	if digits == "" {
		return false
	}
	sum := 0
	double := false
	for i := len(digits) - 1; i >= 0; i-- {
		c := digits[i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// BrandOf detects the brand from IIN ranges. The Discover co-brand range
// 622126-622925 is checked before the broader UnionPay 62 range, so those
// cards are reported as Discover: outside China they are acquired and routed
// on the Discover network.
func BrandOf(digits string) Brand {
	if !isDigits(digits) {
		return Unknown
	}
	p1 := prefix(digits, 1)
	p2 := prefix(digits, 2)
	p3 := prefix(digits, 3)
	p4 := prefix(digits, 4)
	p6 := prefix(digits, 6)
	switch {
	case p1 == 4:
		return Visa
	case p2 == 34 || p2 == 37:
		return Amex
	case (p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720):
		return Mastercard
	case p4 == 6011 || (p3 >= 644 && p3 <= 649) || p2 == 65 || (p6 >= 622126 && p6 <= 622925):
		return Discover
	case p2 == 62 || p2 == 81:
		return UnionPay
	case p4 >= 3528 && p4 <= 3589:
		return JCB
	case (p3 >= 300 && p3 <= 305) || p4 == 3095 || p2 == 36 || p2 == 38 || p2 == 39:
		return Diners
	}
	return Unknown
}

// lengthMask has bit n set when n digits is a valid PAN length for the brand.
func lengthMask(b Brand) uint32 {
	switch b {
	case Visa:
		return 1<<13 | 1<<16 | 1<<19
	case Mastercard:
		return 1 << 16
	case Amex:
		return 1 << 15
	case Discover, JCB, UnionPay:
		return rangeMask(16, 19)
	case Diners:
		return rangeMask(14, 19)
	default:
		return rangeMask(12, 19)
	}
}

func rangeMask(lo, hi int) uint32 {
	var m uint32
	for n := lo; n <= hi; n++ {
		m |= 1 << n
	}
	return m
}

// ValidLengths returns the valid digit counts for a brand, ascending.
// Unrecognised brands are treated like Unknown (12-19).
func ValidLengths(b Brand) []int {
	m := lengthMask(b)
	var out []int
	for n := 0; n < 32; n++ {
		if m&(1<<n) != 0 {
			out = append(out, n)
		}
	}
	return out
}

func validLength(b Brand, n int) bool {
	return n >= 0 && n < 32 && lengthMask(b)&(1<<n) != 0
}

// CVCLength is 4 for Amex, 3 otherwise.
func CVCLength(b Brand) int {
	if b == Amex {
		return 4
	}
	return 3
}

// Details is the non-sensitive summary of a card that may be stored and shown.
type Details struct {
	Brand   Brand
	Funding Funding
	First6  string
	Last4   string
}

// Describe summarises digits. First6 and Last4 stay empty for inputs that
// are not all digits or shorter than 12 digits, where they would reveal
// most or all of the input.
func Describe(digits string) Details {
	d := Details{Brand: BrandOf(digits), Funding: FundingOf(digits)}
	if len(digits) >= 12 && isDigits(digits) {
		d.First6 = digits[:6]
		d.Last4 = digits[len(digits)-4:]
	}
	return d
}

// FieldError names the offending field of a card: "number", "exp_month",
// "exp_year", "cvc". Message is safe to show to the cardholder.
type FieldError struct {
	Field   string
	Code    string
	Message string
}

func (e *FieldError) Error() string {
	return "cards: " + e.Field + ": " + e.Message + " (" + e.Code + ")"
}

func fieldErr(field, code, msg string) error {
	return &FieldError{Field: field, Code: code, Message: msg}
}

// Input is a card as submitted by a client.
type Input struct {
	Number   string
	ExpMonth int
	ExpYear  int
	CVC      string
	// RequireCVC makes an empty CVC an error; a non-empty CVC is always checked.
	RequireCVC bool
}

// maxExpiryYears bounds how far ahead an expiry year may be; anything
// further is almost certainly a typo.
const maxExpiryYears = 50

// Validate checks an input card at time now and returns the normalized
// digits or a *FieldError. Checks run in the order number, exp_month,
// exp_year, expiry, cvc, so the first problem a user would fix is reported.
func Validate(in Input, now time.Time) (digits string, err error) {
	if in.Number == "" {
		return "", fieldErr("number", CodeParameterMissing, "The card number is missing.")
	}
	for i := 0; i < len(in.Number); i++ {
		c := in.Number[i]
		if (c < '0' || c > '9') && c != ' ' && c != '-' {
			return "", fieldErr("number", CodeInvalidNumber, "The card number may contain only digits, spaces and dashes.")
		}
	}
	digits = Normalize(in.Number)
	brand := BrandOf(digits)
	if !validLength(brand, len(digits)) {
		return "", fieldErr("number", CodeInvalidNumber, "The card number has an invalid length.")
	}
	if !Luhn(digits) {
		return "", fieldErr("number", CodeInvalidNumber, "The card number is not a valid card number.")
	}

	switch {
	case in.ExpMonth == 0:
		return "", fieldErr("exp_month", CodeParameterMissing, "The card's expiration month is missing.")
	case in.ExpMonth < 1 || in.ExpMonth > 12:
		return "", fieldErr("exp_month", CodeInvalidExpiryMonth, "The card's expiration month is invalid.")
	}

	// Expiry is defined in UTC so the answer does not depend on the server's zone.
	now = now.UTC()
	switch {
	case in.ExpYear == 0:
		return "", fieldErr("exp_year", CodeParameterMissing, "The card's expiration year is missing.")
	case in.ExpYear < 2000 || in.ExpYear > now.Year()+maxExpiryYears:
		// Also rejects two-digit years: guessing the century is the caller's job.
		return "", fieldErr("exp_year", CodeInvalidExpiryYear, "The card's expiration year is invalid.")
	}

	// A card is valid through the last instant of its expiry month.
	switch {
	case in.ExpYear < now.Year():
		return "", fieldErr("exp_year", CodeInvalidExpiryYear, "The card has expired.")
	case in.ExpYear == now.Year() && in.ExpMonth < int(now.Month()):
		return "", fieldErr("exp_month", CodeInvalidExpiryMonth, "The card has expired.")
	}

	if in.CVC == "" {
		if in.RequireCVC {
			return "", fieldErr("cvc", CodeParameterMissing, "The card's security code is missing.")
		}
	} else if len(in.CVC) != CVCLength(brand) || !isDigits(in.CVC) {
		return "", fieldErr("cvc", CodeInvalidCVC, "The card's security code is invalid.")
	}
	return digits, nil
}

// isDigits reports whether s is non-empty and only ASCII 0-9.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// prefix returns the first n digits of s as an integer, or -1 if s is
// shorter than n. s must be all digits.
func prefix(s string, n int) int {
	if len(s) < n {
		return -1
	}
	v := 0
	for i := 0; i < n; i++ {
		v = v*10 + int(s[i]-'0')
	}
	return v
}
