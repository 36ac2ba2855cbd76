// Package pgcluster starts a private PostgreSQL server for a test that must
// restart, stop or fail over its database: initdb into a temporary
// directory and pg_ctl on a free loopback port, with the Debian binaries
// (the newest of /usr/lib/postgresql/*/bin, or the directory named by
// PAYGATE_PG_BIN). The shared test server is never touched. PostgreSQL
// refuses to run as root, so under root (CI) every command runs as the
// postgres user; otherwise as the current user. Every server is stopped,
// immediately, when the test ends.
package pgcluster

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Stop modes of pg_ctl.
const (
	Fast      = "fast"      // disconnects clients, checkpoints, exits
	Immediate = "immediate" // exits at once, as in a crash: recovery at the next start
)

// Cluster is one PostgreSQL server (a data directory and its port).
type Cluster struct {
	t    testing.TB
	bin  string
	dir  string // data directory
	port int
	cred *syscall.Credential // nil: run as the current user
	name string              // application_name of a replica
}

// Bin finds the PostgreSQL binaries, or "" when there are none.
func Bin() string {
	if d := os.Getenv("PAYGATE_PG_BIN"); d != "" {
		return d
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	// Versions sort numerically: 9.6 < 15 < 16.
	slices.SortFunc(dirs, func(a, b string) int { return version(a) - version(b) })
	for i := len(dirs) - 1; i >= 0; i-- {
		if _, err := os.Stat(filepath.Join(dirs[i], "initdb")); err == nil {
			return dirs[i]
		}
	}
	return ""
}

func version(binDir string) int {
	v, _, _ := strings.Cut(filepath.Base(filepath.Dir(binDir)), ".")
	n, _ := strconv.Atoi(v)
	return n
}

// Require skips the test when the PostgreSQL binaries are missing, except
// under CI (CI set), where it fails: CI must run the tests that need them.
func Require(t testing.TB) string {
	t.Helper()
	bin := Bin()
	if bin == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("pgcluster: no PostgreSQL binaries (/usr/lib/postgresql/*/bin), and CI is set: these tests must run in CI")
		}
		t.Skip("pgcluster: no PostgreSQL binaries (/usr/lib/postgresql/*/bin)")
	}
	return bin
}

// Start initializes and starts a new server, trusting every loopback
// connection, and stops it when the test ends.
func Start(t testing.TB) *Cluster {
	t.Helper()
	c := newCluster(t, Require(t))
	c.run("initdb", "-D", c.dir, "-U", "postgres", "-A", "trust", "--no-sync", "--encoding=UTF8", "--locale=C")
	c.configure(map[string]string{
		"listen_addresses":        "'127.0.0.1'",
		"unix_socket_directories": "''",
		// Durability against a process crash needs no fsync (the kernel
		// keeps the pages); it costs the shared disk nothing.
		"fsync":              "off",
		"synchronous_commit": "on",
		"max_connections":    "100",
		"wal_level":          "replica",
		"max_wal_senders":    "5",
		"log_min_messages":   "warning",
	})
	// The free port may be taken between freePort and the server's bind:
	// then another one.
	for range 3 {
		err := c.TryStart()
		if err == nil {
			return c
		}
		if !strings.Contains(err.Error(), "could not bind") && !strings.Contains(err.Error(), "already in use") {
			t.Fatal(err)
		}
		c.port = freePort(t)
	}
	c.Start()
	return c
}

