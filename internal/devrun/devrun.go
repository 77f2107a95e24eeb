// Package devrun is what `make run` runs: the whole gamepipe stack on one
// machine, from the binaries in ./bin, in one terminal.
//
// In order, it:
//
//  1. decides on NATS: the server at NATS_URL if eventstream.CheckServer
//     passes with the NATS_* credentials of the environment (which every
//     child then gets unchanged), else natsd (the nats-server pinned in
//     go.mod) started on NATSD_PORT with its store in NATSD_STORE_DIR
//     (beside DATA_DIR, not in it) and closed to all but the api, worker and
//     exporter users (EnsureNATSUsers), saying why in one line;
//  2. runs `gamepipe migrate`;
//  3. on the first start creates a demo app (DATA_DIR/demo-app.json), and at
//     every start prints its credentials and a curl command that posts a
//     MessagePack event;
//  4. runs api, worker, exporter and, if built, upstreamsim, each line of
//     their output prefixed with their name;
//  5. on Ctrl-C or SIGTERM stops them all with SIGTERM (SIGKILL after
//     StopTimeout), natsd last, and returns nil; if a child exits on its own
//     it stops the others and returns an *ExitError.
//
// Children run in their own process groups, so a terminal's Ctrl-C reaches
// devrun alone and each child sees exactly one SIGTERM.
package devrun

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gamepipe/gamepipe/internal/demoapp"
	"github.com/gamepipe/gamepipe/internal/devrun/natsd"
	"github.com/gamepipe/gamepipe/internal/eventstream"
)

// services are the long-lived binaries devrun runs, in start order.
var services = []string{"api", "worker", "exporter"}

// optionalServices run only if their binary was built.
var optionalServices = []string{"upstreamsim"}

// Run runs the stack with cfg, writing everything to stdout, until ctx is done
// or a child fails. It returns nil after a requested stop, also one that
// came while the stack was still starting.
func Run(ctx context.Context, cfg *Config, stdout io.Writer) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	r := &runner{cfg: cfg}
	procs, err := r.plan()
	if err != nil {
		return err
	}
	r.out = NewOutput(stdout, labelWidth(procs), cfg.Color && isTerminal(stdout))

	stopping := context.AfterFunc(ctx, func() {
		r.out.Printf("devrun", "stopping (Ctrl-C again to kill everything now)")
	})
	err = r.run(ctx, procs)
	stopping()
	if ctx.Err() != nil && !errors.As(err, new(*ExitError)) {
		r.out.Printf("devrun", "stopped")
		return nil
	}
	return err
}

// runner holds one Run's state.
type runner struct {
	cfg  *Config
	out  *Output
	env  []string
	nats *Process // natsd, if devrun started it
	// natsUsers are the users of the natsd devrun started (or of its
	// cluster); nil with the server at NATS_URL.
	natsUsers *natsUsers
	// natsCluster are the three natsd of a cluster run (Config.Cluster).
	natsCluster []*Process
}

// plan checks that the binaries are there and builds the service processes
// (their environment is set once NATS is decided).
func (r *runner) plan() ([]*Process, error) {
	if r.cfg.Cluster {
		return r.clusterPlan()
	}
	for _, name := range append([]string{"gamepipe"}, services...) {
		if _, err := os.Stat(r.bin(name)); err != nil {
			return nil, fmt.Errorf("%s is missing: build it first (make run builds everything): %w", r.bin(name), err)
		}
	}
	var procs []*Process
	for _, name := range services {
		procs = append(procs, &Process{Name: name, Path: r.bin(name)})
	}
	for _, name := range optionalServices {
		if _, err := os.Stat(r.bin(name)); err == nil {
			procs = append(procs, &Process{Name: name, Path: r.bin(name)})
		}
	}
	return procs, nil
}

