package benchrun

import (
	"bytes"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// clockTicks is the kernel's USER_HZ, the unit of /proc CPU times: 100 on
// every Linux this runs on.
const clockTicks = 100

// cpuSnapshot is the CPU time used so far by the processes a phase
// involves, and by the whole machine, to say afterwards who was busy and
// how busy the machine was (other people's work included: the machines
// are shared and noisy).
type cpuSnapshot struct {
	at time.Time
	// procs is CPU seconds by process label and pid.
	procs map[string]map[int]float64
	// busy and total are the machine's non-idle and total CPU seconds.
	busy, total float64
}

// takeCPU reads /proc for the labelled pids and for the Postgres backends
// serving database db (by their process title).
func takeCPU(pids map[string]int, db string) cpuSnapshot {
	s := cpuSnapshot{at: time.Now(), procs: map[string]map[int]float64{}}
	add := func(label string, pid int) {
		if s.procs[label] == nil {
			s.procs[label] = map[int]float64{}
		}
		s.procs[label][pid] = procCPU(pid)
	}
	for label, pid := range pids {
		if pid > 0 {
			add(label, pid)
		}
	}
	if db != "" {
		entries, _ := os.ReadDir("/proc")
		needle := []byte(" " + db + " ")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
			if err != nil || !bytes.HasPrefix(cmd, []byte("postgres: ")) || !bytes.Contains(cmd, needle) {
				continue
			}
			add("postgres", pid)
		}
	}
	s.busy, s.total = machineCPU()
	return s
}

// procCPU is a process's user plus system CPU seconds, 0 if unreadable.
func procCPU(pid int) float64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / clockTicks
}

// machineCPU is the machine's busy and total CPU seconds from /proc/stat.
func machineCPU() (busy, total float64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0
	}
	for i, v := range f[1:] {
		n, _ := strconv.ParseFloat(v, 64)
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy / clockTicks, total / clockTicks
}

// since describes the CPU used between an earlier snapshot and s, in % of
// one core: "CPU api 95%, natsd 60%, bench 40%; others 5%; machine 200%
// of 200% busy". A process that started in between counts from its start;
// one that ended in between is missing (it then shows under others).
func (s cpuSnapshot) since(earlier cpuSnapshot) string {
	wall := s.at.Sub(earlier.at).Seconds()
	if wall <= 0 {
		return ""
	}
	var parts []string
	ours := 0.0
	for _, label := range slices.Sorted(maps.Keys(s.procs)) {
		used := 0.0
		for pid, t := range s.procs[label] {
			used += t - earlier.procs[label][pid]
		}
		ours += used
		parts = append(parts, fmt.Sprintf("%s %.0f%%", label, 100*used/wall))
	}
	cores := (s.total - earlier.total) / wall
	busy := (s.busy - earlier.busy) / wall
	return fmt.Sprintf("CPU %s; others %.0f%%; machine %.0f%% of %.0f%% busy",
		strings.Join(parts, ", "), max(0, 100*(busy-ours/wall)), 100*busy, 100*cores)
}

// used is the CPU seconds each label used between an earlier snapshot and
// s, and the wall-clock seconds between them.
func (s cpuSnapshot) used(earlier cpuSnapshot) (map[string]float64, float64) {
	out := map[string]float64{}
	for label, pids := range s.procs {
		for pid, t := range pids {
			out[label] += t - earlier.procs[label][pid]
		}
	}
	return out, s.at.Sub(earlier.at).Seconds()
}

// cpuUse is what one measured phase used: its description (see since),
// and the CPU seconds by label over wall seconds.
type cpuUse struct {
	text string
	secs map[string]float64
	wall float64
}

// perOp is label's CPU microseconds per operation, for ops operations per
// second over the phase (NaN if unknown).
func (u cpuUse) perOp(label string, opsPerSec float64) float64 {
	if u.wall <= 0 || opsPerSec <= 0 {
		return math.NaN()
	}
	return 1e6 * u.secs[label] / u.wall / opsPerSec
}

// perOpList is the CPU microseconds per operation over the phase of every
// process that used at least 0.05 µs, by label: "api 13.1, bench 3.0,
// natsd 24.2 µs".
func (u cpuUse) perOpList(opsPerSec float64) string {
	parts := make([]string, 0, len(u.secs))
	for _, label := range slices.Sorted(maps.Keys(u.secs)) {
		if us := u.perOp(label, opsPerSec); us >= 0.05 {
			parts = append(parts, fmt.Sprintf("%s %.1f", label, us))
		}
	}
	return strings.Join(parts, ", ") + " µs"
}

// cpu takes a snapshot of the stack's processes and this one.
func (b *Bench) cpu() cpuSnapshot {
	s := b.stack
	pids := map[string]int{"bench": os.Getpid()}
	for label, c := range map[string]*child{"natsd": s.natsd, "api": s.api, "worker": s.worker, "minimal": s.minimal} {
		if c != nil && !c.exited() {
			pids[label] = c.pid()
		}
	}
	return takeCPU(pids, b.cfg.DBName)
}

// phase runs f, one measured phase of a scenario, and returns what the
// processes used meanwhile (see since), which it also prints.
func (b *Bench) phase(name string, f func() error) (string, error) {
	u, err := b.phaseCPU(name, f)
	return u.text, err
}

// phaseCPU is phase, with the CPU seconds of each process as numbers.
func (b *Bench) phaseCPU(name string, f func() error) (cpuUse, error) {
	before := b.cpu()
	err := f()
	after := b.cpu()
	u := cpuUse{text: after.since(before)}
	u.secs, u.wall = after.used(before)
	if err == nil {
		b.say("  %s: %s", name, u.text)
	}
	return u, err
}
