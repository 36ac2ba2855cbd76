package httpapi

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"github.com/paygate/paygate/internal/apierror"
)

// The root, /, is where a newcomer's browser lands: a small page that
// leads to the dashboard, the API reference and the README's first steps.
// An API client (anything that does not ask for HTML) gets the JSON 404
// it gets on every unknown path.

const rootCSS = `body{font:16px/1.5 system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1a1a1a}
main{max-width:34rem;margin:3rem auto;background:#fff;padding:2rem;border-radius:8px;border:1px solid #d0d4da}
h1{font-size:1.5rem;margin-top:0}a{color:#1a56db}li{margin:.5rem 0}code{background:#eef0f3;padding:.1rem .3rem;border-radius:4px}`

const rootPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>paygate</title>
<style>` + rootCSS + `</style>
</head>
<body>
<main>
<h1>paygate is running</h1>
<p>A self-hosted payment gateway. From here:</p>
<ul>
<li><a href="/dashboard">The dashboard</a>: payments, refunds, balance, webhooks and keys, for a merchant's staff. In development the first start printed a demo user's email and password.</li>
<li><a href="/docs">The API reference</a> (Swagger UI), and the document it shows, <a href="/openapi.json">/openapi.json</a>.</li>
<li>First steps: the README's quick start, with the demo key the first start printed: <code>curl http://127.0.0.1:8080/v1/payments -H "Authorization: Bearer sk_test_…"</code>.</li>
</ul>
</main>
</body>
</html>
`

func handleRoot(log *slog.Logger) http.Handler {
	sum := sha256.Sum256([]byte(rootCSS))
	csp := fmt.Sprintf("default-src 'none'; style-src 'sha256-%s'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
		base64.StdEncoding.EncodeToString(sum[:]))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Accept"), "text/html") {
			respondErr(w, r, log, &apierror.Error{Kind: apierror.KindNotFound, Code: "route_not_found",
				Message: fmt.Sprintf("Unrecognized request URL (%s %s). The API is under /v1; its reference is at /docs.", r.Method, r.URL.Path)})
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", csp)
		h.Set("Vary", "Accept")
		_, _ = w.Write([]byte(rootPage))
	})
}
