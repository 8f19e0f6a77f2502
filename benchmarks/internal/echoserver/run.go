package echoserver

import (
	"fmt"
	"io"
	"os"
	"syscall"
	"time"
)

// Main runs a server process: raises RLIMIT_NOFILE, listens on addr (loopback
// only), prints the address as the first line of stdout and serves until
// killed, until stdin reaches EOF (when watchStdin is set: the parent died or
// closed the pipe), or until maxLife has passed.
func Main(addr string, watchStdin bool, maxLife time.Duration) error {
	RaiseNoFile()
	ln, err := Listen(addr)
	if err != nil {
		return err
	}
	fmt.Fprintln(os.Stdout, ln.Addr().String())
	if watchStdin {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			os.Exit(0)
		}()
	}
	if maxLife > 0 {
		time.AfterFunc(maxLife, func() {
			fmt.Fprintln(os.Stderr, "echoserver: max lifetime reached, exiting")
			os.Exit(0)
		})
	}
	return Serve(ln)
}

// RaiseNoFile raises the soft RLIMIT_NOFILE to the hard limit and returns the
// resulting soft limit.
func RaiseNoFile() uint64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
		_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
	return rl.Cur
}
