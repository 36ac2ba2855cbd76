package dashboard

import (
	"embed"
	"io/fs"

	"github.com/paygate/paygate/internal/webassets"
)

// The dashboard's static files (its stylesheet and script, and the
// vendored htmx and uPlot, see static/VENDORED.md) are embedded in the
// binary and served by the shared webassets package, as the checkout
// page's and /docs' are: at /dashboard/static/{name}?v={a hash of the
// content}, cached for a year under that URL, gzip-compressed once and
// kept.

//go:embed static
var staticFiles embed.FS

// assetPrefix is where the static files are served.
const assetPrefix = "/dashboard/static/"

func loadAssets() *webassets.Set {
	sub, err := fs.Sub(staticFiles, "static")
	if err != nil {
		panic("dashboard: " + err.Error()) // embedded: only a broken build gets here
	}
	set, err := webassets.New(assetPrefix, sub, nil)
	if err != nil {
		panic("dashboard: " + err.Error())
	}
	return set
}