func (r *runner) run(ctx context.Context, procs []*Process) error {
	var natsURL string
	var err error
	if r.cfg.Cluster {
		natsURL, err = r.startNATSCluster(ctx)
		defer r.stopNATSCluster()
	} else {
		natsURL, err = r.startNATS(ctx)
	}
	if r.nats != nil {
		// natsd stops last, after everything that uses it.
		defer func() {
			if killed := r.nats.Stop(r.cfg.StopTimeout); killed {
				r.out.Printf("devrun", "natsd did not stop within %s; killed it", r.cfg.StopTimeout)
			}
		}()
	}
	if err != nil {
		return err
	}
	r.env = childEnv(r.cfg.Env, map[string]string{"NATS_URL": natsURL, "DATA_DIR": r.cfg.DataDir}, map[string]string{"LOG_FORMAT": "console"})
	if !secretsKeyConfigured(r.env) {
		path, err := EnsureSecretsKey(r.cfg.DataDir)
		if err != nil {
			return err
		}
		r.env = append(r.env, "GAMEPIPE_SECRETS_KEY_FILE="+path)
	}

	if _, err := r.runOnce(ctx, "migrate", false, "migrate"); err != nil {
		return err
	}
	app, err := r.demoApp(ctx)
	if err != nil {
		return err
	}
	eventPath, err := WriteDemoEvent(r.cfg.DataDir, app.AppID, time.Now())
	if err != nil {
		return err
	}

	for _, p := range procs {
		p.Env = r.env
		if r.cfg.Cluster {
			p.Env = clusterEnv(r.env, p.Name)
		}
		if r.natsUsers != nil {
			p.Env = childEnv(p.Env, r.natsUsers.env(filepath.Base(p.Path)), nil)
		}
	}
	// Print the demo app once the api listens (or has had long enough to),
	// below the services' start-up lines rather than lost above them.
	printCtx, cancelPrint := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		waitListening(printCtx, r.cfg.apiDialAddr(), 30*time.Second)
		if printCtx.Err() == nil {
			r.out.Raw(DemoInstructions(app, r.cfg.apiBase(), filepath.Join(r.cfg.DataDir, DemoAppFile), eventPath))
		}
	})
	sup := &Supervisor{Out: r.out, StopTimeout: r.cfg.StopTimeout}
	var deps []*Process
	if r.nats != nil {
		deps = append(deps, r.nats)
	}
	deps = append(deps, r.natsCluster...)
	err = sup.Run(ctx, procs, deps...)
	cancelPrint()
	wg.Wait()
	return err
}

