package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestBuild(t *testing.T) {
	src := t.TempDir()
	reports := map[string]string{
		"GO-2024-0001.json": `{"id": "GO-2024-0001", "modified": "0001-01-01T00:00:00Z", "aliases": ["CVE-2024-1"],
			"affected": [{"package": {"name": "example.com/a", "ecosystem": "Go"}},
			             {"package": {"name": "example.com/a", "ecosystem": "Go"}},
			             {"package": {"name": "stdlib", "ecosystem": "Go"}}]}`,
		"GO-2023-0002.json": `{"id": "GO-2023-0002", "modified": "2023-05-06T07:08:09Z",
			"affected": [{"package": {"name": "example.com/a", "ecosystem": "Go"}}]}`,
		"README.md": "not a report",
	}
	for name, body := range reports {
		if err := os.WriteFile(filepath.Join(src, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "db")
	at := time.Date(2026, 11, 5, 23, 49, 57, 0, time.UTC)
	n, err := build(src, out, at)
	if err != nil || n != 2 {
		t.Fatalf("build = %d, %v", n, err)
	}

	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(out, name))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	if got, want := read("index/db.json"), `{"modified":"2026-11-05T23:49:57Z"}`; got != want {
		t.Errorf("db.json = %s, want %s", got, want)
	}
	want := `[{"path":"example.com/a","vulns":[{"id":"GO-2023-0002","modified":"2023-05-06T07:08:09Z"},` +
		`{"id":"GO-2024-0001","modified":"2026-11-05T23:49:57Z"}]},` +
		`{"path":"stdlib","vulns":[{"id":"GO-2024-0001","modified":"2026-11-05T23:49:57Z"}]}]`
	if got := read("index/modules.json"); got != want {
		t.Errorf("modules.json = %s\nwant %s", got, want)
	}
	var vulns []vuln
	if err := json.Unmarshal([]byte(read("index/vulns.json")), &vulns); err != nil || len(vulns) != 2 || vulns[1].Aliases[0] != "CVE-2024-1" {
		t.Errorf("vulns.json = %+v, %v", vulns, err)
	}
	if got := read("ID/GO-2023-0002.json"); got != strings.TrimSpace(reports["GO-2023-0002.json"]) {
		t.Errorf("report not copied as shipped: %s", got)
	}

	if _, err := build(src, out, at); err == nil {
		t.Error("build wrote over an existing database")
	}
	if err := os.WriteFile(filepath.Join(src, "GO-2024-0003.json"), []byte(`{"id": "GO-2024-0004"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := build(src, filepath.Join(t.TempDir(), "db"), at); err == nil {
		t.Error("build accepted a report whose id is not its file name")
	}
}
