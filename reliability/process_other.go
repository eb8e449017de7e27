//go:build !linux

package reliability

import "syscall"

// childAttr has nothing to add where the kernel cannot kill a child whose
// parent died.
func childAttr() *syscall.SysProcAttr { return nil }
