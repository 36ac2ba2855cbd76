package cards

// BIN prefixes are looked up from longest to shortest. 19 covers a full PAN
// of the longest brand, so a single test or known card can be pinned exactly.
const (
	minBINLen = 6
	maxBINLen = 19
)

// fundingByPrefix is a seed table: Stripe-style test cards pinned by their
// full number plus a few 6-digit BINs. Production should back FundingOf with
// a licensed BIN feed; until then unlisted cards of a known brand are
// reported as Credit, the most common funding type.
var fundingByPrefix = map[string]Funding{
	// 6-digit BINs.
	"400005": Debit,   // Visa debit
	"520082": Debit,   // Mastercard debit
	"510510": Prepaid, // Mastercard prepaid
	"655590": Debit,   // Discover debit

	// Visa.
	"4242424242424242": Credit,
	"4000056655665556": Debit,
	"4000000000000002": Credit,
	"4000000000009995": Debit,
	"4000000000000069": Credit,
	"4000000000000127": Credit,
	"4000000000000119": Credit,
	"4000000000003220": Credit,
	"4000000000005126": Credit,
	"4000000000003238": Credit,

	// Mastercard.
	"5555555555554444": Credit,
	"2223003122003222": Credit,
	"5200828282828210": Debit,
	"5105105105105100": Prepaid,

	// Amex.
	"378282246310005": Credit,
	"371449635398431": Credit,

	// Discover.
	"6011111111111117": Credit,
	"6011000990139424": Credit,
	"6555900000604105": Debit,

	// JCB.
	"3566002020360505": Credit,

	// UnionPay.
	"6200000000000005":    Credit,
	"6200000000000047":    Debit,
	"6205500000000000004": Credit,

	// Diners.
	"36227206271667":   Credit,
	"3056930009020004": Credit,
}

// FundingOf returns funding from the BIN table using the longest matching
// prefix (6 digits up to the full number). A known brand with no matching
// entry defaults to Credit; an unknown brand yields FundingUnknown.
func FundingOf(digits string) Funding {
	if BrandOf(digits) == Unknown {
		return FundingUnknown
	}
	return longestPrefixFunding(fundingByPrefix, digits)
}

func longestPrefixFunding(table map[string]Funding, digits string) Funding {
	for n := min(len(digits), maxBINLen); n >= minBINLen; n-- {
		if f, ok := table[digits[:n]]; ok {
			return f
		}
	}
	return Credit
}
