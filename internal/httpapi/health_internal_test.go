package httpapi

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestMetricsToken(t *testing.T) {
	exporter := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("metrics")) })
	for _, c := range []struct {
		token, sent string
		want        int
	}{
		{"", "", 200}, {"s3cret", "", 401}, {"s3cret", "Bearer wrong", 401}, {"s3cret", "Bearer s3cret", 200},
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/metrics", nil)
		if c.sent != "" {
			req.Header.Set("Authorization", c.sent)
		}
		handleMetrics(exporter, c.token).ServeHTTP(rec, req)
		if rec.Code != c.want {
			t.Errorf("token %q, sent %q: %d, want %d", c.token, c.sent, rec.Code, c.want)
		}
	}
}
