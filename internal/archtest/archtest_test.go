// Package archtest checks the dependency rules of docs/architecture.md
// ("Layers"): every package of the module is placed in a layer, and its
// non-test code imports only packages of the layers its own may use (plus
// the few exceptions named below, each with its reason). A new package fails
// the test until it is placed. It reads `go list -json`.
package archtest

import (
	"bytes"
	"encoding/json"
	"io"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/gamepipe/gamepipe"

// The layers, from the bottom up.
const (
	// leaf packages use the standard library and outside modules only.
	leaf = "leaf"
	// configuration reads the environment; only commands and tools use it.
	configuration = "configuration"
	// client packages speak to one upstream API.
	client = "client"
	// storage is Postgres (and River's driver).
	storage = "storage"
	// service packages do the work of one part of a process.
	service = "service"
	// infra connects a process to Postgres and NATS and serves its health
	// and metrics.
	infra = "infra"
	// command packages wire and run one binary (internal/*cmd).
	command = "command"
	// simulator packages are independent readings of an upstream's
	// document: they import nothing of ours.
	simulator = "simulator"
	// tool packages drive a stack: make run, loadgen, make bench.
	tool = "tool"
	// testHelper packages are imported by tests only.
	testHelper = "test helper"
	// testOnly packages hold tests and nothing any package imports.
	testOnly = "tests"
	// main packages are the binaries in cmd/.
	main = "main"
)

// mayUse lists, for each layer, the layers its packages may import.
var mayUse = map[string][]string{
	leaf:          nil,
	configuration: nil,
	client:        {leaf},
	storage:       {leaf},
	service:       {leaf, client, storage},
	infra:         {leaf, storage, infra},
	command:       {leaf, configuration, client, storage, service, infra},
	simulator:     nil,
	tool:          {leaf, configuration, client, storage, service, simulator},
	testHelper:    {leaf, storage},
	testOnly:      nil,
	main:          {command, tool},
}

// layerOf places every package of the module, by its path in the module.
var layerOf = map[string]string{
	"internal/auth":        leaf, // key kinds, hashing, sealing: storage keeps hashes and sealed values
	"internal/blob":        leaf,
	"internal/demoapp":     leaf,
	"internal/demodata":    leaf,
	"internal/eventstream": leaf,
	"internal/health":      leaf,
	"internal/logging":     leaf,
	"internal/ratelimit":   leaf,
	"internal/telemetry":   leaf,
	"internal/upstream":    leaf,
	"migrations":           leaf,

	"internal/config": configuration,

	"internal/generaitiv": client,
	"internal/kinetix":    client,

	"internal/store": storage,

	"internal/dashboard": service,
	"internal/export":    service,
	"internal/httpapi":   service,
	"internal/jobs":      service,
	"internal/sink":      service,

	"internal/infra":   infra,
	"internal/metrics": infra, // builds and serves a process's registry; services take a Registerer

	"internal/apicmd":      command,
	"internal/exportercmd": command,
	"internal/gamepipecmd": command,
	"internal/workercmd":   command,

	"internal/upstreamsim":               simulator,
	"internal/upstreamsim/generaitivsim": simulator,
	"internal/upstreamsim/kinetixsim":    simulator,

	"internal/benchrun":            tool,
	"internal/benchrun/pprofserve": tool,
	"internal/devrun":              tool,
	"internal/devrun/natsd":        tool,
	"internal/loadgen":             tool,
	"internal/upstreamsim/simcmd":  tool,

	"internal/blob/blobtest":     testHelper,
	"internal/dbtest":            testHelper,
	"internal/natstest":          testHelper,
	"internal/natstest/roletest": testHelper,
	"internal/pgcluster":         testHelper,
	"internal/testutil":          testHelper,

	"internal/archtest": testOnly,
	"internal/e2e":      testOnly,

	"cmd/api":         main,
	"cmd/benchrun":    main,
	"cmd/devrun":      main,
	"cmd/exporter":    main,
	"cmd/gamepipe":    main,
	"cmd/loadgen":     main,
	"cmd/natsd":       main,
	"cmd/upstreamsim": main,
	"cmd/worker":      main,
}

// exceptions are imports a package may make beyond its layer's, each for
// the reason given.
var exceptions = map[string][]string{
	// The api inserts a job in the same transaction as its row, with the
	// args type that package jobs defines for its kind.
	"internal/httpapi": {"internal/jobs"},
	// The worker's periodic job keeps the dashboard's rollups up to date;
	// their SQL lives beside the views that read them.
	"internal/jobs": {"internal/dashboard"},
	// make run starts the pinned nats-server that natsd embeds.
	"internal/devrun": {"internal/devrun/natsd"},
	// make bench drives the load generator and profiles the processes.
	"internal/benchrun": {"internal/loadgen", "internal/benchrun/pprofserve"},
	// A closed test NATS is a natstest server with the role users.
	"internal/natstest/roletest": {"internal/natstest"},
	// The simulators' command serves both simulators.
	"internal/upstreamsim/simcmd": {"internal/upstreamsim/kinetixsim", "internal/upstreamsim/generaitivsim"},
}

type pkg struct {
	ImportPath string
	Imports    []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-json", "../../...").Output()
	require.NoError(t, err)
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else {
			require.NoError(t, err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// rel returns path relative to the module, or "" for a path outside it.
func rel(path string) string {
	if path == module {
		return "."
	}
	if r, ok := strings.CutPrefix(path, module+"/"); ok {
		return r
	}
	return ""
}

// allowed reports whether the package at from may import the one at to.
func allowed(from, to string) bool {
	if slices.Contains(exceptions[from], to) {
		return true
	}
	return slices.Contains(mayUse[layerOf[from]], layerOf[to])
}

func TestDependencyRules(t *testing.T) {
	t.Parallel()
	pkgs := listPackages(t)
	require.NotEmpty(t, pkgs)

	var unplaced, broken []string
	for _, p := range pkgs {
		from := rel(p.ImportPath)
		if _, ok := layerOf[from]; !ok {
			unplaced = append(unplaced, from)
			continue
		}
		for _, imp := range p.Imports {
			to := rel(imp)
			if to == "" {
				continue
			}
			if _, ok := layerOf[to]; ok && !allowed(from, to) {
				broken = append(broken, from+" ("+layerOf[from]+") imports "+to+" ("+layerOf[to]+")")
			}
		}
	}
	sort.Strings(unplaced)
	sort.Strings(broken)
	require.Empty(t, unplaced, "place every package in a layer (layerOf here, and the Layers table of docs/architecture.md)")
	require.Empty(t, broken, "imports the layers do not allow (docs/architecture.md, Layers)")
}

// The rules themselves hold what docs/architecture.md says.
func TestRulesAreStrict(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		from, to string
		ok       bool
	}{
		{"internal/sink", "internal/store", true},
		{"internal/sink", "internal/metrics", false},
		{"internal/workercmd", "internal/metrics", true},
		{"internal/sink", "internal/config", false},
		{"internal/config", "internal/ratelimit", false},
		{"internal/store", "internal/auth", true},
		{"internal/store", "internal/jobs", false},
		{"internal/loadgen", "internal/devrun", false},
		{"internal/loadgen", "internal/demoapp", true},
		{"internal/loadgen", "internal/apicmd", false},
		{"internal/telemetry", "internal/eventstream", false},
		{"internal/upstreamsim/kinetixsim", "internal/kinetix", false},
		{"internal/jobs", "internal/dbtest", false},
		{"internal/workercmd", "internal/testutil", false},
		{"internal/httpapi", "internal/jobs", true},
		{"internal/jobs", "internal/httpapi", false},
		{"internal/export", "cmd/exporter", false},
	} {
		require.Equal(t, c.ok, allowed(c.from, c.to), "%s -> %s", c.from, c.to)
	}
}
