package devrun

import "syscall"

// sysProcAttr puts a child in its own process group and, should devrun die
// without stopping it (killed, or a second Ctrl-C), has the kernel kill it: a
// leftover api would hold :4000 and break the next `make run`.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
