package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/payments"
	"github.com/paygate/paygate/internal/refunds"
	"github.com/paygate/paygate/internal/webhooks"
)

// A typical body of POST /v1/payments.
const benchBody = `{"amount":2000,"currency":"usd","confirm":true,"capture_method":"automatic","description":"Order 6735","metadata":{"order_id":"6735","customer":"cus_42"},"payment_method":{"type":"card","card":{"number":"4242424242424242","exp_month":12,"exp_year":2030,"cvc":"123","holder_name":"Jane Doe"}},"return_url":"https://example.com/back"}`

func jsonRequest(contentType string, body []byte) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/v1/payments", bytes.NewReader(body))
	r.Header.Set("Content-Type", contentType)
	return r
}

// laxDecode is decode as it was before keys were checked: encoding/json
// alone, which matches keys to fields in any case and lets a repeated key
// win. For a body it refuses, decode must answer the same.
func laxDecode[T any](body []byte) (T, error) {
	var v T
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		body = []byte("{}")
	}
	if body[0] != '{' {
		return v, &apierror.Error{Kind: apierror.KindInvalidRequest, Code: "invalid_json", Message: "The request body must be a JSON object."}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return v, apierror.FromJSON(err, "")
	}
	if len(bytes.TrimSpace(body[dec.InputOffset():])) > 0 {
		return v, &apierror.Error{Kind: apierror.KindInvalidRequest, Code: "invalid_json", Message: "The request body must hold exactly one JSON object."}
	}
	return v, nil
}

// Anything after the object but white space is refused; Decoder.More alone
// let a stray closing bracket through.
func TestDecodeRefusesTrailingData(t *testing.T) {
	for _, body := range []string{`{"amount":1}]`, `{"amount":1} }`, `{"amount":1}{}`, `{"amount":1} x`, `{"amount":1},`} {
		_, err := decode[payments.CreateParams](httptest.NewRecorder(), jsonRequest("application/json", []byte(body)))
		if e, ok := apierror.As(err); !ok || e.Code != "invalid_json" {
			t.Errorf("%s: %v, want invalid_json", body, err)
		}
	}
	if _, err := decode[payments.CreateParams](httptest.NewRecorder(), jsonRequest("application/json", []byte("{\"amount\":1}\n\t "))); err != nil {
		t.Errorf("trailing white space: %v", err)
	}
}

// decoders runs decode and laxDecode for one type.
type decoders struct {
	name        string
	strict, lax func(contentType string, body []byte) (any, error)
}

func decoderFor[T any]() decoders {
	return decoders{
		name: reflect.TypeFor[T]().String(),
		strict: func(ct string, body []byte) (any, error) {
			return decode[T](httptest.NewRecorder(), jsonRequest(ct, body))
		},
		lax: func(_ string, body []byte) (any, error) { return laxDecode[T](body) },
	}
}

// Types with what the request types lack: arrays of objects, free-form
// values, an embedded struct, a recursive type.
type (
	testItem struct {
		Name string            `json:"name"`
		Tags map[string]string `json:"tags"`
	}
	testBase struct {
		ID string `json:"id"`
	}
	testNode struct {
		Value int       `json:"value"`
		Next  *testNode `json:"next"`
	}
	testParams struct {
		testBase
		Items []testItem          `json:"items"`
		Grid  [][]testItem        `json:"grid"`
		Extra any                 `json:"extra"`
		Raw   json.RawMessage     `json:"raw"`
		Node  *testNode           `json:"node"`
		ByKey map[string]testItem `json:"by_key"`
		Skip  string              `json:"-"`
		NoTag string
	}
)

