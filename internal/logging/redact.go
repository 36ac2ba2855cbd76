package logging

import (
	"context"
	"encoding"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"strconv"
	"unicode/utf8"
)

// A card number may reach a log line by mistake: an error that quotes its
// input, a request body, a struct printed whole. redactHandler sits in
// front of the handler that formats records and masks every digit run that
// could be a card number, so no such mistake writes one to the logs.
//
// The rule, applied to the message, every attribute key and every string
// value (also inside groups):
//
//   - A run is 13 or more ASCII digits, each pair of neighbours either
//     adjacent or separated by exactly one space or dash ("4242 4242 4242
//     4242", "3782-822463-10005"). 13 is the shortest card number. There is
//     no upper limit: a card number written next to other digits (an
//     expiry, a CVC, a count) forms a longer run and must still be masked.
//   - A run that touches an ASCII letter or '_' on either side is part of
//     an identifier (pay_…, a UUID, a hash) and is left alone, as a
//     regular expression's \b would: those are common in the logs, and a
//     card number glued to letters is not how one is written.
//   - The last four digits stay, and up to six leading ones (the BIN), as
//     PCI DSS allows, so a line can still be matched to a card's brand and
//     last4 as the API shows them; at least six digits are always masked,
//     so a 13-digit run keeps only three leading digits. Spaces and dashes
//     stay, so the shape of the value shows.
//
// Numbers, times and durations are not strings and are never touched.
// Values of kind Any are judged by the text they are printed as (anyValue).
// A security code is too short to tell from other numbers: types that hold
// one must hide it themselves, as payments.CardData's String does.
type redactHandler struct {
	next slog.Handler
	// json tells how next prints values of kind Any, which are checked as
	// they would be printed: JSON-encoded, or as fmt's %+v.
	json bool
}

func (h redactHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.next.Enabled(ctx, l)
}

func (h redactHandler) Handle(ctx context.Context, r slog.Record) error {
	msg, dirty := redactString(r.Message)
	if !dirty {
		r.Attrs(func(a slog.Attr) bool {
			_, dirty = h.attr(a)
			return !dirty
		})
	}
	if !dirty {
		// The common case: passed on as it came, without allocating.
		return h.next.Handle(ctx, r)
	}
	out := slog.NewRecord(r.Time, r.Level, msg, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		a, _ = h.attr(a)
		out.AddAttrs(a)
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h redactHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	clean := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		clean[i], _ = h.attr(a)
	}
	return redactHandler{h.next.WithAttrs(clean), h.json}
}

func (h redactHandler) WithGroup(name string) slog.Handler {
	name, _ = redactString(name)
	return redactHandler{h.next.WithGroup(name), h.json}
}

// attr returns a with its key and value redacted, and whether that changed
// anything.
func (h redactHandler) attr(a slog.Attr) (slog.Attr, bool) {
	key, k := redactString(a.Key)
	v, changed := h.value(a.Value)
	return slog.Attr{Key: key, Value: v}, k || changed
}

func (h redactHandler) value(v slog.Value) (slog.Value, bool) {
	switch v.Kind() {
	case slog.KindString:
		if s, ok := redactString(v.String()); ok {
			return slog.StringValue(s), true
		}
	case slog.KindGroup:
		attrs := v.Group()
		var out []slog.Attr
		for i, a := range attrs {
			a, changed := h.attr(a)
			if changed && out == nil {
				out = make([]slog.Attr, len(attrs))
				copy(out, attrs)
			}
			if out != nil {
				out[i] = a
			}
		}
		if out != nil {
			return slog.GroupValue(out...), true
		}
	case slog.KindLogValuer:
		// Passed on resolved, so what was checked is what is printed
		// (LogValue need not give the same answer twice).
		v, _ = h.value(v.Resolve())
		return v, true
	case slog.KindAny:
		return h.anyValue(v)
	}
	return v, false
}

func (h redactHandler) anyValue(v slog.Value) (slog.Value, bool) {
	switch x := v.Any().(type) {
	case error:
		// Both built-in handlers print an error's Error(); fmt guards
		// against nil receivers as they do.
		if s, ok := redactString(fmt.Sprint(x)); ok {
			return slog.StringValue(s), true
		}
		return v, false
	case fmt.Stringer:
		// Always replaced by its text: the JSON handler would otherwise
		// encode the fields and pass by String, which types such as
		// payments.CardData use to hide what they hold.
		s, _ := redactString(fmt.Sprint(x))
		return slog.StringValue(s), true
	}
	if b, ok := byteSlice(v.Any()); ok {
		// Printed as text by the text handler, but base64-encoded by the
		// JSON handler, which no digit scan sees through: judged as text.
		if s, ok := redactString(string(b)); ok {
			return slog.StringValue(s), true
		}
		return v, false
	}
	// Anything else is kept as it is unless its printed form holds a run:
	// structured values stay structured.
	if s, ok := redactString(h.render(v.Any())); ok {
		return slog.StringValue(s), true
	}
	return v, false
}

