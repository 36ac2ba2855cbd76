// Package ratelimit keeps clients from overwhelming paygate and card
// testers from using it: token buckets per API key and per client address,
// and a slower bucket for a key whose payments are declined again and again.
//
// Limits are per instance (buckets live in memory): with N instances behind
// a load balancer a client gets up to N times the configured rate.
package ratelimit

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Config sets the limits; a zero rate turns that limit off.
type Config struct {
	PerKey     float64 // requests per second per API key
	PerAddress float64 // requests per second per client address
	// Declines is how many declined payments of one key within
	// DeclineWindow make the key suspect: its payment attempts are then
	// limited to one per SlowInterval for SlowFor.
	Declines      int
	DeclineWindow time.Duration
	SlowInterval  time.Duration
	SlowFor       time.Duration
}

// Defaults are generous enough for any honest integration and the
// benchmark, and stop a runaway loop or a scan.
func Defaults() Config {
	return Config{PerKey: 1000, PerAddress: 2000, Declines: 10, DeclineWindow: time.Minute,
		SlowInterval: 10 * time.Second, SlowFor: 15 * time.Minute}
}

// Limiter holds the buckets.
type Limiter struct {
	cfg Config
	now func() time.Time

	mu       sync.Mutex
	keys     map[string]*bucket
	addrs    map[string]*bucket
	suspects map[string]*suspect
	calls    int
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

type suspect struct {
	declines []time.Time // within the window, oldest first
	until    time.Time   // slowed down until then
	slow     *rate.Limiter
}

// New returns a Limiter.
func New(cfg Config) *Limiter {
	return &Limiter{cfg: cfg, now: time.Now, keys: map[string]*bucket{}, addrs: map[string]*bucket{}, suspects: map[string]*suspect{}}
}

// AllowKey takes a token for an API key; when none is left it returns
// false and how long until one is.
func (l *Limiter) AllowKey(keyID string) (bool, time.Duration) {
	return l.allow(l.keys, keyID, l.cfg.PerKey)
}

// AllowAddress takes a token for a client address.
func (l *Limiter) AllowAddress(addr string) (bool, time.Duration) {
	return l.allow(l.addrs, addr, l.cfg.PerAddress)
}

func (l *Limiter) allow(m map[string]*bucket, id string, perSecond float64) (bool, time.Duration) {
	if perSecond <= 0 {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	b := m[id]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(rate.Limit(perSecond), int(2*perSecond)+1)}
		m[id] = b
	}
	b.seen = now
	return take(b.lim, now)
}

// take reserves a token if one is free now; otherwise it cancels the
// reservation and says how long to wait.
func take(lim *rate.Limiter, now time.Time) (bool, time.Duration) {
	r := lim.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Second
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// Declined records a declined payment of a key.
func (l *Limiter) Declined(keyID string) {
	if l.cfg.Declines <= 0 || keyID == "" {
		return
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.suspects[keyID]
	if s == nil {
		s = &suspect{}
		l.suspects[keyID] = s
	}
	s.declines = append(dropBefore(s.declines, now.Add(-l.cfg.DeclineWindow)), now)
	if len(s.declines) >= l.cfg.Declines && now.After(s.until) {
		s.until = now.Add(l.cfg.SlowFor)
		s.slow = rate.NewLimiter(rate.Every(l.cfg.SlowInterval), 1)
	}
}

// AllowAttempt takes a token for a payment attempt of a key: unlimited
// (beyond AllowKey) unless the key is slowed down for its declines.
func (l *Limiter) AllowAttempt(keyID string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.suspects[keyID]
	if s == nil || !now.Before(s.until) {
		return true, 0
	}
	return take(s.slow, now)
}

func dropBefore(ts []time.Time, cutoff time.Time) []time.Time {
	i := 0
	for i < len(ts) && ts[i].Before(cutoff) {
		i++
	}
	return ts[i:]
}

// sweep forgets idle buckets now and then, so memory stays bounded by the
// clients of the last minutes. l.mu is held.
func (l *Limiter) sweep(now time.Time) {
	l.calls++
	if l.calls%4096 != 0 {
		return
	}
	idle := now.Add(-10 * time.Minute)
	for _, m := range []map[string]*bucket{l.keys, l.addrs} {
		for id, b := range m {
			if b.seen.Before(idle) {
				delete(m, id)
			}
		}
	}
	for id, s := range l.suspects {
		if now.After(s.until) && len(dropBefore(s.declines, now.Add(-l.cfg.DeclineWindow))) == 0 {
			delete(l.suspects, id)
		}
	}
}
