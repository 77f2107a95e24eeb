// Package pgcluster runs throwaway PostgreSQL clusters for chaos tests
// (docs/reliability.md #17): initdb into a temporary directory, pg_ctl on a free
// port, and a real restart under load. As root, the server binaries run as
// the postgres user (initdb refuses root). A machine without the server
// binaries skips the test.
package pgcluster

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// Cluster is one running throwaway cluster.
type Cluster struct {
	// Port is the TCP port it listens on, at 127.0.0.1.
	Port int

	bin  string // directory of initdb and pg_ctl
	dir  string // owns data/, the socket and the log
	user string // run the binaries as this user ("" = as ourselves)
}

// Start initialises and starts a cluster (trust authentication, user
// postgres) and stops and removes it when the test ends.
func Start(t testing.TB) *Cluster {
	t.Helper()
	bin := binDir()
	if bin == "" {
		t.Skip("pgcluster: no PostgreSQL server binaries (initdb, pg_ctl) found")
	}
	c := &Cluster{bin: bin, Port: freePort(t)}
	dir, err := os.MkdirTemp("", "gamepipe-pgcluster-")
	if err != nil {
		t.Fatalf("pgcluster: %v", err)
	}
	c.dir = dir
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skip("pgcluster: running as root and there is no postgres user to run the server as")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatalf("pgcluster: %v", err)
		}
		c.user = "postgres"
	}
	c.run(t, "initdb", "-D", c.data(), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
	c.pgctl(t, "start")
	t.Cleanup(func() { _ = c.command("pg_ctl", "-D", c.data(), "-m", "immediate", "-w", "stop").Run() })
	return c
}

// URL connects to database db.
func (c *Cluster) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.Port, db)
}

// Restart is pg_ctl restart -m fast: every connection is closed, the
// server shuts down cleanly and starts again on the same port.
func (c *Cluster) Restart(t testing.TB) {
	t.Helper()
	c.pgctl(t, "restart", "-m", "fast")
}

// Stop is pg_ctl stop -m fast: every connection is closed and the server
// stays down until Resume.
func (c *Cluster) Stop(t testing.TB) {
	t.Helper()
	c.pgctl(t, "stop", "-m", "fast")
}

// Resume starts a stopped cluster again on the same port.
func (c *Cluster) Resume(t testing.TB) {
	t.Helper()
	c.pgctl(t, "start")
}

func (c *Cluster) data() string { return filepath.Join(c.dir, "data") }

func (c *Cluster) pgctl(t testing.TB, action string, args ...string) {
	t.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100", c.Port, c.dir)
	c.run(t, "pg_ctl", append([]string{"-D", c.data(), "-l", filepath.Join(c.dir, "log"), "-o", opts, "-w", "-t", "60", action}, args...)...)
}

func (c *Cluster) run(t testing.TB, name string, args ...string) {
	t.Helper()
	if out, err := c.command(name, args...).CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.dir, "log"))
		t.Fatalf("pgcluster: %s %s: %v\n%s\n%s", name, strings.Join(args, " "), err, out, log)
	}
}

func (c *Cluster) command(name string, args ...string) *exec.Cmd {
	path := filepath.Join(c.bin, name)
	if c.user == "" {
		return exec.Command(path, args...)
	}
	return exec.Command("runuser", append([]string{"-u", c.user, "--", path}, args...)...)
}

// binDir finds initdb and pg_ctl: pg_config's bindir, then the newest
// /usr/lib/postgresql/<version>/bin.
func binDir() string {
	has := func(dir string) bool {
		_, err1 := os.Stat(filepath.Join(dir, "initdb"))
		_, err2 := os.Stat(filepath.Join(dir, "pg_ctl"))
		return err1 == nil && err2 == nil
	}
	if out, err := exec.Command("pg_config", "--bindir").Output(); err == nil {
		if dir := strings.TrimSpace(string(out)); has(dir) {
			return dir
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, dir := range dirs {
		if has(dir) {
			return dir
		}
	}
	return ""
}

func version(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("pgcluster: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
