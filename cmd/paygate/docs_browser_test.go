package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/paygate/paygate/internal/openapi"
	browsertest "github.com/paygate/paygate/internal/testutil/browser"
)

// TestDocsInBrowser uses Swagger UI at /docs as a person would, in
// headless Chromium: every operation of the document is listed, and with
// the demo key entered under "Authorize", "Try it out" on POST /v1/payments
// makes a payment.
func TestDocsInBrowser(t *testing.T) {
	chrome := browsertest.Find(t)

	s := startServe(t, map[string]string{"PAYGATE_ADDR": freeAddr(t), "PAYGATE_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "p.db")})
	key := keyPattern.FindString(s.stdout.String())
	if key == "" {
		t.Fatal("no demo key printed")
	}
	doc, err := openapi.Load()
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	slices.Sort(documented)

	b := openBrowser(t, chrome)
	const op = `#operations-Payments-createPayment`
	textarea := chromedp.CSS(op + ` textarea.body-param__text`)
	merchantAuth := `//div[contains(@class,"auth-container")][.//h4[contains(.,"merchantKey")]]`
	body := `{"amount":1000,"currency":"usd","confirm":true,"payment_method":{"type":"card","card":{"number":"4242424242424242","exp_month":12,"exp_year":2034,"cvc":"123"}}}`

	b.do("open /docs", chromedp.Navigate(s.url+"/docs"), chromedp.WaitVisible(chromedp.CSS(op)))
	listed := value(b, "list the operations", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll(".opblock"), b =>
		b.querySelector(".opblock-summary-method").textContent + " " +
		b.querySelector(".opblock-summary-path").getAttribute("data-path"))`))
	slices.Sort(listed)
	if !slices.Equal(listed, documented) {
		t.Errorf("Swagger UI lists\n  %s\nbut the document has\n  %s", strings.Join(listed, "\n  "), strings.Join(documented, "\n  "))
	}

	b.do("authorize",
		chromedp.Click(chromedp.CSS(`.auth-wrapper button.authorize`)),
		chromedp.SendKeys(merchantAuth+`//input`, key),
		chromedp.Click(merchantAuth+`//button[contains(@class,"authorize")]`),
		chromedp.WaitVisible(merchantAuth+`//h6[contains(.,"Authorized")]`),
		chromedp.Click(chromedp.CSS(`.modal-ux button.close-modal`)),
		chromedp.WaitNotPresent(chromedp.CSS(`.modal-ux`)),
	)
	b.do("try it out",
		chromedp.Click(chromedp.CSS(op+` .opblock-summary-control`)),
		chromedp.Click(chromedp.CSS(op+` button.try-out__btn`)),
		chromedp.WaitVisible(textarea),
		// Pasting over the selected example, as a person would: typing it
		// key by key re-renders Swagger UI on every key and takes seconds.
		chromedp.Focus(textarea),
		chromedp.Evaluate[chromedp.Void](`document.activeElement.select()`),
		paste(body),
	)
	if typed := value(b, "read the request body", chromedp.Value(textarea)); typed != body {
		t.Fatalf("request body typed into Swagger UI: %q", typed)
	}
	b.do("execute",
		chromedp.Click(chromedp.CSS(op+` button.execute`)),
		chromedp.WaitVisible(chromedp.CSS(op+` .live-responses-table tr.response .response-col_status`)),
	)
	status := value(b, "read the status", chromedp.Text(chromedp.CSS(op+` .live-responses-table tr.response .response-col_status`)))
	response := value(b, "read the response", chromedp.Text(chromedp.CSS(op+` .live-responses-table tr.response .response-col_description pre`)))
	var p struct{ ID, Status string }
	if err := json.Unmarshal([]byte(response), &p); strings.TrimSpace(status) != "201" || err != nil || !strings.HasPrefix(p.ID, "pay_") || p.Status != "succeeded" {
		t.Errorf("Try it out: status %q, body %s (%v)", status, response, err)
	}
	if errs := b.pageErrors(); len(errs) > 0 {
		t.Errorf("errors on the page:\n  %s", strings.Join(errs, "\n  "))
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
}

// browser is a headless Chromium tab that records what goes wrong on the
// page: an exception, a console error, or a resource the
// Content-Security-Policy blocked.
type browser struct {
	t    *testing.T
	ctx  context.Context
	mu   sync.Mutex
	errs []string
}

func openBrowser(t *testing.T, chrome string, also ...func(ev any)) *browser {
	t.Helper()
	b := &browser{t: t}
	b.ctx = browsertest.Start(t, chrome, func(ev any) {
		for _, f := range also {
			f(ev)
		}
		b.mu.Lock()
		defer b.mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			if d.Exception != nil {
				b.errs = append(b.errs, "exception: "+d.Exception.Description)
			} else {
				b.errs = append(b.errs, "exception: "+d.Text)
			}
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				b.errs = append(b.errs, "console.error: "+strings.Join(args, " "))
			}
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError {
				b.errs = append(b.errs, "log: "+ev.Entry.Text+" "+ev.Entry.URL)
			}
		}
	})
	return b
}

func (b *browser) pageErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.errs)
}

// fail stops the test, keeping a screenshot (go test -artifacts keeps it).
func (b *browser) fail(step string, err error) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	if shot, serr := chromedp.Run(ctx, chromedp.FullScreenshot(100)); serr == nil {
		name := filepath.Join(b.t.ArtifactDir(), "docs.png")
		if os.WriteFile(name, shot, 0o644) == nil {
			b.t.Logf("screenshot: %s", name)
		}
	}
	b.t.Fatalf("%s: %v\npage errors: %v", step, err, b.pageErrors())
}

// do runs one step of the scenario; every step has a time limit, so a page
// that never shows what the test waits for fails the test instead of
// hanging it.
func (b *browser) do(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fail(step, err)
	}
}

// paste inserts text where the caret is, in one input event.
func paste(text string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, t, input.InsertText, input.InsertTextParams{Text: text})
		return chromedp.Void{}, err
	}
}

func value[T any](b *browser, step string, action chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, action)
	if err != nil {
		b.fail(step, err)
	}
	return v
}
