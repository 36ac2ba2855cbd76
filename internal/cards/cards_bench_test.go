package cards_test

import (
	"testing"

	"github.com/paygate/paygate/internal/cards"
)

// Benchmarks of the card work a payment does besides Validate (whose
// benchmark is in cards_test.go): the summary stored with the payment
// method, and the checks Validate is made of. Only run with -bench:
// go test -run '^$' -bench . ./internal/cards

func BenchmarkDescribe(b *testing.B) {
	for _, number := range []string{"4242424242424242", "5200828282828210", "6011111111111117"} {
		b.Run(number[:4], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = cards.Describe(number)
			}
		})
	}
}

func BenchmarkLuhn(b *testing.B) {
	for b.Loop() {
		_ = cards.Luhn("4242424242424242")
	}
}

func BenchmarkNormalize(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = cards.Normalize("4242 4242-4242 4242")
	}
}

func BenchmarkBrandOf(b *testing.B) {
	for b.Loop() {
		_ = cards.BrandOf("4242424242424242")
	}
}
