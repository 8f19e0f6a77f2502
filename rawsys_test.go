//go:build unix

package wsactor

import (
	"bytes"
	"errors"
	"syscall"
	"testing"
)

// TestSysReadWrite: the socket calls the raw paths use (raw system calls up
// to rawSysMax on Linux, syscall.Read/Write beyond it and elsewhere) report
// what read(2) and write(2) report: the bytes moved, EAGAIN on an empty or
// full non-blocking socket, 0 and no error at the peer's end of stream.
func TestSysReadWrite(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, b := fds[0], fds[1]
	defer func() { _ = syscall.Close(a) }()
	closedB := false
	defer func() {
		if !closedB {
			_ = syscall.Close(b)
		}
	}()
	for _, fd := range fds {
		if err := syscall.SetNonblock(fd, true); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 4*rawSysMax)

	if n, err := sysRead(a, buf[:16], true); n != -1 || !errors.Is(err, syscall.EAGAIN) {
		t.Fatalf("read of an empty socket: %d, %v; want -1, EAGAIN", n, err)
	}
	if n, err := sysWrite(b, []byte("hello"), true); n != 5 || err != nil {
		t.Fatalf("small write: %d, %v", n, err)
	}
	if n, err := sysRead(a, buf[:16], true); n != 5 || err != nil || string(buf[:5]) != "hello" {
		t.Fatalf("small read: %d, %v, %q", n, err, buf[:max(n, 0)])
	}

	// Writes on both sides of rawSysMax until the socket is full: every
	// byte written arrives, in order, and the full socket says EAGAIN.
	var sent []byte
	for i, size := range []int{rawSysMax, rawSysMax + 1, 3 * rawSysMax} {
		p := bytes.Repeat([]byte{byte('a' + i)}, size)
		for len(p) > 0 {
			n, err := sysWrite(b, p, i != 1)
			if errors.Is(err, syscall.EAGAIN) {
				break
			}
			if err != nil || n <= 0 {
				t.Fatalf("write of %d bytes: %d, %v", len(p), n, err)
			}
			sent, p = append(sent, p[:n]...), p[n:]
		}
		if len(p) > 0 {
			break // full
		}
	}
	if n, err := sysWrite(b, buf[:rawSysMax], true); !errors.Is(err, syscall.EAGAIN) {
		// Not full yet: fill it, so EAGAIN is seen on the write side too.
		for err == nil && n > 0 {
			sent = append(sent, buf[:n]...)
			n, err = sysWrite(b, buf[:rawSysMax], true)
		}
		if !errors.Is(err, syscall.EAGAIN) {
			t.Fatalf("write to a full socket: %d, %v; want EAGAIN", n, err)
		}
	}
	var got []byte
	for i := 0; len(got) < len(sent); i++ {
		size := rawSysMax
		if i%2 == 1 {
			size = len(buf) // over rawSysMax: the syscall.Read path
		}
		n, err := sysRead(a, buf[:size], i%3 != 2)
		if err != nil || n <= 0 {
			t.Fatalf("read after %d of %d bytes: %d, %v", len(got), len(sent), n, err)
		}
		got = append(got, buf[:n]...)
	}
	if !bytes.Equal(got, sent) {
		t.Fatalf("read %d bytes that differ from the %d written", len(got), len(sent))
	}
	if n, err := sysRead(a, nil, true); n != 0 || err != nil {
		t.Fatalf("empty read: %d, %v", n, err)
	}
	_ = syscall.Close(b)
	closedB = true
	if n, err := sysRead(a, buf[:16], true); n != 0 || err != nil {
		t.Fatalf("read at the peer's end of stream: %d, %v; want 0, nil", n, err)
	}
}
