package httpapi

// Strict object keys. encoding/json matches an object's keys to struct
// fields ignoring case ("Amount" sets amount) and lets a repeated key
// overwrite the first ({"amount":1,"amount":2} is 2). The API refuses both
// (SPEC §4): checkKeys walks a body that encoding/json has already accepted
// once more, alongside the Go type it was decoded into, and names the first
// key that repeats within its object, at any depth, or that matches a field
// of the type only up to case. Keys of maps (metadata) and of other
// free-form values are not names of fields: any key goes there, but each at
// most once per object.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/paygate/paygate/internal/apierror"
	"github.com/paygate/paygate/internal/payments"
)

// checkKeys reports the first key of body, a JSON value that decodes into
// a T, that is repeated within its object or that names a field of T only
// up to case, as a 400 naming the key with its path. body is to be JSON
// that encoding/json has accepted; the walk does not check the syntax
// again (given anything else it still ends, with or without an error).
func checkKeys[T any](body []byte) error {
	var path [8]step // deep enough for the request bodies; grows if not
	w := keyWalker{data: body, path: path[:0]}
	return w.value(shapeOf(reflect.TypeFor[T]()))
}

// A shape is what checkKeys knows of the Go type that a JSON value decodes
// into. The nil *shape is a free-form value: an interface, a scalar, or a
// type that decodes itself in a way checkKeys does not know.
type shape struct {
	// fields, for a struct, maps each JSON field name to the shape of the
	// field's value; nil for any other type.
	fields map[string]*shape
	// elem is the shape of the values of a map, slice or array.
	elem *shape
}

// shapes caches shapeOf: reflect.Type → *shape.
var shapes sync.Map

// shapeOf returns the shape of t, built once per type.
func shapeOf(t reflect.Type) *shape {
	if s, ok := shapes.Load(t); ok {
		return s.(*shape)
	}
	s, _ := shapes.LoadOrStore(t, buildShape(t, map[reflect.Type]*shape{}))
	return s.(*shape)
}

// buildShape follows t as encoding/json does: through pointers, into the
// fields of structs and the elements of maps, slices and arrays. building
// holds the shapes under construction, for recursive types.
func buildShape(t reflect.Type, building map[reflect.Type]*shape) *shape {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	// A payment method parameter decodes itself: an id string, or an
	// object with the fields of a MethodData.
	if t == reflect.TypeFor[payments.MethodParam]() {
		t = reflect.TypeFor[payments.MethodData]()
	}
	if s, ok := building[t]; ok {
		return s
	}
	switch t.Kind() {
	case reflect.Struct:
		// A struct with its own UnmarshalJSON is taken to decode into its
		// own fields, as payments.CardData does through a plain copy of
		// its type; one that does not is listed above.
		s := &shape{fields: map[string]*shape{}}
		building[t] = s
		addFields(s, t, building)
		return s
	case reflect.Map, reflect.Slice, reflect.Array:
		if u := reflect.TypeFor[json.Unmarshaler](); t.Implements(u) || reflect.PointerTo(t).Implements(u) {
			return nil // json.RawMessage, or a type of its own: free-form
		}
		s := &shape{}
		building[t] = s
		s.elem = buildShape(t.Elem(), building)
		return s
	}
	return nil
}

// addFields adds the JSON fields of struct t to s, with the names
// encoding/json gives them: the name in the json tag, else the Go name;
// none for a field tagged "-" or unexported. The fields of an embedded
// struct without a name in its tag are promoted, after t's own fields, so
// a field of t wins over a promoted one of the same name, as in
// encoding/json. (Its finer rules for conflicts between promoted fields
// are not followed: no request type has such fields.)
func addFields(s *shape, t reflect.Type, building map[reflect.Type]*shape) {
	var embedded []reflect.Type
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				embedded = append(embedded, ft)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if _, taken := s.fields[name]; !taken {
			s.fields[name] = buildShape(f.Type, building)
		}
	}
	for _, et := range embedded {
		addFields(s, et, building)
	}
}

// foldMatch returns the field of s whose name equals key up to case, as
// encoding/json compares them (Unicode simple folding), or "".
func (s *shape) foldMatch(key string) string {
	for name := range s.fields {
		if strings.EqualFold(name, key) {
			return name
		}
	}
	return ""
}

// keyWalker walks one JSON value, text that encoding/json has accepted, so
// it need not check the syntax again: it only finds the objects and their
// keys. (encoding/json's Decoder.Token would do, at several allocations a
// token; this walk makes none for a typical body.)
type keyWalker struct {
	data []byte
	pos  int // the next byte to read
	// path leads from the top object down to the current value.
	path []step
}

// A step of a path: a key, or the index of an element of an array.
type step struct {
	key   []byte
	index int // -1 for a key
}

// malformed is the error of JSON the walk cannot follow, which decode has
// ruled out.
func malformed() error {
	return &apierror.Error{Kind: apierror.KindInvalidRequest, Code: "invalid_json", Message: "The request body is not valid JSON."}
}

