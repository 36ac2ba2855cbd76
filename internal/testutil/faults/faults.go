// Package faults puts a TCP proxy between a process under test and one of
// its upstreams (a processor, the database), to inject network faults:
// latency and jitter, a bandwidth limit, connection resets, half-open
// connections, a full outage. It runs Toxiproxy's proxy in the test's own
// process, on loopback: no server to install, nothing left behind.
package faults

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/rs/zerolog"
)

// Direction is the stream a fault applies to.
type Direction string

const (
	// Upstream is what the client sends (a request): a fault there stops
	// it before the upstream sees it.
	Upstream Direction = "upstream"
	// Downstream is what the upstream answers: a fault there lets the
	// upstream act and loses or delays its answer, the outcome unknown
	// to the client.
	Downstream Direction = "downstream"
)

// Proxy forwards connections from a free loopback port to an upstream
// address, through the faults added to it.
type Proxy struct {
	t     testing.TB
	proxy *toxiproxy.Proxy

	mu   sync.Mutex
	down bool
}

// New starts a proxy to upstream (host:port) on a free loopback port; it
// stops at the end of the test.
func New(t testing.TB, upstream string) *Proxy {
	t.Helper()
	// Some toxics log through zerolog's global logger, at trace level,
	// to stderr: silence it (it is Toxiproxy's alone in paygate's tests).
	zerolog.SetGlobalLevel(zerolog.Disabled)
	server := toxiproxy.NewServer(toxiproxy.NewMetricsContainer(nil), zerolog.Nop())
	p := toxiproxy.NewProxy(server, "faults-"+strings.ReplaceAll(upstream, ":", "-"), "127.0.0.1:0", upstream)
	if err := p.Start(); err != nil {
		t.Fatalf("faults: start a proxy to %s: %v", upstream, err)
	}
	t.Cleanup(p.Stop)
	return &Proxy{t: t, proxy: p}
}

// InFront starts a proxy to the host of a URL (a database's) and returns
// the URL through it.
func InFront(t testing.TB, rawURL string) (string, *Proxy) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatalf("faults: %v", err)
	}
	p := New(t, u.Host)
	u.Host = p.Addr()
	return u.String(), p
}

// Addr is the proxy's host:port, to give the client instead of the
// upstream's. It stays the same across outages.
func (p *Proxy) Addr() string {
	p.proxy.Lock()
	defer p.proxy.Unlock()
	return p.proxy.Listen
}

// Fault is one fault in force on a proxy; Remove ends it.
type Fault struct {
	p    *Proxy
	name string
}

// add installs a Toxiproxy toxic of a type with its attributes on every
// connection, new and open, in one direction; toxicity is the share of
// connections it applies to (1: all).
func (p *Proxy) add(typ string, dir Direction, toxicity float32, attrs map[string]any) *Fault {
	p.t.Helper()
	name := fmt.Sprintf("%s_%s_%d", typ, dir, time.Now().UnixNano())
	body, err := json.Marshal(map[string]any{"name": name, "type": typ, "stream": dir, "toxicity": toxicity, "attributes": attrs})
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := p.proxy.Toxics.AddToxicJson(strings.NewReader(string(body))); err != nil {
		p.t.Fatalf("faults: add %s: %v", typ, err)
	}
	return &Fault{p: p, name: name}
}

// Remove ends the fault; connections it held up go on (or were closed by
// it). Removing it twice is harmless.
func (f *Fault) Remove() {
	_ = f.p.proxy.Toxics.RemoveToxic(context.Background(), f.name)
}

// Latency delays every chunk of data by latency, give or take jitter.
func (p *Proxy) Latency(dir Direction, latency, jitter time.Duration) *Fault {
	return p.add("latency", dir, 1, map[string]any{"latency": latency.Milliseconds(), "jitter": jitter.Milliseconds()})
}

// Bandwidth limits the stream to kbps kilobytes per second.
func (p *Proxy) Bandwidth(dir Direction, kbps int64) *Fault {
	return p.add("bandwidth", dir, 1, map[string]any{"rate": kbps})
}

// ResetPeer resets (TCP RST) a share of the connections (toxicity, 0 to
// 1) once data arrives in dir, after delay.
func (p *Proxy) ResetPeer(dir Direction, toxicity float32, delay time.Duration) *Fault {
	return p.add("reset_peer", dir, toxicity, map[string]any{"timeout": delay.Milliseconds()})
}

// HalfOpen drops all data in dir while the connections stay open, as a
// peer that vanished without closing them: only the client's own timeout
// ends its wait.
func (p *Proxy) HalfOpen(dir Direction) *Fault {
	return p.add("timeout", dir, 1, map[string]any{"timeout": 0})
}

// Down is a full outage: open connections are closed and new ones are
// refused, until Up.
func (p *Proxy) Down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.down {
		p.proxy.Stop()
		p.down = true
	}
}

// Up ends an outage, on the same address.
func (p *Proxy) Up() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.down {
		return
	}
	// The port was free a moment ago; retry briefly should the system be
	// slow to release it.
	var err error
	for range 50 {
		if err = p.proxy.Start(); err == nil {
			p.down = false
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.t.Errorf("faults: restart the proxy on %s: %v", p.Addr(), err)
}

// Outage takes the proxy down for d, then up again.
func (p *Proxy) Outage(d time.Duration) {
	p.Down()
	time.Sleep(d)
	p.Up()
}
