package payments_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/cards"
	"github.com/paygate/paygate/internal/payments"
)

// paramError fails t unless err is an API error naming a parameter under
// prefix: the client must be told which field to fix.
func paramError(t *testing.T, err error, prefix string) *apierror.Error {
	t.Helper()
	e, ok := apierror.As(err)
	if !ok {
		t.Fatalf("error %T (%v) is not an API error", err, err)
	}
	if e.Kind != apierror.KindInvalidRequest || e.Code == "" || e.Message == "" {
		t.Fatalf("error %+v: want a 400 with a code and a message", e)
	}
	if e.Param == "" || (prefix != "" && e.Param != prefix && !strings.HasPrefix(e.Param, prefix+".")) {
		t.Fatalf("error %+v: param not under %q", e, prefix)
	}
	return e
}

// FuzzMethodParam decodes a payment_method value as the API does (an id
// string or a strict object) and validates it.
func FuzzMethodParam(f *testing.F) {
	for _, s := range []string{
		`"pm_33NRKGNR7CGTZE2CFRD581KQNC"`,
		`""`,
		`{"type": "card", "card": {"number": "4242 4242 4242 4242", "exp_month": 12, "exp_year": 2030, "cvc": "123", "holder_name": "Jane Doe"}}`,
		`{"type": "card", "card": {"number": "378282246310005", "exp_month": 1, "exp_year": 2031, "cvc": "1234"}}`,
		`{"type": "card", "card": {"number": "4242424242424241", "exp_month": 12, "exp_year": 2030}}`,
		`{"type": "card", "card": {"number": "4242424242424242", "exp_month": 13, "exp_year": 2030}}`,
		`{"type": "card", "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 1999}}`,
		`{"type": "card", "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "12"}}`,
		`{"type": "card", "card": {"number": 4242424242424242}}`,
		`{"type": "card", "card": {"number": "4242", "pin": "0000"}}`,
		`{"type": "card", "card": {"exp_month": 1e3}}`,
		`{"type": "card", "card": []}`,
		`{"type": "card", "card": null}`,
		`{"type": "card"}`,
		`{"type": "card", "wallet": {"type": "paypal"}}`,
		`{"type": "wallet", "wallet": {"type": "apple_pay", "token": "tok_apple_pay"}}`,
		`{"type": "wallet", "wallet": {"type": "google_pay", "token": ""}}`,
		`{"type": "wallet", "wallet": {"type": "paypal", "token": "x"}}`,
		`{"type": "wallet", "wallet": {"type": "venmo"}}`,
		`{"type": "wallet", "wallet": {"type": "paypal", "card": {}}}`,
		`{"type": "wallet", "card": {"number": "4242424242424242"}}`,
		`{"type": "wallet"}`,
		`{"type": "bank"}`,
		`{"type": 1}`,
		`{"type": "card", "type": "wallet"}`,
		`{"Type": "card"}`,
		`{}`,
		`[]`,
		`null`,
		`12`,
		`true`,
	} {
		f.Add([]byte(s), true, "payment_method", int64(1773576000))
	}
	f.Add([]byte(`{"type": "card", "card": {"number": "4242424242424242", "exp_month": 3, "exp_year": 2026}}`), false, "", int64(1773576000))
	f.Add([]byte(`{"type": "card", "card": {"holder_name": "`+strings.Repeat("é", 201)+`"}}`), false, "x.y", int64(0))

	f.Fuzz(func(t *testing.T, body []byte, requireCVC bool, param string, unix int64) {
		if !json.Valid(body) {
			// The JSON decoder hands UnmarshalJSON only valid values.
			return
		}
		var m payments.MethodParam
		if err := json.Unmarshal(body, &m); err != nil {
			paramError(t, err, "payment_method")
			return
		}
		if m.Inline == nil {
			return // an id: checked with ids.Valid by the service
		}
		if m.ID != "" {
			t.Fatalf("decoded both an id %q and an object", m.ID)
		}
		d := m.Inline
		digits, err := payments.ValidateMethod(d, requireCVC, param, time.Unix(unix, 0))
		if err != nil {
			paramError(t, err, param)
			if digits != "" {
				t.Fatal("digits returned with an error")
			}
			return
		}
		switch d.Type {
		case "card":
			if d.Card == nil || d.Wallet != nil || digits != cards.Normalize(d.Card.Number) || !cards.Luhn(digits) {
				t.Fatalf("accepted card %+v as %q", d, digits)
			}
			if requireCVC && d.Card.CVC == "" {
				t.Fatal("accepted a card without CVC where one is required")
			}
			if utf8.RuneCountInString(d.Card.HolderName) > 200 {
				t.Fatal("accepted a holder name over 200 characters")
			}
		case "wallet":
			w := d.Wallet
			if w == nil || d.Card != nil || digits != "" {
				t.Fatalf("accepted wallet %+v with digits %q", d, digits)
			}
			switch w.Type {
			case "apple_pay", "google_pay":
				if w.Token == "" || len(w.Token) > 8192 {
					t.Fatalf("accepted %s token of %d bytes", w.Type, len(w.Token))
				}
			case "paypal":
				if w.Token != "" {
					t.Fatal("accepted a paypal token")
				}
			default:
				t.Fatalf("accepted wallet type %q", w.Type)
			}
		default:
			t.Fatalf("accepted type %q", d.Type)
		}
	})
}