// param is key with its path, as the API names parameters:
// payment_method.card.number, items[2].name.
func (w *keyWalker) param(key []byte) string {
	var b strings.Builder
	for _, s := range w.path {
		if s.index >= 0 {
			fmt.Fprintf(&b, "[%d]", s.index)
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.Write(s.key)
	}
	if b.Len() > 0 {
		b.WriteByte('.')
	}
	b.Write(key)
	return b.String()
}

func (w *keyWalker) skipSpace() {
	for w.pos < len(w.data) {
		switch w.data[w.pos] {
		case ' ', '\t', '\n', '\r':
			w.pos++
		default:
			return
		}
	}
}

// next skips white space and returns the byte after it, or 0 at the end.
func (w *keyWalker) next() byte {
	w.skipSpace()
	if w.pos < len(w.data) {
		return w.data[w.pos]
	}
	return 0
}

// value walks the value at w.pos, of shape s, and returns the first
// offending key as an *apierror.Error.
func (w *keyWalker) value(s *shape) error {
	switch w.next() {
	case '{':
		return w.object(s)
	case '[':
		var elem *shape
		if s != nil && s.fields == nil {
			elem = s.elem
		}
		w.pos++
		if w.next() == ']' {
			w.pos++
			return nil
		}
		for i := 0; ; i++ {
			w.path = append(w.path, step{index: i})
			err := w.value(elem)
			w.path = w.path[:len(w.path)-1]
			if err != nil {
				return err
			}
			switch w.next() {
			case ',':
				w.pos++
			case ']':
				w.pos++
				return nil
			default:
				return malformed()
			}
		}
	case '"':
		_, err := w.skipString()
		return err
	case 0:
		return malformed()
	}
	// A number, true, false or null: up to what follows it.
	for ; w.pos < len(w.data); w.pos++ {
		switch w.data[w.pos] {
		case ',', ']', '}', ' ', '\t', '\n', '\r':
			return nil
		}
	}
	return nil
}

// object walks the object at w.pos, of shape s.
func (w *keyWalker) object(s *shape) error {
	w.pos++ // {
	if w.next() == '}' {
		w.pos++
		return nil
	}
	var seen keySet
	for {
		if w.next() != '"' {
			return malformed()
		}
		key, err := w.key()
		if err != nil {
			return err
		}
		if seen.add(key) {
			p := w.param(key)
			return apierror.Invalid("parameter_invalid", p, "%s appears more than once; give each parameter once.", p)
		}
		var vs *shape // the shape of the key's value
		if s != nil {
			if s.fields == nil {
				vs = s.elem // a map: every key is a value of the map
			} else if f, ok := s.fields[string(key)]; ok {
				vs = f
			} else if name := s.foldMatch(string(key)); name != "" {
				p := w.param(key)
				return apierror.Invalid("parameter_unknown", p, "Received unknown parameter: %s. Parameter names are case-sensitive: did you mean %s?", p, w.param([]byte(name)))
			}
			// Otherwise an unknown key, which encoding/json refuses before
			// this runs: the model of the type is wrong; walk on free-form.
		}
		if w.next() != ':' {
			return malformed()
		}
		w.pos++
		w.path = append(w.path, step{key: key, index: -1})
		err = w.value(vs)
		w.path = w.path[:len(w.path)-1]
		if err != nil {
			return err
		}
		switch w.next() {
		case ',':
			w.pos++
		case '}':
			w.pos++
			return nil
		default:
			return malformed()
		}
	}
}

// key reads the string at w.pos, a key, and returns its value: the bytes
// between the quotes when the string is plain, else the string as
// encoding/json decodes it (escapes resolved, invalid UTF-8 replaced), so
// that "\u0061mount" is amount, as it is to encoding/json.
func (w *keyWalker) key() ([]byte, error) {
	start := w.pos
	plain, err := w.skipString()
	if err != nil {
		return nil, err
	}
	raw := w.data[start:w.pos]
	if plain {
		return raw[1 : len(raw)-1], nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, malformed()
	}
	return []byte(s), nil
}

// skipString moves past the string at w.pos and reports whether it is
// plain: ASCII without escapes.
func (w *keyWalker) skipString() (plain bool, err error) {
	plain = true
	for w.pos++; w.pos < len(w.data) && w.data[w.pos] != '"'; w.pos++ {
		switch c := w.data[w.pos]; {
		case c == '\\':
			plain = false
			w.pos++ // the escaped byte, which may be a quote
		case c >= utf8.RuneSelf:
			plain = false
		}
	}
	if w.pos >= len(w.data) {
		return false, malformed()
	}
	w.pos++ // "
	return plain, nil
}

// keySet is the set of the keys of one object so far.
type keySet struct {
	few  [8][]byte // the first keys, compared one by one
	n    int
	many map[string]struct{} // all the keys, once there are more
}

// add adds key and reports whether it was there already.
func (ks *keySet) add(key []byte) (dup bool) {
	if ks.many == nil {
		for _, k := range ks.few[:ks.n] {
			if bytes.Equal(k, key) {
				return true
			}
		}
		if ks.n < len(ks.few) {
			ks.few[ks.n] = key
			ks.n++
			return false
		}
		// A large object (metadata has any number of keys until it is
		// validated): a map, so as not to compare every pair.
		ks.many = make(map[string]struct{}, 2*len(ks.few))
		for _, k := range ks.few {
			ks.many[string(k)] = struct{}{}
		}
	}
	if _, dup = ks.many[string(key)]; !dup {
		ks.many[string(key)] = struct{}{}
	}
	return dup
}
