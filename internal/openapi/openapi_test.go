package openapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/paygate/paygate/internal/checkout"
	"github.com/paygate/paygate/internal/customers"
	"github.com/paygate/paygate/internal/events"
	"github.com/paygate/paygate/internal/payments"
	"github.com/paygate/paygate/internal/refunds"
)

func load(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// TestServedDocumentIsValid checks the JSON that /openapi.json serves, which
// is what Swagger UI and client generators read, and not only the YAML.
func TestServedDocumentIsValid(t *testing.T) {
	served, err := JSON()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(served)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background(), Strict()...); err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.0.3" || len(doc.Paths.Map()) < 10 {
		t.Fatalf("served document: openapi %q, %d paths", doc.OpenAPI, len(doc.Paths.Map()))
	}
}

// TestStrictValidationRejects shows that the options of Strict catch the
// mistakes a hand-written document makes: each case breaks the document in
// one place, and validation must fail.
func TestStrictValidationRejects(t *testing.T) {
	cases := []struct{ name, old, new string }{
		{"a named example", "      summary: Succeeded (a partial refund)\n      value:\n        id: re_33NRCXBVW9N2M4TYGRKD5H1ZE8\n",
			"      summary: Succeeded (a partial refund)\n      value:\n        id: re_1\n"},
		{"a schema example", "      example: pay_33NRCXBRWX3RFMHB823VQ1EYYW\n    RefundId:", "      example: pay_1\n    RefundId:"},
		{"a request body example", "            example:\n              name: Acme Coffee Roasters\n", "            example:\n              name: \"\"\n"},
		{"a parameter example", "      example: 9f5c3a1e-6b2d-4c8f-a7e0-3d1b5f9c2e84\n", "      example: \"\"\n"},
		{"an event example", "        type: payment.canceled\n        created_at:", "        type: payment.failed\n        created_at:"},
		{"a default", "          default: automatic\n", "          default: sometimes\n"},
		{"an unknown format", "      format: date-time\n      description: An RFC 3339 time in UTC.", "      format: datetime\n      description: An RFC 3339 time in UTC."},
		{"a dangling reference", "$ref: '#/components/schemas/CreateMerchantRequest'", "$ref: '#/components/schemas/CreateMerchant'"},
	}
	for _, c := range cases {
		if n := bytes.Count(document, []byte(c.old)); n != 1 {
			t.Errorf("%s: the text to change appears %d times", c.name, n)
			continue
		}
		broken := bytes.Replace(document, []byte(c.old), []byte(c.new), 1)
		doc, err := openapi3.NewLoader().LoadFromData(broken)
		if err == nil {
			err = doc.Validate(context.Background(), Strict()...)
		}
		if err == nil {
			t.Errorf("%s: a broken document passes validation", c.name)
		}
	}
}

// TestEveryExampleIsUsed: an example in components is validated only where
// it is used, so an unused one could silently rot.
func TestEveryExampleIsUsed(t *testing.T) {
	for name := range load(t).Components.Examples {
		if !bytes.Contains(document, []byte("'#/components/examples/"+name+"'")) {
			t.Errorf("example %s is never used", name)
		}
	}
}

