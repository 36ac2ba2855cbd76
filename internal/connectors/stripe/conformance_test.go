package stripe

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/connectors"
	"github.com/paygate/paygate/internal/connectors/connectortest"
	"github.com/paygate/paygate/internal/connectors/stripe/stripetest"
)

const (
	// testKey is the fake's secret key, also sent to stripe-mock.
	testKey       = stripetest.SecretKey
	testReturnURL = "https://paygate.test/v1/payments/{payment}/return"
)

// card is a test card as the connector receives it.
func card(number string) connectors.Method { return connectortest.Card(number) }

// newTestConnector is a connector of the fake's account (stripetest's
// key and webhook secret) at baseURL.
func newTestConnector(t testing.TB, baseURL string, client *http.Client) *Connector {
	t.Helper()
	c, err := New(connectors.Config{
		Credentials: map[string]string{"secret_key": testKey, "webhook_secret": stripetest.WebhookSecret},
		BaseURL:     baseURL, HTTP: client, ReturnURL: testReturnURL,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newFake is a fake Stripe and a connector of its account.
func newFake(t *testing.T) (*stripetest.Server, *Connector) {
	t.Helper()
	fake := stripetest.NewServer(t)
	return fake, newTestConnector(t, fake.URL(), &http.Client{Timeout: 5 * time.Second})
}

// slowConnector's fake answers only after the client's timeout.
func slowConnector(t *testing.T) connectors.Connector {
	fake := stripetest.NewServer(t)
	fake.SetDelay(2 * time.Second)
	return newTestConnector(t, fake.URL(), &http.Client{Timeout: 100 * time.Millisecond})
}

// closedConnector is aimed at a loopback port nothing listens on.
func closedConnector(t *testing.T) connectors.Connector {
	return newTestConnector(t, connectortest.ClosedURL(t), &http.Client{Timeout: time.Second})
}

// TestConformance runs the connector suite against the fake Stripe.
func TestConformance(t *testing.T) {
	fake, c := newFake(t)
	connectortest.Run(t, connectortest.Harness{
		Connector: c,
		Methods:   connectortest.Methods(),
		Authenticate: func(t *testing.T, reference string, res connectors.Result) map[string]string {
			if !strings.HasPrefix(res.RedirectURL, fake.URL()+"/fake/three_d_secure/") {
				t.Errorf("3-D Secure redirect %q is not the PaymentIntent's next_action", res.RedirectURL)
			}
			// Stripe sends the customer back to return_url with
			// payment_intent, payment_intent_client_secret and
			// redirect_status (its 3-D Secure guide, "Handle the
			// redirect").
			details := fake.Authenticate(t, res.RedirectURL, true)
			if details["payment_intent"] != res.ProcessorID || details["redirect_status"] != "succeeded" {
				t.Errorf("return URL parameters %v, want the PaymentIntent %s, succeeded", details, res.ProcessorID)
			}
			return details
		},
		Performed: fake.Performed,
		Slow:      slowConnector,
		Closed:    closedConnector,
		Notify: func(t *testing.T, n connectors.Notification) (http.Header, []byte) {
			return fake.Notify(t, n)
		},
		Unsigned: func(t *testing.T, header http.Header, body []byte) (http.Header, []byte) {
			return stripetest.Unsigned(t, header, body)
		},
	})
}