func TestDecodeStrictKeys(t *testing.T) {
	var (
		create   = decoderFor[payments.CreateParams]()
		update   = decoderFor[payments.UpdateParams]()
		confirm  = decoderFor[payments.ConfirmParams]()
		capture  = decoderFor[payments.CaptureParams]()
		cancel   = decoderFor[payments.CancelParams]()
		method   = decoderFor[*payments.MethodData]()
		refund   = decoderFor[refunds.CreateParams]()
		hook     = decoderFor[webhooks.CreateParams]()
		hookUpd  = decoderFor[webhooks.UpdateParams]()
		rotate   = decoderFor[webhooks.RotateParams]()
		redeliv  = decoderFor[webhooks.RedeliverParams]()
		empty    = decoderFor[struct{}]()
		merchant = decoderFor[merchantParams]()
		key      = decoderFor[keyParams]()
		test     = decoderFor[testParams]()
	)
	const card = `"type":"card","card":{"number":"4242424242424242","exp_month":12,"exp_year":2030,"cvc":"123"}`
	meta := func(n int, extra string) string { // metadata with n keys, then extra
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, `"k%d":"v",`, i)
		}
		return `{"metadata":{` + b.String() + extra + `}}`
	}
	cases := []struct {
		name string
		d    decoders
		body string
		// code and param of the error, or "" when the body is accepted:
		// then as encoding/json decodes it. The code "case" is a
		// parameter_unknown that names the param and says names are
		// case-sensitive, "repeated" a parameter_invalid that says the
		// param appears more than once.
		code, param string
		contentType string // application/json when empty
	}{
		// Field names that differ only in case.
		{"top-level name in another case", create, `{"Amount":2000,"currency":"usd"}`, "case", "Amount", ""},
		{"all upper case", create, `{"amount":2000,"CURRENCY":"usd"}`, "case", "CURRENCY", ""},
		{"case variant after the field", create, `{"amount":2000,"Amount":1}`, "case", "Amount", ""},
		{"escaped upper case", create, `{"\u0041mount":2000}`, "case", "Amount", ""},
		{"unicode fold", create, `{"deſcription":"x"}`, "case", "deſcription", ""},
		{"method type", create, `{"payment_method":{"Type":"card"}}`, "case", "payment_method.Type", ""},
		{"card number", create, `{"payment_method":{"type":"card","card":{"Number":"4242424242424242"}}}`, "case", "payment_method.card.Number", ""},
		{"wallet token", confirm, `{"payment_method":{"type":"wallet","wallet":{"type":"apple_pay","Token":"tok"}}}`, "case", "payment_method.wallet.Token", ""},
		{"payment method body", method, `{"type":"card","Card":{"number":"4242424242424242"}}`, "case", "Card", ""},
		{"payment method body card", method, `{"type":"card","card":{"exp_Month":12}}`, "case", "card.exp_Month", ""},
		{"update", update, `{"Description":"x"}`, "case", "Description", ""},
		{"capture", capture, `{"AMOUNT":5}`, "case", "AMOUNT", ""},
		{"cancel", cancel, `{"Cancellation_Reason":"duplicate"}`, "case", "Cancellation_Reason", ""},
		{"refund", refund, `{"payment_id":"pay_1","Reason":"duplicate"}`, "case", "Reason", ""},
		{"webhook endpoint", hook, `{"URL":"https://example.com/hook"}`, "case", "URL", ""},
		{"webhook update", hookUpd, `{"Disabled":true}`, "case", "Disabled", ""},
		{"rotate", rotate, `{"Expire_Previous_In":0}`, "case", "Expire_Previous_In", ""},
		{"redeliver", redeliv, `{"Event_ID":"evt_1"}`, "case", "Event_ID", ""},
		{"merchant", merchant, `{"Name":"Shop"}`, "case", "Name", ""},
		{"api key", key, `{"LiveMode":true}`, "case", "LiveMode", ""},
		{"embedded field", test, `{"ID":"x"}`, "case", "ID", ""},
		{"field in an array", test, `{"items":[{"name":"a"},{"Name":"b"}]}`, "case", "items[1].Name", ""},
		{"field in an array of arrays", test, `{"grid":[[{"name":"a"}],[{"name":"b"},{"NAME":"c"}]]}`, "case", "grid[1][1].NAME", ""},
		{"field in a map", test, `{"by_key":{"x":{"name":"a"},"Y":{"nAme":"b"}}}`, "case", "by_key.Y.nAme", ""},
		{"recursive type", test, `{"node":{"value":1,"next":{"value":2,"next":{"Value":3}}}}`, "case", "node.next.next.Value", ""},
		{"untagged field", test, `{"notag":"x"}`, "case", "notag", ""},

		// Keys repeated within one object.
		{"top-level repeat", create, `{"amount":1,"amount":2}`, "repeated", "amount", ""},
		{"same value twice", create, `{"amount":2000,"currency":"usd","amount":2000}`, "repeated", "amount", ""},
		{"null then value", create, `{"description":null,"description":"x"}`, "repeated", "description", ""},
		{"escaped repeat", create, `{"amount":1,"\u0061mount":2}`, "repeated", "amount", ""},
		{"card twice", create, `{"payment_method":{` + card + `,"card":{"number":"4000000000000002"}}}`, "repeated", "payment_method.card", ""},
		{"card field twice", create, `{"payment_method":{"type":"card","card":{"number":"4000000000000002","cvc":"1","number":"4242424242424242"}}}`, "repeated", "payment_method.card.number", ""},
		{"method type twice", confirm, `{"payment_method":{"type":"card","type":"wallet"}}`, "repeated", "payment_method.type", ""},
		{"method id twice", confirm, `{"payment_method":"pm_1","payment_method":"pm_2"}`, "repeated", "payment_method", ""},
		{"metadata key twice", create, `{"metadata":{"a":"1","a":"2"}}`, "repeated", "metadata.a", ""},
		{"metadata key twice, escaped", update, `{"metadata":{"a":"1","\u0061":"2"}}`, "repeated", "metadata.a", ""},
		{"metadata key twice, invalid UTF-8 both times", create, "{\"metadata\":{\"\xff\":\"1\",\"\xfe\":\"2\"}}", "repeated", "metadata.\ufffd", ""},
		{"metadata empty key twice", create, `{"metadata":{"":"1","":"2"}}`, "repeated", "metadata.", ""},
		{"large metadata, key twice", create, meta(30, `"k17":"w"`), "repeated", "metadata.k17", ""},
		{"refund metadata", refund, `{"payment_id":"pay_1","metadata":{"k":"1","k":"2"}}`, "repeated", "metadata.k", ""},
		{"refund", refund, `{"payment_id":"pay_1","payment_id":"pay_2"}`, "repeated", "payment_id", ""},
		{"webhook", hook, `{"url":"https://a.example","enabled_events":["*"],"url":"https://b.example"}`, "repeated", "url", ""},
		{"merchant", merchant, `{"name":"A","name":"B"}`, "repeated", "name", ""},
		{"in an array", test, `{"items":[{"name":"a"},{"name":"b","name":"c"}]}`, "repeated", "items[1].name", ""},
		{"in a map in an array", test, `{"items":[{"tags":{"x":"1","x":"2"}}]}`, "repeated", "items[0].tags.x", ""},
		{"free-form object", test, `{"extra":{"a":{"b":1,"b":2}}}`, "repeated", "extra.a.b", ""},
		{"free-form array", test, `{"extra":[{"k":1},[{"k":1,"k":2}]]}`, "repeated", "extra[1][0].k", ""},
		{"raw message", test, `{"raw":{"a":1,"a":2}}`, "repeated", "raw.a", ""},
		{"embedded field", test, `{"id":"x","id":"y"}`, "repeated", "id", ""},

		// What encoding/json refuses is answered as before, whatever else
		// the body holds.
		{"unknown field", create, `{"amount":100,"currency":"usd","colour":"red"}`, "parameter_unknown", "colour", ""},
		{"unknown field before a repeat", create, `{"colour":"red","amount":1,"amount":1}`, "parameter_unknown", "colour", ""},
		{"unknown card field", create, `{"payment_method":{` + card[:len(card)-1] + `,"pin":"1"}}}`, "parameter_unknown", "payment_method.card.pin", ""},
		{"wrong type", create, `{"amount":"100"}`, "parameter_invalid", "amount", ""},
		{"wrong type, other case", create, `{"Amount":"100"}`, "parameter_invalid", "amount", ""},
		{"metadata not strings", create, `{"metadata":{"n":1,"n":2}}`, "parameter_invalid", "metadata", ""},
		{"two objects", create, `{"amount":1,"amount":2}{}`, "invalid_json", "", ""},
		{"malformed after a repeat", create, `{"amount":1,"amount":`, "invalid_json", "", ""},
		{"not an object", create, `[{"a":1,"a":2}]`, "invalid_json", "", ""},
		{"not JSON", create, `{"amount":1,"amount":2}`, "unsupported_media_type", "", "text/plain"},
		{"too large", create, `{"amount":1,"amount":2,"description":"` + strings.Repeat("x", MaxBodyBytes) + `"}`, "body_too_large", "", ""},
		{"no fields", empty, `{"a":1}`, "parameter_unknown", "a", ""},
		{"ignored field", test, `{"Skip":"x"}`, "parameter_unknown", "Skip", ""},

		// Bodies accepted before are accepted the same.
		{"typical", create, benchBody, "", "", ""},
		{"minimal", create, `{"amount":2000,"currency":"usd"}`, "", "", ""},
		{"empty body", create, ``, "", "", ""},
		{"empty object", create, `{}`, "", "", ""},
		{"white space", create, " {\n\t\"amount\" : 2000 ,\r\n \"currency\":\"usd\" , \"metadata\" : { } }\n", "", "", ""},
		{"escaped names", create, `{"\u0061mount":2000,"curr\u0065ncy":"usd"}`, "", "", ""},
		{"method id", create, `{"payment_method":"pm_33NRKGNR7CGTZE2CFRD581KQNC"}`, "", "", ""},
		{"wallet", create, `{"payment_method":{"type":"wallet","wallet":{"type":"apple_pay","token":"tok"}}}`, "", "", ""},
		{"nulls", create, `{"amount":null,"payment_method":null,"metadata":null}`, "", "", ""},
		{"card null", create, `{"payment_method":{"type":"card","card":null}}`, "", "", ""},
		{"metadata keys in two cases", create, `{"metadata":{"a":"1","A":"2"}}`, "", "", ""},
		{"metadata keys named as fields", create, `{"amount":1,"metadata":{"amount":"1","Amount":"2","AMOUNT":"3"}}`, "", "", ""},
		{"metadata unicode keys", create, `{"metadata":{"ключ":"1","Ключ":"2","ſ":"3","s":"4","\u212a":"5","k":"6"}}`, "", "", ""},
		{"metadata odd keys", create, `{"metadata":{"a.b":"1","a\"b":"2","a\\b":"3","":"4","}":"5"}}`, "", "", ""},
		{"large metadata", create, meta(60, `"last":"v"`), "", "", ""},
		{"keys inside strings", create, `{"description":"{\"amount\":1,\"amount\":2,\"Amount\":3}","currency":"usd"}`, "", "", ""},
		{"same key in sibling objects", create, `{"metadata":{"type":"x"},"payment_method":{"type":"card","card":{"number":"4242"}}}`, "", "", ""},
		{"update metadata", update, `{"metadata":{"a":"","b":"2"},"description":"d"}`, "", "", ""},
		{"payment method body", method, `{` + card + `}`, "", "", ""},
		{"capture", capture, `{"amount":500}`, "", "", ""},
		{"cancel", cancel, `{"cancellation_reason":"duplicate"}`, "", "", ""},
		{"refund", refund, `{"payment_id":"pay_1","amount":100,"reason":"requested_by_customer","metadata":{"k":"v","K":"w"}}`, "", "", ""},
		{"webhook, repeated event type", hook, `{"url":"https://example.com/hook","enabled_events":["payment.succeeded","payment.succeeded"]}`, "", "", ""},
		{"webhook update", hookUpd, `{"disabled":false,"enabled_events":[]}`, "", "", ""},
		{"no fields", empty, `{}`, "", "", ""},
		{"merchant", merchant, `{"name":"Shop","livemode":false}`, "", "", ""},
		{"test type", test, `{"id":"x","NoTag":"y","items":[{"name":"a","tags":{"t":"1","T":"2"}},{"name":"a"}],"grid":[[],[{"name":"b"}]],"extra":{"X":[1,{"x":true,"X":null}],"x":"s"},"raw":[{"a":1},{"a":1}],"node":{"next":{"value":2}},"by_key":{"x":{},"X":{}}}`, "", "", ""},
		{"charset", create, `{"amount":1}`, "", "", "application/json; charset=utf-8"},
	}
	for _, c := range cases {
		t.Run(c.d.name+"/"+c.name, func(t *testing.T) {
			ct := c.contentType
			if ct == "" {
				ct = "application/json"
			}
			got, err := c.d.strict(ct, []byte(c.body))
			if c.code == "" {
				if err != nil {
					t.Fatalf("refused %s: %v", c.body, err)
				}
				want, err := c.d.lax(ct, []byte(c.body))
				if err != nil {
					t.Fatalf("encoding/json refuses the body: %v", err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("decoded %+v, want %+v as encoding/json decodes it", got, want)
				}
				return
			}
			e, ok := apierror.As(err)
			if !ok {
				t.Fatalf("%s: got %v (%+v), want %s %q", c.body, err, got, c.code, c.param)
			}
			code := map[string]string{"case": "parameter_unknown", "repeated": "parameter_invalid"}[c.code]
			if code == "" {
				code = c.code
			}
			if e.Code != code || e.Param != c.param {
				t.Fatalf("got %s %q (%s), want %s %q", e.Code, e.Param, e.Message, c.code, c.param)
			}
			if c.code == "repeated" {
				if want := c.param + " appears more than once"; !strings.Contains(e.Message, want) {
					t.Errorf("message %q, want it to say %q", e.Message, want)
				}
			}
			if c.code == "case" && (!strings.Contains(e.Message, c.param) || !strings.Contains(e.Message, "case-sensitive")) {
				t.Errorf("message %q does not name %s or say that names are case-sensitive", e.Message, c.param)
			}
			if want := map[string]apierror.Kind{"body_too_large": apierror.KindTooLarge, "unsupported_media_type": apierror.KindUnsupportedMedia}[c.code]; e.Kind != want {
				t.Errorf("kind %d, want %d", e.Kind, want)
			}
		})
	}
}

