package faults_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/testutil/faults"
)

// Each fault, through the proxy to a real HTTP server on loopback, does
// what it says, and the proxy forwards normally once it is removed.
func TestFaults(t *testing.T) {
	var served atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		served.Add(1)
		_, _ = io.WriteString(w, strings.Repeat("x", 64<<10))
	}))
	defer up.Close()
	p := faults.New(t, strings.TrimPrefix(up.URL, "http://"))
	url := "http://" + p.Addr()
	get := func(timeout time.Duration) (time.Duration, error) {
		// A new connection each time, kept alive (a server closing it
		// would end a half-open one): one kept from before would hide
		// Down.
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		c := &http.Client{Timeout: timeout, Transport: tr}
		start := time.Now()
		resp, err := c.Get(url)
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		return time.Since(start), err
	}
	if _, err := get(5 * time.Second); err != nil {
		t.Fatalf("no fault: %v", err)
	}

	f := p.Latency(faults.Downstream, 300*time.Millisecond, 50*time.Millisecond)
	if took, err := get(5 * time.Second); err != nil || took < 250*time.Millisecond {
		t.Errorf("latency: %v after %s, want an answer after 250 ms at least", err, took)
	}
	f.Remove()

	f = p.Bandwidth(faults.Downstream, 64) // 64 KiB at 64 KB/s: about a second
	if took, err := get(5 * time.Second); err != nil || took < 500*time.Millisecond {
		t.Errorf("bandwidth: %v after %s, want an answer after 500 ms at least", err, took)
	}
	f.Remove()

	f = p.ResetPeer(faults.Downstream, 1, 0)
	if _, err := get(5 * time.Second); err == nil {
		t.Error("reset_peer: the request succeeded")
	}
	f.Remove()

	f = p.HalfOpen(faults.Downstream)
	before := served.Load()
	if took, err := get(500 * time.Millisecond); !isTimeout(err) {
		t.Errorf("half-open: %v after %s, want the client's timeout", err, took)
	}
	if n := served.Load(); n != before+1 {
		t.Errorf("half-open downstream: the server served %d requests, want 1: the request must reach it", n-before)
	}
	f.Remove()

	p.Down()
	if _, err := get(time.Second); err == nil {
		t.Error("down: the request succeeded")
	} else if _, dialErr := net.Dial("tcp", p.Addr()); dialErr == nil {
		t.Error("down: the proxy still accepts connections")
	}
	p.Up()
	if _, err := get(5 * time.Second); err != nil {
		t.Errorf("up again: %v", err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
