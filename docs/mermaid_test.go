package docs

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/paygate/paygate/internal/testutil/browser"
)

// The documents that must show a diagram; every other Markdown file of
// docs/ is rendered too when it has one.
var diagramFiles = []string{"design.md", "../README.md"}

// TestMermaidDiagramsRender renders every ```mermaid block of the README
// and of the Markdown files in docs/ with mermaid itself, in headless Chromium, as
// GitHub does when it shows them: a diagram with a syntax error shows there
// as an error box instead of a picture, which no other check would see.
//
// The mermaid bundle comes from npm through .ci/mermaid, which pins its
// version; PAYGATE_MERMAID_JS names it.
func TestMermaidDiagramsRender(t *testing.T) {
	bundle := os.Getenv("PAYGATE_MERMAID_JS")
	if bundle == "" {
		if os.Getenv("CI") != "" {
			t.Fatal(`PAYGATE_MERMAID_JS is not set: run export PAYGATE_MERMAID_JS="$(bash .ci/mermaid)" first (.ci/run does)`)
		}
		t.Skip(`PAYGATE_MERMAID_JS is not set; export PAYGATE_MERMAID_JS="$(bash .ci/mermaid)" to render the diagrams`)
	}
	chrome := browser.Find(t)
	js, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatalf("PAYGATE_MERMAID_JS: %v", err)
	}

	others, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	var diagrams []block
	for _, name := range union(diagramFiles, others) {
		blocks := fencedBlocks(readDoc(t, name), "mermaid")
		if len(blocks) == 0 && slices.Contains(diagramFiles, name) {
			t.Errorf("%s has no mermaid diagram", name)
		}
		for _, b := range blocks {
			b.file = name
			diagrams = append(diagrams, b)
		}
	}
	texts := make([]string, len(diagrams))
	for i, d := range diagrams {
		texts[i] = d.text
	}
	arg, err := json.Marshal(texts)
	if err != nil {
		t.Fatal(err)
	}

	ctx := browser.Start(t, chrome, nil)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](string(js))); err != nil {
		t.Fatalf("load %s: %v", bundle, err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[string](`typeof mermaid.render`)); err != nil {
		t.Fatalf("%s did not define mermaid: %v", bundle, err)
	}
	// Diagrams are rendered one after another: mermaid keeps state between
	// renders, and its documentation warns against running them at once.
	// An empty string is a diagram that rendered; anything else is why not.
	problems, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`(async (diagrams) => {
		mermaid.initialize({ startOnLoad: false, securityLevel: "strict", suppressErrorRendering: true, logLevel: "fatal" });
		const out = [];
		for (const [i, text] of diagrams.entries()) {
			try {
				const { svg } = await mermaid.render("diagram" + i, text);
				// The root element's own attribute: the SVG is not always well-formed
				// XML (labels hold HTML), so it is not parsed.
				const box = (/^<svg[^>]*\sviewBox="([^"]*)"/.exec(svg) || [])[1] || "";
				const [, , w, h] = box.split(/[\s,]+/).map(Number);
				out.push(w > 0 && h > 0 ? "" : "rendered an empty picture (viewBox " + JSON.stringify(box) + ")");
			} catch (e) {
				out.push(String((e && e.message) || e));
			}
		}
		return out;
	})(`+string(arg)+`)`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	if len(problems) != len(diagrams) {
		t.Fatalf("mermaid answered for %d of %d diagrams", len(problems), len(diagrams))
	}
	rendered := 0
	for i, p := range problems {
		if p == "" {
			rendered++
			continue
		}
		// A parse error's first lines point at the fault; the rest lists
		// every token the parser would have taken.
		lines := strings.Split(p, "\n")
		d := diagrams[i]
		t.Errorf("%s:%d: the diagram %q does not render (%s):\n%s", d.file, d.line, d.firstLine(), bundle, strings.Join(lines[:min(len(lines), 3)], "\n"))
	}
	t.Logf("%d of %d diagrams rendered with %s", rendered, len(diagrams), bundle)
}

// block is a fenced code block of a Markdown file.
type block struct {
	file string
	line int // of its first line of content, 1-based
	text string
}

func (b block) firstLine() string {
	first, _, _ := strings.Cut(strings.TrimSpace(b.text), "\n")
	return strings.TrimSpace(first)
}
