//go:build linux

package wsactor

import (
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// The shared poller lets an idle connection's actor goroutine exit (idle
// detach, see WithIdleDetach). The actor registers its socket with one
// process-wide epoll instance (EPOLLONESHOT) and returns; when the socket
// becomes readable, or the connection's next deadline passes, or another
// goroutine needs the actor (Close, Abort, a write error), a fresh goroutine
// in the connection's errgroup continues the read loop where it stopped.
// Thousands of idle connections then hold no goroutine, no stack and no read
// buffer.
//
// The epoll descriptor is itself waited on through the runtime's poller (an
// os.File in non-blocking mode), so no OS thread blocks in epoll_wait, and
// it is closed, ending the poller goroutine, whenever no connection is
// parked: nothing outlives the last connection.
type poller struct {
	mu     sync.Mutex
	epfd   int // -1: not open
	gen    uint64
	file   *os.File
	parked map[uint64]*actor
	nextID uint64
	broken bool // the epoll file cannot be waited on: never park again

	failWait atomic.Bool // tests: treat the next wake-up as a failed wait
}

var sharedPoller = poller{epfd: -1}

// parkState is an actor's registration with the shared poller.
type parkState struct {
	id    uint64      // key in poller.parked; 0 until the first park
	gen   uint64      // the epoll generation the socket was added to
	fd    int         // the socket (valid while the connection is open)
	timer *time.Timer // wakes the actor at its deadline
}

// openLocked creates the epoll instance and its goroutine.
func (p *poller) openLocked() bool {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return false
	}
	if err := syscall.SetNonblock(epfd, true); err != nil {
		_ = syscall.Close(epfd)
		return false
	}
	f := os.NewFile(uintptr(epfd), "wsactor-epoll")
	// A file the runtime poller cannot watch has no deadlines: then there
	// is no detaching at all (the actors keep their goroutines).
	if err := f.SetReadDeadline(time.Time{}); err != nil {
		_ = f.Close()
		p.broken = true
		return false
	}
	rc, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		p.broken = true
		return false
	}
	p.epfd, p.file = epfd, f
	p.gen++
	if p.parked == nil {
		p.parked = make(map[uint64]*actor)
	}
	go p.wait(f, rc)
	return true
}

// closeLocked closes the epoll instance; its goroutine sees the file closed
// and returns. Registrations die with it.
func (p *poller) closeLocked() {
	if p.file != nil {
		_ = p.file.Close()
	}
	p.file, p.epfd = nil, -1
}

// park registers a's socket and records a as parked. It returns false when
// the socket cannot be watched; the actor then waits in the runtime's
// poller as usual. The caller's goroutine must not touch a once park has
// returned true: another goroutine may already be running it.
func (p *poller) park(a *actor, deadline monoTime) bool {
	ps := &a.park
	if ps.fd < 0 {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.broken || (p.epfd < 0 && !p.openLocked()) {
		return false
	}
	if ps.id == 0 {
		p.nextID++
		ps.id = p.nextID
	}
	ev := syscall.EpollEvent{
		Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT,
		Fd:     int32(uint32(ps.id)),
		Pad:    int32(uint32(ps.id >> 32)),
	}
	op := syscall.EPOLL_CTL_MOD // re-arm: a one-shot registration stays in the set
	if ps.gen != p.gen {
		op = syscall.EPOLL_CTL_ADD
	}
	err := syscall.EpollCtl(p.epfd, op, ps.fd, &ev)
	switch {
	case err == syscall.ENOENT && op == syscall.EPOLL_CTL_MOD:
		err = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, ps.fd, &ev)
	case err == syscall.EEXIST && op == syscall.EPOLL_CTL_ADD:
		err = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_MOD, ps.fd, &ev)
	}
	if err != nil {
		if len(p.parked) == 0 {
			p.closeLocked()
		}
		return false
	}
	ps.gen = p.gen
	p.parked[ps.id] = a
	if !deadline.IsZero() {
		d := time.Duration(deadline - monoNow())
		if ps.timer == nil {
			ps.timer = time.AfterFunc(d, a.unpark)
		} else {
			ps.timer.Reset(d)
		}
	}
	return true
}

// unpark resumes a if it is parked; a no-op otherwise. Safe from any
// goroutine.
func (p *poller) unpark(a *actor) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.resumeLocked(a.park.id)
}

func (p *poller) resumeLocked(id uint64) {
	a := p.parked[id]
	if a == nil {
		return // not parked (a stale event or timer): nothing to do
	}
	delete(p.parked, id)
	if a.park.timer != nil {
		a.park.timer.Stop()
	}
	if len(p.parked) == 0 {
		p.closeLocked()
	}
	a.c.group.Go(a.readSide)
}

// take removes a from the parked set without resuming it: a Receive caller
// runs it. The one-shot registration may still fire once; the event then
// finds nothing parked under a's id and is ignored.
func (p *poller) take(a *actor) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	id := a.park.id
	if id == 0 || p.parked[id] != a {
		return false
	}
	delete(p.parked, id)
	if a.park.timer != nil {
		a.park.timer.Stop()
	}
	if len(p.parked) == 0 {
		p.closeLocked()
	}
	return true
}

// wait is the poller goroutine: it drains ready events and resumes their
// actors until the epoll file is closed.
func (p *poller) wait(f *os.File, rc syscall.RawConn) {
	var evs [128]syscall.EpollEvent
	var n int
	read := func(fd uintptr) bool {
		for {
			k, err := syscall.EpollWait(int(fd), evs[:], 0)
			if err == syscall.EINTR {
				continue
			}
			n = k
			return k > 0 // none ready: wait in the runtime's poller
		}
	}
	for {
		n = 0
		err := rc.Read(read)
		if err == nil && p.failWait.Load() {
			err = errors.New("wsactor: poller wait failure injected by a test")
		}
		if err != nil {
			p.mu.Lock()
			if p.file == f {
				// Not closed by closeLocked: waiting failed. Resume every
				// parked actor and stop parking, rather than strand them.
				p.broken = true
				for id := range p.parked {
					p.resumeLocked(id)
				}
			}
			p.mu.Unlock()
			return
		}
		p.mu.Lock()
		if p.file != f {
			p.mu.Unlock()
			return
		}
		for _, ev := range evs[:n] {
			p.resumeLocked(uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32)
		}
		p.mu.Unlock()
	}
}

// socketFD returns the descriptor behind rc, or -1.
func socketFD(rc syscall.RawConn) int {
	if rc == nil {
		return -1
	}
	fd := -1
	if err := rc.Control(func(s uintptr) { fd = int(s) }); err != nil {
		return -1
	}
	return fd
}

func (p *poller) isParked(a *actor) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return a.park.id != 0 && p.parked[a.park.id] == a
}
