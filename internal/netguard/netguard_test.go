package netguard

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestCheckURL(t *testing.T) {
	long := "https://example.com/" + strings.Repeat("a", MaxURLLength-len("https://example.com/"))
	tests := []struct {
		url       string
		dev, prod string // "" means allowed, otherwise a fragment of the error
	}{
		// Allowed everywhere.
		{url: "https://example.com/webhooks"},
		{url: "https://example.com:8443/hooks?x=1#frag"},
		{url: "https://EXAMPLE.com./webhooks"},
		{url: "HTTPS://example.com/"},
		{url: "https://8.8.8.8/hook"},
		{url: "https://[2606:4700:4700::1111]/hook"},
		{url: "https://[64:ff9b::808:808]/hook"}, // NAT64 of a public address
		{url: long},
		{url: "https://sub.example.co.uk/a/b"},

		// Structure, both modes.
		{url: "", dev: "required", prod: "required"},
		{url: long + "a", dev: "at most 2048", prod: "at most 2048"},
		{url: "example.com/webhooks", dev: "absolute http or https", prod: "absolute http or https"},
		{url: "/webhooks", dev: "absolute http or https", prod: "absolute http or https"},
		{url: "ftp://example.com/", dev: "absolute http or https", prod: "absolute http or https"},
		{url: "javascript:alert(1)", dev: "absolute http or https", prod: "absolute http or https"},
		{url: "https:example.com", dev: "host name", prod: "host name"},
		{url: "https:///path", dev: "host name", prod: "host name"},
		{url: "https://:443/", dev: "host name", prod: "host name"},
		{url: "https://user:pw@example.com/", dev: "user name or password", prod: "user name or password"},
		{url: "https://user@example.com/", dev: "user name or password", prod: "user name or password"},
		{url: "https://example.com:0/", dev: "invalid port", prod: "invalid port"},
		{url: "https://example.com:70000/", dev: "invalid port", prod: "invalid port"},
		{url: "https://exa mple.com/", dev: "not a valid URL", prod: "not a valid URL"},
		{url: "https://example.com/\x7f", dev: "not a valid URL", prod: "not a valid URL"},
		{url: "https://example.com/\xff", dev: "UTF-8", prod: "UTF-8"},

		// Production only.
		{url: "http://example.com/webhooks", prod: "must use https"},
		{url: "http://localhost:8080/hook", prod: "must use https"},
		{url: "https://localhost/hook", prod: "local or private name"},
		{url: "https://LOCALHOST./hook", prod: "local or private name"},
		{url: "https://api.localhost/hook", prod: "local or private name"},
		{url: "https://printer.local/hook", prod: "local or private name"},
		{url: "https://metadata.google.internal/", prod: "local or private name"},
		{url: "https://router.home.arpa/", prod: "local or private name"},
		{url: "https://intranet/hook", prod: "fully qualified"},
		{url: "https://127.0.0.1/hook", prod: "127.0.0.1 is a loopback"},
		{url: "https://127.8.9.10/hook", prod: "loopback"},
		{url: "https://[::1]/hook", prod: "loopback"},
		{url: "https://10.1.2.3/", prod: "private network"},
		{url: "https://172.16.0.1/", prod: "private network"},
		{url: "https://172.31.255.255/", prod: "private network"},
		{url: "https://192.168.1.1/", prod: "private network"},
		{url: "https://[fd00:ec2::254]/", prod: "private network"},
		{url: "https://[fc00::1]/", prod: "private network"},
		{url: "https://169.254.169.254/latest/meta-data/", prod: "link-local"},
		{url: "https://[fe80::1]/", prod: "link-local"},
		{url: "https://[fe80::1%25eth0]/", prod: "zone"},
		{url: "https://0.0.0.0/", prod: "unspecified"},
		{url: "https://[::]/", prod: "unspecified"},
		{url: "https://0.1.2.3/", prod: "this network"},
		{url: "https://224.0.0.1/", prod: "multicast"},
		{url: "https://[ff02::1]/", prod: "multicast"},
		{url: "https://100.64.0.1/", prod: "carrier-grade NAT"},
		{url: "https://100.127.255.255/", prod: "carrier-grade NAT"},
		{url: "https://255.255.255.255/", prod: "reserved or broadcast"},
		{url: "https://[::ffff:127.0.0.1]/", prod: "loopback"},
		{url: "https://[::ffff:169.254.169.254]/", prod: "link-local"},
		{url: "https://[::ffff:10.0.0.1]/", prod: "private network"},
		{url: "https://[::ffff:100.64.0.1]/", prod: "carrier-grade NAT"},
		{url: "https://[::127.0.0.1]/", prod: "reserved IPv6"},
		{url: "https://[64:ff9b::7f00:1]/", prod: "NAT64 address of a loopback"},
		{url: "https://[2002:a9fe:a9fe::]/", prod: "6to4 address of a link-local"},
		{url: "https://[fec0::1]/", prod: "site-local"},
		{url: "https://2130706433/", prod: "unusual notation"},
		{url: "https://0x7f000001/", prod: "unusual notation"},
		{url: "https://127.1/", prod: "unusual notation"},
		{url: "https://0177.0.0.1/", prod: "unusual notation"},
		{url: "https://%31%32%37.0.0.1/", dev: "not a valid URL", prod: "not a valid URL"},

		// Just outside the blocked ranges.
		{url: "https://172.32.0.1/"},
		{url: "https://100.128.0.1/"},
		{url: "https://100.63.255.255/"},
		{url: "https://169.255.0.1/"},
		{url: "https://11.0.0.1/"},
	}
	for _, tt := range tests {
		for _, mode := range []struct {
			production bool
			want       string
		}{{false, tt.dev}, {true, tt.prod}} {
			err := CheckURL(tt.url, mode.production)
			switch {
			case mode.want == "" && err != nil:
				t.Errorf("CheckURL(%q, production=%v) = %v, want nil", tt.url, mode.production, err)
			case mode.want != "" && err == nil:
				t.Errorf("CheckURL(%q, production=%v) = nil, want an error about %q", tt.url, mode.production, mode.want)
			case mode.want != "" && !strings.Contains(err.Error(), mode.want):
				t.Errorf("CheckURL(%q, production=%v) = %q, want it to mention %q", tt.url, mode.production, err, mode.want)
			case err != nil && !strings.HasPrefix(err.Error(), "url "):
				t.Errorf("CheckURL(%q) = %q: messages name the url parameter first", tt.url, err)
			}
		}
	}
}

