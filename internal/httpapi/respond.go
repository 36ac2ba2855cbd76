package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/idempotency"
	"github.com/paygate/paygate/internal/logging"
	"github.com/paygate/paygate/internal/store"
)

// MaxBodyBytes is the largest request body accepted.
const MaxBodyBytes = 1 << 20

// encode writes v as the JSON response.
func encode[T any](w http.ResponseWriter, status int, v T) error {
	b, err := render(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, err = w.Write(b)
	return err
}

// render is the body encode writes for v.
func render(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	return append(b, '\n'), err
}

// decode reads a strict JSON body into a T (readBody, then decodeBody).
func decode[T any](w http.ResponseWriter, r *http.Request) (T, error) {
	body, err := readBody(w, r)
	if err != nil {
		var zero T
		return zero, err
	}
	return decodeBody[T](r, body)
}

// readBody reads a request's body, at most MaxBodyBytes.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, &apierror.Error{Kind: apierror.KindTooLarge, Code: "body_too_large", Message: "The request body is larger than 1 MiB."}
		}
		return nil, &apierror.Error{Kind: apierror.KindInvalidRequest, Code: "invalid_body", Message: "The request body could not be read."}
	}
	return body, nil
}

// decodeBody decodes a strict JSON body into a T: only application/json,
// no unknown fields, one value. An empty body is {}. Keys are matched to
// fields with their case, and none may repeat within an object
// (checkKeys). A body encoding/json refuses is answered as it says, before
// checkKeys runs.
func decodeBody[T any](r *http.Request, body []byte) (T, error) {
	var v T
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		body = []byte("{}")
	} else if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		return v, &apierror.Error{Kind: apierror.KindUnsupportedMedia, Code: "unsupported_media_type", Message: "Send the request body as JSON with Content-Type: application/json."}
	}
	if body[0] != '{' {
		return v, &apierror.Error{Kind: apierror.KindInvalidRequest, Code: "invalid_json", Message: "The request body must be a JSON object."}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return v, apierror.FromJSON(err, "")
	}
	// Only white space may follow the object (More misses a stray "]").
	if len(bytes.TrimSpace(body[dec.InputOffset():])) > 0 {
		return v, &apierror.Error{Kind: apierror.KindInvalidRequest, Code: "invalid_json", Message: "The request body must hold exactly one JSON object."}
	}
	if err := checkKeys[T](body); err != nil {
		var zero T
		return zero, err
	}
	return v, nil
}

// errorBody is the error envelope.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Type        string `json:"type"`
	Code        string `json:"code,omitempty"`
	Message     string `json:"message"`
	Param       string `json:"param,omitempty"`
	DeclineCode string `json:"decline_code,omitempty"`
	RequestID   string `json:"request_id,omitempty"`
}

var kindStatus = map[apierror.Kind]struct {
	status int
	typ    string
}{
	apierror.KindInvalidRequest:    {http.StatusBadRequest, "invalid_request_error"},
	apierror.KindAuthentication:    {http.StatusUnauthorized, "authentication_error"},
	apierror.KindNotFound:          {http.StatusNotFound, "invalid_request_error"},
	apierror.KindMethodNotAllowed:  {http.StatusMethodNotAllowed, "invalid_request_error"},
	apierror.KindConflict:          {http.StatusConflict, "invalid_request_error"},
	apierror.KindTooLarge:          {http.StatusRequestEntityTooLarge, "invalid_request_error"},
	apierror.KindUnsupportedMedia:  {http.StatusUnsupportedMediaType, "invalid_request_error"},
	apierror.KindIdempotencyReused: {http.StatusUnprocessableEntity, "idempotency_error"},
	apierror.KindRateLimited:       {http.StatusTooManyRequests, "rate_limit_error"},
	apierror.KindUnavailable:       {http.StatusServiceUnavailable, "api_error"},
	apierror.KindInternal:          {http.StatusInternalServerError, "api_error"},
	apierror.KindCardError:         {http.StatusPaymentRequired, "card_error"},
}

// respondErr renders err. Errors that are not API errors are logged and
// shown as a bare 500 (or 503 when the database is unreachable): their text
// may hold SQL or internals and never reaches the client.
func respondErr(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	e, ok := apierror.As(err)
	if !ok && errors.Is(err, idempotency.ErrKeyTaken) {
		// Normally caught by keyed.serve, which answers
		// from the key's claim instead.
		e, ok = &apierror.Error{Kind: apierror.KindConflict, Code: "idempotency_key_in_use",
			Message: "A request with this Idempotency-Key is still being processed; retry after it finishes."}, true
	}
	if !ok {
		if store.IsUnavailable(err) {
			// Once per outage, not once per request (logging.Episode).
			log.ErrorContext(r.Context(), "database unavailable", "error", err.Error(), logging.Episode("database"))
			e = &apierror.Error{Kind: apierror.KindUnavailable, Code: "database_unavailable", Message: "The database is unavailable; retry later."}
		} else {
			log.ErrorContext(r.Context(), "internal error", "error", err.Error())
			e = &apierror.Error{Kind: apierror.KindInternal, Code: "internal_error", Message: "An internal error occurred; retry later or contact support with the request id."}
		}
	}
	ks := kindStatus[e.Kind]
	// A rate limiter sets its own Retry-After before answering.
	if (e.Kind == apierror.KindUnavailable || e.Kind == apierror.KindRateLimited) && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", "1")
	}
	d := errorDetail{Type: ks.typ, Code: e.Code, Message: e.Message, Param: e.Param, DeclineCode: e.DeclineCode}
	if info := logging.Request(r.Context()); info != nil {
		d.RequestID = info.ID
	}
	_ = encode(w, ks.status, errorBody{Error: d})
}