// newCluster makes an empty data directory owned by the user the server
// runs as. It is under the system's temporary directory, not t.TempDir:
// the postgres user cannot enter a root-owned test directory.
func newCluster(t testing.TB, bin string) *Cluster {
	t.Helper()
	c := &Cluster{t: t, bin: bin, port: freePort(t)}
	sweep(bin)
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("pgcluster: running as root needs a postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	dir, err := os.MkdirTemp("", "pgcluster-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	c.dir = filepath.Join(dir, "data")
	if err := os.Mkdir(c.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if c.cred != nil {
		for _, d := range []string{dir, c.dir} {
			if err := os.Chown(d, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Registered after the removal, so it runs before it: the server stops
	// first, whatever the test did.
	t.Cleanup(c.kill)
	return c
}

// ownerFile holds the PID of the test process that made a cluster.
const ownerFile = "owner.pid"

// sweep stops and removes the clusters of test processes that died without
// their cleanups (a test binary killed at its -timeout): pg_ctl starts a
// server that outlives the process that started it.
func sweep(bin string) {
	owners, _ := filepath.Glob(filepath.Join(os.TempDir(), "pgcluster-*", ownerFile))
	for _, f := range owners {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 1 || syscall.Kill(pid, 0) != syscall.ESRCH {
			continue // its test still runs
		}
		dir := filepath.Dir(f)
		left := &Cluster{bin: bin, dir: filepath.Join(dir, "data")}
		if fi, err := os.Stat(left.dir); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != uint32(os.Geteuid()) {
				left.cred = &syscall.Credential{Uid: st.Uid, Gid: st.Gid}
			}
		}
		left.kill()
		_ = os.RemoveAll(dir)
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// configure appends settings to postgresql.auto.conf, which is read last.
func (c *Cluster) configure(settings map[string]string) {
	c.t.Helper()
	f, err := os.OpenFile(filepath.Join(c.dir, "postgresql.auto.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		c.t.Fatal(err)
	}
	defer f.Close()
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if _, err := fmt.Fprintf(f, "%s = %s\n", k, settings[k]); err != nil {
			c.t.Fatal(err)
		}
	}
}

// command is a PostgreSQL program run as the server's user.
func (c *Cluster) command(prog string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(c.bin, prog), args...)
	cmd.Env = []string{"PATH=" + c.bin + ":/usr/bin:/bin", "LC_ALL=C", "PGCONNECT_TIMEOUT=5"}
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	cmd.Dir = filepath.Dir(c.dir)
	return cmd
}

func (c *Cluster) run(prog string, args ...string) {
	c.t.Helper()
	if err := c.try(prog, args...); err != nil {
		c.t.Fatal(err)
	}
}

// try runs a program; for any goroutine (it does not call t.Fatal).
func (c *Cluster) try(prog string, args ...string) error {
	out, err := c.command(prog, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pgcluster: %s %s: %v\n%s%s", prog, strings.Join(args, " "), err, out, c.logTail())
	}
	return nil
}

func (c *Cluster) logFile() string { return filepath.Join(filepath.Dir(c.dir), "server.log") }

func (c *Cluster) logTail() string {
	b, _ := os.ReadFile(c.logFile())
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// Port is the server's port on 127.0.0.1.
func (c *Cluster) Port() int { return c.port }

// Host is the server's host:port.
func (c *Cluster) Host() string { return "127.0.0.1:" + strconv.Itoa(c.port) }

// URL is a connection URL of the server's postgres database.
func (c *Cluster) URL() string {
	return "postgres://postgres@" + c.Host() + "/postgres?sslmode=disable"
}

// Start starts the server, waiting until it accepts connections.
func (c *Cluster) Start() {
	c.t.Helper()
	if err := c.TryStart(); err != nil {
		c.t.Fatal(err)
	}
}

// TryStart is Start for a goroutine other than the test's.
func (c *Cluster) TryStart() error {
	return c.try("pg_ctl", "start", "-w", "-t", "60", "-D", c.dir, "-l", c.logFile(), "-o", "-p "+strconv.Itoa(c.port))
}

// Stop stops the server in mode (Fast or Immediate).
func (c *Cluster) Stop(mode string) {
	c.t.Helper()
	if err := c.TryStop(mode); err != nil {
		c.t.Fatal(err)
	}
}

// TryStop is Stop for a goroutine other than the test's.
func (c *Cluster) TryStop(mode string) error {
	return c.try("pg_ctl", "stop", "-w", "-t", "60", "-m", mode, "-D", c.dir)
}

// Restart stops the server in mode and starts it again.
func (c *Cluster) Restart(mode string) {
	c.t.Helper()
	c.Stop(mode)
	c.Start()
}

// kill stops the server at the end of the test, if it runs: pg_ctl, and
// failing that SIGKILL to the postmaster's PID.
func (c *Cluster) kill() {
	if _, err := os.Stat(filepath.Join(c.dir, "postmaster.pid")); err != nil {
		return
	}
	if c.try("pg_ctl", "stop", "-w", "-t", "10", "-m", Immediate, "-D", c.dir) == nil {
		return
	}
	b, err := os.ReadFile(filepath.Join(c.dir, "postmaster.pid"))
	if err != nil {
		return
	}
	first, _, _ := strings.Cut(string(b), "\n")
	if pid, err := strconv.Atoi(strings.TrimSpace(first)); err == nil && pid > 1 {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// Replica makes a streaming replica of c with pg_basebackup -R, starts it,
// and makes it c's synchronous standby: a commit acknowledged by c is on
// the replica too. It is stopped when the test ends.
func (c *Cluster) Replica() *Cluster {
	c.t.Helper()
	return c.replica(0)
}

// ReplicaAt is Replica on the port of old, a server that is stopped: a
// client given a fixed list of hosts finds a replica where a dead primary
// was.
func (c *Cluster) ReplicaAt(old *Cluster) *Cluster {
	c.t.Helper()
	return c.replica(old.port)
}

func (c *Cluster) replica(port int) *Cluster {
	c.t.Helper()
	r := newCluster(c.t, c.bin)
	if port != 0 {
		r.port = port
	}
	r.name = "replica" + strconv.Itoa(r.port)
	if err := os.Remove(r.dir); err != nil { // pg_basebackup makes it
		c.t.Fatal(err)
	}
	c.run("pg_basebackup", "-h", "127.0.0.1", "-p", strconv.Itoa(c.port), "-U", "postgres", "-D", r.dir,
		"-R", "-X", "stream", "-c", "fast", "--no-sync")
	r.configure(map[string]string{
		"primary_conninfo": fmt.Sprintf("'host=127.0.0.1 port=%d user=postgres application_name=%s'", c.port, r.name),
	})
	r.Start()
	c.exec(`ALTER SYSTEM SET synchronous_standby_names = '` + r.name + `'`)
	c.exec(`SELECT pg_reload_conf()`)
	deadline := time.Now().Add(30 * time.Second)
	for c.query(`SELECT count(*) FROM pg_stat_replication WHERE application_name = '`+r.name+`' AND sync_state = 'sync'`) != "1" {
		if time.Now().After(deadline) {
			c.t.Fatalf("pgcluster: the replica is not a synchronous standby after 30 s\n%s", r.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return r
}

// Promote makes a replica the primary, waiting until it accepts writes.
func (c *Cluster) Promote() {
	c.t.Helper()
	if err := c.TryPromote(); err != nil {
		c.t.Fatal(err)
	}
}

// TryPromote is Promote for a goroutine other than the test's.
func (c *Cluster) TryPromote() error {
	return c.try("pg_ctl", "promote", "-w", "-t", "60", "-D", c.dir)
}

func (c *Cluster) exec(sql string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL())
	if err != nil {
		c.t.Fatalf("pgcluster: connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		c.t.Fatalf("pgcluster: %s: %v", sql, err)
	}
}

// query runs sql and answers its first column of its first row as text.
func (c *Cluster) query(sql string) string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.URL())
	if err != nil {
		c.t.Fatalf("pgcluster: connect: %v", err)
	}
	defer conn.Close(ctx)
	var v any
	if err := conn.QueryRow(ctx, sql).Scan(&v); err != nil {
		c.t.Fatalf("pgcluster: %s: %v", sql, err)
	}
	return fmt.Sprint(v)
}
