//go:build !linux

package wsactor

import (
	"sync"
	"sync/atomic"
	"syscall"
)

// Idle detach needs epoll: elsewhere an idle actor keeps its goroutine,
// parked in the runtime's poller (see poller_linux.go).
type poller struct {
	mu       sync.Mutex
	broken   bool
	failWait atomic.Bool
}

var sharedPoller poller

type parkState struct{ fd int }

func (p *poller) park(a *actor, deadline monoTime) bool { return false }

func (p *poller) unpark(a *actor) {}

func (p *poller) take(a *actor) bool { return false }

func socketFD(syscall.RawConn) int       { return -1 }
func (p *poller) isParked(a *actor) bool { return false }
