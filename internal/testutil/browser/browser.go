// Package browser starts headless Chromium for the tests that use a page
// as a person would (Swagger UI, the customer pages, diagram rendering).
package browser

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Find returns the browser to drive: Debian's Chromium, another
// distribution's name for it, or the Chrome that hosted CI runners ship.
// Without one the test is skipped, or fails under CI, which installs it.
func Find(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed (.ci/run installs it)")
	}
	t.Skip("chromium is not installed")
	return ""
}

// Start starts headless Chromium with a blank tab and returns the tab's
// context; the test's end closes the tab and ends the browser process.
// listen, when not nil, hears every event of the tab from the start.
func Start(t testing.TB, chrome string, listen func(ev any)) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chrome), chromedp.WindowSize(1280, 1024))
	if os.Geteuid() == 0 {
		// Chromium's sandbox does not run as root, and CI runs as root.
		opts = append(opts, chromedp.NoSandbox)
	}
	ctx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelTab := chromedp.NewContext(ctx)
	t.Cleanup(cancelTab)
	// The browser lives as long as the context of its first use, so that
	// use cannot have a deadline of its own: a watchdog bounds the start.
	watchdog := time.AfterFunc(30*time.Second, cancelAlloc)
	defer watchdog.Stop()
	var err error
	if listen != nil {
		err = chromedp.Listen(ctx, listen)
	} else {
		err = chromedp.Do(ctx)
	}
	if err != nil {
		t.Fatalf("start %s: %v", chrome, err)
	}
	return ctx
}
