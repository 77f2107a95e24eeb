package devrun

import (
	"errors"
	"fmt"
	"io"
	"os/exec"
	"syscall"
	"time"
)

// waitDelay bounds how long a process's output pipes may stay open after it
// exits, held by a grandchild that outlived it.
const waitDelay = 2 * time.Second

// Process is one child of devrun: a binary whose output lines appear on the
// shared Output under its name. It runs in its own process group, so a Ctrl-C
// in the terminal reaches devrun alone and devrun decides how each child is
// stopped; a signal to the process reaches the whole group.
type Process struct {
	// Name labels the process's output lines and messages about it.
	Name string
	// Path is the binary to run.
	Path string
	// Args are its arguments, without the program name.
	Args []string
	// Env is its whole environment.
	Env []string
	// Stdout, if set, receives the process's standard output instead of the
	// Output (standard error still goes to the Output).
	Stdout io.Writer

	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Start starts the process. Its output lines go to out until it exits.
func (p *Process) Start(out *Output) error {
	cmd := exec.Command(p.Path, p.Args...)
	cmd.Env = p.Env
	stdout, stderr := out.LineWriter(p.Name), out.LineWriter(p.Name)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if p.Stdout != nil {
		cmd.Stdout = p.Stdout
	}
	cmd.SysProcAttr = sysProcAttr()
	cmd.WaitDelay = waitDelay
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("error starting %s: %w", p.Name, err)
	}
	p.cmd, p.done = cmd, make(chan struct{})
	go func() {
		p.err = cmd.Wait()
		_ = stdout.Close()
		_ = stderr.Close()
		close(p.done)
	}()
	return nil
}

// Done is closed once the process has exited and its output is written.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is how the process exited: nil for status 0. Read it after Done.
func (p *Process) Err() error { return p.err }

// Exited reports whether the process has exited; a process never started
// counts as exited.
func (p *Process) Exited() bool {
	if p.done == nil {
		return true
	}
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Signal sends sig to the process's group: the process and anything it
// started. Signalling a process that has exited does nothing.
func (p *Process) Signal(sig syscall.Signal) error {
	if p.Exited() {
		return nil
	}
	err := syscall.Kill(-p.cmd.Process.Pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// Stop asks the process to stop with SIGTERM, waits up to timeout, then
// kills its group. It returns once the process has exited, reporting whether
// it had to be killed.
func (p *Process) Stop(timeout time.Duration) (killed bool) {
	return StopAll([]*Process{p}, timeout) != nil
}

// StopAll sends SIGTERM to every process at once, waits up to timeout for all
// of them, then kills those still running. It returns once all have exited,
// with the names of any it had to kill.
func StopAll(procs []*Process, timeout time.Duration) (killed []string) {
	for _, p := range procs {
		_ = p.Signal(syscall.SIGTERM)
	}
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	expired := false
	for _, p := range procs {
		if p.done == nil {
			continue // never started
		}
		if !expired {
			select {
			case <-p.done:
				continue
			case <-timer.C:
				expired = true
				for _, q := range procs {
					if !q.Exited() {
						killed = append(killed, q.Name)
						_ = q.Signal(syscall.SIGKILL)
					}
				}
			}
		}
		<-p.done
	}
	return killed
}
