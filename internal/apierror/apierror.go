// Package apierror is the error model of the API: a kind that decides the
// HTTP status, a stable machine-readable code, a message for people, and
// the request parameter at fault. Domain packages return these; the HTTP
// layer renders them.
package apierror

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// Kind classifies an error; each kind has one HTTP status.
type Kind int

const (
	KindInvalidRequest    Kind = iota // 400
	KindAuthentication                // 401
	KindNotFound                      // 404
	KindConflict                      // 409
	KindTooLarge                      // 413
	KindUnsupportedMedia              // 415
	KindIdempotencyReused             // 422
	KindRateLimited                   // 429
	KindUnavailable                   // 503
	KindInternal                      // 500
	KindMethodNotAllowed              // 405
	// KindCardError: the processor declined a card where no payment
	// records the decline (verifying a card to save it).
	KindCardError // 402
)

// Error is an API error.
type Error struct {
	Kind    Kind
	Code    string
	Message string
	Param   string
	// DeclineCode, for KindCardError: the issuer's reason.
	DeclineCode string
}

func (e *Error) Error() string {
	if e.Param != "" {
		return fmt.Sprintf("%s (%s): %s", e.Code, e.Param, e.Message)
	}
	return e.Code + ": " + e.Message
}

// As returns the *Error inside err, if any.
func As(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// Invalid is a 400 about one parameter.
func Invalid(code, param, format string, args ...any) *Error {
	return &Error{Kind: KindInvalidRequest, Code: code, Param: param, Message: fmt.Sprintf(format, args...)}
}

// Missing is a 400 for a required parameter that was not given.
func Missing(param string) *Error {
	return &Error{Kind: KindInvalidRequest, Code: "parameter_missing", Param: param, Message: "Missing required param: " + param + "."}
}

// NotFound is the 404 for an object that does not exist or belongs to
// another merchant; the two are indistinguishable on purpose.
func NotFound(what, id string) *Error {
	return &Error{Kind: KindNotFound, Code: "resource_missing", Param: "id", Message: fmt.Sprintf("No such %s: '%s'", what, id)}
}

// UnexpectedState is the 409 for an action the payment's status forbids.
func UnexpectedState(format string, args ...any) *Error {
	return &Error{Kind: KindConflict, Code: "payment_unexpected_state", Message: fmt.Sprintf(format, args...)}
}

// FromJSON turns a JSON decoding error into a 400 that names the parameter
// at fault; prefix is the path of the object being decoded ("" at the top).
func FromJSON(err error, prefix string) *Error {
	if e, ok := As(err); ok {
		return e
	}
	join := func(name string) string {
		if prefix == "" {
			return name
		}
		if name == "" {
			return prefix
		}
		return prefix + "." + name
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
		return &Error{Kind: KindInvalidRequest, Code: "invalid_json", Message: "The request body is not valid JSON."}
	case errors.As(err, &typ):
		param := join(typ.Field)
		return Invalid("parameter_invalid", param, "Invalid type for %s: expected %s, got a JSON %s.", param, jsonTypeName(typ.Type.Kind()), typ.Value)
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		param := join(strings.Trim(name, `"`))
		return Invalid("parameter_unknown", param, "Received unknown parameter: %s.", param)
	}
	return &Error{Kind: KindInvalidRequest, Code: "invalid_json", Message: "The request body is not valid JSON."}
}

func jsonTypeName(k reflect.Kind) string {
	switch k {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return k.String()
}

// Truncate shortens what a client sent, or another long text, for quoting
// in a message: at most n bytes of s, on a character boundary, and "…"
// when it was cut.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
