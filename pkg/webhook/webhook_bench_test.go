package webhook_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/pkg/webhook"
)

// Benchmarks of webhook signatures: a Signer made once (as the delivery
// worker can), the one-shot Sign (which decodes the secret each time), and
// a receiver's Verify. Only run with -bench:
// go test -run '^$' -bench . ./pkg/webhook

const benchSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

var (
	benchTime = time.Unix(1764147343, 0)
	// An event of about the size paygate sends: a payment.succeeded.
	benchBody = []byte(`{"id":"evt_33NRRZ5PBD2W1F2AHXZJ2M1J8M","object":"event","type":"payment.succeeded","livemode":false,` +
		`"created_at":"2026-11-26T08:55:43.702654Z","data":{"object":{"id":"pay_33NRRZ5PBB4VAVH123HQCMMV1G","object":"payment",` +
		`"amount":2000,"amount_capturable":0,"amount_received":2000,"amount_refunded":0,"currency":"USD","status":"succeeded",` +
		`"capture_method":"automatic","metadata":{},"payment_method":{"id":"pm_33NRRZ5PBC3MN9Z3YRGEKB3BDC","object":"payment_method",` +
		`"type":"card","card":{"brand":"visa","last4":"4242","exp_month":12,"exp_year":2030,"funding":"credit",` +
		`"fingerprint":"ff23395b6151d3c6"},"livemode":false,"created_at":"2026-11-26T08:55:43.700504Z"},"connector":"sandbox",` +
		`"livemode":false,"created_at":"2026-11-26T08:55:43.700504Z","updated_at":"2026-11-26T08:55:43.702654Z"}}}`)
)

func BenchmarkSignerSign(b *testing.B) {
	for _, tc := range []struct {
		name string
		n    int
	}{{"one_secret", 1}, {"two_secrets", 2}} { // two during a rotation
		n := tc.n
		b.Run(tc.name, func(b *testing.B) {
			secrets := []string{benchSecret, "whsec_" + strings.Repeat("QUJD", 8)}[:n]
			s, err := webhook.NewSigner(secrets...)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(benchBody)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Sign("evt_33NRRZ5PBD2W1F2AHXZJ2M1J8M", benchTime, benchBody); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkSign(b *testing.B) {
	b.SetBytes(int64(len(benchBody)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := webhook.Sign(benchSecret, "evt_33NRRZ5PBD2W1F2AHXZJ2M1J8M", benchTime, benchBody); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	s, err := webhook.NewSigner(benchSecret)
	if err != nil {
		b.Fatal(err)
	}
	h := http.Header{}
	if err := s.SetHeaders(h, "evt_33NRRZ5PBD2W1F2AHXZJ2M1J8M", benchTime, benchBody); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(benchBody)))
	b.ReportAllocs()
	for b.Loop() {
		if err := webhook.Verify(benchSecret, h, benchBody, time.Minute, benchTime); err != nil {
			b.Fatal(err)
		}
	}
}
