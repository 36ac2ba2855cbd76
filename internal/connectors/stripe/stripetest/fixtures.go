package stripetest

import (
	"embed"
	"encoding/json"
	"fmt"
	"testing"
)

//go:embed testdata/*.json
var testdata embed.FS

// Fixture is a file of testdata (Stripe's documented examples, see its
// README), for a test that serves, signs or parses one of them itself.
func Fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := testdata.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ErrorAnswer is the error answer name of errors.json (a card error such
// as "insufficient_funds", "rate_limit", "api_error", …; see the README):
// its HTTP status and a copy of its body, {"error": {…}}.
func ErrorAnswer(t testing.TB, name string) (status int, body map[string]any) {
	t.Helper()
	e, ok := fx.errors[name]
	if !ok {
		t.Fatalf("stripetest: no error %q in errors.json", name)
	}
	return e.Status, clone(e.Body)
}

// documentedError is an entry of errors.json.
type documentedError struct {
	Status int            `json:"status"`
	Body   map[string]any `json:"body"`
}

// fixtures are the documented bodies the fake builds its answers from,
// read once: they are embedded, so one that is missing or not JSON is the
// fake's own bug.
type fixtures struct {
	intent, paymentMethod, refund, event, nextAction, setupIntent map[string]any
	errors                                                        map[string]documentedError
	lists                                                         map[string]map[string]any
}

var fx = loadFixtures()

func loadFixtures() fixtures {
	var f fixtures
	for name, v := range map[string]any{
		"payment_intent.json": &f.intent, "payment_method.json": &f.paymentMethod, "refund.json": &f.refund,
		"setup_intent.json": &f.setupIntent, "event.json": &f.event, "next_action.json": &f.nextAction, "errors.json": &f.errors, "lists.json": &f.lists,
	} {
		b, err := testdata.ReadFile("testdata/" + name)
		if err == nil {
			err = json.Unmarshal(b, v)
		}
		if err != nil {
			panic(fmt.Sprintf("stripetest: %s: %v", name, err))
		}
	}
	return f
}

// errorObject is a copy of the "error" object of errors.json's name, as
// a PaymentIntent's last_payment_error.
func errorObject(name string) map[string]any {
	e, ok := fx.errors[name]
	if !ok {
		panic(fmt.Sprintf("stripetest: no error %q in errors.json", name))
	}
	return clone(e.Body)["error"].(map[string]any)
}

// clone deep-copies a decoded JSON object.
func clone(v map[string]any) map[string]any {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}
