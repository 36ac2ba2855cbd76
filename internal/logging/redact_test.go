package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestRedactString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		// Card numbers, as written.
		{"4242424242424242", "424242******4242"},
		{"4242 4242 4242 4242", "4242 42** **** 4242"},
		{"4242-4242-4242-4242", "4242-42**-****-4242"},
		{"378282246310005", "37828******0005"},
		{"3782 822463 10005", "3782 8***** *0005"},
		{"6205500000000000004", "620550*********0004"},
		{"4000000000003", "400******0003"},   // 13 digits: six masked
		{"40000000000003", "4000******0003"}, // 14
		{"card 4242424242424242 declined", "card 424242******4242 declined"},
		{`{"number":"4242424242424242","cvc":"123"}`, `{"number":"424242******4242","cvc":"123"}`},
		{"number=4242424242424242&exp=12", "number=424242******4242&exp=12"},
		{"{Number:4242424242424242 ExpMonth:12}", "{Number:424242******4242 ExpMonth:12}"},
		{"a 4242424242424242, b 5555555555554444.", "a 424242******4242, b 555555******4444."},
		{"(4242424242424242)", "(424242******4242)"},
		{"-4242424242424242-", "-424242******4242-"},
		{"é4242424242424242", "é424242******4242"},
		// Longer runs hold a card number beside other digits.
		{"42424242424242421230", "424242**********1230"},
		{"qty 2 4242 4242 4242 4242", "qty 2 4242 4*** **** 4242"},
		// Not card numbers.
		{"", ""},
		{"424242424242", "424242424242"}, // 12 digits
		{"4242  4242 4242 4242", "4242  4242 4242 4242"},
		{"4242 - 4242 - 4242 - 4242", "4242 - 4242 - 4242 - 4242"},
		{"4242--4242-4242-4242", "4242--4242-4242-4242"},
		{"4242.4242.4242.4242", "4242.4242.4242.4242"},
		{"pay_33NRKGNR7CGTZE2CFRD581KQNC", "pay_33NRKGNR7CGTZE2CFRD581KQNC"},
		{"req_0123456789012345ABCDEFGHJK", "req_0123456789012345ABCDEFGHJK"},
		{"key_ABCDEFGHJK0123456789012345", "key_ABCDEFGHJK0123456789012345"},
		{"x4242424242424242", "x4242424242424242"},
		{"4242424242424242x", "4242424242424242x"},
		{"550e8400-e29b-41d4-a716-446655440000", "550e8400-e29b-41d4-a716-446655440000"},
		{"12345678-1234-5678-9abc-123456789012", "12345678-1234-5678-9abc-123456789012"},
		{"sha256:0123456789abcdef0123456789abcdef", "sha256:0123456789abcdef0123456789abcdef"},
		{"2026-11-26T08:11:00.123456789Z", "2026-11-26T08:11:00.123456789Z"},
		{"2026-11-26 08:11:00 +0000 UTC", "2026-11-26 08:11:00 +0000 UTC"},
		{"amount 99999999 of 99999999", "amount 99999999 of 99999999"},
		{"took 1.234567s (1234567µs)", "took 1.234567s (1234567µs)"},
		{"+49 30 1234 5678", "+49 30 1234 5678"},
	} {
		got, changed := redactString(tc.in)
		if got != tc.want || changed != (tc.in != tc.want) {
			t.Errorf("redactString(%q) = %q, %v; want %q", tc.in, got, changed, tc.want)
		}
		if len(got) != len(tc.in) {
			t.Errorf("redactString(%q) changed the length", tc.in)
		}
	}
}

// record makes a record at a fixed time, so two handlers' output compares.
func record(msg string, attrs ...slog.Attr) slog.Record {
	r := slog.NewRecord(time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC), slog.LevelInfo, msg, 0)
	r.AddAttrs(attrs...)
	return r
}

type card struct {
	Number string `json:"number"`
	CVC    string `json:"cvc"`
}

func (card) String() string { return "[card]" }

type params struct {
	Amount int64 `json:"amount"`
	Card   *card `json:"card"`
}

type panUser struct{ Number string }

type valuer struct{}

func (valuer) LogValue() slog.Value { return slog.StringValue("pan 4242424242424242") }

