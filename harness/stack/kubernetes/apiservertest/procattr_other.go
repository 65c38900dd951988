//go:build !linux

package apiservertest

import "syscall"

// sysProcAttr: outside Linux a crashed test may leave its children running.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
