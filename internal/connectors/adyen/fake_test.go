package adyen

import (
	"net/http"
	"testing"
	"time"

	"github.com/paygate/paygate/internal/connectors"
	"github.com/paygate/paygate/internal/connectors/adyen/adyentest"
)

// connector is a connector of the fake's account, changed by mod.
func connector(t *testing.T, f *adyentest.Server, mod ...func(*connectors.Config)) *Connector {
	t.Helper()
	cfg := connectors.Config{Credentials: f.Credentials(), BaseURL: f.URL(), HTTP: &http.Client{Timeout: 5 * time.Second}}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
