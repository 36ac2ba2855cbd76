package openapi

import (
	"encoding/json"
	"testing"
)

func TestZZLoad(t *testing.T) {
	doc, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	b, err := JSON()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	n := 0
	for p, item := range doc.Paths.Map() {
		for meth, op := range item.Operations() {
			n++
			t.Logf("%s %s %s", meth, p, op.OperationID)
		}
	}
	t.Logf("%d operations, %d bytes JSON", n, len(b))
}
