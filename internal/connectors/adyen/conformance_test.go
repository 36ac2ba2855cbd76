package adyen

import (
	"net/http"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/connectors"
	"github.com/paygate/paygate/internal/connectors/adyen/adyentest"
	"github.com/paygate/paygate/internal/connectors/connectortest"
)

// card is a test card as the connector receives it.
func card(number string) connectors.Method { return connectortest.Card(number) }

// harness is the conformance suite's view of the connector and the fake.
func harness(t *testing.T) connectortest.Harness {
	f := adyentest.NewServer(t)
	other := func(base string, timeout time.Duration) func(t *testing.T) connectors.Connector {
		return func(t *testing.T) connectors.Connector {
			return connector(t, f, func(c *connectors.Config) {
				c.BaseURL = base
				c.HTTP = &http.Client{Timeout: timeout}
			})
		}
	}
	return connectortest.Harness{
		Connector: connector(t, f),
		Methods:   connectortest.Methods(),
		Authenticate: func(t *testing.T, reference string, res connectors.Result) map[string]string {
			return map[string]string{"redirectResult": f.Authenticate(t, res.RedirectURL, true)}
		},
		Performed: f.Performed,
		Slow: func(t *testing.T) connectors.Connector {
			return other(connectortest.SlowURL(t)+"/v71", 100*time.Millisecond)(t)
		},
		Closed: func(t *testing.T) connectors.Connector {
			return other(connectortest.ClosedURL(t)+"/v71", time.Second)(t)
		},
		Notify: func(t *testing.T, n connectors.Notification) (http.Header, []byte) {
			return f.Notify(t, n)
		},
		Unsigned: func(t *testing.T, header http.Header, body []byte) (http.Header, []byte) {
			return adyentest.Unsigned(t, header, body)
		},
		NoLookup: true,
	}
}

// TestConformance runs the shared suite on the connector and the fake.
func TestConformance(t *testing.T) {
	connectortest.Run(t, harness(t))
}