func TestRedactHandlerMasksEverywhere(t *testing.T) {
	const pan = "4242424242424242"
	for _, format := range []string{"json", "text"} {
		for name, tc := range map[string]struct {
			log  func(l *slog.Logger)
			want string
		}{
			"message": {func(l *slog.Logger) { l.Info("charging " + pan) }, "424242******4242"},
			"attr":    {func(l *slog.Logger) { l.Info("charge", "number", pan) }, "424242******4242"},
			"attr with spaces": {func(l *slog.Logger) { l.Info("charge", slog.String("n", "4242 4242 4242 4242")) },
				"4242 42** **** 4242"},
			"error": {func(l *slog.Logger) { l.Error("failed", "error", fmt.Errorf("parse %q: bad", pan)) },
				"424242******4242"},
			"error string": {func(l *slog.Logger) { l.Error("failed", "error", errors.New("card "+pan).Error()) },
				"424242******4242"},
			"group": {func(l *slog.Logger) {
				l.Info("charge", slog.Group("card", slog.String("number", pan), slog.Group("inner", "n", pan)))
			}, "424242******4242"},
			"with attrs": {func(l *slog.Logger) { l.With("number", pan).Info("charge") }, "424242******4242"},
			"with group": {func(l *slog.Logger) { l.WithGroup("card").With("number", pan).Info("charge", "again", pan) },
				"424242******4242"},
			"key":         {func(l *slog.Logger) { l.Info("charge", pan, true) }, "424242******4242"},
			"bad key":     {func(l *slog.Logger) { l.Info("charge", []any{pan}...) }, "424242******4242"},
			"stringer":    {func(l *slog.Logger) { l.Info("charge", "card", card{Number: pan, CVC: "123"}) }, "[card]"},
			"log valuer":  {func(l *slog.Logger) { l.Info("charge", "v", valuer{}) }, "424242******4242"},
			"struct":      {func(l *slog.Logger) { l.Info("charge", "v", panUser{pan}) }, "424242******4242"},
			"slice":       {func(l *slog.Logger) { l.Info("charge", "v", []string{"x", pan}) }, "424242******4242"},
			"any pointer": {func(l *slog.Logger) { l.Info("charge", "v", &panUser{pan}) }, "424242******4242"},
			"bytes":       {func(l *slog.Logger) { l.Info("body", "v", []byte(`{"number":"`+pan+`"}`)) }, "424242******4242"},
			"raw json": {func(l *slog.Logger) { l.Info("body", "v", json.RawMessage(`{"number":"`+pan+`"}`)) },
				"424242******4242"},
		} {
			t.Run(format+"/"+name, func(t *testing.T) {
				var buf bytes.Buffer
				tc.log(New(&buf, slog.LevelDebug, format))
				out := buf.String()
				if strings.Contains(out, pan) || strings.Contains(out, "4242 4242 4242 4242") {
					t.Fatalf("card number in log line: %s", out)
				}
				if !strings.Contains(out, tc.want) {
					t.Fatalf("log line lacks %q: %s", tc.want, out)
				}
				if format == "json" && !json.Valid(buf.Bytes()) {
					t.Fatalf("not JSON: %s", out)
				}
			})
		}
	}
}

// JSON follows pointers that fmt prints as addresses: a struct holding a
// card behind a pointer must be caught in the JSON log too.
func TestRedactHandlerChecksWhatIsPrinted(t *testing.T) {
	var buf bytes.Buffer
	New(&buf, slog.LevelInfo, "json").Info("create", "params", params{Amount: 100, Card: &card{Number: "4242424242424242"}})
	if strings.Contains(buf.String(), "4242424242424242") {
		t.Fatalf("card number in log line: %s", buf.String())
	}
}

func TestRedactHandlerKeepsCleanLinesUnchanged(t *testing.T) {
	attrs := []slog.Attr{
		slog.String("request_id", "req_33NRKGNR7CGTZE2CFRD581KQNC"),
		slog.String("payment_id", "pay_33NRKGNR7CGTZE2CFRD581KQNC"),
		slog.String("route", "POST /v1/payments/{id}/confirm"),
		slog.String("idempotency_key", "550e8400-e29b-41d4-a716-446655440000"),
		slog.Int64("amount", 99999999),
		slog.Int64("unix_nanos", 1764144000123456789),
		slog.Float64("duration_ms", 12.345),
		slog.Duration("timeout", 10*time.Second),
		slog.Time("created", time.Date(2026, 11, 26, 8, 11, 0, 123456789, time.UTC)),
		slog.String("at", "2026-11-26T08:11:00.123456789Z"),
		slog.Group("card", slog.String("last4", "4242"), slog.String("brand", "visa")),
		slog.Any("error", errors.New("connector: timeout after 10s")),
		slog.Any("ids", []string{"pay_33NRKGNR7CGTZE2CFRD581KQNC"}),
		slog.Any("counts", map[string]int{"a": 1}),
		slog.Any("body", []byte(`{"amount":2000}`)),
		slog.Any("raw", json.RawMessage(`{"amount":2000}`)),
	}
	for _, format := range []string{"json", "text"} {
		var plain, filtered bytes.Buffer
		mk := func(w io.Writer) slog.Handler {
			if format == "text" {
				return slog.NewTextHandler(w, nil)
			}
			return slog.NewJSONHandler(w, nil)
		}
		r := record("request 1234567890 done", attrs...)
		if err := mk(&plain).WithGroup("g").WithAttrs(attrs[:2]).Handle(context.Background(), r.Clone()); err != nil {
			t.Fatal(err)
		}
		h := redactHandler{next: mk(&filtered), json: format == "json"}
		if err := h.WithGroup("g").WithAttrs(attrs[:2]).Handle(context.Background(), r.Clone()); err != nil {
			t.Fatal(err)
		}
		if plain.String() != filtered.String() {
			t.Errorf("%s: the filter changed a clean line:\n got %s\nwant %s", format, filtered.String(), plain.String())
		}
	}
}

