package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadmeFirstPayment runs the README's first-payment curl lines against
// a fresh server started the README's way (development mode, SQLite, demo key).
func TestReadmeFirstPayment(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		// CI installs curl (.ci/run): there, the README's lines must run.
		if os.Getenv("CI") != "" {
			t.Fatalf("curl not installed, and CI is set: the README's first payment must be tested in CI (%v)", err)
		}
		t.Skip("curl not installed")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, block, ok := strings.Cut(string(readme), "<!-- first-payment -->")
	block, _, ok2 := strings.Cut(block, "<!-- /first-payment -->")
	if !ok || !ok2 {
		t.Fatal("README has no first-payment block")
	}
	script := strings.TrimSpace(block)
	script = strings.TrimSuffix(strings.TrimPrefix(script, "```sh"), "```")

	vars := map[string]string{"PAYGATE_ADDR": freeAddr(t), "PAYGATE_DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "paygate.db")}
	s := startServe(t, vars)
	key := keyPattern.FindString(s.stdout.String())
	if key == "" {
		t.Fatal("no demo key printed")
	}
	script = strings.ReplaceAll(script, "http://127.0.0.1:8080", s.url)
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Env = append(os.Environ(), "PAYGATE_KEY="+key)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("README curl lines: %v\n%s", err, out)
	}
	var p map[string]any
	if err := json.Unmarshal(out, &p); err != nil || p["status"] != "succeeded" || !strings.HasPrefix(p["id"].(string), "pay_") {
		t.Fatalf("README payment: %v %s", err, out)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
}