// FuzzValidateAmountAndMetadata checks the two limits every create and
// update applies. metadata is read as lines of key=value; extra adds keys
// past the count limit, repeat stretches the last value past its limit.
func FuzzValidateAmountAndMetadata(f *testing.F) {
	f.Add(int64(2000), false, "order=6735\ncustomer=cus_1", uint8(0), uint16(0))
	f.Add(int64(payments.MinAmount), false, "", uint8(0), uint16(0))
	f.Add(int64(payments.MaxAmount), false, "=empty key", uint8(0), uint16(0))
	f.Add(int64(payments.MaxAmount+1), false, strings.Repeat("k", 41)+"=v", uint8(0), uint16(0))
	f.Add(int64(0), false, "k=v", uint8(49), uint16(0))
	f.Add(int64(-1), false, "k=v", uint8(50), uint16(0))
	f.Add(int64(-1<<63), true, "k=é", uint8(0), uint16(500))
	f.Add(int64(1<<63-1), false, "k=é", uint8(0), uint16(501))
	f.Add(int64(1), false, strings.Repeat("é", 40)+"=\xff", uint8(0), uint16(0))

	f.Fuzz(func(t *testing.T, amount int64, noAmount bool, metadata string, extra uint8, repeat uint16) {
		a := &amount
		if noAmount {
			a = nil
		}
		err := payments.ValidateAmount(a, "amount")
		valid := a != nil && amount >= payments.MinAmount && amount <= payments.MaxAmount
		if valid != (err == nil) {
			t.Fatalf("ValidateAmount(%d, nil=%v) = %v", amount, noAmount, err)
		}
		if err != nil {
			if e := paramError(t, err, "amount"); e.Param != "amount" {
				t.Fatalf("ValidateAmount: param %q", e.Param)
			}
		}

		m := map[string]string{}
		var last string
		for _, line := range strings.Split(metadata, "\n") {
			if line == "" {
				continue
			}
			k, v, _ := strings.Cut(line, "=")
			m[k], last = v, k
		}
		if last != "" && repeat > 0 {
			m[last] = strings.Repeat(m[last]+"x", int(repeat)%600)
		}
		for i := range int(extra) % 64 {
			m[fmt.Sprintf("extra_%d", i)] = "v"
		}
		tooLong := func(k string) bool { return utf8.RuneCountInString(m[k]) > 500 }
		badKey := func(k string) bool { return k == "" || utf8.RuneCountInString(k) > 40 }
		var badKeys, longValues int
		for k := range m {
			if badKey(k) {
				badKeys++
			} else if tooLong(k) {
				longValues++
			}
		}
		err = payments.ValidateMetadata(m)
		if (err == nil) != (len(m) <= 50 && badKeys == 0 && longValues == 0) {
			t.Fatalf("ValidateMetadata(%d keys, %d bad, %d too long) = %v", len(m), badKeys, longValues, err)
		}
		if err == nil {
			return
		}
		e := paramError(t, err, "metadata")
		if e.Param == "metadata" {
			if len(m) <= 50 && badKeys == 0 {
				t.Fatalf("ValidateMetadata blamed the whole map for a value: %v", err)
			}
			return
		}
		k := strings.TrimPrefix(e.Param, "metadata.")
		if _, ok := m[k]; !ok || !tooLong(k) {
			t.Fatalf("ValidateMetadata blamed %q, which is not too long", e.Param)
		}
	})
}
