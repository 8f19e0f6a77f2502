//go:build unix && !linux

package wsactor

import "syscall"

// sysRead and sysWrite: see rawsys_linux.go.
func sysRead(fd int, p []byte, _ bool) (int, error)  { return syscall.Read(fd, p) }
func sysWrite(fd int, p []byte, _ bool) (int, error) { return syscall.Write(fd, p) }
