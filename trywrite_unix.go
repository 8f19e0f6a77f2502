//go:build unix

package wsactor

import (
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"syscall"
)

// rawConnOf returns the socket's syscall.RawConn, or nil when the conn is
// not a plain socket (TLS, a wrapper from WithNetDial).
func rawConnOf(nc net.Conn) syscall.RawConn {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// rawSysMax is the largest read or write done without the runtime's
// system-call bookkeeping (see sysRead). A raw call keeps its P and is not
// a safe point, so a long copy would hold up a stop-the-world: beyond this
// size (a copy of some 10-30 us) the call goes through syscall.Read or
// syscall.Write as usual. Every frame up to 128 KiB (and so each message
// of the benchmarks' sequential echo) is written in one raw call.
const rawSysMax = 128 << 10

// rawIO runs non-blocking reads on a raw socket for the actor's frameReader
// (rawWriter does the writes). Its callbacks are built once per connection
// so that a call allocates nothing.
type rawIO struct {
	rc      syscall.RawConn
	readFn  func(fd uintptr) bool
	pollFn  func(fd uintptr) bool
	fr      *frameReader // its read buffer: getBuf, and releaseBuf before parking
	dst     []byte       // read here instead of fr's buffer (readNowInto)
	n       int
	err     error
	again   bool  // the socket was empty (readNow)
	waited  bool  // a read found the socket empty (reset by the actor's idleRead)
	oneP    bool  // the runtime had one P when r was readied (see readRaw)
	pending error // an error a peek saw, returned by the next read
}

// init readies r (new, or reset) to read rc into fr's buffer. The read
// functions are method values bound to r once: an actorHot taken from the
// pool brings them along.
func (r *rawIO) init(rc syscall.RawConn, fr *frameReader) {
	r.rc, r.fr = rc, fr
	r.oneP = runtime.GOMAXPROCS(0) == 1 // once per activation: it takes a global lock
	if r.readFn == nil {
		r.readFn = r.readOnce
		r.pollFn = r.readNoWait
	}
}

// hasPending reports an error a peek saw and the next read returns.
func (r *rawIO) hasPending() bool { return r.pending != nil }

// reset forgets the socket (r goes back to hotPool) but keeps the bound
// read functions.
func (r *rawIO) reset() {
	*r = rawIO{readFn: r.readFn, pollFn: r.pollFn}
}

// rawWriter writes to a raw socket without waiting (the writer's inline
// path).
type rawWriter struct {
	rc      syscall.RawConn
	writeFn func(fd uintptr) bool
	out     []byte
	n       int
	err     error
	oneP    bool // the runtime had one P when w was taken: raw writes (sysWrite)
}

func newRawWriter(rc syscall.RawConn) *rawWriter {
	if rc == nil {
		return nil
	}
	w := rawWriterPool.Get().(*rawWriter)
	w.rc = rc
	w.oneP = runtime.GOMAXPROCS(0) == 1
	return w
}

// rawWriterPool holds the raw writers of idle connections (writer.trimIdle),
// each with its write function bound once.
var rawWriterPool = sync.Pool{New: func() any {
	w := &rawWriter{}
	w.writeFn = w.writeAll
	return w
}}

// putRawWriter returns w to the pool.
func putRawWriter(w *rawWriter) {
	w.rc = nil
	rawWriterPool.Put(w)
}

func sysErr(op string, e error) error {
	return &net.OpError{Op: op, Net: "tcp", Err: os.NewSyscallError(op, e)}
}

func (r *rawIO) readOnce(fd uintptr) bool {
	if r.pending != nil {
		r.err, r.pending = r.pending, nil
		return true
	}
	buf := r.dst
	if buf == nil {
		buf = r.fr.getBuf()
	}
	for {
		m, e := sysRead(int(fd), buf, r.readRaw())
		switch {
		case e == syscall.EINTR:
			continue
		case e == syscall.EAGAIN:
			if r.dst == nil {
				r.fr.releaseBuf()
			}
			r.waited = true
			return false // park until readable
		case e != nil:
			r.err = sysErr("read", e)
			return true
		}
		r.n = m
		r.fr.reads++
		return true
	}
}

// readRaw reports whether the next read skips the runtime's system-call
// bookkeeping (sysRead): when a Receive caller runs the actor, and when
// the runtime has one P (as do writes then). Otherwise reads and writes
// go through syscall.Read and Write. That is measured, not derived: on 2
// vCPUs with client and server unpinned, raw reads by the actor's
// goroutine together with raw writes made hand-off echo slower (0.7x the
// round trips per second; either alone did not), and raw writes made
// Receive's echo fall into its slow mode (client and server on different
// vCPUs) more often (fast in 28 of 84 runs against 30 of 54 with
// syscall.Write, raw gobwas ~90%), while with one P raw calls make every
// style faster (1.2-1.5x raw gobwas on one vCPU, up to 1.15x pinned
// apart).
func (r *rawIO) readRaw() bool {
	a := r.fr.a
	return a != nil && a.pulling || r.oneP
}

func (r *rawIO) readNoWait(fd uintptr) bool {
	if r.readOnce(fd) {
		return true
	}
	r.again = true // empty: report it rather than wait
	return true
}

func (r *rawWriter) writeAll(fd uintptr) bool {
	for r.n < len(r.out) {
		m, e := sysWrite(int(fd), r.out[r.n:], r.oneP)
		if m > 0 {
			r.n += m
		}
		switch {
		case e == syscall.EINTR:
			continue
		case e == syscall.EAGAIN:
			return true // full: do not wait here
		case e != nil:
			r.err = sysErr("write", e)
			return true
		case m <= 0:
			return true
		}
	}
	return true
}

// tryRead reads once into the read buffer, releasing it before parking
// when the socket is empty, so an idle connection holds no read buffer.
// n == 0 with a nil error is EOF.
func (r *rawIO) tryRead() (int, error) {
	r.n, r.err = 0, nil
	if err := r.rc.Read(r.readFn); err != nil && r.err == nil {
		r.err = err
	}
	err := r.err
	r.err = nil // an idle connection keeps no error (a linger's timeout)
	return r.n, err
}

// readNow is tryRead that never waits: again reports an empty socket.
func (r *rawIO) readNow() (n int, again bool, err error) {
	r.n, r.err, r.again = 0, nil, false
	if err := r.rc.Read(r.pollFn); err != nil && r.err == nil {
		r.err = err
	}
	err = r.err
	r.err = nil
	return r.n, r.again, err
}

// readNowInto is readNow into p rather than the read buffer.
func (r *rawIO) readNowInto(p []byte) (n int, again bool, err error) {
	r.dst = p
	n, again, err = r.readNow()
	r.dst = nil
	return n, again, err
}

// peek reads what the socket already holds into the read buffer without
// waiting (0 when it is empty). An error is kept for the next read, so
// nothing is lost by looking; a timeout is not (an expired read deadline,
// such as an idle linger, means nothing to a look that does not wait, and
// whoever reads next may have set another deadline meanwhile).
func (r *rawIO) peek() int {
	n, again, err := r.readNow()
	switch {
	case again, err != nil && isTimeout(err):
		return 0
	case err != nil:
		r.pending = err
		return 0
	case n == 0:
		r.pending = io.EOF
		return 0
	}
	return n
}

// tryWrite writes as much of b as the socket takes without waiting; n <
// len(b) with a nil error means the socket buffer is full.
func (r *rawWriter) tryWrite(b []byte) (int, error) {
	r.out, r.n, r.err = b, 0, nil
	if err := r.rc.Write(r.writeFn); err != nil && r.err == nil {
		r.err = err
	}
	r.out = nil
	err := r.err
	r.err = nil
	return r.n, err
}
