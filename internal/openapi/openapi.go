// Package openapi holds paygate's OpenAPI 3 document, the contract of the
// API. The document is written by hand; tests validate every request and
// response of the end-to-end suite against it, and fail when a route and
// the document disagree, so the two cannot drift apart.
package openapi

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"

	"github.com/getkin/kin-openapi/openapi3"
)

//go:embed openapi.yaml
var document []byte

// Strict is how strictly Load validates the document. Examples and
// defaults are checked against their schemas (as requests or responses,
// where they appear), an unknown format, a pattern Go cannot compile or an
// extension beside a $ref is an error, and every error is reported, not
// only the first: a hand-written document is only as good as its examples.
func Strict() []openapi3.ValidationOption {
	return []openapi3.ValidationOption{
		openapi3.EnableExamplesValidation(),
		openapi3.EnableSchemaDefaultsValidation(),
		openapi3.EnableSchemaFormatValidation(),
		openapi3.EnableSchemaPatternValidation(),
		openapi3.ProhibitExtensionsWithRef(),
		openapi3.EnableMultiError(),
	}
}

// Load parses the document and validates it with the Strict options.
func Load() (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(document)
	if err != nil {
		return nil, fmt.Errorf("openapi: parse: %w", err)
	}
	if err := doc.Validate(context.Background(), Strict()...); err != nil {
		return nil, fmt.Errorf("openapi: invalid document: %w", err)
	}
	return doc, nil
}

// JSON returns the validated document as JSON, as served at /openapi.json.
func JSON() ([]byte, error) {
	doc, err := Load()
	if err != nil {
		return nil, err
	}
	return json.Marshal(doc)
}