// startNATS decides which NATS the stack uses and returns its URL, starting
// natsd if the one at cfg.NATSURL will not do.
func (r *runner) startNATS(ctx context.Context) (string, error) {
	creds := eventstream.Credentials(r.cfg.NATSAuth)
	d := DecideNATS(ctx, r.cfg.NATSURL, creds, r.cfg.NATSCheckTimeout)
	if d.Use {
		// The operator's server: its users and permissions are the
		// operator's, and every child gets the credentials devrun got.
		r.out.Printf("devrun", "using nats %s at %s (auth %s)", d.Version, displayURL(r.cfg.NATSURL), creds.Method(r.cfg.NATSURL))
		return r.cfg.NATSURL, nil
	}
	port := strconv.Itoa(r.cfg.NATSDPort)
	r.out.Printf("devrun", "%s; starting pinned nats-server %s on :%s", d.Reason, natsd.Version, port)

	url := "nats://127.0.0.1:" + port
	if _, err := os.Stat(r.bin("natsd")); err != nil {
		return "", fmt.Errorf("%s is missing: build it first (make run builds everything): %w", r.bin("natsd"), err)
	}
	if err := r.ensureNATSUsers(); err != nil {
		return "", err
	}
	r.nats = &Process{
		Name: "natsd",
		Path: r.bin("natsd"),
		Env: childEnv(r.cfg.Env, map[string]string{"NATSD_PORT": port, "DATA_DIR": r.cfg.DataDir, "NATSD_STORE_DIR": r.cfg.NATSDStoreDir,
			"NATSD_USERS_FILE": r.natsUsers.file}, nil),
	}
	if err := r.nats.Start(r.out); err != nil {
		return "", err
	}
	deadline := time.Now().Add(r.cfg.NATSReadyTimeout)
	for {
		d := DecideNATS(ctx, url, r.natsUsers.creds[eventstream.RoleAPI], time.Second)
		if d.Use {
			return url, nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("natsd not ready at %s after %s: %s", url, r.cfg.NATSReadyTimeout, d.Reason)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-r.nats.Done():
			return "", &ExitError{Name: "natsd", Err: r.nats.Err()}
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ensureNATSUsers makes the users of the natsd devrun starts and says so.
func (r *runner) ensureNATSUsers() error {
	u, err := EnsureNATSUsers(r.cfg.DataDir)
	if err != nil {
		return err
	}
	r.natsUsers = u
	r.out.Printf("devrun", "natsd admits only api, worker and exporter, each allowed its own subjects (passwords in %s)",
		filepath.Join(r.cfg.DataDir, NATSAuthDir))
	return nil
}

// demoApp loads the saved demo app, creating it on the first start.
func (r *runner) demoApp(ctx context.Context) (*demoapp.App, error) {
	app, err := demoapp.Load(r.cfg.DataDir)
	if !errors.Is(err, os.ErrNotExist) {
		return app, err
	}
	out, err := r.runOnce(ctx, "gamepipe", true, "apps", "create", "--name", "demo", "--json")
	if err != nil {
		return nil, err
	}
	if app, err = demoapp.Parse(out); err != nil {
		return nil, fmt.Errorf("error creating the demo app: %w", err)
	}
	if err := SaveDemoApp(r.cfg.DataDir, app); err != nil {
		return nil, err
	}
	r.out.Printf("devrun", "created demo app %s", app.AppID)
	return app, nil
}

// runOnce runs `gamepipe args...` to its end, labelled name. With capture
// it returns the standard output; without, the output goes to the terminal
// with the standard error. If ctx ends first, the command is stopped.
func (r *runner) runOnce(ctx context.Context, name string, capture bool, args ...string) ([]byte, error) {
	var stdout bytes.Buffer
	p := &Process{Name: name, Path: r.bin("gamepipe"), Args: args, Env: r.env}
	if capture {
		p.Stdout = &stdout
	}
	if err := p.Start(r.out); err != nil {
		return nil, err
	}
	select {
	case <-p.Done():
	case <-ctx.Done():
		p.Stop(r.cfg.StopTimeout)
		return nil, ctx.Err()
	}
	if err := p.Err(); err != nil {
		return nil, fmt.Errorf("gamepipe %s failed: %w", strings.Join(args, " "), err)
	}
	return stdout.Bytes(), nil
}

func (r *runner) bin(name string) string { return filepath.Join(r.cfg.BinDir, name) }

// childEnv is base with set applied on top and defaults applied where base
// has no value.
func childEnv(base []string, set, defaults map[string]string) []string {
	env := make([]string, 0, len(base)+len(set)+len(defaults))
	has := map[string]bool{}
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if _, override := set[k]; override {
			continue
		}
		if v, ok := defaults[k]; ok && strings.TrimPrefix(kv, k+"=") == "" {
			kv = k + "=" + v
		}
		has[k] = true
		env = append(env, kv)
	}
	for k, v := range set {
		env = append(env, k+"="+v)
	}
	for k, v := range defaults {
		if !has[k] {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// labelWidth is the widest label devrun will print.
func labelWidth(procs []*Process) int {
	w := len("gamepipe")
	for _, p := range procs {
		w = max(w, len(p.Name))
	}
	return w
}

// waitListening waits until addr accepts TCP connections, at most timeout,
// and reports whether it does.
func waitListening(ctx context.Context, addr string, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	var d net.Dialer
	for time.Now().Before(deadline) {
		dctx, cancel := context.WithTimeout(ctx, time.Second)
		conn, err := d.DialContext(dctx, "tcp", addr)
		cancel()
		if err == nil {
			conn.Close()
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(200 * time.Millisecond):
		}
	}
	return false
}

// isTerminal reports whether w is a terminal, where colours make sense.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