// TestIdempotencyIsDocumented: every merchant POST, PATCH and DELETE under
// /v1 takes Idempotency-Key and documents what it can lead to; reads do not
// take it, and neither does the admin API (its answers hold secrets, which
// are never stored for replay).
func TestIdempotencyIsDocumented(t *testing.T) {
	doc := load(t)
	mutating := 0
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			name := method + " " + path
			takesKey := slices.ContainsFunc(op.Parameters, func(p *openapi3.ParameterRef) bool {
				return p.Ref == "#/components/parameters/IdempotencyKey"
			})
			admin := op.Security != nil && len(*op.Security) > 0 && (*op.Security)[0]["adminToken"] != nil
			// A processor's notifications are idempotent by themselves (an
			// outcome already recorded changes nothing); processors send
			// no key.
			public := op.Security != nil && len(*op.Security) == 0
			if method == "GET" || !strings.HasPrefix(path, "/v1/") || admin || public {
				if takesKey {
					t.Errorf("%s takes an Idempotency-Key", name)
				}
				continue
			}
			mutating++
			if !takesKey {
				t.Errorf("%s does not take the Idempotency-Key parameter", name)
			}
			for status, want := range map[int]string{400: "BadRequest", 409: "", 422: "IdempotencyKeyReused"} {
				r := op.Responses.Status(status)
				switch {
				case r == nil:
					t.Errorf("%s: no %d response", name, status)
				case want != "" && r.Ref != "#/components/responses/"+want:
					t.Errorf("%s: %d is %s, want %s", name, status, r.Ref, want)
				case status == 409 && r.Ref != "#/components/responses/Conflict" && r.Ref != "#/components/responses/IdempotencyKeyInUse":
					t.Errorf("%s: 409 is %s", name, r.Ref)
				}
			}
			for code, r := range op.Responses.Map() {
				if strings.HasPrefix(code, "2") && r.Value.Headers["Idempotent-Replayed"] == nil {
					t.Errorf("%s: response %s lacks the Idempotent-Replayed header", name, code)
				}
			}
		}
	}
	if mutating < 7 {
		t.Errorf("found only %d mutating operations", mutating)
	}
}

// TestOperationsAreComplete holds every operation to the same standard: an
// id, a summary and a known tag; Request-Id on every response; the errors
// its parameters, body and security can cause; and examples.
func TestOperationsAreComplete(t *testing.T) {
	doc := load(t)
	tags := map[string]bool{}
	for _, tag := range doc.Tags {
		tags[tag.Name] = true
	}
	ids := map[string]string{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			name := method + " " + path
			if op.OperationID == "" || op.Summary == "" || op.Description == "" {
				t.Errorf("%s: no operationId, summary or description", name)
			}
			if other, dup := ids[op.OperationID]; dup {
				t.Errorf("%s and %s share the operationId %s", name, other, op.OperationID)
			}
			ids[op.OperationID] = name
			if len(op.Tags) != 1 || !tags[op.Tags[0]] {
				t.Errorf("%s: tags %v, want one declared tag", name, op.Tags)
			}
			if op.Security == nil {
				t.Errorf("%s: no security requirement (use [] for a public operation)", name)
			}
			want := []int{429, 500}
			if op.Security != nil && len(*op.Security) > 0 {
				want = append(want, 401, 503)
			}
			// A processor webhook answers an unknown account like a bad
			// signature (400), and reads any content type: what it
			// verifies is the signature.
			hook := len(op.Tags) == 1 && op.Tags[0] == "Processor webhooks"
			if strings.Contains(path, "{") && !hook {
				want = append(want, 404)
			}
			// The customer pages answer people, in HTML: their errors are
			// pages too, and an oversized or non-form body is a 400 page.
			page := len(op.Tags) == 1 && op.Tags[0] == "Customer pages"
			if op.RequestBody != nil && page {
				want = append(want, 400)
				checkExamples(t, name+" request", op.RequestBody.Value.Content)
			} else if op.RequestBody != nil && hook {
				want = append(want, 400, 413)
				checkExamples(t, name+" request", op.RequestBody.Value.Content)
			} else if op.RequestBody != nil {
				want = append(want, 400, 413, 415)
				checkExamples(t, name+" request", op.RequestBody.Value.Content)
			}
			for _, status := range want {
				if op.Responses.Status(status) == nil {
					t.Errorf("%s: no %d response", name, status)
				}
			}
			for code, r := range op.Responses.Map() {
				h := r.Value.Headers["Request-Id"]
				if h == nil || h.Ref != "#/components/headers/RequestId" {
					t.Errorf("%s: response %s lacks the Request-Id header", name, code)
				}
				if code >= "400" && !(page && r.Value.Content.Get("text/html") != nil) {
					if mt := r.Value.Content.Get("application/json"); mt == nil || mt.Schema.Ref != "#/components/schemas/Error" {
						t.Errorf("%s: response %s is not an Error", name, code)
					}
				}
				if path != "/openapi.json" {
					checkExamples(t, name+" response "+code, r.Value.Content)
				}
			}
		}
	}
}

