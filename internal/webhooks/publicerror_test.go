package webhooks

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/paygate/paygate/internal/netguard"
)

// An IPv4 address, an IPv6 address (two colons with only hex digits
// between them), or a port after a colon.
var (
	ipv4Pattern = regexp.MustCompile(`\d{1,3}(\.\d{1,3}){3}`)
	ipv6Pattern = regexp.MustCompile(`[0-9A-Fa-f]*:[0-9A-Fa-f]*:[0-9A-Fa-f:.]*`)
	portPattern = regexp.MustCompile(`:\d+`)
)

// asDelivered wraps err the way http.Client.Do returns it.
func asDelivered(err error) error {
	return &url.Error{Op: "Post", URL: "https://hooks.example.com/paygate", Err: err}
}

func dialErr(err error) error {
	return &net.OpError{Op: "dial", Net: "tcp",
		Source: &net.TCPAddr{IP: net.ParseIP("10.0.0.9"), Port: 51234},
		Addr:   &net.TCPAddr{IP: net.ParseIP("10.1.2.3"), Port: 443}, Err: err}
}

type timeoutErr struct{}

func (timeoutErr) Error() string {
	return "net/http: timeout awaiting response headers from 10.1.2.3:443"
}
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestPublicError(t *testing.T) {
	blocked := &netguard.BlockedError{Addr: netip.MustParseAddrPort("10.0.0.5:443"), Reason: "a private network address"}
	blocked6 := &netguard.BlockedError{Addr: netip.MustParseAddrPort("[fd00:ec2::254]:443"), Reason: "a private network address"}
	dns := func(notFound, timeout bool) error {
		return &net.DNSError{Err: "no such host", Name: "hooks.example.com", Server: "10.0.0.2:53", IsNotFound: notFound, IsTimeout: timeout}
	}
	tests := []struct {
		name string
		err  error
		want string
		leak string // what the detailed error names and the message must not
	}{
		{"blocked", asDelivered(dialErr(blocked)), "destination not allowed: the endpoint's address is not public", "10.0.0.5"},
		{"blocked IPv6", asDelivered(dialErr(blocked6)), "destination not allowed: the endpoint's address is not public", "fd00:ec2::254"},
		{"no such host", asDelivered(dialErr(dns(true, false))), "DNS lookup failed: no such host", "10.0.0.2:53"},
		{"DNS server failure", asDelivered(dialErr(dns(false, false))), "DNS lookup failed", "10.0.0.2:53"},
		{"DNS timeout", asDelivered(dialErr(dns(false, true))), "DNS lookup timed out", "10.0.0.2:53"},
		{"refused", asDelivered(dialErr(os.NewSyscallError("connect", syscall.ECONNREFUSED))), "connection refused", "10.1.2.3:443"},
		{"reset", asDelivered(&net.OpError{Op: "read", Net: "tcp", Source: &net.TCPAddr{IP: net.ParseIP("10.0.0.9"), Port: 51234},
			Addr: &net.TCPAddr{IP: net.ParseIP("10.1.2.3"), Port: 443}, Err: os.NewSyscallError("read", syscall.ECONNRESET)}), "connection reset", "10.0.0.9:51234"},
		{"unreachable", asDelivered(dialErr(os.NewSyscallError("connect", syscall.EHOSTUNREACH))), "endpoint unreachable", "10.1.2.3:443"},
		{"deadline", asDelivered(context.DeadlineExceeded), "timed out", ""},
		{"dial timeout", asDelivered(dialErr(os.NewSyscallError("connect", syscall.ETIMEDOUT))), "timed out", "10.1.2.3:443"},
		{"client timeout", asDelivered(timeoutErr{}), "timed out", "10.1.2.3:443"},
		{"unknown authority", asDelivered(&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}), "TLS handshake failed: certificate not trusted", ""},
		{"unknown authority, bare", asDelivered(x509.UnknownAuthorityError{}), "TLS handshake failed: certificate not trusted", ""},
		{"name mismatch", asDelivered(&tls.CertificateVerificationError{Err: x509.HostnameError{
			Certificate: &x509.Certificate{DNSNames: []string{"vault.corp.internal"}, IPAddresses: []net.IP{net.ParseIP("10.3.3.3")}}, Host: "10.3.3.4"}}),
			"TLS handshake failed: certificate name mismatch", "10.3.3.3"},
		{"expired", asDelivered(&tls.CertificateVerificationError{Err: x509.CertificateInvalidError{Reason: x509.Expired, Detail: "expired at 10.0.0.1"}}),
			"TLS handshake failed: certificate expired or not yet valid", ""},
		{"invalid", asDelivered(&tls.CertificateVerificationError{Err: x509.CertificateInvalidError{Reason: x509.NotAuthorizedToSign}}),
			"TLS handshake failed: certificate invalid", ""},
		{"not TLS", asDelivered(tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}), "TLS handshake failed: the endpoint did not answer with TLS", ""},
		{"plain HTTP", asDelivered(http.ErrSchemeMismatch), "TLS handshake failed: the endpoint answered plain HTTP", ""},
		{"remote alert", asDelivered(&net.OpError{Op: "remote error", Err: errors.New("tls: handshake failure")}), "TLS handshake failed", ""},
		{"alert", asDelivered(tls.AlertError(40)), "TLS handshake failed", ""},
		{"closed", asDelivered(io.EOF), "connection closed before the endpoint answered", ""},
		{"unparsable dial address", asDelivered(dialErr(fmt.Errorf("refused to connect to %q over tcp: not an IP address and port", "10.0.0.5"))), "delivery failed", "10.0.0.5"},
		{"anything else", errors.New("open webhook secret: key 10.0.0.1:8200 unavailable"), "delivery failed", "10.0.0.1:8200"},
		{"status", &statusError{code: 503}, "the endpoint answered 503", ""},
		{"status, wrapped", fmt.Errorf("send: %w", &statusError{code: 302}), "the endpoint answered 302", ""},
		{"nil", nil, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.leak != "" && !strings.Contains(tt.err.Error(), tt.leak) {
				t.Fatalf("test error %q does not name %q: the case proves nothing", tt.err, tt.leak)
			}
			got := publicError(tt.err)
			if got != tt.want {
				t.Errorf("publicError(%q) = %q, want %q", tt.err, got, tt.want)
			}
			if tt.leak != "" && strings.Contains(got, tt.leak) {
				t.Errorf("publicError(%q) = %q names %q", tt.err, got, tt.leak)
			}
			for _, p := range []*regexp.Regexp{ipv4Pattern, ipv6Pattern, portPattern} {
				if m := p.FindString(got); m != "" {
					t.Errorf("publicError(%q) = %q holds %q, which looks like an address", tt.err, got, m)
				}
			}
		})
	}
}

// The status error keeps the message attempts have always had.
func TestStatusErrorMessage(t *testing.T) {
	if got := (&statusError{code: 404}).Error(); got != "the endpoint answered 404" {
		t.Errorf("got %q", got)
	}
}
