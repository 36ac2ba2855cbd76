package main

import (
	"bytes"
	"debug/elf"
	goversion "go/version"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// dockerBuildLine returns the environment assignments and the arguments of
// the Dockerfile's `go build` command, continuation lines joined.
func dockerBuildLine(t *testing.T, dockerfile string) (env, args []string) {
	t.Helper()
	logical := strings.ReplaceAll(dockerfile, "\\\n", " ")
	for _, line := range strings.Split(logical, "\n") {
		if !strings.Contains(line, " go build ") || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		words := shellWords(t, line)
		for i := 0; i+1 < len(words); i++ {
			if words[i] == "go" && words[i+1] == "build" {
				for j := i - 1; j >= 0 && regexp.MustCompile(`^[A-Z_][A-Z0-9_]*=`).MatchString(words[j]); j-- {
					env = append(env, words[j])
				}
				return env, words[i+2:]
			}
		}
	}
	t.Fatal("Dockerfile: no `go build` command found")
	return nil, nil
}

// shellWords splits a command line the way the shell would for the simple
// quoting a Dockerfile RUN line uses.
func shellWords(t *testing.T, s string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		t.Fatalf("Dockerfile: unbalanced quote in %q", s)
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// TestDockerfileBinaryHealthcheck builds paygate with exactly the flags of
// the Dockerfile, checks that the result is static and version-stamped, and
// runs its `healthcheck` (the image's HEALTHCHECK) against a live server,
// with the address form the image sets (0.0.0.0:PORT) and with nothing
// listening.
func TestDockerfileBinaryHealthcheck(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	dockerfile := string(raw)

	// The image's contract, as the issue and the README state it.
	for _, want := range []string{
		`CMD ["/paygate", "healthcheck"]`, // exec form: the runtime image has no shell
		"USER 65532:65532",
		"gcr.io/distroless/static",
		"PAYGATE_ADDR=0.0.0.0:8080",
	} {
		if !strings.Contains(dockerfile, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	goMod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	modGo := regexp.MustCompile(`(?m)^go (\S+)$`).FindStringSubmatch(string(goMod))
	imgGo := regexp.MustCompile(`(?m)^FROM .*golang:(\d+\.\d+(?:\.\d+)?)`).FindStringSubmatch(dockerfile)
	if modGo == nil || imgGo == nil {
		t.Fatalf("cannot read the Go versions: go.mod %v, Dockerfile %v", modGo, imgGo)
	}
	if goversion.Compare("go"+imgGo[1], "go"+modGo[1]) < 0 {
		t.Errorf("Dockerfile builds with Go %s, older than go.mod's %s", imgGo[1], modGo[1])
	}

	env, args := dockerBuildLine(t, dockerfile)
	if !slices.Contains(env, "CGO_ENABLED=0") {
		t.Errorf("Dockerfile go build: no CGO_ENABLED=0 in %v", env)
	}
	if !slices.Contains(args, "-trimpath") {
		t.Errorf("Dockerfile go build: no -trimpath in %v", args)
	}
	const stamp = "dockerfile-test"
	bin := filepath.Join(t.TempDir(), "paygate")
	var buildArgs []string
	sawVersion := false
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "-o" && i+1 < len(args) {
			buildArgs = append(buildArgs, "-o", bin)
			i++
			continue
		}
		if strings.Contains(a, "-X main.version=${VERSION}") {
			sawVersion = true
		}
		a = strings.ReplaceAll(a, "${VERSION}", stamp)
		if strings.Contains(a, "$") {
			t.Fatalf("Dockerfile go build: cannot expand %q", a)
		}
		buildArgs = append(buildArgs, a)
	}
	if !sawVersion {
		t.Errorf("Dockerfile go build: -ldflags does not stamp -X main.version=${VERSION}: %v", args)
	}
	// GOOS/GOARCH are the image's target platform; here the host's is wanted.
	build := exec.Command("go", append([]string{"build"}, buildArgs...)...)
	build.Dir = root
	build.Env = os.Environ()
	for _, e := range env {
		if !strings.HasPrefix(e, "GOOS=") && !strings.HasPrefix(e, "GOARCH=") {
			build.Env = append(build.Env, e)
		}
	}
	t.Logf("go build %s", strings.Join(buildArgs, " "))
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary is dynamically linked; distroless/static has no C library")
		}
	}
	f.Close()

	out, err := exec.Command(bin, "version").Output()
	if err != nil || strings.TrimSpace(string(out)) != "paygate "+stamp {
		t.Errorf("version: %q, %v; want %q", out, err, "paygate "+stamp)
	}

	dir := t.TempDir()
	addr := freeAddr(t)
	startProcess(t, bin, map[string]string{
		"PAYGATE_ADDR":         addr,
		"PAYGATE_DATABASE_URL": "sqlite:" + filepath.Join(dir, "paygate.db"),
		"PAYGATE_LOG_LEVEL":    "warn",
	}, "PAYGATE_ADDR", "serve")

	healthcheck := func(addr string) (string, error) {
		cmd := exec.Command(bin, "healthcheck")
		cmd.Env = []string{"PAYGATE_ADDR=" + addr}
		var buf bytes.Buffer
		cmd.Stdout, cmd.Stderr = &buf, &buf
		err := cmd.Run()
		return buf.String(), err
	}
	if out, err := healthcheck(addr); err != nil {
		t.Errorf("healthcheck against a ready server: %v\n%s", err, out)
	}
	_, port, _ := strings.Cut(addr, ":")
	if out, err := healthcheck("0.0.0.0:" + port); err != nil {
		t.Errorf("healthcheck with the image's PAYGATE_ADDR form 0.0.0.0:%s: %v\n%s", port, err, out)
	}
	if out, err := healthcheck(freeAddr(t)); err == nil {
		t.Errorf("healthcheck with no server succeeded: %s", out)
	}
}
