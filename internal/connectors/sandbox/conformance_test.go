package sandbox

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/connectors"
	"github.com/paygate/paygate/internal/connectors/connectortest"
)

// slowAndClosed are the sandbox process's client aimed at a server that
// answers too late, and at a port nothing listens on.
func slowAndClosed() (slow, closed func(t *testing.T) connectors.Connector) {
	slow = func(t *testing.T) connectors.Connector {
		return NewClient(connectortest.SlowURL(t), 100*time.Millisecond)
	}
	closed = func(t *testing.T) connectors.Connector {
		return NewClient(connectortest.ClosedURL(t), time.Second)
	}
	return slow, closed
}

// TestConformance runs the connector suite on the sandbox in process, and
// on the sandbox process through its client.
func TestConformance(t *testing.T) {
	slow, closed := slowAndClosed()
	t.Run("in process", func(t *testing.T) {
		sb := New("https://paygate.test")
		connectortest.Run(t, connectortest.Harness{Connector: sb, Methods: connectortest.Methods(),
			Authenticate: func(*testing.T, string, connectors.Result) map[string]string { return nil }, // the approval is CompleteAction's Approved
			Performed:    sb.Performed, Slow: slow, Closed: closed})
	})
	t.Run("process", func(t *testing.T) {
		sb := New("https://paygate.test")
		srv := httptest.NewServer(Handler(sb))
		t.Cleanup(srv.Close)
		connectortest.Run(t, connectortest.Harness{Connector: NewClient(srv.URL, 5*time.Second), Methods: connectortest.Methods(),
			Authenticate: func(*testing.T, string, connectors.Result) map[string]string { return nil },
			Performed:    sb.Performed, Slow: slow, Closed: closed})
	})
}
