package apiservertest

import "syscall"

// sysProcAttr kills a child when the test process dies, so that a crashed
// test leaves no etcd or kube-apiserver behind.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
