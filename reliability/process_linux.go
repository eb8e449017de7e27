package reliability

import "syscall"

// childAttr makes the kernel kill a broker whose test process dies, so that
// an interrupted run leaves no broker behind.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
