package adyentest

import (
	"embed"
	"encoding/json"
	"fmt"
	"testing"
)

//go:embed testdata/*.json
var testdata embed.FS

// Fixture is a file of testdata (Adyen's documented examples, see its
// README), for a test that serves or parses one of them itself.
func Fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := testdata.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fixture is a JSON file of testdata as a map to fill in. The files are
// embedded: one that is missing or not JSON is the fake's own bug.
func fixture(name string) map[string]any {
	b, err := testdata.ReadFile("testdata/" + name)
	if err != nil {
		panic(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		panic(fmt.Sprintf("adyentest: %s: %v", name, err))
	}
	return m
}
