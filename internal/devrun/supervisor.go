package devrun

import (
	"context"
	"fmt"
	"time"
)

// DefaultStopTimeout is how long the supervisor waits for its processes to
// stop after SIGTERM before it kills them.
const DefaultStopTimeout = 15 * time.Second

// ExitError reports a process that exited before it was asked to stop.
type ExitError struct {
	// Name is the process's name.
	Name string
	// Err is how it exited: nil for status 0, which is still unexpected for
	// a service.
	Err error
}

// Error says which process exited, and how.
func (e *ExitError) Error() string {
	if e.Err == nil {
		return e.Name + " exited with status 0 before it was asked to stop"
	}
	return fmt.Sprintf("%s exited: %v", e.Name, e.Err)
}

// Unwrap returns how the process exited.
func (e *ExitError) Unwrap() error { return e.Err }

// Supervisor runs a set of long-lived processes together: when one of them
// exits on its own, it stops the others, so a half-broken stack never keeps
// running unnoticed.
type Supervisor struct {
	// Out receives the processes' output and the supervisor's messages.
	Out *Output
	// StopTimeout is how long processes get to stop after SIGTERM before
	// they are killed. Defaults to DefaultStopTimeout.
	StopTimeout time.Duration
}

// Run starts procs in order and watches them together with deps, processes
// started earlier that procs need (NATS). It returns when ctx is done, with
// nil, or when one of procs or deps exits on its own, with an *ExitError;
// either way after it has stopped all of procs (not deps, which the caller
// stops after them). If a process fails to start, Run stops those already
// started and returns the error.
func (s *Supervisor) Run(ctx context.Context, procs []*Process, deps ...*Process) error {
	timeout := s.StopTimeout
	if timeout <= 0 {
		timeout = DefaultStopTimeout
	}
	exited := make(chan *Process, len(procs)+len(deps))
	watch := func(p *Process) {
		go func() {
			<-p.Done()
			exited <- p
		}()
	}
	for _, p := range deps {
		watch(p)
	}
	for i, p := range procs {
		if err := p.Start(s.Out); err != nil {
			s.stop(procs[:i], timeout)
			return err
		}
		watch(p)
	}

	select {
	case <-ctx.Done():
		s.stop(procs, timeout)
		return nil
	case p := <-exited:
		err := &ExitError{Name: p.Name, Err: p.Err()}
		s.Out.Printf("devrun", "%v; stopping the others", err)
		s.stop(procs, timeout)
		return err
	}
}

func (s *Supervisor) stop(procs []*Process, timeout time.Duration) {
	for _, name := range StopAll(procs, timeout) {
		s.Out.Printf("devrun", "%s did not stop within %s after SIGTERM; killed it", name, timeout)
	}
}