// TestCheckKeysShapes checks that the shapes follow the request types'
// own decoding: the payment method parameter takes MethodData's fields.
func TestCheckKeysShapes(t *testing.T) {
	s := shapeOf(reflect.TypeFor[payments.CreateParams]())
	if s != shapeOf(reflect.TypeFor[payments.CreateParams]()) {
		t.Error("shapes are not cached")
	}
	card := s.fields["payment_method"].fields["card"]
	var names []string
	for n := range card.fields {
		names = append(names, n)
	}
	slices.Sort(names)
	if want := []string{"cvc", "exp_month", "exp_year", "holder_name", "number"}; !slices.Equal(names, want) {
		t.Errorf("card fields %v, want %v", names, want)
	}
	if m := s.fields["metadata"]; m == nil || m.fields != nil {
		t.Errorf("metadata shape %+v", m)
	}
}

// hasRepeatedKey reports whether the first JSON value in body has a key
// twice in one object, and whether every key is lower-case ASCII (so none
// can match a field name, all lower case, only up to case). It reads
// tokens with encoding/json, independently of checkKeys; ok is false when
// body is not JSON.
func hasRepeatedKey(body []byte) (repeated, lower, ok bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	lower = true
	var walk func() error
	walk = func() error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				key := k.(string)
				repeated = repeated || seen[key]
				seen[key] = true
				lower = lower && strings.IndexFunc(key, func(r rune) bool { return r > 'z' || 'A' <= r && r <= 'Z' }) < 0
				if err := walk(); err != nil {
					return err
				}
			}
			_, err = dec.Token()
		case json.Delim('['):
			for dec.More() {
				if err := walk(); err != nil {
					return err
				}
			}
			_, err = dec.Token()
		}
		return err
	}
	return repeated, lower, walk() == nil
}