// render prints x as the next handler would. JSON follows pointers that
// fmt prints as addresses, so the check must look at the JSON.
func (h redactHandler) render(x any) (s string) {
	defer func() {
		if recover() != nil {
			s = fmt.Sprintf("%+v", x)
		}
	}()
	if h.json {
		if b, err := json.Marshal(x); err == nil {
			return string(b)
		}
		return fmt.Sprintf("%+v", x)
	}
	if t, ok := x.(encoding.TextMarshaler); ok {
		if b, err := t.MarshalText(); err == nil {
			return string(b)
		}
	}
	return fmt.Sprintf("%+v", x)
}

// byteSlice returns x's bytes if it is a byte slice of any named type
// (json.RawMessage, say), as the text handler tells them.
func byteSlice(x any) ([]byte, bool) {
	if b, ok := x.([]byte); ok {
		return b, true
	}
	v := reflect.ValueOf(x)
	if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8 {
		return v.Bytes(), true
	}
	return nil, false
}

// Masking parameters; see redactHandler.
const (
	minRunDigits = 13
	keepLeading  = 6
	keepTrailing = 4
	minMasked    = 6
)

// MaxValueBytes bounds every string a log line shows (message, key,
// value): a value longer than this is cut, with a mark, so that what a
// client sends (a made-up method, a long header quoted in an error) cannot
// make lines, or the memory that formats them, grow without bound.
const MaxValueBytes = 4096

// redactString returns s with every card-number-like run masked and cut to
// MaxValueBytes, and whether that changed it. It allocates only when it did.
func redactString(s string) (string, bool) {
	s, masked := maskRuns(s)
	if len(s) <= MaxValueBytes {
		return s, masked
	}
	cut := MaxValueBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) { // not inside a character
		cut--
	}
	return s[:cut] + "…[cut " + strconv.Itoa(len(s)-cut) + " bytes]", true
}

// maskRuns returns s with every card-number-like run masked, and whether
// there was one. It allocates only when there was.
func maskRuns(s string) (string, bool) {
	if len(s) < minRunDigits { // most keys and values
		return s, false
	}
	start, end, n := nextRun(s, 0)
	if n == 0 {
		return s, false
	}
	b := []byte(s)
	for n > 0 {
		maskRun(b[start:end], n)
		start, end, n = nextRun(s, end)
	}
	return string(b), true
}

// nextRun finds the first run at or after from that must be masked and
// returns its bounds and digit count; n is 0 when there is none.
func nextRun(s string, from int) (start, end, n int) {
	for i := from; i < len(s); {
		for i < len(s) && !isDigit(s[i]) {
			// A run of minRunDigits digits spans at least as many bytes,
			// all digits or separators, so a run that starts within the
			// next minRunDigits bytes would span i+minRunDigits-1: when
			// that byte is a breaker, none does. Log text is mostly
			// letters, so this skips most of it.
			if j := i + minRunDigits - 1; j < len(s) && breaker[s[j]] {
				i = j + 1
				continue
			}
			i++
		}
		if i == len(s) {
			break
		}
		start, end, n = i, i+1, 1
		for j := i + 1; j < len(s); j++ {
			if isDigit(s[j]) {
				end, n = j+1, n+1
			} else if (s[j] == ' ' || s[j] == '-') && j+1 < len(s) && isDigit(s[j+1]) {
				continue
			} else {
				break
			}
		}
		if n >= minRunDigits && (start == 0 || !isWordByte(s[start-1])) && (end == len(s) || !isWordByte(s[end])) {
			return start, end, n
		}
		i = end
	}
	return 0, 0, 0
}

// maskRun replaces the middle digits of run (n digits) with '*'.
func maskRun(run []byte, n int) {
	lead := min(keepLeading, n-keepTrailing-minMasked)
	d := 0
	for i, c := range run {
		if !isDigit(c) {
			continue
		}
		d++
		if d > lead && d <= n-keepTrailing {
			run[i] = '*'
		}
	}
}

func isDigit(c byte) bool { return c-'0' < 10 }

// breaker holds the bytes no run can contain: all but digits and separators.
var breaker = func() (t [256]bool) {
	for c := range t {
		t[c] = !isDigit(byte(c)) && c != ' ' && c != '-'
	}
	return t
}()

func isWordByte(c byte) bool {
	return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}