func checkExamples(t *testing.T, name string, content openapi3.Content) {
	t.Helper()
	for mime, mt := range content {
		if mt.Example == nil && len(mt.Examples) == 0 {
			t.Errorf("%s (%s): no example", name, mime)
		}
	}
}

// TestEventPayloads checks each event type's documented payload against
// what the Go code sends: its example's object goes through the Go type
// and events.New, and must come out unchanged and valid.
func TestEventPayloads(t *testing.T) {
	doc := load(t)
	event := doc.Components.Schemas["Event"].Value
	types := []string{
		events.PaymentCreated, events.PaymentRequiresAction, events.PaymentRequiresCapture,
		events.PaymentSucceeded, events.PaymentFailed, events.PaymentCanceled,
		events.RefundCreated, events.RefundSucceeded, events.RefundFailed,
		events.CustomerCreated, events.CustomerUpdated, events.CustomerDeleted,
		events.MethodAttached, events.MethodDetached,
		events.CheckoutCompleted, events.CheckoutExpired,
	}
	var mapped []string
	for typ := range event.Discriminator.Mapping {
		mapped = append(mapped, typ)
	}
	var enum []string
	for _, v := range doc.Components.Schemas["EventType"].Value.Enum {
		enum = append(enum, v.(string))
	}
	slices.Sort(mapped)
	slices.Sort(enum)
	if want := slices.Sorted(slices.Values(types)); !slices.Equal(mapped, want) || !slices.Equal(enum, want) {
		t.Fatalf("event types: mapping %v, enum %v, Go %v", mapped, enum, want)
	}

	for _, typ := range types {
		ref := event.Discriminator.Mapping[typ]
		schema := doc.Components.Schemas[strings.TrimPrefix(ref.Ref, "#/components/schemas/")]
		if schema == nil || schema.Value.Example == nil || schema.Value.Description == "" {
			t.Errorf("%s: no schema %s with a description and an example", typ, ref.Ref)
			continue
		}
		example := schema.Value.Example.(map[string]any)
		want, err := json.Marshal(example["data"].(map[string]any)["object"])
		if err != nil {
			t.Fatal(err)
		}
		var obj any = &payments.Payment{}
		switch {
		case strings.HasPrefix(typ, "refund."):
			obj = &refunds.Refund{}
		case strings.HasPrefix(typ, "customer."):
			obj = &customers.Customer{}
		case strings.HasPrefix(typ, "payment_method."):
			obj = &payments.Method{}
		case strings.HasPrefix(typ, "checkout.session."):
			obj = &checkout.Session{}
		}
		dec := json.NewDecoder(bytes.NewReader(want))
		dec.DisallowUnknownFields()
		if err := dec.Decode(obj); err != nil {
			t.Errorf("%s: the example's object does not fit the Go type: %v", typ, err)
			continue
		}
		ev, err := events.New("mer_1", typ, "", false, obj, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		sent, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		var payload map[string]any
		if err := json.Unmarshal(sent, &payload); err != nil {
			t.Fatal(err)
		}
		if err := event.VisitJSON(payload); err != nil {
			t.Errorf("%s: the event paygate sends does not match the document: %v\n%s", typ, err, sent)
		}
		if got := payload["data"].(map[string]any)["object"]; !jsonEqual(got, example["data"].(map[string]any)["object"]) {
			t.Errorf("%s: the object changes through the Go type:\nexample %s\nsent    %s", typ, want, fmt.Sprint(got))
		}
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}
