package wsactor

import (
	"syscall"
	"unsafe"
)

// sysRead and sysWrite are read(2) and write(2) on a non-blocking socket.
// With raw set (and up to rawSysMax bytes) they skip the runtime's
// system-call bookkeeping (entersyscall and exitsyscall): the calls never
// block, so the P need not be handed off, and the bookkeeping costs more
// than its own time. When every P was idle the runtime's sysmon thread has
// gone to sleep and the next entersyscall wakes it (a futex wake of
// another thread), and a call that outlasts sysmon's tick (the peer's
// thread preempting ours on the same CPU inside our write, say) loses its
// P. Measured on a 2-vCPU VM (README, Performance): sequential echo with
// client and server on one vCPU, 1.3-1.4x the round trips per second of
// syscall.Read/Write at 0.6x the client CPU per round trip. rawIO and
// rawWriter decide when a call is raw (see readRaw).
func sysRead(fd int, p []byte, raw bool) (int, error) {
	if len(p) > rawSysMax || !raw {
		return syscall.Read(fd, p)
	}
	return rawIOCall(syscall.SYS_READ, fd, p)
}

func sysWrite(fd int, p []byte, raw bool) (int, error) {
	if len(p) > rawSysMax || !raw {
		return syscall.Write(fd, p)
	}
	return rawIOCall(syscall.SYS_WRITE, fd, p)
}

// rawIOCall is read(2) or write(2) (trap) of p on fd through RawSyscall.
func rawIOCall(trap uintptr, fd int, p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	n, _, e := syscall.RawSyscall(trap, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	if e != 0 {
		return -1, e
	}
	return int(n), nil
}
