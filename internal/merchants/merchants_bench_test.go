package merchants

import "testing"

// Benchmarks of the per-request part of API key authentication before the
// database look-up (see BenchmarkKeyBySecretHash in internal/store). Only
// run with -bench: go test -run '^$' -bench . ./internal/merchants

const benchSecret = "sk_test_MTGTA7M3OYDOQYZE5Z4ZZ5UJJA"

func BenchmarkHashSecret(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = HashSecret(benchSecret)
	}
}

func BenchmarkLooksLikeSecret(b *testing.B) {
	for b.Loop() {
		_ = LooksLikeSecret(benchSecret)
	}
}
