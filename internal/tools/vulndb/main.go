// Command vulndb builds a local copy of the Go vulnerability database for
// govulncheck's -db file://DIR, from the OSV reports that the
// golang.org/x/vulndb module ships in data/osv. Its one use is .ci/govulncheck,
// for machines that reach the Go module proxy but not the database's own
// server.
//
// The output follows the database's documented v1 layout:
//
//	index/db.json       {"modified": T}
//	index/modules.json  [{"path": M, "vulns": [{"id": ID, "modified": T}]}]
//	index/vulns.json    [{"id": ID, "modified": T, "aliases": [...]}]
//	ID/<ID>.json        the report, as shipped
//
// The optional "fixed" hint of modules.json is left out: without it
// govulncheck reads every report of a module it uses and decides from the
// report's ranges, which is always right, only slower.
//
// The reports in the module carry no dates (the database's own generator
// takes them from the repository's history), so T is the -modified time
// given, the module version's commit time: the data is at least that fresh.
//
// Usage:
//
//	go run ./internal/tools/vulndb -src MODULE_DIR/data/osv -modified 2026-01-02T03:04:05Z -out DIR
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// report holds the fields of an OSV report that the indexes need.
type report struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Aliases  []string  `json:"aliases"`
	Affected []struct {
		Package struct {
			Name      string `json:"name"`
			Ecosystem string `json:"ecosystem"`
		} `json:"package"`
	} `json:"affected"`
}

type moduleVuln struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
}

type module struct {
	Path  string       `json:"path"`
	Vulns []moduleVuln `json:"vulns"`
}

type vuln struct {
	ID       string    `json:"id"`
	Modified time.Time `json:"modified"`
	Aliases  []string  `json:"aliases,omitempty"`
}

// The database's ids; anything else in data/osv is not a report.
var idPattern = regexp.MustCompile(`^GO-\d{4}-\d{4,}$`)

func main() {
	src := flag.String("src", "", "the data/osv directory of a golang.org/x/vulndb module")
	out := flag.String("out", "", "directory to write the database to; must not exist")
	modified := flag.String("modified", "", "time the data was last modified (RFC 3339)")
	flag.Parse()
	if *src == "" || *out == "" || *modified == "" || flag.NArg() != 0 {
		flag.Usage()
		os.Exit(2)
	}
	t, err := time.Parse(time.RFC3339, *modified)
	if err != nil {
		log.Fatalf("-modified: %v", err)
	}
	n, err := build(*src, *out, t.UTC())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("vulndb: %d reports written to %s\n", n, *out)
}

// build converts the reports in src into a database in out and returns
// how many reports it holds.
func build(src, out string, modified time.Time) (int, error) {
	files, err := filepath.Glob(filepath.Join(src, "*.json"))
	if err != nil {
		return 0, err
	}
	if len(files) == 0 {
		return 0, fmt.Errorf("no reports in %s", src)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		return 0, fmt.Errorf("%s exists; the database is written only whole, into a new directory", out)
	}
	for _, d := range []string{"index", "ID"} {
		if err := os.MkdirAll(filepath.Join(out, d), 0o755); err != nil {
			return 0, err
		}
	}

	modules := map[string]*module{}
	var vulns []vuln
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return 0, err
		}
		var r report
		if err := json.Unmarshal(b, &r); err != nil {
			return 0, fmt.Errorf("%s: %v", f, err)
		}
		if !idPattern.MatchString(r.ID) || filepath.Base(f) != r.ID+".json" {
			return 0, fmt.Errorf("%s: report id %q does not match its file name", f, r.ID)
		}
		if r.Modified.IsZero() {
			r.Modified = modified
		}
		seen := map[string]bool{}
		for _, a := range r.Affected {
			p := a.Package.Name
			if a.Package.Ecosystem != "Go" || p == "" || seen[p] {
				continue
			}
			seen[p] = true
			if modules[p] == nil {
				modules[p] = &module{Path: p}
			}
			modules[p].Vulns = append(modules[p].Vulns, moduleVuln{ID: r.ID, Modified: r.Modified})
		}
		vulns = append(vulns, vuln{ID: r.ID, Modified: r.Modified, Aliases: r.Aliases})
		if err := os.WriteFile(filepath.Join(out, "ID", r.ID+".json"), b, 0o644); err != nil {
			return 0, err
		}
	}

	mods := make([]*module, 0, len(modules))
	for _, m := range modules {
		slices.SortFunc(m.Vulns, func(a, b moduleVuln) int { return strings.Compare(a.ID, b.ID) })
		mods = append(mods, m)
	}
	slices.SortFunc(mods, func(a, b *module) int { return strings.Compare(a.Path, b.Path) })
	slices.SortFunc(vulns, func(a, b vuln) int { return strings.Compare(a.ID, b.ID) })

	for name, v := range map[string]any{
		"db.json":      map[string]time.Time{"modified": modified},
		"modules.json": mods,
		"vulns.json":   vulns,
	} {
		var buf bytes.Buffer
		if err := json.NewEncoder(&buf).Encode(v); err != nil {
			return 0, err
		}
		if err := os.WriteFile(filepath.Join(out, "index", name), buf.Bytes(), 0o644); err != nil {
			return 0, err
		}
	}
	return len(vulns), nil
}