// createWire is how a client sends p: the payment method as an id or an
// object.
func createWire(p payments.CreateParams) any {
	var pm any
	if m := p.PaymentMethod; m != nil {
		pm = m.ID
		if m.Inline != nil {
			pm = m.Inline
		}
	}
	return struct {
		payments.CreateParams
		PaymentMethod any `json:"payment_method"`
	}{p, pm}
}

// FuzzDecodeStrict feeds decode arbitrary bodies of POST /v1/payments.
// Whatever arrives: no panic; what encoding/json refuses is refused as
// before; a key repeated in an object is refused; what is accepted
// round-trips; and a body encoding/json accepts with no repeated key and
// only lower-case keys is accepted as it decodes it.
func FuzzDecodeStrict(f *testing.F) {
	for _, seed := range []string{
		benchBody,
		`{"amount":2000,"currency":"usd"}`,
		`{"Amount":2000,"currency":"usd"}`,
		`{"amount":1,"amount":2}`,
		`{"amount":1,"\u0061mount":2}`,
		`{"deſcription":"x"}`,
		`{"payment_method":{"type":"card","card":{"Number":"4242424242424242"}}}`,
		`{"payment_method":{"type":"card","card":{"number":"1","number":"2"}}}`,
		`{"payment_method":"pm_33NRKGNR7CGTZE2CFRD581KQNC"}`,
		`{"payment_method":{"type":"wallet","wallet":{"type":"apple_pay","token":"t"}}}`,
		`{"metadata":{"a":"1","A":"2"}}`,
		`{"metadata":{"a":"1","a":"2"}}`,
		"{\"metadata\":{\"\xff\":\"1\",\"\xfe\":\"2\"}}",
		"{\"metAdAtA\":{\"\xff\":\"\",\"\xfe\":\"\"}}",
		`{"metadata":{"k0":"v","k1":"v","k2":"v","k3":"v","k4":"v","k5":"v","k6":"v","k7":"v","k8":"v","k9":"v","k3":"v"}}`,
		`{"description":"{\"amount\":1,\"amount\":2}","amount":1}`,
		`{"amount":1} ]`,
		`{"amount":1}{"amount":1}`,
		`{"colour":"red","amount":1,"amount":2}`,
		`{"amount":"1"}`,
		`{"amount":`,
		`[]`,
		``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if len(body) > MaxBodyBytes {
			return
		}
		// The walk ends, without a panic, even on what is not JSON.
		_ = checkKeys[payments.CreateParams](body)

		got, err := decode[payments.CreateParams](httptest.NewRecorder(), jsonRequest("application/json", body))
		lax, laxErr := laxDecode[payments.CreateParams](body)
		repeated, lower, _ := hasRepeatedKey(bytes.TrimSpace(body))
		if laxErr != nil {
			if !reflect.DeepEqual(err, laxErr) {
				t.Fatalf("encoding/json refuses %q with %v; decode answers %v", body, laxErr, err)
			}
			return
		}
		if err != nil {
			// Refused only for a repeated key, or for a key that may be a
			// field name in another case.
			e, ok := apierror.As(err)
			switch {
			case ok && e.Code == "parameter_invalid" && strings.Contains(e.Message, "appears more than once") && repeated:
			case ok && e.Code == "parameter_unknown" && !lower:
			default:
				t.Fatalf("refused %q: %v", body, err)
			}
			return
		}
		if repeated {
			t.Fatalf("accepted %q, which has a repeated key", body)
		}
		if !reflect.DeepEqual(got, lax) {
			t.Fatalf("decoded %q as %+v; encoding/json as %+v", body, got, lax)
		}
		wire, err := json.Marshal(createWire(got))
		if err != nil {
			t.Fatal(err)
		}
		again, err := decode[payments.CreateParams](httptest.NewRecorder(), jsonRequest("application/json", wire))
		if err != nil {
			t.Fatalf("%q decoded, re-encoded as %s: %v", body, wire, err)
		}
		if !reflect.DeepEqual(again, got) {
			t.Fatalf("%q decoded as %+v, re-encoded as %s, decoded as %+v", body, got, wire, again)
		}
	})
}

func BenchmarkDecodePaymentCreate(b *testing.B) {
	body := []byte(benchBody)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decode[payments.CreateParams](httptest.NewRecorder(), jsonRequest("application/json", body)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCheckKeys(b *testing.B) {
	body := []byte(benchBody)
	b.ReportAllocs()
	for b.Loop() {
		if err := checkKeys[payments.CreateParams](body); err != nil {
			b.Fatal(err)
		}
	}
}