func TestRedactHandlerKeepsRequestID(t *testing.T) {
	var buf bytes.Buffer
	ctx := WithRequest(context.Background(), &RequestInfo{ID: "req_33NRKGNR7CGTZE2CFRD581KQNC"})
	New(&buf, slog.LevelInfo, "json").InfoContext(ctx, "card 4242424242424242")
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	if line["request_id"] != "req_33NRKGNR7CGTZE2CFRD581KQNC" || line["msg"] != "card 424242******4242" {
		t.Fatalf("got %v", line)
	}
}

func TestRedactHandlerDoesNotAllocateForCleanRecords(t *testing.T) {
	h := redactHandler{next: discard{}, json: true}
	r := requestLine("POST /v1/payments")
	ctx := context.Background()
	if n := testing.AllocsPerRun(100, func() { _ = h.Handle(ctx, r) }); n != 0 {
		t.Fatalf("%v allocations per clean record, want 0", n)
	}
}

func TestRedactNilStringer(t *testing.T) {
	var buf bytes.Buffer
	var e *nilErr
	New(&buf, slog.LevelInfo, "json").Info("x", "err", e, "s", (*nilStringer)(nil))
	if !json.Valid(buf.Bytes()) {
		t.Fatalf("not JSON: %s", buf.String())
	}
}

type nilErr struct{ msg string }

func (e *nilErr) Error() string { return e.msg }

type nilStringer struct{ s string }

func (n *nilStringer) String() string { return n.s }

type discard struct{}

func (discard) Enabled(context.Context, slog.Level) bool  { return true }
func (discard) Handle(context.Context, slog.Record) error { return nil }
func (d discard) WithAttrs([]slog.Attr) slog.Handler      { return d }
func (d discard) WithGroup(string) slog.Handler           { return d }

// requestLine is the line paygate writes at the end of every request.
func requestLine(route string) slog.Record {
	return record("request",
		slog.String("method", "POST"), slog.String("route", route), slog.Int("status", 200),
		slog.Float64("duration_ms", 3.25), slog.String("merchant_id", "mer_33NRKGNR7CGTZE2CFRD581KQNC"),
		slog.Int("bytes", 1234), slog.String("request_id", "req_33NRKGNR7CGTZE2CFRD581KQNC"))
}

func BenchmarkRedactString(b *testing.B) {
	for name, s := range map[string]string{
		"clean":  "connector: card declined (insufficient_funds) for pay_33NRKGNR7CGTZE2CFRD581KQNC after 1.2s",
		"digits": "2026-11-26T08:11:00.123456789Z amount 99999999 currency 978 status 200 bytes 1234",
		"pan":    "connector: parse \"4242 4242 4242 4242\": card declined for pay_33NRKGNR7CGTZE2CFRD581KQNC",
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(s)))
			for b.Loop() {
				redactString(s)
			}
		})
	}
}

// BenchmarkRedactHandler measures the filter alone (next discards), and a
// whole JSON log line with and without it.
func BenchmarkRedactHandler(b *testing.B) {
	ctx := context.Background()
	clean := requestLine("POST /v1/payments")
	dirty := requestLine("POST /v1/payments 4242424242424242")
	for name, tc := range map[string]struct {
		h slog.Handler
		r slog.Record
	}{
		"filter/clean":  {redactHandler{next: discard{}, json: true}, clean},
		"filter/pan":    {redactHandler{next: discard{}, json: true}, dirty},
		"json/plain":    {slog.NewJSONHandler(io.Discard, nil), clean},
		"json/filtered": {redactHandler{next: slog.NewJSONHandler(io.Discard, nil), json: true}, clean},
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = tc.h.Handle(ctx, tc.r)
			}
		})
	}
}

// A long value (a made-up HTTP method, a header quoted in an error) is cut,
// wherever it is in the record, and a card number in it is still masked.
func TestRedactHandlerCutsLongValues(t *testing.T) {
	long := strings.Repeat("é", 3*MaxValueBytes) // two bytes a character
	for _, format := range []string{"json", "text"} {
		var buf bytes.Buffer
		l := New(&buf, slog.LevelDebug, format)
		l.Info("m"+long, "method", long, "error", errors.New(long+" 4242424242424242"),
			slog.Group("g", "v", long))
		out := buf.String()
		if len(out) > 5*MaxValueBytes {
			t.Fatalf("%s: line of %d bytes", format, len(out))
		}
		if n := strings.Count(out, "…[cut "); n != 4 {
			t.Errorf("%s: %d cut marks, want 4: %.200s", format, n, out)
		}
		if format == "json" && !json.Valid(buf.Bytes()) {
			t.Fatalf("not JSON: %.300s", out)
		}
		if strings.Contains(out, "\uFFFD") {
			t.Error("cut inside a character")
		}
	}
	// Short values pass untouched.
	if s, changed := redactString("GET"); s != "GET" || changed {
		t.Errorf("%q %v", s, changed)
	}
}
