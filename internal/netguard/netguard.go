// Package netguard keeps outgoing webhook deliveries from being turned
// against paygate's own network (server-side request forgery): a merchant
// chooses the URL, so without these checks an endpoint such as
// http://169.254.169.254/ would make paygate fetch its cloud credentials, or
// probe services that trust anything on the private network.
//
// There are two layers. CheckURL validates the URL when an endpoint is
// created or updated and explains any problem to the merchant. The Dialer
// inside Client checks every address actually connected to, after DNS
// resolution, because a public-looking name can resolve (or be re-pointed
// later) to a private address.
//
// Both layers apply only in production; in development everything is
// allowed so that tests and local setups can deliver to receivers on
// loopback.
package netguard

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"
)

// MaxURLLength is the longest endpoint URL accepted, in characters.
const MaxURLLength = 2048

// DefaultTimeout applies when Client or Dialer are given a timeout of zero
// or less.
const DefaultTimeout = 10 * time.Second

// CheckURL reports whether raw is acceptable as a webhook endpoint URL. Its
// errors are sentences meant for the merchant (the API returns them as the
// message of an error on the url parameter).
//
// Always: an absolute http or https URL with a host, no user name or
// password, at most MaxURLLength characters. In production also: https
// only, and a host that is a public address or an ordinary DNS name.
func CheckURL(raw string, production bool) error {
	if raw == "" {
		return errors.New("url is required.")
	}
	if !utf8.ValidString(raw) {
		return errors.New("url is not valid UTF-8.")
	}
	if n := utf8.RuneCountInString(raw); n > MaxURLLength {
		return fmt.Errorf("url must be at most %d characters (it has %d).", MaxURLLength, n)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("url is not a valid URL: %s.", parseProblem(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errors.New("url must be an absolute http or https URL, such as https://example.com/webhooks.")
	}
	if u.Opaque != "" || u.Host == "" || u.Hostname() == "" {
		return errors.New("url must include a host name, such as https://example.com/webhooks.")
	}
	if u.User != nil {
		// Credentials in a URL end up in logs and in every delivery record;
		// endpoints authenticate paygate by the webhook signature instead.
		return errors.New("url must not include a user name or password; verify the webhook signature to authenticate deliveries instead.")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("url has an invalid port %q; ports range from 1 to 65535.", p)
		}
	}
	if !production {
		return nil
	}
	if u.Scheme != "https" {
		return errors.New("url must use https, so that events and their signatures travel encrypted.")
	}
	return checkHost(u.Hostname())
}

func parseProblem(err error) string {
	// url.Error repeats the whole URL, which the merchant already has.
	if ue := (*url.Error)(nil); errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

const publicOnly = "webhook endpoints must be reachable on the public internet."

// checkHost applies the production rules to a URL's host (without port or
// brackets).
func checkHost(host string) error {
	name := strings.ToLower(strings.TrimSuffix(host, "."))
	if addr, err := netip.ParseAddr(name); err == nil {
		if addr.Zone() != "" {
			return fmt.Errorf("url host %s has an IPv6 zone, which only names a local network interface; %s", host, publicOnly)
		}
		if why := blockedReason(addr); why != "" {
			return fmt.Errorf("url host %s is %s; %s", host, why, publicOnly)
		}
		return nil
	}
	labels := strings.Split(name, ".")
	if last := labels[len(labels)-1]; looksNumeric(last) {
		// No top-level domain is numeric, but resolvers built on inet_aton
		// read "2130706433", "127.1" or "0x7f.1" as 127.0.0.1.
		return fmt.Errorf("url host %s looks like an IP address in an unusual notation; write a public IP address in dotted decimal, or use a DNS name.", host)
	}
	for _, suffix := range []string{"localhost", "localdomain", "local", "internal", "home.arpa"} {
		if name == suffix || strings.HasSuffix(name, "."+suffix) {
			return fmt.Errorf("url host %s is a local or private name; %s", host, publicOnly)
		}
	}
	if len(labels) == 1 {
		// A single label is completed with the server's search domains, so it
		// names hosts on paygate's own network.
		return fmt.Errorf("url host %s is not a fully qualified domain name, such as example.com; %s", host, publicOnly)
	}
	return nil
}

func looksNumeric(label string) bool {
	if hex, ok := strings.CutPrefix(label, "0x"); ok {
		label = hex
		if label == "" {
			return true
		}
		for _, c := range label {
			if !strings.ContainsRune("0123456789abcdef", c) {
				return false
			}
		}
		return true
	}
	if label == "" {
		return false
	}
	for _, c := range label {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// blockedReason says why deliveries may not reach addr, as a noun phrase
// ("a loopback address"), or returns "" when addr is allowed.
func blockedReason(addr netip.Addr) string {
	addr = addr.WithZone("")
	// IPv4-mapped IPv6 (::ffff:127.0.0.1) reaches the IPv4 address on
	// dual-stack sockets, so it is judged as that address.
	if addr.Is4In6() {
		addr = addr.Unmap()
	}
	switch {
	case !addr.IsValid():
		return "not a valid IP address"
	case addr.IsUnspecified():
		return "an unspecified address (it reaches the local machine)"
	case addr.IsLoopback():
		return "a loopback address"
	case addr.IsPrivate():
		return "a private network address"
	case addr.IsLinkLocalUnicast():
		return "a link-local address (cloud metadata services live there)"
	case addr.IsMulticast():
		return "a multicast address"
	}
	if addr.Is4() {
		b := addr.As4()
		switch {
		case b[0] == 0:
			// Linux treats 0.0.0.0/8 as this host.
			return "a \"this network\" address (0.0.0.0/8)"
		case b[0] == 100 && b[1]&0xc0 == 64:
			return "a carrier-grade NAT address (100.64.0.0/10)"
		case b[0] == 192 && b[1] == 0 && b[2] == 0:
			return "an IETF protocol address (192.0.0.0/24)"
		case b[0] == 198 && b[1]&0xfe == 18:
			return "a benchmarking address (198.18.0.0/15), often used internally"
		case b[0] >= 240:
			return "a reserved or broadcast address (240.0.0.0/4)"
		}
		return ""
	}
	b := addr.As16()
	switch {
	case b[0] == 0xfe && b[1]&0xc0 == 0xc0:
		return "a site-local address (fec0::/10)"
	case isZero(b[:12]):
		// ::/96 held the deprecated IPv4-compatible addresses; nothing public
		// lives there.
		return "a reserved IPv6 address (::/96)"
	case b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && isZero(b[4:12]):
		// NAT64 (64:ff9b::/96) forwards to the embedded IPv4 address.
		if why := blockedReason(netip.AddrFrom4([4]byte(b[12:]))); why != "" {
			return "a NAT64 address of " + why
		}
	case b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b && b[4] == 0 && b[5] == 1:
		return "a local-use NAT64 address (64:ff9b:1::/48)"
	case b[0] == 0x20 && b[1] == 0x02:
		// 6to4 (2002::/16) relays to the embedded IPv4 address.
		if why := blockedReason(netip.AddrFrom4([4]byte(b[2:6]))); why != "" {
			return "a 6to4 address of " + why
		}
	}
	return ""
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// BlockedError is the error of a connection refused because its resolved
// address is not public. A delivery worker can recognise it with errors.As
// to record why the attempt failed.
type BlockedError struct {
	Addr   netip.AddrPort
	Reason string
}

func (e *BlockedError) Error() string {
	return fmt.Sprintf("refused to connect to %s: %s; %s", e.Addr, e.Reason, publicOnly)
}

// control runs after DNS resolution, once per address tried, just before
// connect: the only point where the address the socket will reach is known
// for certain, which defeats names that resolve to private addresses and
// DNS rebinding alike.
func control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		// Fail closed: an address this cannot parse cannot be vetted.
		return fmt.Errorf("refused to connect to %q over %s: not an IP address and port", address, network)
	}
	if why := blockedReason(ap.Addr()); why != "" {
		return &BlockedError{Addr: ap, Reason: why}
	}
	return nil
}

// Dialer returns a dialer that, in production, refuses connections to
// addresses that are not public (see CheckURL), checked after DNS
// resolution. In development it connects anywhere. timeout bounds each
// connection attempt.
func Dialer(production bool, timeout time.Duration) *net.Dialer {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	d := &net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}
	if production {
		d.Control = control
	}
	return d
}

// Transport returns the transport for webhook deliveries: connections made
// by Dialer, each phase (connect, TLS handshake, waiting for the response
// headers) bounded by timeout.
//
// It ignores HTTP_PROXY and friends on purpose: through a proxy the dialer
// would vet the proxy's address while the proxy itself resolved and reached
// the merchant's host, unchecked, from inside the network, which would undo
// the protection. Deliveries go out directly.
func Transport(production bool, timeout time.Duration) *http.Transport {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            Dialer(production, timeout).DialContext,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    timeout,
		ResponseHeaderTimeout:  timeout,
		ExpectContinueTimeout:  time.Second,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           100,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        90 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
}

// Client returns the HTTP client for webhook deliveries. timeout bounds the
// whole exchange, reading the response body included.
//
// It follows no redirects and returns the 3xx response itself, which the
// caller counts as a failed delivery: following one would send the signed
// event to a URL the merchant never registered and CheckURL never saw.
func Client(production bool, timeout time.Duration) *http.Client {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return &http.Client{
		Transport: Transport(production, timeout),
		Timeout:   timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