func newReceiver(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	hits := new(atomic.Int32)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "/landed", http.StatusFound)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv, hits
}

func TestProductionClientRefusesLoopback(t *testing.T) {
	srv, hits := newReceiver(t)
	port := netip.MustParseAddrPort(srv.Listener.Addr().String()).Port()
	c := Client(true, 5*time.Second)

	for _, host := range []string{"localhost", "127.0.0.1"} {
		t.Run(host, func(t *testing.T) {
			target := "http://" + net.JoinHostPort(host, strconv.Itoa(int(port))) + "/hook"
			resp, err := c.Post(target, "application/json", strings.NewReader("{}"))
			if err == nil {
				resp.Body.Close()
				t.Fatalf("production client reached %s (status %d)", target, resp.StatusCode)
			}
			var be *BlockedError
			if !errors.As(err, &be) {
				t.Fatalf("error %v is not a *BlockedError", err)
			}
			if !be.Addr.Addr().IsLoopback() || be.Addr.Port() != port {
				t.Errorf("blocked %v, want a loopback address on port %d", be.Addr, port)
			}
			if !strings.Contains(err.Error(), be.Addr.String()) || !strings.Contains(err.Error(), "loopback") {
				t.Errorf("error %q does not name the blocked address and why", err)
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("receiver got %d requests", n)
	}
}

func TestDevelopmentClientConnects(t *testing.T) {
	srv, hits := newReceiver(t)
	c := Client(false, 5*time.Second)

	resp, err := c.Post(srv.URL+"/hook", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("status %d, want 204", resp.StatusCode)
	}

	local := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	resp, err = c.Post(local+"/redirect", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("status %d, want the redirect itself (302), not its target", resp.StatusCode)
	}
	if n := hits.Load(); n != 2 {
		t.Fatalf("receiver got %d requests, want 2 (the redirect must not be followed)", n)
	}
}

func TestTransportIgnoresEnvironmentProxy(t *testing.T) {
	t.Setenv("HTTP_PROXY", "http://proxy.invalid:3128")
	t.Setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
	for _, production := range []bool{false, true} {
		if tr := Transport(production, 0); tr.Proxy != nil {
			t.Errorf("Transport(production=%v) uses a proxy function", production)
		}
	}
	srv, _ := newReceiver(t)
	resp, err := Client(false, 5*time.Second).Get(srv.URL)
	if err != nil {
		t.Fatalf("delivery went through the environment's proxy: %v", err)
	}
	resp.Body.Close()
}

func TestDialerControl(t *testing.T) {
	if Dialer(false, 0).Control != nil {
		t.Error("development dialer vets addresses")
	}
	d := Dialer(true, 0)
	if d.Timeout != DefaultTimeout {
		t.Errorf("timeout %v, want the default %v", d.Timeout, DefaultTimeout)
	}
	for addr, blocked := range map[string]bool{
		"127.0.0.1:443":          true,
		"169.254.169.254:80":     true,
		"[::ffff:10.0.0.1]:443":  true,
		"[fd00:ec2::254]:80":     true,
		"[::1]:443":              true,
		"100.64.1.1:443":         true,
		"8.8.8.8:443":            false,
		"[2606:4700::1111]:443":  false,
		"not-an-address":         true,
		"example.com:443":        true,
		"[fe80::1%25eth0]:443":   true,
		"93.184.215.14:443":      false,
		"[64:ff9b::a00:1]:443":   true,
		"[64:ff9b::5db8:d70e]:1": false,
	} {
		err := d.Control("tcp", addr, nil)
		if blocked != (err != nil) {
			t.Errorf("Control(%q) = %v, want blocked=%v", addr, err, blocked)
		}
	}
}
