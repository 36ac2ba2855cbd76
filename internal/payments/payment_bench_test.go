package payments_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/payments"
)

// Benchmarks of the JSON a payment request reads and writes: the answer to
// POST /v1/payments is a payment rendered with encoding/json, as are the
// event's data and the stored idempotent answer. Only run with -bench:
// go test -run '^$' -bench . ./internal/payments

func benchPayment() *payments.Payment {
	at := time.Date(2026, 11, 26, 8, 55, 43, 700504000, time.UTC)
	return &payments.Payment{
		ID: "pay_33NRRZ5PBB4VAVH123HQCMMV1G", Object: "payment", Amount: 2000, AmountReceived: 2000,
		Currency: "USD", Status: payments.Succeeded, CaptureMethod: payments.CaptureAutomatic, Metadata: map[string]string{},
		PaymentMethod: &payments.Method{ID: "pm_33NRRZ5PBC3MN9Z3YRGEKB3BDC", Object: "payment_method", Type: "card",
			Card:      &payments.CardDetails{Brand: "visa", Last4: "4242", ExpMonth: 12, ExpYear: 2030, Funding: "credit", Fingerprint: "ff23395b6151d3c6"},
			CreatedAt: at},
		Connector: "sandbox", CreatedAt: at, UpdatedAt: at.Add(2150 * time.Microsecond),
	}
}

func BenchmarkMarshalPayment(b *testing.B) {
	p := benchPayment()
	out, err := json.Marshal(p)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(out)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(p); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshalPaymentWithMetadata(b *testing.B) {
	p := benchPayment()
	p.Description = "Order 1042"
	p.Metadata = map[string]string{"order_id": "1042", "customer": "cus_8841", "channel": "web"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUnmarshalCreateParams decodes the body of POST /v1/payments the
// load test sends.
func BenchmarkUnmarshalCreateParams(b *testing.B) {
	body := []byte(`{"amount":2000,"capture_method":"automatic","confirm":true,"currency":"usd",` +
		`"payment_method":{"card":{"cvc":"123","exp_month":12,"exp_year":2030,"number":"4242424242424242"},"type":"card"}}`)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var in payments.CreateParams
		if err := json.Unmarshal(body, &in); err != nil {
			b.Fatal(err)
		}
	}
}
