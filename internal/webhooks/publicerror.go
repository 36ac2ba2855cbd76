package webhooks

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"syscall"

	"github.com/paygate/paygate/internal/netguard"
)

// The messages a merchant may see on a failed attempt. Each is fixed: none
// repeats text from the underlying error, which can name what paygate's
// network looks like from the inside (the address a host name resolved to,
// the resolver asked, the local address of the socket, certificate details).
const (
	msgNotAllowed     = "destination not allowed: the endpoint's address is not public"
	msgTimeout        = "timed out"
	msgDNSNotFound    = "DNS lookup failed: no such host"
	msgDNSTimeout     = "DNS lookup timed out"
	msgDNS            = "DNS lookup failed"
	msgRefused        = "connection refused"
	msgReset          = "connection reset"
	msgClosed         = "connection closed before the endpoint answered"
	msgUnreachable    = "endpoint unreachable"
	msgPlainHTTP      = "TLS handshake failed: the endpoint answered plain HTTP"
	msgNotTLS         = "TLS handshake failed: the endpoint did not answer with TLS"
	msgCertUntrusted  = "TLS handshake failed: certificate not trusted"
	msgCertName       = "TLS handshake failed: certificate name mismatch"
	msgCertExpired    = "TLS handshake failed: certificate expired or not yet valid"
	msgCertInvalid    = "TLS handshake failed: certificate invalid"
	msgTLS            = "TLS handshake failed"
	msgDeliveryFailed = "delivery failed"
)

// statusError is the failure of an attempt that got an answer other than
// 2xx. Its text holds only the status code, which the receiver chose.
type statusError struct{ code int }

func (e *statusError) Error() string { return "the endpoint answered " + strconv.Itoa(e.code) }

// publicError maps the error of a delivery attempt to the short, fixed
// message recorded on the attempt, which the merchant reads through the API.
// The detailed error is for the operator's log only.
func publicError(err error) string {
	if err == nil {
		return ""
	}
	if se := (*statusError)(nil); errors.As(err, &se) {
		return se.Error()
	}
	// First: a refused destination may also look like a failed dial.
	if be := (*netguard.BlockedError)(nil); errors.As(err, &be) {
		return msgNotAllowed
	}
	if de := (*net.DNSError)(nil); errors.As(err, &de) {
		switch {
		case de.IsNotFound:
			return msgDNSNotFound
		case de.IsTimeout:
			return msgDNSTimeout
		}
		return msgDNS
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return msgTimeout
	}
	if ne := net.Error(nil); errors.As(err, &ne) && ne.Timeout() {
		return msgTimeout
	}
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return msgRefused
	case errors.Is(err, syscall.ECONNRESET):
		return msgReset
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return msgUnreachable
	case errors.Is(err, http.ErrSchemeMismatch):
		return msgPlainHTTP
	}
	if msg := tlsProblem(err); msg != "" {
		return msg
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.EPIPE) {
		return msgClosed
	}
	return msgDeliveryFailed
}

// tlsProblem names what went wrong in a TLS handshake, or returns "".
func tlsProblem(err error) string {
	var unknown x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var system x509.SystemRootsError
	var header tls.RecordHeaderError
	switch {
	case errors.As(err, &unknown), errors.As(err, &system):
		return msgCertUntrusted
	case errors.As(err, &hostname):
		return msgCertName
	case errors.As(err, &invalid):
		if invalid.Reason == x509.Expired {
			return msgCertExpired
		}
		return msgCertInvalid
	case errors.As(err, &header):
		return msgNotTLS
	}
	if ve := (*tls.CertificateVerificationError)(nil); errors.As(err, &ve) {
		return msgCertInvalid
	}
	if ae := tls.AlertError(0); errors.As(err, &ae) {
		return msgTLS
	}
	// crypto/tls reports the alerts of a failed handshake as a *net.OpError
	// without addresses, "remote error: tls: …" or "local error: tls: …".
	if oe := (*net.OpError)(nil); errors.As(err, &oe) && (oe.Op == "remote error" || oe.Op == "local error") {
		return msgTLS
	}
	return ""
}
