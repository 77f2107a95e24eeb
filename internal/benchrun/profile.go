package benchrun

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"sync"
	"time"

	"github.com/gamepipe/gamepipe/internal/benchrun/pprofserve"
)

const pprofEnv = pprofserve.Env

// overlayImport is the file the profiling build adds to cmd/api and
// cmd/worker.
const overlayImport = "package main\n\nimport _ \"github.com/gamepipe/gamepipe/internal/benchrun/pprofserve\"\n"

// buildProfiling builds api and worker with pprofserve linked in (go build
// -overlay adds one file to each main package; the tree is not touched)
// into dir, and returns their paths.
func buildProfiling(ctx context.Context, cfg *Config, dir string, log io.Writer) (api, worker string, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", fmt.Errorf("error creating %s: %w", dir, err)
	}
	// The source sits in a directory whose name starts with "_", which
	// ./... patterns skip: go build ./... and go vet ./... must not see a
	// file of package main without a main.
	srcDir := filepath.Join(dir, "_overlay")
	if err := os.MkdirAll(srcDir, 0o755); err != nil {
		return "", "", fmt.Errorf("error creating %s: %w", srcDir, err)
	}
	src := filepath.Join(srcDir, "pprof_overlay.go")
	if err := os.WriteFile(src, []byte(overlayImport), 0o644); err != nil {
		return "", "", fmt.Errorf("error writing %s: %w", src, err)
	}
	replace := map[string]string{}
	for _, cmd := range []string{"api", "worker"} {
		target, err := filepath.Abs(filepath.Join("cmd", cmd, "zz_bench_pprof.go"))
		if err != nil {
			return "", "", err
		}
		replace[target] = src
	}
	overlay, err := json.Marshal(map[string]any{"Replace": replace})
	if err != nil {
		return "", "", err
	}
	overlayPath := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(overlayPath, overlay, 0o644); err != nil {
		return "", "", fmt.Errorf("error writing %s: %w", overlayPath, err)
	}
	fmt.Fprintf(log, "bench: building api and worker with pprof into %s\n", dir)
	cmd := exec.CommandContext(ctx, cfg.GoCmd, "build", "-overlay", overlayPath, "-o", dir+string(filepath.Separator), "./cmd/api", "./cmd/worker")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return "", "", fmt.Errorf("error building the profiling binaries (run from the repository root): %w", err)
	}
	return filepath.Join(dir, "api"), filepath.Join(dir, "worker"), nil
}

// profiler saves profiles of one scenario while it runs: CPU, and delta
// profiles of allocations and mutex contention, from the processes that
// serve pprof, and a CPU profile of the bench itself (the load generator or
// the raw client). It does nothing unless profiling is on.
type profiler struct {
	dir  string
	wg   sync.WaitGroup
	mu   sync.Mutex
	errs []error
	self *os.File
}

// startProfiles starts profiling scenario for d on the pprof servers in
// targets (name → host:port; empty addresses are skipped).
func startProfiles(ctx context.Context, outDir, scenario string, d time.Duration, targets map[string]string) *profiler {
	p := &profiler{dir: filepath.Join(outDir, "profiles")}
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		p.errs = append(p.errs, err)
		return p
	}
	secs := strconv.Itoa(max(1, int(d.Seconds())))
	for name, addr := range targets {
		if addr == "" {
			continue
		}
		for _, kind := range []string{"profile", "allocs", "mutex", "block"} {
			url := "http://" + addr + "/debug/pprof/" + kind + "?seconds=" + secs
			label := kind
			if kind == "profile" {
				label = "cpu"
			}
			path := filepath.Join(p.dir, fmt.Sprintf("%s.%s.%s.pb.gz", scenario, name, label))
			p.wg.Go(func() { p.fetch(ctx, url, path, d+30*time.Second) })
		}
	}
	f, err := os.Create(filepath.Join(p.dir, scenario+".bench.cpu.pb.gz"))
	if err == nil {
		if err = pprof.StartCPUProfile(f); err == nil {
			p.self = f
		} else {
			f.Close()
		}
	}
	return p
}

func (p *profiler) fetch(ctx context.Context, url, path string, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err == nil {
		var resp *http.Response
		if resp, err = http.DefaultClient.Do(req); err == nil {
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("%s: %s", url, resp.Status)
			} else {
				var f *os.File
				if f, err = os.Create(path); err == nil {
					_, err = io.Copy(f, resp.Body)
					if cerr := f.Close(); err == nil {
						err = cerr
					}
				}
			}
		}
	}
	if err != nil {
		p.mu.Lock()
		p.errs = append(p.errs, err)
		p.mu.Unlock()
	}
}

// wait waits for the profiles and reports the first error, if any.
func (p *profiler) wait() error {
	if p == nil {
		return nil
	}
	if p.self != nil {
		pprof.StopCPUProfile()
		p.self.Close()
	}
	p.wg.Wait()
	if len(p.errs) > 0 {
		return fmt.Errorf("error saving profiles: %w", p.errs[0])
	}
	return nil
}
