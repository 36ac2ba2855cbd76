package httpapi_test

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/paygate/paygate/internal/openapi"
)

// TestRoutesMatchDocument fails when routes.go registers a route that the
// OpenAPI document lacks, or the document describes one that is not routed.
func TestRoutesMatchDocument(t *testing.T) {
	src, err := os.ReadFile("routes.go")
	if err != nil {
		t.Fatal(err)
	}
	routed := map[string]bool{}
	for _, m := range regexp.MustCompile(`mux\.Handle\("([A-Z]+) ([^"]+)"`).FindAllStringSubmatch(string(src), -1) {
		routed[m[1]+" "+m[2]] = true
	}
	if len(routed) < 10 {
		t.Fatalf("found only %d routes in routes.go", len(routed))
	}
	// Swagger UI shows the document; it is not part of the API the document
	// describes, and listing it would put the viewer's own files among the
	// operations it shows. The same holds for the checkout page's files.
	// The root is a page for browsers (the dashboard's way in), not an
	// operation of the API.
	// The dashboard's pages, likewise (package dashboard).
	for _, r := range []string{"GET /{$}", "GET /dashboard", "GET /dashboard/", "POST /dashboard/"} {
		delete(routed, r)
	}
	for _, r := range []string{"GET /docs", "GET /docs/{file...}", "GET /checkout-assets/{file...}"} {
		if !routed[r] {
			t.Errorf("routes.go does not route %s", r)
		}
		delete(routed, r)
	}
	doc, err := openapi.Load()
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			documented[method+" "+path] = true
			if op.OperationID == "" || op.Summary == "" {
				t.Errorf("%s %s: no operationId or summary", method, path)
			}
		}
	}
	var missing, extra []string
	for r := range routed {
		if !documented[r] {
			missing = append(missing, r)
		}
	}
	for r := range documented {
		if !routed[r] {
			extra = append(extra, r)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("routes missing from the OpenAPI document:\n  %s", strings.Join(missing, "\n  "))
	}
	if len(extra) > 0 {
		t.Errorf("operations in the OpenAPI document that no route serves:\n  %s", strings.Join(extra, "\n  "))
	}
}
