// Package archtest checks the dependency rules of STYLE.md §8: leaves stay
// leaves, simulators never see the clients they simulate, test helpers stay
// in tests. It reads `go list -deps -json`.
package archtest

import (
	"bytes"
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/gamepipe/gamepipe/"

type pkg struct {
	ImportPath string
	Imports    []string
	Standard   bool
}

func listPackages(t *testing.T) map[string]pkg {
	t.Helper()
	out, err := exec.Command("go", "list", "-json", "../../...").Output()
	require.NoError(t, err)
	pkgs := map[string]pkg{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else {
			require.NoError(t, err)
		}
		pkgs[p.ImportPath] = p
	}
	return pkgs
}

func TestDependencyRules(t *testing.T) {
	t.Parallel()
	pkgs := listPackages(t)
	require.NotEmpty(t, pkgs)

	internal := func(name string) string { return module + "internal/" + name }
	// Leaves: they know nothing of storage, jobs, the API, River or the
	// process wiring.
	leaves := []string{"telemetry", "eventstream", "blob", "auth", "logging", "config", "upstream", "ratelimit", "kinetix", "generaitiv"}
	forbiddenForLeaves := []string{internal("store"), internal("jobs"), internal("httpapi"), internal("sink"), internal("export"),
		internal("infra"), "github.com/riverqueue/river"}
	// Test-only helpers.
	testOnly := []string{internal("dbtest"), internal("natstest"), internal("blob/blobtest")}

	for path, p := range pkgs {
		rel := strings.TrimPrefix(path, module)
		for _, imp := range p.Imports {
			for _, leaf := range leaves {
				if rel == "internal/"+leaf || strings.HasPrefix(rel, "internal/"+leaf+"/") {
					for _, f := range forbiddenForLeaves {
						require.False(t, imp == f || strings.HasPrefix(imp, f+"/"), "%s (a leaf) must not import %s", rel, imp)
					}
				}
			}
			for _, helper := range testOnly {
				require.NotEqual(t, helper, imp, "%s must not import the test helper %s outside tests", rel, imp)
			}
			if strings.HasPrefix(rel, "internal/upstreamsim/") && !strings.HasPrefix(rel, "internal/upstreamsim/simcmd") {
				// A simulator is an independent reading of its document.
				require.False(t, strings.HasPrefix(imp, module), "%s must not import gamepipe's %s", rel, imp)
			}
			if strings.HasPrefix(imp, module+"cmd/") {
				require.Fail(t, "no package imports a command", "%s imports %s", rel, imp)
			}
			if strings.HasPrefix(rel, "internal/") && !strings.HasSuffix(rel, "cmd") && rel != "internal/infra" &&
				!strings.HasPrefix(rel, "internal/devrun") && !strings.HasPrefix(rel, "internal/upstreamsim/simcmd") {
				require.NotEqual(t, internal("config"), imp, "only the *cmd packages read configuration: %s", rel)
			}
		}
	}
}
