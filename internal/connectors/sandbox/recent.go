package sandbox

// recent is a map that forgets its oldest entries, so that a sandbox
// serving for weeks, or under a benchmark, holds bounded memory. It keeps
// two generations of at most n entries: a write to a full current
// generation drops the previous one. An entry read from the previous
// generation moves to the current one, so an authorization still in use
// (captured or refunded later) is not the one forgotten. It holds at least
// the n most recently used entries, and at most 2n. The sandbox's lock
// guards it.
type recent[V any] struct {
	n        int
	cur, old map[string]V
}

func newRecent[V any](n int) *recent[V] {
	return &recent[V]{n: n, cur: make(map[string]V), old: make(map[string]V)}
}

func (r *recent[V]) get(k string) (V, bool) {
	if v, ok := r.cur[k]; ok {
		return v, true
	}
	v, ok := r.old[k]
	if ok {
		delete(r.old, k)
		r.put(k, v)
	}
	return v, ok
}

func (r *recent[V]) put(k string, v V) {
	if _, ok := r.cur[k]; !ok && len(r.cur) >= r.n {
		r.old, r.cur = r.cur, make(map[string]V, r.n)
	}
	delete(r.old, k)
	r.cur[k] = v
}

func (r *recent[V]) del(k string) {
	delete(r.cur, k)
	delete(r.old, k)
}
